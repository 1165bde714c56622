//! What write and read coalescing share: a bounded queue of waiting work, and the wait of
//! a request whose work is queued, for its answer or for its turn to run a batch.
//!
//! A request queues its work, then waits for a turn (a connection) as any request would.
//! Whichever request gets one takes everything queued by then (at most `max_batch`), its own
//! included, and runs it on the blocking pool; a request whose work another took waits for
//! that answer, not for a connection. No request waits for a batch to fill.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::oneshot;

use super::DbError;

/// Work waiting to be taken, oldest first, each with the number it was queued under.
pub struct Queue<J> {
    jobs: Mutex<VecDeque<(u64, J)>>,
    numbers: AtomicU64,
    max_batch: usize,
}

impl<J: Send + 'static> Queue<J> {
    pub fn new(max_batch: usize) -> Queue<J> {
        Queue {
            jobs: Mutex::new(VecDeque::new()),
            numbers: AtomicU64::new(0),
            max_batch: max_batch.max(1),
        }
    }

    /// Queues `job`; its number, or `Busy` (shed) when `max_waiting` are queued already.
    pub fn push(&self, job: J, max_waiting: usize) -> Result<u64, DbError> {
        let mut jobs = self.jobs.lock().expect("queue lock");
        if jobs.len() >= max_waiting {
            crate::metrics::shed();
            return Err(DbError::Busy);
        }
        let number = self.numbers.fetch_add(1, Ordering::Relaxed);
        jobs.push_back((number, job));
        Ok(number)
    }

    /// Removes a job that has not been taken; whether it was still queued.
    fn withdraw(&self, number: u64) -> bool {
        let mut jobs = self.jobs.lock().expect("queue lock");
        let before = jobs.len();
        jobs.retain(|(queued, _)| *queued != number);
        jobs.len() < before
    }

    /// Up to `max_batch` jobs, oldest first.
    fn take(&self) -> Vec<J> {
        let mut jobs = self.jobs.lock().expect("queue lock");
        let count = jobs.len().min(self.max_batch);
        jobs.drain(..count).map(|(_, job)| job).collect()
    }

    /// The answer to job `number`: whichever comes first, its answer (another request ran
    /// it) or `turn` (a permit to run a batch). With the permit, takes the queued jobs and
    /// runs them on the blocking pool (`run`, which answers each), then waits for its own
    /// answer. A turn refused answers a job still queued with its error at once; one already
    /// taken waits for its batch. A job whose batch never answered it (a panic) is a bug.
    pub async fn served<T, E: From<DbError>, P: Send + 'static>(
        &self,
        number: u64,
        mut answered: oneshot::Receiver<Result<T, E>>,
        turn: impl Future<Output = Result<P, DbError>>,
        run: impl FnOnce(Vec<J>, P) + Send + 'static,
    ) -> Result<T, E> {
        let lost = || {
            Err(E::from(DbError::Bug(
                "a coalesced request was never answered".into(),
            )))
        };
        let permit = tokio::select! {
            biased;
            done = &mut answered => return done.unwrap_or_else(|_| lost()),
            entered = turn => entered,
        };
        let permit = match permit {
            Ok(permit) => permit,
            Err(refused) => {
                if self.withdraw(number) {
                    return Err(E::from(refused));
                }
                return answered.await.unwrap_or_else(|_| lost());
            }
        };
        let batch = self.take();
        if !batch.is_empty()
            && actix_web::web::block(move || run(batch, permit))
                .await
                .is_err()
        {
            tracing::error!("a coalesced batch panicked");
        }
        answered.await.unwrap_or_else(|_| lost())
    }
}
