//! One write pipeline: every write of the API (a create, an update, a delete, a relationship
//! change, an atomic request) is a [`Write`] value handed to [`Writer::submit`], which alone
//! decides how it runs:
//!
//! - **batched** ([`batch`]): a write that may share a database transaction (a create, an
//!   atomic request) of a key of every wallet, when coalescing is on, waits with the writes
//!   beside it, and whichever gets a connection first runs them together, one commit; writes
//!   with a multi-row form ([`rows`]) are folded into one statement per wave ([`waves`]);
//! - **alone**: anything else (an update, a delete, a wallet-limited key's write, every write
//!   with coalescing off), on a connection of its own: in autocommit when it is one statement
//!   of a key of every wallet with no `Idempotency-Key`, else in a transaction of its own whose
//!   first round trip names the wallets a limited key may touch; run again if a deadlock rolls
//!   it back ([`ATTEMPTS`] in all).
//!
//! Either way the pipeline names the write's API key once, on the connection
//! (`db::Connection::act_as`), before it runs; claims its `Idempotency-Key` and stores its
//! response in the same transaction ([`idempotency`]); and, with a standby configured, reads
//! the primary's WAL position after the commit on the same connection, for the response's
//! `Wallet-Api-Lsn`.

pub mod batch;
pub mod idempotency;
pub mod rows;
mod waves;

use std::sync::Arc;

use actix_web::http::header::HeaderValue;
use diesel::pg::PgConnection;

use super::errors::transient;
use crate::api::middleware::auth::Actor;
use crate::db::{self, Connection, Database, DbError, Session};
use crate::jsonapi::ApiError;
use crate::jsonapi::document::Reply;
use batch::Batches;
use idempotency::{Keyed, claim_write_store, unknown_if_lost};
use rows::Rows;

/// A write's own statements and response, on a connection the pipeline chose. Repeatable: it
/// runs again, from the start, if a deadlock rolled it back. A write of several statements is
/// atomic itself (`conn.transaction`), as its place in a batch is a savepoint.
pub type Work = Arc<dyn Fn(&mut PgConnection) -> Result<Reply, ApiError> + Send + Sync>;

/// How many statements a write's work sends: one may run in autocommit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statements {
    One,
    Several,
}

/// Attempts of a write run alone that a deadlock rolls back.
const ATTEMPTS: usize = 3;

/// A write, as the handlers describe it.
pub struct Write {
    /// The API key it is journaled under (none with authentication off).
    actor: Option<i64>,
    /// The wallets a wallet-limited key may touch (`None`: every wallet).
    wallets: Option<Vec<i64>>,
    /// The rows it locks (wallet ids), ascending: a batch runs its writes in the order of
    /// their first, and a wave never holds one twice.
    locks: Vec<i64>,
    keyed: Option<Keyed>,
    /// Whether it may share a database transaction with the writes beside it.
    shares: bool,
    statements: Statements,
    work: Work,
    rows: Option<Rows>,
    /// The `links.self` of a client error stored for its `Idempotency-Key`.
    self_link: String,
}

impl Write {
    /// A write of `actor`'s, running `work`; `self_link` is its request's URL. By default it
    /// locks nothing named, runs alone, in a transaction.
    pub fn by(
        actor: &Actor,
        self_link: String,
        work: impl Fn(&mut PgConnection) -> Result<Reply, ApiError> + Send + Sync + 'static,
    ) -> Write {
        Write {
            actor: actor.key.as_ref().map(|key| key.id),
            wallets: actor.wallets().map(<[i64]>::to_vec),
            locks: Vec::new(),
            keyed: None,
            shares: false,
            statements: Statements::Several,
            work: Arc::new(work),
            rows: None,
            self_link,
        }
    }

    /// Run once for this `Idempotency-Key`, its response stored.
    pub fn keyed(mut self, keyed: Option<Keyed>) -> Write {
        self.keyed = keyed;
        self
    }

    /// Locks these rows (see [`Write::locks`]).
    pub fn locking(mut self, mut locks: Vec<i64>) -> Write {
        locks.sort_unstable();
        locks.dedup();
        self.locks = locks;
        self
    }

    /// May share a database transaction with the writes beside it (a create, an atomic
    /// request), and, with `rows`, a statement.
    pub fn shared(mut self, rows: Option<Rows>) -> Write {
        self.shares = true;
        self.rows = rows;
        self
    }

    /// Sends this many statements.
    pub fn statements(mut self, statements: Statements) -> Write {
        self.statements = statements;
        self
    }

    /// Whether it runs in a transaction of its own when alone.
    fn needs_transaction(&self) -> bool {
        self.keyed.is_some() || self.wallets.is_some() || self.statements == Statements::Several
    }
}

/// How a write runs.
enum Way<'a> {
    Batched(&'a Arc<Batches>),
    Alone,
}

/// The pipeline: where writes run, and what they share.
pub struct Writer {
    db: Database,
    /// Where writes that may share wait to be run together (`COALESCE`).
    batches: Option<Arc<Batches>>,
    /// How long a stored `Idempotency-Key` response is replayed.
    ttl_seconds: i64,
    /// Whether responses carry `Wallet-Api-Lsn` (a standby serves reads).
    positions: bool,
}

/// A write ready to run: its work with its key's claim and stored response around it.
pub struct Ready {
    actor: Option<i64>,
    wallets: Option<Vec<i64>>,
    locks: Vec<i64>,
    in_transaction: bool,
    /// Runs the write (and, keyed, claims its key and stores its response) in the caller's
    /// transaction or savepoint, or in autocommit when it is one statement.
    work: Work,
    rows: Option<Rows>,
    keyed: Option<Arc<Keyed>>,
    ttl_seconds: i64,
}

impl Writer {
    pub fn new(
        db: Database,
        batches: Option<Arc<Batches>>,
        ttl_seconds: i64,
        positions: bool,
    ) -> Writer {
        Writer {
            db,
            batches,
            ttl_seconds,
            positions,
        }
    }

    /// The coalescer, for its counts.
    pub fn batches(&self) -> Option<&Arc<Batches>> {
        self.batches.as_ref()
    }

    /// Runs `write` (see the module's documentation); its response.
    pub async fn submit(&self, write: Write) -> Result<Reply, ApiError> {
        let way = match &self.batches {
            Some(batches) if write.shares && write.wallets.is_none() => Way::Batched(batches),
            _ => Way::Alone,
        };
        let ready = self.ready(write);
        let written = match way {
            Way::Batched(batches) => batches.run(&self.db, ready).await,
            Way::Alone => {
                let positions = self.positions;
                db::run_with(&self.db, move |conn| {
                    let reply = alone(conn, &ready)?;
                    Ok(match positions {
                        true => with_position(reply, position(conn)),
                        false => reply,
                    })
                })
                .await
            }
        };
        written.map_err(unknown_if_lost)
    }

    fn ready(&self, write: Write) -> Ready {
        let in_transaction = write.needs_transaction();
        let ttl_seconds = self.ttl_seconds;
        let keyed = write.keyed.map(Arc::new);
        let work = match &keyed {
            None => write.work,
            Some(keyed) => {
                let (keyed, work, self_link) = (keyed.clone(), write.work, write.self_link);
                Arc::new(move |conn: &mut PgConnection| {
                    claim_write_store(conn, &keyed, ttl_seconds, &self_link, &*work)
                }) as Work
            }
        };
        Ready {
            actor: write.actor,
            wallets: write.wallets,
            locks: write.locks,
            in_transaction,
            work,
            rows: write.rows,
            keyed,
            ttl_seconds,
        }
    }
}

/// A write on a connection of its own: its key named, then its work, in a transaction when it
/// needs one, run again when a deadlock rolled it back.
fn alone(conn: &mut Connection, ready: &Ready) -> Result<Reply, ApiError> {
    let begin = Session {
        wallets: ready.wallets.clone(),
    }
    .begin_sql();
    let mut attempt = 1;
    loop {
        conn.act_as(ready.actor)?;
        let done = if ready.in_transaction {
            db::within(&mut conn.conn, &begin, |conn| (ready.work)(conn))
        } else {
            (ready.work)(&mut conn.conn)
        };
        match done {
            Err(error) if transient(&error) && attempt < ATTEMPTS => {
                conn.forget_actor();
                attempt += 1;
            }
            Err(error) => {
                conn.forget_actor();
                return Err(error);
            }
            Ok(reply) => return Ok(reply),
        }
    }
}

/// Where the primary's WAL stands now, read on the connection that just committed (`None`
/// when it cannot say: the response then goes without it).
pub fn position(conn: &mut Connection) -> Option<crate::db::standby::Lsn> {
    match crate::db::standby::position(&mut conn.conn) {
        Ok(lsn) => Some(lsn),
        Err(error) => {
            let error: DbError = error;
            tracing::warn!(
                "a write's response goes without {}: {error}",
                super::positions::HEADER
            );
            None
        }
    }
}

/// `reply` with its `Wallet-Api-Lsn`, when it succeeded and the position is known.
pub fn with_position(reply: Reply, lsn: Option<crate::db::standby::Lsn>) -> Reply {
    match lsn {
        Some(lsn) if reply.status.is_success() => {
            let value = lsn.to_string();
            debug_assert!(HeaderValue::from_str(&value).is_ok());
            reply.with_header(super::positions::HEADER, value)
        }
        _ => reply,
    }
}
