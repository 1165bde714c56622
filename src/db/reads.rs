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
pub type Fetch<R> = fn(&mut PgConnection, &[i64]) -> QueryResult<Vec<R>>;

struct Read<R> {
    id: i64,
    /// Its request's deadline.
    deadline: Option<Deadline>,
    answer: oneshot::Sender<Result<Option<R>, DbError>>,
}

/// The queue of reads of one kind of row.
pub struct Reads<R> {
    queue: Queue<Read<R>>,
    fetch: Fetch<R>,
    id_of: fn(&R) -> i64,
    /// Queries run, and the reads they answered, for `/metrics`.
    queries: AtomicU64,
    answered: AtomicU64,
}

impl<R: Clone + Send + 'static> Reads<R> {
    pub fn new(max_batch: usize, fetch: Fetch<R>, id_of: fn(&R) -> i64) -> Arc<Reads<R>> {
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
    pub async fn find(
        self: &Arc<Self>,
        database: &Database,
        id: i64,
    ) -> Result<Option<R>, DbError> {
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
    fn run(&self, pool: &super::Pool, limits: &Limits, batch: Vec<Read<R>>) {
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
        let mut ids: Vec<i64> = batch.iter().map(|read| read.id).collect();
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
                let rows: HashMap<i64, R> = rows
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
