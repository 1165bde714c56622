//! Holds: money reserved, then captured (all or part of it) or voided, or expired; the held
//! and available balances kept by the database on every write path, the API's and SQL's.

use std::time::Duration;

use diesel::prelude::*;
use serde_json::{Value, json};

use crate::helpers::{TestApp, all_at_once, exec, exec_err, scalar};
use crate::journal::assert_running_totals;

pub(crate) fn hold_document(wallet: &str, amount: &str, expires_at: Option<&str>) -> Value {
    let mut attributes = json!({"amount": amount});
    if let Some(at) = expires_at {
        attributes["expiresAt"] = json!(at);
    }
    json!({"data": {"type": "holds", "attributes": attributes,
                    "relationships": {"wallet": {"data": {"type": "wallets", "id": wallet}}}}})
}

pub(crate) fn resolve(id: &str, attributes: Value) -> Value {
    json!({"data": {"type": "holds", "id": id, "attributes": attributes}})
}

/// Creates a hold over the API; returns its id.
pub(crate) fn hold(app: &TestApp, wallet: &str, amount: &str) -> String {
    let reply = app.post("/holds", hold_document(wallet, amount, None));
    reply.expect(201);
    reply.body["data"]["id"].as_str().unwrap().to_string()
}

/// A wallet's (balance, held, available) as the API shows them.
fn balances(app: &TestApp, wallet: &str) -> (String, String, String) {
    let reply = app.get(&format!("/wallets/{wallet}"));
    reply.expect(200);
    let attributes = &reply.body["data"]["attributes"];
    let text = |name: &str| attributes[name].as_str().unwrap().to_string();
    (text("balance"), text("held"), text("available"))
}

fn money(amount: &str) -> String {
    let (integer, fraction) = amount.split_once('.').unwrap_or((amount, ""));
    format!("{integer}.{fraction:0<18}")
}

#[track_caller]
fn assert_balances(app: &TestApp, wallet: &str, balance: &str, held: &str, available: &str) {
    assert_eq!(
        balances(app, wallet),
        (money(balance), money(held), money(available))
    );
}

/// A funded wallet.
fn funded(app: &TestApp, amount: &str) -> String {
    let wallet = app.create_wallet("funded");
    app.book(&wallet, &format!("fund-{wallet}"), amount)
        .expect(201);
    wallet
}

#[test]
fn a_hold_reserves_money_and_a_partial_capture_books_part_of_it() {
    let app = TestApp::spawn();
    let wallet = funded(&app, "100");
    let reply = app.post("/holds", hold_document(&wallet, "60", None));
    reply.expect(201);
    let id = reply.body["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        reply.header("location").unwrap(),
        app.url(&format!("/holds/{id}"))
    );
    let attributes = &reply.body["data"]["attributes"];
    assert_eq!(attributes["status"], "pending");
    assert_eq!(attributes["amount"], money("60"));
    assert_eq!(attributes["capturedAmount"], Value::Null);
    assert_eq!(
        reply.body["data"]["relationships"]["transaction"]["data"],
        Value::Null
    );
    assert_balances(&app, &wallet, "100", "60", "40");

    let captured = app.patch(
        &format!("/holds/{id}?include=transaction"),
        resolve(&id, json!({"status": "captured", "capturedAmount": "30"})),
    );
    captured.expect(200);
    let data = &captured.body["data"];
    assert_eq!(data["attributes"]["status"], "captured");
    assert_eq!(data["attributes"]["capturedAmount"], money("30"));
    let transaction = data["relationships"]["transaction"]["data"]["id"]
        .as_str()
        .unwrap();
    let included = &captured.body["included"][0];
    assert_eq!(included["id"], transaction);
    assert_eq!(included["attributes"]["txid"], format!("hold:{id}"));
    assert_eq!(included["attributes"]["amount"], money("-30"));
    // The rest is released: nothing is held any more.
    assert_balances(&app, &wallet, "70", "0", "70");

    // The journal: the hold, its release, the debit.
    let journal = app.get(&format!("/wallets/{wallet}/balance-changes"));
    journal.expect(200);
    let rows: Vec<(String, String, String)> = journal.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let a = &row["attributes"];
            (
                a["operation"].as_str().unwrap().to_string(),
                a["heldDelta"].as_str().unwrap().to_string(),
                a["held"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("insert".into(), money("0"), money("0")),
            ("hold_insert".into(), money("60"), money("60")),
            ("hold_update".into(), money("-60"), money("0")),
            ("insert".into(), money("0"), money("0")),
        ]
    );
    assert_running_totals(&mut app.db.connect());
}

#[test]
fn a_full_capture_books_the_whole_amount_and_a_void_books_nothing() {
    let app = TestApp::spawn();
    let wallet = funded(&app, "100");
    let full = hold(&app, &wallet, "25.5");
    let void = hold(&app, &wallet, "10");
    assert_balances(&app, &wallet, "100", "35.5", "64.5");
    app.patch(
        &format!("/holds/{full}"),
        resolve(&full, json!({"status": "captured"})),
    )
    .expect(200);
    assert_balances(&app, &wallet, "74.5", "10", "64.5");
    let voided = app.patch(
        &format!("/holds/{void}"),
        resolve(&void, json!({"status": "voided"})),
    );
    voided.expect(200);
    assert_eq!(voided.body["data"]["attributes"]["status"], "voided");
    assert_eq!(
        voided.body["data"]["relationships"]["transaction"]["data"],
        Value::Null
    );
    assert_balances(&app, &wallet, "74.5", "0", "74.5");
    // The capture's transaction names its hold's txid; the void booked none.
    let transactions = app.get(&format!("/wallets/{wallet}/transactions"));
    let txids: Vec<&str> = transactions.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["attributes"]["txid"].as_str().unwrap())
        .collect();
    assert_eq!(
        txids,
        vec![format!("fund-{wallet}"), format!("hold:{full}")]
    );
}

#[test]
fn held_money_cannot_be_spent_and_spent_money_cannot_be_held() {
    let app = TestApp::spawn();
    let wallet = funded(&app, "100");
    let id = hold(&app, &wallet, "60");
    // A debit larger than what is available, though not than the balance.
    let refused = app.book(&wallet, "spend", "-50");
    refused.expect_error(
        409,
        "insufficient-funds",
        Some(("pointer", "/data/attributes/amount")),
    );
    let detail = refused.error()["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("({} available)", money("40"))),
        "{detail}"
    );
    app.book(&wallet, "spend-40", "-40").expect(201);
    // Nothing is left to hold.
    app.post("/holds", hold_document(&wallet, "0.01", None))
        .expect_error(
            409,
            "insufficient-funds",
            Some(("pointer", "/data/attributes/amount")),
        );
    // Released, the money can be spent.
    app.patch(
        &format!("/holds/{id}"),
        resolve(&id, json!({"status": "voided"})),
    )
    .expect(200);
    app.book(&wallet, "spend-again", "-50").expect(201);
    assert_balances(&app, &wallet, "10", "0", "10");
    // Moving a transaction away cannot take held money either.
    let other = app.create_wallet("other");
    let id = hold(&app, &wallet, "10");
    let fund = scalar(
        &mut app.db.connect(),
        &format!("SELECT id FROM transactions WHERE txid = 'fund-{wallet}'"),
    );
    app.patch(
        &format!("/transactions/{fund}"),
        json!({"data": {"type": "transactions", "id": fund,
                        "relationships": {"wallet": {"data": {"type": "wallets", "id": other}}}}}),
    )
    .expect_error(409, "insufficient-funds", None);
    assert_eq!(
        app.get(&format!("/holds/{id}")).body["data"]["attributes"]["status"],
        "pending"
    );
}

#[test]
fn a_hold_expires_at_its_time_exactly_whether_or_not_it_was_swept() {
    // No sweep: reads must be exact on their own.
    let app = TestApp::spawn_with(|config| config.hold_sweep = Duration::ZERO);
    let wallet = funded(&app, "100");
    let expires = (chrono::Utc::now() + chrono::Duration::seconds(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let reply = app.post("/holds", hold_document(&wallet, "70", Some(&expires)));
    reply.expect(201);
    let id = reply.body["data"]["id"].as_str().unwrap().to_string();
    assert_balances(&app, &wallet, "100", "70", "30");
    let before = chrono::Utc::now();
    std::thread::sleep(Duration::from_millis(1300));

    let read = app.get(&format!("/holds/{id}"));
    assert_eq!(read.body["data"]["attributes"]["status"], "expired");
    assert_balances(&app, &wallet, "100", "0", "100");
    let filtered = app.get(&format!(
        "/holds?filter[status]=expired&filter[wallet]={wallet}"
    ));
    assert_eq!(filtered.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.get(&format!(
            "/holds?filter[status]=pending&filter[wallet]={wallet}"
        ))
        .body["data"],
        json!([])
    );
    for status in ["captured", "voided"] {
        app.patch(
            &format!("/holds/{id}"),
            resolve(&id, json!({"status": status})),
        )
        .expect_error(
            409,
            "hold-expired",
            Some(("pointer", "/data/attributes/status")),
        );
    }
    // Expired money can be spent at once.
    app.book(&wallet, "after-expiry", "-100").expect(201);

    // The stored row is still pending until the sweep; the sweep puts the release on record.
    let mut conn = app.db.connect();
    assert_eq!(
        scalar(
            &mut conn,
            &format!("SELECT status FROM holds WHERE id = {id}")
        ),
        "pending"
    );
    assert_eq!(scalar(&mut conn, "SELECT expire_holds()"), "1");
    assert_eq!(
        scalar(
            &mut conn,
            &format!("SELECT status FROM holds WHERE id = {id}")
        ),
        "expired"
    );
    assert_eq!(
        scalar(
            &mut conn,
            &format!(
                "SELECT held_delta FROM balance_changes WHERE hold_id = {id} ORDER BY id DESC LIMIT 1"
            )
        ),
        money("-70")
    );
    assert_running_totals(&mut conn);

    // What was held at a time before the expiry, and after it (the sweep came later).
    let at = |time: chrono::DateTime<chrono::Utc>| {
        let reply = app.get(&format!(
            "/wallets/{wallet}?balanceAt={}",
            time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        ));
        reply.expect(200);
        let meta = &reply.body["data"]["meta"]["balanceAt"];
        (
            meta["balance"].as_str().unwrap().to_string(),
            meta["held"].as_str().unwrap().to_string(),
            meta["available"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(at(before), (money("100"), money("70"), money("30")));
    let expiry = chrono::DateTime::parse_from_rfc3339(&expires)
        .unwrap()
        .to_utc();
    assert_eq!(
        at(expiry + chrono::Duration::milliseconds(1)),
        (money("100"), money("0"), money("100"))
    );
}

#[test]
fn the_sweep_marks_expired_holds_and_journals_their_release() {
    let app = TestApp::spawn();
    let wallet = funded(&app, "10");
    let expires = (chrono::Utc::now() + chrono::Duration::milliseconds(300))
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let reply = app.post("/holds", hold_document(&wallet, "4", Some(&expires)));
    reply.expect(201);
    let id = reply.body["data"]["id"].as_str().unwrap().to_string();
    let mut conn = app.db.connect();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while scalar(
        &mut conn,
        &format!("SELECT status FROM holds WHERE id = {id}"),
    ) != "expired"
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the sweep never marked the hold"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        scalar(
            &mut conn,
            &format!("SELECT held FROM wallets WHERE id = {wallet}")
        ),
        money("0")
    );
    assert_running_totals(&mut conn);
}

#[test]
fn a_hold_is_resolved_once() {
    let app = TestApp::spawn_with(|config| config.hold_sweep = Duration::ZERO);
    let wallet = funded(&app, "1000");
    let first_then_second = [
        ("captured", "captured", "hold-not-pending"),
        ("captured", "voided", "hold-not-pending"),
        ("voided", "captured", "hold-not-pending"),
        ("voided", "voided", "hold-not-pending"),
    ];
    for (first, second, code) in first_then_second {
        let id = hold(&app, &wallet, "1");
        app.patch(
            &format!("/holds/{id}"),
            resolve(&id, json!({"status": first})),
        )
        .expect(200);
        let refused = app.patch(
            &format!("/holds/{id}"),
            resolve(&id, json!({"status": second})),
        );
        refused.expect_error(409, code, Some(("pointer", "/data/attributes/status")));
        let detail = refused.error()["detail"].as_str().unwrap();
        assert!(detail.contains(&format!("is {first}")), "{detail}");
    }
    // Expired, then captured or voided; and in SQL, resolved then expired.
    let mut conn = app.db.connect();
    let expired = hold_expiring_now(&app, &wallet);
    for second in ["captured", "voided"] {
        app.patch(
            &format!("/holds/{expired}"),
            resolve(&expired, json!({"status": second})),
        )
        .expect_error(409, "hold-expired", None);
    }
    exec(&mut conn, "SELECT expire_holds()");
    for second in ["captured", "voided"] {
        app.patch(
            &format!("/holds/{expired}"),
            resolve(&expired, json!({"status": second})),
        )
        .expect_error(409, "hold-expired", None);
    }
    let captured = hold(&app, &wallet, "1");
    exec(&mut conn, &format!("SELECT capture_hold({captured})"));
    for sql in [
        format!("UPDATE holds SET status = 'expired' WHERE id = {captured}"),
        format!("UPDATE holds SET status = 'voided' WHERE id = {captured}"),
        format!(
            "UPDATE holds SET status = 'pending', captured_amount = NULL WHERE id = {captured}"
        ),
        format!("SELECT capture_hold({captured})"),
        format!("UPDATE holds SET status = 'voided' WHERE id = {expired}"),
    ] {
        let error = exec_err(&mut conn, &sql).to_string();
        assert!(
            error.contains("not pending") || error.contains("resolved once"),
            "{sql}: {error}"
        );
    }
    // The terms of a hold never change; a pending one is not expired before its time.
    let pending = hold(&app, &wallet, "1");
    for sql in [
        format!("UPDATE holds SET amount = 2 WHERE id = {pending}"),
        format!("UPDATE holds SET status = 'expired' WHERE id = {pending}"),
        format!("UPDATE holds SET expires_at = now() WHERE id = {pending}"),
        format!("UPDATE holds SET captured_amount = 1 WHERE id = {pending}"),
    ] {
        exec_err(&mut conn, &sql);
    }
    app.patch(
        &format!("/holds/{pending}"),
        resolve(&pending, json!({"amount": "2"})),
    )
    .expect(403);
}

/// A hold that expires a few milliseconds after it is made.
fn hold_expiring_now(app: &TestApp, wallet: &str) -> String {
    let expires = (chrono::Utc::now() + chrono::Duration::milliseconds(200))
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let reply = app.post("/holds", hold_document(wallet, "1", Some(&expires)));
    reply.expect(201);
    std::thread::sleep(Duration::from_millis(300));
    reply.body["data"]["id"].as_str().unwrap().to_string()
}

#[test]
fn of_sixteen_concurrent_captures_or_voids_exactly_one_wins() {
    let app = TestApp::spawn();
    let wallet = funded(&app, "100");
    for mixed in [false, true] {
        let id = hold(&app, &wallet, "5");
        let statuses = all_at_once(
            16,
            |_| (),
            |client, ()| {
                let status = if mixed && client % 2 == 1 {
                    "voided"
                } else {
                    "captured"
                };
                let reply = app.patch(
                    &format!("/holds/{id}"),
                    resolve(&id, json!({"status": status})),
                );
                if reply.status != 200 {
                    reply.expect_error(409, "hold-not-pending", None);
                }
                reply.status
            },
        );
        assert_eq!(
            statuses.iter().filter(|&&s| s == 200).count(),
            1,
            "{statuses:?}"
        );
    }
    // At most one capture booked a debit, and the books add up.
    let mut conn = app.db.connect();
    let debits = scalar(
        &mut conn,
        "SELECT count(*) FROM transactions WHERE txid LIKE 'hold:%'",
    );
    assert!(debits == "1" || debits == "2", "{debits}");
    assert_running_totals(&mut conn);
    // In SQL too: sixteen sessions capturing one hold.
    let id = hold(&app, &wallet, "5");
    let captured = all_at_once(
        16,
        |_| PgConnection::establish(&app.db.url).unwrap(),
        |_, mut conn| {
            diesel::sql_query(format!("SELECT capture_hold({id})"))
                .execute(&mut conn)
                .is_ok()
        },
    );
    assert_eq!(captured.iter().filter(|&&ok| ok).count(), 1);
}

#[test]
fn a_capture_is_checked_before_it_books() {
    let app = TestApp::spawn();
    let wallet = funded(&app, "100");
    let id = hold(&app, &wallet, "10");
    app.patch(
        &format!("/holds/{id}"),
        resolve(
            &id,
            json!({"status": "captured", "capturedAmount": "10.000000000000000001"}),
        ),
    )
    .expect_error(
        422,
        "capture-exceeds-hold",
        Some(("pointer", "/data/attributes/capturedAmount")),
    );
    app.patch(
        &format!("/holds/{id}"),
        resolve(&id, json!({"capturedAmount": "5"})),
    )
    .expect_error(
        422,
        "capture-without-status",
        Some(("pointer", "/data/attributes/capturedAmount")),
    );
    app.patch(
        &format!("/holds/{id}"),
        resolve(&id, json!({"status": "voided", "capturedAmount": "5"})),
    )
    .expect_error(422, "capture-without-status", None);
    for status in ["pending", "expired", "done"] {
        app.patch(
            &format!("/holds/{id}"),
            resolve(&id, json!({"status": status})),
        )
        .expect_error(
            422,
            "invalid-attribute",
            Some(("pointer", "/data/attributes/status")),
        );
    }
    for amount in ["0", "-1", "1.0000000000000000001"] {
        app.post("/holds", hold_document(&wallet, amount, None))
            .expect_error(
                422,
                "invalid-attribute",
                Some(("pointer", "/data/attributes/amount")),
            );
    }
    app.post(
        "/holds",
        hold_document(&wallet, "1", Some("2001-01-01T00:00:00Z")),
    )
    .expect_error(
        422,
        "invalid-attribute",
        Some(("pointer", "/data/attributes/expiresAt")),
    );
    app.post("/holds", hold_document("999999", "1", None))
        .expect_error(
            404,
            "wallet-not-found",
            Some(("pointer", "/data/relationships/wallet/data")),
        );
    // A client's txid cannot take a capture's.
    app.book(&wallet, &format!("hold:{id}"), "1").expect_error(
        422,
        "invalid-attribute",
        Some(("pointer", "/data/attributes/txid")),
    );
    // Holds are resolved, never deleted.
    app.delete(&format!("/holds/{id}"))
        .expect_error(403, "not-deletable", None);
    app.patch(
        &format!("/holds/{id}/relationships/wallet"),
        json!({"data": {"type": "wallets", "id": wallet}}),
    )
    .expect(403);
    // Nothing of it was written.
    assert_balances(&app, &wallet, "100", "10", "90");
    // A wallet with transactions is told so first; one holding only a hold (possible only
    // around the triggers: a hold needs money) is told of its holds.
    app.delete(&format!("/wallets/{wallet}"))
        .expect_error(409, "wallet-has-transactions", None);
    let lone = app.create_wallet("lone");
    let mut conn = app.db.connect();
    let around_triggers = |conn: &mut PgConnection, sql: &str| {
        exec(
            conn,
            &format!(
                "ALTER TABLE holds DISABLE TRIGGER holds_held_insert; \
                 ALTER TABLE holds DISABLE TRIGGER holds_held_delete; {sql}; \
                 ALTER TABLE holds ENABLE ALWAYS TRIGGER holds_held_insert; \
                 ALTER TABLE holds ENABLE ALWAYS TRIGGER holds_held_delete"
            ),
        )
    };
    around_triggers(
        &mut conn,
        &format!("INSERT INTO holds (wallet_id, amount) VALUES ({lone}, 1)"),
    );
    app.delete(&format!("/wallets/{lone}"))
        .expect_error(409, "wallet-has-holds", None);
    around_triggers(
        &mut conn,
        &format!("DELETE FROM holds WHERE wallet_id = {lone}"),
    );
    app.delete(&format!("/wallets/{lone}")).expect(204);
}

#[test]
fn sql_writers_get_the_same_rules_in_bulk() {
    let app = TestApp::spawn();
    let mut conn = app.db.connect();
    exec(
        &mut conn,
        "INSERT INTO wallets (label) SELECT 'w' || i FROM generate_series(1, 50) AS i;
         INSERT INTO transactions (wallet_id, txid, amount)
             SELECT id, 'fund-' || id, 10 FROM wallets;",
    );
    // 200 holds over 50 wallets in one statement.
    exec(
        &mut conn,
        "INSERT INTO holds (wallet_id, amount)
             SELECT w.id, 2 FROM wallets AS w, generate_series(1, 4)",
    );
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT count(*) FROM wallet_balances WHERE held = 8 AND available = 2"
        ),
        "50"
    );
    // One more hold of 3 on every wallet would overdraw each: the statement fails whole.
    let error = exec_err(
        &mut conn,
        "INSERT INTO holds (wallet_id, amount) SELECT id, 3 FROM wallets",
    )
    .to_string();
    assert!(error.contains("insufficient funds"), "{error}");
    // So does a bulk debit of held money.
    exec_err(
        &mut conn,
        "INSERT INTO transactions (wallet_id, txid, amount) SELECT id, 'take-' || id, -3 FROM wallets",
    );
    assert_eq!(scalar(&mut conn, "SELECT count(*) FROM holds"), "200");
    // A bulk void, a bulk capture, a bulk delete, each of one of every wallet's four holds:
    // each releases what it should.
    exec(
        &mut conn,
        "CREATE TEMPORARY TABLE nth AS
             SELECT id, row_number() OVER (PARTITION BY wallet_id ORDER BY id) AS n FROM holds",
    );
    exec(
        &mut conn,
        "UPDATE holds SET status = 'voided' WHERE id IN (SELECT id FROM nth WHERE n = 1)",
    );
    exec(
        &mut conn,
        "SELECT capture_hold(id, 1) FROM nth WHERE n = 2 ORDER BY id",
    );
    exec(
        &mut conn,
        "DELETE FROM holds WHERE id IN (SELECT id FROM nth WHERE n = 3)",
    );
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT count(*) FROM wallet_balances WHERE balance = 9 AND held = 2 AND available = 7"
        ),
        "50"
    );
    exec(&mut conn, "TRUNCATE holds");
    assert_eq!(
        scalar(&mut conn, "SELECT sum(held) FROM wallets"),
        money("0")
    );
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT count(*) FROM hold_revisions WHERE operation = 'truncate'"
        ),
        "150"
    );
    // A capture in SQL must book its debit.
    exec(
        &mut conn,
        "INSERT INTO holds (wallet_id, amount) SELECT min(id), 1 FROM wallets",
    );
    let id = scalar(&mut conn, "SELECT max(id) FROM holds");
    let error = exec_err(
        &mut conn,
        &format!("UPDATE holds SET status = 'captured', captured_amount = 1 WHERE id = {id}"),
    )
    .to_string();
    assert!(error.contains("names no debit"), "{error}");
    // The held amount is written by the triggers only.
    let error = exec_err(&mut conn, "UPDATE wallets SET held = 0").to_string();
    assert!(error.contains("cannot be written directly"), "{error}");
    assert_eq!(
        scalar(&mut conn, "SELECT count(*) FROM wallet_balance_audit"),
        "0"
    );
    assert_running_totals(&mut conn);
}

#[test]
fn verify_flags_a_held_amount_edited_around_the_triggers_and_repair_restores_it() {
    let mut app = TestApp::spawn();
    let wallet = funded(&app, "10");
    hold(&app, &wallet, "4");
    let mut conn = app.db.connect();
    exec(
        &mut conn,
        &format!(
            "ALTER TABLE wallets DISABLE TRIGGER wallets_balance_guard_update;
             UPDATE wallets SET held = 1 WHERE id = {wallet};
             ALTER TABLE wallets ENABLE ALWAYS TRIGGER wallets_balance_guard_update;"
        ),
    );
    let problem = scalar(
        &mut conn,
        &format!("SELECT problem FROM wallet_balance_audit WHERE wallet_id = {wallet}"),
    );
    assert!(
        problem.contains("differs from the sum of its pending holds"),
        "{problem}"
    );
    assert!(problem.contains("differs from its journal"), "{problem}");
    exec(&mut conn, "SELECT * FROM wallet_repair(true)");
    assert_eq!(
        scalar(&mut conn, "SELECT count(*) FROM wallet_balance_audit"),
        "0"
    );
    assert_balances(&app, &wallet, "10", "4", "6");
    // Pending holds edited with the triggers off: found too.
    exec(
        &mut conn,
        &format!(
            "ALTER TABLE holds DISABLE TRIGGER holds_held_insert;
             INSERT INTO holds (wallet_id, amount) VALUES ({wallet}, 3);
             ALTER TABLE holds ENABLE ALWAYS TRIGGER holds_held_insert;"
        ),
    );
    assert_eq!(
        scalar(&mut conn, "SELECT count(*) FROM wallet_balance_audit"),
        "1"
    );
    exec(&mut conn, "SELECT * FROM wallet_repair(true)");
    assert_balances(&app, &wallet, "10", "7", "3");
    // The earliest expiry a read relies on, moved away from the holds': found, and restored.
    exec(
        &mut conn,
        &format!(
            "ALTER TABLE wallets DISABLE TRIGGER wallets_balance_guard_update;
             UPDATE wallets SET held_expires_at = now() + interval '1 year' WHERE id = {wallet};
             ALTER TABLE wallets ENABLE ALWAYS TRIGGER wallets_balance_guard_update;"
        ),
    );
    let problem = scalar(
        &mut conn,
        &format!("SELECT problem FROM wallet_balance_audit WHERE wallet_id = {wallet}"),
    );
    assert!(problem.contains("held_expires_at differs"), "{problem}");
    exec(&mut conn, "SELECT * FROM wallet_repair(true)");
    assert_eq!(
        scalar(
            &mut conn,
            &format!("SELECT held_expires_at IS NULL FROM wallets WHERE id = {wallet}")
        ),
        "true"
    );
    app.db.skip_final_verify();
    assert_eq!(
        scalar(&mut conn, "SELECT count(*) FROM wallet_balance_audit"),
        "0"
    );
}

#[test]
fn holds_in_atomic_operations_stand_or_fall_with_the_request() {
    let app = TestApp::spawn();
    let payer = funded(&app, "50");
    let payee = app.create_wallet("payee");
    // Reserve on one wallet and book on another, together.
    let reply = app.operations(json!([
        {"op": "add", "data": {"type": "holds", "lid": "h", "attributes": {"amount": "20"},
            "relationships": {"wallet": {"data": {"type": "wallets", "id": payer}}}}},
        {"op": "add", "data": {"type": "transactions", "attributes": {"txid": "credit", "amount": "20"},
            "relationships": {"wallet": {"data": {"type": "wallets", "id": payee}}}}},
    ]));
    reply.expect(200);
    let id = reply.body["atomic:results"][0]["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_balances(&app, &payer, "50", "20", "30");
    assert_balances(&app, &payee, "20", "0", "20");
    // A capture, then a debit that fails: the capture is rolled back with it.
    let reply = app.operations(json!([
        {"op": "update", "data": {"type": "holds", "id": id, "attributes": {"status": "captured"}}},
        {"op": "add", "data": {"type": "transactions", "attributes": {"txid": "too-much", "amount": "-31"},
            "relationships": {"wallet": {"data": {"type": "wallets", "id": payer}}}}},
    ]));
    reply.expect(409);
    assert_balances(&app, &payer, "50", "20", "30");
    assert_eq!(
        app.get(&format!("/holds/{id}")).body["data"]["attributes"]["status"],
        "pending"
    );
    // The same capture with a debit that fits.
    app.operations(json!([
        {"op": "update", "data": {"type": "holds", "id": id, "attributes": {"status": "captured"}}},
        {"op": "add", "data": {"type": "transactions", "attributes": {"txid": "fits", "amount": "-30"},
            "relationships": {"wallet": {"data": {"type": "wallets", "id": payer}}}}},
    ]))
    .expect(200);
    assert_balances(&app, &payer, "0", "0", "0");
    // A hold cannot be removed, in an operation either.
    app.operations(json!([{"op": "remove", "ref": {"type": "holds", "id": id}}]))
        .expect_error(403, "not-deletable", None);
}

#[test]
fn hold_writes_replay_with_an_idempotency_key() {
    let app = TestApp::spawn();
    let wallet = funded(&app, "10");
    let send = |method: &str, path: &str, document: &Value, key: &str| {
        app.send(
            method,
            path,
            &[
                ("Content-Type", crate::helpers::JSONAPI),
                ("Accept", crate::helpers::JSONAPI),
                ("Idempotency-Key", key),
            ],
            Some(document.to_string()),
        )
    };
    let document = hold_document(&wallet, "3", None);
    let first = send("POST", "/holds", &document, "hold-1");
    first.expect(201);
    let again = send("POST", "/holds", &document, "hold-1");
    assert_eq!(again.text, first.text);
    assert_balances(&app, &wallet, "10", "3", "7");
    let id = first.body["data"]["id"].as_str().unwrap().to_string();
    let capture = resolve(&id, json!({"status": "captured"}));
    let first = send("PATCH", &format!("/holds/{id}"), &capture, "capture-1");
    first.expect(200);
    let again = send("PATCH", &format!("/holds/{id}"), &capture, "capture-1");
    again.expect(200);
    assert_eq!(again.text, first.text);
    assert_balances(&app, &wallet, "7", "0", "7");
}

#[test]
fn holds_list_filter_and_belong_to_their_wallet() {
    let app = TestApp::spawn();
    let a = funded(&app, "10");
    let b = funded(&app, "10");
    let ha = hold(&app, &a, "1");
    let hb = hold(&app, &b, "2");
    app.patch(
        &format!("/holds/{hb}"),
        resolve(&hb, json!({"status": "voided"})),
    )
    .expect(200);
    let ids = |path: &str| -> Vec<String> {
        let reply = app.get(path);
        reply.expect(200);
        reply.ids()
    };
    assert_eq!(ids("/holds"), vec![ha.clone(), hb.clone()]);
    assert_eq!(ids(&format!("/wallets/{a}/holds")), vec![ha.clone()]);
    assert_eq!(ids("/holds?filter[status]=voided"), vec![hb.clone()]);
    assert_eq!(ids("/holds?sort=-amount&page[size]=1"), vec![hb.clone()]);
    assert_eq!(ids("/holds?page[number]=2&page[size]=1"), vec![hb.clone()]);
    let sparse = app.get(&format!("/holds/{ha}?fields[holds]=status&include=wallet"));
    sparse.expect(200);
    assert_eq!(
        sparse.body["data"]["attributes"],
        json!({"status": "pending"})
    );
    assert_eq!(sparse.body["included"][0]["id"], a);
    // A key limited to wallet a sees its holds only.
    let (_, secret) = app.new_key("limited", &["read", "write"], &[&a]);
    let limited = app.as_key(Some(&secret));
    limited
        .get(&format!("/holds/{hb}"))
        .expect_error(404, "hold-not-found", None);
    let listed = limited.get("/holds");
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);
    limited
        .post("/holds", hold_document(&b, "1", None))
        .expect_error(404, "wallet-not-found", None);
    limited
        .patch(
            &format!("/holds/{hb}"),
            resolve(&hb, json!({"status": "captured"})),
        )
        .expect_error(404, "hold-not-found", None);
}

#[test]
fn the_journal_of_held_amounts_stays_unbroken_under_sixteen_writers() {
    let app = TestApp::spawn();
    let wallets: Vec<String> = (0..4).map(|_| funded(&app, "1000")).collect();
    all_at_once(
        16,
        |_| (),
        |client, ()| {
            for round in 0..10 {
                let wallet = &wallets[(client + round) % wallets.len()];
                let reply = app.post("/holds", hold_document(wallet, "3", None));
                if reply.status != 201 {
                    continue;
                }
                let id = reply.body["data"]["id"].as_str().unwrap().to_string();
                let attributes = match round % 3 {
                    0 => json!({"status": "captured", "capturedAmount": "1"}),
                    1 => json!({"status": "voided"}),
                    _ => continue,
                };
                app.patch(&format!("/holds/{id}"), resolve(&id, attributes))
                    .expect(200);
                app.book(wallet, &format!("c{client}-r{round}"), "-1");
            }
        },
    );
    let mut conn = app.db.connect();
    assert_running_totals(&mut conn);
    assert_eq!(
        scalar(&mut conn, "SELECT count(*) FROM wallet_balance_audit"),
        "0"
    );
}

#[test]
fn holds_waiting_together_are_written_together() {
    let app = crate::coalescing::coalescing_app();
    let wallet = funded(&app, "100");
    let lock = crate::helpers::RowLock::wallet(&app, &wallet);
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        drop(lock);
    });
    // 30 holds of 1 on a wallet holding 100, all waiting on its lock.
    let statuses = all_at_once(
        30,
        |_| (),
        |_, ()| {
            let reply = app.post("/holds", hold_document(&wallet, "1", None));
            reply.status
        },
    );
    release.join().unwrap();
    assert!(statuses.iter().all(|&s| s == 201), "{statuses:?}");
    assert_balances(&app, &wallet, "100", "30", "70");
    let mut conn = app.db.connect();
    let together = scalar(
        &mut conn,
        "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM balance_changes \
         WHERE operation = 'hold_insert' GROUP BY database_xid) AS per_transaction",
    );
    let groups = scalar(
        &mut conn,
        "SELECT string_agg(operation || ':' || database_xid::text, ' ' ORDER BY id) FROM balance_changes",
    );
    assert!(
        together.parse::<i64>().unwrap() > 1,
        "no two holds shared a transaction: {groups}"
    );
    assert_running_totals(&mut conn);
}
