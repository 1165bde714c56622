//! `/wallets`: list, create, read, relabel and delete wallets; a wallet's transactions and
//! balance journal as to-many relationships; `?balanceAt=` for a past balance.

use crate::models::Record as _;
use actix_web::http::StatusCode;
use actix_web::web;
use diesel::pg::PgConnection;
use serde_json::json;

use crate::api::context::{Parameters, PathId, Single};
use crate::api::errors::{AMOUNT_PRECISION, metadata_refusal};
use crate::api::handlers;
use crate::api::middleware::auth::INSUFFICIENT_SCOPE;
use crate::api::resource::{
    Example, Resource, Writable, find_existing, load_included, single_with_meta,
};
use crate::api::routes::{Custom, Routes};
use crate::api::state::AppState;
use crate::api::write::Statements;
use crate::codes;
use crate::db::{self, DbError};
use crate::domain::{TIME_FORMATS, format_money_at, parse_time, timestamp};
use crate::jsonapi::ApiError;
use crate::jsonapi::document::Reply;
use crate::jsonapi::error::Code;
use crate::models::balance_change::balance_at;
use crate::models::{
    BalanceChange, Exchange, Hold, NewWallet, Transaction, Transfer, Wallet, WalletChanges,
};

codes! {
    pub UNKNOWN_CURRENCY = (UNPROCESSABLE_ENTITY, "unknown-currency", "Unknown currency",
        "the currency named is not in the catalogue (every active ISO 4217 code, common crypto assets, XXX)");
    pub WALLET_NOT_FOUND = (NOT_FOUND, "wallet-not-found", "Wallet not found",
        "no wallet has this id (in the URL, or in a relationship)");
    pub WALLET_HAS_TRANSACTIONS = (CONFLICT, "wallet-has-transactions", "Wallet has transactions",
        "deleting a wallet that has transactions: its history would be lost");
    pub WALLET_HAS_HISTORY = (CONFLICT, "wallet-has-history", "Wallet has history",
        "deleting a wallet that had transactions or holds: its balance journal is kept");
    pub WALLET_HAS_HOLDS = (CONFLICT, "wallet-has-holds", "Wallet has holds",
        "deleting a wallet with pending holds: capture or void them first");
    pub WALLET_PROVIDES_LIQUIDITY = (CONFLICT, "wallet-provides-liquidity", "Wallet provides liquidity",
        "deleting a wallet a currency names as its liquidity wallet: name another first");
    pub CREDIT_LIMIT_IN_USE = (CONFLICT, "credit-limit-in-use", "Credit limit in use",
        "lowering a credit limit below what the wallet uses of it (its balance below zero and its holds); nothing was changed");
}

/// A `wallet` relationship that names a wallet that does not exist (or, for a wallet-limited
/// key, one it cannot see): what a transaction's or a hold's write answers.
pub fn no_such_wallet() -> ApiError {
    ApiError::new(
        &WALLET_NOT_FOUND,
        "the wallet named in the relationship does not exist",
    )
    .pointer("/data/relationships/wallet/data")
}

/// Refuses a to-many `wallets` relationship that names a wallet there is not (`purpose`
/// says what the wallets are for), pointing at it.
pub fn wallets_exist(
    conn: &mut diesel::pg::PgConnection,
    wallets: &[i64],
    purpose: &str,
) -> Result<(), ApiError> {
    let found = crate::models::Wallet::find_many(conn, wallets)?;
    match wallets
        .iter()
        .enumerate()
        .find(|(_, id)| !found.iter().any(|wallet| wallet.id == **id))
    {
        Some((i, missing)) => Err(ApiError::new(
            &WALLET_NOT_FOUND,
            format!("there is no wallet with id \"{missing}\" {purpose}"),
        )
        .pointer(format!("/data/relationships/wallets/data/{i}"))),
        None => Ok(()),
    }
}

/// `GET /wallets/{id}?balanceAt=T`: the balance the wallet had at time T, in the resource's
/// `meta` (the `balance` attribute stays the balance now).
pub struct BalanceAt;

impl Parameters for BalanceAt {
    const NAMES: &'static [&'static str] = &["balanceAt"];
}

const SHOW_PARAMETERS: &[Custom] = &[Custom {
    name: "balanceAt",
    doc: "A time (RFC 3339, or a date): the balance the wallet had then, what its holds kept, \
          the credit limit in force and what was available (balance - held + creditLimit), \
          in the resource's meta.balanceAt (the attributes stay as they are now).",
    meta: Some(
        r##"{"type": "object", "required": ["time", "balance", "held", "available", "creditLimit"],
             "additionalProperties": false,
             "properties": {"time": {"$ref": "#/components/schemas/Timestamp"},
                            "balance": {"$ref": "#/components/schemas/Money"},
                            "held": {"$ref": "#/components/schemas/Money"},
                            "available": {"$ref": "#/components/schemas/Money"},
                            "creditLimit": {"$ref": "#/components/schemas/Money"}}}"##,
    ),
}];

/// A wallet's currency is one of the catalogue (`sql/15_currencies.sql`).
const CURRENCY_EXISTS: &str = "wallets_currency_fkey";

/// A credit limit's rules (`sql/20_balances.sql`).
const LIMIT_BY_ADMIN: &str = "wallets_credit_limit_admin";
const LIMIT_IN_USE: &str = "wallets_credit_limit_in_use";
const LIMIT_SCALE: &str = "wallets_credit_limit_scale";
const CREDIT_LIMIT: &str = "/data/attributes/creditLimit";

/// The constraints of `migrations/` that keep a wallet's history.
const HAS_TRANSACTIONS: &str = "transactions_wallet_id_fkey";
const HAS_JOURNAL: &str = "balance_changes_wallet_id_fkey";
const HAS_HOLDS: &str = "holds_wallet_id_fkey";
const PROVIDES_LIQUIDITY: &str = "currencies_liquidity_wallet_fkey";

pub fn routes(routes: &mut Routes) {
    handlers::writable_showing::<Wallet, _, _>(routes, SHOW_PARAMETERS, show);
    handlers::to_many::<Wallet, Transaction>(routes);
    handlers::to_many::<Wallet, BalanceChange>(routes);
    handlers::to_many::<Wallet, Hold>(routes);
    handlers::to_many::<Wallet, Transfer>(routes);
    handlers::to_many::<Wallet, Exchange>(routes);
    routes.documented(
        "/wallets/{id}/balance-history",
        actix_web::http::Method::GET,
        crate::api::routes::Operation::BalanceHistory,
        &super::balance_history::DOC,
        super::balance_history::history,
    );
}

/// GET /wallets/{id}, with `?balanceAt=T` the balance it had at T (from its journal).
async fn show(
    context: Single<BalanceAt>,
    id: PathId<Wallet>,
    state: web::Data<AppState>,
) -> Result<Reply, ApiError> {
    let includes = context.includes::<Wallet>()?;
    let at = context
        .custom("balanceAt")
        .map(|text| {
            parse_time(text).ok_or_else(|| {
                ApiError::invalid_parameter(
                    "balanceAt",
                    format!("balanceAt: {text:?} is not a time; {TIME_FORMATS}"),
                )
            })
        })
        .transpose()?;
    let session = context.actor.reading();
    if at.is_none() && includes.is_empty() {
        let wallet = handlers::find_by_id::<Wallet>(&state, &context, &session, id.id).await?;
        return Ok(single_with_meta(
            StatusCode::OK,
            &wallet,
            None,
            &[],
            &context,
        ));
    }
    let (wallet, past, included) = db::run_in(context.reader(&state), &session, move |conn| {
        let wallet = find_existing::<Wallet>(conn, &id.id)?;
        let past = match at {
            Some(at) => Some((at, balance_at(conn, id.id, at)?)),
            None => None,
        };
        let included = load_included(conn, &includes, std::slice::from_ref(&wallet))?;
        Ok::<_, ApiError>((wallet, past, included))
    })
    .await?;
    let meta = past.map(|(at, past)| {
        let money = |value: &bigdecimal::BigDecimal| format_money_at(value, wallet.scale);
        json!({"balanceAt": {
            "time": timestamp(&at),
            "balance": money(&past.balance),
            "held": money(&past.held),
            "available": money(&past.available()),
            "creditLimit": money(&past.credit_limit),
        }})
    });
    Ok(single_with_meta(
        StatusCode::OK,
        &wallet,
        meta,
        &included,
        &context,
    ))
}

impl Resource for Wallet {
    const NOT_FOUND: &'static Code = &WALLET_NOT_FOUND;
    const SINGULAR: &'static str = "wallet";
    const EXAMPLE: &'static Example = &Example {
        shown: r#"{"id": "1", "label": "alice", "balance": "100.50",
            "createdAt": "2026-12-01T12:00:00Z", "updatedAt": "2026-12-01T12:30:00Z",
            "metadata": {"account": "ACC-7"}, "held": "30.00", "available": "70.50",
            "currency": "USD", "creditLimit": "0.00", "currencyDetails": "USD"}"#,
        create: r#"{"label": "alice", "currency": "USD", "metadata": {"account": "ACC-7"}}"#,
        update: r#"{"label": "alice (savings)", "metadata": {"tier": "gold"}}"#,
        created_meta: None,
    };

    const COALESCE_READS: bool = true;
}

impl Writable for Wallet {
    const CREATE_ERRORS: &'static [&'static Code] =
        &[&UNKNOWN_CURRENCY, &AMOUNT_PRECISION, &INSUFFICIENT_SCOPE];
    const UPDATE_ERRORS: &'static [&'static Code] =
        &[&CREDIT_LIMIT_IN_USE, &AMOUNT_PRECISION, &INSUFFICIENT_SCOPE];
    const DELETE_ERRORS: &'static [&'static Code] = &[
        &WALLET_HAS_TRANSACTIONS,
        &WALLET_HAS_HOLDS,
        &WALLET_HAS_HISTORY,
        &WALLET_PROVIDES_LIQUIDITY,
    ];

    const CREATE_STATEMENTS: Statements = Statements::One;

    /// A new wallet holds nothing: the journal has nothing to record. Its currency is one of
    /// the catalogue (the database copies its scale).
    fn insert(conn: &mut PgConnection, new: &NewWallet) -> Result<Wallet, ApiError> {
        Wallet::create(conn, new).map_err(|error| match DbError::from(error) {
            error if error.constraint() == Some(CURRENCY_EXISTS) => ApiError::new(
                &UNKNOWN_CURRENCY,
                format!(
                    "there is no currency {:?} in the catalogue: name an ISO 4217 code (USD, \
                     EUR, JPY), a crypto asset (BTC, ETH, USDT, USDC), or leave currency out \
                     for XXX (no currency)",
                    error.detail("currency").unwrap_or_default()
                ),
            )
            .pointer("/data/attributes/currency"),
            error => limit_refusal(error),
        })
    }

    fn apply(
        conn: &mut PgConnection,
        &id: &i64,
        changes: &WalletChanges,
    ) -> Result<Option<Wallet>, ApiError> {
        Wallet::update(conn, id, changes).map_err(|error| limit_refusal(DbError::from(error)))
    }

    /// A wallet's own row is locked by a relabel, as by a booking.
    fn lock_key_of(_conn: &mut PgConnection, &id: &i64) -> diesel::QueryResult<Option<i64>> {
        Ok(Some(id))
    }

    /// Only a wallet that never held money: history is never deleted as a side effect. A
    /// wallet with transactions is told so first, whichever foreign key the database checks
    /// first.
    fn remove(conn: &mut PgConnection, &id: &i64) -> Result<bool, ApiError> {
        if Wallet::has_transactions(conn, id)? {
            return Err(has_transactions(id));
        }
        if Wallet::has_pending_holds(conn, id)? {
            return Err(ApiError::new(
                &WALLET_HAS_HOLDS,
                format!(
                    "wallet {id} has pending holds (see /wallets/{id}/holds) and cannot be \
                     deleted: capture or void them first"
                ),
            ));
        }
        Wallet::delete(conn, id).map_err(|error| match DbError::from(error) {
            error if error.constraint() == Some(HAS_TRANSACTIONS) => has_transactions(id),
            error if error.constraint() == Some(PROVIDES_LIQUIDITY) => ApiError::new(
                &WALLET_PROVIDES_LIQUIDITY,
                format!(
                    "wallet {id} is the liquidity wallet of a currency (GET \
                     /currencies?filter[liquidityWallet]={id}) and cannot be deleted: name \
                     another first"
                ),
            ),
            error if [Some(HAS_JOURNAL), Some(HAS_HOLDS)].contains(&error.constraint()) => {
                ApiError::new(
                    &WALLET_HAS_HISTORY,
                    format!(
                        "wallet {id} has a balance history (see /wallets/{id}/balance-changes) and \
                     cannot be deleted: its history is kept"
                    ),
                )
            }
            error => error.into(),
        })
    }
}

/// The database's refusal of a credit limit (who set it, its digits, what the wallet uses of
/// it), pointed at the attribute; any other error as the metadata's refusal.
fn limit_refusal(error: DbError) -> ApiError {
    match error.constraint() {
        Some(LIMIT_BY_ADMIN) => ApiError::new(
            &INSUFFICIENT_SCOPE,
            "creditLimit is set by a key with the scope \"admin\" only; nothing was written",
        )
        .pointer(CREDIT_LIMIT)
        .meta(json!({"requiredScope": "admin"})),
        Some(LIMIT_IN_USE) => ApiError::new(
            &CREDIT_LIMIT_IN_USE,
            format!(
                "the wallet uses {} of its credit (its balance below zero and its holds): its \
                 creditLimit cannot go below that; credit the wallet or void its holds first; \
                 nothing was changed",
                error.detail("in_use").unwrap_or("some")
            ),
        )
        .pointer(CREDIT_LIMIT)
        .meta(json!({"inUse": error.detail("in_use")})),
        Some(LIMIT_SCALE) => {
            let scale = error.detail("scale").unwrap_or("fewer");
            ApiError::new(
                &AMOUNT_PRECISION,
                format!(
                    "the wallet holds {}, whose amounts have at most {scale} fractional \
                     digit(s): round creditLimit to {scale}; nothing was written",
                    error.detail("currency").unwrap_or("a currency"),
                ),
            )
            .pointer(CREDIT_LIMIT)
        }
        _ => metadata_refusal(error),
    }
}

fn has_transactions(id: i64) -> ApiError {
    ApiError::new(
        &WALLET_HAS_TRANSACTIONS,
        format!(
            "wallet {id} has transactions and cannot be deleted: its history would be lost; \
             delete or move its transactions first"
        ),
    )
}
