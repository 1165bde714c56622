//! One deadline per request: every wait a request makes on the database (its turn in the
//! queue, a connection, a lock, a statement) counts against one budget, however many
//! statements, batches and second runs it takes.
//!
//! A request's clock starts when it first asks for the database. From then on:
//! - all its statements together end within `acquire + statement` (DB_ACQUIRE_TIMEOUT +
//!   DB_STATEMENT_TIMEOUT, 6 s by default);
//! - all its waits for locks together end within `acquire + lock` (3 s): a table locked in
//!   `psql` holds no request longer than that.
//!
//! The first statement runs with the connections' own limits (it cannot start later than
//! `acquire`, so they end it in time); a later one (an include, a batch's second run, a write
//! run again alone) gets `statement_timeout` and `lock_timeout` shortened to what is left,
//! and one with nothing left is not sent (503 `database-timeout`).
//!
//! The clock lives in a task-local value set by [`scoped`] around a request's handling, and
//! is read where the database is asked for ([`Deadline::current`]); work outside a request
//! (the purge, the sweep) has none and runs with the connections' limits.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::DbError;

tokio::task_local! {
    static CLOCK: Arc<OnceLock<Instant>>;
}

/// Runs `handling` (a request's) with a clock of its own.
pub async fn scoped<F: Future>(handling: F) -> F::Output {
    CLOCK.scope(Arc::new(OnceLock::new()), handling).await
}

/// When a request first asked for the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    started: Instant,
}

impl Deadline {
    /// The deadline of the request being handled (its clock started now if it had not), or
    /// none outside a request.
    pub fn current() -> Option<Deadline> {
        CLOCK
            .try_with(|clock| Deadline {
                started: *clock.get_or_init(Instant::now),
            })
            .ok()
    }

    /// The earlier of two.
    pub fn earliest(deadlines: impl IntoIterator<Item = Option<Deadline>>) -> Option<Deadline> {
        deadlines
            .into_iter()
            .flatten()
            .min_by_key(|deadline| deadline.started)
    }
}

/// The limits the service's connections run with (DB_ACQUIRE_TIMEOUT, DB_STATEMENT_TIMEOUT,
/// DB_LOCK_TIMEOUT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub acquire: Duration,
    pub statement: Duration,
    pub lock: Duration,
}

/// The least a statement is given: PostgreSQL reads 0 as no limit.
const LEAST: Duration = Duration::from_millis(1);

/// Less than this left: the statement is not sent.
const TOO_LITTLE: Duration = Duration::from_millis(5);

/// What a statement of a request may take: the connections' own limits, or shorter ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    Configured,
    Shortened { statement: Duration, lock: Duration },
}

impl Limits {
    /// How long a request with `deadline` may still wait for a connection.
    pub fn acquire(&self, deadline: Option<Deadline>) -> Duration {
        match deadline {
            None => self.acquire,
            Some(deadline) => self
                .acquire
                .min(self.left(deadline.started, self.statement)),
        }
    }

    /// What a statement sent now may take, for a request with `deadline`; `Timeout` when it
    /// has nothing left.
    pub fn budget(&self, deadline: Option<Deadline>) -> Result<Budget, DbError> {
        let Some(deadline) = deadline else {
            return Ok(Budget::Configured);
        };
        let statement = self.left(deadline.started, self.statement);
        let lock = self.left(deadline.started, self.lock);
        if statement < TOO_LITTLE {
            return Err(DbError::Timeout);
        }
        if statement >= self.statement && lock >= self.lock {
            return Ok(Budget::Configured);
        }
        Ok(Budget::Shortened {
            statement: statement.min(self.statement),
            lock: lock.clamp(LEAST, self.lock),
        })
    }

    /// What is left of `acquire + limit` from `started`.
    fn left(&self, started: Instant, limit: Duration) -> Duration {
        (started + self.acquire + limit).saturating_duration_since(Instant::now())
    }

    /// The SQL that sets a connection's limits to `budget`'s.
    pub fn set_sql(&self, budget: Budget) -> String {
        let (statement, lock) = match budget {
            Budget::Configured => (self.statement, self.lock),
            Budget::Shortened { statement, lock } => (statement, lock),
        };
        format!(
            "SET statement_timeout = {}; SET lock_timeout = {}",
            statement.as_millis().max(1),
            lock.as_millis().max(1)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        acquire: Duration::from_secs(1),
        statement: Duration::from_secs(5),
        lock: Duration::from_secs(2),
    };

    #[test]
    fn a_young_request_runs_with_the_connections_limits() {
        let now = Deadline {
            started: Instant::now(),
        };
        assert!(matches!(LIMITS.budget(None), Ok(Budget::Configured)));
        assert!(matches!(LIMITS.budget(Some(now)), Ok(Budget::Configured)));
        assert_eq!(LIMITS.acquire(Some(now)), Duration::from_secs(1));
    }

    #[test]
    fn an_older_one_gets_what_is_left() {
        let started = Instant::now() - Duration::from_millis(2500);
        let Ok(Budget::Shortened { statement, lock }) = LIMITS.budget(Some(Deadline { started }))
        else {
            panic!("not shortened");
        };
        assert!(statement <= Duration::from_millis(3500) && statement > Duration::from_secs(3));
        assert!(lock <= Duration::from_millis(500) && lock > Duration::ZERO);
        // Past the lock budget, lock waits end at once; past the statement budget nothing
        // is sent.
        let started = Instant::now() - Duration::from_millis(4000);
        assert!(matches!(
            LIMITS.budget(Some(Deadline { started })),
            Ok(Budget::Shortened { lock: LEAST, .. })
        ));
        let started = Instant::now() - Duration::from_secs(7);
        assert!(matches!(
            LIMITS.budget(Some(Deadline { started })),
            Err(DbError::Timeout)
        ));
        assert_eq!(LIMITS.acquire(Some(Deadline { started })), Duration::ZERO);
    }

    #[test]
    fn the_earliest_of_a_batch_decides() {
        let old = Deadline {
            started: Instant::now() - Duration::from_secs(3),
        };
        let young = Deadline {
            started: Instant::now(),
        };
        assert_eq!(
            Deadline::earliest([Some(young), None, Some(old)]),
            Some(old)
        );
        assert_eq!(Deadline::earliest([None, None]), None);
    }
}
