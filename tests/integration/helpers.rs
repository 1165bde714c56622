//! Test support: a fresh database per test (copied from a migrated template), the service
//! started on it on a free port, and an HTTP client that checks every response body against
//! the official JSON:API schema.
//!
//! Needs `DATABASE_URL` (set by `make test`) naming a database on a server where the user
//! may create databases. Every test database is audited when the test ends: a test whose
//! balances do not add up fails even if its own assertions passed.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::contract::assert_documented;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_query;
use serde_json::{Value, json};
use wallet_api::config::{Config, Limits};
use wallet_api::db;
use wallet_api::models::wallet::audit_balances;
use wallet_api::startup::Application;

/// `url` with its database name replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("DATABASE_URL is a URL");
    let (before_query, query) = match rest.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (rest, None),
    };
    let authority = before_query.split('/').next().unwrap_or_default();
    let mut out = format!("{scheme}://{authority}/{name}");
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// `url` logging in as `user` with `password` instead of its own user.
pub fn with_user(url: &str, user: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("DATABASE_URL is a URL");
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    format!("{scheme}://{user}:{password}@{host}{tail}")
}

fn base_url() -> String {
    std::env::var("DATABASE_URL").expect("DATABASE_URL must be set: run the tests with `make test`")
}

fn admin_connection() -> PgConnection {
    let url = with_database(&base_url(), "postgres");
    PgConnection::establish(&url).unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"))
}

/// The name of the template for the current migrations: a change of any migration makes a
/// new one.
fn template_name() -> String {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
    let mut files: Vec<std::path::PathBuf> = walk(std::path::Path::new(root));
    files.sort();
    let mut hasher = DefaultHasher::new();
    for file in files {
        file.strip_prefix(root).unwrap().hash(&mut hasher);
        std::fs::read(&file).unwrap().hash(&mut hasher);
    }
    format!("wallet_api_tpl_{:016x}", hasher.finish())
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Creates the migrated template once; test processes running at once agree through an
/// advisory lock.
fn template() -> &'static str {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let name = template_name();
        let mut admin = admin_connection();
        sql_query("SELECT pg_advisory_lock(727001)")
            .execute(&mut admin)
            .unwrap();
        let found: i64 = sql_query(format!(
            "SELECT count(*) AS n FROM pg_database WHERE datname = '{name}'"
        ))
        .get_result::<Count>(&mut admin)
        .unwrap()
        .n;
        if found == 0 {
            // Templates of earlier migrations are of no more use.
            let stale: Vec<Name> = sql_query(format!(
                "SELECT datname::text AS name FROM pg_database \
                 WHERE datname LIKE 'wallet\\_api\\_tpl\\_%' AND datname <> '{name}'"
            ))
            .load(&mut admin)
            .unwrap();
            for old in stale {
                let _ =
                    sql_query(format!("DROP DATABASE IF EXISTS {}", old.name)).execute(&mut admin);
            }
            let building = format!("{name}_building");
            sql_query(format!("DROP DATABASE IF EXISTS {building}"))
                .execute(&mut admin)
                .unwrap();
            sql_query(format!("CREATE DATABASE {building}"))
                .execute(&mut admin)
                .unwrap();
            {
                let mut conn =
                    PgConnection::establish(&with_database(&base_url(), &building)).unwrap();
                db::run_migrations(&mut conn).unwrap();
            }
            sql_query(format!("ALTER DATABASE {building} RENAME TO {name}"))
                .execute(&mut admin)
                .unwrap();
        }
        sql_query("SELECT pg_advisory_unlock(727001)")
            .execute(&mut admin)
            .unwrap();
        name
    })
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::Int8)]
    n: i64,
}

/// A database of its own for one test, migrated, dropped when the test ends.
pub struct TestDb {
    pub name: String,
    pub url: String,
    verify_at_end: bool,
}

impl TestDb {
    /// A database migrated to the current schema.
    pub fn new() -> TestDb {
        TestDb::create(Some(template()))
    }

    /// A database with nothing in it, not even the schema.
    pub fn empty() -> TestDb {
        let mut db = TestDb::create(None);
        db.verify_at_end = false;
        db
    }

    fn create(template: Option<&str>) -> TestDb {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "wallet_api_test_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let mut admin = admin_connection();
        let template = template.map_or(String::new(), |t| format!(" TEMPLATE {t}"));
        sql_query(format!("CREATE DATABASE {name}{template}"))
            .execute(&mut admin)
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        TestDb {
            url: with_database(&base_url(), &name),
            name,
            verify_at_end: true,
        }
    }

    pub fn connect(&self) -> PgConnection {
        PgConnection::establish(&self.url).unwrap()
    }

    /// For tests that corrupt balances on purpose.
    pub fn skip_final_verify(&mut self) {
        self.verify_at_end = false;
    }

    /// Stands in for a database moved elsewhere: dropping it does nothing.
    fn placeholder() -> TestDb {
        TestDb {
            name: String::new(),
            url: String::new(),
            verify_at_end: false,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.name.is_empty() {
            return;
        }
        if self.verify_at_end && !std::thread::panicking() {
            let problems = audit_balances(&mut self.connect()).unwrap();
            assert!(
                problems.is_empty(),
                "wallet_balance_audit is not empty at the end of the test: {problems:?}"
            );
        }
        let _ = sql_query(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut admin_connection());
    }
}

/// Runs SQL, panicking with the database's message on failure.
pub fn exec(conn: &mut PgConnection, sql: &str) {
    conn.batch_execute(sql)
        .unwrap_or_else(|e| panic!("{sql}\nfailed: {e}"));
}

/// Runs SQL that must fail; returns the error.
pub fn exec_err(conn: &mut PgConnection, sql: &str) -> diesel::result::Error {
    match conn.batch_execute(sql) {
        Ok(()) => panic!("{sql}\nsucceeded, but should have failed"),
        Err(e) => e,
    }
}

#[derive(QueryableByName, Debug)]
struct Text {
    #[diesel(sql_type = diesel::sql_types::Text)]
    value: String,
}

/// The first column of the first row of `sql`, as text.
pub fn scalar(conn: &mut PgConnection, sql: &str) -> String {
    sql_query(format!("SELECT ({sql})::text AS value"))
        .get_result::<Text>(conn)
        .unwrap_or_else(|e| panic!("{sql}\nfailed: {e}"))
        .value
}

/// A wallet's balance as text with 18 decimals.
pub fn balance(conn: &mut PgConnection, wallet: i64) -> String {
    scalar(
        conn,
        &format!("SELECT balance FROM wallets WHERE id = {wallet}"),
    )
}

/// Creates a wallet; returns its id.
pub fn wallet(conn: &mut PgConnection, label: &str) -> i64 {
    wallets(conn, &[label])[0]
}

/// Books one transaction with a plain SQL INSERT, as a SQL user would.
pub fn book(conn: &mut PgConnection, wallet: i64, txid: &str, amount: &str) {
    exec(
        conn,
        &format!(
            "INSERT INTO transactions (wallet_id, txid, amount) VALUES ({wallet}, '{txid}', {amount})"
        ),
    );
}

/// Creates wallets with these labels; returns their ids.
pub fn wallets(conn: &mut PgConnection, labels: &[&str]) -> Vec<i64> {
    use wallet_api::schema::wallets;
    labels
        .iter()
        .map(|label| {
            diesel::insert_into(wallets::table)
                .values(wallets::label.eq(*label))
                .returning(wallets::id)
                .get_result(conn)
                .unwrap()
        })
        .collect()
}

/// Runs `clients` threads at once: each prepares (connects, say), all wait until every one
/// is ready, then each acts. Returns what each one's `act` returned, in client order.
pub fn all_at_once<S, T: Send>(
    clients: usize,
    prepare: impl Fn(usize) -> S + Sync,
    act: impl Fn(usize, S) -> T + Sync,
) -> Vec<T> {
    let ready = std::sync::Barrier::new(clients);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|client| {
                let (ready, prepare, act) = (&ready, &prepare, &act);
                scope.spawn(move || {
                    let prepared = prepare(client);
                    ready.wait();
                    act(client, prepared)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .collect()
    })
}

// ---------------------------------------------------------------------------------------
// The service over HTTP

static SCHEMA: OnceLock<jsonschema::Validator> = OnceLock::new();

/// The official JSON:API schema (tests/fixtures/jsonapi-schema.json).
fn schema() -> &'static jsonschema::Validator {
    SCHEMA.get_or_init(|| {
        let text = include_str!("../fixtures/jsonapi-schema.json");
        let schema: Value = serde_json::from_str(text).unwrap();
        jsonschema::validator_for(&schema).expect("the JSON:API schema compiles")
    })
}

/// Panics unless `body` is a valid JSON:API document.
pub fn assert_jsonapi(body: &Value) {
    let errors: Vec<String> = schema()
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if !errors.is_empty() {
        let text: String = body.to_string().chars().take(3000).collect();
        panic!("not a valid JSON:API document: {errors:?}\n{text}");
    }
}

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

/// The service, started on its own database.
pub struct TestApp {
    pub address: String,
    client: reqwest::blocking::Client,
    server: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
    pub db: TestDb,
}

pub const JSONAPI: &str = "application/vnd.api+json";
pub const ATOMIC: &str = "application/vnd.api+json; ext=\"https://jsonapi.org/ext/atomic\"";
pub const ATOMIC_URI: &str = "https://jsonapi.org/ext/atomic";

/// Panics unless `body` is a document of the Atomic Operations extension. The official
/// schema predates JSON:API 1.1 and its extensions, so the document's own shape is checked
/// here and every part the base specification defines (each result's data, the errors)
/// against the schema.
pub fn assert_atomic(body: &Value) {
    let top = body.as_object().expect("a document is an object");
    assert_eq!(body["jsonapi"]["ext"], json!([ATOMIC_URI]), "{body}");
    for member in top.keys() {
        assert!(
            ["atomic:results", "errors", "links", "jsonapi", "meta"].contains(&member.as_str()),
            "member {member} in {body}"
        );
    }
    assert!(
        top.contains_key("atomic:results") != top.contains_key("errors"),
        "results or errors, not both: {body}"
    );
    let mut base = body.clone();
    base["jsonapi"] = json!({"version": "1.1"});
    if let Some(results) = base.as_object_mut().unwrap().remove("atomic:results") {
        for result in results.as_array().expect("atomic:results is an array") {
            let result = result.as_object().expect("a result is an object");
            assert!(result.keys().all(|k| k == "data" || k == "meta"), "{body}");
            if let Some(data) = result.get("data") {
                assert_jsonapi(&json!({"data": data}));
            }
        }
    } else {
        assert_jsonapi(&base);
    }
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
            database_url: db.url.clone(),
            host: "127.0.0.1".to_string(),
            port: 0,
            pool_size: Some(4),
            workers: Some(1),
            base_url: None,
            idempotency_ttl: std::time::Duration::from_secs(24 * 3600),
            limits: Limits::default(),
            // make test runs the suite both ways: TEST_COALESCE=off for the second run.
            coalesce: std::env::var("TEST_COALESCE").as_deref() != Ok("off"),
            coalesce_max_batch: 64,
            coalesce_runners: Some(3),
        }
    }

    /// Stops this server and starts another on the same database.
    pub fn restart(mut self) -> TestApp {
        self.stop();
        let db = std::mem::replace(&mut self.db, TestDb::placeholder());
        let config = TestApp::config(&db);
        TestApp::start(db, config)
    }

    fn start(db: TestDb, config: Config) -> TestApp {
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
        }
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{}", self.address, path)
        }
    }

    /// Sends a request with exactly these headers and body; validates the reply.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Reply {
        let mut request = self.client.request(method.parse().unwrap(), self.url(path));
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

    /// POST /operations with these operations, as the Atomic Operations extension asks.
    pub fn operations(&self, operations: Value) -> Reply {
        self.send(
            "POST",
            "/operations",
            &[("Content-Type", ATOMIC), ("Accept", ATOMIC)],
            Some(json!({"atomic:operations": operations}).to_string()),
        )
    }

    /// A GET of something that is not JSON:API: status, content type and text.
    pub fn raw_get(&self, path: &str) -> (u16, String, String) {
        let response = self.client.get(self.url(path)).send().unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map_or(String::new(), |v| v.to_str().unwrap().to_string());
        (status, content_type, response.text().unwrap())
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
        self.post("/transactions", transaction_document(wallet, txid, amount))
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

pub fn transaction_document(wallet: &str, txid: &str, amount: &str) -> Value {
    json!({"data": {
        "type": "transactions",
        "attributes": {"txid": txid, "amount": amount},
        "relationships": {"wallet": {"data": {"type": "wallets", "id": wallet}}}
    }})
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
