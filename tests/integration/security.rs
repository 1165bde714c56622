//! Access control that cannot be walked around, and a health check that tells the truth
//! (issue "defects found testing the landed product"): every spelling of a path checked as
//! the route it reaches, keys that work at once, failed authentications limited and counted,
//! the service's role unable to rewrite what it must not, metrics for operators, one
//! deadline per request.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wallet_api::api::routes::table;

use crate::helpers::*;

/// A request sent byte for byte as given (no client library normalises its path): its
/// status.
fn raw_status(app: &TestApp, method: &str, path: &str, secret: Option<&str>) -> u16 {
    let address = app.address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let body = if matches!(method, "POST" | "PATCH") {
        "{}"
    } else {
        ""
    };
    let authorization = secret.map_or(String::new(), |secret| {
        format!("Authorization: Bearer {secret}\r\n")
    });
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nAccept: application/vnd.api+json\r\n\
         Content-Type: application/vnd.api+json\r\n{authorization}Content-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
        .split(' ')
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or_else(|| panic!("no status for {method} {path}: {response:?}"))
}

/// Every other way of writing `path` that names the same URL.
fn spellings(path: &str) -> Vec<(&'static str, String)> {
    let encode_all = |upper: bool| -> String {
        path.split('/')
            .map(|segment| {
                segment
                    .bytes()
                    .map(|byte| {
                        if upper {
                            format!("%{byte:02X}")
                        } else {
                            format!("%{byte:02x}")
                        }
                    })
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("/")
    };
    let mut forms = vec![
        ("every character encoded", encode_all(true)),
        ("lower-case hex", encode_all(false)),
        ("doubled slashes", path.replace('/', "//")),
        ("a trailing slash", format!("{path}/")),
        ("dot segments", path.replace('/', "/./")),
        ("a dot-dot segment", format!("/zz/..{path}")),
        ("encoded dot segments", format!("/zz/%2E%2E/%2e{path}")),
        ("the first character encoded", {
            let first = path.as_bytes()[1];
            format!("/%{first:02X}{}", &path[2..])
        }),
    ];
    // An encoded slash before the last segment (an id, or what follows one).
    if let Some(at) = path.rfind('/').filter(|&at| at > 0) {
        forms.push((
            "an encoded slash",
            format!("{}%2F{}", &path[..at], &path[at + 1..]),
        ));
    }
    forms
}

#[test]
fn no_spelling_of_a_path_reaches_a_handler_past_another_routes_check() {
    let app = TestApp::spawn();
    let mine = app.create_wallet("mine");
    let theirs = app.create_wallet("theirs");
    let booked = app.book(&mine, "t-1", "10");
    booked.expect(201);
    let transaction = booked.body["data"]["id"].as_str().unwrap().to_string();
    app.book(&theirs, "t-2", "10").expect(201);
    let hold = app.post(
        "/holds",
        json!({"data": {"type": "holds", "attributes": {"amount": "1"},
            "relationships": {"wallet": {"data": {"type": "wallets", "id": mine}}}}}),
    );
    hold.expect(201);
    let hold = hold.body["data"]["id"].as_str().unwrap().to_string();
    let transfer = app.post(
        "/transfers",
        json!({"data": {"type": "transfers", "attributes": {"txid": "t-3", "amount": "1"},
            "relationships": {"source": {"data": {"type": "wallets", "id": mine}},
                              "destination": {"data": {"type": "wallets", "id": theirs}}}}}),
    );
    transfer.expect(201);
    let transfer = transfer.body["data"]["id"].as_str().unwrap().to_string();
    let monitor = app.post(
        "/balance-monitors",
        json!({"data": {"type": "balance-monitors",
            "attributes": {"field": "balance", "operator": "lt", "amount": "5"},
            "relationships": {"wallet": {"data": {"type": "wallets", "id": mine}}}}}),
    );
    monitor.expect(201);
    let monitor = monitor.body["data"]["id"].as_str().unwrap().to_string();
    let (exchange, _, _) = crate::exchanges::one_exchange(&app);
    let change = app.get(&format!("/wallets/{mine}/balance-changes")).body["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (endpoint, delivery) = crate::webhooks::one_webhook_delivery(&app);
    let (reader_id, reader) = app.new_key("reader", &["read"], &[]);
    let (_, writer) = app.new_key("writer", &["write"], &[]);
    let (_, limited) = app.new_key("limited", &["read", "write"], &[&mine]);
    let keys: [(&str, Option<&str>); 5] = [
        ("no key", None),
        ("read", Some(&reader)),
        ("write", Some(&writer)),
        ("admin", Some(&app.key)),
        ("wallet-limited", Some(&limited)),
    ];
    let id_of = |template: &str| match template.split('/').nth(1) {
        Some("wallets") => mine.clone(),
        Some("transactions") => transaction.clone(),
        Some("holds") => hold.clone(),
        Some("balance-changes") => change.clone(),
        Some("api-keys") => reader_id.clone(),
        Some("currencies") => "USD".to_string(),
        Some("transfers") => transfer.clone(),
        Some("exchanges") => exchange.clone(),
        Some("events") => "1".to_string(),
        Some("balance-monitors") => monitor.clone(),
        Some("webhook-endpoints") => endpoint.clone(),
        Some("webhook-deliveries") => delivery.clone(),
        other => panic!("no id for {other:?}"),
    };
    let mut differences = Vec::new();
    let mut checked = 0;
    for endpoint in table() {
        let method = endpoint.method.as_str();
        // A write names a row that is not there, so that running it changes nothing and
        // the same request can be sent again in each spelling.
        let path = if !endpoint.path.contains("{id}") {
            endpoint.path.clone()
        } else if method == "GET" {
            endpoint.path.replace("{id}", &id_of(&endpoint.path))
        } else {
            endpoint.path.replace("{id}", "999999")
        };
        for (who, secret) in keys {
            let plain = raw_status(&app, method, &path, secret);
            for (how, spelled) in spellings(&path) {
                let status = raw_status(&app, method, &spelled, secret);
                checked += 1;
                if status != plain {
                    differences.push(format!(
                        "{method} {spelled} ({how}) as {who}: {status}, but {path}: {plain}"
                    ));
                }
            }
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {checked} spellings were answered otherwise than their path:\n{}",
        differences.len(),
        differences.join("\n")
    );
    // The attack of the report, by name: a read key limited to one wallet cannot mint a key.
    let minted = reqwest::blocking::Client::new()
        .post(app.url("/api%2Dkeys"))
        .bearer_auth(&limited)
        .header("Content-Type", JSONAPI)
        .body(
            json!({"data": {"type": "api-keys",
                "attributes": {"name": "minted", "scopes": ["read", "write", "admin"]}}})
            .to_string(),
        )
        .send()
        .unwrap();
    assert_eq!(minted.status(), 403);
    assert_eq!(
        scalar(
            &mut app.db.connect(),
            "SELECT count(*) FROM api_keys WHERE name = 'minted'"
        ),
        "0"
    );
}

#[test]
fn a_key_made_over_the_api_works_at_once_on_every_instance() {
    let app = TestApp::spawn();
    let other = TestApp::spawn_beside(&app);
    for n in 0..5 {
        let created = app.post(
            "/api-keys",
            json!({"data": {"type": "api-keys",
                "attributes": {"name": format!("fresh-{n}"), "scopes": ["read"]}}}),
        );
        created.expect(201);
        let secret = created.body["meta"]["secret"].as_str().unwrap().to_string();
        // The very next request, here and on another instance.
        app.as_key(Some(&secret)).get("/wallets").expect(200);
        other.as_key(Some(&secret)).get("/wallets").expect(200);
    }
}

#[test]
fn a_key_made_on_the_command_line_works_at_once() {
    let app = TestApp::spawn();
    let made = Command::new(env!("CARGO_BIN_EXE_wallet-api"))
        .args(["keys", "create", "--name", "from-cli", "--scope", "read"])
        .env("DATABASE_URL", &app.db.url)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let stdout = String::from_utf8(made.stdout).unwrap();
    let secret = stdout.lines().last().unwrap().trim().to_string();
    app.as_key(Some(&secret)).get("/wallets").expect(200);
    // Revoked on the command line, it stops within a second, as before.
    let revoked = Command::new(env!("CARGO_BIN_EXE_wallet-api"))
        .args(["keys", "revoke", "from-cli"])
        .env("DATABASE_URL", &app.db.url)
        .output()
        .unwrap();
    assert!(revoked.status.success(), "{revoked:?}");
    std::thread::sleep(Duration::from_millis(1100));
    app.as_key(Some(&secret))
        .get("/wallets")
        .expect_error(401, "unauthenticated", None);
}

/// A made-up secret of the right form.
fn made_up(n: usize) -> String {
    format!("wk_{:0>43}", n)
}

#[test]
fn failed_authentications_are_limited_per_address_and_a_working_key_never_is() {
    let app = TestApp::spawn_with(|config| {
        config.auth_failure_limit = 1.0;
        config.auth_failure_burst = 5.0;
    });
    let statuses: Vec<Reply> = (0..20)
        .map(|n| app.as_key(Some(&made_up(n))).get("/wallets"))
        .collect();
    for reply in &statuses[..5] {
        reply.expect_error(401, "unauthenticated", Some(("header", "Authorization")));
    }
    for reply in &statuses[5..] {
        reply.expect_error(429, "authentication-failures-limited", None);
        let wait: u64 = reply.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=2).contains(&wait), "{wait}");
    }
    // The same address with a working key: never held to it.
    for _ in 0..10 {
        app.get("/wallets").expect(200);
    }
    // A request without a key guesses nothing: 401, not limited.
    app.as_key(None)
        .get("/wallets")
        .expect_error(401, "unauthenticated", None);
    assert!(app.metric("wallet_api_authentication_failures_limited_total") >= 15.0);
    // The bucket refills at its rate.
    std::thread::sleep(Duration::from_millis(1100));
    app.as_key(Some(&made_up(99)))
        .get("/wallets")
        .expect_error(401, "unauthenticated", None);
}

#[test]
fn behind_a_trusted_proxy_each_client_has_its_own_budget() {
    let app = TestApp::spawn_with(|config| {
        config.auth_failure_limit = 0.1;
        config.auth_failure_burst = 2.0;
        config.trusted_proxies =
            wallet_api::api::middleware::auth::client::TrustedProxies::parse("127.0.0.1").unwrap();
    });
    let from = |client: &str, n: usize| {
        let secret = format!("Bearer {}", made_up(n));
        app.as_key(None)
            .send(
                "GET",
                "/wallets",
                &[
                    ("Accept", JSONAPI),
                    ("Authorization", &secret),
                    ("X-Forwarded-For", client),
                ],
                None,
            )
            .status
    };
    assert_eq!(
        (0..4).map(|n| from("192.0.2.1", n)).collect::<Vec<_>>(),
        [401, 401, 429, 429]
    );
    // Another client behind the same proxy is not held to the first one's failures, and an
    // address a client writes itself in front of the proxy's is not believed.
    assert_eq!(from("192.0.2.2", 10), 401);
    assert_eq!(from("192.0.2.66, 192.0.2.1", 11), 429);
}

#[test]
fn a_flood_of_bad_secrets_is_logged_as_counts() {
    let db = TestDb::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = Command::new(env!("CARGO_BIN_EXE_wallet-api"))
        .arg("serve")
        .env("DATABASE_URL", &db.service_url)
        .env_remove("MIGRATION_DATABASE_URL")
        .env("PORT", port.to_string())
        .env("AUTH_FAILURE_LIMIT", "0.01")
        .env("AUTH_FAILURE_BURST", "20")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::blocking::Client::new();
    let started = Instant::now();
    while client.get(format!("{base}/health")).send().is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "no server");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut statuses = std::collections::BTreeMap::new();
    for n in 0..300 {
        let status = client
            .get(format!("{base}/wallets"))
            .bearer_auth(made_up(n))
            .send()
            .unwrap()
            .status()
            .as_u16();
        *statuses.entry(status).or_insert(0) += 1;
    }
    for _ in 0..20 {
        client.get(format!("{base}/wallets")).send().unwrap();
    }
    assert_eq!(statuses.get(&401), Some(&20), "{statuses:?}");
    assert_eq!(statuses.get(&429), Some(&280), "{statuses:?}");
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let output = server.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stderr).to_string()
        + &String::from_utf8_lossy(&output.stdout);
    let about_the_flood: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("/wallets") || line.contains("authentication failed"))
        .collect();
    assert_eq!(
        about_the_flood.len(),
        1,
        "one line for 320 refusals:\n{}",
        about_the_flood.join("\n")
    );
    let line = about_the_flood[0];
    assert!(
        line.contains("authentication failed 320 time(s) from 127.0.0.1")
            && line.contains("missing 20")
            && line.contains("unknown 300")
            && line.contains("280 answered 429"),
        "{line}"
    );
}

#[test]
fn concurrent_health_checks_all_see_a_database_that_answers() {
    let app = TestApp::spawn();
    for _ in 0..3 {
        let replies = all_at_once(32, |_| (), |_, ()| app.as_key(None).get("/health"));
        let statuses: Vec<u16> = replies.iter().map(|reply| reply.status).collect();
        assert!(statuses.iter().all(|&status| status == 200), "{statuses:?}");
        let meta = &replies[0].body["meta"];
        assert_eq!(meta["status"], "ok", "{meta:#}");
        assert!(meta["load"]["requests"].as_u64().is_some(), "{meta:#}");
    }
}

#[test]
fn health_says_when_an_instance_sheds_most_of_its_work() {
    let app = TestApp::spawn_with(|config| {
        config.pool_size = Some(1);
        config.limits.max_waiting = Some(1);
        config.limits.lock_timeout = Duration::from_secs(2);
        config.coalesce_reads = false;
    });
    let wallet = app.create_wallet("w");
    let mut lock = app.db.connect();
    exec(
        &mut lock,
        "BEGIN; LOCK TABLE wallets IN ACCESS EXCLUSIVE MODE",
    );
    let path = format!("/wallets/{wallet}");
    let replies = all_at_once(40, |_| (), |_, ()| app.get(&path).status);
    exec(&mut lock, "ROLLBACK");
    let shed = replies.iter().filter(|&&status| status == 503).count();
    assert!(shed >= 30, "{replies:?}");
    let health = app.as_key(None).get("/health");
    // Still 200: its database answers; taking it out would send its load elsewhere.
    health.expect(200);
    let meta = &health.body["meta"];
    assert_eq!(meta["status"], "saturated", "{meta:#}");
    assert!(
        meta["load"]["shedShare"].as_f64().unwrap() >= 0.5,
        "{meta:#}"
    );
    assert_eq!(meta["queue"]["max"], 1, "{meta:#}");
}

#[test]
fn the_service_serves_with_its_own_role_alone_and_cannot_migrate() {
    let serve = |db: &TestDb, port: u16| {
        Command::new(env!("CARGO_BIN_EXE_wallet-api"))
            .arg("serve")
            .env("DATABASE_URL", &db.service_url)
            .env_remove("MIGRATION_DATABASE_URL")
            .env("PORT", port.to_string())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    // A migrated database: it serves.
    let db = TestDb::new();
    let port = free_port();
    let mut server = serve(&db, port);
    let client = reqwest::blocking::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(response) = client.get(format!("http://127.0.0.1:{port}/health")).send() {
            assert_eq!(response.status(), 200);
            break;
        }
        assert!(
            server.try_wait().unwrap().is_none(),
            "it stopped: {:?}",
            server.wait_with_output()
        );
        assert!(started.elapsed() < Duration::from_secs(20), "no server");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = server.kill();
    let _ = server.wait();
    // A database that lacks migrations: it says what to run, and stops.
    let empty = TestDb::empty();
    let refused = serve(&empty, free_port()).wait_with_output().unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("wallet-api migrate") && said.contains("lacks"),
        "{said}"
    );
}

#[test]
fn the_service_role_cannot_undo_a_revocation_nor_rewrite_a_stored_response() {
    let app = TestApp::spawn();
    let (id, _) = app.new_key("gone", &["read"], &[]);
    let (other, _) = app.new_key("other", &["read"], &[]);
    app.delete(&format!("/api-keys/{id}")).expect(204);
    let mut service =
        <diesel::PgConnection as diesel::Connection>::establish(&app.db.service_url).unwrap();
    for sql in [
        format!("UPDATE api_keys SET revoked_at = NULL WHERE id = {id}"),
        format!("UPDATE api_keys SET revoked_at = revoked_at - interval '1 day' WHERE id = {id}"),
        format!("UPDATE api_keys SET revoked_at = now() + interval '1 hour' WHERE id = {other}"),
    ] {
        let error = exec_err(&mut service, &sql).to_string();
        assert!(
            error.contains("final") || error.contains("time to come"),
            "{sql}: {error}"
        );
    }
    // A stored response: written once, never changed or removed while it is replayed.
    let stored = app.send(
        "POST",
        "/wallets",
        &[
            ("Content-Type", JSONAPI),
            ("Accept", JSONAPI),
            ("Idempotency-Key", "once"),
        ],
        Some(json!({"data": {"type": "wallets", "attributes": {"label": "x"}}}).to_string()),
    );
    stored.expect(201);
    for sql in [
        "UPDATE idempotency_keys SET body = '{\"forged\": true}'",
        "DELETE FROM idempotency_keys",
    ] {
        let error = exec_err(&mut service, sql).to_string();
        assert!(error.contains("permission denied"), "{sql}: {error}");
    }
    // Not even the owner rewrites one in place.
    let error = exec_err(
        &mut app.db.connect(),
        "UPDATE idempotency_keys SET body = '{\"forged\": true}'",
    )
    .to_string();
    assert!(error.contains("written once"), "{error}");
    let replayed = app.send(
        "POST",
        "/wallets",
        &[
            ("Content-Type", JSONAPI),
            ("Accept", JSONAPI),
            ("Idempotency-Key", "once"),
        ],
        Some(json!({"data": {"type": "wallets", "attributes": {"label": "x"}}}).to_string()),
    );
    assert_eq!(replayed.text, stored.text);
}

#[test]
fn a_revocation_is_now_or_past_never_to_come() {
    let app = TestApp::spawn();
    let (id, secret) = app.new_key("later", &["read"], &[]);
    let future = (chrono::Utc::now() + chrono::Duration::seconds(3)).to_rfc3339();
    app.patch(
        &format!("/api-keys/{id}"),
        json!({"data": {"type": "api-keys", "id": id, "attributes": {"revokedAt": future}}}),
    )
    .expect_error(
        422,
        "invalid-attribute",
        Some(("pointer", "/data/attributes/revokedAt")),
    );
    app.as_key(Some(&secret)).get("/wallets").expect(200);
    let past = (chrono::Utc::now() - chrono::Duration::seconds(60)).to_rfc3339();
    app.patch(
        &format!("/api-keys/{id}"),
        json!({"data": {"type": "api-keys", "id": id, "attributes": {"revokedAt": past}}}),
    )
    .expect(200);
    std::thread::sleep(Duration::from_millis(1100));
    app.as_key(Some(&secret))
        .get("/wallets")
        .expect_error(401, "unauthenticated", None);
}

#[test]
fn metrics_are_for_operators_only() {
    let token = "scrape-0123456789abcdef";
    let app = TestApp::spawn_with(|config| config.metrics_token = Some(token.to_string()));
    let wallet = app.create_wallet("w");
    let (_, reader) = app.new_key("reader", &["read", "write"], &[]);
    let (_, limited) = app.new_key("limited", &["read"], &[&wallet]);
    let scrape = |secret: Option<&str>| {
        let mut request = reqwest::blocking::Client::new().get(app.url("/metrics"));
        if let Some(secret) = secret {
            request = request.bearer_auth(secret);
        }
        let response = request.send().unwrap();
        (response.status().as_u16(), response.text().unwrap())
    };
    for secret in [&reader, &limited] {
        let (status, body) = scrape(Some(secret));
        assert_eq!(status, 403, "{body}");
        assert!(body.contains("\"requiredScope\":\"admin\""), "{body}");
    }
    assert_eq!(scrape(None).0, 401);
    let (status, body) = scrape(Some(&app.key));
    assert_eq!(status, 200);
    assert!(body.contains("wallet_api_http_requests_total"));
    let (status, body) = scrape(Some(token));
    assert_eq!(status, 200);
    assert!(body.contains("wallet_api_http_requests_total"));
    // The token reads the metrics, nothing else.
    app.as_key(Some(token))
        .get("/wallets")
        .expect_error(401, "unauthenticated", None);
}

#[test]
fn under_a_table_lock_every_request_is_answered_within_its_bound() {
    // The defaults: a connection within 1 s, locks within 2 s more.
    let app = TestApp::spawn();
    let wallets: Vec<String> = (0..6)
        .map(|n| app.create_wallet(&format!("w{n}")))
        .collect();
    for wallet in &wallets {
        app.book(wallet, &format!("seed-{wallet}"), "100")
            .expect(201);
    }
    let bound = Duration::from_secs(3) + Duration::from_millis(800);
    let mut lock = app.db.connect();
    exec(
        &mut lock,
        "BEGIN; LOCK TABLE wallets IN ACCESS EXCLUSIVE MODE",
    );
    for round in 0..2 {
        let replies = all_at_once(
            16,
            |_| (),
            |n, ()| {
                let wallet = &wallets[n % wallets.len()];
                let started = Instant::now();
                let reply = match n % 4 {
                    0 | 1 => app.book(wallet, &format!("r{round}-{n}"), "-1"),
                    2 => app.get(&format!("/wallets/{wallet}")),
                    _ => app.send(
                        "POST",
                        "/transactions",
                        &[
                            ("Content-Type", JSONAPI),
                            ("Accept", JSONAPI),
                            ("Idempotency-Key", &format!("k{round}-{n}")),
                        ],
                        Some(
                            transaction_document(wallet, &format!("k{round}-{n}"), "1").to_string(),
                        ),
                    ),
                };
                (reply, started.elapsed())
            },
        );
        for (reply, took) in &replies {
            assert_eq!(reply.status, 503, "{:#}", reply.body);
            assert!(
                *took <= bound,
                "round {round}: answered after {took:?} ({:#})",
                reply.body
            );
        }
    }
    exec(&mut lock, "ROLLBACK");
    // Nothing was written while it waited; everything works again once the lock is gone.
    app.book(&wallets[0], "after", "1").expect(201);
    let value: Value = app.get(&format!("/wallets/{}", wallets[0])).body;
    assert_eq!(
        value["data"]["attributes"]["balance"],
        "101.000000000000000000"
    );
}
