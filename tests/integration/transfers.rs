//! Transfers: money moves between two wallets as one thing, both legs booked in one
//! statement, kept whole by the database on every path (the API's and SQL's, bulk statements
//! included), and reversed in parts up to what it moved.

use serde_json::{Value, json};
use wallet_api::models::transfer::audit_transfers;
use wallet_api::models::wallet::audit_balances;

use crate::currencies::wallet_in;
use crate::helpers::{JSONAPI, TestApp, all_at_once, exec, exec_err, scalar};

pub(crate) fn transfer_document(
    txid: &str,
    source: &str,
    destination: &str,
    amount: &str,
) -> Value {
    json!({"data": {"type": "transfers", "attributes": {"txid": txid, "amount": amount},
        "relationships": {
            "source": {"data": {"type": "wallets", "id": source}},
            "destination": {"data": {"type": "wallets", "id": destination}}}}})
}

fn reversal_document(txid: &str, original: &str, amount: &str) -> Value {
    json!({"data": {"type": "transfers", "attributes": {"txid": txid, "amount": amount},
        "relationships": {"reverses": {"data": {"type": "transfers", "id": original}}}}})
}

/// Two funded USD wallets: (source with 100.00, destination with nothing).
fn two_wallets(app: &TestApp) -> (String, String) {
    let source = wallet_in(app, "source", "USD");
    let destination = wallet_in(app, "destination", "USD");
    app.book(&source, "fund", "100").expect(201);
    (source, destination)
}

fn id_of(reply: &crate::helpers::Reply) -> String {
    reply.body["data"]["id"].as_str().unwrap().to_string()
}

fn count(app: &TestApp, table: &str) -> String {
    scalar(
        &mut app.db.connect(),
        &format!("SELECT count(*) FROM {table}"),
    )
}

#[test]
fn a_transfer_books_both_legs_as_one_thing() {
    let app = TestApp::spawn();
    let (source, destination) = two_wallets(&app);
    let made = app.post(
        "/transfers?include=source,destination,debit,credit",
        transfer_document("rent", &source, &destination, "25.5"),
    );
    made.expect(201);
    let transfer = id_of(&made);
    let attributes = &made.body["data"]["attributes"];
    assert_eq!(attributes["amount"], "25.50");
    assert_eq!(attributes["currency"], "USD");
    assert_eq!(attributes["reversedAmount"], "0.00");
    assert_eq!(
        made.header("Location").unwrap(),
        app.url(&format!("/transfers/{transfer}"))
    );
    let relationships = &made.body["data"]["relationships"];
    let debit = relationships["debit"]["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let credit = relationships["credit"]["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(made.body["included"].as_array().unwrap().len(), 4);
    assert_eq!(app.balance(&source), "74.50");
    assert_eq!(app.balance(&destination), "25.50");
    // The legs are transactions that name their transfer.
    let leg = app.get(&format!("/transactions/{debit}"));
    leg.expect(200);
    assert_eq!(leg.body["data"]["attributes"]["amount"], "-25.50");
    assert_eq!(
        leg.body["data"]["relationships"]["transfer"]["data"],
        json!({"type": "transfers", "id": transfer})
    );
    let legs = app.get(&format!(
        "/transactions?filter[transfer]={transfer}&sort=id"
    ));
    legs.expect(200);
    assert_eq!(legs.ids(), [debit.clone(), credit.clone()]);
    let plain = app.get("/transactions?filter[txid]=fund");
    assert_eq!(
        plain.body["data"][0]["relationships"]["transfer"]["data"],
        Value::Null
    );
    // Each wallet's journal names its leg.
    for (wallet, leg, delta) in [
        (&source, &debit, "-25.50"),
        (&destination, &credit, "25.50"),
    ] {
        let journal = app.get(&format!(
            "/wallets/{wallet}/balance-changes?sort=-id&page[size]=1"
        ));
        journal.expect(200);
        let change = &journal.body["data"][0];
        assert_eq!(change["attributes"]["delta"], delta);
        assert_eq!(
            change["relationships"]["transaction"]["data"]["id"],
            leg.as_str()
        );
    }
    // Read back, listed, filtered.
    let shown = app.get(&format!("/transfers/{transfer}"));
    shown.expect(200);
    assert_eq!(
        shown.body["data"]["relationships"]["source"]["data"]["id"],
        source.as_str()
    );
    for filter in [
        format!("filter[source]={source}"),
        format!("filter[destination]={destination}"),
        "filter[currency]=USD".to_string(),
        "filter[amount.gte]=25.5".to_string(),
        "filter[txid]=rent".to_string(),
    ] {
        let listed = app.get(&format!("/transfers?{filter}"));
        listed.expect(200);
        assert_eq!(listed.ids(), std::slice::from_ref(&transfer), "{filter}");
    }
    assert_eq!(app.get("/transfers?filter[currency]=EUR").ids().len(), 0);
    // reverses: null is a transfer that reverses none.
    let mut plain = transfer_document("plain", &source, &destination, "1");
    plain["data"]["relationships"]["reverses"] = json!({"data": null});
    let plain = app.post("/transfers", plain);
    plain.expect(201);
    assert_eq!(
        plain.body["data"]["relationships"]["reverses"]["data"],
        Value::Null
    );
}

#[test]
fn a_refused_transfer_writes_nothing() {
    let app = TestApp::spawn();
    let (source, destination) = two_wallets(&app);
    let euros = wallet_in(&app, "euros", "EUR");
    app.post(
        "/transfers",
        transfer_document("first", &source, &destination, "1"),
    )
    .expect(201);
    let cases = [
        (
            transfer_document("same", &source, &source, "1"),
            422,
            "same-wallet",
            "/data/relationships/destination/data",
        ),
        (
            transfer_document("euro", &source, &euros, "1"),
            422,
            "currency-mismatch",
            "/data/relationships/destination/data",
        ),
        (
            transfer_document("over", &source, &destination, "500"),
            409,
            "insufficient-funds",
            "/data/attributes/amount",
        ),
        (
            transfer_document("fine", &source, &destination, "1.005"),
            422,
            "amount-precision",
            "/data/attributes/amount",
        ),
        (
            transfer_document("ghost", &source, "999999", "1"),
            404,
            "wallet-not-found",
            "/data/relationships/destination/data",
        ),
        (
            transfer_document("ghost-2", "999999", &destination, "1"),
            404,
            "wallet-not-found",
            "/data/relationships/source/data",
        ),
    ];
    for (document, status, code, pointer) in cases {
        app.post("/transfers", document)
            .expect_error(status, code, Some(("pointer", pointer)));
    }
    for amount in ["0", "-5"] {
        let reply = app.post(
            "/transfers",
            transfer_document("bad", &source, &destination, amount),
        );
        assert_eq!(reply.status, 422, "{amount}: {:#}", reply.body);
        assert_eq!(
            reply.error()["source"]["pointer"],
            "/data/attributes/amount"
        );
    }
    let missing = app.post(
        "/transfers",
        json!({"data": {"type": "transfers", "attributes": {"txid": "x", "amount": "1"},
            "relationships": {"source": {"data": {"type": "wallets", "id": source}}}}}),
    );
    assert_eq!(missing.status, 422, "{:#}", missing.body);
    let again = app.post(
        "/transfers",
        transfer_document("first", &source, &destination, "2"),
    );
    again.expect_error(
        409,
        "duplicate-txid",
        Some(("pointer", "/data/attributes/txid")),
    );
    assert_eq!(again.error()["meta"]["existing"]["type"], "transfers");
    assert_eq!(count(&app, "transfers"), "1");
    assert_eq!(
        count(&app, "transactions WHERE transfer_id IS NOT NULL"),
        "2"
    );
    assert_eq!(app.balance(&source), "99.00");
    assert_eq!(app.balance(&destination), "1.00");
}

#[test]
fn a_leg_and_a_transfer_keep_their_money_in_sql_and_the_api() {
    let app = TestApp::spawn();
    let (source, destination) = two_wallets(&app);
    let made = app.post(
        "/transfers",
        transfer_document("t", &source, &destination, "10"),
    );
    made.expect(201);
    let transfer = id_of(&made);
    let debit = made.body["data"]["relationships"]["debit"]["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let leg_change = |attributes: Value| {
        app.patch(
            &format!("/transactions/{debit}"),
            json!({"data": {"type": "transactions", "id": debit, "attributes": attributes}}),
        )
    };
    let refused = leg_change(json!({"amount": "-5"}));
    refused.expect_error(409, "transfer-leg", None);
    assert!(
        refused.error()["detail"]
            .as_str()
            .unwrap()
            .contains("reverse")
    );
    assert_eq!(refused.error()["meta"]["transfer"]["id"], transfer.as_str());
    app.delete(&format!("/transactions/{debit}"))
        .expect_error(409, "transfer-leg", None);
    app.patch(
        &format!("/transactions/{debit}/relationships/wallet"),
        json!({"data": {"type": "wallets", "id": destination}}),
    )
    .expect_error(409, "transfer-leg", None);
    // Its metadata is the client's, as on any transaction.
    leg_change(json!({"metadata": {"note": "rent"}})).expect(200);
    // A transfer is never deleted; only its metadata changes.
    app.delete(&format!("/transfers/{transfer}"))
        .expect_error(403, "not-deletable", None);
    let tagged = app.patch(
        &format!("/transfers/{transfer}"),
        json!({"data": {"type": "transfers", "id": transfer,
                        "attributes": {"metadata": {"invoice": "INV-1"}}}}),
    );
    tagged.expect(200);
    assert_eq!(
        tagged.body["data"]["attributes"]["metadata"]["invoice"],
        "INV-1"
    );
    let moved = app.patch(
        &format!("/transfers/{transfer}"),
        json!({"data": {"type": "transfers", "id": transfer, "attributes": {"amount": "1"}}}),
    );
    assert_eq!(moved.status, 403, "{:#}", moved.body);
    // In SQL too.
    let mut conn = app.db.connect();
    for statement in [
        format!("UPDATE transactions SET amount = -1 WHERE id = {debit}"),
        format!("UPDATE transactions SET wallet_id = {destination} WHERE id = {debit}"),
        format!("UPDATE transactions SET transfer_id = NULL WHERE id = {debit}"),
        format!("DELETE FROM transactions WHERE id = {debit}"),
        format!(
            "INSERT INTO transactions (wallet_id, txid, amount, transfer_id) \
             VALUES ({source}, 'fake-leg', 1, {transfer})"
        ),
        format!("UPDATE transfers SET amount = 1 WHERE id = {transfer}"),
        format!("UPDATE transfers SET reversed_amount = 10 WHERE id = {transfer}"),
        format!("DELETE FROM transfers WHERE id = {transfer}"),
        "TRUNCATE transfers".to_string(),
        "TRUNCATE transactions".to_string(),
    ] {
        let error = exec_err(&mut conn, &statement);
        assert!(
            error.to_string().contains("transfer"),
            "{statement}: {error}"
        );
    }
    assert_eq!(app.balance(&source), "90.00");
    assert_eq!(app.balance(&destination), "10.00");
    assert_eq!(count(&app, "transactions"), "3");
}

#[test]
fn reversals_move_money_back_in_parts_up_to_the_amount() {
    let app = TestApp::spawn();
    let (source, destination) = two_wallets(&app);
    let made = app.post(
        "/transfers",
        transfer_document("t", &source, &destination, "25"),
    );
    made.expect(201);
    let transfer = id_of(&made);
    let first = app.post("/transfers", reversal_document("back-1", &transfer, "10"));
    first.expect(201);
    assert_eq!(
        first.body["data"]["relationships"]["source"]["data"]["id"],
        destination.as_str()
    );
    assert_eq!(
        first.body["data"]["relationships"]["reverses"]["data"]["id"],
        transfer.as_str()
    );
    // Naming the wallets is allowed when they are the original's, the other way round.
    let mut named = reversal_document("back-2", &transfer, "15");
    named["data"]["relationships"]["source"] =
        json!({"data": {"type": "wallets", "id": destination}});
    named["data"]["relationships"]["destination"] =
        json!({"data": {"type": "wallets", "id": source}});
    app.post("/transfers", named).expect(201);
    let original = app.get(&format!("/transfers/{transfer}"));
    assert_eq!(
        original.body["data"]["attributes"]["reversedAmount"],
        "25.00"
    );
    assert_eq!(app.balance(&source), "100.00");
    assert_eq!(app.balance(&destination), "0.00");
    // Nothing is left to reverse.
    app.post("/transfers", reversal_document("back-3", &transfer, "0.01"))
        .expect_error(
            409,
            "reversal-exceeds-transfer",
            Some(("pointer", "/data/attributes/amount")),
        );
    // A reversal is not reversed; a reversal goes back the way its original came.
    let reversal = id_of(&first);
    app.post("/transfers", reversal_document("back-back", &reversal, "1"))
        .expect_error(
            422,
            "invalid-reversal",
            Some(("pointer", "/data/relationships/reverses/data")),
        );
    let mut wrong_way = reversal_document("wrong", &transfer, "1");
    wrong_way["data"]["relationships"]["source"] =
        json!({"data": {"type": "wallets", "id": source}});
    app.post("/transfers", wrong_way).expect_error(
        422,
        "invalid-reversal",
        Some(("pointer", "/data/relationships/source/data")),
    );
    app.post("/transfers", reversal_document("nothing", "999999", "1"))
        .expect_error(
            404,
            "transfer-not-found",
            Some(("pointer", "/data/relationships/reverses/data")),
        );
    // The original lists its reversals.
    let reversals = app.get(&format!("/transfers/{transfer}/reversals?sort=id"));
    reversals.expect(200);
    assert_eq!(reversals.ids().len(), 2);
    assert_eq!(count(&app, "transfers"), "3");
    // In SQL, a reversal past the amount fails as such.
    let mut conn = app.db.connect();
    let error = exec_err(
        &mut conn,
        &format!(
            "INSERT INTO transfers (txid, source_wallet_id, destination_wallet_id, amount, reverses_id) \
             VALUES ('sql-back', {destination}, {source}, 1, {transfer})"
        ),
    );
    assert!(
        error.to_string().contains("transfers_reversed_within"),
        "{error}"
    );
}

#[test]
fn racing_reversals_never_move_back_more_than_the_transfer() {
    let app = TestApp::spawn();
    let (source, destination) = two_wallets(&app);
    let made = app.post(
        "/transfers",
        transfer_document("t", &source, &destination, "50"),
    );
    made.expect(201);
    let transfer = id_of(&made);
    let statuses = all_at_once(
        16,
        |_| (),
        |client, ()| {
            app.post(
                "/transfers",
                reversal_document(&format!("race-{client}"), &transfer, "5"),
            )
        },
    );
    let won = statuses.iter().filter(|reply| reply.status == 201).count();
    for reply in statuses.iter().filter(|reply| reply.status != 201) {
        reply.expect_error(409, "reversal-exceeds-transfer", None);
    }
    assert_eq!(won, 10);
    let original = app.get(&format!("/transfers/{transfer}"));
    assert_eq!(
        original.body["data"]["attributes"]["reversedAmount"],
        "50.00"
    );
    assert_eq!(app.balance(&source), "100.00");
    assert_eq!(app.balance(&destination), "0.00");
}

#[test]
fn a_bulk_insert_of_transfers_books_every_leg_or_none() {
    let app = TestApp::spawn();
    let mut conn = app.db.connect();
    exec(
        &mut conn,
        "INSERT INTO wallets (label, currency) SELECT 'bulk-' || g, 'USD' FROM generate_series(1, 100) g;
         INSERT INTO transactions (wallet_id, txid, amount) SELECT id, 'fund-' || id, 1000 FROM wallets",
    );
    let bulk = |rows: i64, overdraft: bool| {
        format!(
            "INSERT INTO transfers (txid, source_wallet_id, destination_wallet_id, amount) \
             SELECT 'bulk-{overdraft}-' || g, w.first + g % 100, w.first + (g + 1 + g % 7) % 100, \
                    CASE WHEN {overdraft} AND g = 5000 THEN 1000000 ELSE 0.25 END \
             FROM generate_series(1, {rows}) g, (SELECT min(id) AS first FROM wallets) w"
        )
    };
    let error = exec_err(&mut conn, &bulk(10_000, true));
    assert!(error.to_string().contains("insufficient funds"), "{error}");
    assert_eq!(scalar(&mut conn, "SELECT count(*) FROM transfers"), "0");
    assert_eq!(
        scalar(&mut conn, "SELECT count(*) FROM transactions"),
        "100"
    );
    let journal = scalar(&mut conn, "SELECT count(*) FROM balance_changes");
    exec(&mut conn, &bulk(10_000, false));
    assert_eq!(scalar(&mut conn, "SELECT count(*) FROM transfers"), "10000");
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT count(*) FROM transactions WHERE transfer_id IS NOT NULL"
        ),
        "20000"
    );
    // Money moved, none made: the sum of every balance is what was funded.
    assert_eq!(
        scalar(&mut conn, "SELECT sum(balance)::numeric(20,2) FROM wallets"),
        "100000.00"
    );
    // One journal row per wallet the statement changed.
    let after: i64 = scalar(&mut conn, "SELECT count(*) FROM balance_changes")
        .parse()
        .unwrap();
    assert!(after > journal.parse::<i64>().unwrap());
    assert!(audit_balances(&mut conn).unwrap().is_empty());
    assert!(audit_transfers(&mut conn).unwrap().is_empty());
}

#[test]
fn the_audit_finds_a_transfer_broken_behind_the_triggers_back() {
    let app = TestApp::spawn();
    let (source, destination) = two_wallets(&app);
    let made = app.post(
        "/transfers",
        transfer_document("t", &source, &destination, "10"),
    );
    made.expect(201);
    let transfer = id_of(&made);
    let mut conn = app.db.connect();
    assert!(audit_transfers(&mut conn).unwrap().is_empty());
    // Only a table owner who turns the triggers off can change a leg.
    exec(
        &mut conn,
        &format!(
            "ALTER TABLE transactions DISABLE TRIGGER transactions_balance_update;
             UPDATE transactions SET amount = -3 WHERE txid = 'transfer:{transfer}:debit';
             ALTER TABLE transactions ENABLE ALWAYS TRIGGER transactions_balance_update;"
        ),
    );
    let problems = audit_transfers(&mut conn).unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].transfer_id.to_string(), transfer);
    assert!(problems[0].problem.contains("debit"), "{problems:?}");
    // Put back as it was, the same way.
    exec(
        &mut conn,
        &format!(
            "ALTER TABLE transactions DISABLE TRIGGER transactions_balance_update;
             UPDATE transactions SET amount = -10 WHERE txid = 'transfer:{transfer}:debit';
             ALTER TABLE transactions ENABLE ALWAYS TRIGGER transactions_balance_update;"
        ),
    );
    assert!(audit_transfers(&mut conn).unwrap().is_empty());
}

#[test]
fn a_retried_transfer_moves_money_once() {
    let app = TestApp::spawn();
    let (source, destination) = two_wallets(&app);
    let body = transfer_document("retry", &source, &destination, "7").to_string();
    let send = || {
        app.send(
            "POST",
            "/transfers",
            &[
                ("Content-Type", JSONAPI),
                ("Accept", JSONAPI),
                ("Idempotency-Key", "transfer-retry-1"),
            ],
            Some(body.clone()),
        )
    };
    let first = send();
    first.expect(201);
    let second = send();
    second.expect(201);
    assert_eq!(first.body, second.body);
    assert_eq!(app.balance(&source), "93.00");
    assert_eq!(count(&app, "transfers"), "1");
}

#[test]
fn an_atomic_request_opens_a_wallet_and_transfers_into_it() {
    let app = TestApp::spawn();
    let (source, _) = two_wallets(&app);
    let reply = app.operations(json!([
        {"op": "add", "data": {"type": "wallets", "lid": "new",
            "attributes": {"label": "opened", "currency": "USD"}}},
        {"op": "add", "data": {"type": "transfers", "attributes": {"txid": "open-1", "amount": "30"},
            "relationships": {"source": {"data": {"type": "wallets", "id": source}},
                              "destination": {"data": {"type": "wallets", "lid": "new"}}}}},
        {"op": "add", "data": {"type": "transfers", "attributes": {"txid": "open-2", "amount": "40"},
            "relationships": {"source": {"data": {"type": "wallets", "id": source}},
                              "destination": {"data": {"type": "wallets", "lid": "new"}}}}},
    ]));
    reply.expect(200);
    let opened = reply.body["atomic:results"][0]["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(app.balance(&opened), "70.00");
    // All or nothing: an overdraft in the last operation undoes the first ones.
    let refused = app.operations(json!([
        {"op": "add", "data": {"type": "transfers", "attributes": {"txid": "open-3", "amount": "20"},
            "relationships": {"source": {"data": {"type": "wallets", "id": source}},
                              "destination": {"data": {"type": "wallets", "id": opened}}}}},
        {"op": "add", "data": {"type": "transfers", "attributes": {"txid": "open-4", "amount": "20"},
            "relationships": {"source": {"data": {"type": "wallets", "id": source}},
                              "destination": {"data": {"type": "wallets", "id": opened}}}}},
    ]));
    refused.expect_error(
        409,
        "insufficient-funds",
        Some(("pointer", "/atomic:operations/1/data/attributes/amount")),
    );
    assert_eq!(app.balance(&source), "30.00");
    assert_eq!(count(&app, "transfers"), "2");
}

#[test]
fn a_wallet_limited_key_transfers_only_between_its_own_wallets() {
    let app = TestApp::spawn();
    let (source, destination) = two_wallets(&app);
    let other = wallet_in(&app, "other", "USD");
    let (_, secret) = app.new_key("limited", &["read", "write"], &[&source, &destination]);
    let limited = app.as_key(Some(&secret));
    limited
        .post(
            "/transfers",
            transfer_document("mine", &source, &destination, "5"),
        )
        .expect(201);
    limited
        .post(
            "/transfers",
            transfer_document("theirs", &source, &other, "5"),
        )
        .expect_error(404, "wallet-not-found", None);
    assert_eq!(count(&app, "transfers"), "1");
    // It sees a transfer into its wallet from one it cannot see.
    app.book(&other, "fund-other", "10").expect(201);
    app.post(
        "/transfers",
        transfer_document("in", &other, &destination, "3"),
    )
    .expect(201);
    let seen = limited.get("/transfers?sort=id");
    seen.expect(200);
    assert_eq!(seen.ids().len(), 2);
    let (_, outsider) = app.new_key("outsider", &["read"], &[&other]);
    let outsider = app.as_key(Some(&outsider));
    assert_eq!(outsider.get("/transfers").ids().len(), 1);
}

#[test]
fn a_wallets_transfers_are_those_into_and_out_of_it() {
    let app = TestApp::spawn();
    let (first, second) = two_wallets(&app);
    let third = wallet_in(&app, "third", "USD");
    let out = app.post("/transfers", transfer_document("out", &first, &second, "5"));
    out.expect(201);
    let back = app.post(
        "/transfers",
        transfer_document("back", &second, &first, "2"),
    );
    back.expect(201);
    let away = app.post(
        "/transfers",
        transfer_document("away", &second, &third, "1"),
    );
    away.expect(201);
    let (out, back, away) = (id_of(&out), id_of(&back), id_of(&away));
    let listed = app.get(&format!("/wallets/{first}/transfers?sort=id"));
    listed.expect(200);
    assert_eq!(listed.ids(), [out.clone(), back.clone()]);
    let linkage = app.get(&format!("/wallets/{first}/relationships/transfers?sort=id"));
    linkage.expect(200);
    assert_eq!(linkage.ids(), [out.clone(), back.clone()]);
    // Either way, on /transfers; one way, by its side.
    assert_eq!(
        app.get(&format!("/transfers?filter[wallet]={second}&sort=id"))
            .ids(),
        [out.clone(), back.clone(), away.clone()]
    );
    assert_eq!(
        app.get(&format!(
            "/transfers?filter[wallet]={first},{third}&sort=-id"
        ))
        .ids(),
        [away.clone(), back.clone(), out.clone()]
    );
    assert_eq!(
        app.get(&format!(
            "/wallets/{first}/transfers?filter[destination]={first}"
        ))
        .ids(),
        std::slice::from_ref(&back)
    );
    // One way: out of it (its source), into it (its destination).
    assert_eq!(
        app.get(&format!("/wallets/{first}/transfers?filter[direction]=out"))
            .ids(),
        std::slice::from_ref(&out)
    );
    assert_eq!(
        app.get(&format!("/wallets/{first}/transfers?filter[direction]=in"))
            .ids(),
        std::slice::from_ref(&back)
    );
    assert_eq!(
        app.get(&format!(
            "/wallets/{first}/transfers?filter[direction]=in,out&sort=id"
        ))
        .ids(),
        [out.clone(), back.clone()]
    );
    assert_eq!(
        app.get(&format!(
            "/transfers?filter[wallet]={second}&filter[direction]=out&sort=id"
        ))
        .ids(),
        [back.clone(), away.clone()]
    );
    app.get(&format!(
        "/wallets/{first}/transfers?filter[direction]=sideways"
    ))
    .expect_error(
        400,
        "invalid-query-parameter",
        Some(("parameter", "filter[direction]")),
    );
    app.get("/transfers?filter[direction]=in").expect_error(
        400,
        "invalid-query-parameter",
        Some(("parameter", "filter[direction]")),
    );
    // Cursor pages walk both sides in order.
    let page = app.get(&format!(
        "/transfers?filter[wallet]={second}&sort=id&page[size]=2"
    ));
    let next = page.body["links"]["next"].as_str().unwrap();
    let rest = app.get(next.strip_prefix(&app.url("")).unwrap());
    assert_eq!(rest.ids(), [away]);
    app.get("/wallets/999999/transfers")
        .expect_error(404, "wallet-not-found", None);
}
