//! Bounded waits and hostile input: every request gets an answer in bounded time, and no
//! input gets a 500.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::helpers::*;

/// Holds `LOCK TABLE wallets IN ACCESS EXCLUSIVE MODE` in an open transaction until dropped.
struct TableLock(diesel::PgConnection);

impl TableLock {
    fn wallets(app: &TestApp) -> TableLock {
        let mut conn = app.db.connect();
        exec(
            &mut conn,
            "BEGIN; LOCK TABLE wallets IN ACCESS EXCLUSIVE MODE",
        );
        TableLock(conn)
    }
}

impl Drop for TableLock {
    fn drop(&mut self) {
        exec(&mut self.0, "ROLLBACK");
    }
}

fn timed<T>(work: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let out = work();
    (out, started.elapsed())
}

#[test]
fn a_locked_table_answers_503_within_the_lock_timeout_and_other_reads_go_on() {
    let app = TestApp::spawn_with(|config| {
        config.limits.lock_timeout = Duration::from_millis(300);
    });
    let wallet = app.create_wallet("w");
    app.book(&wallet, "t1", "5").expect(201);
    let lock = TableLock::wallets(&app);

    let (reply, took) = timed(|| app.get(&format!("/wallets/{wallet}")));
    reply.expect_error(503, "database-timeout", None);
    assert_eq!(reply.header("retry-after"), Some("1"));
    assert!(took < Duration::from_secs(3), "took {took:?}");
    let (reply, _) = timed(|| app.book(&wallet, "t2", "1"));
    reply.expect_error(503, "database-timeout", None);

    // API keys are read without the wallets table; health needs no table at all.
    app.get("/api-keys").expect(200);
    let (health, took) = timed(|| app.get("/health"));
    health.expect(200);
    assert!(took < Duration::from_secs(1), "health took {took:?}");
    eprintln!("/health with the wallets table locked: {took:?}");

    drop(lock);
    app.book(&wallet, "t2", "1").expect(201);
    assert_eq!(app.balance(&wallet), "6.000000000000000000");
}

#[test]
fn past_the_queue_bound_requests_are_shed_at_once() {
    let app = TestApp::spawn_with(|config| {
        config.pool_size = Some(1);
        config.limits.max_waiting = Some(1);
        config.limits.lock_timeout = Duration::from_secs(2);
    });
    let wallet = app.create_wallet("w");
    let lock = TableLock::wallets(&app);
    let path = format!("/wallets/{wallet}");
    // One request holds the connection (waiting on the lock), one waits for it; the rest
    // are turned away.
    let replies = all_at_once(6, |_| (), |_, ()| timed(|| app.get(&path)));
    drop(lock);
    let shed: Vec<_> = replies
        .iter()
        .filter(|(reply, _)| reply.status == 503 && reply.error()["code"] == "busy")
        .collect();
    assert!(
        shed.len() >= 3,
        "{:?}",
        replies.iter().map(|r| r.0.status).collect::<Vec<_>>()
    );
    for (reply, took) in shed {
        assert_eq!(reply.header("retry-after"), Some("1"));
        assert!(*took < Duration::from_millis(1500), "shed after {took:?}");
    }
    let metrics = app.raw_get("/metrics").2;
    assert!(
        metrics.contains("wallet_api_requests_shed_total"),
        "{metrics}"
    );
}

#[test]
fn a_body_that_never_arrives_gets_a_408_and_the_connection_is_closed() {
    let app = TestApp::spawn_with(|config| {
        config.limits.body_timeout = Duration::from_millis(300);
    });
    let address = app.address.trim_start_matches("http://").to_string();
    let mut stream = TcpStream::connect(&address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST /wallets HTTP/1.1\r\nHost: {address}\r\nContent-Type: {JSONAPI}\r\n\
         Authorization: Bearer {}\r\nContent-Length: 1000\r\n\r\n{{\"data\":",
        app.key
    )
    .unwrap();
    let started = Instant::now();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.to_lowercase().contains("connection: close"),
        "{answer}"
    );
    assert!(answer.contains("body-timeout"), "{answer}");
    assert_eq!(app.get("/wallets").body["data"], json!([]));
}

#[test]
fn a_head_that_never_ends_is_closed() {
    let app = TestApp::spawn_with(|config| {
        config.limits.head_timeout = Duration::from_millis(300);
    });
    let address = app.address.trim_start_matches("http://").to_string();
    let mut stream = TcpStream::connect(&address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(stream, "GET /wallets HTTP/1.1\r\nHost: {address}\r\n").unwrap();
    let mut answer = String::new();
    let (_, took) = timed(|| stream.read_to_string(&mut answer));
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
}

#[test]
fn what_postgresql_cannot_compare_is_a_400_naming_the_parameter() {
    let app = TestApp::spawn();
    let digits = "1".repeat(16_384);
    let cases = [
        ("a NUL", ("filter[label]=%00".to_string(), "filter[label]")),
        (
            "a NUL in a prefix",
            (
                "filter[label.startswith]=a%00b".to_string(),
                "filter[label.startswith]",
            ),
        ),
        (
            "a date before the Julian epoch",
            (
                "filter[createdAt]=-4713-11-23".to_string(),
                "filter[createdAt]",
            ),
        ),
        (
            "16,384 fraction digits",
            (format!("filter[balance]=0.{digits}"), "filter[balance]"),
        ),
        (
            "an exponent past numeric's range",
            (
                "filter[balance.gt]=1e131072".to_string(),
                "filter[balance.gt]",
            ),
        ),
        (
            "a negative exponent past numeric's scale",
            ("filter[balance]=1e-20000".to_string(), "filter[balance]"),
        ),
        (
            "a page number past u64",
            (
                "page[number]=18446744073709551615".to_string(),
                "page[number]",
            ),
        ),
        (
            "a seventeen-digit page number",
            ("page[number]=92233720368547759".to_string(), "page[number]"),
        ),
        (
            "an exponent past the bound",
            (
                "filter[balance.gt]=1e99999".to_string(),
                "filter[balance.gt]",
            ),
        ),
    ];
    each(cases, |(query, parameter)| {
        let reply = app.get(&format!("/wallets?{query}"));
        assert_eq!(reply.status, 400, "{query}: {:#}", reply.body);
        assert_eq!(reply.error()["source"]["parameter"], parameter, "{query}");
        let detail = reply.error()["detail"].as_str().unwrap();
        assert!(
            detail.len() < 500,
            "the detail does not echo the value back: {detail}"
        );
    });
    app.get("/wallets?filter[balance.lt]=1e9999").expect(200);
}

#[test]
fn what_one_query_may_ask_of_the_database_is_bounded() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("w");
    app.book(&wallet, "t-1", "5").expect(201);
    let ids = |n: usize| (1..=n).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
    // A value longer than the field holds could never match: a 400 at once, not a scan of
    // every row until the statement timeout.
    let long = "a".repeat(17_000);
    let cases = [
        (
            "a substring longer than the column",
            (
                format!("filter[txid.icontains]={long}"),
                "filter[txid.icontains]",
                "255 characters",
            ),
        ),
        (
            "a prefix longer than the column",
            (
                format!("filter[txid.startswith]={long}"),
                "filter[txid.startswith]",
                "255 characters",
            ),
        ),
        (
            "a value one past the column",
            (
                format!("filter[txid]={}", "a".repeat(256)),
                "filter[txid]",
                "255 characters",
            ),
        ),
        (
            "one of several values past the column",
            (
                format!("filter[txid]=x,{}", "a".repeat(256)),
                "filter[txid]",
                "255 characters",
            ),
        ),
        (
            "101 fraction digits",
            (
                format!("filter[amount.gt]=0.{}", "1".repeat(101)),
                "filter[amount.gt]",
                "100 digits",
            ),
        ),
        (
            "101 values",
            (
                format!("filter[id]={}", ids(101)),
                "filter[id]",
                "100 values",
            ),
        ),
        (
            "a page past the last allowed",
            ("page[number]=10001".to_string(), "page[number]", "10000"),
        ),
    ];
    each(cases, |(query, parameter, bound)| {
        let started = std::time::Instant::now();
        let reply = app.get(&format!("/transactions?{query}"));
        let detail = reply.expect_bad_parameter(parameter, bound);
        assert!(
            detail.len() < 500,
            "the detail does not echo the value back: {detail}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{parameter}"
        );
    });
    // At the bounds, answered.
    for query in [
        format!("filter[txid.icontains]={}", "a".repeat(255)),
        format!("filter[txid]={}", ["t-1"; 100].join(",")),
        format!("filter[id]={}", ids(100)),
        format!("filter[amount.gt]=0.{}", "1".repeat(100)),
        "page[number]=10000".to_string(),
    ] {
        app.get(&format!("/transactions?{query}")).expect(200);
    }
    assert_eq!(
        app.get("/transactions?filter[txid]=x,t-1").body["data"][0]["attributes"]["txid"],
        "t-1"
    );
}

#[test]
fn a_cursor_carrying_a_nul_is_refused() {
    let app = TestApp::spawn();
    app.create_wallet("a");
    app.create_wallet("b");
    let first = app.get("/wallets?sort=label&page[size]=1");
    let next = first.body["links"]["next"].as_str().unwrap().to_string();
    let cursor = next
        .split("page%5Bafter%5D=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(cursor).unwrap()).unwrap();
    payload["v"][0] = json!("a\u{0}");
    let forged = URL_SAFE_NO_PAD.encode(payload.to_string());
    app.get(&format!(
        "/wallets?sort=label&page[size]=1&page[after]={forged}"
    ))
    .expect_error(
        400,
        "invalid-query-parameter",
        Some(("parameter", "page[after]")),
    );
}

#[test]
fn a_related_resource_that_is_gone_is_a_404() {
    let mut app = TestApp::spawn();
    let wallet = app.create_wallet("w");
    let reply = app.book(&wallet, "t1", "1");
    let transaction = reply.body["data"]["id"].as_str().unwrap().to_string();
    // What a race would leave between two reads: the row points at a wallet that is gone
    // (written here with the triggers and foreign keys off).
    let mut admin = app.db.connect();
    exec(
        &mut admin,
        &format!(
            "SET session_replication_role = replica; \
             DELETE FROM wallets WHERE id = {wallet}"
        ),
    );
    app.db.skip_final_verify();
    app.get(&format!("/transactions/{transaction}/wallet"))
        .expect_error(404, "wallet-not-found", None);
}

#[test]
fn a_bug_is_a_500_with_an_error_id() {
    let app = TestApp::spawn();
    // A constraint the service knows nothing of: the API cannot have checked for it.
    exec(
        &mut app.db.connect(),
        "ALTER TABLE wallets ADD CONSTRAINT label_not_x CHECK (label <> 'x')",
    );
    let reply = app.post(
        "/wallets",
        json!({"data": {"type": "wallets", "attributes": {"label": "x"}}}),
    );
    reply.expect_error(500, "internal-error", None);
    let id = reply.error()["id"].as_str().unwrap();
    assert!(reply.error()["detail"].as_str().unwrap().contains(id));
}

#[test]
fn a_server_error_is_known_by_its_request_id() {
    let app = TestApp::spawn();
    exec(
        &mut app.db.connect(),
        "ALTER TABLE wallets ADD CONSTRAINT label_not_x CHECK (label <> 'x')",
    );
    let document = json!({"data": {"type": "wallets", "attributes": {"label": "x"}}}).to_string();
    // Coalesced or alone, its own id or one the server made: the error's id is the request's.
    for sent in [Some("support-case-1234"), None] {
        let mut headers = vec![("Content-Type", JSONAPI), ("Accept", JSONAPI)];
        if let Some(id) = sent {
            headers.push(("X-Request-Id", id));
        }
        let reply = app.send("POST", "/wallets", &headers, Some(document.clone()));
        reply.expect_error(500, "internal-error", None);
        let echoed = reply.header("x-request-id").unwrap().to_string();
        assert_eq!(reply.error()["id"], echoed, "{:#}", reply.body);
        if let Some(id) = sent {
            assert_eq!(echoed, id);
        }
    }
    // A request id nobody could log safely is replaced.
    let reply = app.send(
        "GET",
        "/wallets",
        &[("Accept", JSONAPI), ("X-Request-Id", "no spaces allowed")],
        None,
    );
    reply.expect(200);
    let echoed = reply.header("x-request-id").unwrap();
    assert!(
        echoed.len() == 32 && echoed.bytes().all(|b| b.is_ascii_hexdigit()),
        "{echoed}"
    );
}

#[test]
fn health_live_and_metrics_are_served() {
    let app = TestApp::spawn();
    let live = app.get("/health/live");
    live.expect(200);
    assert_eq!(live.body["meta"]["status"], "ok");
    let health = app.get("/health");
    assert_eq!(health.body["meta"]["pool"]["max"], 4);
    app.get("/wallets/1").expect(404);

    let (status, content_type, text) = app.raw_get("/metrics");
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    for expected in [
        r#"wallet_api_http_requests_total{method="GET",route="/wallets/{id}",status="404"}"#,
        r#"wallet_api_http_request_duration_seconds_bucket{method="GET",route="/health""#,
        r#"wallet_api_database_pool_connections{state="max"} 4"#,
        r#"wallet_api_database_pool_connections{state="waiting"} 0"#,
    ] {
        assert!(text.contains(expected), "{expected} not in\n{text}");
    }

    let (status, content_type, text) = app.raw_get("/openapi.json");
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    let document: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
}
