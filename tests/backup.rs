//! Point-in-time restore after a mistake, on a PostgreSQL cluster of this test's own
//! (`.pg-backup/`, through `scripts/pg-local.sh` and `scripts/backup.sh`): a standby would
//! replay a mistaken `DELETE FROM transactions` within milliseconds; the archive does not.
//!
//! A base backup is taken; 8 clients book through the API; a time T is noted and booking
//! goes on; then transactions are deleted by mistake in `psql`. The restore to T, into a
//! data directory of its own, holds every booking acknowledged before T and none sent after
//! it, its balances verify, and the journal's running totals are unbroken. Then the cluster
//! itself is rewound to T in place. The figures are printed
//! (`cargo test --test backup -- --nocapture`).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

#[path = "support/backups.rs"]
mod backups;
#[path = "support/client.rs"]
mod client;
#[path = "support/load.rs"]
mod load;
#[path = "support/local.rs"]
mod local;
#[path = "support/verify.rs"]
mod verify;
use backups::Backups;
use client::{Answer, client, create_wallet};
use load::Load;
use local::{Local, fresh_database, serve};
use verify::assert_verifies;

const CLIENTS: usize = 8;

#[derive(QueryableByName)]
struct One {
    #[diesel(sql_type = Text)]
    value: String,
}

fn text(conn: &mut PgConnection, sql: &str) -> String {
    diesel::sql_query(sql)
        .get_result::<One>(conn)
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
        .value
}

fn txids(conn: &mut PgConnection) -> HashSet<String> {
    wallet_api::schema::transactions::table
        .select(wallet_api::schema::transactions::txid)
        .load::<String>(conn)
        .unwrap()
        .into_iter()
        .collect()
}

/// What a restored database must be: every booking acknowledged before `until` there, none
/// sent after `after`; balances and the journal right.
fn check_restored(url: &str, answers: &[Answer], (until, after): (Duration, Duration), what: &str) {
    let mut conn = PgConnection::establish(url).unwrap();
    let stored = txids(&mut conn);
    let mut kept = 0;
    for answer in answers {
        if answer.status == 201 && answer.sent + answer.took < until {
            assert!(
                stored.contains(&answer.txid),
                "{what}: {} was acknowledged before the target and is not restored",
                answer.txid
            );
            kept += 1;
        }
        if answer.sent > after {
            assert!(
                !stored.contains(&answer.txid),
                "{what}: {} was sent after the target and is restored",
                answer.txid
            );
        }
    }
    assert!(
        kept > 0,
        "{what}: bookings were acknowledged before the target"
    );
    let audit: i64 = diesel::select(diesel::dsl::sql::<BigInt>(
        "(SELECT count(*) FROM wallet_balance_audit)",
    ))
    .get_result(&mut conn)
    .unwrap();
    assert_eq!(audit, 0, "{what}: every balance is right");
    // Each journal entry starts where the wallet's previous one ended.
    let broken = text(
        &mut conn,
        "SELECT count(*)::text AS value FROM (SELECT balance, delta, \
         lag(balance, 1, 0) OVER (PARTITION BY wallet_id ORDER BY id) AS before \
         FROM balance_changes) AS entries WHERE before + delta <> balance",
    );
    assert_eq!(broken, "0", "{what}: the journal's running totals");
    assert_verifies(url, what);
    eprintln!(
        "{what}: {kept} bookings acknowledged before the target, all there; {} stored",
        stored.len()
    );
}

#[test]
fn a_restore_to_a_time_before_a_mistaken_delete_brings_back_every_acknowledged_booking() {
    let cluster = Local::new("backup", 54379);
    let url = cluster.pg("url");
    let secret = fresh_database(&url, "backup");
    let began = Instant::now();
    cluster.backup(&["backup"]);
    eprintln!("backup: base backup in {:?}", began.elapsed());

    let base = serve(&url);
    let client = client(&secret, Duration::from_secs(30));
    let wallet = create_wallet(&client, &base);
    let load = Load::start(&client, &base, &wallet, CLIENTS, Duration::from_millis(20));
    std::thread::sleep(Duration::from_secs(2));
    // The target, as the database's clock has it: every booking acknowledged before `until`
    // committed before it, every one sent after `after` commits after it.
    let mut conn = PgConnection::establish(&url).unwrap();
    let until = load.elapsed();
    let target = text(&mut conn, "SELECT now()::text AS value");
    let after = load.elapsed();
    std::thread::sleep(Duration::from_secs(1));
    let answers = load.stop();
    let refused: Vec<(&str, u16, &str)> = answers
        .iter()
        .filter(|a| a.status != 201)
        .map(|a| (a.txid.as_str(), a.status, a.code.as_str()))
        .collect();
    assert!(refused.is_empty(), "bookings succeed: {refused:?}");

    // The mistake.
    let deleted = diesel::sql_query("DELETE FROM transactions WHERE txid LIKE '%-c1-%'")
        .execute(&mut conn)
        .unwrap();
    assert!(deleted > 0);
    drop(conn);

    let began = Instant::now();
    let restored = cluster.backup(&["restore", &target]);
    eprintln!(
        "backup: restored to {target} into a new data directory in {:?}",
        began.elapsed()
    );
    check_restored(&restored, &answers, (until, after), "restored copy");
    cluster.backup(&["stop-restored"]);

    let began = Instant::now();
    let rewound = cluster.backup(&["restore", &target, "in-place"]);
    eprintln!(
        "backup: cluster rewound to {target} in {:?}",
        began.elapsed()
    );
    check_restored(&rewound, &answers, (until, after), "cluster rewound");
}
