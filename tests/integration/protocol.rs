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
    assert_eq!(refused.header("allow"), Some("GET, POST"));
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
        ("DELETE", "/wallets", "GET, POST"),
        ("PUT", "/wallets/1", "GET, PATCH, DELETE"),
        ("POST", "/transactions/1", "GET, PATCH, DELETE"),
        ("POST", "/wallets/1/transactions", "GET"),
        (
            "DELETE",
            "/transactions/1/relationships/wallet",
            "GET, PATCH",
        ),
        ("POST", "/health", "GET"),
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
        assert_eq!(reply.header("allow"), Some("GET"));
    }
    // OPTIONS is a method no route serves too: the same 405 lists what is served.
    let reply = app.send("OPTIONS", "/balance-changes", &[], None);
    reply.expect_error(405, "method-not-allowed", None);
    assert_eq!(reply.header("allow"), Some("GET, POST"));
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
