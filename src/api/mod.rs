//! The HTTP surface: routes, and what database outcomes mean to a client.

pub mod context;
pub mod health;
pub mod input;
pub mod listing;
pub mod transactions;
pub mod wallets;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

pub use context::AppState;

use crate::db::DbError;
use crate::jsonapi::ApiError;

/// Every route. Each resource answers a method it does not have with a JSON:API 405.
pub fn routes(config: &mut web::ServiceConfig) {
    fn resource(path: &str, allowed: &'static str) -> actix_web::Resource {
        web::resource(path).default_service(web::to(move |request: HttpRequest| async move {
            Err::<HttpResponse, _>(ApiError::method_not_allowed(
                request.method().as_str(),
                allowed,
            ))
        }))
    }
    config
        .service(resource("/health", "GET").get(health::check))
        .service(
            resource("/wallets", "GET, POST")
                .get(wallets::list)
                .post(wallets::create),
        )
        .service(
            resource("/wallets/{id}", "GET, PATCH, DELETE")
                .get(wallets::show)
                .patch(wallets::update)
                .delete(wallets::delete),
        )
        .service(resource("/wallets/{id}/transactions", "GET").get(transactions::list_of_wallet))
        .service(
            resource("/wallets/{id}/relationships/transactions", "GET")
                .get(transactions::linkage_of_wallet)
                .route(
                    web::method(actix_web::http::Method::POST)
                        .to(wallets::transactions_linkage_is_read_only),
                )
                .patch(wallets::transactions_linkage_is_read_only)
                .delete(wallets::transactions_linkage_is_read_only),
        )
        .service(
            resource("/transactions", "GET, POST")
                .get(transactions::list)
                .post(transactions::create),
        )
        .service(
            resource("/transactions/{id}", "GET, PATCH, DELETE")
                .get(transactions::show)
                .patch(transactions::update)
                .delete(transactions::delete),
        )
        .service(resource("/transactions/{id}/wallet", "GET").get(transactions::wallet))
        .service(
            resource("/transactions/{id}/relationships/wallet", "GET, PATCH")
                .get(transactions::wallet_linkage)
                .patch(transactions::move_to_wallet),
        );
}

/// Any URL no route matches.
pub async fn not_found(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found(format!(
        "there is nothing at {}; resources: /wallets, /transactions",
        request.path()
    )))
}

pub fn wallet_not_found(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "wallet-not-found",
        "Wallet not found",
        format!("there is no wallet with id {id:?}"),
    )
}

pub fn transaction_not_found(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "transaction-not-found",
        "Transaction not found",
        format!("there is no transaction with id {id:?}"),
    )
}

impl From<DbError> for ApiError {
    fn from(error: DbError) -> ApiError {
        match error {
            DbError::InsufficientFunds { wallet_id } => ApiError::conflict(
                "insufficient-funds",
                "Insufficient funds",
                match wallet_id {
                    Some(id) => format!(
                        "wallet {id} does not have enough funds: this change would leave its balance below 0; nothing was changed"
                    ),
                    None => "a wallet does not have enough funds: this change would leave its balance below 0; nothing was changed".to_string(),
                },
            ),
            DbError::BalanceOverflow { wallet_id } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "balance-overflow",
                "Balance overflow",
                format!(
                    "this change would give wallet {} a balance of 10^18 or more, beyond what a balance can hold (18 integer and 18 fractional digits); nothing was changed",
                    wallet_id.map_or("?".to_string(), |id| id.to_string())
                ),
            ),
            DbError::DuplicateTxid => ApiError::conflict(
                "duplicate-txid",
                "Duplicate txid",
                "another transaction already has this txid; a txid books money once",
            )
            .pointer("/data/attributes/txid"),
            DbError::WalletReference => ApiError::new(
                StatusCode::NOT_FOUND,
                "wallet-not-found",
                "Wallet not found",
                "the wallet named in the relationship does not exist",
            )
            .pointer("/data/relationships/wallet/data"),
            DbError::Check { constraint } => {
                let field = match constraint.as_str() {
                    "wallets_label_length" => "label",
                    "transactions_txid_length" => "txid",
                    _ => "amount",
                };
                ApiError::invalid_attribute(
                    &input::attribute_pointer(field),
                    format!("{field} is not valid"),
                )
            }
            DbError::Unavailable => ApiError::unavailable(),
            DbError::Other(error) => {
                log::error!("unexpected database error: {error}");
                ApiError::internal()
            }
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> ApiError {
        DbError::from(error).into()
    }
}
