//! `/transfers`: money moved from one wallet to another as one thing, and reversals of it.
//! The database books both legs in the statement that writes the transfer, and keeps the
//! transfer whole (`sql/35_transfers.sql`); these handlers say what to write and what its
//! refusals mean.

use diesel::pg::PgConnection;
use serde_json::json;

use super::transactions::DUPLICATE_TXID;
use super::wallets::{self, WALLET_NOT_FOUND};
use crate::api::errors::{
    AMOUNT_PRECISION, CURRENCY_MISMATCH, INSUFFICIENT_FUNDS, currency_refusal,
};
use crate::api::handlers;
use crate::api::resource::{Answer, Example, Resource, Writable};
use crate::api::routes::Routes;
use crate::api::write::rows::{RowWriter, Rows};
use crate::codes;
use crate::db::DbError;
use crate::domain::{Amount, Txid};
use crate::jsonapi::ApiError;
use crate::jsonapi::document::identifier;
use crate::jsonapi::error::Code;
use crate::models::transfer::Move;
use crate::models::{Model, NewTransfer, Record, Transfer, TransferChanges};

codes! {
    pub TRANSFER_NOT_FOUND = (NOT_FOUND, "transfer-not-found", "Transfer not found",
        "no transfer has this id (in the URL, or in reverses)");
    pub SAME_WALLET = (UNPROCESSABLE_ENTITY, "same-wallet", "Same wallet",
        "the source and the destination are one wallet: a transfer moves money between two");
    pub INVALID_REVERSAL = (UNPROCESSABLE_ENTITY, "invalid-reversal", "Invalid reversal",
        "a reversal moves money back from its original's destination to its source, and a reversal is not itself reversed");
    pub REVERSAL_EXCEEDS_TRANSFER = (CONFLICT, "reversal-exceeds-transfer", "Reversal exceeds transfer",
        "the reversals of a transfer would move back more than it moved; nothing was written");
}

/// The constraints of `migrations/` and `sql/35_transfers.sql` that refuse transfers.
const TXID_UNIQUE: &str = "transfers_txid_key";
const DISTINCT_WALLETS: &str = "transfers_distinct_wallets";
const ONE_CURRENCY: &str = "transfers_currency_mismatch";
const SOURCE_EXISTS: &str = "transfers_source_exists";
const DESTINATION_EXISTS: &str = "transfers_destination_exists";
const VALID_REVERSAL: &str = "transfers_invalid_reversal";
const REVERSED_WITHIN: &str = "transfers_reversed_within";

const SOURCE: &str = "/data/relationships/source/data";
const DESTINATION: &str = "/data/relationships/destination/data";
const REVERSES: &str = "/data/relationships/reverses/data";
const AMOUNT: &str = "/data/attributes/amount";

pub fn routes(routes: &mut Routes) {
    handlers::writable::<Transfer>(routes);
    handlers::to_many::<Transfer, Transfer>(routes);
}

impl Resource for Transfer {
    const NOT_FOUND: &'static Code = &TRANSFER_NOT_FOUND;
    const SINGULAR: &'static str = "transfer";
    const EXAMPLE: &'static Example = &Example {
        shown: r#"{"id": "1", "txid": "rent-2026-12", "amount": "25.00", "currency": "USD",
            "reversedAmount": "0.00", "createdAt": "2026-12-01T12:00:00Z",
            "metadata": {"invoice": "INV-42"}, "reverses": null, "source": "1",
            "destination": "2", "debit": "41", "credit": "42"}"#,
        create: r#"{"txid": "rent-2026-12", "amount": "25.00", "source": "1",
            "destination": "2"}"#,
        update: r#"{"metadata": {"invoice": "INV-43"}}"#,
        created_meta: None,
    };
}

impl Writable for Transfer {
    const CREATE_ERRORS: &'static [&'static Code] = &[
        &INSUFFICIENT_FUNDS,
        &AMOUNT_PRECISION,
        &CURRENCY_MISMATCH,
        &SAME_WALLET,
        &WALLET_NOT_FOUND,
        &TRANSFER_NOT_FOUND,
        &INVALID_REVERSAL,
        &REVERSAL_EXCEEDS_TRANSFER,
        &DUPLICATE_TXID,
    ];
    const NOT_DELETABLE: Option<&'static str> = Some(
        "a transfer is never deleted: reverse it (POST /transfers with reverses) to move its \
         money back",
    );

    /// One INSERT, whose trigger books both legs or refuses the whole transfer. A reversal
    /// takes the wallets it leaves out from its original.
    fn insert(conn: &mut PgConnection, new: &NewTransfer) -> Result<Transfer, ApiError> {
        let (source, destination) = wallets_of(conn, new)?;
        let made = Transfer::make(
            conn,
            &[Move {
                txid: &new.txid,
                source,
                destination,
                amount: &new.amount.0,
                reverses: new.reverses(),
                metadata: new.metadata_object(),
            }],
        )
        .map_err(refusal)?;
        if let Some(transfer) = made.into_iter().next() {
            return Ok(transfer);
        }
        Err(match Transfer::find_by_txid(conn, &new.txid)? {
            Some(existing) => {
                duplicate_txid().meta(json!({"existing": identifier(Transfer::TYPE, existing.id)}))
            }
            None => duplicate_txid(),
        })
    }

    /// Only its metadata changes.
    fn apply(
        conn: &mut PgConnection,
        &id: &i64,
        changes: &TransferChanges,
    ) -> Result<Option<Transfer>, ApiError> {
        match &changes.metadata {
            Some(patch) => Transfer::tag(conn, id, patch).map_err(refusal),
            None => Ok(Transfer::find(conn, &id)?),
        }
    }

    fn remove(_conn: &mut PgConnection, _id: &i64) -> Result<bool, ApiError> {
        Err(ApiError::new(
            &crate::jsonapi::error::NOT_DELETABLE,
            <Transfer as Writable>::NOT_DELETABLE.unwrap_or_default(),
        ))
    }

    /// A transfer between two named wallets is written with the transfers of its batch
    /// beside it, in one statement per wave (a wave holds no wallet twice, on either side:
    /// its lock keys). A reversal reads its original first: it is written alone.
    fn rows(new: &NewTransfer, answer: Answer<Transfer>) -> Option<Rows> {
        if new.reverses().is_some() {
            return None;
        }
        let planned = Planned {
            txid: new.txid.clone(),
            source: new.source_wallet_id?,
            destination: new.destination_wallet_id?,
            amount: new.amount.0.clone(),
            metadata: new.metadata_object(),
        };
        Some(Rows::of(planned, move |conn, made| answer(conn, made)))
    }

    fn lock_keys_of_new(new: &NewTransfer) -> Vec<i64> {
        let mut keys: Vec<i64> = [new.source_wallet_id, new.destination_wallet_id]
            .into_iter()
            .flatten()
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }
}

/// A transfer whose wallets are known, as a wave writes it.
struct Planned {
    txid: Txid,
    source: i64,
    destination: i64,
    amount: Amount,
    metadata: serde_json::Value,
}

impl RowWriter for Planned {
    type Row = Transfer;
    const KIND: &'static str = "transfers";

    fn unique(&self) -> &str {
        self.txid.as_str()
    }

    fn unique_of(row: &Transfer) -> &str {
        &row.txid
    }

    fn write_all(conn: &mut PgConnection, items: &[&Self]) -> diesel::QueryResult<Vec<Transfer>> {
        let moves: Vec<Move<'_>> = items
            .iter()
            .map(|planned| Move {
                txid: &planned.txid,
                source: planned.source,
                destination: planned.destination,
                amount: &planned.amount,
                reverses: None,
                metadata: planned.metadata.clone(),
            })
            .collect();
        Transfer::make(conn, &moves)
    }
}

/// The source and destination of a new transfer: as given, or for a reversal its
/// original's destination and source (given ones must be those).
fn wallets_of(conn: &mut PgConnection, new: &NewTransfer) -> Result<(i64, i64), ApiError> {
    let Some(original) = new.reverses() else {
        let required = |side: &str, pointer: &str| {
            ApiError::invalid_attribute(
                pointer.trim_end_matches("/data"),
                format!(
                    "{side} is required: give {{\"data\": {{\"type\": \"wallets\", \"id\": \
                     ...}}}} (or reverses, for a reversal)"
                ),
            )
        };
        return Ok((
            new.source_wallet_id
                .ok_or_else(|| required("source", SOURCE))?,
            new.destination_wallet_id
                .ok_or_else(|| required("destination", DESTINATION))?,
        ));
    };
    let Some(original) = Transfer::find(conn, &original)? else {
        return Err(ApiError::new(
            &TRANSFER_NOT_FOUND,
            format!("there is no transfer with id \"{original}\" to reverse"),
        )
        .pointer(REVERSES));
    };
    if let Some(reversed) = original.reverses_id {
        return Err(ApiError::new(
            &INVALID_REVERSAL,
            format!(
                "transfer {} reverses transfer {reversed}: a reversal is not itself reversed \
                 (make a new transfer instead)",
                original.id
            ),
        )
        .pointer(REVERSES));
    }
    let back = (original.destination_wallet_id, original.source_wallet_id);
    for (given, expected, pointer, side) in [
        (new.source_wallet_id, back.0, SOURCE, "source"),
        (
            new.destination_wallet_id,
            back.1,
            DESTINATION,
            "destination",
        ),
    ] {
        if given.is_some_and(|given| given != expected) {
            return Err(ApiError::new(
                &INVALID_REVERSAL,
                format!(
                    "a reversal of transfer {} moves money from wallet {} back to wallet {}: \
                     its {side} is wallet {expected} (or leave it out)",
                    original.id, back.0, back.1
                ),
            )
            .pointer(pointer));
        }
    }
    Ok(back)
}

/// A database refusal of a transfer, pointed at the member of the document that caused it.
fn refusal(error: diesel::result::Error) -> ApiError {
    match DbError::from(error) {
        error @ (DbError::InsufficientFunds { .. } | DbError::BalanceOverflow { .. }) => {
            ApiError::from(error).pointer(AMOUNT)
        }
        error if error.constraint() == Some(TXID_UNIQUE) => duplicate_txid(),
        error if error.constraint() == Some(DISTINCT_WALLETS) => ApiError::new(
            &SAME_WALLET,
            "the source and the destination are one wallet: a transfer moves money between \
             two; nothing was written",
        )
        .pointer(DESTINATION),
        error if error.constraint() == Some(ONE_CURRENCY) => ApiError::new(
            &CURRENCY_MISMATCH,
            format!(
                "the source holds {} and the destination {}: a transfer moves money within one \
                 currency; nothing was written",
                error.detail("source_currency").unwrap_or("one currency"),
                error.detail("destination_currency").unwrap_or("another")
            ),
        )
        .pointer(DESTINATION),
        // A wallet-limited key sees no other wallet: one it may not touch does not exist.
        DbError::OutOfReach => no_such_wallet(DESTINATION),
        error if error.constraint() == Some(SOURCE_EXISTS) => no_such_wallet(SOURCE),
        error if error.constraint() == Some(DESTINATION_EXISTS) => no_such_wallet(DESTINATION),
        error if error.constraint() == Some(VALID_REVERSAL) => ApiError::new(
            &INVALID_REVERSAL,
            "a reversal moves money back from its original's destination to its source, and \
             a reversal is not itself reversed; nothing was written",
        )
        .pointer(REVERSES),
        error if error.constraint() == Some(REVERSED_WITHIN) => ApiError::new(
            &REVERSAL_EXCEEDS_TRANSFER,
            "the reversals of the transfer would move back more than it moved: reverse at most \
             what is left of it (its amount less its reversedAmount); nothing was written",
        )
        .pointer(AMOUNT),
        error => currency_refusal(error),
    }
}

/// The wallets' own answer to a relationship naming no wallet, pointed at this side.
fn no_such_wallet(pointer: &str) -> ApiError {
    wallets::no_such_wallet().pointer(pointer)
}

fn duplicate_txid() -> ApiError {
    ApiError::new(
        &DUPLICATE_TXID,
        "another transfer already has this txid; a txid moves money once",
    )
    .pointer("/data/attributes/txid")
}
