//! Write coalescing: concurrent writes that wait for a connection are run together, in one
//! database transaction with one commit, by whichever request gets a connection first.
//!
//! A write is queued, then its request waits for a connection as any other would (the
//! [`Gate`](super::Gate), bounded). The request that gets one takes every write queued by
//! then, its own included (at most `max_batch`), and runs them:
//! - one write alone runs exactly as it would without coalescing (in autocommit);
//! - several run in one transaction, in the order of their lock keys (a booking's wallet:
//!   two batches lock wallets in the same order and cannot deadlock each other), then one
//!   `COMMIT`; each request is answered only once that commit is done;
//! - if a write of a batch fails (an overdraft, a duplicate, a lost connection), the batch
//!   is rolled back, that write runs alone, in autocommit, on a live connection, and the
//!   rest run together again: every request is judged as if the requests had run one by one
//!   in some order, and nothing of a failed batch stays;
//! - if the connection breaks during `COMMIT`, nobody can know whether it committed: every
//!   write of the batch is answered "connection lost" (which a write reports as its outcome
//!   being unknown).
//!
//! A request whose write another request took waits for its answer, not for a connection.
//! No request waits for a batch to fill: a batch is what was already waiting.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::pg::PgConnection;
use tokio::sync::{Semaphore, oneshot};

use super::{Database, DbError, alive, checkout};

/// A write: run once, or again alone if its batch failed, so it must be repeatable until it
/// succeeds (it is rolled back each time it is not answered).
pub type Work<T, E> = Arc<dyn Fn(&mut PgConnection) -> Result<T, E> + Send + Sync>;

struct Job<T, E> {
    number: u64,
    order: i64,
    work: Work<T, E>,
    answer: oneshot::Sender<Result<T, E>>,
}

/// The queue of writes waiting to be run together.
pub struct Coalescer<T, E> {
    queue: Mutex<VecDeque<Job<T, E>>>,
    numbers: AtomicU64,
    max_batch: usize,
    /// Turns to run a batch: at most this many run at once.
    runners: Arc<Semaphore>,
    classify: Classify<E>,
}

/// What the coalescer must know of the errors of a write.
pub struct Classify<E> {
    /// Whether an error means the database cannot take writes now (a statement or lock
    /// timeout): the batch then stops, and its other writes are answered as timed out, not
    /// each tried alone (which could take a timeout each).
    pub timed_out: fn(&E) -> bool,
    /// Whether the write was rolled back by a deadlock (or a serialization failure) and may
    /// simply run again. Batches are transactions of several statements, so a batch can meet
    /// another in a lock cycle (a txid's unique entry taken before its wallet's lock).
    pub transient: fn(&E) -> bool,
}

impl<E> Clone for Classify<E> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<E> Copy for Classify<E> {}

/// Attempts of a write that runs alone and meets a deadlock.
const ATTEMPTS: usize = 3;

impl<T, E> Coalescer<T, E>
where
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
{
    pub fn new(max_batch: usize, runners: usize, classify: Classify<E>) -> Arc<Coalescer<T, E>> {
        Arc::new(Coalescer {
            queue: Mutex::new(VecDeque::new()),
            numbers: AtomicU64::new(0),
            max_batch: max_batch.max(1),
            runners: Arc::new(Semaphore::new(runners.max(1))),
            classify,
        })
    }

    /// Runs `work`, alone or with the writes waiting beside it. `order` is its lock key.
    pub async fn run(
        self: &Arc<Self>,
        database: &Database,
        order: i64,
        work: Work<T, E>,
    ) -> Result<T, E> {
        let (answer, answered) = oneshot::channel();
        let number = self.numbers.fetch_add(1, Ordering::Relaxed);
        {
            let mut queue = self.queue.lock().expect("queue lock");
            if queue.len() >= database.gate.max_waiting {
                crate::metrics::shed();
                return Err(E::from(DbError::Busy));
            }
            queue.push_back(Job {
                number,
                order,
                work,
                answer,
            });
        }
        let mut answered = answered;
        // A turn as the runner of a batch (few at once, so that batches grow while one
        // commits), then a connection like any request.
        let turn = async {
            let Ok(Ok(runner)) =
                tokio::time::timeout(database.gate.timeout, self.runners.clone().acquire_owned())
                    .await
            else {
                crate::metrics::shed();
                return Err(DbError::Busy);
            };
            database.gate.enter().await.map(|permit| (runner, permit))
        };
        let permit = tokio::select! {
            biased;
            done = &mut answered => return done.unwrap_or_else(|_| Err(lost_answer())),
            entered = turn => entered,
        };
        let permit = match permit {
            Ok(permit) => permit,
            // Still queued: it never started. Otherwise a batch has it: wait for its answer.
            Err(busy) => {
                if self.withdraw(number) {
                    return Err(E::from(busy));
                }
                return answered.await.unwrap_or_else(|_| Err(lost_answer()));
            }
        };
        let batch = self.take();
        if !batch.is_empty() {
            let pool = database.pool.clone();
            let classify = self.classify;
            let ran = actix_web::web::block(move || {
                let _permit = permit;
                run_batch(&pool, batch, classify);
            })
            .await;
            if ran.is_err() {
                log::error!("a coalesced batch panicked");
            }
        }
        answered.await.unwrap_or_else(|_| Err(lost_answer()))
    }

    /// Removes a job that has not been taken; whether it was still queued.
    fn withdraw(&self, number: u64) -> bool {
        let mut queue = self.queue.lock().expect("queue lock");
        let before = queue.len();
        queue.retain(|job| job.number != number);
        queue.len() < before
    }

    /// Up to `max_batch` jobs, oldest first, in the order of their lock keys.
    fn take(&self) -> Vec<Job<T, E>> {
        let mut queue = self.queue.lock().expect("queue lock");
        let count = queue.len().min(self.max_batch);
        let mut batch: Vec<Job<T, E>> = queue.drain(..count).collect();
        batch.sort_by_key(|job| job.order);
        batch
    }
}

/// A job whose batch died without answering it (a panic): a bug.
fn lost_answer<E: From<DbError>>() -> E {
    E::from(DbError::Bug("a coalesced write was never answered".into()))
}

fn run_batch<T, E: From<DbError>>(
    pool: &super::Pool,
    batch: Vec<Job<T, E>>,
    classify: Classify<E>,
) {
    crate::metrics::batch(batch.len());
    let mut pending = batch;
    let mut connection: Option<r2d2::PooledConnection<super::Manager>> = None;
    // Connections a batch may lose before its writes are answered "unavailable".
    let mut lives = 3;
    while !pending.is_empty() {
        // A live connection: the one in hand unless it died.
        if connection.as_mut().is_some_and(|pooled| pooled.dead) {
            connection = None;
        }
        let pooled = match connection {
            Some(ref mut pooled) => pooled,
            None => match checkout(pool) {
                Ok(pooled) => connection.insert(pooled),
                Err(_) => {
                    for job in pending {
                        let _ = job.answer.send(Err(E::from(DbError::Unavailable)));
                    }
                    return;
                }
            },
        };
        if pending.len() == 1 {
            let job = pending.pop().expect("one job");
            let _ = job.answer.send(alone(pooled, &*job.work, classify));
            break;
        }
        match together(&mut pooled.conn, &pending) {
            Together::Committed(results) => {
                for (job, result) in pending.drain(..).zip(results) {
                    let _ = job.answer.send(Ok(result));
                }
            }
            Together::Unknown => {
                pooled.dead = true;
                for job in pending.drain(..) {
                    let _ = job.answer.send(Err(E::from(DbError::ConnectionLost)));
                }
            }
            // Nothing of the batch was kept. The write that failed runs alone (first, in
            // the order the requests are then judged), then the rest together again.
            Together::RolledBack { failed, error } => {
                if error.as_ref().is_some_and(classify.timed_out) {
                    for job in pending.drain(..) {
                        let _ = job.answer.send(Err(E::from(DbError::Timeout)));
                    }
                    break;
                }
                if !alive(&mut pooled.conn) {
                    pooled.dead = true;
                    lives -= 1;
                    if lives == 0 {
                        for job in pending.drain(..) {
                            let _ = job.answer.send(Err(E::from(DbError::Unavailable)));
                        }
                    }
                    continue;
                }
                let job = pending.remove(failed);
                let _ = job.answer.send(alone(pooled, &*job.work, classify));
            }
        }
    }
    if let Some(mut pooled) = connection {
        pooled.last_used = std::time::Instant::now();
    }
}

/// One write alone, in autocommit; run again if a deadlock rolled it back.
fn alone<T, E>(
    pooled: &mut super::Connection,
    work: &(dyn Fn(&mut PgConnection) -> Result<T, E> + Send + Sync),
    classify: Classify<E>,
) -> Result<T, E> {
    let mut attempt = 1;
    loop {
        match pooled.run(work) {
            Err(error) if (classify.transient)(&error) && attempt < ATTEMPTS => attempt += 1,
            outcome => return outcome,
        }
    }
}

enum Together<T, E> {
    Committed(Vec<T>),
    /// The connection broke while committing.
    Unknown,
    /// Write number `failed` failed (or the transaction could not start: 0); nothing of the
    /// batch was kept.
    RolledBack {
        failed: usize,
        error: Option<E>,
    },
}

/// The batch in one transaction, through diesel's transaction manager, so that a write that
/// opens a transaction of its own gets a savepoint inside this one.
fn together<T, E>(conn: &mut PgConnection, batch: &[Job<T, E>]) -> Together<T, E> {
    type Manager = AnsiTransactionManager;
    if Manager::begin_transaction(conn).is_err() {
        return Together::RolledBack {
            failed: 0,
            error: None,
        };
    }
    let mut results = Vec::with_capacity(batch.len());
    for (number, job) in batch.iter().enumerate() {
        match (job.work)(conn) {
            Ok(result) => results.push(result),
            Err(error) => {
                let _ = Manager::rollback_transaction(conn);
                return Together::RolledBack {
                    failed: number,
                    error: Some(error),
                };
            }
        }
    }
    match Manager::commit_transaction(conn) {
        Ok(()) => Together::Committed(results),
        Err(error) => match DbError::from(error) {
            DbError::ConnectionLost => Together::Unknown,
            _ => {
                let _ = Manager::rollback_transaction(conn);
                Together::RolledBack {
                    failed: 0,
                    error: None,
                }
            }
        },
    }
}
