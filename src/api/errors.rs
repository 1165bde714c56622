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
            DbError::Unavailable => ApiError::unavailable(),
            DbError::Constraint { .. } | DbError::Other(_) => {
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
