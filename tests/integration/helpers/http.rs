//! The service over HTTP: started on its own database, and a client that checks every
//! response it gets (JSON:API, the document schema, the OpenAPI contract).

use serde_json::{Value, json};
use wallet_api::config::{Config, Limits};
use wallet_api::startup::Application;

use wallet_api::models::api_key::{ApiKey, KeyName, NewApiKey, Scopes};

use super::db::TestDb;
use super::documents::{ATOMIC, JSONAPI, assert_atomic, assert_jsonapi, transaction_document};
use crate::contract::assert_documented;

/// An HTTP response, its body parsed.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    /// The body as sent, byte for byte.
    pub text: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The ids of the resource objects in `data`, in order.
    pub fn ids(&self) -> Vec<String> {
        self.body["data"]
            .as_array()
            .unwrap_or_else(|| panic!("no data array: {:#}", self.body))
            .iter()
            .map(|item| item["id"].as_str().unwrap().to_string())
            .collect()
    }

    /// Asserts a 400 `invalid-query-parameter` naming `parameter`, whose detail says `says`;
    /// returns the detail.
    #[track_caller]
    pub fn expect_bad_parameter(&self, parameter: &str, says: &str) -> &str {
        self.expect_error(
            400,
            "invalid-query-parameter",
            Some(("parameter", parameter)),
        );
        let detail = self.error()["detail"].as_str().unwrap();
        assert!(detail.contains(says), "{parameter}: {detail}");
        detail
    }

    /// The first error object.
    pub fn error(&self) -> &Value {
        &self.body["errors"][0]
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {:#}",
            self.body
        );
        self
    }

    /// Asserts an error response: status, code and where the problem is.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str, source: Option<(&str, &str)>) -> &Self {
        self.expect(status);
        let error = self.error();
        assert_eq!(error["status"], status.to_string(), "{:#}", self.body);
        assert_eq!(error["code"], code, "{:#}", self.body);
        assert!(
            error["title"].is_string() && error["detail"].is_string(),
            "{:#}",
            self.body
        );
        if let Some((kind, at)) = source {
            assert_eq!(error["source"][kind], at, "{:#}", self.body);
        }
        self
    }
}

/// The service, started on its own database, connected as the service's role, and a client
/// that sends every request with the secret of an API key with every scope (`key`), unless
/// the request names its own `Authorization`.
pub struct TestApp {
    pub address: String,
    client: reqwest::blocking::Client,
    server: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
    pub db: TestDb,
    /// The secret of the key named `test-admin` (read, write, admin).
    pub key: String,
    pub key_id: i64,
}

impl TestApp {
    pub fn spawn() -> TestApp {
        TestApp::spawn_with(|_| {})
    }

    /// The service with its settings changed by `adjust`.
    pub fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let db = TestDb::new();
        let mut config = TestApp::config(&db);
        adjust(&mut config);
        TestApp::start(db, config)
    }

    /// The settings the tests run the service with.
    pub fn config(db: &TestDb) -> Config {
        Config {
            database_url: db.service_url.clone(),
            migration_database_url: Some(db.url.clone()),
            auth: true,
            auth_off_behind_gateway: false,
            // Tests send many requests at once; the rate limit has tests of its own.
            rate_limit: 0.0,
            rate_limit_burst: 1000.0,
            auth_failure_limit: 10.0,
            auth_failure_burst: 50.0,
            trusted_proxies: Default::default(),
            metrics_token: None,
            cors_origins: Vec::new(),
            host: "127.0.0.1".to_string(),
            port: 0,
            pool_size: Some(4),
            workers: Some(1),
            base_url: None,
            idempotency_ttl: std::time::Duration::from_secs(24 * 3600),
            hold_sweep: std::time::Duration::from_secs(1),
            event_retention: std::time::Duration::from_secs(30 * 24 * 3600),
            event_streams_per_key: 8,
            event_streams: 256,
            event_poll: std::time::Duration::from_millis(50),
            event_heartbeat: std::time::Duration::from_secs(15),
            // Loopback receivers; the deliverer runs only where a test turns it on.
            webhook_allow_private: true,
            webhook_allow_http: true,
            webhook_timeout: std::time::Duration::from_secs(15),
            webhook_schedule: wallet_api::webhooks::schedule::Schedule::parse(
                wallet_api::webhooks::schedule::STANDARD,
            )
            .unwrap(),
            webhook_disable_after: std::time::Duration::from_secs(5 * 24 * 3600),
            webhook_poll: std::time::Duration::from_millis(50),
            webhook_concurrency: 16,
            webhook_queue: 10_000,
            webhooks: false,
            limits: Limits::default(),
            // make test runs the suite both ways: TEST_COALESCE=off for the second run
            // (reads and writes).
            coalesce: std::env::var("TEST_COALESCE").as_deref() != Ok("off"),
            coalesce_reads: std::env::var("TEST_COALESCE").as_deref() != Ok("off"),
            coalesce_max_batch: 64,
            coalesce_runners: Some(3),
            standby_database_url: None,
        }
    }

    /// Another instance of the service on `app`'s database (with its key), as a deployment
    /// runs several.
    pub fn spawn_beside(app: &TestApp) -> TestApp {
        TestApp::spawn_beside_with(app, |_| {})
    }

    /// [`TestApp::spawn_beside`], its settings changed by `adjust`.
    pub fn spawn_beside_with(app: &TestApp, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let db = app.db.sharing();
        let mut config = TestApp::config(&db);
        adjust(&mut config);
        TestApp::start_with_key(db, config, app.key_id, app.key.clone())
    }

    /// Stops this server and starts another on the same database (and the same key).
    pub fn restart(mut self) -> TestApp {
        self.stop();
        let db = std::mem::replace(&mut self.db, TestDb::placeholder());
        let config = TestApp::config(&db);
        TestApp::start_with_key(db, config, self.key_id, std::mem::take(&mut self.key))
    }

    fn start(db: TestDb, config: Config) -> TestApp {
        let (created, secret) = create_key(&mut db.connect(), TEST_KEY, &["admin"], &[]);
        TestApp::start_with_key(db, config, created.id, secret)
    }

    fn start_with_key(db: TestDb, config: Config, key_id: i64, key: String) -> TestApp {
        // RUST_LOG=... shows the service's log with a failing test's output.
        wallet_api::trace::init_for_tests();
        let (sender, receiver) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let system = actix_web::rt::System::new();
            let application = Application::serving(&config).unwrap();
            sender
                .send((application.port(), application.handle()))
                .unwrap();
            system.block_on(application.run_until_stopped()).unwrap();
        });
        let (port, server) = receiver.recv().unwrap();
        TestApp {
            address: format!("http://127.0.0.1:{port}"),
            client: reqwest::blocking::Client::new(),
            server,
            thread: Some(thread),
            db,
            key,
            key_id,
        }
    }

    /// A client that sends requests with `secret` (`None`: with no `Authorization`).
    pub fn as_key<'a>(&'a self, secret: Option<&'a str>) -> As<'a> {
        As { app: self, secret }
    }

    /// A new key with these scopes, limited to these wallets (none: every wallet); its id and
    /// secret. It works once the service reloads its keys (within a second): this waits.
    pub fn new_key(&self, name: &str, scopes: &[&str], wallets: &[&str]) -> (String, String) {
        let wallets: Vec<i64> = wallets.iter().map(|id| id.parse().unwrap()).collect();
        let (created, secret) = create_key(&mut self.db.connect(), name, scopes, &wallets);
        self.wait_for_key(&secret);
        (created.id.to_string(), secret)
    }

    /// Waits until the service accepts `secret` (it reloads its keys every 500 ms).
    pub fn wait_for_key(&self, secret: &str) {
        let started = std::time::Instant::now();
        while self.as_key(Some(secret)).get("/health").status != 200
            || self
                .as_key(Some(secret))
                .send("GET", "/wallets?page[size]=1", &[("Accept", JSONAPI)], None)
                .status
                == 401
        {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(5),
                "the service did not take a new key within 5 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{}", self.address, path)
        }
    }

    /// Sends a request with exactly these headers and body (and the test key's
    /// `Authorization`, unless the headers name one); validates the reply.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Reply {
        self.send_as(Some(&self.key), method, path, headers, body)
    }

    fn send_as(
        &self,
        secret: Option<&str>,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Reply {
        let mut request = self.client.request(method.parse().unwrap(), self.url(path));
        let names_its_own = headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("authorization"));
        if let (Some(secret), false) = (secret, names_its_own) {
            request = request.bearer_auth(secret);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            let content_type = headers.get("content-type").and_then(|v| v.to_str().ok());
            assert!(
                content_type == Some(JSONAPI) || content_type == Some(ATOMIC),
                "every response with a body is JSON:API; got {content_type:?}: {text}"
            );
            let body: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("response is not JSON ({e}): {text}"));
            if content_type == Some(ATOMIC) {
                assert_atomic(&body);
            } else {
                assert_jsonapi(&body);
            }
            body
        };
        let content_type = headers.get("content-type").and_then(|v| v.to_str().ok());
        assert_documented(method, path, status, content_type, &body);
        if status == 204 {
            assert!(text.is_empty(), "204 has no body");
        }
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    /// The client as the test key (what `get`, `post`, ... send through).
    fn admin(&self) -> As<'_> {
        self.as_key(Some(&self.key))
    }

    /// POST /operations with these operations, as the Atomic Operations extension asks.
    pub fn operations(&self, operations: Value) -> Reply {
        self.admin().operations(operations)
    }

    /// A GET of something that is not JSON:API: status, content type and text.
    pub fn raw_get(&self, path: &str) -> (u16, String, String) {
        let response = self
            .client
            .get(self.url(path))
            .bearer_auth(&self.key)
            .send()
            .unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map_or(String::new(), |v| v.to_str().unwrap().to_string());
        (status, content_type, response.text().unwrap())
    }

    /// One series of `/metrics` (`name{labels}`): its value, 0 when absent.
    pub fn metric(&self, series: &str) -> f64 {
        self.raw_get("/metrics")
            .2
            .lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    pub fn get(&self, path: &str) -> Reply {
        self.admin().get(path)
    }

    pub fn post(&self, path: &str, document: Value) -> Reply {
        self.admin().post(path, document)
    }

    pub fn patch(&self, path: &str, document: Value) -> Reply {
        self.admin().patch(path, document)
    }

    pub fn delete(&self, path: &str) -> Reply {
        self.admin().delete(path)
    }

    /// Creates a wallet over the API; returns its id.
    pub fn create_wallet(&self, label: &str) -> String {
        let reply = self.post(
            "/wallets",
            json!({"data": {"type": "wallets", "attributes": {"label": label}}}),
        );
        reply.expect(201);
        reply.body["data"]["id"].as_str().unwrap().to_string()
    }

    /// Books a transaction over the API.
    pub fn book(&self, wallet: &str, txid: &str, amount: &str) -> Reply {
        self.admin().book(wallet, txid, amount)
    }

    /// A wallet's balance as the API shows it.
    pub fn balance(&self, wallet: &str) -> String {
        let reply = self.get(&format!("/wallets/{wallet}"));
        reply.expect(200);
        reply.body["data"]["attributes"]["balance"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

impl TestApp {
    /// Stops the server at once (a graceful stop would wait for the client's keep-alive
    /// connections).
    fn stop(&mut self) {
        actix_web::rt::System::new().block_on(self.server.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The name of the key every test's client sends.
pub const TEST_KEY: &str = "test-admin";

/// A key made as `wallet-api keys create` makes one: its row and its secret.
pub fn create_key(
    conn: &mut diesel::PgConnection,
    name: &str,
    scopes: &[&str],
    wallets: &[i64],
) -> (ApiKey, String) {
    let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
    let new = NewApiKey {
        name: KeyName::parse(name).unwrap(),
        scopes: Scopes::parse(&scopes).unwrap(),
        wallet_ids: (!wallets.is_empty()).then(|| wallets.to_vec()),
        expires_at: None,
    };
    ApiKey::create(conn, &new).unwrap()
}

/// The test app's client, sending another key's secret (or none).
pub struct As<'a> {
    app: &'a TestApp,
    secret: Option<&'a str>,
}

impl As<'_> {
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Reply {
        self.app.send_as(self.secret, method, path, headers, body)
    }

    pub fn get(&self, path: &str) -> Reply {
        self.send("GET", path, &[("Accept", JSONAPI)], None)
    }

    pub fn post(&self, path: &str, document: Value) -> Reply {
        self.send(
            "POST",
            path,
            &[("Content-Type", JSONAPI), ("Accept", JSONAPI)],
            Some(document.to_string()),
        )
    }

    pub fn patch(&self, path: &str, document: Value) -> Reply {
        self.send(
            "PATCH",
            path,
            &[("Content-Type", JSONAPI), ("Accept", JSONAPI)],
            Some(document.to_string()),
        )
    }

    pub fn delete(&self, path: &str) -> Reply {
        self.send("DELETE", path, &[("Accept", JSONAPI)], None)
    }

    pub fn operations(&self, operations: Value) -> Reply {
        self.send(
            "POST",
            "/operations",
            &[("Content-Type", ATOMIC), ("Accept", ATOMIC)],
            Some(json!({"atomic:operations": operations}).to_string()),
        )
    }

    pub fn book(&self, wallet: &str, txid: &str, amount: &str) -> Reply {
        self.post("/transactions", transaction_document(wallet, txid, amount))
    }
}

/// How many bookings shared a database transaction with another one: the journal records
/// each change's PostgreSQL transaction id.
pub fn booked_together(app: &TestApp) -> i64 {
    super::sql::scalar(
        &mut app.db.connect(),
        "SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM balance_changes \
         WHERE operation = 'insert' GROUP BY database_xid HAVING count(*) > 1) shared",
    )
    .parse()
    .unwrap()
}

/// Holds a wallet's row locked in an open transaction until dropped: requests that book
/// into it wait, and pile up.
pub struct RowLock(diesel::PgConnection);

impl RowLock {
    pub fn wallet(app: &TestApp, wallet: &str) -> RowLock {
        let mut conn = app.db.connect();
        super::sql::exec(
            &mut conn,
            &format!("BEGIN; SELECT 1 FROM wallets WHERE id = {wallet} FOR UPDATE"),
        );
        RowLock(conn)
    }
}

impl Drop for RowLock {
    fn drop(&mut self) {
        let _ = diesel::connection::SimpleConnection::batch_execute(&mut self.0, "COMMIT");
    }
}
