//! `/holds`: reserve money on a wallet, then capture it (`PATCH` with `status: captured`,
//! all or `capturedAmount` of it, booking the debit) or void it (`status: voided`). The
//! database keeps `held` and `available` and refuses every transition that is not allowed;
//! these handlers say what to write and what its refusals mean.

use diesel::pg::PgConnection;

use super::transactions::DUPLICATE_TXID;
use super::wallets::{WALLET_NOT_FOUND, no_such_wallet};
use crate::api::errors::{AMOUNT_PRECISION, INSUFFICIENT_FUNDS, currency_refusal};
use crate::api::handlers;
use crate::api::resource::{Example, Resource, Writable};
use crate::api::routes::Routes;
use crate::api::write::Statements;
use crate::codes;
use crate::db::DbError;
use crate::domain::format_money;
use crate::jsonapi::ApiError;
use crate::jsonapi::error::Code;
use crate::models::Record;
use crate::models::hold::{Hold, HoldChanges, HoldStatus, NewHold, Resolution};

codes! {
    pub HOLD_NOT_FOUND = (NOT_FOUND, "hold-not-found", "Hold not found",
        "no hold has this id");
    pub HOLD_NOT_PENDING = (CONFLICT, "hold-not-pending", "Hold not pending",
        "the hold was captured or voided already: a hold is resolved once");
    pub HOLD_EXPIRED = (CONFLICT, "hold-expired", "Hold expired",
        "the hold's expiresAt has passed: it holds nothing and can be neither captured nor voided");
    pub CAPTURE_EXCEEDS_HOLD = (UNPROCESSABLE_ENTITY, "capture-exceeds-hold", "Capture exceeds hold",
        "capturedAmount is more than the hold's amount");
    pub CAPTURE_WITHOUT_STATUS = (UNPROCESSABLE_ENTITY, "capture-without-status", "Capture without status",
        "capturedAmount is given only with status captured");
}

/// The rules of `migrations/` that refuse hold writes.
const PENDING: &str = "holds_pending";
const UNEXPIRED: &str = "holds_unexpired";
const WITHIN_AMOUNT: &str = "holds_capture_within_amount";
const EXPIRY_FUTURE: &str = "holds_expiry_future";
const WALLET_EXISTS: &str = "holds_wallet_id_fkey";
const TXID_UNIQUE: &str = "transactions_txid_key";

const STATUS_POINTER: &str = "/data/attributes/status";
const CAPTURED_POINTER: &str = "/data/attributes/capturedAmount";

pub fn routes(routes: &mut Routes) {
    handlers::writable::<Hold>(routes);
}

impl Resource for Hold {
    const NOT_FOUND: &'static Code = &HOLD_NOT_FOUND;
    const SINGULAR: &'static str = "hold";
    const EXAMPLE: &'static Example = &Example {
        shown: r#"{"id": "7", "amount": "30.00", "currency": "USD", "status": "pending",
            "capturedAmount": null, "expiresAt": "2030-01-01T00:00:00Z",
            "createdAt": "2026-12-01T12:00:00Z", "updatedAt": "2026-12-01T12:00:00Z",
            "metadata": {"card": "auth-77"}, "wallet": "1", "transaction": null}"#,
        create: r#"{"amount": "30", "expiresAt": "2030-01-01T00:00:00Z",
            "metadata": {"card": "auth-77"}, "wallet": "1"}"#,
        update: r#"{"status": "captured", "capturedAmount": "20"}"#,
        created_meta: None,
    };
}

impl Writable for Hold {
    const CREATE_STATEMENTS: Statements = Statements::One;
    const CREATE_ERRORS: &'static [&'static Code] =
        &[&INSUFFICIENT_FUNDS, &AMOUNT_PRECISION, &WALLET_NOT_FOUND];
    const UPDATE_ERRORS: &'static [&'static Code] = &[
        &HOLD_NOT_PENDING,
        &HOLD_EXPIRED,
        &CAPTURE_EXCEEDS_HOLD,
        &CAPTURE_WITHOUT_STATUS,
        &INSUFFICIENT_FUNDS,
        &AMOUNT_PRECISION,
        &DUPLICATE_TXID,
    ];
    const NOT_DELETABLE: Option<&'static str> = Some(
        "a hold is never deleted, it is resolved: PATCH its status to voided to release it \
         (or to captured to book it)",
    );

    /// One INSERT, whose trigger reserves the amount or refuses it: more than is available.
    fn insert(conn: &mut PgConnection, new: &NewHold) -> Result<Hold, ApiError> {
        Hold::create(conn, new).map_err(|error| match DbError::from(error) {
            error @ DbError::InsufficientFunds { .. } => {
                ApiError::from(error).pointer("/data/attributes/amount")
            }
            DbError::OutOfReach => no_such_wallet(),
            error if error.constraint() == Some(WALLET_EXISTS) => no_such_wallet(),
            error if error.constraint() == Some(EXPIRY_FUTURE) => ApiError::invalid_attribute(
                "/data/attributes/expiresAt",
                "the expiry has passed: a hold's expiry is a time to come",
            ),
            error => currency_refusal(error),
        })
    }

    /// A capture (`capture_hold`: the release and the debit in one call) or a void; the
    /// database refuses a hold that is not pending, has expired, or is captured for more
    /// than it holds.
    fn apply(
        conn: &mut PgConnection,
        &id: &i64,
        changes: &HoldChanges,
    ) -> Result<Option<Hold>, ApiError> {
        let Some(hold) = Hold::find(conn, &id)? else {
            return Ok(None);
        };
        let captured = changes
            .captured_amount
            .as_ref()
            .map(|amount| amount.0.value());
        if let Some(patch) = &changes.metadata {
            Hold::tag(conn, id, patch).map_err(|error| refusal(&hold, DbError::from(error)))?;
        }
        let Some(resolution) = changes.status else {
            if captured.is_some() {
                return Err(capture_without_status());
            }
            return Ok(Hold::find(conn, &id)?);
        };
        if captured.is_some() && resolution != Resolution::Captured {
            return Err(capture_without_status());
        }
        // Told before the write when it is already so; the database says it when a
        // concurrent request resolved the hold in between.
        if hold.status != HoldStatus::Pending {
            return Err(not_pending(&hold, hold.status.as_str()));
        }
        let written = match resolution {
            Resolution::Captured => Hold::capture(conn, id, captured).map(|_| ()),
            Resolution::Voided => Hold::void(conn, id).map(|_| ()),
        };
        written.map_err(|error| refusal(&hold, DbError::from(error)))?;
        Ok(Hold::find(conn, &id)?)
    }

    fn remove(_conn: &mut PgConnection, _id: &i64) -> Result<bool, ApiError> {
        Err(ApiError::new(
            &crate::jsonapi::error::NOT_DELETABLE,
            <Hold as Writable>::NOT_DELETABLE.unwrap_or_default(),
        ))
    }

    /// A hold's wallet: its capture books on it.
    fn lock_key_of(conn: &mut PgConnection, &id: &i64) -> diesel::QueryResult<Option<i64>> {
        Ok(Hold::find(conn, &id)?.map(|hold| hold.wallet_id))
    }

    fn lock_keys_of_new(new: &NewHold) -> Vec<i64> {
        vec![new.wallet_id]
    }
}

/// What the database's refusal of a capture or void of `hold` means.
fn refusal(hold: &Hold, error: DbError) -> ApiError {
    match error {
        error if error.constraint() == Some(PENDING) => {
            let status = error.detail("status").unwrap_or("resolved").to_string();
            not_pending(hold, &status)
        }
        error if error.constraint() == Some(UNEXPIRED) => not_pending(hold, "expired"),
        error if error.constraint() == Some(WITHIN_AMOUNT) => ApiError::new(
            &CAPTURE_EXCEEDS_HOLD,
            format!(
                "capturedAmount is more than hold {}'s amount, {}: capture at most what it holds",
                hold.id,
                format_money(&hold.amount)
            ),
        )
        .pointer(CAPTURED_POINTER),
        error if error.constraint() == Some(TXID_UNIQUE) => ApiError::new(
            &DUPLICATE_TXID,
            format!(
                "the capture's txid hold:{} is taken by a transaction written in SQL: nothing \
                 was booked",
                hold.id
            ),
        )
        .pointer(STATUS_POINTER),
        error @ DbError::InsufficientFunds { .. } => {
            ApiError::from(error).pointer(CAPTURED_POINTER)
        }
        error => currency_refusal(error),
    }
}

/// A hold is resolved once: it is `status` now.
fn not_pending(hold: &Hold, status: &str) -> ApiError {
    if status == HoldStatus::Expired.as_str() {
        let at = hold.expires_at.map_or_else(String::new, |at| {
            format!(" at {}", crate::domain::timestamp(&at))
        });
        return ApiError::new(
            &HOLD_EXPIRED,
            format!(
                "hold {} expired{at}: it holds nothing and can no longer be captured or voided",
                hold.id
            ),
        )
        .pointer(STATUS_POINTER);
    }
    ApiError::new(
        &HOLD_NOT_PENDING,
        format!(
            "hold {} is {status}, not pending: a hold is resolved once",
            hold.id
        ),
    )
    .pointer(STATUS_POINTER)
}

fn capture_without_status() -> ApiError {
    ApiError::new(
        &CAPTURE_WITHOUT_STATUS,
        "capturedAmount is given with status captured only: it says how much the capture books",
    )
    .pointer(CAPTURED_POINTER)
}
