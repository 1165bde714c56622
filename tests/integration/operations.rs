//! `POST /operations` (JSON:API Atomic Operations): transfers and batches, all or nothing,
//! every document checked against the extension's shape.

use serde_json::{Value, json};

use crate::helpers::{ATOMIC, ATOMIC_URI, JSONAPI, TestApp, all_at_once, each, scalar};

fn book(wallet: &str, txid: &str, amount: &str) -> Value {
    json!({"op": "add", "data": {"type": "transactions",
        "attributes": {"txid": txid, "amount": amount},
        "relationships": {"wallet": {"data": {"type": "wallets", "id": wallet}}}}})
}

/// A transfer: the debit first, so that it can never overdraw.
fn transfer(from: &str, to: &str, amount: &str, reference: &str) -> Value {
    json!([
        book(from, &format!("{reference}-out"), &format!("-{amount}")),
        book(to, &format!("{reference}-in"), amount),
    ])
}

/// Two wallets, the first funded with `funds`.
fn two_wallets(app: &TestApp, funds: &str) -> (String, String) {
    let (a, b) = (app.create_wallet("a"), app.create_wallet("b"));
    app.book(&a, "fund", funds).expect(201);
    (a, b)
}

fn count(app: &TestApp, table: &str) -> String {
    scalar(
        &mut app.db.connect(),
        &format!("SELECT count(*) FROM {table}"),
    )
}

#[test]
fn a_transfer_is_one_request() {
    let app = TestApp::spawn();
    let (a, b) = two_wallets(&app, "100");
    let reply = app.operations(transfer(&a, &b, "25", "t1"));
    reply.expect(200);
    assert_eq!(reply.header("content-type"), Some(ATOMIC));
    assert_eq!(reply.body["jsonapi"]["ext"], json!([ATOMIC_URI]));
    let results = reply.body["atomic:results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["data"]["type"], "transactions");
    assert_eq!(
        results[0]["data"]["attributes"]["amount"],
        "-25.000000000000000000"
    );
    assert_eq!(
        results[1]["data"]["relationships"]["wallet"]["data"]["id"],
        b.as_str()
    );
    assert_eq!(app.balance(&a), "75.000000000000000000");
    assert_eq!(app.balance(&b), "25.000000000000000000");
    // Each operation is its own statement: one journal entry per wallet per operation.
    assert_eq!(
        scalar(
            &mut app.db.connect(),
            &format!("SELECT count(*) FROM balance_changes WHERE wallet_id IN ({a}, {b})")
        ),
        "3"
    );
}

#[test]
fn a_transfer_shows_the_balances_it_leaves_when_asked() {
    let app = TestApp::spawn();
    let (a, b) = two_wallets(&app, "100");
    let mut operations = transfer(&a, &b, "40", "t");
    for wallet in [&a, &b] {
        // An update that changes nothing: its result is the wallet as committed.
        operations
            .as_array_mut()
            .unwrap()
            .push(json!({"op": "update", "data": {"type": "wallets", "id": wallet}}));
    }
    let reply = app.operations(operations);
    reply.expect(200);
    let results = &reply.body["atomic:results"];
    assert_eq!(
        results[2]["data"]["attributes"]["balance"],
        "60.000000000000000000"
    );
    assert_eq!(
        results[3]["data"]["attributes"]["balance"],
        "40.000000000000000000"
    );
}

#[test]
fn an_overdrawing_debit_writes_nothing_and_points_at_its_operation() {
    let app = TestApp::spawn();
    let (a, b) = two_wallets(&app, "10");
    let before = (count(&app, "transactions"), count(&app, "balance_changes"));
    let reply = app.operations(transfer(&a, &b, "25", "t1"));
    reply.expect_error(
        409,
        "insufficient-funds",
        Some(("pointer", "/atomic:operations/0/data/attributes/amount")),
    );
    assert_eq!(reply.header("content-type"), Some(ATOMIC));
    assert_eq!(app.balance(&a), "10.000000000000000000");
    assert_eq!(app.balance(&b), "0.000000000000000000");
    assert_eq!(
        (count(&app, "transactions"), count(&app, "balance_changes")),
        before
    );
}

#[test]
fn local_ids_chain_operations_and_results_are_as_committed() {
    let app = TestApp::spawn();
    let reply = app.operations(json!([
        {"op": "add", "data": {"type": "wallets", "lid": "new", "attributes": {"label": "savings"}}},
        {"op": "add", "data": {"type": "transactions", "attributes": {"txid": "first", "amount": "70"},
            "relationships": {"wallet": {"data": {"type": "wallets", "lid": "new"}}}}},
        {"op": "add", "data": {"type": "transactions", "lid": "second", "attributes": {"txid": "second", "amount": "5"},
            "relationships": {"wallet": {"data": {"type": "wallets", "lid": "new"}}}}},
        {"op": "update", "ref": {"type": "transactions", "lid": "second"},
            "data": {"type": "transactions", "lid": "second", "attributes": {"amount": "30"}}},
        {"op": "update", "data": {"type": "wallets", "lid": "new", "attributes": {"label": "renamed"}}}
    ]));
    reply.expect(200);
    let results = &reply.body["atomic:results"];
    let wallet = results[0]["data"]["id"].as_str().unwrap();
    // The wallet added first is shown as the request left it: funded and renamed.
    assert_eq!(results[0]["data"]["attributes"]["label"], "renamed");
    assert_eq!(
        results[0]["data"]["attributes"]["balance"],
        "100.000000000000000000"
    );
    assert_eq!(
        results[2]["data"]["attributes"]["amount"],
        "30.000000000000000000"
    );
    assert_eq!(results[2]["data"]["id"], results[3]["data"]["id"]);
    assert_eq!(
        results[1]["data"]["relationships"]["wallet"]["data"]["id"],
        wallet
    );
    assert_eq!(app.balance(wallet), "100.000000000000000000");
}

#[test]
fn a_failing_operation_in_the_middle_of_fifty_rolls_back_all() {
    let app = TestApp::spawn();
    let (a, _) = two_wallets(&app, "1000");
    let mut operations: Vec<Value> = (0..50)
        .map(|i| book(&a, &format!("batch-{i}"), "1"))
        .collect();
    operations[23]["data"]["attributes"]["amount"] = json!("0");
    let before = count(&app, "transactions");
    app.operations(json!(operations)).expect_error(
        422,
        "invalid-attribute",
        Some(("pointer", "/atomic:operations/23/data/attributes/amount")),
    );
    // A database refusal in the middle: a txid an earlier operation of the batch took.
    operations[23]["data"]["attributes"]["amount"] = json!("1");
    operations[31]["data"]["attributes"]["txid"] = json!("batch-3");
    let reply = app.operations(json!(operations));
    reply.expect_error(
        409,
        "duplicate-txid",
        Some(("pointer", "/atomic:operations/31/data/attributes/txid")),
    );
    assert_eq!(count(&app, "transactions"), before);
    assert_eq!(app.balance(&a), "1000.000000000000000000");
    // Without it, all fifty.
    operations[31]["data"]["attributes"]["txid"] = json!("batch-31");
    app.operations(json!(operations)).expect(200);
    assert_eq!(app.balance(&a), "1050.000000000000000000");
}

#[test]
fn moves_and_removes_in_one_batch() {
    let app = TestApp::spawn();
    let (a, b) = two_wallets(&app, "100");
    let moved = app.book(&a, "moved", "20");
    let moved = moved.body["data"]["id"].as_str().unwrap().to_string();
    let gone = app.book(&a, "gone", "5");
    let gone = gone.body["data"]["id"].as_str().unwrap().to_string();
    let reply = app.operations(json!([
        {"op": "update", "ref": {"type": "transactions", "id": moved, "relationship": "wallet"},
         "data": {"type": "wallets", "id": b}},
        {"op": "remove", "href": format!("/transactions/{gone}")}
    ]));
    reply.expect(200);
    assert_eq!(
        reply.body["atomic:results"],
        json!([{"data": {"type": "wallets", "id": b}}, {}])
    );
    assert_eq!(app.balance(&a), "100.000000000000000000");
    assert_eq!(app.balance(&b), "20.000000000000000000");
    app.get(&format!("/transactions/{gone}")).expect(404);

    // Only removes: no result has data, so 204.
    let reply =
        app.operations(json!([{"op": "remove", "ref": {"type": "transactions", "id": moved}}]));
    reply.expect(204);
    assert_eq!(app.balance(&b), "0.000000000000000000");
}

#[test]
fn every_malformed_document_is_a_400_naming_where() {
    let app = TestApp::spawn();
    let (a, _) = two_wallets(&app, "10");
    let cases = [
        (
            "an operation without op",
            (
                json!({"atomic:operations": [{"data": {"type": "wallets"}}]}),
                400,
                "/atomic:operations/0",
            ),
        ),
        (
            "an href beside a ref",
            (
                json!({"atomic:operations": [{"op": "remove", "ref": {"type": "wallets", "id": a}, "href": "/wallets/1"}]}),
                400,
                "/atomic:operations/0/href",
            ),
        ),
        (
            "data beside the operations",
            (
                json!({"atomic:operations": [book("1", "x", "1")], "data": {"type": "wallets"}}),
                400,
                "/data",
            ),
        ),
        (
            "a lid never declared",
            (
                json!({"atomic:operations": [{"op": "add", "data": {"type": "transactions", "attributes": {"txid": "t", "amount": "1"},
                "relationships": {"wallet": {"data": {"type": "wallets", "lid": "nowhere"}}}}}]}),
                400,
                "/atomic:operations/0/data/relationships/wallet/data",
            ),
        ),
        (
            "no operations",
            (json!({"atomic:operations": []}), 400, "/atomic:operations"),
        ),
        (
            "operations not a list",
            (
                json!({"atomic:operations": "add"}),
                400,
                "/atomic:operations",
            ),
        ),
        (
            "operations without the extension's prefix",
            (json!({"operations": []}), 400, "/operations"),
        ),
        (
            "an unknown type",
            (
                json!({"atomic:operations": [{"op": "add", "data": {"type": "piggy-banks"}}]}),
                404,
                "/atomic:operations/0/data/type",
            ),
        ),
        (
            "a write to the journal",
            (
                json!({"atomic:operations": [{"op": "add", "data": {"type": "balance-changes"}}]}),
                403,
                "/atomic:operations/0/data/type",
            ),
        ),
        (
            "a write to a read-only relationship",
            (
                json!({"atomic:operations": [{"op": "add", "ref": {"type": "wallets", "id": a, "relationship": "transactions"},
                "data": [{"type": "transactions", "id": "1"}]}]}),
                403,
                "/atomic:operations/0/ref/relationship",
            ),
        ),
        (
            "a ref to a wallet that does not exist",
            (
                json!({"atomic:operations": [{"op": "remove", "ref": {"type": "wallets", "id": "999999"}}]}),
                404,
                "/atomic:operations/0/ref",
            ),
        ),
        (
            "a write to a computed attribute",
            (
                json!({"atomic:operations": [{"op": "update", "data": {"type": "wallets", "id": a, "attributes": {"balance": "5"}}}]}),
                403,
                "/atomic:operations/0/data/attributes/balance",
            ),
        ),
    ];
    each(cases, |(document, status, pointer)| {
        let reply = app.send(
            "POST",
            "/operations",
            &[("Content-Type", ATOMIC)],
            Some(document.to_string()),
        );
        reply.expect(status);
        assert_eq!(
            reply.error()["source"]["pointer"],
            pointer,
            "{document}: {:#}",
            reply.body
        );
    });
    let reply = app.send(
        "POST",
        "/operations",
        &[("Content-Type", ATOMIC)],
        Some("{".into()),
    );
    reply.expect_error(400, "invalid-json", None);

    let too_many: Vec<Value> = (0..1001).map(|i| book(&a, &format!("m{i}"), "1")).collect();
    let reply = app.operations(json!(too_many));
    reply.expect_error(
        413,
        "too-many-operations",
        Some(("pointer", "/atomic:operations")),
    );
    assert_eq!(reply.error()["meta"]["maxOperations"], 1000);
    assert_eq!(app.balance(&a), "10.000000000000000000");
}

#[test]
fn the_extension_is_negotiated_at_operations_only() {
    let app = TestApp::spawn();
    let (a, b) = two_wallets(&app, "10");
    let body = Some(json!({"atomic:operations": transfer(&a, &b, "1", "x")}).to_string());
    // At /operations, the plain JSON:API media type is refused: the document is the extension's.
    app.send(
        "POST",
        "/operations",
        &[("Content-Type", JSONAPI)],
        body.clone(),
    )
    .expect_error(
        415,
        "unsupported-media-type",
        Some(("header", "Content-Type")),
    );
    app.send(
        "POST",
        "/operations",
        &[(
            "Content-Type",
            r#"application/vnd.api+json; ext="https://example.com/ext""#,
        )],
        body.clone(),
    )
    .expect(415);
    app.send(
        "POST",
        "/operations",
        &[
            ("Content-Type", ATOMIC),
            (
                "Accept",
                r#"application/vnd.api+json; ext="https://example.com/ext""#,
            ),
        ],
        body.clone(),
    )
    .expect(406);
    // Elsewhere, the extension is refused as before.
    app.send(
        "POST",
        "/wallets",
        &[("Content-Type", ATOMIC)],
        Some(json!({"data": {"type": "wallets", "attributes": {"label": "x"}}}).to_string()),
    )
    .expect(415);
    app.send("GET", "/wallets", &[("Accept", ATOMIC)], None)
        .expect(406);
    app.send("GET", "/operations", &[], None)
        .expect_error(405, "method-not-allowed", None);
    // With Accept */* or the plain media type, the answer is still of the extension's type.
    let reply = app.send(
        "POST",
        "/operations",
        &[("Content-Type", ATOMIC), ("Accept", "*/*")],
        body,
    );
    reply.expect(200);
    assert_eq!(reply.header("content-type"), Some(ATOMIC));
    assert_eq!(app.balance(&b), "1.000000000000000000");
}

#[test]
fn crossing_transfers_at_once_neither_deadlock_nor_lose_money() {
    const CLIENTS: usize = 16;
    const ROUNDS: usize = 5;
    let app = TestApp::spawn();
    let (a, b) = two_wallets(&app, "1000");
    app.book(&b, "fund-b", "1000").expect(201);
    let statuses: Vec<Vec<u16>> = all_at_once(
        CLIENTS,
        |_| (),
        |client, ()| {
            (0..ROUNDS)
                .map(|round| {
                    let (from, to) = if client % 2 == 0 { (&a, &b) } else { (&b, &a) };
                    app.operations(transfer(from, to, "3", &format!("c{client}-{round}")))
                        .status
                })
                .collect()
        },
    );
    assert!(
        statuses.iter().flatten().all(|status| *status == 200),
        "{statuses:?}"
    );
    // As many transfers each way: the balances are back where they started.
    assert_eq!(app.balance(&a), "1000.000000000000000000");
    assert_eq!(app.balance(&b), "1000.000000000000000000");
    assert_eq!(
        count(&app, "transactions"),
        (2 + 2 * CLIENTS * ROUNDS).to_string()
    );
}
