//! The database: connection pool, embedded migrations, running blocking queries off the
//! async threads, and the one place where database errors are told apart.

use std::time::Duration;

use anyhow::Context;
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, PooledConnection};
use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind, Error as DieselError};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub mod prepared;

pub type Pool = r2d2::Pool<ConnectionManager<PgConnection>>;
pub type PooledConn = PooledConnection<ConnectionManager<PgConnection>>;

/// Every migration under `migrations/`, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// How long a request waits for a free connection before it is answered 503.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(10);

/// The name the service gives its connections (`application_name`), which the balance
/// journal records with every change: API writes are told apart from a `psql` user's.
pub const APPLICATION_NAME: &str = "wallet-api";

/// A pool of `size` connections to `url`. Connections are not pinged on checkout (that would
/// cost a round trip per request); a connection that turns out broken is dropped by the pool.
pub fn connect_pool(url: &str, size: u32) -> anyhow::Result<Pool> {
    r2d2::Pool::builder()
        .max_size(size)
        .min_idle(Some(size.min(4)))
        .test_on_check_out(false)
        .connection_timeout(CHECKOUT_TIMEOUT)
        .build(ConnectionManager::new(named(url, APPLICATION_NAME)))
        .context("cannot connect to the database (is DATABASE_URL right, is PostgreSQL up?)")
}

/// `url` with `application_name` set to `name`, unless the URL sets one itself. Takes both
/// forms libpq does: a URI (`postgresql://...`) and `key=value` pairs.
pub fn named(url: &str, name: &str) -> String {
    if url.contains("application_name=") {
        url.to_string()
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let separator = if url.contains('?') { '&' } else { '?' };
        // libpq percent-decodes URI parameters; it does not read `+` as a space.
        let encoded: String = name
            .bytes()
            .map(|byte| match byte {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (byte as char).to_string()
                }
                _ => format!("%{byte:02X}"),
            })
            .collect();
        format!("{url}{separator}application_name={encoded}")
    } else {
        format!("{url} application_name='{name}'")
    }
}

/// One connection, named `name` (see [`named`]).
pub fn connect(url: &str, name: &str) -> anyhow::Result<PgConnection> {
    use diesel::Connection;
    PgConnection::establish(&named(url, name))
        .context("cannot connect to the database (is DATABASE_URL right, is PostgreSQL up?)")
}

/// Applies every pending migration; returns the versions applied.
pub fn run_migrations(conn: &mut PgConnection) -> anyhow::Result<Vec<String>> {
    let applied = conn
        .run_pending_migrations(MIGRATIONS)
        .map_err(|error| anyhow::anyhow!("migration failed: {error}"))?;
    Ok(applied.iter().map(|version| version.to_string()).collect())
}

/// Runs `work` with a pooled connection on the blocking thread pool, so that diesel's
/// synchronous calls never stall an async worker.
pub async fn run<T, E, F>(pool: &Pool, work: F) -> Result<T, E>
where
    F: FnOnce(&mut PgConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
{
    let pool = pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool.get().map_err(|error| {
            log::error!("no database connection: {error}");
            DbError::Unavailable
        })?;
        work(&mut conn)
    })
    .await
    .map_err(|_| E::from(DbError::Unavailable))?
}

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
    InsufficientFunds { wallet_id: Option<i64> },
    /// A statement would push a balance beyond numeric(36,18) (22003, `wallets_balance_max`).
    BalanceOverflow { wallet_id: Option<i64> },
    /// A unique, foreign key, check or not-null constraint refused the write.
    Constraint {
        kind: ConstraintKind,
        constraint: String,
    },
    /// A deadlock or a serialization failure: the transaction was rolled back and can be
    /// run again.
    Transient,
    /// No connection, or the connection broke.
    Unavailable,
    /// Anything else: a bug or an outage, never the client's fault.
    Other(DieselError),
}

/// Which kind of constraint refused a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstraintKind {
    Unique,
    ForeignKey,
    Check,
    NotNull,
}

impl DbError {
    /// The constraint that refused the write, if a constraint did.
    pub fn constraint(&self) -> Option<&str> {
        match self {
            DbError::Constraint { constraint, .. } => Some(constraint),
            _ => None,
        }
    }
}

impl From<DieselError> for DbError {
    fn from(error: DieselError) -> Self {
        let DieselError::DatabaseError(kind, info) = &error else {
            return DbError::Other(error);
        };
        let constraint = info.constraint_name().unwrap_or_default();
        let kind = match (kind, constraint) {
            (DatabaseErrorKind::CheckViolation, "wallets_balance_nonnegative") => {
                return DbError::InsufficientFunds {
                    wallet_id: wallet_in_detail(info.as_ref()),
                };
            }
            (_, "wallets_balance_max") => {
                return DbError::BalanceOverflow {
                    wallet_id: wallet_in_detail(info.as_ref()),
                };
            }
            (DatabaseErrorKind::ClosedConnection, _) => return DbError::Unavailable,
            (DatabaseErrorKind::SerializationFailure, _) => return DbError::Transient,
            // SQLSTATE 40P01, which diesel does not name: its message is PostgreSQL's own.
            (DatabaseErrorKind::Unknown, _) if info.message().starts_with("deadlock detected") => {
                return DbError::Transient;
            }
            (DatabaseErrorKind::UniqueViolation, _) => ConstraintKind::Unique,
            (DatabaseErrorKind::ForeignKeyViolation, _) => ConstraintKind::ForeignKey,
            (DatabaseErrorKind::CheckViolation, _) => ConstraintKind::Check,
            (DatabaseErrorKind::NotNullViolation, _) => ConstraintKind::NotNull,
            _ => return DbError::Other(error),
        };
        DbError::Constraint {
            kind,
            constraint: constraint.to_string(),
        }
    }
}

/// The balance rules put `wallet_id=<id>` in the DETAIL of the errors they raise.
fn wallet_in_detail(info: &(dyn DatabaseErrorInformation + Send + Sync)) -> Option<i64> {
    info.details()?
        .strip_prefix("wallet_id=")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbError::InsufficientFunds { wallet_id } => {
                write!(f, "insufficient funds in wallet {wallet_id:?}")
            }
            DbError::BalanceOverflow { wallet_id } => {
                write!(f, "balance overflow in wallet {wallet_id:?}")
            }
            DbError::Constraint { kind, constraint } => {
                write!(f, "{kind:?} constraint {constraint} violated")
            }
            DbError::Transient => write!(f, "deadlock or serialization failure"),
            DbError::Unavailable => write!(f, "database unavailable"),
            DbError::Other(error) => write!(f, "database error: {error}"),
        }
    }
}

impl std::error::Error for DbError {}

#[cfg(test)]
mod tests {
    use super::named;

    #[test]
    fn connections_are_named_unless_the_url_names_them() {
        assert_eq!(
            named("postgresql://u@/db?host=/run", "wallet-api"),
            "postgresql://u@/db?host=/run&application_name=wallet-api"
        );
        assert_eq!(
            named("postgres://u@h/db", "wallet-api repair"),
            "postgres://u@h/db?application_name=wallet-api%20repair"
        );
        assert_eq!(
            named("host=h dbname=db", "wallet-api"),
            "host=h dbname=db application_name='wallet-api'"
        );
        let own = "postgres://h/db?application_name=mine";
        assert_eq!(named(own, "wallet-api"), own);
    }
}
