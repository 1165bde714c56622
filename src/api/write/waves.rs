//! Waves: the writes of a batch that one multi-row statement can write (each with its
//! [`Rows`]), written with as few statements as their per-request semantics allow.
//!
//! A batch's writes with rows are split into waves, in the batch's order: a write goes to the
//! first wave that holds none of its lock keys (its wallets) nor its unique key (its txid),
//! among the waves of its group (its kind of statement and the API key it is journaled
//! under). So the k-th booking of a wallet is in the k-th wave, and within a wave a
//! statement-level trigger's aggregate per wallet *is* one booking: one journal row each,
//! naming its transaction. Waves run one after the other, each as one statement:
//! - a wave of one write runs that write's own work, as any write of the batch;
//! - a larger wave runs in a savepoint. The statement skips a write whose unique key is taken
//!   (`ON CONFLICT DO NOTHING`): that one's own work then answers it (the 409 that names the
//!   existing transaction). If the statement fails (an overdraft, an unknown wallet), it is
//!   rolled back to its savepoint and split in two halves, each written the same way, so
//!   that one refusal costs about log2(n) statements and a half of one write is judged by
//!   its own work: every write gets the answer it would get alone.
//!
//! A write with an `Idempotency-Key` joins waves too: the batch claims all their keys in one
//! statement before its waves (`idempotency::claim_all`; a key another request holds, or one
//! with a stored answer, decides the write's answer there), and the responses of the rows a
//! wave wrote are stored after the wave, in one more statement. A second write of a key
//! already claimed in the batch runs after the waves, by its own work, and finds the first
//! one's stored answer.
//!
//! When a batch locks wallets in more than one statement (several waves, or writes that are
//! not in one), one statement first locks all of its wallets in ascending order (the lock
//! declaration, `api::LOCKS`): batches then never wait for each other in a cycle, and a write
//! to a wallet that does not exist is answered by its own work before any wave.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use diesel::connection::TransactionManager;

use super::batch::{Job, Manager, Outcome, TimedOut, in_savepoint, lock_keys, unguarded};
use super::idempotency::{Keyed, claim_all, decided, stored};
use super::rows::Rows;
use crate::db::{Connection, DbError};
use crate::models::idempotency_key::StoredResponse;

/// The statements the waves of the batches took, counted for `/metrics`.
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

    pub fn of(error: &DbError) -> Abort {
        Abort {
            timed_out: match error {
                DbError::Timeout => TimedOut::Somewhere,
                _ => TimedOut::No,
            },
        }
    }
}

/// Which writes share a statement: writes of one kind of statement, for one API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Group {
    kind: &'static str,
    actor: Option<i64>,
}

/// The waves of `writes` (each: its index in the batch, lock keys, group, unique key), in
/// order: indices into the batch.
fn form<'a>(writes: impl Iterator<Item = (usize, &'a [i64], Group, &'a str)>) -> Vec<Vec<usize>> {
    struct Wave<'a> {
        group: Group,
        keys: HashSet<i64>,
        uniques: HashSet<&'a str>,
        members: Vec<usize>,
    }
    let mut waves: Vec<Wave<'a>> = Vec::new();
    for (index, keys, group, unique) in writes {
        // In its group, after the last wave of any group that holds one of its keys or its
        // unique key.
        let after = waves
            .iter()
            .rposition(|wave| {
                keys.iter().any(|key| wave.keys.contains(key)) || wave.uniques.contains(unique)
            })
            .map_or(0, |last| last + 1);
        match waves[after..].iter_mut().find(|wave| wave.group == group) {
            Some(wave) => {
                wave.keys.extend(keys.iter().copied());
                wave.uniques.insert(unique);
                wave.members.push(index);
            }
            None => waves.push(Wave {
                group,
                keys: keys.iter().copied().collect(),
                uniques: HashSet::from([unique]),
                members: vec![index],
            }),
        }
    }
    waves.into_iter().map(|wave| wave.members).collect()
}

fn rows(job: &Job) -> Option<&Rows> {
    job.ready.rows.as_ref()
}

fn group(job: &Job) -> Group {
    Group {
        kind: rows(job).map_or("", Rows::kind),
        actor: job.ready.actor,
    }
}

/// Writes the batch's writes with rows in waves, in the caller's transaction, setting the
/// outcome of each write it answered; the other writes it leaves to the caller (which runs
/// them after). A lone write with rows is left to the caller as well.
pub(super) fn write(
    conn: &mut Connection,
    batch: &[Job],
    outcomes: &mut [Option<Outcome>],
    counts: &WaveCounts,
) -> Result<(), Abort> {
    // The writes with rows, but for a second write of a key claimed by one before it: that
    // one runs after the waves, as one after the other (it finds the first one's answer).
    let mut claimed_keys = HashSet::new();
    let mut candidates: Vec<usize> = batch
        .iter()
        .enumerate()
        .filter(|(_, job)| {
            rows(job).is_some()
                && job
                    .ready
                    .keyed
                    .as_ref()
                    .is_none_or(|keyed| claimed_keys.insert((keyed.owner(), keyed.key())))
        })
        .map(|(index, _)| index)
        .collect();
    if candidates.len() < 2 {
        return Ok(());
    }
    claim(conn, batch, &candidates, outcomes)?;
    candidates.retain(|&index| outcomes[index].is_none());
    let waves = form(candidates.iter().map(|&index| {
        let job = &batch[index];
        let rows = rows(job).expect("a write with rows");
        (index, job.ready.locks.as_slice(), group(job), rows.unique())
    }));
    let others_lock = batch.iter().enumerate().any(|(index, job)| {
        !job.ready.locks.is_empty() && outcomes[index].is_none() && !candidates.contains(&index)
    });
    let mut found = None;
    if waves.len() > 1 || others_lock {
        add(&counts.locks, 1);
        let locked = (crate::api::LOCKS.lock_all)(&mut conn.conn, &lock_keys(batch))
            .map_err(Abort::after)?;
        found = Some(locked.into_iter().collect::<HashSet<i64>>());
    }
    for wave in waves {
        // A write to a wallet that is not there: its own work answers it (404 or 422).
        let (wave, missing): (Vec<usize>, Vec<usize>) = match &found {
            Some(found) => wave.into_iter().partition(|&index| {
                batch[index]
                    .ready
                    .locks
                    .iter()
                    .all(|key| found.contains(key))
            }),
            None => (wave, Vec::new()),
        };
        for index in missing {
            outcomes[index] = Some(in_savepoint(conn, &batch[index])?);
        }
        match wave.as_slice() {
            [] => {}
            [index] => outcomes[*index] = Some(unguarded(conn, &batch[*index])?),
            _ => statement(conn, batch, &wave, outcomes, counts)?,
        }
    }
    Ok(())
}

/// Claims the keys of the `candidates` that have one, in one statement, in the order of
/// their keys; sets the outcome of each the claim decides (a stored answer replayed, a key
/// in use).
fn claim(
    conn: &mut Connection,
    batch: &[Job],
    candidates: &[usize],
    outcomes: &mut [Option<Outcome>],
) -> Result<(), Abort> {
    let keyed = |index: usize| batch[index].ready.keyed.as_deref();
    let mut claiming: Vec<usize> = candidates
        .iter()
        .copied()
        .filter(|&index| keyed(index).is_some())
        .collect();
    if claiming.is_empty() {
        return Ok(());
    }
    let order = |keyed: Option<&Keyed>| keyed.map(|keyed| (keyed.owner(), keyed.key().to_string()));
    claiming.sort_by_key(|&index| order(keyed(index)));
    let keys: Vec<&Keyed> = claiming
        .iter()
        .map(|&index| keyed(index).expect("a keyed write"))
        .collect();
    let claims = claim_all(&mut conn.conn, &keys).map_err(Abort::after)?;
    for (index, claim) in claiming.into_iter().zip(claims) {
        let keyed = keyed(index).expect("a keyed write");
        if let Some(answer) = decided(keyed, claim) {
            outcomes[index] = Some(Outcome::Done(answer));
        }
    }
    Ok(())
}

/// One multi-row statement for the writes `wave` names, in a savepoint, their key named
/// first; split in two if it fails (see the module's documentation).
fn statement(
    conn: &mut Connection,
    batch: &[Job],
    wave: &[usize],
    outcomes: &mut [Option<Outcome>],
    counts: &WaveCounts,
) -> Result<(), Abort> {
    let lost = || Abort::FAILED;
    let rows_of = |index: usize| rows(&batch[index]).expect("a write with rows");
    Manager::begin_transaction(&mut conn.conn).map_err(|_| lost())?;
    conn.act_as(batch[wave[0]].ready.actor)
        .map_err(|error| Abort::of(&error))?;
    add(&counts.statements, 1);
    let items: Vec<&Rows> = wave.iter().map(|&index| rows_of(index)).collect();
    match Rows::write_all(&mut conn.conn, &items) {
        Ok(written) => {
            Manager::commit_transaction(&mut conn.conn).map_err(|_| lost())?;
            add(&counts.written, written.len());
            let mut written: HashMap<String, _> = written.into_iter().collect();
            let mut later: Vec<StoredResponse> = Vec::new();
            let mut skipped = Vec::new();
            for &index in wave {
                let job = &batch[index];
                match written.remove(rows_of(index).unique()) {
                    // Its row is written: a failure to answer it undoes the batch.
                    Some(row) => {
                        let reply = crate::trace::on_thread(job.request.as_ref(), || {
                            rows_of(index).finish(&mut conn.conn, row)
                        })
                        .map_err(|_| lost())?;
                        if let Some(keyed) = &job.ready.keyed {
                            later.push(stored(keyed, &reply, job.ready.ttl_seconds));
                        }
                        outcomes[index] = Some(Outcome::Done(Ok(reply)));
                    }
                    // Skipped: its unique key is taken.
                    None => skipped.push(index),
                }
            }
            if !later.is_empty() {
                StoredResponse::save_many(&mut conn.conn, &later).map_err(Abort::after)?;
            }
            for index in skipped {
                outcomes[index] = Some(in_savepoint(conn, &batch[index])?);
            }
            Ok(())
        }
        Err(error) => {
            Manager::rollback_transaction(&mut conn.conn).map_err(|_| lost())?;
            conn.forget_actor();
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
                    [index] => outcomes[*index] = Some(in_savepoint(conn, &batch[*index])?),
                    _ => statement(conn, batch, half, outcomes, counts)?,
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Group, form};

    fn waves(writes: &[(i64, Option<i64>, &str)]) -> Vec<Vec<usize>> {
        let keys: Vec<[i64; 1]> = writes.iter().map(|&(key, _, _)| [key]).collect();
        form(
            writes
                .iter()
                .enumerate()
                .map(|(index, &(_, actor, unique))| {
                    (index, &keys[index][..], Group { kind: "k", actor }, unique)
                }),
        )
    }

    #[test]
    fn distinct_wallets_make_one_wave() {
        assert_eq!(
            waves(&[(1, None, "a"), (2, None, "b"), (3, None, "c")]),
            vec![vec![0, 1, 2]]
        );
    }

    #[test]
    fn the_kth_booking_of_a_wallet_is_in_the_kth_wave() {
        assert_eq!(
            waves(&[
                (1, None, "a"),
                (1, None, "b"),
                (1, None, "c"),
                (2, None, "d")
            ]),
            vec![vec![0, 3], vec![1], vec![2]]
        );
    }

    #[test]
    fn a_txid_is_written_once_per_wave() {
        assert_eq!(
            waves(&[(1, None, "same"), (2, None, "same"), (3, None, "other")]),
            vec![vec![0, 2], vec![1]]
        );
    }

    #[test]
    fn groups_never_share_a_wave_and_keep_their_order() {
        // Wallet 1's second booking (key 7) follows its first (no key), in a later wave.
        assert_eq!(
            waves(&[
                (1, None, "a"),
                (2, Some(7), "b"),
                (1, Some(7), "c"),
                (3, None, "d")
            ]),
            vec![vec![0, 3], vec![1, 2]]
        );
        assert_eq!(
            waves(&[(1, Some(7), "a"), (1, None, "b"), (2, Some(7), "c")]),
            vec![vec![0, 2], vec![1]]
        );
        // Wallet 1's bookings stay in the order they came, whatever their groups.
        assert_eq!(
            waves(&[(2, Some(7), "a"), (1, None, "b"), (1, Some(7), "c")]),
            vec![vec![0], vec![1], vec![2]]
        );
    }

    #[test]
    fn a_write_of_two_wallets_waits_for_either() {
        let keys = [[1i64, 2], [2, 3], [4, 5]];
        let group = Group {
            kind: "transfers",
            actor: None,
        };
        let formed = form(
            keys.iter()
                .enumerate()
                .map(|(index, keys)| (index, &keys[..], group, ["a", "b", "c"][index])),
        );
        assert_eq!(formed, vec![vec![0, 2], vec![1]]);
    }
}
