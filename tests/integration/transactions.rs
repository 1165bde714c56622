//! `/transactions`: booking, changing and deleting transactions over HTTP, the balances the
//! database keeps for them, and every refusal.

use crate::helpers::{TestApp, all_at_once, transaction_document};
use serde_json::{Value, json};

fn raw_transaction(wallet: &str, txid: &str, amount_json: &str) -> String {
    format!(
        r#"{{"data": {{"type": "transactions", "attributes": {{"txid": "{txid}", "amount": {amount_json}}},
             "relationships": {{"wallet": {{"data": {{"type": "wallets", "id": "{wallet}"}}}}}}}}}}"#
    )
}

fn post_raw(app: &TestApp, body: String) -> crate::helpers::Reply {
    app.send(
        "POST",
        "/transactions",
        &[("Content-Type", crate::helpers::JSONAPI)],
        Some(body),
    )
}

#[test]
fn booking_a_transaction_answers_201_and_moves_the_money() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("w");
    let reply = app.book(&wallet, "deposit-1", "100.5");
    reply.expect(201);
    let data = &reply.body["data"];
    assert_eq!(data["type"], "transactions");
    assert_eq!(data["attributes"]["txid"], "deposit-1");
    assert_eq!(data["attributes"]["amount"], "100.500000000000000000");
    assert_eq!(reply.header("location"), data["links"]["self"].as_str());
    let relationship = &data["relationships"]["wallet"];
    assert_eq!(
        relationship["data"],
        json!({"type": "wallets", "id": wallet})
    );
    for link in [
        &data["links"]["self"],
        &relationship["links"]["self"],
        &relationship["links"]["related"],
    ] {
        app.get(link.as_str().unwrap()).expect(200);
    }
    assert_eq!(app.balance(&wallet), "100.500000000000000000");
    app.book(&wallet, "withdrawal-1", "-0.5").expect(201);
    assert_eq!(app.balance(&wallet), "100.000000000000000000");
}

#[test]
fn amounts_may_be_json_numbers_read_exactly() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("w");
    let reply = post_raw(&app, raw_transaction(&wallet, "n1", "0.1"));
    reply.expect(201);
    assert_eq!(
        reply.body["data"]["attributes"]["amount"],
        "0.100000000000000000"
    );
    // 18 fractional digits survive, where a float would keep about 16 significant ones.
    let reply = post_raw(
        &app,
        raw_transaction(&wallet, "n2", "123456789.123456789012345678"),
    );
    reply.expect(201);
    assert_eq!(
        reply.body["data"]["attributes"]["amount"],
        "123456789.123456789012345678"
    );
    let reply = post_raw(&app, raw_transaction(&wallet, "n3", "2e3"));
    assert_eq!(
        reply.body["data"]["attributes"]["amount"],
        "2000.000000000000000000"
    );
    assert_eq!(app.balance(&wallet), "123458789.223456789012345678");
}

#[test]
fn invalid_amounts_are_422_at_the_amount() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("w");
    for (i, amount) in [
        "\"abc\"",
        "\"NaN\"",
        "\"Infinity\"",
        "\"\"",
        "0",
        "\"0.000\"",
        "\"0.0000000000000000001\"",
        "\"1000000000000000000\"",
        "1e400",
        "true",
        "null",
        "{}",
    ]
    .iter()
    .enumerate()
    {
        let reply = post_raw(&app, raw_transaction(&wallet, &format!("bad-{i}"), amount));
        reply.expect_error(
            422,
            "invalid-attribute",
            Some(("pointer", "/data/attributes/amount")),
        );
    }
    assert_eq!(app.get("/transactions").body["data"], json!([]));
}

#[test]
fn txid_is_required_bounded_and_unique() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("w");
    for txid in [json!(""), json!("x".repeat(256)), json!(12)] {
        app.post(
            "/transactions",
            json!({"data": {"type": "transactions", "attributes": {"txid": txid, "amount": "1"},
                            "relationships": {"wallet": {"data": {"type": "wallets", "id": wallet}}}}}),
        )
        .expect_error(422, "invalid-attribute", Some(("pointer", "/data/attributes/txid")));
    }
    let first = app.book(&wallet, "same", "1");
    first.expect(201);
    let reply = app.book(&wallet, "same", "1");
    reply.expect_error(
        409,
        "duplicate-txid",
        Some(("pointer", "/data/attributes/txid")),
    );
    // A retrying client learns what its txid already booked.
    assert_eq!(
        reply.error()["meta"]["existing"],
        json!({"type": "transactions", "id": first.body["data"]["id"]})
    );
    assert_eq!(app.balance(&wallet), "1.000000000000000000");
}

#[test]
fn missing_members_are_422_and_reported_together() {
    let app = TestApp::spawn();
    let reply = app.post("/transactions", json!({"data": {"type": "transactions"}}));
    reply.expect(422);
    let details: Vec<&str> = reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["detail"].as_str().unwrap())
        .collect();
    assert_eq!(details.len(), 3, "{details:?}");
    assert!(
        details[0].contains("txid")
            && details[1].contains("amount")
            && details[2].contains("wallet")
    );
}

#[test]
fn the_wallet_relationship_is_checked() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("w");
    let with_wallet = |data: Value| {
        json!({"data": {"type": "transactions", "attributes": {"txid": "t", "amount": "1"},
                        "relationships": {"wallet": {"data": data}}}})
    };
    app.post(
        "/transactions",
        with_wallet(json!({"type": "wallets", "id": "424242"})),
    )
    .expect_error(
        404,
        "wallet-not-found",
        Some(("pointer", "/data/relationships/wallet/data")),
    );
    app.post(
        "/transactions",
        with_wallet(json!({"type": "wallets", "id": "abc"})),
    )
    .expect_error(
        404,
        "wallet-not-found",
        Some(("pointer", "/data/relationships/wallet/data")),
    );
    app.post(
        "/transactions",
        with_wallet(json!({"type": "people", "id": wallet})),
    )
    .expect_error(
        409,
        "type-mismatch",
        Some(("pointer", "/data/relationships/wallet/data/type")),
    );
    app.post("/transactions", with_wallet(json!(null)))
        .expect_error(
            422,
            "invalid-attribute",
            Some(("pointer", "/data/relationships/wallet/data")),
        );
    app.post(
        "/transactions",
        with_wallet(json!([{"type": "wallets", "id": wallet}])),
    )
    .expect_error(
        400,
        "invalid-document",
        Some(("pointer", "/data/relationships/wallet/data")),
    );
    // The wallet as an attribute, as older clients sent it, is not how JSON:API relates.
    app.post(
        "/transactions",
        json!({"data": {"type": "transactions", "attributes": {"txid": "t", "amount": "1", "wallet": wallet},
                        "relationships": {"wallet": {"data": {"type": "wallets", "id": wallet}}}}}),
    )
    .expect_error(422, "unknown-field", Some(("pointer", "/data/attributes/wallet")));
}

#[test]
fn an_overdraft_is_409_and_changes_nothing() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("w");
    app.book(&wallet, "in", "10").expect(201);
    let reply = app.book(&wallet, "out", "-10.000000000000000001");
    reply.expect_error(
        409,
        "insufficient-funds",
        Some(("pointer", "/data/attributes/amount")),
    );
    assert!(
        reply.error()["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("wallet {wallet}"))
    );
    assert_eq!(app.balance(&wallet), "10.000000000000000000");
    assert_eq!(
        app.get("/transactions?filter[txid]=out").body["data"],
        json!([])
    );
    app.book(&wallet, "out-exact", "-10").expect(201);
    assert_eq!(app.balance(&wallet), "0.000000000000000000");
}

#[test]
fn a_balance_overflow_is_422_not_500() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("w");
    app.book(&wallet, "big", "999999999999999999.999999999999999999")
        .expect(201);
    app.book(&wallet, "one-more", "0.000000000000000001")
        .expect_error(
            422,
            "balance-overflow",
            Some(("pointer", "/data/attributes/amount")),
        );
    assert_eq!(
        app.balance(&wallet),
        "999999999999999999.999999999999999999"
    );
}

#[test]
fn patching_the_amount_moves_the_difference() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("w");
    let id = app.book(&wallet, "t", "10").body["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let reply = app.patch(
        &format!("/transactions/{id}"),
        json!({"data": {"type": "transactions", "id": id, "attributes": {"amount": "25", "txid": "t-renamed"}}}),
    );
    reply.expect(200);
    assert_eq!(
        reply.body["data"]["attributes"]["amount"],
        "25.000000000000000000"
    );
    assert_eq!(reply.body["data"]["attributes"]["txid"], "t-renamed");
    assert_eq!(app.balance(&wallet), "25.000000000000000000");
    app.book(&wallet, "spend", "-20").expect(201);
    app.patch(
        &format!("/transactions/{id}"),
        json!({"data": {"type": "transactions", "id": id, "attributes": {"amount": "19"}}}),
    )
    .expect_error(
        409,
        "insufficient-funds",
        Some(("pointer", "/data/attributes/amount")),
    );
    assert_eq!(app.balance(&wallet), "5.000000000000000000");
    app.patch(
        &format!("/transactions/{id}"),
        json!({"data": {"type": "transactions", "id": id, "attributes": {"createdAt": "2020-01-01T00:00:00Z"}}}),
    )
    .expect_error(403, "read-only-field", Some(("pointer", "/data/attributes/createdAt")));
    app.patch(
        "/transactions/424242",
        json!({"data": {"type": "transactions", "id": "424242", "attributes": {"amount": "1"}}}),
    )
    .expect_error(404, "transaction-not-found", None);
}

#[test]
fn moving_a_transaction_moves_its_money_both_ways_of_asking() {
    let app = TestApp::spawn();
    let from = app.create_wallet("from");
    let to = app.create_wallet("to");
    let id = app.book(&from, "t", "7").body["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // As part of the resource...
    let reply = app.patch(
        &format!("/transactions/{id}"),
        json!({"data": {"type": "transactions", "id": id,
                        "relationships": {"wallet": {"data": {"type": "wallets", "id": to}}}}}),
    );
    reply.expect(200);
    assert_eq!(
        reply.body["data"]["relationships"]["wallet"]["data"]["id"],
        to
    );
    assert_eq!(app.balance(&from), "0.000000000000000000");
    assert_eq!(app.balance(&to), "7.000000000000000000");
    // ...or through the relationship URL.
    let url = format!("/transactions/{id}/relationships/wallet");
    let reply = app.patch(&url, json!({"data": {"type": "wallets", "id": from}}));
    reply.expect(200);
    assert_eq!(reply.body["data"], json!({"type": "wallets", "id": from}));
    assert_eq!(
        reply.body["links"]["related"],
        app.url(&format!("/transactions/{id}/wallet"))
    );
    assert_eq!(app.balance(&from), "7.000000000000000000");
    assert_eq!(app.balance(&to), "0.000000000000000000");
    // Refusals: to nowhere, to a missing wallet, a spent deposit.
    app.patch(&url, json!({"data": null})).expect_error(
        422,
        "invalid-attribute",
        Some(("pointer", "/data")),
    );
    app.patch(&url, json!({"data": {"type": "wallets", "id": "424242"}}))
        .expect_error(404, "wallet-not-found", Some(("pointer", "/data")));
    app.patch(&url, json!({"data": {"type": "transactions", "id": to}}))
        .expect_error(409, "type-mismatch", Some(("pointer", "/data/type")));
    app.book(&from, "spend", "-7").expect(201);
    app.patch(&url, json!({"data": {"type": "wallets", "id": to}}))
        .expect_error(409, "insufficient-funds", Some(("pointer", "/data")));
    assert_eq!(app.balance(&from), "0.000000000000000000");
}

#[test]
fn the_related_wallet_and_the_linkage_answer_get() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("w");
    let id = app.book(&wallet, "t", "3").body["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let related = app.get(&format!("/transactions/{id}/wallet"));
    related.expect(200);
    assert_eq!(related.body["data"]["id"], wallet);
    assert_eq!(
        related.body["data"]["attributes"]["balance"],
        "3.000000000000000000"
    );
    let linkage = app.get(&format!("/transactions/{id}/relationships/wallet"));
    linkage.expect(200);
    assert_eq!(
        linkage.body["data"],
        json!({"type": "wallets", "id": wallet})
    );
    assert_eq!(
        linkage.body["links"]["self"],
        app.url(&format!("/transactions/{id}/relationships/wallet"))
    );
    app.get("/transactions/424242/wallet")
        .expect_error(404, "transaction-not-found", None);
}

#[test]
fn deleting_a_transaction_takes_its_money_back() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("w");
    let deposit = app.book(&wallet, "in", "10").body["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let spend = app.book(&wallet, "out", "-4").body["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.delete(&format!("/transactions/{deposit}"))
        .expect_error(409, "insufficient-funds", None);
    app.delete(&format!("/transactions/{spend}")).expect(204);
    assert_eq!(app.balance(&wallet), "10.000000000000000000");
    app.delete(&format!("/transactions/{deposit}")).expect(204);
    assert_eq!(app.balance(&wallet), "0.000000000000000000");
    app.delete(&format!("/transactions/{deposit}"))
        .expect_error(404, "transaction-not-found", None);
}

#[test]
fn include_wallet_on_one_transaction() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("w");
    let reply = app.post(
        "/transactions?include=wallet",
        transaction_document(&wallet, "t", "2"),
    );
    reply.expect(201);
    assert_eq!(reply.body["included"][0]["id"], wallet);
    assert_eq!(
        reply.body["included"][0]["attributes"]["balance"], "2.000000000000000000",
        "the balance after the write"
    );
    let id = reply.body["data"]["id"].as_str().unwrap();
    let reply = app.get(&format!(
        "/transactions/{id}?include=wallet&fields[wallets]=balance"
    ));
    assert_eq!(
        reply.body["included"][0]["attributes"],
        json!({"balance": "2.000000000000000000"})
    );
}

#[test]
fn concurrent_withdrawals_over_http_end_at_exactly_zero() {
    const CLIENTS: usize = 16;
    const FUNDS: usize = 6;
    let app = TestApp::spawn();
    let wallet = app.create_wallet("hot");
    app.book(&wallet, "fund", &FUNDS.to_string()).expect(201);
    let statuses: Vec<u16> = all_at_once(
        CLIENTS,
        |_| (),
        |i, ()| app.book(&wallet, &format!("w{i}"), "-1").status,
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        FUNDS,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        CLIENTS - FUNDS,
        "{statuses:?}"
    );
    assert_eq!(app.balance(&wallet), "0.000000000000000000");
}

#[test]
fn racing_requests_with_one_txid_book_it_once() {
    const CLIENTS: usize = 12;
    let app = TestApp::spawn();
    let wallet = app.create_wallet("w");
    let replies: Vec<(u16, Value)> = all_at_once(
        CLIENTS,
        |_| (),
        |_, ()| {
            let reply = app.book(&wallet, "the-one", "5");
            (reply.status, reply.body)
        },
    );
    assert_eq!(
        replies.iter().filter(|(s, _)| *s == 201).count(),
        1,
        "{replies:?}"
    );
    for (status, body) in replies.iter().filter(|(s, _)| *s != 201) {
        assert_eq!(*status, 409);
        assert_eq!(body["errors"][0]["code"], "duplicate-txid");
        let detail = body["errors"][0]["detail"].as_str().unwrap();
        assert!(
            !detail.contains("violates") && !detail.contains("constraint"),
            "no database text: {detail}"
        );
    }
    assert_eq!(app.balance(&wallet), "5.000000000000000000");
}
