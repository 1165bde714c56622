//! The cluster `make cluster` runs (`scripts/cluster.sh`), a formation of this test's own:
//! `.cluster-test/`, PostgreSQL on ports 55530-55532, haproxy on 8190 and two instances on
//! 8191-8192, serving reads from the standby. One test, three parts in order (they share
//! the formation, and the last one kills its primary):
//!
//! 1. read-your-writes with the standby's replay paused: a write's `Wallet-Api-Lsn` makes
//!    the read go to the primary, never return the old balance;
//! 2. one `Idempotency-Key` sent to both instances at once runs once;
//! 3. failover under load: 16 clients book while the primary's machine dies (`kill -9` of
//!    its PostgreSQL and its pg_autoctl), then while a clean failover runs; every answer is
//!    201 or 503, every acknowledged booking is on the new primary, `verify` is clean, the
//!    old primary rejoins as the standby;
//! 4. after those failovers (the archive goes on from the new primary, on a new timeline), a
//!    restore to a time just before a mistaken `DELETE` holds every booking made before it.
//!
//! The figures are printed (`cargo test --test cluster -- --nocapture`).

use std::collections::HashSet;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[path = "support/client.rs"]
mod client;
#[path = "support/load.rs"]
mod load;
#[path = "support/outcome.rs"]
mod outcome;
#[path = "support/receiver.rs"]
mod receiver;
#[path = "support/verify.rs"]
mod verify;
use client::{Answer, JSONAPI, book, client, create_wallet, run_id};
use load::Load;
use outcome::{
    assert_answered_within, assert_nothing_acknowledged_lost, percentile, refusal_times, tally,
};
use verify::assert_verifies;

const CLIENTS: usize = 16;
const FRONT: &str = "http://127.0.0.1:8190";
const INSTANCES: [&str; 2] = ["http://127.0.0.1:8191", "http://127.0.0.1:8192"];
/// How long bookings may be refused after the primary is lost (docs/operations.md).
const RECOVERY_BOUND: Duration = Duration::from_secs(15);

/// Runs `scripts/SCRIPT ARGS` (cluster.sh or backup.sh) on this test's formation.
fn script(script: &str, args: &[&str]) -> std::io::Result<std::process::Output> {
    Command::new(format!("{}/scripts/{script}", env!("CARGO_MANIFEST_DIR")))
        .args(args)
        .env(
            "WALLET_CLUSTER_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/.cluster-test"),
        )
        .env("WALLET_CLUSTER_PG_PORT", "55530")
        .env("WALLET_CLUSTER_HTTP_PORT", "8190")
        .env("WALLET_BACKUP_OF", "cluster")
        .env("WALLET_BIN", env!("CARGO_BIN_EXE_wallet-api"))
        .env("STANDBY_READS", "on")
        // 16 clients on one key book faster than the default per-key rate.
        .env("RATE_LIMIT", "0")
        // Webhooks to this test's loopback receiver, retried quickly through the failovers.
        .env("WEBHOOK_ALLOW_PRIVATE", "on")
        .env("WEBHOOK_ALLOW_HTTP", "on")
        .env(
            "WEBHOOK_SCHEDULE",
            "0s,500ms,1s,2s,2s,2s,5s,5s,10s,10s,10s,10s",
        )
        .env("RUST_LOG", "warn")
        .output()
}

/// [`script`], which must succeed: its output, trimmed.
fn checked(name: &str, args: &[&str]) -> String {
    let output = script(name, args).unwrap_or_else(|error| panic!("{name} runs: {error}"));
    assert!(
        output.status.success(),
        "{name} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

fn cluster(args: &[&str]) -> String {
    checked("cluster.sh", args)
}

fn backup(args: &[&str]) -> String {
    checked("backup.sh", args)
}

/// Stops the formation when the test ends, however it ends.
struct DownAtEnd;

impl Drop for DownAtEnd {
    fn drop(&mut self) {
        let _ = script("cluster.sh", &["down"]);
    }
}

/// The nodes as `cluster.sh status` lists them: name, role, port.
fn nodes() -> Vec<(String, String, String)> {
    cluster(&["status"])
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            (words.first() == Some(&"node") && words.len() >= 4)
                .then(|| (words[1].into(), words[2].into(), words[3].into()))
        })
        .collect()
}

fn node_url(port: &str) -> String {
    format!("postgresql://postgres@localhost:{port}/wallet_api")
}

/// Runs `sql` on the database at `url`.
fn sql_at(url: &str, sql: &str) -> std::process::Output {
    Command::new("/usr/lib/postgresql/15/bin/psql")
        .args([url, "-qtAX", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("psql runs")
}

/// [`sql_at`], which must succeed: its first value.
fn query(url: &str, sql: &str) -> String {
    let output = sql_at(url, sql);
    assert!(
        output.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

/// Runs `sql` on one node as the superuser; its first value.
fn psql(port: &str, sql: &str) -> String {
    query(&node_url(port), sql)
}

fn port_of(role: &str) -> String {
    nodes()
        .into_iter()
        .find(|(_, r, _)| r == role)
        .unwrap_or_else(|| panic!("no {role} node: {:?}", nodes()))
        .2
}

/// A counter of every instance's `/metrics`, summed.
fn metric(client: &reqwest::blocking::Client, series: &str) -> f64 {
    INSTANCES
        .iter()
        .map(|instance| {
            let text = client
                .get(format!("{instance}/metrics"))
                .send()
                .unwrap()
                .text()
                .unwrap();
            text.lines()
                .find_map(|line| line.strip_prefix(series))
                .map_or(0.0, |value| value.trim().parse().unwrap())
        })
        .sum()
}

fn post(
    client: &reqwest::blocking::Client,
    url: &str,
    document: Value,
) -> reqwest::blocking::Response {
    client
        .post(url)
        .header("Content-Type", JSONAPI)
        .body(document.to_string())
        .send()
        .unwrap()
}

fn booking(wallet: &str, txid: &str, amount: &str) -> Value {
    json!({"data": {"type": "transactions",
        "attributes": {"txid": txid, "amount": amount},
        "relationships": {"wallet": {"data": {"type": "wallets", "id": wallet}}}}})
}

fn balance(client: &reqwest::blocking::Client, wallet: &str, after: Option<&str>) -> String {
    let mut request = client.get(format!("{FRONT}/wallets/{wallet}"));
    if let Some(after) = after {
        request = request.header("Wallet-Api-Lsn", after);
    }
    let response = request.send().unwrap();
    assert_eq!(response.status(), 200);
    response.json::<Value>().unwrap()["data"]["attributes"]["balance"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn the_cluster_reads_its_writes_runs_a_key_once_and_survives_failover() {
    let _down = DownAtEnd;
    cluster(&["up"]);
    cluster(&["wait-formation", "120"]);
    let secret = cluster(&["key"]);
    let client = client(&secret, Duration::from_secs(30));
    let run = run_id();

    reads_see_their_writes_while_the_standby_lags(&client, run);
    a_key_sent_to_two_instances_at_once_runs_once(&client, run);
    bookings_survive_the_loss_of_the_primary(&client);
    a_restore_after_the_failovers_undoes_a_mistake(&client, run);
}

fn reads_see_their_writes_while_the_standby_lags(client: &reqwest::blocking::Client, run: u128) {
    let wallet = create_wallet(client, FRONT);
    let first = post(
        client,
        &format!("{FRONT}/transactions"),
        booking(&wallet, &format!("{run}-ryw-1"), "10"),
    );
    assert_eq!(first.status(), 201);
    assert!(
        first.headers().contains_key("wallet-api-lsn"),
        "a write's response carries its position"
    );
    // The standby holds the first booking, then stops replaying.
    let standby = port_of("secondary");
    let deadline = Instant::now() + Duration::from_secs(10);
    while balance(client, &wallet, None) != "10.000000000000000000" {
        assert!(Instant::now() < deadline, "the standby never replayed");
        std::thread::sleep(Duration::from_millis(50));
    }
    psql(&standby, "SELECT pg_wal_replay_pause()");
    let _resume = ResumeReplay(standby.clone());

    let second = post(
        client,
        &format!("{FRONT}/transactions"),
        booking(&wallet, &format!("{run}-ryw-2"), "5"),
    );
    assert_eq!(second.status(), 201, "commits go on while the standby lags");
    let lsn = second.headers()["wallet-api-lsn"]
        .to_str()
        .unwrap()
        .to_string();

    // Without the position a read may be stale (the standby serves it, paused) ...
    assert_eq!(balance(client, &wallet, None), "10.000000000000000000");
    // ... with it, never: through both instances, by id, as a page, with includes.
    let served_by_primary = metric(
        client,
        "wallet_api_standby_reads_total{served_by=\"primary\"}",
    );
    for _ in 0..4 {
        assert_eq!(
            balance(client, &wallet, Some(&lsn)),
            "15.000000000000000000"
        );
    }
    let page: Value = client
        .get(format!(
            "{FRONT}/wallets/{wallet}/transactions?include=wallet"
        ))
        .header("Wallet-Api-Lsn", &lsn)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 2, "{page}");
    assert_eq!(
        page["included"][0]["attributes"]["balance"],
        "15.000000000000000000"
    );
    assert_eq!(
        metric(
            client,
            "wallet_api_standby_reads_total{served_by=\"primary\"}"
        ) - served_by_primary,
        5.0,
        "each read with a position the standby lacks went to the primary"
    );

    // Once the standby has replayed it, it serves the read itself.
    psql(&standby, "SELECT pg_wal_replay_resume()");
    let served_by_standby = metric(
        client,
        "wallet_api_standby_reads_total{served_by=\"standby\"}",
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert_eq!(
            balance(client, &wallet, Some(&lsn)),
            "15.000000000000000000"
        );
        if metric(
            client,
            "wallet_api_standby_reads_total{served_by=\"standby\"}",
        ) > served_by_standby
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the standby never served the read"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // A position that is not one is refused, clearly.
    let refused = client
        .get(format!("{FRONT}/wallets/{wallet}"))
        .header("Wallet-Api-Lsn", "yesterday")
        .send()
        .unwrap();
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().unwrap();
    assert_eq!(body["errors"][0]["code"], "invalid-lsn");
    assert_eq!(body["errors"][0]["source"]["header"], "Wallet-Api-Lsn");
    eprintln!("read-your-writes: stale without the position, current with it ({lsn})");
}

/// Resumes the standby's replay however the test part ends.
struct ResumeReplay(String);

impl Drop for ResumeReplay {
    fn drop(&mut self) {
        let _ = sql_at(&node_url(&self.0), "SELECT pg_wal_replay_resume()");
    }
}

fn a_key_sent_to_two_instances_at_once_runs_once(client: &reqwest::blocking::Client, run: u128) {
    let wallet = create_wallet(client, FRONT);
    const KEYS: usize = 20;
    for n in 0..KEYS {
        let key = format!("{run}-key-{n}");
        let document = booking(&wallet, &format!("{run}-idem-{n}"), "1");
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let answers: Vec<(u16, Value, bool)> = INSTANCES
            .iter()
            .map(|instance| {
                let (client, key, document, barrier) = (
                    client.clone(),
                    key.clone(),
                    document.clone(),
                    barrier.clone(),
                );
                let url = format!("{instance}/transactions");
                std::thread::spawn(move || {
                    barrier.wait();
                    let response = client
                        .post(url)
                        .header("Content-Type", JSONAPI)
                        .header("Idempotency-Key", key)
                        .body(document.to_string())
                        .send()
                        .unwrap();
                    let status = response.status().as_u16();
                    let replayed = response.headers().contains_key("idempotent-replayed");
                    (status, response.json::<Value>().unwrap(), replayed)
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|thread| thread.join().unwrap())
            .collect();
        let created: Vec<&Value> = answers
            .iter()
            .filter(|(status, _, _)| *status == 201)
            .map(|(_, body, _)| &body["data"]["id"])
            .collect();
        for (status, body, _) in &answers {
            assert!(
                *status == 201
                    || (*status == 409 && body["errors"][0]["code"] == "idempotency-key-in-use"),
                "key {key}: {status} {body}"
            );
        }
        assert!(!created.is_empty(), "key {key}: {answers:?}");
        assert!(
            created.windows(2).all(|pair| pair[0] == pair[1]),
            "key {key}: one transaction, answered twice: {created:?}"
        );
        if created.len() == 2 {
            assert!(
                answers.iter().any(|(_, _, replayed)| *replayed),
                "key {key}: the second answer is a replay"
            );
        }
    }
    assert_eq!(
        balance(client, &wallet, None).parse::<f64>().unwrap(),
        0.0 + KEYS as f64,
        "each key booked once"
    );
    eprintln!("idempotency: {KEYS} keys, each sent to both instances at once, each ran once");
}

fn bookings_survive_the_loss_of_the_primary(client: &reqwest::blocking::Client) {
    let wallet = create_wallet(client, FRONT);
    // A webhook endpoint for the wallet's bookings: every stored one must reach it.
    let receiver = receiver::Receiver::start();
    let endpoint = post(
        client,
        &format!("{FRONT}/webhook-endpoints"),
        json!({"data": {"type": "webhook-endpoints", "attributes": {
            "url": receiver.url, "eventTypes": ["transaction.created"]},
            "relationships": {"wallets": {"data": [{"type": "wallets", "id": wallet}]}}}}),
    );
    assert_eq!(endpoint.status(), 201);
    let load = Load::start(client, FRONT, &wallet, CLIENTS, Duration::from_millis(50));
    let mut events = Vec::new();
    std::thread::sleep(Duration::from_secs(3));
    let lost_at = load.elapsed();
    let lost = cluster(&["kill-primary"]);
    events.push(("kill -9", lost_at));
    // The old primary comes back once the other has taken over, and rejoins as its standby.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !nodes()
        .iter()
        .any(|(name, role, _)| *name != lost && (role == "primary" || role == "wait_primary"))
    {
        assert!(Instant::now() < deadline, "no failover: {:?}", nodes());
        std::thread::sleep(Duration::from_millis(200));
    }
    let promoted = load.elapsed() - lost_at;
    cluster(&["restart-node", &lost]);
    cluster(&["wait-formation", "120"]);
    let rejoined = load.elapsed() - lost_at;
    assert!(
        nodes()
            .iter()
            .any(|(name, role, _)| *name == lost && role == "secondary"),
        "the old primary rejoined as the standby: {:?}",
        nodes()
    );
    // Bookings succeed again (within a bound) before the next event: the formation being
    // stable does not mean every instance's pool has found the new primary yet, and a
    // planned failover right then would make the two outages one.
    assert!(
        load.wait_for_success(Duration::from_secs(30)),
        "kill -9: no booking succeeded within 30 s of the old primary's rejoining"
    );
    std::thread::sleep(Duration::from_secs(3));
    events.push(("pg_autoctl perform failover", load.elapsed()));
    cluster(&["failover"]);
    cluster(&["wait-formation", "120"]);
    assert!(
        load.wait_for_success(Duration::from_secs(30)),
        "failover: no booking succeeded within 30 s of the formation's settling"
    );
    std::thread::sleep(Duration::from_secs(3));
    let ended = load.elapsed();
    let answers = load.stop();
    let statuses = tally(&answers);
    eprintln!("failover: answers {statuses:?}");
    // Answered within the bound of one request (a connection to a dead primary included).
    assert_answered_within(&answers, Duration::from_secs(5));
    let refused = refusal_times(&answers);
    eprintln!(
        "failover: time to 503 p50 {:?}, p99 {:?}, max {:?}",
        percentile(&refused, 0.5),
        percentile(&refused, 0.99),
        refused.last().copied().unwrap_or_default()
    );

    // Bookings are refused for a bounded time after each event: the outage runs from the
    // event to the last refusal before bookings succeed again.
    let ends: Vec<Duration> = events
        .iter()
        .skip(1)
        .map(|(_, at)| *at)
        .chain([ended])
        .collect();
    for ((event, at), end) in events.iter().zip(ends) {
        let during: Vec<&Answer> = answers
            .iter()
            .filter(|a| a.sent >= *at && a.sent < end)
            .collect();
        // A booking sent just before the next event and refused by it (a refusal takes up to
        // 2 s) belongs to the next outage: only refusals answered within this window count.
        let last_refusal = during
            .iter()
            .filter(|a| a.status == 503 && a.sent + a.took < end)
            .map(|a| a.sent + a.took)
            .max()
            .unwrap_or(*at);
        assert!(
            during
                .iter()
                .any(|a| a.status == 201 && a.sent >= last_refusal),
            "{event}: bookings succeed again"
        );
        let refused = during.iter().filter(|a| a.status == 503).count();
        eprintln!(
            "failover: {event}: bookings refused for {:?} ({refused} answered 503)",
            last_refusal - *at
        );
        assert!(
            last_refusal - *at < RECOVERY_BOUND,
            "{event}: {:?}",
            last_refusal - *at
        );
    }
    eprintln!("failover: new primary after {promoted:?}, old one rejoined after {rejoined:?}");

    // Every acknowledged booking is on the new primary; a refused one is not, unless its
    // outcome was said to be unknown.
    let primary = port_of("primary");
    let stored: HashSet<String> = psql(
        &primary,
        &format!("SELECT string_agg(txid, ' ') FROM transactions WHERE wallet_id = {wallet}"),
    )
    .split_whitespace()
    .map(str::to_string)
    .collect();
    let acknowledged = answers.iter().filter(|a| a.status == 201).count();
    assert_nothing_acknowledged_lost(&answers, &stored);
    eprintln!(
        "failover: {acknowledged} acknowledged, {} refused, {} stored, 0 acknowledged lost",
        answers.len() - acknowledged,
        stored.len()
    );
    assert_eq!(
        psql(
            &primary,
            &format!("SELECT balance::bigint FROM wallets WHERE id = {wallet}")
        ),
        stored.len().to_string()
    );
    // Each stored booking is one transaction.created event there, once: its events were
    // written and replicated with it (verify checks that the wallet's numbering has no gap).
    assert_eq!(
        psql(
            &primary,
            &format!(
                "SELECT count(*) || ' ' || count(DISTINCT subject_id) FROM events \
                 WHERE wallet_id = {wallet} AND event_type = 'transaction.created'"
            )
        ),
        format!("{0} {0}", stored.len())
    );
    // And every one of them reached the webhook endpoint, though its deliverer's primary was
    // killed and then failed over: at least once (a delivery whose 2xx was cut off from its
    // record comes again, with the same webhook-id).
    let deadline = Instant::now() + Duration::from_secs(90);
    let delivered = loop {
        let got = receiver.got();
        let txids: HashSet<String> = got
            .iter()
            .filter_map(|(_, body)| {
                body["data"]["attributes"]["data"]["attributes"]["txid"].as_str()
            })
            .map(str::to_string)
            .collect();
        if txids == stored || Instant::now() > deadline {
            break (got, txids);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let (got, txids) = delivered;
    assert_eq!(txids, stored, "every stored booking delivered");
    let ids: HashSet<&String> = got.iter().map(|(id, _)| id).collect();
    eprintln!(
        "failover: webhooks: {} deliveries of {} events ({} sent again)",
        got.len(),
        ids.len(),
        got.len() - ids.len()
    );
    assert_verifies(&cluster(&["url", "owner"]), "after the failovers");
}

fn a_restore_after_the_failovers_undoes_a_mistake(client: &reqwest::blocking::Client, run: u128) {
    backup(&["backup"]);
    // pgBackRest keeps a backup's stop time in whole seconds: a target must come after it.
    std::thread::sleep(Duration::from_secs(2));
    let wallet = create_wallet(client, FRONT);
    for n in 0..20 {
        let (status, _) = book(client, FRONT, &wallet, &format!("{run}-pitr-{n}"));
        assert_eq!(status, 201);
    }
    let primary = port_of("primary");
    let target = psql(&primary, "SELECT now()::text");
    psql(
        &primary,
        &format!("DELETE FROM transactions WHERE wallet_id = {wallet}"),
    );
    let restored = backup(&["restore", &target]);
    let _stop = StopRestored;
    let kept = query(
        &restored,
        &format!(
            "SELECT count(*) || ' ' || (SELECT balance::bigint FROM wallets WHERE id = {wallet}) \
             FROM transactions WHERE wallet_id = {wallet}"
        ),
    );
    assert_eq!(
        kept, "20 20",
        "the restore holds the bookings the mistake deleted"
    );
    assert_verifies(&restored, "of the restored copy");
    eprintln!("restore: the formation's archive restored to {target}, before the mistake");
}

/// Stops the restored copy however the test part ends.
struct StopRestored;

impl Drop for StopRestored {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(|| backup(&["stop-restored"]));
    }
}
