//! The JSON:API protocol rules that apply to every endpoint: media types, unknown routes and
//! methods, request bodies, query parameters, the top-level document. Every response body
//! is checked against the official JSON:API schema by the test client.

use crate::helpers::{JSONAPI, TestApp, each};
use serde_json::json;

fn wallet_body() -> Option<String> {
    Some(json!({"data": {"type": "wallets", "attributes": {"label": "x"}}}).to_string())
}

#[test]
fn every_response_is_jsonapi_with_version_and_self_link() {
    let app = TestApp::spawn();
    let id = app.create_wallet("a");
    for path in [
        "/wallets",
        &format!("/wallets/{id}"),
        "/transactions",
        "/nope",
        "/wallets?sort=colour",
        "/transactions/1/relationships/wallet",
    ] {
        let reply = app.get(path);
        assert_eq!(reply.header("content-type"), Some(JSONAPI));
        assert_eq!(reply.body["jsonapi"], json!({"version": "1.1"}), "{path}");
        assert_eq!(
            reply.body["links"]["self"],
            app.url(path),
            "{path}: errors too"
        );
    }
    // Refusals made before routing (media types, methods) carry it as well.
    let refused = app.send(
        "POST",
        "/wallets",
        &[("Content-Type", "text/plain")],
        wallet_body(),
    );
    assert_eq!(refused.status, 415);
    assert_eq!(refused.body["links"]["self"], app.url("/wallets"));
    assert_eq!(refused.header("vary"), Some("Accept"));
    let refused = app.send("DELETE", "/wallets", &[], None);
    assert_eq!(refused.status, 405);
    assert_eq!(refused.body["links"]["self"], app.url("/wallets"));
    assert_eq!(refused.header("allow"), Some("GET, HEAD, POST"));
}

#[test]
fn a_request_body_must_be_sent_as_jsonapi() {
    let app = TestApp::spawn();
    for content_type in [
        None,
        Some("application/json"),
        Some("text/plain"),
        Some("application/vnd.api+json; charset=utf-8"),
        Some("application/vnd.api+json; ext=\"https://jsonapi.org/ext/atomic\""),
    ] {
        let headers: Vec<(&str, &str)> = content_type
            .iter()
            .map(|ct| ("Content-Type", *ct))
            .collect();
        let reply = app.send("POST", "/wallets", &headers, wallet_body());
        reply.expect_error(
            415,
            "unsupported-media-type",
            Some(("header", "Content-Type")),
        );
    }
    // Profiles are allowed (and ignored when unknown).
    let reply = app.send(
        "POST",
        "/wallets",
        &[(
            "Content-Type",
            "application/vnd.api+json; profile=\"https://example.com/p\"",
        )],
        wallet_body(),
    );
    reply.expect(201);
    assert_eq!(
        app.get("/wallets").body["data"].as_array().unwrap().len(),
        1,
        "the refused requests wrote nothing"
    );
}

#[test]
fn accept_must_allow_plain_jsonapi_when_it_names_jsonapi() {
    let app = TestApp::spawn();
    let refused = app.send(
        "GET",
        "/wallets",
        &[("Accept", "application/vnd.api+json; charset=utf-8")],
        None,
    );
    refused.expect_error(406, "not-acceptable", Some(("header", "Accept")));
    let refused = app.send(
        "GET",
        "/wallets",
        &[(
            "Accept",
            "application/vnd.api+json; ext=\"https://example.com/e\"",
        )],
        None,
    );
    refused.expect(406);
    for accept in [
        "*/*",
        "application/json",
        "application/vnd.api+json; charset=utf-8, application/vnd.api+json",
        "application/vnd.api+json; profile=\"https://example.com/p\"",
    ] {
        app.send("GET", "/wallets", &[("Accept", accept)], None)
            .expect(200);
    }
    app.send("GET", "/wallets", &[], None).expect(200);
}

#[test]
fn unknown_routes_answer_a_jsonapi_404() {
    let app = TestApp::spawn();
    for path in [
        "/",
        "/nope",
        "/wallets/1/nope",
        "/transactions/1/relationships/nope",
    ] {
        app.get(path).expect_error(404, "not-found", None);
    }
    app.get("/wallets/abc")
        .expect_error(404, "wallet-not-found", None);
    app.get("/wallets/99999")
        .expect_error(404, "wallet-not-found", None);
    app.get("/transactions/0")
        .expect_error(404, "transaction-not-found", None);
}

#[test]
fn wrong_methods_answer_a_jsonapi_405_with_allow() {
    let app = TestApp::spawn();
    for (method, path, allow) in [
        ("DELETE", "/wallets", "GET, HEAD, POST"),
        ("PUT", "/wallets/1", "GET, HEAD, PATCH, DELETE"),
        ("POST", "/transactions/1", "GET, HEAD, PATCH, DELETE"),
        ("POST", "/wallets/1/transactions", "GET, HEAD"),
        (
            "DELETE",
            "/transactions/1/relationships/wallet",
            "GET, HEAD, PATCH",
        ),
        ("POST", "/health", "GET, HEAD"),
    ] {
        let reply = app.send(
            method,
            path,
            &[("Content-Type", JSONAPI)],
            Some("{}".into()),
        );
        reply.expect_error(405, "method-not-allowed", None);
        assert_eq!(reply.header("allow"), Some(allow), "{method} {path}");
    }
}

#[test]
fn a_method_no_route_serves_is_a_405_whatever_the_body() {
    let app = TestApp::spawn();
    for (headers, body) in [
        (vec![], None),
        (
            vec![("Content-Type", "text/plain")],
            Some("hello".to_string()),
        ),
        (
            vec![("Accept", "application/vnd.api+json; charset=x")],
            None,
        ),
    ] {
        let reply = app.send("PUT", "/health", &headers, body);
        reply.expect_error(405, "method-not-allowed", None);
        assert_eq!(reply.header("allow"), Some("GET, HEAD"));
    }
    // OPTIONS is a method no route serves too: the same 405 lists what is served.
    let reply = app.send("OPTIONS", "/balance-changes", &[], None);
    reply.expect_error(405, "method-not-allowed", None);
    assert_eq!(reply.header("allow"), Some("GET, HEAD, POST"));
}

#[test]
fn a_refused_write_is_a_403_before_any_media_type_check() {
    let app = TestApp::spawn();
    for (method, path, code) in [
        ("POST", "/balance-changes", "read-only-resource"),
        ("PATCH", "/balance-changes/1", "read-only-resource"),
        (
            "POST",
            "/wallets/1/relationships/transactions",
            "read-only-relationship",
        ),
        (
            "PATCH",
            "/balance-changes/1/relationships/wallet",
            "read-only-relationship",
        ),
    ] {
        let reply = app.send(
            method,
            path,
            &[
                ("Content-Type", "text/plain"),
                ("Accept", "application/vnd.api+json; charset=x"),
            ],
            Some("not a document".into()),
        );
        reply.expect_error(403, code, None);
    }
    // Where the write is served, the media type is checked first.
    app.send(
        "POST",
        "/wallets",
        &[("Content-Type", "text/plain")],
        Some("not a document".into()),
    )
    .expect_error(
        415,
        "unsupported-media-type",
        Some(("header", "Content-Type")),
    );
}

#[test]
fn a_trailing_slash_is_the_same_url() {
    let app = TestApp::spawn();
    let id = app.create_wallet("slash");
    app.get("/wallets/").expect(200);
    let reply = app.get(&format!("/wallets/{id}/"));
    reply.expect(200);
    assert_eq!(reply.body["data"]["id"], id);
    app.send(
        "POST",
        "/wallets/",
        &[("Content-Type", JSONAPI)],
        wallet_body(),
    )
    .expect(201);
}

#[test]
fn malformed_json_and_wrong_shapes_are_400() {
    let app = TestApp::spawn();
    let cases = [
        ("cut short", ("{\"data\": ", None)),
        ("empty", ("", None)),
        ("an array", ("[1]", Some(""))),
        ("data an array", ("{\"data\": []}", Some("/data"))),
        (
            "data without a type",
            (
                "{\"data\": {\"attributes\": {\"label\": \"x\"}}}",
                Some("/data"),
            ),
        ),
        (
            "attributes a number",
            (
                "{\"data\": {\"type\": \"wallets\", \"attributes\": 7}}",
                Some("/data/attributes"),
            ),
        ),
        (
            "included in a write",
            (
                "{\"data\": {\"type\": \"wallets\"}, \"included\": []}",
                Some("/included"),
            ),
        ),
    ];
    each(cases, |(body, pointer)| {
        let reply = app.send(
            "POST",
            "/wallets",
            &[("Content-Type", JSONAPI)],
            Some(body.to_string()),
        );
        reply.expect(400);
        if let Some(pointer) = pointer {
            assert_eq!(reply.error()["source"]["pointer"], pointer, "{body}");
        }
    });
}

#[test]
fn request_bodies_are_capped_at_one_mebibyte() {
    let app = TestApp::spawn();
    let label = "x".repeat(1 << 20);
    let body = json!({"data": {"type": "wallets", "attributes": {"label": label}}}).to_string();
    let reply = app.send("POST", "/wallets", &[("Content-Type", JSONAPI)], Some(body));
    reply.expect_error(413, "payload-too-large", None);
}

#[test]
fn unknown_or_repeated_query_parameters_are_400_naming_the_parameter() {
    let app = TestApp::spawn();
    let cases = [
        ("an unknown parameter", ("foo=1", "foo")),
        ("a camel-case name", ("camelCase=1", "camelCase")),
        ("a repeated parameter", ("sort=id&sort=label", "sort")),
        ("offset paging", ("page[offset]=1", "page[offset]")),
        (
            "fields of an unknown type",
            ("fields[people]=name", "fields[people]"),
        ),
        (
            "an unknown field",
            ("fields[wallets]=colour", "fields[wallets]"),
        ),
        ("an unknown include", ("include=owner", "include")),
    ];
    each(cases, |(query, parameter)| {
        app.get(&format!("/wallets?{query}")).expect_error(
            400,
            "invalid-query-parameter",
            Some(("parameter", parameter)),
        );
    });
}

#[test]
fn collection_parameters_are_refused_on_single_resources() {
    let app = TestApp::spawn();
    let id = app.create_wallet("one");
    for (query, parameter) in [
        ("sort=id", "sort"),
        ("filter[id]=1", "filter[id]"),
        ("page[size]=2", "page"),
    ] {
        app.get(&format!("/wallets/{id}?{query}")).expect_error(
            400,
            "invalid-query-parameter",
            Some(("parameter", parameter)),
        );
    }
    // A DELETE answers no document, so nothing can be included; the wallet stays.
    app.delete(&format!("/wallets/{id}?include=transactions"))
        .expect_error(
            400,
            "invalid-query-parameter",
            Some(("parameter", "include")),
        );
    app.get(&format!("/wallets/{id}")).expect(200);
}

#[test]
fn health_answers_when_the_database_does() {
    let app = TestApp::spawn();
    let reply = app.get("/health");
    reply.expect(200);
    assert_eq!(reply.body["meta"]["database"], "ok");
    // Without its database the service says so with a 503, not a hang or an HTML page.
    let elsewhere = crate::helpers::TestDb::new();
    let mut admin = elsewhere.connect();
    crate::helpers::exec(
        &mut admin,
        &format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'; \
             ALTER DATABASE {} ALLOW_CONNECTIONS false",
            app.db.name, app.db.name
        ),
    );
    let reply = app.get("/health");
    reply.expect_error(503, "database-unavailable", None);
    crate::helpers::exec(
        &mut admin,
        &format!("ALTER DATABASE {} ALLOW_CONNECTIONS true", app.db.name),
    );
    assert_eq!(app.get("/health").status, 200);
}

#[test]
fn head_answers_what_get_would_without_the_body() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("head");
    app.book(&wallet, "t-1", "5").expect(201);
    let cases = [
        ("a collection", ("/wallets?sort=-id".to_string(), 200)),
        ("a resource", (format!("/wallets/{wallet}"), 200)),
        (
            "a page of children",
            (format!("/wallets/{wallet}/transactions?page[size]=1"), 200),
        ),
        (
            "a linkage",
            (format!("/wallets/{wallet}/relationships/transactions"), 200),
        ),
        (
            "the journal",
            ("/balance-changes?filter[wallet]=1".to_string(), 200),
        ),
        (
            "a wallet that does not exist",
            ("/wallets/999999".to_string(), 404),
        ),
        ("a bad parameter", ("/wallets?sort=colour".to_string(), 400)),
        ("the health", ("/health".to_string(), 200)),
        ("the liveness", ("/health/live".to_string(), 200)),
    ];
    each(cases, |(path, status)| {
        let get = app.send("GET", &path, &[], None);
        let head = app.send("HEAD", &path, &[], None);
        assert_eq!((get.status, head.status), (status, status), "{path}");
        assert!(head.text.is_empty(), "{path}: {}", head.text);
        assert_eq!(
            head.header("content-length"),
            Some(get.text.len().to_string().as_str()),
            "{path}"
        );
        assert_eq!(
            head.header("content-type"),
            get.header("content-type"),
            "{path}"
        );
        assert!(head.header("x-request-id").is_some(), "{path}");
    });
    // The public endpoints need no key for HEAD either; the others answer 401 as GET does.
    let anyone = app.as_key(None);
    for path in ["/health", "/health/live", "/openapi.json"] {
        let head = anyone.send("HEAD", path, &[], None);
        assert_eq!(head.status, 200, "{path}");
        assert!(head.text.is_empty());
    }
    let refused = anyone.send("HEAD", "/wallets", &[], None);
    assert_eq!(refused.status, 401);
    assert!(refused.text.is_empty());
    assert!(
        refused
            .header("www-authenticate")
            .is_some_and(|challenge| challenge.starts_with("Bearer"))
    );
    // HEAD needs the read scope, as GET does: a read key may, a key without it may not.
    let (_, reader) = app.new_key("reader", &["read"], &[]);
    assert_eq!(
        app.as_key(Some(&reader))
            .send("HEAD", "/wallets", &[], None)
            .status,
        200
    );
}

#[test]
fn a_member_sent_on_the_wrong_side_is_told_where_it_goes() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("w");
    let cases = [
        (
            "a relationship as an attribute",
            (
                json!({"data": {"type": "transactions",
                    "attributes": {"txid": "t", "amount": "1", "wallet": wallet}}}),
                "/data/attributes/wallet",
                "wallet is a relationship of transactions, not an attribute: send it as /data/relationships/wallet",
            ),
        ),
        (
            "an attribute as a relationship",
            (
                json!({"data": {"type": "transactions", "attributes": {"txid": "t", "amount": "1"},
                    "relationships": {"wallet": {"data": {"type": "wallets", "id": wallet}},
                                      "amount": {"data": {"type": "amounts", "id": "1"}}}}}),
                "/data/relationships/amount",
                "amount is an attribute of transactions, not a relationship: send its value as /data/attributes/amount",
            ),
        ),
    ];
    each(cases, |(document, pointer, says)| {
        let reply = app.post("/transactions", document);
        reply.expect_error(422, "unknown-field", Some(("pointer", pointer)));
        let detail = reply.error()["detail"].as_str().unwrap();
        assert!(detail.contains(says), "{detail}");
    });
    // A to-many relationship of wallets sent as an attribute: not written here at all.
    let reply = app.post(
        "/wallets",
        json!({"data": {"type": "wallets", "attributes": {"label": "x", "transactions": []}}}),
    );
    reply.expect_error(
        422,
        "unknown-field",
        Some(("pointer", "/data/attributes/transactions")),
    );
    assert!(
        reply.error()["detail"]
            .as_str()
            .unwrap()
            .contains("transactions is a relationship of wallets, not an attribute")
    );
}
