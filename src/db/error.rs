//! The one place where database errors are told apart, in the terms the rest of the program
//! cares about.

use bigdecimal::BigDecimal;
use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind, Error as DieselError};

/// What went wrong in the database, in the terms the rest of the program cares about.
///
/// PostgreSQL's SQLSTATE arrives through diesel's [`DatabaseErrorKind`] (unique 23505,
/// foreign key 23503, check 23514, connection class 08) together with the name of the
/// constraint. The money rules of `migrations/` are told apart here because every write can
/// meet them; any other constraint is reported by kind and name, and the resource whose
/// constraint it is says what it means to a client, next to its handlers.
#[derive(Debug)]
pub enum DbError {
    /// A statement would leave a wallet's balance below zero (23514,
    /// `wallets_balance_nonnegative`). Carries the wallet when the database named it.
    /// Carries what the wallet had available, when the database said.
    InsufficientFunds {
        wallet_id: Option<i64>,
        available: Option<BigDecimal>,
    },
    /// A statement would push a balance beyond numeric(36,18) (22003, `wallets_balance_max`).
    BalanceOverflow { wallet_id: Option<i64> },
    /// A unique, foreign key, check or not-null constraint refused the write.
    Constraint {
        kind: ConstraintKind,
        constraint: String,
        /// The DETAIL of the error, when the rule that raised it gave one (`status=captured`).
        detail: Option<String>,
    },
    /// Row-level security refused a write that would put a row where the request's API key
    /// cannot see it (42501): a wallet-limited key naming another wallet.
    OutOfReach,
    /// A deadlock or a serialization failure: the transaction was rolled back and can be
    /// run again.
    Transient,
    /// A statement ran past `statement_timeout`, waited past `lock_timeout` or was cancelled:
    /// PostgreSQL rolled it back; nothing was written.
    Timeout,
    /// A write to a wallet that another transaction holds locked, refused without running:
    /// another write to it is waiting for that lock already (`api::write::batch`).
    Locked { key: i64 },
    /// Too many requests wait for a connection already, or one waited past its bound: the
    /// request never reached the database.
    Busy,
    /// No connection could be had, or a command could not be sent: nothing was written.
    Unavailable,
    /// The connection broke while the work ran: a write may or may not have committed.
    ConnectionLost,
    /// A bug of the service (the work panicked).
    Bug(String),
    /// Anything else: a bug or an outage, never the client's fault.
    Other(DieselError),
}

/// The start of PostgreSQL's messages of a cancelled statement (SQLSTATE 57014 and 55P03,
/// which diesel does not name).
const CANCELLED: [&str; 3] = [
    "canceling statement due to statement timeout",
    "canceling statement due to lock timeout",
    "canceling statement due to user request",
];

/// The start of the messages, PostgreSQL's or libpq's, of a connection lost with the work
/// under way (57P01-57P03, a crash, a closed socket).
const LOST: [&str; 9] = [
    "terminating connection",
    "server closed the connection",
    "the database system is",
    "no connection to the server",
    "could not receive data from server",
    "could not send data to server",
    "connection to server",
    "SSL connection has been closed",
    "lost synchronization with server",
];

/// The start of PostgreSQL's message when row-level security refuses a new row (42501,
/// which diesel does not name).
const ROW_SECURITY: &str = "new row violates row-level security policy";

/// Which kind of constraint refused a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstraintKind {
    Unique,
    ForeignKey,
    Check,
    NotNull,
    /// A rule of `sql/` raised under another SQLSTATE and named as a constraint: who may
    /// write (42501, `wallets_credit_limit_admin`), a value out of range (22003,
    /// `exchanges_amount_max`).
    Rule,
}

impl DbError {
    /// The constraint that refused the write, if a constraint did.
    /// The value of `name=value` in the DETAIL of a constraint's error, if it gave one.
    pub fn detail(&self, name: &str) -> Option<&str> {
        match self {
            DbError::Constraint {
                detail: Some(detail),
                ..
            } => named_value(detail, name),
            _ => None,
        }
    }

    pub fn constraint(&self) -> Option<&str> {
        match self {
            DbError::Constraint { constraint, .. } => Some(constraint),
            _ => None,
        }
    }

    /// The same error again, for each of the several requests one failure answers (an
    /// error of the database driver is kept as its text).
    pub fn again(&self) -> DbError {
        match self {
            DbError::InsufficientFunds {
                wallet_id,
                available,
            } => DbError::InsufficientFunds {
                wallet_id: *wallet_id,
                available: available.clone(),
            },
            DbError::BalanceOverflow { wallet_id } => DbError::BalanceOverflow {
                wallet_id: *wallet_id,
            },
            DbError::Constraint {
                kind,
                constraint,
                detail,
            } => DbError::Constraint {
                kind: *kind,
                constraint: constraint.clone(),
                detail: detail.clone(),
            },
            DbError::OutOfReach => DbError::OutOfReach,
            DbError::Transient => DbError::Transient,
            DbError::Timeout => DbError::Timeout,
            DbError::Locked { key } => DbError::Locked { key: *key },
            DbError::Busy => DbError::Busy,
            DbError::Unavailable => DbError::Unavailable,
            DbError::ConnectionLost => DbError::ConnectionLost,
            DbError::Bug(what) => DbError::Bug(what.clone()),
            DbError::Other(error) => DbError::Bug(format!("database error: {error}")),
        }
    }

    /// A short name of the kind of error, for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            DbError::InsufficientFunds { .. } => "insufficient_funds",
            DbError::BalanceOverflow { .. } => "balance_overflow",
            DbError::Constraint { .. } => "constraint",
            DbError::OutOfReach => "out_of_reach",
            DbError::Transient => "transient",
            DbError::Timeout => "timeout",
            DbError::Locked { .. } => "locked",
            DbError::Busy => "busy",
            DbError::Unavailable => "unavailable",
            DbError::ConnectionLost => "connection_lost",
            DbError::Bug(_) => "bug",
            DbError::Other(_) => "other",
        }
    }
}

impl From<DieselError> for DbError {
    fn from(error: DieselError) -> Self {
        let classified = DbError::classify(error);
        crate::metrics::database_error(classified.kind());
        classified
    }
}

impl DbError {
    fn classify(error: DieselError) -> DbError {
        let DieselError::DatabaseError(kind, info) = &error else {
            return match error {
                DieselError::BrokenTransactionManager => DbError::ConnectionLost,
                error => DbError::Other(error),
            };
        };
        let message = info.message();
        if CANCELLED.iter().any(|start| message.starts_with(start)) {
            return DbError::Timeout;
        }
        if LOST
            .iter()
            .any(|start| message.trim_start().starts_with(start))
        {
            return DbError::ConnectionLost;
        }
        if message.starts_with(ROW_SECURITY) {
            return DbError::OutOfReach;
        }
        let constraint = info.constraint_name().unwrap_or_default();
        let kind = match (kind, constraint) {
            (DatabaseErrorKind::CheckViolation, "wallets_balance_nonnegative") => {
                return DbError::InsufficientFunds {
                    wallet_id: wallet_in_detail(info.as_ref()),
                    available: detail_value(info.as_ref(), "available")
                        .and_then(|text| text.parse().ok()),
                };
            }
            (_, "wallets_balance_max") => {
                return DbError::BalanceOverflow {
                    wallet_id: wallet_in_detail(info.as_ref()),
                };
            }
            (DatabaseErrorKind::ClosedConnection, _) => return DbError::ConnectionLost,
            (DatabaseErrorKind::UnableToSendCommand, _) => return DbError::Unavailable,
            (DatabaseErrorKind::SerializationFailure, _) => return DbError::Transient,
            // SQLSTATE 40P01, which diesel does not name: its message is PostgreSQL's own.
            (DatabaseErrorKind::Unknown, _) if info.message().starts_with("deadlock detected") => {
                return DbError::Transient;
            }
            (DatabaseErrorKind::UniqueViolation, _) => ConstraintKind::Unique,
            (DatabaseErrorKind::ForeignKeyViolation, _) => ConstraintKind::ForeignKey,
            (DatabaseErrorKind::CheckViolation, _) => ConstraintKind::Check,
            (DatabaseErrorKind::NotNullViolation, _) => ConstraintKind::NotNull,
            (DatabaseErrorKind::Unknown, constraint) if !constraint.is_empty() => {
                ConstraintKind::Rule
            }
            _ => return DbError::Other(error),
        };
        DbError::Constraint {
            kind,
            constraint: constraint.to_string(),
            detail: info.details().map(str::to_string),
        }
    }
}

/// The value of `name=value` among the space-separated pairs of a DETAIL.
fn named_value<'a>(detail: &'a str, name: &str) -> Option<&'a str> {
    detail.split_whitespace().find_map(|pair| {
        pair.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix('='))
    })
}

fn detail_value<'a>(
    info: &'a (dyn DatabaseErrorInformation + Send + Sync),
    name: &str,
) -> Option<&'a str> {
    named_value(info.details()?, name)
}

/// The balance rules put `wallet_id=<id>` in the DETAIL of the errors they raise.
fn wallet_in_detail(info: &(dyn DatabaseErrorInformation + Send + Sync)) -> Option<i64> {
    detail_value(info, "wallet_id")?.parse().ok()
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbError::InsufficientFunds { wallet_id, .. } => {
                write!(f, "insufficient funds in wallet {wallet_id:?}")
            }
            DbError::BalanceOverflow { wallet_id } => {
                write!(f, "balance overflow in wallet {wallet_id:?}")
            }
            DbError::Constraint {
                kind, constraint, ..
            } => {
                write!(f, "{kind:?} constraint {constraint} violated")
            }
            DbError::OutOfReach => write!(f, "row-level security refused the write"),
            DbError::Transient => write!(f, "deadlock or serialization failure"),
            DbError::Timeout => write!(f, "statement cancelled (timeout)"),
            DbError::Locked { key } => write!(f, "row {key} held locked elsewhere"),
            DbError::Busy => write!(f, "no connection free in time"),
            DbError::Unavailable => write!(f, "database unavailable"),
            DbError::ConnectionLost => write!(f, "connection lost"),
            DbError::Bug(what) => write!(f, "bug: {what}"),
            DbError::Other(error) => write!(f, "database error: {error}"),
        }
    }
}

impl std::error::Error for DbError {}
