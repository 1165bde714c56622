//! Waves: the writes of a batch that one multi-row statement can write (bookings), written
//! with as few statements as their per-request semantics allow.
//!
//! A batch's shared writes are split into waves, in the batch's order: a write goes to the
//! first wave that has no write of its lock key (its wallet) or of its unique key (its
//! txid), among the waves of its group (the API key it is journaled under). So the k-th
//! booking of a wallet is in the k-th wave, and within a wave a statement-level trigger's
//! aggregate per wallet *is* one booking: one journal row each, naming its transaction.
//! Waves run one after the other, each as one statement:
//! - a wave of one write runs that write's own work, as any write of the batch;
//! - a larger wave runs in a savepoint. The statement skips a write whose txid is taken
//!   (`ON CONFLICT DO NOTHING`): that one's own work then answers it (the 409 that names the
//!   existing transaction). If the statement fails (an overdraft, an unknown wallet), it is
//!   rolled back to its savepoint and split in two halves, each written the same way, so
//!   that one refusal costs about log2(n) statements and a half of one write is judged by
//!   its own work: every write gets the answer it would get alone.
//!
//! A write that claims an idempotency key first joins waves too: the batch claims all their
//! keys in one statement before its waves (a key another request holds, or one with a
//! stored answer, decides the write's answer there), and the row a wave writes is answered
//! by the write's `finish`; the responses to store are written after the wave, in one
//! statement. A second write of a key already
//! claimed in the batch runs after the waves, by its own work, and finds the first one's
//! stored answer.
//!
//! When a batch locks wallets in more than one statement (several waves, or writes that are
//! not shared), one statement first locks all of its wallets in ascending order: batches
//! then never wait for each other in a cycle, and a write to a wallet that does not exist
//! is answered by its own work before any wave.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use diesel::QueryResult;
use diesel::connection::TransactionManager;
use diesel::pg::PgConnection;

use super::{Classify, Job, Manager, Outcome, TimedOut};
use crate::db::DbError;

/// Writes of one kind that one statement can write together.
pub trait Many: Send + Sync + 'static {
    /// What the statement returns of each write it wrote.
    type Row: Send;
    /// Only writes of one group share a statement.
    fn group(&self) -> &str;
    /// The key no two writes of a statement share: a write the statement skipped because
    /// its key is taken is answered by its own work.
    fn unique(&self) -> &str;
    fn unique_of(row: &Self::Row) -> &str;
    /// Writes all of `items` in one statement, skipping those whose unique key is taken;
    /// the rows it wrote. On an error, it wrote none.
    fn write_all(conn: &mut PgConnection, items: &[&Self]) -> QueryResult<Vec<Self::Row>>;
    /// What claiming a write's key found.
    type Claim: Send;
    /// What the writes of a wave leave to be written after it (stored responses).
    type Later;
    /// Writes what a wave's writes left, in one statement.
    fn write_later(conn: &mut PgConnection, later: &[Self::Later]) -> QueryResult<()>;
    /// The key a write claims before it is written (an idempotency key: its owner and text),
    /// if any. A batch claims its writes' keys in one statement before its waves
    /// ([`claim_all`](Self::claim_all)), in the order of their keys.
    fn claim_key(&self) -> Option<(i64, &str)>;
    /// Claims the keys of `items`, in one statement, in the order given.
    fn claim_all(conn: &mut PgConnection, items: &[&Self]) -> QueryResult<Vec<Self::Claim>>;
    /// Locks the rows of lock keys `keys` (ascending) in one statement; the keys it found.
    fn lock_all(conn: &mut PgConnection, keys: &[i64]) -> QueryResult<Vec<i64>>;
    /// Locks the rows of `keys` that no other transaction holds locked, without waiting;
    /// the keys whose rows another transaction holds.
    fn held_elsewhere(conn: &mut PgConnection, keys: &[i64]) -> QueryResult<Vec<i64>>;
}

/// What a write that joins waves brings: its data for the shared statement, and how the
/// row that statement wrote becomes its answer.
pub struct Shared<T, E, M: Many> {
    pub item: M,
    pub finish: Finish<M::Row, T, E, M::Later>,
    /// For a write that claims a key: its answer when the claim decides it, `None` when it
    /// is to be written.
    pub decide: Option<Decide<M::Claim, T, E>>,
}

pub type Decide<C, T, E> = std::sync::Arc<dyn Fn(C) -> Option<Result<T, E>> + Send + Sync>;

/// Answers the write whose row a wave wrote; what it leaves in `later` is written, with
/// what the wave's other writes left, by one statement after them ([`Many::write_later`]).
pub type Finish<R, T, E, L> =
    std::sync::Arc<dyn Fn(&mut PgConnection, R, &mut Vec<L>) -> Result<T, E> + Send + Sync>;

/// The statements the waves of this coalescer's batches took, counted for `/metrics`.
#[derive(Default)]
pub struct WaveCounts {
    /// Multi-row statements sent (the halves of a split one included).
    statements: AtomicU64,
    /// Writes they wrote.
    written: AtomicU64,
    /// Failed ones split in two.
    bisections: AtomicU64,
    /// Statements that locked a batch's wallets first.
    locks: AtomicU64,
}

impl WaveCounts {
    pub fn get(&self) -> [(&'static str, u64); 4] {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        [
            ("statements", load(&self.statements)),
            ("written", load(&self.written)),
            ("bisections", load(&self.bisections)),
            ("locks", load(&self.locks)),
        ]
    }
}

fn add(counter: &AtomicU64, n: usize) {
    counter.fetch_add(n as u64, Ordering::Relaxed);
}

/// The batch must roll back; whether it met a timeout, and where.
pub(super) struct Abort {
    pub timed_out: TimedOut,
}

impl Abort {
    /// Not for a timeout: the transaction, a savepoint or the connection failed.
    pub const FAILED: Abort = Abort {
        timed_out: TimedOut::No,
    };

    /// For a statement of several writes that failed with `error`.
    fn after(error: diesel::result::Error) -> Abort {
        Abort::of(&DbError::from(error))
    }

    fn of(error: &DbError) -> Abort {
        Abort {
            timed_out: match error {
                DbError::Timeout => TimedOut::Somewhere,
                _ => TimedOut::No,
            },
        }
    }
}

/// The waves of `writes` (each: its index in the batch, lock key, group, unique key), in
/// order: indices into the batch.
fn form<'a>(writes: impl Iterator<Item = (usize, i64, &'a str, &'a str)>) -> Vec<Vec<usize>> {
    struct Wave<'a> {
        group: &'a str,
        keys: HashSet<i64>,
        uniques: HashSet<&'a str>,
        members: Vec<usize>,
    }
    let mut waves: Vec<Wave<'a>> = Vec::new();
    for (index, key, group, unique) in writes {
        // In its group, after the last wave of any group that holds its key or unique key.
        let after = waves
            .iter()
            .rposition(|wave| wave.keys.contains(&key) || wave.uniques.contains(unique))
            .map_or(0, |last| last + 1);
        match waves[after..].iter_mut().find(|wave| wave.group == group) {
            Some(wave) => {
                wave.keys.insert(key);
                wave.uniques.insert(unique);
                wave.members.push(index);
            }
            None => waves.push(Wave {
                group,
                keys: HashSet::from([key]),
                uniques: HashSet::from([unique]),
                members: vec![index],
            }),
        }
    }
    waves.into_iter().map(|wave| wave.members).collect()
}

/// Writes the batch's shared writes in waves, in the caller's transaction, setting the
/// outcome of each write it answered; the other writes it leaves to the caller (which runs
/// them after). A lone shared write is left to the caller as well.
pub(super) fn write<T, E, M>(
    conn: &mut PgConnection,
    batch: &[Job<T, E, M>],
    outcomes: &mut [Option<Outcome<T, E>>],
    classify: Classify<E>,
    counts: &WaveCounts,
) -> Result<(), Abort>
where
    E: From<DbError>,
    M: Many,
{
    fn shared<T, E, M: Many>(job: &Job<T, E, M>) -> Option<&M> {
        job.shared.as_ref().map(|shared| &shared.item)
    }
    // The shared writes, but for a second write of a key claimed by one before it: that one
    // runs after the waves, as one after the other (it finds the first one's answer).
    let mut claimed_keys = HashSet::new();
    let mut candidates: Vec<usize> = batch
        .iter()
        .enumerate()
        .filter(|(_, job)| {
            shared(job)
                .is_some_and(|item| item.claim_key().is_none_or(|key| claimed_keys.insert(key)))
        })
        .map(|(index, _)| index)
        .collect();
    if candidates.len() < 2 {
        return Ok(());
    }
    claim(conn, batch, &candidates, outcomes)?;
    candidates.retain(|&index| outcomes[index].is_none());
    let waves = form(candidates.iter().map(|&index| {
        let item = shared(&batch[index]).expect("a shared write");
        (index, batch[index].order, item.group(), item.unique())
    }));
    let others_lock = batch.iter().enumerate().any(|(index, job)| {
        job.order != 0 && outcomes[index].is_none() && !candidates.contains(&index)
    });
    let mut found = None;
    if waves.len() > 1 || others_lock {
        add(&counts.locks, 1);
        let locked = M::lock_all(conn, &super::lock_keys(batch)).map_err(Abort::after)?;
        found = Some(locked.into_iter().collect::<HashSet<i64>>());
    }
    for wave in waves {
        // A write to a wallet that is not there: its own work answers it (404 or 422).
        let (wave, missing): (Vec<usize>, Vec<usize>) = match &found {
            Some(found) => wave
                .into_iter()
                .partition(|&index| found.contains(&batch[index].order)),
            None => (wave, Vec::new()),
        };
        for index in missing {
            outcomes[index] = Some(super::in_savepoint(conn, &batch[index], classify)?);
        }
        match wave.as_slice() {
            [] => {}
            [index] => outcomes[*index] = Some(super::unguarded(conn, &batch[*index], classify)?),
            _ => statement(conn, batch, &wave, outcomes, classify, counts)?,
        }
    }
    Ok(())
}

/// Claims the keys of the `candidates` that claim one, in one statement, in the order of
/// their keys; sets the outcome of each the claim decides (a stored answer replayed, a key
/// in use).
fn claim<T, E, M: Many>(
    conn: &mut PgConnection,
    batch: &[Job<T, E, M>],
    candidates: &[usize],
    outcomes: &mut [Option<Outcome<T, E>>],
) -> Result<(), Abort> {
    let shared = |index: usize| batch[index].shared.as_ref().expect("a shared write");
    let mut claiming: Vec<usize> = candidates
        .iter()
        .copied()
        .filter(|&index| shared(index).item.claim_key().is_some())
        .collect();
    if claiming.is_empty() {
        return Ok(());
    }
    claiming.sort_by(|&a, &b| shared(a).item.claim_key().cmp(&shared(b).item.claim_key()));
    let items: Vec<&M> = claiming.iter().map(|&index| &shared(index).item).collect();
    let claims = M::claim_all(conn, &items).map_err(Abort::after)?;
    for (index, claim) in claiming.into_iter().zip(claims) {
        let decide = shared(index)
            .decide
            .as_ref()
            .expect("a write that claims a key says what its claim decides");
        if let Some(answer) = decide(claim) {
            outcomes[index] = Some(Outcome::Done(answer));
        }
    }
    Ok(())
}

/// One multi-row statement for the writes `wave` names, in a savepoint; split in two if it
/// fails (see the module's documentation).
fn statement<T, E, M>(
    conn: &mut PgConnection,
    batch: &[Job<T, E, M>],
    wave: &[usize],
    outcomes: &mut [Option<Outcome<T, E>>],
    classify: Classify<E>,
    counts: &WaveCounts,
) -> Result<(), Abort>
where
    E: From<DbError>,
    M: Many,
{
    let lost = || Abort::FAILED;
    let item = |index: usize| &batch[index].shared.as_ref().expect("a shared write").item;
    Manager::begin_transaction(conn).map_err(|_| lost())?;
    add(&counts.statements, 1);
    let items: Vec<&M> = wave.iter().map(|&index| item(index)).collect();
    match M::write_all(conn, &items) {
        Ok(rows) => {
            Manager::commit_transaction(conn).map_err(|_| lost())?;
            add(&counts.written, rows.len());
            let mut rows: HashMap<String, M::Row> = rows
                .into_iter()
                .map(|row| (M::unique_of(&row).to_owned(), row))
                .collect();
            let mut later = Vec::new();
            let mut skipped = Vec::new();
            for &index in wave {
                match rows.remove(item(index).unique()) {
                    // Its row is written: a failure to answer it undoes the batch.
                    Some(row) => {
                        let finish = &batch[index].shared.as_ref().expect("a shared write").finish;
                        let answer = finish(conn, row, &mut later).map_err(|_| lost())?;
                        outcomes[index] = Some(Outcome::Done(Ok(answer)));
                    }
                    // Skipped: its unique key is taken.
                    None => skipped.push(index),
                }
            }
            if !later.is_empty() {
                M::write_later(conn, &later).map_err(Abort::after)?;
            }
            for index in skipped {
                outcomes[index] = Some(super::in_savepoint(conn, &batch[index], classify)?);
            }
            Ok(())
        }
        Err(error) => {
            Manager::rollback_transaction(conn).map_err(|_| lost())?;
            // Split only around a refusal of one of its writes; anything else (a timeout, a
            // deadlock, a lost connection) undoes the batch.
            let error = DbError::from(error);
            if !matches!(
                error,
                DbError::InsufficientFunds { .. }
                    | DbError::BalanceOverflow { .. }
                    | DbError::Constraint { .. }
                    | DbError::OutOfReach
            ) {
                return Err(Abort::of(&error));
            }
            add(&counts.bisections, 1);
            let (first, second) = wave.split_at(wave.len() / 2);
            for half in [first, second] {
                match half {
                    [index] => {
                        outcomes[*index] =
                            Some(super::in_savepoint(conn, &batch[*index], classify)?)
                    }
                    _ => statement(conn, batch, half, outcomes, classify, counts)?,
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::form;

    fn waves(writes: &[(i64, &str, &str)]) -> Vec<Vec<usize>> {
        form(
            writes
                .iter()
                .enumerate()
                .map(|(index, &(key, group, unique))| (index, key, group, unique)),
        )
    }

    #[test]
    fn distinct_wallets_make_one_wave() {
        assert_eq!(
            waves(&[(1, "", "a"), (2, "", "b"), (3, "", "c")]),
            vec![vec![0, 1, 2]]
        );
    }

    #[test]
    fn the_kth_booking_of_a_wallet_is_in_the_kth_wave() {
        assert_eq!(
            waves(&[(1, "", "a"), (1, "", "b"), (1, "", "c"), (2, "", "d")]),
            vec![vec![0, 3], vec![1], vec![2]]
        );
    }

    #[test]
    fn a_txid_is_written_once_per_wave() {
        assert_eq!(
            waves(&[(1, "", "same"), (2, "", "same"), (3, "", "other")]),
            vec![vec![0, 2], vec![1]]
        );
    }

    #[test]
    fn groups_never_share_a_wave_and_keep_their_order() {
        // Wallet 1's second booking (key "k") follows its first (key ""), in a later wave.
        assert_eq!(
            waves(&[(1, "", "a"), (2, "k", "b"), (1, "k", "c"), (3, "", "d")]),
            vec![vec![0, 3], vec![1, 2]]
        );
        assert_eq!(
            waves(&[(1, "k", "a"), (1, "", "b"), (2, "k", "c")]),
            vec![vec![0, 2], vec![1]]
        );
        // Wallet 1's bookings stay in the order they came, whatever their groups.
        assert_eq!(
            waves(&[(2, "k", "a"), (1, "", "b"), (1, "k", "c")]),
            vec![vec![0], vec![1], vec![2]]
        );
    }
}
