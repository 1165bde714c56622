//! `/transactions`: book, read, change and delete transactions; each one's wallet as a to-one
//! relationship. The database moves the money; these handlers only say what to write.

use actix_web::web;
use diesel::pg::PgConnection;
use serde_json::json;

use super::handlers;
use super::input::{
    all_or_nothing, attribute_pointer, decimal_attribute, linked_id, missing, read_only,
    relationship_pointer, string_attribute, unknown_field,
};
use super::listing::timestamp;
use super::resource::{Resource, ToOne, Writable};
use super::wallets::WALLET_NOT_FOUND;
use crate::codes;
use crate::db::DbError;
use crate::domain::{Amount, Txid, format_money};
use crate::jsonapi::ApiError;
use crate::jsonapi::document::{ResourceObject, identifier};
use crate::jsonapi::request::{Linkage, ResourceInput};
use crate::models::{NewTransaction, Transaction, TransactionChanges, Wallet};

/// The wallet a transaction belongs to.
pub static WALLET: ToOne<Transaction, Wallet> =
    ToOne::new("wallet", |transaction| Some(transaction.wallet_id));

codes! {
    pub TRANSACTION_NOT_FOUND = (NOT_FOUND, "transaction-not-found", "Transaction not found",
        "no transaction has this id");
    pub DUPLICATE_TXID = (CONFLICT, "duplicate-txid", "Duplicate txid",
        "the txid exists (also when requests race): meta.existing names the transaction it booked");
}

/// The constraints of `migrations/` that refuse transactions.
const TXID_UNIQUE: &str = "transactions_txid_key";
const WALLET_EXISTS: &str = "transactions_wallet_id_fkey";

const WRITABLE: [&str; 3] = ["txid", "amount", "wallet"];
const TXID_REQUIRED: &str =
    "a transaction needs a txid: your unique reference for it (1 to 255 characters)";
const AMOUNT_REQUIRED: &str =
    "a transaction needs an amount: a non-zero decimal, negative to withdraw";
const WALLET_REQUIRED: &str = "a transaction needs a wallet: relationships.wallet.data = \
     {\"type\": \"wallets\", \"id\": ...}";
const DUPLICATE_TXID_DETAIL: &str =
    "another transaction already has this txid; a txid books money once";
const NO_SUCH_WALLET: &str = "the wallet named in the relationship does not exist";

pub fn routes(config: &mut web::ServiceConfig) {
    handlers::writable_routes::<Transaction>(config);
    handlers::writable_to_one_routes(config, &WALLET);
}

impl Resource for Transaction {
    const TYPE: &'static str = "transactions";
    const FIELDS: &'static [&'static str] = &["txid", "amount", "createdAt", "wallet"];
    const INCLUDES: &'static [&'static dyn super::resource::Include<Self>] = &[&WALLET];

    fn not_found(id: &str) -> ApiError {
        ApiError::new(
            &TRANSACTION_NOT_FOUND,
            format!("there is no transaction with id {id:?}"),
        )
    }

    fn fill<'c>(
        &self,
        object: ResourceObject<'c>,
        context: &super::context::Context,
    ) -> ResourceObject<'c> {
        object
            .attribute("txid", self.txid.clone())
            .attribute("amount", format_money(&self.amount))
            .attribute("createdAt", timestamp(&self.created_at))
            .relationship("wallet", WALLET.object(self, context))
    }
}

const WALLET_POINTER: &str = "/data/relationships/wallet/data";

/// A database refusal of a transaction write, pointed at the member of the document that
/// caused it.
fn write_error(error: diesel::result::Error) -> ApiError {
    match DbError::from(error) {
        error @ (DbError::InsufficientFunds { .. } | DbError::BalanceOverflow { .. }) => {
            ApiError::from(error).pointer("/data/attributes/amount")
        }
        error if error.constraint() == Some(TXID_UNIQUE) => duplicate_txid(),
        error if error.constraint() == Some(WALLET_EXISTS) => {
            { ApiError::new(&WALLET_NOT_FOUND, NO_SUCH_WALLET) }.pointer(WALLET_POINTER)
        }
        error => error.into(),
    }
}

fn duplicate_txid() -> ApiError {
    ApiError::new(&DUPLICATE_TXID, DUPLICATE_TXID_DETAIL).pointer("/data/attributes/txid")
}

impl Writable for Transaction {
    type New = NewTransaction;
    type Changes = TransactionChanges;

    fn read_new(input: &ResourceInput) -> Result<NewTransaction, ApiError> {
        let (fields, mut errors) = read_fields(input);
        for (given, pointer, detail) in [
            (
                input.has_attribute("txid"),
                "/data/attributes",
                TXID_REQUIRED,
            ),
            (
                input.has_attribute("amount"),
                "/data/attributes",
                AMOUNT_REQUIRED,
            ),
            (
                input.has_relationship("wallet"),
                "/data/relationships",
                WALLET_REQUIRED,
            ),
        ] {
            if !given {
                errors.push(missing(pointer, detail));
            }
        }
        all_or_nothing(errors)?;
        match (fields.wallet_id, fields.txid, fields.amount) {
            (Some(wallet_id), Some(txid), Some(amount)) => Ok(NewTransaction {
                wallet_id,
                txid,
                amount,
            }),
            _ => Err(missing("/data", TXID_REQUIRED)),
        }
    }

    fn read_changes(input: &ResourceInput) -> Result<TransactionChanges, ApiError> {
        let (changes, errors) = read_fields(input);
        all_or_nothing(errors)?;
        Ok(changes)
    }

    /// Moving a transaction to another wallet moves its money.
    fn read_relationship(name: &str, linkage: &Linkage) -> Result<TransactionChanges, ApiError> {
        match name {
            "wallet" => Ok(TransactionChanges {
                wallet_id: Some(linked_id::<Wallet>(linkage, WALLET_POINTER)?),
                ..TransactionChanges::default()
            }),
            _ => Err(unknown_field(
                relationship_pointer(name),
                Transaction::TYPE,
                &WRITABLE,
            )),
        }
    }

    /// One INSERT; its trigger moves the money or refuses the whole write. A duplicate txid
    /// points a retrying client at the transaction its txid already booked.
    fn insert(conn: &mut PgConnection, new: &NewTransaction) -> Result<Transaction, ApiError> {
        if let Some(booked) = Transaction::create(conn, new).map_err(write_error)? {
            return Ok(booked);
        }
        // (The transaction holding the txid may have been deleted since: then no meta.)
        Err(match Transaction::find_by_txid(conn, &new.txid)? {
            Some(existing) => duplicate_txid()
                .meta(json!({"existing": identifier(Transaction::TYPE, existing.id)})),
            None => duplicate_txid(),
        })
    }

    /// One UPDATE, whose trigger moves the difference (or the whole amount to the new wallet).
    fn apply(
        conn: &mut PgConnection,
        id: i64,
        changes: &TransactionChanges,
    ) -> Result<Option<Transaction>, ApiError> {
        Transaction::update(conn, id, changes).map_err(write_error)
    }

    /// A transaction's wallet, as it stands.
    fn wallet_of_new(new: &NewTransaction) -> Option<i64> {
        Some(new.wallet_id)
    }

    fn wallet_of(conn: &mut PgConnection, id: i64) -> diesel::QueryResult<Option<i64>> {
        Ok(<Transaction as crate::models::Record>::find(conn, id)?.map(|t| t.wallet_id))
    }

    /// Its amount leaves the wallet's balance, which must stay at 0 or above.
    fn remove(conn: &mut PgConnection, id: i64) -> Result<bool, ApiError> {
        Transaction::delete(conn, id).map_err(write_error)
    }
}

/// The fields a transaction document gives, and what is wrong with it.
fn read_fields(input: &ResourceInput) -> (TransactionChanges, Vec<ApiError>) {
    let mut changes = TransactionChanges::default();
    let mut errors = Vec::new();
    for (name, raw) in &input.attributes {
        let pointer = attribute_pointer(name);
        let invalid =
            |why: crate::domain::InvalidValue| ApiError::invalid_attribute(&pointer, why.0);
        let read = match name.as_str() {
            "txid" => string_attribute(raw, name)
                .and_then(|text| Txid::parse(&text).map_err(invalid))
                .map(|txid| changes.txid = Some(txid)),
            "amount" => decimal_attribute(raw, name)
                .and_then(|text| Amount::parse(&text).map_err(invalid))
                .map(|amount| changes.amount = Some(amount)),
            "createdAt" => Err(read_only(pointer, "createdAt is set by the server")),
            _ => Err(unknown_field(pointer, Transaction::TYPE, &WRITABLE)),
        };
        errors.extend(read.err());
    }
    for (name, linkage) in &input.relationships {
        let pointer = relationship_pointer(name);
        match name.as_str() {
            "wallet" => match linked_id::<Wallet>(linkage, WALLET_POINTER) {
                Ok(id) => changes.wallet_id = Some(id),
                Err(error) => errors.push(error),
            },
            _ => errors.push(unknown_field(pointer, Transaction::TYPE, &WRITABLE)),
        }
    }
    (changes, errors)
}
