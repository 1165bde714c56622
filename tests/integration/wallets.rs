//! `/wallets`: create, read, relabel, delete, and every refusal with its status and pointer.

use crate::helpers::{JSONAPI, TestApp};
use serde_json::json;

fn wallet(attributes: serde_json::Value) -> serde_json::Value {
    json!({"data": {"type": "wallets", "attributes": attributes}})
}

#[test]
fn create_answers_201_with_location_equal_to_self() {
    let app = TestApp::spawn();
    let reply = app.post("/wallets", wallet(json!({"label": "savings"})));
    reply.expect(201);
    let data = &reply.body["data"];
    assert_eq!(data["type"], "wallets");
    let id = data["id"].as_str().unwrap();
    assert!(
        id.parse::<i64>().is_ok(),
        "ids are strings of the bigint id"
    );
    assert_eq!(reply.header("location"), data["links"]["self"].as_str());
    assert_eq!(data["links"]["self"], app.url(&format!("/wallets/{id}")));
    let attributes = &data["attributes"];
    assert_eq!(attributes["label"], "savings");
    assert_eq!(
        attributes["balance"], "0.000000000000000000",
        "money is a string"
    );
    assert!(attributes["createdAt"].as_str().unwrap().ends_with('Z'));
    assert!(attributes["updatedAt"].is_string());
    // The transactions relationship has links only: no data, however many there are.
    let transactions = &data["relationships"]["transactions"];
    assert!(transactions.get("data").is_none());
    assert_eq!(
        transactions["links"]["related"],
        app.url(&format!("/wallets/{id}/transactions"))
    );
    assert_eq!(
        transactions["links"]["self"],
        app.url(&format!("/wallets/{id}/relationships/transactions"))
    );
    // Every link the server writes answers a GET.
    for link in [
        &data["links"]["self"],
        &transactions["links"]["related"],
        &transactions["links"]["self"],
    ] {
        app.get(link.as_str().unwrap()).expect(200);
    }
}

#[test]
fn show_returns_the_wallet_with_its_stored_balance() {
    let app = TestApp::spawn();
    let id = app.create_wallet("w");
    app.book(&id, "t1", "10.25").expect(201);
    let reply = app.get(&format!("/wallets/{id}"));
    reply.expect(200);
    assert_eq!(
        reply.body["data"]["attributes"]["balance"],
        "10.250000000000000000"
    );
}

#[test]
fn a_label_is_required_and_bounded() {
    let app = TestApp::spawn();
    app.post("/wallets", wallet(json!({}))).expect_error(
        422,
        "missing-field",
        Some(("pointer", "/data/attributes")),
    );
    app.post("/wallets", json!({"data": {"type": "wallets"}}))
        .expect_error(422, "missing-field", Some(("pointer", "/data/attributes")));
    for bad in [
        json!(""),
        json!("x".repeat(256)),
        json!(5),
        json!(null),
        json!(["a"]),
    ] {
        app.post("/wallets", wallet(json!({"label": bad})))
            .expect_error(
                422,
                "invalid-attribute",
                Some(("pointer", "/data/attributes/label")),
            );
    }
    app.post("/wallets", wallet(json!({"label": "ü".repeat(255)})))
        .expect(201);
}

#[test]
fn balance_cannot_be_written() {
    let app = TestApp::spawn();
    app.post("/wallets", wallet(json!({"label": "x", "balance": "100"})))
        .expect_error(
            403,
            "read-only-field",
            Some(("pointer", "/data/attributes/balance")),
        );
    let id = app.create_wallet("x");
    app.patch(
        &format!("/wallets/{id}"),
        json!({"data": {"type": "wallets", "id": id, "attributes": {"balance": "5"}}}),
    )
    .expect_error(
        403,
        "read-only-field",
        Some(("pointer", "/data/attributes/balance")),
    );
    app.post(
        "/wallets",
        wallet(json!({"label": "x", "createdAt": "2020-01-01T00:00:00Z"})),
    )
    .expect_error(
        403,
        "read-only-field",
        Some(("pointer", "/data/attributes/createdAt")),
    );
    assert_eq!(app.balance(&id), "0.000000000000000000");
}

#[test]
fn several_problems_are_reported_together() {
    let app = TestApp::spawn();
    let reply = app.post("/wallets", wallet(json!({"label": "", "colour": "red"})));
    reply.expect(422);
    let pointers: Vec<&str> = reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["source"]["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(
        pointers,
        ["/data/attributes/colour", "/data/attributes/label"]
    );
}

#[test]
fn client_generated_ids_are_forbidden() {
    let app = TestApp::spawn();
    app.post(
        "/wallets",
        json!({"data": {"type": "wallets", "id": "77", "attributes": {"label": "x"}}}),
    )
    .expect_error(403, "client-generated-id", Some(("pointer", "/data/id")));
}

#[test]
fn a_type_or_id_that_does_not_match_is_409() {
    let app = TestApp::spawn();
    app.post(
        "/wallets",
        json!({"data": {"type": "transactions", "attributes": {"label": "x"}}}),
    )
    .expect_error(409, "type-mismatch", Some(("pointer", "/data/type")));
    let id = app.create_wallet("x");
    app.patch(
        &format!("/wallets/{id}"),
        json!({"data": {"type": "wallets", "id": "999", "attributes": {"label": "y"}}}),
    )
    .expect_error(409, "id-mismatch", Some(("pointer", "/data/id")));
    app.patch(
        &format!("/wallets/{id}"),
        json!({"data": {"type": "wallets", "attributes": {"label": "y"}}}),
    )
    .expect_error(400, "invalid-document", Some(("pointer", "/data")));
}

#[test]
fn patch_relabels_and_refreshes_updated_at() {
    let app = TestApp::spawn();
    let created = app.post("/wallets", wallet(json!({"label": "old"})));
    let id = created.body["data"]["id"].as_str().unwrap().to_string();
    let reply = app.patch(
        &format!("/wallets/{id}"),
        json!({"data": {"type": "wallets", "id": id, "attributes": {"label": "new"}}}),
    );
    reply.expect(200);
    assert_eq!(reply.body["data"]["attributes"]["label"], "new");
    assert_ne!(
        reply.body["data"]["attributes"]["updatedAt"],
        created.body["data"]["attributes"]["updatedAt"]
    );
    // A PATCH without attributes changes nothing and answers the wallet.
    app.patch(
        &format!("/wallets/{id}"),
        json!({"data": {"type": "wallets", "id": id}}),
    )
    .expect(200);
    app.patch(
        "/wallets/424242",
        json!({"data": {"type": "wallets", "id": "424242", "attributes": {"label": "x"}}}),
    )
    .expect_error(404, "wallet-not-found", None);
}

#[test]
fn a_wallet_with_history_cannot_be_deleted_an_empty_one_can() {
    let app = TestApp::spawn();
    let busy = app.create_wallet("busy");
    app.book(&busy, "t", "1").expect(201);
    app.delete(&format!("/wallets/{busy}"))
        .expect_error(409, "wallet-has-transactions", None);
    app.get(&format!("/wallets/{busy}")).expect(200);
    let empty = app.create_wallet("empty");
    app.delete(&format!("/wallets/{empty}")).expect(204);
    app.get(&format!("/wallets/{empty}")).expect(404);
    app.delete(&format!("/wallets/{empty}"))
        .expect_error(404, "wallet-not-found", None);
}

#[test]
fn include_transactions_is_refused_with_a_pointer_to_the_collection() {
    let app = TestApp::spawn();
    let id = app.create_wallet("x");
    for path in [
        "/wallets?include=transactions".to_string(),
        format!("/wallets/{id}?include=transactions"),
    ] {
        let reply = app.get(&path);
        reply.expect_error(
            400,
            "invalid-query-parameter",
            Some(("parameter", "include")),
        );
        assert!(
            reply.error()["detail"]
                .as_str()
                .unwrap()
                .contains("/wallets/{id}/transactions")
        );
    }
    // An empty include is fine, and asks for an (empty) included member.
    let reply = app.get(&format!("/wallets/{id}?include="));
    reply.expect(200);
    assert_eq!(reply.body["included"], json!([]));
}

#[test]
fn the_transactions_relationship_cannot_be_written() {
    let app = TestApp::spawn();
    let id = app.create_wallet("x");
    for method in ["POST", "PATCH", "DELETE"] {
        let reply = app.send(
            method,
            &format!("/wallets/{id}/relationships/transactions"),
            &[("Content-Type", JSONAPI)],
            Some(json!({"data": []}).to_string()),
        );
        reply.expect_error(403, "read-only-relationship", None);
    }
    app.post(
        "/wallets",
        json!({"data": {"type": "wallets", "attributes": {"label": "x"},
                        "relationships": {"transactions": {"data": []}}}}),
    )
    .expect_error(
        403,
        "read-only-field",
        Some(("pointer", "/data/relationships/transactions")),
    );
}

#[test]
fn the_transactions_linkage_pages_like_the_collection() {
    let app = TestApp::spawn();
    let id = app.create_wallet("x");
    let other = app.create_wallet("y");
    for i in 0..5 {
        app.book(&id, &format!("t{i}"), "1").expect(201);
    }
    app.book(&other, "elsewhere", "1").expect(201);
    let reply = app.get(&format!(
        "/wallets/{id}/relationships/transactions?page[size]=3"
    ));
    reply.expect(200);
    let data = reply.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    assert!(
        data.iter()
            .all(|item| item["type"] == "transactions" && item.get("attributes").is_none())
    );
    assert_eq!(
        reply.body["links"]["related"],
        app.url(&format!("/wallets/{id}/transactions"))
    );
    let next = app.get(reply.body["links"]["next"].as_str().unwrap());
    assert_eq!(next.body["data"].as_array().unwrap().len(), 2);
    assert!(next.body["links"]["next"].is_null());
    app.get("/wallets/424242/relationships/transactions")
        .expect_error(404, "wallet-not-found", None);
}
