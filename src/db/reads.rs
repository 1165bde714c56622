//! Read coalescing: concurrent reads of one kind of row by id that wait for a connection are
//! answered together, by one query for all their ids (`= ANY($1)`, prepared).
//!
//! As with writes (`coalesce`), nobody waits for a batch to fill: a read is queued, then its
//! request waits for a connection as any other would. The request that gets one takes every
//! read queued by then (at most `max_batch`), its own included, runs the one query and
//! answers each; a request whose read another took waits for that answer, not for a
//! connection. A lone read is one query for one id, at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use diesel::QueryResult;
use diesel::pg::PgConnection;
use tokio::sync::oneshot;

use super::deadline::{Deadline, Limits};
use super::queue::Queue;
use super::{Database, DbError, checkout};

/// Reads the rows with these ids (those that exist).
pub type Fetch<R, K> = fn(&mut PgConnection, &[K]) -> QueryResult<Vec<R>>;

struct Read<R, K> {
    id: K,
    /// Its request's deadline.
    deadline: Option<Deadline>,
    answer: oneshot::Sender<Result<Option<R>, DbError>>,
}

/// The queue of reads of one kind of row, whose ids are `K`s.
pub struct Reads<R, K = i64> {
    queue: Queue<Read<R, K>>,
    fetch: Fetch<R, K>,
    id_of: fn(&R) -> K,
    /// Queries run, and the reads they answered, for `/metrics`.
    queries: AtomicU64,
    answered: AtomicU64,
}

impl<R: Clone + Send + 'static, K: Clone + Ord + std::hash::Hash + Send + Sync + 'static>
    Reads<R, K>
{
    pub fn new(max_batch: usize, fetch: Fetch<R, K>, id_of: fn(&R) -> K) -> Arc<Reads<R, K>> {
        Arc::new(Reads {
            queue: Queue::new(max_batch),
            fetch,
            id_of,
            queries: AtomicU64::new(0),
            answered: AtomicU64::new(0),
        })
    }

    /// Queries run so far, and the reads they answered.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.queries.load(Ordering::Relaxed),
            self.answered.load(Ordering::Relaxed),
        )
    }

    /// The row with id `id`, read alone or with the reads waiting beside it.
    pub async fn find(self: &Arc<Self>, database: &Database, id: K) -> Result<Option<R>, DbError> {
        let (answer, answered) = oneshot::channel();
        let deadline = Deadline::current();
        let limits = database.limits;
        limits.budget(deadline)?;
        let number = self.queue.push(
            Read {
                id,
                deadline,
                answer,
            },
            database.gate.max_waiting,
        )?;
        let pool = database.pool.clone();
        let reads = self.clone();
        self.queue
            .served(
                number,
                answered,
                database.gate.enter(limits.acquire(deadline)),
                move |batch, permit| {
                    let _permit = permit;
                    reads.run(&pool, &limits, batch);
                },
            )
            .await
    }

    /// One query for the batch's ids, within what its oldest request has left; each read
    /// answered with its row, or none.
    fn run(&self, pool: &super::Pool, limits: &Limits, batch: Vec<Read<R, K>>) {
        let (expired, batch): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .partition(|read| limits.budget(read.deadline).is_err());
        for read in expired {
            let _ = read.answer.send(Err(DbError::Timeout));
        }
        if batch.is_empty() {
            return;
        }
        let deadline = Deadline::earliest(batch.iter().map(|read| read.deadline));
        let mut ids: Vec<K> = batch.iter().map(|read| read.id.clone()).collect();
        ids.sort_unstable();
        ids.dedup();
        self.queries.fetch_add(1, Ordering::Relaxed);
        self.answered
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        let fetched = checkout(pool).and_then(|mut pooled| {
            pooled.run_until(limits, deadline, |pooled| {
                (self.fetch)(&mut pooled.conn, &ids).map_err(DbError::from)
            })
        });
        match fetched {
            Ok(rows) => {
                let rows: HashMap<K, R> = rows
                    .into_iter()
                    .map(|row| ((self.id_of)(&row), row))
                    .collect();
                for read in batch {
                    let _ = read.answer.send(Ok(rows.get(&read.id).cloned()));
                }
            }
            Err(error) => {
                for read in batch {
                    let _ = read.answer.send(Err(error.again()));
                }
            }
        }
    }
}
