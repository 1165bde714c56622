//! Reads from a standby, with read-your-writes: a write's response carries the position of
//! the primary's WAL after its commit ([`Lsn`], `pg_current_wal_lsn()`), and a read that
//! presents it is served by the standby only once the standby has replayed that far
//! (`pg_last_wal_replay_lsn()`), checked on the very connection that then reads; otherwise
//! by the primary. A read that presents none is served by the standby as it is, at most its
//! replay lag behind.

use std::fmt;
use std::sync::{Arc, Mutex};

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};

use super::{Database, DbError, run};

/// A position in the primary's write-ahead log, as PostgreSQL writes it (`16/B374D848`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Lsn(pub u64);

impl Lsn {
    /// `X/Y`, each part one to eight hexadecimal digits, as `pg_lsn` reads it.
    pub fn parse(text: &str) -> Option<Lsn> {
        let (high, low) = text.split_once('/')?;
        let part = |part: &str| {
            (1..=8).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_hexdigit())
        };
        if !part(high) || !part(low) {
            return None;
        }
        let high = u64::from_str_radix(high, 16).ok()?;
        let low = u64::from_str_radix(low, 16).ok()?;
        Some(Lsn(high << 32 | low))
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

#[derive(QueryableByName)]
struct Position {
    #[diesel(sql_type = Text)]
    lsn: String,
}

/// Where the primary's WAL is now: after a commit on this server, at or past that commit.
pub fn position(conn: &mut PgConnection) -> Result<Lsn, DbError> {
    let row: Position = diesel::sql_query("SELECT pg_current_wal_lsn()::text AS lsn")
        .get_result(conn)
        .map_err(DbError::from)?;
    Lsn::parse(&row.lsn).ok_or_else(|| DbError::Bug(format!("an LSN unread: {:?}", row.lsn)))
}

#[derive(QueryableByName)]
struct Replayed {
    #[diesel(sql_type = Bool)]
    replayed: bool,
}

/// Whether the server `conn` is on holds everything up to `after`: a standby that has
/// replayed that far, or a primary (which holds all it committed, and, after a failover,
/// all the old primary acknowledged: commits wait for the standby).
fn replayed(conn: &mut PgConnection, after: Lsn) -> Result<bool, DbError> {
    let row: Replayed = diesel::sql_query(
        "SELECT NOT pg_is_in_recovery() OR pg_last_wal_replay_lsn() >= $1::pg_lsn AS replayed",
    )
    .bind::<Text, _>(after.to_string())
    .get_result(conn)
    .map_err(DbError::from)?;
    Ok(row.replayed)
}

/// Where a read runs: on the standby when there is one (and it is far enough along for
/// `after`), else on the primary.
#[derive(Clone, Copy)]
pub struct Reader<'a> {
    pub primary: &'a Database,
    pub standby: Option<&'a Database>,
    /// The position the client's last write returned, when it sent one.
    pub after: Option<Lsn>,
}

impl<'a> Reader<'a> {
    /// Where a read goes first: the standby when there is one.
    pub fn first(&self) -> &'a Database {
        self.standby.unwrap_or(self.primary)
    }

    /// [`run`] on the standby, or on the primary when there is none, when it has not replayed
    /// up to `after`, or when no connection to it could be had (before `work` began).
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut PgConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let Some(standby) = self.standby else {
            return run(self.primary, work).await;
        };
        // The work stays here until the standby takes it; what it leaves is run on the primary.
        let slot = Arc::new(Mutex::new(Some(work)));
        let taken = slot.clone();
        let after = self.after;
        let tried: Result<Option<T>, E> = run(standby, move |conn| {
            if let Some(after) = after
                && !replayed(conn, after)?
            {
                return Ok(None);
            }
            let work = taken
                .lock()
                .expect("unpoisoned")
                .take()
                .expect("taken once");
            work(conn).map(Some)
        })
        .await;
        let left = slot.lock().expect("unpoisoned").take();
        match (tried, left) {
            (Ok(Some(done)), _) => {
                crate::metrics::standby_read("standby");
                Ok(done)
            }
            (_, Some(work)) => {
                crate::metrics::standby_read("primary");
                run(self.primary, work).await
            }
            (Ok(None), None) => unreachable!("work left untaken when the standby is behind"),
            (Err(error), None) => Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Lsn;

    #[test]
    fn positions_read_and_write_as_postgresql_does() {
        assert_eq!(Lsn::parse("0/3000060"), Some(Lsn(0x3000060)));
        assert_eq!(Lsn::parse("16/B374D848"), Some(Lsn(0x16_B374_D848)));
        assert_eq!(Lsn(0x16_B374_D848).to_string(), "16/B374D848");
        assert!(Lsn::parse("16/B374D848") > Lsn::parse("16/B374D847"));
        assert!(Lsn::parse("1/0") > Lsn::parse("0/FFFFFFFF"));
        for bad in [
            "",
            "0",
            "/1",
            "1/",
            "x/1",
            "1/2/3",
            "123456789/0",
            " 0/1",
            "+1/1",
        ] {
            assert_eq!(Lsn::parse(bad), None, "{bad:?}");
        }
    }
}
