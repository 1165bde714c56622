//! The service over HTTP: started on its own database, and a client that checks every
//! response it gets (JSON:API, the document schema, the OpenAPI contract).

use serde_json::{Value, json};
use wallet_api::config::{Config, Limits};
use wallet_api::startup::Application;

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
