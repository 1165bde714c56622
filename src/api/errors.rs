//! What database outcomes mean to a client, and the codes of the problems the application
//! (not the protocol) reports.
//!
//! The money rules answer the same way whichever resource met them; each resource maps its
//! own constraints next to its handlers (`DbError::constraint`, matched by name in the
//! resource's file). A constraint nobody mapped is a bug (the API should have refused the
//! value before the database did): it is logged and answered 500, never guessed at.

use crate::codes;
use crate::db::DbError;
use crate::domain::format_money;
use crate::jsonapi::ApiError;

codes! {
    pub INSUFFICIENT_FUNDS = (CONFLICT, "insufficient-funds", "Insufficient funds",
        "the write would leave an available balance (balance - held + creditLimit) below 0; nothing was written");
    pub BALANCE_OVERFLOW = (UNPROCESSABLE_ENTITY, "balance-overflow", "Balance overflow",
        "the write would give a balance of 10^18 or more; nothing was written");
    pub TRANSIENT_CONFLICT = (SERVICE_UNAVAILABLE, "transient-conflict", "Transient conflict",
        "the write met concurrent writes to the same wallets (a deadlock) and was rolled back: send it again");
    pub DATABASE_TIMEOUT = (SERVICE_UNAVAILABLE, "database-timeout", "Service unavailable",
        "a statement or lock timeout: the database rolled the request back; send it again");
    pub BUSY = (SERVICE_UNAVAILABLE, "busy", "Service unavailable",
        "too many requests wait for the database: this one was not started; send it again");
    pub DATABASE_UNAVAILABLE = (SERVICE_UNAVAILABLE, "database-unavailable", "Service unavailable",
        "the database does not answer; nothing was written");
    pub AMOUNT_PRECISION = (UNPROCESSABLE_ENTITY, "amount-precision", "Amount precision",
        "an amount has more fractional digits than its wallet's currency (USD: 2); nothing was written");
    pub CURRENCY_MISMATCH = (UNPROCESSABLE_ENTITY, "currency-mismatch", "Currency mismatch",
        "a transaction would move to a wallet of another currency; nothing was written");
    pub CONNECTION_LOST = (SERVICE_UNAVAILABLE, "connection-lost", "Service unavailable",
        "a read's connection to the database broke: send it again");
    pub OUTCOME_UNKNOWN = (SERVICE_UNAVAILABLE, "outcome-unknown", "Service unavailable",
        "a write's connection broke after it was sent: it may have been applied; send the same request again");
}

const INSUFFICIENT: &str = "this change would leave its available balance (its balance less its pending holds, plus \
     its credit limit) below 0; nothing was changed";
const OVERFLOW: &str = "beyond what a balance can hold (18 integer and 18 fractional digits); \
     nothing was changed";

/// A refusal of the metadata limits (`*_metadata_valid`: the merge of an update left more
/// than the keys allowed), pointed at the attribute; any other error as it is.
pub fn metadata_refusal(error: DbError) -> ApiError {
    if error
        .constraint()
        .is_some_and(|constraint| constraint.ends_with("_metadata_valid"))
    {
        return ApiError::invalid_attribute(
            "/data/attributes/metadata",
            format!(
                "metadata would break its limits once merged with what is stored (at most {} \
                 keys): remove keys with null",
                crate::models::metadata::MAX_KEYS
            ),
        );
    }
    error.into()
}

/// A refusal of the currency rules (`sql/15_currencies.sql`: an amount finer than its
/// wallet's currency, a transaction moved to a wallet of another currency), pointed at the
/// member that caused it; any other error as [`metadata_refusal`] answers it.
pub fn currency_refusal(error: DbError) -> ApiError {
    let pointer = match error.constraint() {
        Some(
            "transactions_amount_scale" | "holds_amount_scale" | "balance_monitors_amount_scale",
        ) => "/data/attributes/amount",
        Some("holds_captured_amount_scale") => "/data/attributes/capturedAmount",
        Some("transactions_currency_fixed") => {
            return ApiError::new(
                &CURRENCY_MISMATCH,
                format!(
                    "the transaction holds {} and the wallet {}: a transaction stays in its \
                     currency (book a debit here and a credit in the other wallet); nothing \
                     was written",
                    error.detail("currency").unwrap_or("one currency"),
                    error.detail("wallet_currency").unwrap_or("another")
                ),
            )
            .pointer("/data/relationships/wallet/data");
        }
        _ => return metadata_refusal(error),
    };
    let detail = match (error.detail("currency"), error.detail("scale")) {
        (Some(currency), Some(scale)) => format!(
            "the wallet holds {currency}, whose amounts have at most {scale} fractional \
             digit(s): round the amount to {scale}; nothing was written"
        ),
        _ => "the amount has more fractional digits than the wallet's currency; nothing was \
              written"
            .to_string(),
    };
    ApiError::new(&AMOUNT_PRECISION, detail).pointer(pointer)
}

impl From<DbError> for ApiError {
    fn from(error: DbError) -> ApiError {
        match error {
            DbError::InsufficientFunds {
                wallet_id,
                available,
            } => ApiError::new(
                &INSUFFICIENT_FUNDS,
                match (wallet_id, available) {
                    (Some(id), Some(available)) => format!(
                        "wallet {id} does not have enough funds ({} available): {INSUFFICIENT}",
                        format_money(&available)
                    ),
                    (Some(id), None) => {
                        format!("wallet {id} does not have enough funds: {INSUFFICIENT}")
                    }
                    (None, _) => format!("a wallet does not have enough funds: {INSUFFICIENT}"),
                },
            ),
            DbError::BalanceOverflow { wallet_id } => ApiError::new(
                &BALANCE_OVERFLOW,
                format!(
                    "this change would give wallet {} a balance of 10^18 or more, {OVERFLOW}",
                    wallet_id.map_or("?".to_string(), |id| id.to_string())
                ),
            ),
            DbError::OutOfReach => ApiError::not_found(
                "the write names a resource this API key cannot see (it is limited to some \
                 wallets); nothing was written",
            ),
            DbError::Transient => retry(
                &TRANSIENT_CONFLICT,
                "the write met concurrent writes to the same wallets and was rolled back; \
                 nothing was written: send it again",
            ),
            DbError::Timeout => retry(
                &DATABASE_TIMEOUT,
                "the database did not finish in time (a statement or lock timeout); it rolled \
                 the request back and nothing was written: send it again",
            ),
            DbError::Locked { key } => retry(
                &DATABASE_TIMEOUT,
                &format!(
                    "wallet {key} is locked by another database transaction, and another write \
                     to it is already waiting for that lock; nothing was written: send it again"
                ),
            ),
            DbError::Busy => retry(
                &BUSY,
                "too many requests are waiting for the database; this one was not started and \
                 nothing was written: send it again",
            ),
            DbError::Unavailable => retry(
                &DATABASE_UNAVAILABLE,
                "the database is not answering; nothing was written: send it again shortly",
            ),
            DbError::ConnectionLost => retry(
                &CONNECTION_LOST,
                "the connection to the database broke while the request ran: send it again",
            ),
            DbError::Constraint { .. } | DbError::Bug(_) | DbError::Other(_) => {
                ApiError::internal(format_args!("unexpected database error: {error}"))
            }
        }
    }
}

/// Whether the database cancelled a statement of this request (a statement or lock timeout).
pub fn timed_out(error: &ApiError) -> bool {
    error.is(&DATABASE_TIMEOUT)
}

/// Whether a deadlock (or a serialization failure) rolled the request back: it may run again.
pub fn transient(error: &ApiError) -> bool {
    error.is(&TRANSIENT_CONFLICT)
}

/// A 503 that a retry after a second may cure.
fn retry(code: &'static crate::jsonapi::error::Code, detail: &str) -> ApiError {
    ApiError::new(code, detail).with_header("Retry-After", "1")
}

/// A write whose connection broke after it was sent: it may have committed or not. Retrying
/// it as it was (the same txid, the same `Idempotency-Key`) is safe; a new one may book twice.
pub fn outcome_unknown() -> ApiError {
    retry(
        &OUTCOME_UNKNOWN,
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
