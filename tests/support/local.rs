//! A PostgreSQL cluster of a test's own, and the service on it.

use std::process::Command;
use std::time::Duration;

use diesel::prelude::*;
use wallet_api::config::{Config, Limits};
use wallet_api::models::api_key::{ApiKey, KeyName, NewApiKey, Scopes};
use wallet_api::startup::Application;

use crate::client::run_id;

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
        event_retention: Duration::from_secs(30 * 24 * 3600),
        event_streams_per_key: 8,
        event_streams: 256,
        event_poll: Duration::from_millis(100),
        event_heartbeat: Duration::from_secs(15),
        webhook_allow_private: true,
        webhook_allow_http: true,
        webhook_timeout: Duration::from_secs(15),
        webhook_schedule: wallet_api::webhooks::schedule::Schedule::parse(
            wallet_api::webhooks::schedule::STANDARD,
        )
        .unwrap(),
        webhook_disable_after: Duration::from_secs(5 * 24 * 3600),
        webhook_poll: Duration::from_millis(100),
        webhook_concurrency: 16,
        webhook_queue: 10_000,
        webhooks: true,
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
    pub backed_up: std::cell::Cell<bool>,
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
}

impl Drop for Local {
    fn drop(&mut self) {
        if self.backed_up.get() {
            let _ = self.script("backup.sh", &["stop-restored"]);
        }
        let _ = self.script("pg-local.sh", &["stop"]);
    }
}
