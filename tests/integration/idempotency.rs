//! `Idempotency-Key`: a retried write runs once and gets its first response again.

use std::time::{Duration, Instant};

use serde_json::json;

use diesel::PgConnection;

use crate::helpers::{ATOMIC, JSONAPI, Reply, TestApp, TestDb, exec, scalar, transaction_document};

fn post_with_key(app: &TestApp, path: &str, key: &str, body: &serde_json::Value) -> Reply {
    let content_type = if path == "/operations" {
        ATOMIC
    } else {
        JSONAPI
    };
    app.send(
        "POST",
        path,
        &[("Content-Type", content_type), ("Idempotency-Key", key)],
        Some(body.to_string()),
    )
}

fn wallet_document(label: &str) -> serde_json::Value {
    json!({"data": {"type": "wallets", "attributes": {"label": label}}})
}

fn count(app: &TestApp, table: &str) -> String {
    scalar(
        &mut app.db.connect(),
        &format!("SELECT count(*) FROM {table}"),
    )
}

#[test]
fn a_retry_with_the_same_key_replays_the_first_response() {
    let app = TestApp::spawn();
    let first = post_with_key(&app, "/wallets", "k-1", &wallet_document("once"));
    first.expect(201);
    assert_eq!(first.header("idempotent-replayed"), None);
    let again = post_with_key(&app, "/wallets", "k-1", &wallet_document("once"));
    again.expect(201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.text, first.text, "byte for byte");
    assert_eq!(again.header("location"), first.header("location"));
    assert_eq!(count(&app, "wallets"), "1");

    // Bookings and atomic operations alike.
    let wallet = first.body["data"]["id"].as_str().unwrap();
    let booking = transaction_document(wallet, "t1", "10");
    let booked = post_with_key(&app, "/transactions", "k-2", &booking);
    booked.expect(201);
    assert_eq!(
        post_with_key(&app, "/transactions", "k-2", &booking).text,
        booked.text
    );
    let operations = json!({"atomic:operations": [{"op": "add", "data": booking["data"].clone()}]});
    let operations = {
        let mut operations = operations;
        operations["atomic:operations"][0]["data"]["attributes"]["txid"] = json!("t2");
        operations
    };
    let batch = post_with_key(&app, "/operations", "k-3", &operations);
    batch.expect(200);
    let replayed = post_with_key(&app, "/operations", "k-3", &operations);
    assert_eq!(replayed.text, batch.text);
    assert_eq!(replayed.header("content-type"), Some(ATOMIC));
    assert_eq!(app.balance(wallet), "20.000000000000000000");

    // PATCH and DELETE too: a retried DELETE answers its 204 again, not a 404.
    let id = booked.body["data"]["id"].as_str().unwrap();
    let delete = |key| {
        app.send(
            "DELETE",
            &format!("/transactions/{id}"),
            &[("Idempotency-Key", key)],
            None,
        )
    };
    delete("k-4").expect(204);
    let again = delete("k-4");
    again.expect(204);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    app.delete(&format!("/transactions/{id}")).expect(404);
}

#[test]
fn the_same_key_with_another_request_is_a_422() {
    let app = TestApp::spawn();
    post_with_key(&app, "/wallets", "k", &wallet_document("a")).expect(201);
    for (path, body) in [
        ("/wallets", wallet_document("b")),
        ("/transactions", transaction_document("1", "t", "1")),
    ] {
        post_with_key(&app, path, "k", &body).expect_error(
            422,
            "idempotency-key-reused",
            Some(("header", "Idempotency-Key")),
        );
    }
    assert_eq!(count(&app, "wallets"), "1");
}

#[test]
fn client_errors_are_kept_and_replayed_server_errors_are_not() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("w");
    let overdraft = transaction_document(&wallet, "w1", "-5");
    let refused = post_with_key(&app, "/transactions", "k-409", &overdraft);
    refused.expect_error(409, "insufficient-funds", None);
    // Funds arrive; the retry of the same request still gets its first answer.
    app.book(&wallet, "fund", "100").expect(201);
    let replayed = post_with_key(&app, "/transactions", "k-409", &overdraft);
    assert_eq!(replayed.text, refused.text);
    assert_eq!(replayed.header("idempotent-replayed"), Some("true"));
    assert_eq!(app.balance(&wallet), "100.000000000000000000");

    // A server error is not kept: kill the service's connections, and the retry runs.
    let mut admin = app.db.connect();
    let deposit = transaction_document(&wallet, "d1", "1");
    exec(
        &mut admin,
        &format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{}' AND application_name = 'wallet-api'",
            app.db.name
        ),
    );
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let reply = post_with_key(&app, "/transactions", "k-503", &deposit);
        assert_eq!(
            reply.header("idempotent-replayed"),
            None,
            "{:#}",
            reply.body
        );
        statuses.push(reply.status);
        if reply.status == 201 {
            break;
        }
        // The write's own connection broke: the service cannot know whether it ran.
        reply.expect_error(503, "outcome-unknown", None);
    }
    assert_eq!(statuses.first(), Some(&503), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&201), "{statuses:?}");
    assert_eq!(app.balance(&wallet), "101.000000000000000000");
}

#[test]
fn a_key_in_use_is_a_409_and_runs_once() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("w");
    // Hold the wallet's row: the first request books into it and must wait.
    let mut holder = app.db.connect();
    exec(
        &mut holder,
        &format!("BEGIN; SELECT 1 FROM wallets WHERE id = {wallet} FOR UPDATE"),
    );
    let deposit = transaction_document(&wallet, "slow", "7");
    std::thread::scope(|scope| {
        let first = scope.spawn(|| post_with_key(&app, "/transactions", "k", &deposit));
        // Wait until the first request is blocked on the row lock, holding its key.
        let deadline = Instant::now() + Duration::from_secs(10);
        while scalar(
            &mut app.db.connect(),
            "SELECT count(*) FROM pg_stat_activity \
             WHERE application_name = 'wallet-api' AND wait_event_type = 'Lock'",
        ) != "1"
        {
            assert!(Instant::now() < deadline, "the first request never blocked");
            std::thread::sleep(Duration::from_millis(20));
        }
        let started = Instant::now();
        let second = post_with_key(&app, "/transactions", "k", &deposit);
        second.expect_error(
            409,
            "idempotency-key-in-use",
            Some(("header", "Idempotency-Key")),
        );
        assert_eq!(second.header("retry-after"), Some("1"));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the second did not wait"
        );
        exec(&mut holder, "COMMIT");
        first.join().unwrap().expect(201);
    });
    let third = post_with_key(&app, "/transactions", "k", &deposit);
    third.expect(201);
    assert_eq!(third.header("idempotent-replayed"), Some("true"));
    assert_eq!(count(&app, "transactions"), "1");
    assert_eq!(app.balance(&wallet), "7.000000000000000000");
}

#[test]
fn keys_survive_a_restart() {
    let app = TestApp::spawn();
    let first = post_with_key(&app, "/wallets", "k", &wallet_document("kept"));
    first.expect(201);
    let app = app.restart();
    let again = post_with_key(&app, "/wallets", "k", &wallet_document("kept"));
    assert_eq!(again.text, first.text);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(count(&app, "wallets"), "1");
}

#[test]
fn expired_keys_are_forgotten_and_removed() {
    let app = TestApp::spawn_with(|config| config.idempotency_ttl = Duration::from_secs(1));
    post_with_key(&app, "/wallets", "old", &wallet_document("a")).expect(201);
    std::thread::sleep(Duration::from_millis(1200));
    // Expired: the key is free again, even for another request.
    let reply = post_with_key(&app, "/wallets", "old", &wallet_document("b"));
    reply.expect(201);
    assert_eq!(reply.header("idempotent-replayed"), None);
    assert_eq!(count(&app, "wallets"), "2");
    // The background purge removes expired rows (every second with this ttl).
    let deadline = Instant::now() + Duration::from_secs(10);
    while count(&app, "idempotency_keys") != "0" {
        assert!(Instant::now() < deadline, "expired keys were not removed");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn keys_are_checked() {
    let app = TestApp::spawn();
    for key in ["", "\"\"", &"k".repeat(256)] {
        post_with_key(&app, "/wallets", key, &wallet_document("x")).expect_error(
            400,
            "invalid-idempotency-key",
            Some(("header", "Idempotency-Key")),
        );
    }
    let quoted = post_with_key(&app, "/wallets", "\"8e03978e-40d5\"", &wallet_document("x"));
    quoted.expect(201);
    let bare = post_with_key(&app, "/wallets", "8e03978e-40d5", &wallet_document("x"));
    assert_eq!(bare.header("idempotent-replayed"), Some("true"));
    assert_eq!(count(&app, "wallets"), "1");
}

#[test]
fn a_txid_stays_spent_whatever_the_key() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("w");
    let booking = transaction_document(&wallet, "once", "3");
    let first = post_with_key(&app, "/transactions", "a", &booking);
    first.expect(201);
    let other_key = post_with_key(&app, "/transactions", "b", &booking);
    other_key.expect_error(409, "duplicate-txid", None);
    assert_eq!(
        other_key.error()["meta"]["existing"]["id"],
        first.body["data"]["id"]
    );
    assert_eq!(app.balance(&wallet), "3.000000000000000000");
}

#[test]
fn a_claim_reads_only_its_key_even_when_planned_on_an_empty_table() {
    // The claim's plan is kept for the session: made while idempotency_keys is empty (a new
    // deployment), it must still find a key through the primary key once the table fills.
    let db = TestDb::new();
    let mut conn = db.connect();
    exec(&mut conn, "ANALYZE idempotency_keys");
    exec(
        &mut conn,
        "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan",
    );
    for n in 0..6 {
        exec(
            &mut conn,
            &format!("SELECT * FROM idempotency_claim(0, 'warm-{n}')"),
        );
    }
    exec(
        &mut conn,
        "INSERT INTO idempotency_keys (api_key_id, key, fingerprint, request, status, \
         content_type, headers, body) SELECT 0, 'k' || g, '\\x00', 'POST /transactions', 201, \
         'application/vnd.api+json', '[]', '{}' FROM generate_series(1, 5000) AS g",
    );
    let rows_read = |conn: &mut PgConnection| -> i64 {
        scalar(
            conn,
            "SELECT seq_tup_read + coalesce(idx_tup_fetch, 0) FROM pg_stat_xact_user_tables \
             WHERE relname = 'idempotency_keys'",
        )
        .parse()
        .unwrap()
    };
    let before = rows_read(&mut conn);
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT status FROM idempotency_claim(0, 'k4321')"
        ),
        "201"
    );
    let read = rows_read(&mut conn) - before;
    assert!(read <= 1, "a claim read {read} rows of 5,000");
    exec(&mut conn, "ROLLBACK");
}
