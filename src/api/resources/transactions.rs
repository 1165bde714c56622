//! `/transactions`: book, read, change and delete transactions; each one's wallet as a to-one
//! relationship. The database moves the money; these handlers only say what to write.

use diesel::pg::PgConnection;
use serde_json::json;

use super::wallets::{WALLET_NOT_FOUND, no_such_wallet};
use crate::api::errors::{
    AMOUNT_PRECISION, BALANCE_OVERFLOW, CURRENCY_MISMATCH, INSUFFICIENT_FUNDS, currency_refusal,
};
use crate::api::handlers;
use crate::api::resource::{Answer, Example, Resource, Writable};
use crate::api::routes::Routes;
use crate::api::write::Statements;
use crate::api::write::rows::{RowWriter, Rows};
use crate::codes;
use crate::db::DbError;
use crate::jsonapi::ApiError;
use crate::jsonapi::document::identifier;
use crate::jsonapi::error::Code;
use crate::models::{Model, NewTransaction, Record, Transaction, TransactionChanges};

codes! {
    pub TRANSACTION_NOT_FOUND = (NOT_FOUND, "transaction-not-found", "Transaction not found",
        "no transaction has this id");
    pub DUPLICATE_TXID = (CONFLICT, "duplicate-txid", "Duplicate txid",
        "the txid exists (also when requests race): meta.existing names the transaction it booked");
    pub TRANSFER_LEG = (CONFLICT, "transfer-leg", "Transfer leg",
        "the transaction is a leg of a transfer: its amount and wallet never change and it is not deleted on its own; reverse the transfer");
}

/// The constraints of `migrations/` and `sql/` that refuse transactions.
const TXID_UNIQUE: &str = "transactions_txid_key";
const TRANSFER_LEGS_KEPT: &str = "transactions_transfer_leg";
const WALLET_EXISTS: &str = "transactions_wallet_id_fkey";

const DUPLICATE_TXID_DETAIL: &str =
    "another transaction already has this txid; a txid books money once";

pub fn routes(routes: &mut Routes) {
    handlers::writable::<Transaction>(routes);
}

impl Resource for Transaction {
    const NOT_FOUND: &'static Code = &TRANSACTION_NOT_FOUND;
    const SINGULAR: &'static str = "transaction";
    const EXAMPLE: &'static Example = &Example {
        shown: r#"{"id": "42", "txid": "deposit-1", "amount": "100.50", "currency": "USD",
            "createdAt": "2026-12-01T12:00:00Z", "metadata": {"invoice": "INV-42"},
            "wallet": "1", "transfer": null}"#,
        create: r#"{"txid": "deposit-1", "amount": "100.50", "metadata": {"invoice": "INV-42"},
            "wallet": "1"}"#,
        update: r#"{"metadata": {"paid": "yes", "draft": null}}"#,
        created_meta: None,
    };

    const COALESCE_READS: bool = true;
}

/// A database refusal of a transaction write, pointed at the member of the document that
/// caused it.
fn write_error(error: diesel::result::Error) -> ApiError {
    match DbError::from(error) {
        error @ (DbError::InsufficientFunds { .. } | DbError::BalanceOverflow { .. }) => {
            ApiError::from(error).pointer("/data/attributes/amount")
        }
        error if error.constraint() == Some(TXID_UNIQUE) => duplicate_txid(),
        error if error.constraint() == Some(TRANSFER_LEGS_KEPT) => {
            let transfer = error.detail("transfer_id").unwrap_or_default().to_string();
            ApiError::new(
                &TRANSFER_LEG,
                format!(
                    "the transaction is a leg of transfer {transfer}: its amount and wallet never \
                     change and it is not deleted on its own; to move the money back, reverse the \
                     transfer (POST /transfers with reverses naming transfer {transfer})"
                ),
            )
            .meta(json!({"transfer": identifier("transfers", &transfer)}))
        }
        // A wallet-limited key sees no other wallet: one it may not touch does not exist.
        DbError::OutOfReach => no_such_wallet(),
        error if error.constraint() == Some(WALLET_EXISTS) => no_such_wallet(),
        error => currency_refusal(error),
    }
}

fn duplicate_txid() -> ApiError {
    ApiError::new(&DUPLICATE_TXID, DUPLICATE_TXID_DETAIL).pointer("/data/attributes/txid")
}

/// What the money rules and the constraints answer a transaction's writes.
const WRITE_ERRORS: &[&Code] = &[
    &INSUFFICIENT_FUNDS,
    &BALANCE_OVERFLOW,
    &AMOUNT_PRECISION,
    &DUPLICATE_TXID,
    &WALLET_NOT_FOUND,
];

/// An update may also move it to a wallet of another currency.
const UPDATE_ERRORS: &[&Code] = &[
    &INSUFFICIENT_FUNDS,
    &BALANCE_OVERFLOW,
    &AMOUNT_PRECISION,
    &CURRENCY_MISMATCH,
    &DUPLICATE_TXID,
    &WALLET_NOT_FOUND,
    &TRANSFER_LEG,
];

impl Writable for Transaction {
    const CREATE_ERRORS: &'static [&'static Code] = WRITE_ERRORS;
    const UPDATE_ERRORS: &'static [&'static Code] = UPDATE_ERRORS;
    const DELETE_ERRORS: &'static [&'static Code] = &[&INSUFFICIENT_FUNDS, &TRANSFER_LEG];

    const CREATE_STATEMENTS: Statements = Statements::One;

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
        &id: &i64,
        changes: &TransactionChanges,
    ) -> Result<Option<Transaction>, ApiError> {
        Transaction::update(conn, id, changes).map_err(write_error)
    }

    /// Its amount leaves the wallet's balance, which must stay at 0 or above.
    fn remove(conn: &mut PgConnection, &id: &i64) -> Result<bool, ApiError> {
        Transaction::delete(conn, id).map_err(write_error)
    }

    /// A transaction's wallet, as it stands.
    fn lock_key_of(conn: &mut PgConnection, &id: &i64) -> diesel::QueryResult<Option<i64>> {
        Ok(Transaction::find(conn, &id)?.map(|t| t.wallet_id))
    }

    fn lock_keys_of_new(new: &NewTransaction) -> Vec<i64> {
        vec![new.wallet_id]
    }

    /// Bookings of one API key are written several in one statement: the one a booking
    /// alone takes.
    fn rows(new: &NewTransaction, answer: Answer<Transaction>) -> Option<Rows> {
        Some(Rows::of(new.clone(), move |conn, booked| {
            answer(conn, booked)
        }))
    }
}

impl RowWriter for NewTransaction {
    type Row = Transaction;
    const KIND: &'static str = "transactions";

    fn unique(&self) -> &str {
        self.txid.as_str()
    }

    fn unique_of(row: &Transaction) -> &str {
        &row.txid
    }

    fn write_all(
        conn: &mut PgConnection,
        items: &[&Self],
    ) -> diesel::QueryResult<Vec<Transaction>> {
        Transaction::book(conn, items)
    }
}
