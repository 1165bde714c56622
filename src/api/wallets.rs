//! `/wallets`: list, create, read, relabel and delete wallets; a wallet's transactions as a
//! to-many relationship.

use actix_web::http::StatusCode;
use actix_web::web;
use diesel::pg::PgConnection;
use serde_json::json;

use super::context::{Accepts, AppState, PathId, Single};
use super::handlers;
use super::input::{
    all_or_nothing, attribute_pointer, missing, read_only, relationship_pointer, string_attribute,
    unknown_field,
};
use super::listing::{TIME_FORMATS, parse_time, timestamp};
use super::resource::{Resource, ToMany, Writable, find_existing, single_with_meta};
use crate::codes;
use crate::db::{self, DbError};
use crate::domain::{Label, format_money};
use crate::jsonapi::ApiError;
use crate::jsonapi::document::{Reply, ResourceObject};
use crate::jsonapi::request::ResourceInput;
use crate::models::balance_change::balance_at;
use crate::models::{BalanceChange, BalanceChangeField, Transaction, TransactionField, Wallet};

/// A wallet's transactions, read at `/wallets/{id}/transactions`.
pub static TRANSACTIONS: ToMany<Wallet, Transaction> =
    ToMany::new("transactions", TransactionField::Wallet);
/// A wallet's balance journal, read at `/wallets/{id}/balance-changes`.
pub static BALANCE_CHANGES: ToMany<Wallet, BalanceChange> =
    ToMany::new("balance-changes", BalanceChangeField::Wallet);

/// `GET /wallets/{id}?balanceAt=T`: the balance the wallet had at time T, in the resource's
/// `meta` (the `balance` attribute stays the balance now).
pub struct BalanceAt;

impl Accepts for BalanceAt {
    const NAMES: &'static [&'static str] = &["balanceAt"];
}

codes! {
    pub WALLET_NOT_FOUND = (NOT_FOUND, "wallet-not-found", "Wallet not found",
        "no wallet has this id (in the URL, or in a relationship)");
    pub WALLET_HAS_TRANSACTIONS = (CONFLICT, "wallet-has-transactions", "Wallet has transactions",
        "deleting a wallet that has transactions: its history would be lost");
    pub WALLET_HAS_HISTORY = (CONFLICT, "wallet-has-history", "Wallet has history",
        "deleting a wallet that had transactions: its balance journal is kept");
}

/// The constraints of `migrations/` that keep a wallet's history.
const HAS_TRANSACTIONS: &str = "transactions_wallet_id_fkey";
const HAS_JOURNAL: &str = "balance_changes_wallet_id_fkey";

const NO_INCLUDE_TRANSACTIONS: &str = "a wallet may have millions of transactions; page \
     through /wallets/{id}/transactions instead";
const NO_INCLUDE_BALANCE_CHANGES: &str = "a wallet may have millions of balance changes; page \
     through /wallets/{id}/balance-changes instead";
const BALANCE_CHANGES_LINKAGE_READ_ONLY: &str = "a wallet's balance changes are written by \
     the database whenever its balance changes";
const BALANCE_READ_ONLY: &str = "balance is the sum of the wallet's transactions and cannot \
     be written; create a transaction to change it";
const TRANSACTIONS_READ_ONLY: &str = "a wallet's transactions are created through \
     /transactions (with this wallet as their wallet)";
const TRANSACTIONS_LINKAGE_READ_ONLY: &str = "a wallet's transactions cannot be added, \
     removed or replaced here: a transaction always belongs to a wallet; move one with \
     PATCH /transactions/{id}/relationships/wallet";
const LABEL_REQUIRED: &str = "a wallet needs a label (1 to 255 characters)";

pub fn routes(config: &mut web::ServiceConfig) {
    handlers::writable_routes_showing::<Wallet>(config, web::get().to(show));
    handlers::to_many_routes(config, &TRANSACTIONS, TRANSACTIONS_LINKAGE_READ_ONLY);
    handlers::to_many_routes(config, &BALANCE_CHANGES, BALANCE_CHANGES_LINKAGE_READ_ONLY);
}

/// GET /wallets/{id}, with `?balanceAt=T` the balance it had at T (from its journal).
async fn show(
    context: Single<BalanceAt>,
    id: PathId<Wallet>,
    state: web::Data<AppState>,
) -> Result<Reply, ApiError> {
    context.includes::<Wallet>()?;
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
    let (wallet, past) = db::run(&state.db, move |conn| {
        let wallet = find_existing::<Wallet>(conn, id.id)?;
        let past = match at {
            Some(at) => Some((at, balance_at(conn, id.id, at)?)),
            None => None,
        };
        Ok::<_, ApiError>((wallet, past))
    })
    .await?;
    let meta = past.map(|(at, balance)| {
        json!({"balanceAt": {"time": timestamp(&at), "balance": format_money(&balance)}})
    });
    Ok(single_with_meta(
        StatusCode::OK,
        &wallet,
        meta,
        &[],
        &context,
    ))
}

impl Resource for Wallet {
    const TYPE: &'static str = "wallets";
    const FIELDS: &'static [&'static str] = &[
        "label",
        "balance",
        "createdAt",
        "updatedAt",
        "transactions",
        "balance-changes",
    ];
    const REFUSED_INCLUDES: &'static [(&'static str, &'static str)] = &[
        ("transactions", NO_INCLUDE_TRANSACTIONS),
        ("balance-changes", NO_INCLUDE_BALANCE_CHANGES),
    ];

    fn not_found(id: &str) -> ApiError {
        ApiError::new(
            &WALLET_NOT_FOUND,
            format!("there is no wallet with id {id:?}"),
        )
    }

    fn fill<'c>(
        &self,
        object: ResourceObject<'c>,
        context: &super::context::Context,
    ) -> ResourceObject<'c> {
        object
            .attribute("label", self.label.clone())
            .attribute("balance", format_money(&self.balance))
            .attribute("createdAt", timestamp(&self.created_at))
            .attribute("updatedAt", timestamp(&self.updated_at))
            .relationship("transactions", TRANSACTIONS.object(self, context))
            .relationship("balance-changes", BALANCE_CHANGES.object(self, context))
    }
}

impl Writable for Wallet {
    type New = Label;
    /// Only the label is writable; `None` changes nothing.
    type Changes = Option<Label>;

    fn read_new(input: &ResourceInput) -> Result<Label, ApiError> {
        let (label, mut errors) = read_label(input);
        if !input.has_attribute("label") {
            errors.push(missing("/data/attributes", LABEL_REQUIRED));
        }
        all_or_nothing(errors)?;
        label.ok_or_else(|| missing("/data/attributes", LABEL_REQUIRED))
    }

    fn read_changes(input: &ResourceInput) -> Result<Option<Label>, ApiError> {
        let (label, errors) = read_label(input);
        all_or_nothing(errors)?;
        Ok(label)
    }

    fn insert(conn: &mut PgConnection, label: &Label) -> Result<Wallet, ApiError> {
        Ok(Wallet::create(conn, label)?)
    }

    fn apply(
        conn: &mut PgConnection,
        id: i64,
        label: &Option<Label>,
    ) -> Result<Option<Wallet>, ApiError> {
        Ok(match label {
            Some(label) => Wallet::relabel(conn, id, label)?,
            None => <Wallet as crate::models::Record>::find(conn, id)?,
        })
    }

    /// A wallet's own row is locked by a relabel, as by a booking.
    fn wallet_of(_conn: &mut PgConnection, id: i64) -> diesel::QueryResult<Option<i64>> {
        Ok(Some(id))
    }

    /// Only a wallet that never held money: history is never deleted as a side effect. A
    /// wallet with transactions is told so first, whichever foreign key the database checks
    /// first.
    fn remove(conn: &mut PgConnection, id: i64) -> Result<bool, ApiError> {
        if Wallet::has_transactions(conn, id)? {
            return Err(has_transactions(id));
        }
        Wallet::delete(conn, id).map_err(|error| match DbError::from(error) {
            error if error.constraint() == Some(HAS_TRANSACTIONS) => has_transactions(id),
            error if error.constraint() == Some(HAS_JOURNAL) => ApiError::new(
                &WALLET_HAS_HISTORY,
                format!(
                    "wallet {id} has a balance history (see /wallets/{id}/balance-changes) and \
                     cannot be deleted: its history is kept"
                ),
            ),
            error => error.into(),
        })
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

/// The label a wallet document gives, if any, and what is wrong with the document: every
/// other member is refused.
fn read_label(input: &ResourceInput) -> (Option<Label>, Vec<ApiError>) {
    let mut label = None;
    let mut errors = Vec::new();
    for (name, raw) in &input.attributes {
        let pointer = attribute_pointer(name);
        match name.as_str() {
            "label" => match string_attribute(raw, name).and_then(|text| {
                Label::parse(&text).map_err(|why| ApiError::invalid_attribute(&pointer, why.0))
            }) {
                Ok(parsed) => label = Some(parsed),
                Err(error) => errors.push(error),
            },
            "balance" => errors.push(read_only(pointer, BALANCE_READ_ONLY)),
            "createdAt" | "updatedAt" => {
                errors.push(read_only(pointer, format!("{name} is set by the server")))
            }
            _ => errors.push(unknown_field(pointer, Wallet::TYPE, &["label"])),
        }
    }
    for (name, _) in &input.relationships {
        let pointer = relationship_pointer(name);
        errors.push(match name.as_str() {
            "transactions" => read_only(pointer, TRANSACTIONS_READ_ONLY),
            _ => unknown_field(pointer, Wallet::TYPE, &["label"]),
        });
    }
    (label, errors)
}
