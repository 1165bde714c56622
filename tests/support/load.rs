//! Load for the fault tests (`tests/faults.rs`, `tests/cluster.rs`): bookings sent one after
//! another by many clients, each answer kept with its status, code and timing.

// Each test binary includes this file and uses a part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde_json::{Value, json};
use wallet_api::config::{Config, Limits};
use wallet_api::models::api_key::{ApiKey, KeyName, NewApiKey, Scopes};
use wallet_api::startup::Application;

pub const JSONAPI: &str = "application/vnd.api+json";

/// One answered request: what it booked, its status and code, how long it took, and when
/// it was sent (from the start of the run).
pub struct Answer {
    pub txid: String,
    pub status: u16,
    pub code: String,
    pub took: Duration,
    pub sent: Duration,
}

/// Books 1 on `wallet` under `txid`: the status (0 when no answer came) and the first
/// error's code.
pub fn book(
    client: &reqwest::blocking::Client,
    base: &str,
    wallet: &str,
    txid: &str,
) -> (u16, String) {
    let document = json!({"data": {"type": "transactions",
        "attributes": {"txid": txid, "amount": "1"},
        "relationships": {"wallet": {"data": {"type": "wallets", "id": wallet}}}}});
    match client
        .post(format!("{base}/transactions"))
        .header("Content-Type", JSONAPI)
        .header("Accept", JSONAPI)
        .body(document.to_string())
        .send()
    {
        Ok(response) => {
            let status = response.status().as_u16();
            let body: Value = response.json().unwrap_or(Value::Null);
            (
                status,
                body["errors"][0]["code"].as_str().unwrap_or("").to_string(),
            )
        }
        Err(error) => (0, error.to_string()),
    }
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// A client sending API requests with `secret`, each allowed `timeout`.
pub fn client(secret: &str, timeout: Duration) -> reqwest::blocking::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {secret}").parse().unwrap(),
    );
    reqwest::blocking::Client::builder()
        .timeout(timeout)
        .default_headers(headers)
        .build()
        .unwrap()
}

/// A new wallet's id.
pub fn create_wallet(client: &reqwest::blocking::Client, base: &str) -> String {
    client
        .post(format!("{base}/wallets"))
        .header("Content-Type", JSONAPI)
        .body(json!({"data": {"type": "wallets", "attributes": {"label": "w"}}}).to_string())
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap()["data"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A prefix unique to this run, for txids: the clusters are kept between runs.
pub fn run_id() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

/// Migrates the database at `url` (as its owner), empties it of wallets and transactions, and
/// creates a key with the write scope (named after `test` and this run): its secret.
pub fn fresh_database(url: &str, test: &str) -> String {
    let mut conn = PgConnection::establish(url).unwrap();
    wallet_api::db::run_migrations(&mut conn).unwrap();
    diesel::sql_query("TRUNCATE wallets, transactions CASCADE")
        .execute(&mut conn)
        .ok();
    let new = NewApiKey {
        name: KeyName::parse(&format!("{test}-{}", run_id())).unwrap(),
        scopes: Scopes::parse(&["write".to_string()]).unwrap(),
        wallet_ids: None,
        expires_at: None,
    };
    ApiKey::create(&mut conn, &new).unwrap().1
}

/// Serves the API on `url` from a thread of its own, on a free port: its base URL.
pub fn serve(url: &str) -> String {
    let config = Config {
        database_url: url.to_string(),
        migration_database_url: None,
        auth: true,
        auth_off_behind_gateway: false,
        rate_limit: 0.0,
        rate_limit_burst: 1000.0,
        auth_failure_limit: 10.0,
        auth_failure_burst: 50.0,
        trusted_proxies: Default::default(),
        metrics_token: None,
        cors_origins: Vec::new(),
        host: "127.0.0.1".into(),
        port: 0,
        pool_size: Some(4),
        workers: Some(2),
        base_url: None,
        idempotency_ttl: Duration::from_secs(3600),
        hold_sweep: Duration::from_secs(1),
        limits: Limits::default(),
        coalesce: true,
        coalesce_reads: true,
        coalesce_max_batch: 64,
        coalesce_runners: Some(3),
        standby_database_url: None,
    };
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let system = actix_web::rt::System::new();
        let application = Application::build(&config).unwrap();
        sender.send(application.port()).unwrap();
        system.block_on(application.run_until_stopped()).unwrap();
    });
    format!("http://127.0.0.1:{}", receiver.recv().unwrap())
}

/// A PostgreSQL cluster of a test's own, run by `scripts/pg-local.sh` (and backed up by
/// `scripts/backup.sh`) under `.pg-NAME/`; stopped when dropped, however the test ends, so
/// that nothing of it keeps running after `make test`.
pub struct Local {
    name: &'static str,
    port: u16,
    /// Whether `backup.sh` ran for it: only then may a restored copy be left to stop.
    backed_up: std::cell::Cell<bool>,
}

impl Local {
    pub fn new(name: &'static str, port: u16) -> Local {
        Local {
            name,
            port,
            backed_up: std::cell::Cell::new(false),
        }
    }

    fn script(&self, script: &str, args: &[&str]) -> std::io::Result<std::process::Output> {
        Command::new(format!("{}/scripts/{script}", env!("CARGO_MANIFEST_DIR")))
            .args(args)
            .env(
                "WALLET_PG_DIR",
                format!("{}/.pg-{}", env!("CARGO_MANIFEST_DIR"), self.name),
            )
            .env("WALLET_PG_PORT", self.port.to_string())
            .env("WALLET_PG_DB", format!("wallet_api_{}", self.name))
            .output()
    }

    /// Runs `scripts/SCRIPT ARGS` for this cluster: its output, trimmed; panics on failure.
    pub fn run(&self, script: &str, args: &[&str]) -> String {
        let output = self.script(script, args).expect("the script runs");
        assert!(
            output.status.success(),
            "{script} {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap().trim().to_string()
    }

    /// `pg-local.sh COMMAND`.
    pub fn pg(&self, command: &str) -> String {
        self.run("pg-local.sh", &[command])
    }

    /// `backup.sh ARGS`.
    pub fn backup(&self, args: &[&str]) -> String {
        self.backed_up.set(true);
        self.run("backup.sh", args)
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        if self.backed_up.get() {
            let _ = self.script("backup.sh", &["stop-restored"]);
        }
        let _ = self.script("pg-local.sh", &["stop"]);
    }
}

/// `clients` clients booking 1 on `wallet` one after another, each txid `RUN-cN-I`, until
/// [`Load::stop`]; a client answered 503 waits `pause` before its next booking.
pub struct Load {
    pub started: Instant,
    stop: Arc<AtomicBool>,
    clients: Vec<JoinHandle<Vec<Answer>>>,
}

impl Load {
    pub fn start(
        client: &reqwest::blocking::Client,
        base: &str,
        wallet: &str,
        clients: usize,
        pause: Duration,
    ) -> Load {
        // txids unique to this run: the clusters are kept between runs.
        let run = run_id();
        let started = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let clients = (0..clients)
            .map(|n| {
                let (client, base, wallet, stop) = (
                    client.clone(),
                    base.to_string(),
                    wallet.to_string(),
                    stop.clone(),
                );
                std::thread::spawn(move || {
                    let mut answers = Vec::new();
                    for i in 0.. {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let txid = format!("{run}-c{n}-{i}");
                        let sent = started.elapsed();
                        let (status, code) = book(&client, &base, &wallet, &txid);
                        answers.push(Answer {
                            txid,
                            status,
                            code,
                            took: started.elapsed() - sent,
                            sent,
                        });
                        if status == 503 {
                            std::thread::sleep(pause);
                        }
                    }
                    answers
                })
            })
            .collect();
        Load {
            started,
            stop,
            clients,
        }
    }

    /// Time since the load started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Stops every client: all their answers.
    pub fn stop(self) -> Vec<Answer> {
        self.stop.store(true, Ordering::Relaxed);
        self.clients
            .into_iter()
            .flat_map(|client| client.join().unwrap())
            .collect()
    }
}

/// How many answers had each status and code.
pub fn tally(answers: &[Answer]) -> BTreeMap<(u16, String), usize> {
    let mut statuses = BTreeMap::new();
    for answer in answers {
        *statuses
            .entry((answer.status, answer.code.clone()))
            .or_insert(0) += 1;
    }
    statuses
}

/// Every request was answered 201 or 503, each within `bound`.
pub fn assert_answered_within(answers: &[Answer], bound: Duration) {
    for answer in answers {
        assert!(
            answer.status == 201 || answer.status == 503,
            "{} answered {} {}",
            answer.txid,
            answer.status,
            answer.code
        );
        assert!(
            answer.took < bound,
            "{} took {:?}",
            answer.txid,
            answer.took
        );
    }
}

/// How long each refusal (503) took to come, shortest first.
pub fn refusal_times(answers: &[Answer]) -> Vec<Duration> {
    let mut times: Vec<Duration> = answers
        .iter()
        .filter(|a| a.status == 503)
        .map(|a| a.took)
        .collect();
    times.sort();
    times
}

/// Every booking acknowledged is among `stored`; one refused is not, unless its outcome was
/// said to be unknown.
pub fn assert_nothing_acknowledged_lost(
    answers: &[Answer],
    stored: &std::collections::HashSet<String>,
) {
    for answer in answers {
        match (answer.status, answer.code.as_str()) {
            (201, _) => assert!(
                stored.contains(&answer.txid),
                "{} was acknowledged and lost",
                answer.txid
            ),
            (503, "outcome-unknown") => {}
            (_, code) => assert!(
                !stored.contains(&answer.txid),
                "{} answered {code} but was written",
                answer.txid
            ),
        }
    }
}

/// `wallet-api verify` on the database at `url` passes (`what` names it if not).
pub fn assert_verifies(url: &str, what: &str) {
    let verify = Command::new(env!("CARGO_BIN_EXE_wallet-api"))
        .arg("verify")
        .env("DATABASE_URL", url)
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "verify {what}: {}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
}
