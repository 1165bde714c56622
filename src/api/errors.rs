//! What database outcomes mean to a client.
//!
//! The money rules answer the same way whichever resource met them; each resource maps its
//! own constraints next to its handlers (`DbError::constraint`, matched by name in the
//! resource's file). A constraint nobody mapped is a bug (the API should have refused the
//! value before the database did): it is logged and answered 500, never guessed at.

use actix_web::http::StatusCode;

use crate::db::DbError;
use crate::jsonapi::ApiError;

/// The code of a conflict with concurrent writers that a retry resolves (a deadlock).
pub const TRANSIENT: &str = "transient-conflict";

const INSUFFICIENT_FUNDS: &str = "this change would leave its balance below 0; nothing was changed";
const BALANCE_OVERFLOW: &str = "beyond what a balance can hold (18 integer and 18 fractional \
     digits); nothing was changed";

impl From<DbError> for ApiError {
    fn from(error: DbError) -> ApiError {
        match error {
            DbError::InsufficientFunds { wallet_id } => ApiError::conflict(
                "insufficient-funds",
                "Insufficient funds",
                match wallet_id {
                    Some(id) => {
                        format!("wallet {id} does not have enough funds: {INSUFFICIENT_FUNDS}")
                    }
                    None => format!("a wallet does not have enough funds: {INSUFFICIENT_FUNDS}"),
                },
            ),
            DbError::BalanceOverflow { wallet_id } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "balance-overflow",
                "Balance overflow",
                format!(
                    "this change would give wallet {} a balance of 10^18 or more, {BALANCE_OVERFLOW}",
                    wallet_id.map_or("?".to_string(), |id| id.to_string())
                ),
            ),
            DbError::Transient => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                TRANSIENT,
                "Transient conflict",
                "the write met concurrent writes to the same wallets and was rolled back; \
                 nothing was written: send it again",
            )
            .with_header("Retry-After", "1"),
            DbError::Timeout => unavailable(
                DATABASE_TIMEOUT,
                "the database did not finish in time (a statement or lock timeout); it rolled \
                 the request back and nothing was written: send it again",
            ),
            DbError::Busy => unavailable(
                "busy",
                "too many requests are waiting for the database; this one was not started and \
                 nothing was written: send it again",
            ),
            DbError::Unavailable => unavailable(
                DATABASE_UNAVAILABLE,
                "the database is not answering; nothing was written: send it again shortly",
            ),
            DbError::ConnectionLost => unavailable(
                CONNECTION_LOST,
                "the connection to the database broke while the request ran: send it again",
            ),
            DbError::Constraint { .. } | DbError::Bug(_) | DbError::Other(_) => {
                ApiError::internal(format_args!("unexpected database error: {error}"))
            }
        }
    }
}

/// The code of a connection lost while the request ran (its outcome is unknown if it wrote).
pub const CONNECTION_LOST: &str = "connection-lost";
pub const DATABASE_UNAVAILABLE: &str = "database-unavailable";
pub const DATABASE_TIMEOUT: &str = "database-timeout";

/// Whether the database cancelled a statement of this request (a statement or lock timeout).
pub fn timed_out(error: &ApiError) -> bool {
    error.errors.iter().any(|e| e.code == DATABASE_TIMEOUT)
}

/// A 503 that a retry after a second may cure.
fn unavailable(code: &'static str, detail: &str) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        code,
        "Service unavailable",
        detail,
    )
    .with_header("Retry-After", "1")
}

/// A write whose connection broke after it was sent: it may have committed or not. Retrying
/// it as it was (the same txid, the same `Idempotency-Key`) is safe; a new one may book twice.
pub fn outcome_unknown() -> ApiError {
    unavailable(
        "outcome-unknown",
        "the connection to the database broke after the write was sent, so it may or may not \
         have been applied. Send the same request again, with the same txid and the same \
         Idempotency-Key: a write that was applied is then answered as a duplicate (409 for a \
         txid, the stored response for a key), never applied twice. Do not retry it under a \
         new txid or key.",
    )
}

impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> ApiError {
        DbError::from(error).into()
    }
}
