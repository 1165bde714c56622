//! Credit limits: a wallet's balance may go down to minus its creditLimit and not past it,
//! on every path (the API's, SQL's single rows and bulk statements); holds count against
//! it; a limit in use is never lowered under what is used; only admin keys set one; its
//! history answers `?balanceAt`.

use serde_json::{Value, json};

use crate::helpers::{TestApp, exec, exec_err, scalar};
use crate::holds::hold;

/// A wallet of this currency with this credit limit, made over the API by the admin test key.
pub(crate) fn wallet_with_limit(app: &TestApp, label: &str, currency: &str, limit: &str) -> String {
    let reply = app.post(
        "/wallets",
        json!({"data": {"type": "wallets", "attributes": {
            "label": label, "currency": currency, "creditLimit": limit}}}),
    );
    reply.expect(201);
    reply.body["data"]["id"].as_str().unwrap().to_string()
}

fn attributes(app: &TestApp, wallet: &str) -> Value {
    let reply = app.get(&format!("/wallets/{wallet}"));
    reply.expect(200);
    reply.body["data"]["attributes"].clone()
}

fn limit_document(wallet: &str, limit: &str) -> Value {
    json!({"data": {"type": "wallets", "id": wallet, "attributes": {"creditLimit": limit}}})
}

#[test]
fn a_wallet_goes_down_to_minus_its_limit_and_not_past_it_on_every_path() {
    let app = TestApp::spawn();
    let wallet = wallet_with_limit(&app, "credit line", "USD", "100");
    let shown = attributes(&app, &wallet);
    assert_eq!(shown["creditLimit"], "100.00");
    assert_eq!(shown["balance"], "0.00");
    assert_eq!(shown["available"], "100.00");
    // The default is no credit at all.
    let plain = crate::currencies::wallet_in(&app, "plain", "USD");
    assert_eq!(attributes(&app, &plain)["creditLimit"], "0.00");
    app.book(&plain, "plain-debit", "-0.01")
        .expect_error(409, "insufficient-funds", None);

    // Over the API.
    app.book(&wallet, "api-1", "-60").expect(201);
    app.book(&wallet, "api-2", "-40.01")
        .expect_error(409, "insufficient-funds", None);
    app.book(&wallet, "api-3", "-40").expect(201);
    let shown = attributes(&app, &wallet);
    assert_eq!(shown["balance"], "-100.00");
    assert_eq!(shown["available"], "0.00");

    // In SQL, one row.
    let mut conn = app.db.connect();
    let error = exec_err(
        &mut conn,
        &format!(
            "INSERT INTO transactions (wallet_id, txid, amount) VALUES ({wallet}, 'sql-1', -0.01)"
        ),
    );
    assert!(error.to_string().contains("insufficient funds"), "{error}");

    // In SQL, in bulk: 101 debits of 1 against a limit of 100 fail whole; 100 pass.
    exec(
        &mut conn,
        "INSERT INTO wallets (label, currency, credit_limit) VALUES ('bulk line', 'USD', 100)",
    );
    let bulk: i64 = scalar(
        &mut conn,
        "SELECT max(id) FROM wallets WHERE label = 'bulk line'",
    )
    .parse()
    .unwrap();
    let debits = |count: i64, tag: &str| {
        format!(
            "INSERT INTO transactions (wallet_id, txid, amount) \
             SELECT {bulk}, '{tag}-' || i, -1 FROM generate_series(1, {count}) AS i"
        )
    };
    let error = exec_err(&mut conn, &debits(101, "too-many"));
    assert!(error.to_string().contains("insufficient funds"), "{error}");
    assert_eq!(
        scalar(
            &mut conn,
            &format!("SELECT count(*) FROM transactions WHERE wallet_id = {bulk}")
        ),
        "0"
    );
    exec(&mut conn, &debits(100, "enough"));
    assert_eq!(
        scalar(
            &mut conn,
            &format!("SELECT balance::text FROM wallet_balances WHERE wallet_id = {bulk}")
        ),
        "-100.000000000000000000"
    );
    // Nor is a limit in use taken away.
    let error = exec_err(
        &mut conn,
        &format!("UPDATE wallets SET credit_limit = 0 WHERE id = {bulk}"),
    );
    assert!(
        error.to_string().contains("credit limit cannot go below"),
        "{error}"
    );

    // filter[balance.lt]=0 finds the wallets that use credit, and no other.
    let using = app.get("/wallets?filter[balance.lt]=0&sort=id");
    using.expect(200);
    assert_eq!(using.ids(), vec![wallet.clone(), bulk.to_string()]);
    // And a limit filters like any amount.
    let limited = app.get("/wallets?filter[creditLimit.gte]=100&sort=id");
    assert_eq!(limited.ids(), vec![wallet, bulk.to_string()]);
}

#[test]
fn a_hold_counts_against_the_limit() {
    let app = TestApp::spawn();
    let wallet = wallet_with_limit(&app, "held line", "USD", "50");
    hold(&app, &wallet, "30");
    let shown = attributes(&app, &wallet);
    assert_eq!(shown["held"], "30.00");
    assert_eq!(shown["available"], "20.00");
    app.book(&wallet, "past-the-hold", "-20.01")
        .expect_error(409, "insufficient-funds", None);
    app.book(&wallet, "up-to-the-hold", "-20").expect(201);
    let shown = attributes(&app, &wallet);
    assert_eq!(shown["balance"], "-20.00");
    assert_eq!(shown["available"], "0.00");
    // No hold beyond it either.
    let reply = app.post("/holds", crate::holds::hold_document(&wallet, "0.01", None));
    reply.expect_error(409, "insufficient-funds", None);
}

#[test]
fn a_limit_is_never_lowered_below_its_use_and_only_admin_keys_set_one() {
    let app = TestApp::spawn();
    let wallet = wallet_with_limit(&app, "used line", "USD", "100");
    app.book(&wallet, "spend", "-70").expect(201);
    hold(&app, &wallet, "10");
    // 80 in use: 79.99 is refused, in the API and in SQL.
    let refused = app.patch(
        &format!("/wallets/{wallet}"),
        limit_document(&wallet, "79.99"),
    );
    refused.expect_error(
        409,
        "credit-limit-in-use",
        Some(("pointer", "/data/attributes/creditLimit")),
    );
    assert_eq!(refused.error()["meta"]["inUse"], "80.00");
    let mut conn = app.db.connect();
    let error = exec_err(
        &mut conn,
        &format!("UPDATE wallets SET credit_limit = 79 WHERE id = {wallet}"),
    );
    assert!(
        error.to_string().contains("cannot go below 80.00"),
        "{error}"
    );
    assert_eq!(attributes(&app, &wallet)["creditLimit"], "100.00");
    // Exactly what is used is allowed.
    app.patch(&format!("/wallets/{wallet}"), limit_document(&wallet, "80"))
        .expect(200);
    assert_eq!(attributes(&app, &wallet)["available"], "0.00");

    // Finer than the currency, or below zero: refused.
    app.patch(
        &format!("/wallets/{wallet}"),
        limit_document(&wallet, "90.001"),
    )
    .expect_error(
        422,
        "amount-precision",
        Some(("pointer", "/data/attributes/creditLimit")),
    );
    app.patch(&format!("/wallets/{wallet}"), limit_document(&wallet, "-5"))
        .expect(422);

    // A key with write but not admin: refused on create and on update, nothing written.
    let (_, writer) = app.new_key("writer", &["read", "write"], &[]);
    let writer = app.as_key(Some(&writer));
    let wallets_before = scalar(&mut conn, "SELECT count(*) FROM wallets");
    let create = writer.post(
        "/wallets",
        json!({"data": {"type": "wallets", "attributes": {"label": "sneaky", "creditLimit": "10"}}}),
    );
    create.expect_error(
        403,
        "insufficient-scope",
        Some(("pointer", "/data/attributes/creditLimit")),
    );
    assert_eq!(create.error()["meta"]["requiredScope"], "admin");
    assert_eq!(
        scalar(&mut conn, "SELECT count(*) FROM wallets"),
        wallets_before
    );
    let update = writer.patch(
        &format!("/wallets/{wallet}"),
        limit_document(&wallet, "1000"),
    );
    update.expect_error(403, "insufficient-scope", None);
    assert_eq!(update.error()["meta"]["requiredScope"], "admin");
    assert_eq!(attributes(&app, &wallet)["creditLimit"], "80.00");
    // It may still relabel, and create a wallet without credit (0 is no limit at all).
    writer
        .patch(
            &format!("/wallets/{wallet}"),
            json!({"data": {"type": "wallets", "id": wallet, "attributes": {"label": "renamed"}}}),
        )
        .expect(200);
    writer
        .post(
            "/wallets",
            json!({"data": {"type": "wallets", "attributes": {"label": "plain", "creditLimit": "0"}}}),
        )
        .expect(201);
}

#[test]
fn balance_at_reports_the_limit_in_force_then() {
    let app = TestApp::spawn();
    let wallet = wallet_with_limit(&app, "growing line", "USD", "100");
    app.book(&wallet, "spend", "-50").expect(201);
    let mut conn = app.db.connect();
    let before = scalar(&mut conn, "SELECT to_json(clock_timestamp())#>>'{}'");
    std::thread::sleep(std::time::Duration::from_millis(20));
    app.patch(
        &format!("/wallets/{wallet}"),
        limit_document(&wallet, "200"),
    )
    .expect(200);
    let after = scalar(&mut conn, "SELECT to_json(clock_timestamp())#>>'{}'");

    let past = |at: &str| {
        let reply = app.get(&format!(
            "/wallets/{wallet}?balanceAt={}",
            at.replace('+', "%2B")
        ));
        reply.expect(200);
        reply.body["data"]["meta"]["balanceAt"].clone()
    };
    let then = past(&before);
    assert_eq!(then["balance"], "-50.00");
    assert_eq!(then["creditLimit"], "100.00");
    assert_eq!(then["available"], "50.00");
    let now = past(&after);
    assert_eq!(now["creditLimit"], "200.00");
    assert_eq!(now["available"], "150.00");
    // The change is on record, under the key that made it.
    assert_eq!(
        scalar(
            &mut conn,
            &format!(
                "SELECT old_credit_limit::numeric(10,2) || ' -> ' || new_credit_limit::numeric(10,2) \
                 || ' by ' || actor_name FROM wallet_revisions WHERE wallet_id = {wallet}"
            )
        ),
        "100.00 -> 200.00 by test-admin"
    );
}
