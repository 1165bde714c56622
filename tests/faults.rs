//! Database faults under load, on a PostgreSQL cluster of this test's own (it is stopped and
//! crashed on purpose): `.pg-faults/`, through `scripts/pg-local.sh`.
//!
//! While 16 clients book transactions, PostgreSQL is stopped, then started; later crashed
//! (`pg_ctl stop -m immediate`), then started. Every request must get an answer within its
//! bounds (503 while the database is away, never a 500, never a hang), the service must
//! recover by itself, and every booking acknowledged with 201 must be in the database.
//! The figures are printed (`cargo test --test faults -- --nocapture`).

use std::time::{Duration, Instant};

use diesel::prelude::*;

#[path = "support/client.rs"]
mod client;
#[path = "support/load.rs"]
mod load;
#[path = "support/local.rs"]
mod local;
#[path = "support/outcome.rs"]
mod outcome;
use client::{client, create_wallet};
use load::Load;
use local::{Local, fresh_database, serve};
use outcome::{
    assert_answered_within, assert_nothing_acknowledged_lost, percentile, refusal_times, tally,
};

const CLIENTS: usize = 16;

#[test]
fn the_service_answers_in_bounded_time_through_database_outages_and_loses_nothing() {
    let cluster = Local::new("faults", 54339);
    let url = cluster.pg("url");
    // Authenticated, as every client is: the keys must keep working through the outages.
    let secret = fresh_database(&url, "faults");
    let base = serve(&url);
    let client = client(&secret, Duration::from_secs(30));
    let wallet = create_wallet(&client, &base);

    let load = Load::start(&client, &base, &wallet, CLIENTS, Duration::from_millis(20));

    let health = |client: &reqwest::blocking::Client| {
        let asked = Instant::now();
        let status = client
            .get(format!("{base}/health"))
            .send()
            .map_or(0, |r| r.status().as_u16());
        (status, asked.elapsed())
    };
    let mut outages = Vec::new();
    let mut health_down = Vec::new();
    let mut recoveries = Vec::new();
    for mode in ["stop", "crash"] {
        std::thread::sleep(Duration::from_secs(2));
        let down = load.elapsed();
        cluster.pg(if mode == "stop" {
            "stop"
        } else {
            "stop-immediate"
        });
        std::thread::sleep(Duration::from_millis(500));
        for _ in 0..3 {
            health_down.push(health(&client));
        }
        std::thread::sleep(Duration::from_secs(3));
        cluster.pg("start");
        let up = load.elapsed();
        // Recovered: the first booking sent after the restart that succeeds.
        outages.push((down, up));
        recoveries.push(up);
    }
    std::thread::sleep(Duration::from_secs(3));
    let answers = load.stop();

    // Every request was answered, with 201 or 503 only, within its bounds.
    let statuses = tally(&answers);
    eprintln!("answers: {statuses:?}");
    assert_answered_within(&answers, Duration::from_secs(5));
    let unavailable = refusal_times(&answers);
    assert!(!unavailable.is_empty(), "the outages were seen");
    eprintln!(
        "time to 503 under {CLIENTS} clients: p50 {:?}, p99 {:?}, max {:?} ({} answers)",
        percentile(&unavailable, 0.5),
        percentile(&unavailable, 0.99),
        unavailable.last().unwrap(),
        unavailable.len()
    );
    for (status, took) in &health_down {
        assert_eq!(*status, 503);
        assert!(*took < Duration::from_secs(2), "/health took {took:?}");
    }
    eprintln!("/health while the database is down: {health_down:?}");

    // The service recovered by itself after each restart.
    for up in recoveries {
        let first = answers
            .iter()
            .filter(|a| a.status == 201 && a.sent >= up)
            .map(|a| a.sent + a.took)
            .min()
            .expect("bookings succeed again after the restart");
        eprintln!("recovered {:?} after the database was back", first - up);
        assert!(first - up < Duration::from_secs(5));
    }

    // Nothing acknowledged was lost; an unknown outcome is either way, and said so.
    let mut conn = PgConnection::establish(&url).unwrap();
    let stored: Vec<String> = wallet_api::schema::transactions::table
        .select(wallet_api::schema::transactions::txid)
        .load(&mut conn)
        .unwrap();
    let stored: std::collections::HashSet<String> = stored.into_iter().collect();
    assert_nothing_acknowledged_lost(&answers, &stored);
    let audit: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "(SELECT count(*) FROM wallet_balance_audit)",
    ))
    .get_result(&mut conn)
    .unwrap();
    assert_eq!(audit, 0, "every balance is right after the outages");
    eprintln!("outages (down, up): {outages:?}");
}
