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
//! - writes that one statement can write together (bookings) are written in waves, one
//!   multi-row statement per wave, each write still judged as if alone ([`waves`]);
//! - if a write of a batch fails (an overdraft, a duplicate, a timeout), the batch is rolled
//!   back and runs once more, each write in a savepoint of its own: a write that fails is
//!   rolled back to its savepoint and answered with its error, the others are written, and
//!   every request is judged as if the requests had run one by one in the batch's order.
//!   However many of its writes fail, a batch runs at most twice. Every answer waits for the
//!   commit (a refusal judged on the batch's writes stands only if they do). A write rolled
//!   back by a deadlock runs again alone, after the commit; a write that timed out answers
//!   the batch's other writes to the same lock key at once, and a second timeout the rest;
//! - if the connection dies during a batch, nothing of it was kept: it runs again on a live
//!   one;
//! - if the connection breaks during `COMMIT`, nobody can know whether it committed: every
//!   write of the batch is answered "connection lost" (which a write reports as its outcome
//!   being unknown).
//!
//! A request whose write another request took waits for its answer, not for a connection.
//! No request waits for a batch to fill: a batch is what was already waiting.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::pg::PgConnection;
use tokio::sync::{Semaphore, oneshot};

use super::deadline::{Deadline, Limits};
use super::queue::Queue;
use super::{Database, DbError, alive, checkout};

mod waves;
use waves::{Abort, WaveCounts};
pub use waves::{Decide, Finish, Many, Shared};

/// A write: run once, or again alone if its batch failed, so it must be repeatable until it
/// succeeds (it is rolled back each time it is not answered).
pub type Work<T, E> = Arc<dyn Fn(&mut PgConnection) -> Result<T, E> + Send + Sync>;

struct Job<T, E, M: Many> {
    order: i64,
    /// Its request's deadline: what is left of it bounds every run of it.
    deadline: Option<Deadline>,
    work: Work<T, E>,
    /// What it brings to a wave, if it can join one.
    shared: Option<Shared<T, E, M>>,
    answer: oneshot::Sender<Result<T, E>>,
}

/// The queue of writes waiting to be run together; `M`: the writes that can share one
/// statement.
pub struct Coalescer<T, E, M: Many> {
    queue: Queue<Job<T, E, M>>,
    /// Turns to run a batch: at most this many run at once.
    runners: Arc<Semaphore>,
    classify: Classify<E>,
    runs: Arc<Runs>,
    locked: Arc<Locked>,
}

/// Lock keys (wallets) a write of a batch found locked by another transaction (a `psql`
/// session's `SELECT ... FOR UPDATE`, a long batch job): until a write to one of them goes
/// through, its writes run alone, one at a time on a connection of their own, so that they
/// wait for that lock without holding up the batches of every other wallet.
#[derive(Default)]
struct Locked {
    keys: Mutex<std::collections::HashMap<i64, Instant>>,
    /// The marked keys a write is waiting on now: one at a time per key, so that writes to
    /// a locked wallet hold one connection, not the pool.
    waiting: Mutex<std::collections::HashSet<i64>>,
}

/// How long a key stays marked locked when no write to it says otherwise.
const LOCKED_FOR: Duration = Duration::from_secs(10);

impl Locked {
    fn mark(&self, keys: impl IntoIterator<Item = i64>) {
        let until = Instant::now() + LOCKED_FOR;
        let mut marked = self.keys.lock().expect("locked keys");
        marked.retain(|_, until| *until > Instant::now());
        marked.extend(
            keys.into_iter()
                .filter(|&key| key != 0)
                .map(|key| (key, until)),
        );
    }

    fn clear(&self, key: i64) {
        self.keys.lock().expect("locked keys").remove(&key);
    }

    fn holds(&self, key: i64) -> bool {
        let marked = self.keys.lock().expect("locked keys");
        marked
            .get(&key)
            .is_some_and(|until| *until > Instant::now())
    }
}

/// A marked key a write waits on, while it lives.
struct Waiting(Arc<Locked>, i64);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.waiting.lock().expect("waiting keys").remove(&self.1);
    }
}

/// How the writes of this coalescer's batches were run, counted for `/metrics`.
#[derive(Default)]
pub struct Runs {
    together: AtomicU64,
    guarded: AtomicU64,
    alone: AtomicU64,
    waves: WaveCounts,
}

impl Runs {
    fn count(&self, how: How) {
        let counter = match how {
            How::Together => &self.together,
            How::Guarded => &self.guarded,
            How::Alone => &self.alone,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// One run of writes: a batch in one transaction, the same again with savepoints, one
/// write alone.
#[derive(Clone, Copy)]
enum How {
    Together,
    Guarded,
    Alone,
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

impl<T, E, M> Coalescer<T, E, M>
where
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
    M: Many,
{
    pub fn new(max_batch: usize, runners: usize, classify: Classify<E>) -> Arc<Coalescer<T, E, M>> {
        Arc::new(Coalescer {
            queue: Queue::new(max_batch),
            runners: Arc::new(Semaphore::new(runners.max(1))),
            classify,
            runs: Arc::default(),
            locked: Arc::default(),
        })
    }

    /// How many runs of each kind its batches took so far.
    pub fn runs(&self) -> Vec<(&'static str, u64)> {
        let runs = &self.runs;
        vec![
            ("together", runs.together.load(Ordering::Relaxed)),
            ("guarded", runs.guarded.load(Ordering::Relaxed)),
            ("alone", runs.alone.load(Ordering::Relaxed)),
        ]
    }

    /// The statements its waves took so far: multi-row statements, the writes they wrote,
    /// the failed ones split, the statements that locked a batch's wallets first.
    pub fn waves(&self) -> [(&'static str, u64); 4] {
        self.runs.waves.get()
    }

    /// Runs `work`, alone or with the writes waiting beside it. `order` is its lock key;
    /// `shared`, what it brings to a wave if it can join one.
    pub async fn run(
        self: &Arc<Self>,
        database: &Database,
        order: i64,
        work: Work<T, E>,
        shared: Option<Shared<T, E, M>>,
    ) -> Result<T, E> {
        if self.locked.holds(order) {
            return self.past_a_lock(database, order, work).await;
        }
        let (answer, answered) = oneshot::channel();
        let deadline = Deadline::current();
        let limits = database.limits;
        limits.budget(deadline).map_err(E::from)?;
        let job = Job {
            order,
            deadline,
            work,
            shared,
            answer,
        };
        let number = self
            .queue
            .push(job, database.gate.max_waiting)
            .map_err(E::from)?;
        // A turn as the runner of a batch (few at once, so that batches grow while one
        // commits), then a connection like any request: both within one bound, so that a
        // request waits at most `acquire_timeout` in all.
        let turn = async {
            let waited = tokio::time::timeout(limits.acquire(deadline), async {
                let runner = self.runners.clone().acquire_owned().await;
                let runner = runner.map_err(|_| DbError::Busy)?;
                database
                    .gate
                    .enter(limits.acquire(deadline))
                    .await
                    .map(|permit| (runner, permit))
            })
            .await;
            waited.unwrap_or_else(|_| {
                crate::metrics::shed();
                Err(DbError::Busy)
            })
        };
        let pool = database.pool.clone();
        let classify = self.classify;
        let runs = self.runs.clone();
        let locked = self.locked.clone();
        self.queue
            .served(number, answered, turn, move |mut batch, permit| {
                let _permit = permit;
                // In the order of their lock keys (a stable sort: a key's writes stay
                // oldest first).
                batch.sort_by_key(|job| job.order);
                run_batch(&pool, &limits, batch, classify, &runs, &locked);
            })
            .await
    }

    /// A write to a key found locked: alone, on a connection of its own, waiting for the
    /// lock as long as any write may, while the key's other writes are refused at once
    /// (503, retry). Once one goes through, the key's writes join batches again; one that
    /// times out keeps the key marked.
    async fn past_a_lock(&self, database: &Database, order: i64, work: Work<T, E>) -> Result<T, E> {
        if !self
            .locked
            .waiting
            .lock()
            .expect("waiting keys")
            .insert(order)
        {
            return Err(E::from(DbError::Locked { key: order }));
        }
        let _waiting = Waiting(self.locked.clone(), order);
        let done = super::run(database, move |conn| work(conn)).await;
        match &done {
            Ok(_) => self.locked.clear(order),
            Err(error) if (self.classify.timed_out)(error) => self.locked.mark([order]),
            Err(_) => {}
        }
        done
    }
}

fn run_batch<T, E: From<DbError>, M: Many>(
    pool: &super::Pool,
    limits: &Limits,
    batch: Vec<Job<T, E, M>>,
    classify: Classify<E>,
    runs: &Runs,
    locked: &Locked,
) {
    crate::metrics::batch(batch.len());
    let mut pending = batch;
    let mut connection: Option<r2d2::PooledConnection<super::Manager>> = None;
    // Connections a batch may lose before its writes are answered "unavailable".
    let mut lives = 3;
    // Each write in a savepoint of its own, once a write of this batch has failed.
    let mut guard = Guard::None;
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
                    fail_all(pending, || DbError::Unavailable);
                    return;
                }
            },
        };
        // A write whose request has nothing left is answered now; the batch runs within
        // what its oldest request has left.
        let (expired, left): (Vec<_>, Vec<_>) = pending
            .into_iter()
            .partition(|job| limits.budget(job.deadline).is_err());
        pending = left;
        fail_all(expired, || DbError::Timeout);
        if pending.len() <= 1 {
            if let Some(job) = pending.pop() {
                answer_alone(pooled, limits, job, classify, runs, locked);
            }
            break;
        }
        let earliest = Deadline::earliest(pending.iter().map(|job| job.deadline));
        if let Err(error) = limits
            .budget(earliest)
            .and_then(|budget| pooled.limit(limits, budget))
        {
            let lost = matches!(error, DbError::Unavailable | DbError::ConnectionLost);
            if lost || pooled.dead {
                pooled.dead = true;
                lives -= 1;
                if lives == 0 {
                    fail_all(pending.drain(..), || DbError::Unavailable);
                }
                continue;
            }
            fail_all(pending.drain(..), || error.again());
            break;
        }
        runs.count(match guard {
            Guard::None => How::Together,
            Guard::Savepoints { .. } => How::Guarded,
        });
        match together(&mut pooled.conn, &pending, classify, guard, &runs.waves) {
            Together::Committed(outcomes, held) => {
                locked.mark(held);
                // Answered now that their batch is committed: a refusal judged on the
                // batch's writes stands only if those writes stand.
                let mut again = Vec::new();
                for (job, outcome) in pending.drain(..).zip(outcomes) {
                    match outcome {
                        Outcome::Done(result) => {
                            let _ = job.answer.send(result);
                        }
                        Outcome::Again => again.push(job),
                    }
                }
                // Writes a deadlock rolled back: alone, after the batch that met it.
                for job in again {
                    answer_alone(pooled, limits, job, classify, runs, locked);
                }
            }
            Together::Unknown => {
                pooled.dead = true;
                fail_all(pending.drain(..), || DbError::ConnectionLost);
            }
            // Nothing of the batch was kept: once more, each write in its savepoint, so that
            // the writes that fail fail alone and the others are written together. However
            // many fail, a batch runs at most twice.
            Together::RolledBack { timed_out } => {
                if !alive(&mut pooled.conn) {
                    pooled.dead = true;
                    lives -= 1;
                    if lives == 0 {
                        fail_all(pending.drain(..), || DbError::Unavailable);
                    }
                    continue;
                }
                if guard != Guard::None {
                    // The guarded run itself could not finish (its transaction could not
                    // begin or commit): each write alone.
                    for job in pending.drain(..) {
                        answer_alone(pooled, limits, job, classify, runs, locked);
                    }
                }
                guard = Guard::Savepoints { timed_out };
            }
        }
    }
    if let Some(mut pooled) = connection {
        pooled.last_used = std::time::Instant::now();
    }
}

/// Answers every one of `jobs` with the error `error` makes.
fn fail_all<T, E: From<DbError>, M: Many>(
    jobs: impl IntoIterator<Item = Job<T, E, M>>,
    error: impl Fn() -> DbError,
) {
    for job in jobs {
        let _ = job.answer.send(Err(E::from(error())));
    }
}

/// Runs `job` alone, within what its request has left, and answers it.
fn answer_alone<T, E: From<DbError>, M: Many>(
    pooled: &mut super::Connection,
    limits: &Limits,
    job: Job<T, E, M>,
    classify: Classify<E>,
    runs: &Runs,
    locked: &Locked,
) {
    runs.count(How::Alone);
    let done = limits
        .budget(job.deadline)
        .and_then(|budget| pooled.limit(limits, budget))
        .map_err(E::from)
        .and_then(|()| alone(pooled, &*job.work, classify));
    if let Err(error) = &done
        && (classify.timed_out)(error)
    {
        locked.mark([job.order]);
    }
    let _ = job.answer.send(done);
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
    /// Committed: each write's outcome, in the batch's order, and the lock keys found
    /// locked by another transaction.
    Committed(Vec<Outcome<T, E>>, Vec<i64>),
    /// The connection broke while committing.
    Unknown,
    /// Nothing of the batch was kept: unguarded, a write failed (`timed_out`: the lock key
    /// of a write that failed by a timeout); or the transaction could not begin, commit, or
    /// return to a savepoint.
    RolledBack { timed_out: TimedOut },
}

/// What became of one write of a committed batch.
enum Outcome<T, E> {
    /// Its answer: its result, or its error (its savepoint rolled back).
    Done(Result<T, E>),
    /// A deadlock rolled it back: it runs again, alone.
    Again,
}

/// The batch in one transaction, through diesel's transaction manager, so that a write that
/// opens a transaction of its own gets a savepoint inside this one. Unguarded, the shared
/// writes go in waves ([`waves`]), and the first other write that fails rolls the batch
/// back. Guarded, each write runs in a savepoint of its own: one that fails is rolled back
/// to it and keeps its error as its answer, and the others go on. A timeout also answers
/// the batch's other writes with the same lock key (they would wait for the same lock)
/// without running them, and a second timeout all the writes left: the database is not
/// taking writes, and each would wait its time.
fn together<T, E: From<DbError>, M: Many>(
    conn: &mut PgConnection,
    batch: &[Job<T, E, M>],
    classify: Classify<E>,
    guarded: Guard,
    counts: &WaveCounts,
) -> Together<T, E> {
    let rolled_back = |conn: &mut PgConnection, abort: Abort| {
        roll_back_all(conn);
        Together::RolledBack {
            timed_out: abort.timed_out,
        }
    };
    if Manager::begin_transaction(conn).is_err() {
        return rolled_back(conn, Abort::FAILED);
    }
    let mut outcomes: Vec<Option<Outcome<T, E>>> = batch.iter().map(|_| None).collect();
    if guarded == Guard::None
        && let Err(abort) = waves::write(conn, batch, &mut outcomes, classify, counts)
    {
        return rolled_back(conn, abort);
    }
    let (mut timed_out_key, mut timeouts) = match guarded {
        Guard::Savepoints {
            timed_out: TimedOut::Key(key),
        } => (Some(key), 1),
        Guard::Savepoints {
            timed_out: TimedOut::Somewhere,
        } => (None, 1),
        _ => (None, 0),
    };
    // Run again after a timeout: the writes whose keys another transaction holds locked
    // (one of them is likely why the batch timed out) are answered as timed out at once,
    // rather than wait for that lock a second time.
    let mut held = Vec::new();
    if matches!(guarded, Guard::Savepoints { timed_out } if timed_out != TimedOut::No) {
        match M::held_elsewhere(conn, &lock_keys(batch)) {
            Ok(keys) => held = keys,
            Err(_) => {
                return rolled_back(conn, Abort::FAILED);
            }
        }
        for (index, job) in batch.iter().enumerate() {
            if held.contains(&job.order) {
                outcomes[index] = Some(Outcome::Done(Err(E::from(DbError::Timeout))));
            }
        }
    }
    for (index, job) in batch.iter().enumerate() {
        if outcomes[index].is_some() {
            continue;
        }
        let outcome = if guarded == Guard::None {
            unguarded(conn, job, classify)
        } else if timeouts >= 2 || timed_out_key == Some(job.order) {
            Ok(Outcome::Done(Err(E::from(DbError::Timeout))))
        } else {
            let outcome = in_savepoint(conn, job, classify);
            if let Ok(Outcome::Done(Err(error))) = &outcome
                && (classify.timed_out)(error)
            {
                timed_out_key = Some(job.order);
                timeouts += 1;
                held.push(job.order);
            }
            outcome
        };
        match outcome {
            Ok(outcome) => outcomes[index] = Some(outcome),
            Err(abort) => return rolled_back(conn, abort),
        }
    }
    match Manager::commit_transaction(conn) {
        Ok(()) => Together::Committed(
            outcomes
                .into_iter()
                .map(|outcome| outcome.expect("every write of a batch is answered"))
                .collect(),
            held,
        ),
        Err(error) => match DbError::from(error) {
            DbError::ConnectionLost => Together::Unknown,
            _ => rolled_back(conn, Abort::FAILED),
        },
    }
}

type Manager = AnsiTransactionManager;

/// The lock keys of a batch's writes, ascending, each once (0, no key, left out).
fn lock_keys<T, E, M: Many>(batch: &[Job<T, E, M>]) -> Vec<i64> {
    let mut keys: Vec<i64> = batch
        .iter()
        .map(|job| job.order)
        .filter(|&key| key != 0)
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// One write of an unguarded batch: its failure rolls the batch back.
fn unguarded<T, E, M: Many>(
    conn: &mut PgConnection,
    job: &Job<T, E, M>,
    classify: Classify<E>,
) -> Result<Outcome<T, E>, Abort> {
    match (job.work)(conn) {
        Ok(result) => Ok(Outcome::Done(Ok(result))),
        Err(error) => Err(Abort {
            timed_out: if (classify.timed_out)(&error) {
                TimedOut::Key(job.order)
            } else {
                TimedOut::No
            },
        }),
    }
}

/// One write in a savepoint of its own: its failure is its answer, and rolls back only its
/// savepoint (the batch rolls back only if the savepoint itself fails).
fn in_savepoint<T, E, M: Many>(
    conn: &mut PgConnection,
    job: &Job<T, E, M>,
    classify: Classify<E>,
) -> Result<Outcome<T, E>, Abort> {
    let lost = |_| Abort::FAILED;
    Manager::begin_transaction(conn).map_err(lost)?;
    match (job.work)(conn) {
        Ok(result) => {
            Manager::commit_transaction(conn).map_err(lost)?;
            Ok(Outcome::Done(Ok(result)))
        }
        Err(error) => {
            Manager::rollback_transaction(conn).map_err(lost)?;
            Ok(if (classify.transient)(&error) {
                Outcome::Again
            } else {
                Outcome::Done(Err(error))
            })
        }
    }
}

/// Rolls back the batch's transaction and any savepoint still open in it.
fn roll_back_all(conn: &mut PgConnection) {
    while let Ok(Some(_)) = Manager::transaction_manager_status_mut(conn).transaction_depth() {
        if Manager::rollback_transaction(conn).is_err() {
            break;
        }
    }
}

/// Whether a run of a batch met a timeout, and in a write of which lock key if it was one
/// write's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TimedOut {
    No,
    Somewhere,
    Key(i64),
}

/// How a batch is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guard {
    /// One transaction, nothing more: the first write that fails rolls it back.
    None,
    /// Each write in a savepoint of its own; `timed_out`: whether the run before met a
    /// timeout, and in a write of which lock key (its writes are answered as timed out
    /// without running: a write with it already waited its time).
    Savepoints { timed_out: TimedOut },
}
