//! `/balance-changes` and `?balanceAt=`: the journal over HTTP, read-only, with the filters,
//! sorts, pages and include of the other collections.

use serde_json::{Value, json};

use crate::helpers::{JSONAPI, Reply, TestApp, exec, scalar};

fn ids(reply: &Reply) -> Vec<String> {
    reply.ids()
}

fn attribute<'a>(reply: &'a Reply, i: usize, name: &str) -> &'a Value {
    &reply.body["data"][i]["attributes"][name]
}

/// A wallet with a history written through the API: deposit 100, deposit 50, withdraw 30,
/// the deposit of 50 raised to 70, the withdrawal deleted. Returns the wallet and the ids
/// of the three transactions.
fn with_history(app: &TestApp) -> (String, [String; 3]) {
    let wallet = app.create_wallet("w");
    let book = |txid: &str, amount: &str| {
        let reply = app.book(&wallet, txid, amount);
        reply.expect(201);
        reply.body["data"]["id"].as_str().unwrap().to_string()
    };
    let ids = [book("d1", "100"), book("d2", "50"), book("w1", "-30")];
    app.patch(
        &format!("/transactions/{}", ids[1]),
        json!({"data": {"type": "transactions", "id": ids[1], "attributes": {"amount": "70"}}}),
    )
    .expect(200);
    app.delete(&format!("/transactions/{}", ids[2])).expect(204);
    (wallet, ids)
}

#[test]
fn every_api_write_is_an_entry_with_its_transaction_and_its_author() {
    let app = TestApp::spawn();
    let (wallet, tx) = with_history(&app);
    let reply = app.get(&format!("/wallets/{wallet}/balance-changes"));
    reply.expect(200);
    let summary: Vec<(String, String, String)> = (0..5)
        .map(|i| {
            let text = |name| attribute(&reply, i, name).as_str().unwrap().to_string();
            (text("operation"), text("delta"), text("balance"))
        })
        .collect();
    let money = |v: &str| format!("{v}.000000000000000000");
    assert_eq!(
        summary,
        [
            ("insert".into(), money("100"), money("100")),
            ("insert".into(), money("50"), money("150")),
            ("insert".into(), money("-30"), money("120")),
            ("update".into(), money("20"), money("140")),
            ("delete".into(), money("30"), money("170")),
        ]
    );
    let first = &reply.body["data"][0];
    assert_eq!(first["type"], "balance-changes");
    assert_eq!(first["attributes"]["transactionCount"], 1);
    assert_eq!(first["attributes"]["application"], "wallet-api");
    assert!(first["attributes"]["changedBy"].is_string());
    assert!(first["attributes"]["changedAt"].is_string());
    assert_eq!(
        first["relationships"]["wallet"]["data"],
        json!({"type": "wallets", "id": wallet})
    );
    assert_eq!(
        first["relationships"]["transaction"]["data"],
        json!({"type": "transactions", "id": tx[0]})
    );
    // The wallet object links to its journal.
    let shown = app.get(&format!("/wallets/{wallet}"));
    let link = shown.body["data"]["relationships"]["balance-changes"]["links"]["related"]
        .as_str()
        .unwrap();
    assert_eq!(ids(&app.get(link)), ids(&reply));
    // A write in psql is told apart from the API's.
    let mut conn = app.db.connect();
    exec(
        &mut conn,
        &format!(
            "SET application_name = 'psql'; UPDATE transactions SET amount = 1 WHERE id = {}",
            tx[0]
        ),
    );
    let latest = app.get(&format!(
        "/wallets/{wallet}/balance-changes?sort=-id&page[size]=1"
    ));
    assert_eq!(attribute(&latest, 0, "application"), "psql");
}

#[test]
fn filters_sorts_pages_and_include() {
    let app = TestApp::spawn();
    let (wallet, _) = with_history(&app);
    let other = app.create_wallet("other");
    app.book(&other, "o1", "5").expect(201);

    let all = app.get("/balance-changes?page[size]=100");
    assert_eq!(ids(&all).len(), 6);
    let of_wallet = app.get(&format!("/balance-changes?filter[wallet]={wallet}"));
    assert_eq!(ids(&of_wallet).len(), 5);
    let updates = app.get("/balance-changes?filter[operation]=update,delete");
    assert_eq!(ids(&updates).len(), 2);
    let newest_first = app.get("/balance-changes?sort=-id");
    let mut expected = ids(&all);
    expected.reverse();
    assert_eq!(ids(&newest_first), expected);
    let by_time = app.get("/balance-changes?sort=-changedAt");
    assert_eq!(ids(&by_time), expected);

    // Times: the entries up to the third one's time, and from it on.
    let third_time = attribute(&of_wallet, 2, "changedAt")
        .as_str()
        .unwrap()
        .to_string();
    let encoded = third_time.replace('+', "%2B");
    let until = app.get(&format!(
        "/wallets/{wallet}/balance-changes?filter[changedAt.lte]={encoded}"
    ));
    assert_eq!(ids(&until), ids(&of_wallet)[..3]);
    let since = app.get(&format!(
        "/wallets/{wallet}/balance-changes?filter[changedAt.gte]={encoded}"
    ));
    assert_eq!(ids(&since), ids(&of_wallet)[2..]);

    // Cursor pages walk everything once; numbered pages count.
    let mut seen = Vec::new();
    let mut next = Some(app.url("/balance-changes?page[size]=4"));
    while let Some(url) = next {
        let page = app.get(&url);
        seen.extend(ids(&page));
        next = page.body["links"]["next"].as_str().map(str::to_string);
    }
    assert_eq!(seen, ids(&all));
    let numbered = app.get("/balance-changes?page[number]=2&page[size]=4");
    assert_eq!(numbered.body["meta"]["pagination"]["count"], 6);
    assert_eq!(ids(&numbered), ids(&all)[4..]);

    // include: each wallet once; the deleted withdrawal cannot be included.
    let included = app.get(&format!(
        "/wallets/{wallet}/balance-changes?include=wallet,transaction"
    ));
    let types: Vec<&str> = included.body["included"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["wallets", "transactions", "transactions"]);

    for bad in [
        "filter[delta]=1",
        "filter[operation.startswith]=up",
        "filter[changedAt.gt]=yesterday",
        "sort=balance",
        "include=wallets",
    ] {
        app.get(&format!("/balance-changes?{bad}")).expect(400);
    }
}

#[test]
fn one_entry_and_its_relationships() {
    let app = TestApp::spawn();
    let (wallet, tx) = with_history(&app);
    let list = app.get(&format!("/wallets/{wallet}/balance-changes"));
    let first = ids(&list)[0].clone();
    let entry = app.get(&format!("/balance-changes/{first}?include=transaction"));
    entry.expect(200);
    assert_eq!(entry.body["included"][0]["id"], tx[0]);
    for (path, id) in [("wallet", &wallet), ("transaction", &tx[0])] {
        let related = app.get(&format!("/balance-changes/{first}/{path}"));
        assert_eq!(&related.body["data"]["id"], id);
        let linkage = app.get(&format!("/balance-changes/{first}/relationships/{path}"));
        assert_eq!(&linkage.body["data"]["id"], id);
    }
    // An entry of several transactions names none.
    let mut conn = app.db.connect();
    exec(
        &mut conn,
        &format!(
            "INSERT INTO transactions (wallet_id, txid, amount) VALUES ({wallet}, 'x', 1), ({wallet}, 'y', 2)"
        ),
    );
    let bulk = scalar(
        &mut conn,
        "SELECT id FROM balance_changes ORDER BY id DESC LIMIT 1",
    );
    let shown = app.get(&format!("/balance-changes/{bulk}"));
    assert_eq!(shown.body["data"]["attributes"]["transactionCount"], 2);
    assert_eq!(
        shown.body["data"]["relationships"]["transaction"]["data"],
        Value::Null
    );
    let related = app.get(&format!("/balance-changes/{bulk}/transaction"));
    related.expect(200);
    assert_eq!(related.body["data"], Value::Null);
    // The deleted withdrawal's entry still names it; the transaction itself is gone.
    let deleted_entry = ids(&list)[2].clone();
    app.get(&format!("/balance-changes/{deleted_entry}/transaction"))
        .expect_error(404, "transaction-not-found", None);
    app.get("/balance-changes/999999")
        .expect_error(404, "balance-change-not-found", None);
}

#[test]
fn the_journal_cannot_be_written_over_http() {
    let app = TestApp::spawn();
    let (wallet, _) = with_history(&app);
    let list = app.get(&format!("/wallets/{wallet}/balance-changes"));
    let id = ids(&list)[0].clone();
    let document = json!({"data": {"type": "balance-changes", "attributes": {"delta": "1"}}});
    app.post("/balance-changes", document.clone())
        .expect_error(403, "read-only-resource", None);
    app.patch(&format!("/balance-changes/{id}"), document)
        .expect_error(403, "read-only-resource", None);
    app.delete(&format!("/balance-changes/{id}"))
        .expect_error(403, "read-only-resource", None);
    app.patch(
        &format!("/balance-changes/{id}/relationships/wallet"),
        json!({"data": {"type": "wallets", "id": wallet}}),
    )
    .expect_error(403, "read-only-relationship", None);
    app.post(
        &format!("/wallets/{wallet}/relationships/balance-changes"),
        json!({"data": [{"type": "balance-changes", "id": id}]}),
    )
    .expect_error(403, "read-only-relationship", None);
    let put = app.send(
        "PUT",
        "/balance-changes",
        &[("Content-Type", JSONAPI)],
        Some("{}".into()),
    );
    put.expect_error(405, "method-not-allowed", None);
    // POST is routed (to its 403, which says why): Allow, the routes and openapi.json agree.
    assert_eq!(put.header("allow"), Some("GET, HEAD, POST"));
    assert_eq!(
        ids(&app.get(&format!("/wallets/{wallet}/balance-changes"))),
        ids(&list)
    );
}

#[test]
fn a_wallet_tells_its_balance_at_any_past_time() {
    let app = TestApp::spawn();
    let (wallet, _) = with_history(&app);
    let list = app.get(&format!("/wallets/{wallet}/balance-changes"));
    let at = |time: &str| {
        let encoded = time.replace('+', "%2B");
        let reply = app.get(&format!("/wallets/{wallet}?balanceAt={encoded}"));
        reply.expect(200);
        // The attribute stays the balance now; the past one is in meta.
        assert_eq!(
            reply.body["data"]["attributes"]["balance"],
            "170.000000000000000000"
        );
        reply.body["data"]["meta"]["balanceAt"]["balance"]
            .as_str()
            .unwrap()
            .to_string()
    };
    for (i, expected) in ["100", "150", "120", "140", "170"].iter().enumerate() {
        let time = attribute(&list, i, "changedAt")
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            at(&time),
            format!("{expected}.000000000000000000"),
            "at {time}"
        );
    }
    assert_eq!(at("2000-01-01"), "0.000000000000000000");
    assert_eq!(at("2999-12-31T00:00:00Z"), "170.000000000000000000");
    let reply = app.get(&format!(
        "/wallets/{wallet}?balanceAt=2026-11-25T10:00:00%2B02:00"
    ));
    assert_eq!(
        reply.body["data"]["meta"]["balanceAt"]["time"],
        "2026-11-25T08:00:00.000000Z"
    );
    // The same, as the journal says it: the last entry at or before the time.
    let latest = app.get(&format!(
        "/wallets/{wallet}/balance-changes?filter[changedAt.lte]=2999-12-31&sort=-id&page[size]=1"
    ));
    assert_eq!(attribute(&latest, 0, "balance"), "170.000000000000000000");

    for bad in ["yesterday", "-5000-01-01", ""] {
        app.get(&format!("/wallets/{wallet}?balanceAt={bad}"))
            .expect_error(
                400,
                "invalid-query-parameter",
                Some(("parameter", "balanceAt")),
            );
    }
    // Only the wallet resource knows it.
    for path in ["/wallets", "/transactions", "/balance-changes"] {
        app.get(&format!("{path}?balanceAt=2026-01-01"))
            .expect_error(
                400,
                "invalid-query-parameter",
                Some(("parameter", "balanceAt")),
            );
    }
}

#[test]
fn a_wallet_with_a_history_is_kept() {
    let app = TestApp::spawn();
    let (wallet, tx) = with_history(&app);
    app.delete(&format!("/wallets/{wallet}"))
        .expect_error(409, "wallet-has-transactions", None);
    for id in &tx[..2] {
        app.delete(&format!("/transactions/{id}")).expect(204);
    }
    app.delete(&format!("/wallets/{wallet}"))
        .expect_error(409, "wallet-has-history", None);
    app.get(&format!("/wallets/{wallet}")).expect(200);
}
