//! Coalesced writes: concurrent writes that wait for a connection are run together, in one
//! database transaction with one commit, by whichever request gets a connection first.
//!
//! A write is queued, then its request waits for a connection as any other would (the
//! database's gate, bounded). The request that gets one takes every write queued by then,
//! its own included (at most `max_batch`), and runs them:
//! - one write alone runs exactly as it would without coalescing (see `Writer`);
//! - several run in one transaction, in the order of their first lock key (a booking's
//!   wallet: two batches lock wallets in the same order and cannot deadlock each other), then
//!   one `COMMIT`; each request is answered only once that commit is done;
//! - writes with a multi-row form are written in waves, one statement per wave, each write
//!   still judged as if alone (`waves`);
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
use tokio::sync::{Semaphore, oneshot};

use super::waves::{self, Abort, WaveCounts};
use super::{Ready, position, with_position};
use crate::api::errors::{timed_out, transient};
use crate::db::deadline::{Deadline, Limits};
use crate::db::queue::Queue;
use crate::db::{Connection, Database, DbError, Pool, checkout};
use crate::jsonapi::ApiError;
use crate::jsonapi::document::Reply;
use crate::trace;

pub(super) type Answer = Result<Reply, ApiError>;

/// A write of a batch, and where its answer goes.
pub(super) struct Job {
    pub ready: Ready,
    /// Its request's deadline: what is left of it bounds every run of it.
    deadline: Option<Deadline>,
    /// Its request: its work runs in its span, its errors carry its id.
    pub request: Option<trace::Request>,
    answer: oneshot::Sender<Answer>,
}

impl Job {
    /// The lock key it is ordered by (0: none).
    pub fn order(&self) -> i64 {
        self.ready.locks.first().copied().unwrap_or(0)
    }
}

/// The queue of writes waiting to be run together.
pub struct Batches {
    queue: Queue<Job>,
    /// Turns to run a batch: at most this many run at once.
    runners: Arc<Semaphore>,
    runs: Arc<Runs>,
    locked: Arc<Locked>,
    /// Whether answers carry the primary's WAL position after the commit.
    positions: bool,
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

/// Batches run so far, for their numbers in the log.
static BATCHES: AtomicU64 = AtomicU64::new(0);

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

    fn clear(&self, keys: &[i64]) {
        let mut marked = self.keys.lock().expect("locked keys");
        for key in keys {
            marked.remove(key);
        }
    }

    /// The first of `keys` marked locked.
    fn held(&self, keys: &[i64]) -> Option<i64> {
        let marked = self.keys.lock().expect("locked keys");
        keys.iter()
            .copied()
            .find(|key| marked.get(key).is_some_and(|until| *until > Instant::now()))
    }
}

/// A marked key a write waits on, while it lives.
struct Waiting(Arc<Locked>, i64);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.waiting.lock().expect("waiting keys").remove(&self.1);
    }
}

/// How the writes of the batches were run, counted for `/metrics`.
#[derive(Default)]
pub struct Runs {
    together: AtomicU64,
    guarded: AtomicU64,
    alone: AtomicU64,
    pub(super) waves: WaveCounts,
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

impl Batches {
    pub fn new(max_batch: usize, runners: usize, positions: bool) -> Arc<Batches> {
        Arc::new(Batches {
            queue: Queue::new(max_batch),
            runners: Arc::new(Semaphore::new(runners.max(1))),
            runs: Arc::default(),
            locked: Arc::default(),
            positions,
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

    /// Runs `ready`, alone or with the writes waiting beside it.
    pub(super) async fn run(self: &Arc<Self>, database: &Database, ready: Ready) -> Answer {
        if let Some(key) = self.locked.held(&ready.locks) {
            return self.past_a_lock(database, key, ready).await;
        }
        let (answer, answered) = oneshot::channel();
        let deadline = Deadline::current();
        let limits = database.limits;
        limits.budget(deadline)?;
        let job = Job {
            ready,
            deadline,
            request: trace::current(),
            answer,
        };
        let number = self.queue.push(job, database.max_waiting())?;
        // A turn as the runner of a batch (few at once, so that batches grow while one
        // commits), then a connection like any request: both within one bound, so that a
        // request waits at most the acquire timeout in all.
        let turn = async {
            let waited = tokio::time::timeout(limits.acquire(deadline), async {
                let runner = self.runners.clone().acquire_owned().await;
                let runner = runner.map_err(|_| DbError::Busy)?;
                database
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
        let this = self.clone();
        self.queue
            .served(number, answered, turn, move |mut batch, permit| {
                let _permit = permit;
                // In the order of their lock keys (a stable sort: a key's writes stay
                // oldest first).
                batch.sort_by_key(Job::order);
                this.run_batch(&pool, &limits, batch);
            })
            .await
    }

    /// A write to a key found locked: alone, on a connection of its own, waiting for the
    /// lock as long as any write may, while the key's other writes are refused at once
    /// (503, retry). Once one goes through, its keys' writes join batches again; one that
    /// times out keeps them marked.
    async fn past_a_lock(&self, database: &Database, key: i64, ready: Ready) -> Answer {
        if !self
            .locked
            .waiting
            .lock()
            .expect("waiting keys")
            .insert(key)
        {
            return Err(ApiError::from(DbError::Locked { key }));
        }
        let _waiting = Waiting(self.locked.clone(), key);
        let locks = ready.locks.clone();
        let positions = self.positions;
        let done = crate::db::run_with(database, move |conn| {
            let reply = super::alone(conn, &ready)?;
            Ok(match positions {
                true => with_position(reply, position(conn)),
                false => reply,
            })
        })
        .await;
        match &done {
            Ok(_) => self.locked.clear(&locks),
            Err(error) if timed_out(error) => self.locked.mark(locks),
            Err(_) => {}
        }
        done
    }

    /// Runs a batch, in a span of its own that names every request in it (and each request's
    /// span names the batch).
    fn run_batch(&self, pool: &Pool, limits: &Limits, batch: Vec<Job>) {
        let number = BATCHES.fetch_add(1, Ordering::Relaxed) + 1;
        let requests: Vec<&str> = batch
            .iter()
            .filter_map(|job| job.request.as_ref().map(|request| &*request.id))
            .collect();
        let span = tracing::debug_span!(
            "batch",
            number,
            writes = batch.len(),
            requests = %requests.join(","),
        );
        for request in batch.iter().filter_map(|job| job.request.as_ref()) {
            request.span.record("batch", number);
        }
        let _entered = span.enter();
        crate::metrics::batch(batch.len());
        let started = Instant::now();
        let writes = batch.len();
        self.run_writes(pool, limits, batch);
        tracing::debug!(
            writes,
            took_ms = started.elapsed().as_secs_f64() * 1000.0,
            "batch answered"
        );
    }

    fn run_writes(&self, pool: &Pool, limits: &Limits, batch: Vec<Job>) {
        let mut pending = batch;
        let mut connection: Option<r2d2::PooledConnection<crate::db::Manager>> = None;
        // Connections a batch may lose before its writes are answered "unavailable".
        let mut lives = 3;
        // Each write in a savepoint of its own, once a write of this batch has failed.
        let mut guard = Guard::None;
        while !pending.is_empty() {
            // A live connection: the one in hand unless it died.
            if connection.as_ref().is_some_and(|pooled| pooled.is_dead()) {
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
                    self.answer_alone(pooled, limits, job);
                }
                break;
            }
            let earliest = Deadline::earliest(pending.iter().map(|job| job.deadline));
            if let Err(error) = limits
                .budget(earliest)
                .and_then(|budget| pooled.limit(limits, budget))
            {
                if pooled.is_dead() {
                    lives -= 1;
                    if lives == 0 {
                        fail_all(pending.drain(..), || DbError::Unavailable);
                    }
                    continue;
                }
                fail_all(pending.drain(..), || error.again());
                break;
            }
            self.runs.count(match guard {
                Guard::None => How::Together,
                Guard::Savepoints { .. } => How::Guarded,
            });
            match together(pooled, &pending, guard, &self.runs.waves) {
                Together::Committed(outcomes, held) => {
                    self.locked.mark(held);
                    let done = std::mem::take(&mut pending);
                    self.answer_committed(pooled, limits, done, outcomes);
                }
                Together::Unknown => {
                    pooled.kill();
                    fail_all(pending.drain(..), || DbError::ConnectionLost);
                }
                // Nothing of the batch was kept: once more, each write in its savepoint, so
                // that the writes that fail fail alone and the others are written together.
                // However many fail, a batch runs at most twice.
                Together::RolledBack { timed_out } => {
                    if !crate::db::alive(&mut pooled.conn) {
                        pooled.kill();
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
                            self.answer_alone(pooled, limits, job);
                        }
                    }
                    guard = Guard::Savepoints { timed_out };
                }
            }
        }
        if let Some(mut pooled) = connection {
            pooled.touch();
        }
    }

    /// Answers the writes of a committed batch (a refusal judged on the batch's writes stands
    /// only if those writes stand); runs again, alone, those a deadlock rolled back.
    fn answer_committed(
        &self,
        pooled: &mut Connection,
        limits: &Limits,
        jobs: Vec<Job>,
        outcomes: Vec<Outcome>,
    ) {
        let lsn = self.positions.then(|| position(pooled)).flatten();
        let mut again = Vec::new();
        for (job, outcome) in jobs.into_iter().zip(outcomes) {
            match outcome {
                Outcome::Done(result) => {
                    let _ = job
                        .answer
                        .send(result.map(|reply| with_position(reply, lsn)));
                }
                Outcome::Again => again.push(job),
            }
        }
        for job in again {
            self.answer_alone(pooled, limits, job);
        }
    }

    /// Runs `job` alone, within what its request has left, and answers it.
    fn answer_alone(&self, pooled: &mut Connection, limits: &Limits, job: Job) {
        self.runs.count(How::Alone);
        let done = limits
            .budget(job.deadline)
            .and_then(|budget| pooled.limit(limits, budget))
            .map_err(ApiError::from)
            .and_then(|()| {
                trace::on_thread(job.request.as_ref(), || super::alone(pooled, &job.ready))
            });
        if let Err(error) = &done
            && timed_out(error)
        {
            self.locked.mark(job.ready.locks.clone());
        }
        let lsn = match (&done, self.positions) {
            (Ok(_), true) => position(pooled),
            _ => None,
        };
        let _ = job.answer.send(done.map(|reply| with_position(reply, lsn)));
    }
}

/// Answers every one of `jobs` with the error `error` makes.
fn fail_all(jobs: impl IntoIterator<Item = Job>, error: impl Fn() -> DbError) {
    for job in jobs {
        let _ = job.answer.send(Err(ApiError::from(error())));
    }
}

enum Together {
    /// Committed: each write's outcome, in the batch's order, and the lock keys found
    /// locked by another transaction.
    Committed(Vec<Outcome>, Vec<i64>),
    /// The connection broke while committing.
    Unknown,
    /// Nothing of the batch was kept: unguarded, a write failed (`timed_out`: the lock key
    /// of a write that failed by a timeout); or the transaction could not begin, commit, or
    /// return to a savepoint.
    RolledBack { timed_out: TimedOut },
}

/// What became of one write of a committed batch.
pub(super) enum Outcome {
    /// Its answer: its result, or its error (its savepoint rolled back).
    Done(Answer),
    /// A deadlock rolled it back: it runs again, alone.
    Again,
}

/// The batch in one transaction, through diesel's transaction manager, so that a write that
/// opens a transaction of its own gets a savepoint inside this one. Unguarded, the writes
/// with rows go in waves (`waves`), and the first other write that fails rolls the batch
/// back. Guarded, each write runs in a savepoint of its own: one that fails is rolled back
/// to it and keeps its error as its answer, and the others go on. A timeout also answers
/// the batch's other writes with the same lock key (they would wait for the same lock)
/// without running them, and a second timeout all the writes left: the database is not
/// taking writes, and each would wait its time.
fn together(conn: &mut Connection, batch: &[Job], guarded: Guard, counts: &WaveCounts) -> Together {
    let rolled_back = |conn: &mut Connection, abort: Abort| {
        roll_back_all(conn);
        Together::RolledBack {
            timed_out: abort.timed_out,
        }
    };
    if Manager::begin_transaction(&mut conn.conn).is_err() {
        return rolled_back(conn, Abort::FAILED);
    }
    let mut outcomes: Vec<Option<Outcome>> = batch.iter().map(|_| None).collect();
    if guarded == Guard::None
        && let Err(abort) = waves::write(conn, batch, &mut outcomes, counts)
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
        match (crate::api::LOCKS.held_elsewhere)(&mut conn.conn, &lock_keys(batch)) {
            Ok(keys) => held = keys,
            Err(_) => {
                return rolled_back(conn, Abort::FAILED);
            }
        }
        for (index, job) in batch.iter().enumerate() {
            if job.ready.locks.iter().any(|key| held.contains(key)) {
                outcomes[index] = Some(Outcome::Done(Err(ApiError::from(DbError::Timeout))));
            }
        }
    }
    for (index, job) in batch.iter().enumerate() {
        if outcomes[index].is_some() {
            continue;
        }
        let outcome = if guarded == Guard::None {
            unguarded(conn, job)
        } else if timeouts >= 2 || timed_out_key.is_some_and(|key| job.ready.locks.contains(&key)) {
            Ok(Outcome::Done(Err(ApiError::from(DbError::Timeout))))
        } else {
            let outcome = in_savepoint(conn, job);
            if let Ok(Outcome::Done(Err(error))) = &outcome
                && timed_out(error)
            {
                timed_out_key = Some(job.order());
                timeouts += 1;
                held.extend(job.ready.locks.iter().copied());
            }
            outcome
        };
        match outcome {
            Ok(outcome) => outcomes[index] = Some(outcome),
            Err(abort) => return rolled_back(conn, abort),
        }
    }
    match Manager::commit_transaction(&mut conn.conn) {
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

pub(super) type Manager = AnsiTransactionManager;

/// The lock keys of a batch's writes, ascending, each once.
pub(super) fn lock_keys(batch: &[Job]) -> Vec<i64> {
    let mut keys: Vec<i64> = batch
        .iter()
        .flat_map(|job| job.ready.locks.iter().copied())
        .filter(|&key| key != 0)
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// One write of an unguarded batch, its key named first: its failure rolls the batch back.
pub(super) fn unguarded(conn: &mut Connection, job: &Job) -> Result<Outcome, Abort> {
    conn.act_as(job.ready.actor)
        .map_err(|error| Abort::of(&error))?;
    match (job.ready.work)(&mut conn.conn) {
        Ok(result) => Ok(Outcome::Done(Ok(result))),
        Err(error) => Err(Abort {
            timed_out: if timed_out(&error) {
                TimedOut::Key(job.order())
            } else {
                TimedOut::No
            },
        }),
    }
}

/// One write in a savepoint of its own, its key named first: its failure is its answer, and
/// rolls back only its savepoint (the batch rolls back only if the savepoint itself fails).
pub(super) fn in_savepoint(conn: &mut Connection, job: &Job) -> Result<Outcome, Abort> {
    let lost = |_| Abort::FAILED;
    Manager::begin_transaction(&mut conn.conn).map_err(lost)?;
    let done = conn
        .act_as(job.ready.actor)
        .map_err(ApiError::from)
        .and_then(|()| trace::on_thread(job.request.as_ref(), || (job.ready.work)(&mut conn.conn)));
    match done {
        Ok(result) => {
            Manager::commit_transaction(&mut conn.conn).map_err(lost)?;
            Ok(Outcome::Done(Ok(result)))
        }
        Err(error) => {
            Manager::rollback_transaction(&mut conn.conn).map_err(lost)?;
            conn.forget_actor();
            Ok(if transient(&error) {
                Outcome::Again
            } else {
                Outcome::Done(Err(error))
            })
        }
    }
}

/// Rolls back the batch's transaction and any savepoint still open in it.
fn roll_back_all(conn: &mut Connection) {
    conn.forget_actor();
    while let Ok(Some(_)) =
        Manager::transaction_manager_status_mut(&mut conn.conn).transaction_depth()
    {
        if Manager::rollback_transaction(&mut conn.conn).is_err() {
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
