//! `openapi.json` is the contract: built from the route table and the resource declarations
//! (`api::openapi`; a unit test keeps the file equal to what the code builds). Here it is
//! held to what the live server does:
//! - every response the tests receive is of a documented operation (or the 404 of an unknown
//!   URL, the 405 of an undocumented method), with a declared status, content type, body
//!   schema and error code ([`assert_documented`], called by the test client);
//! - every documented method of every path is served, and no other;
//! - every filter, sort key, include path and `fields[]` member is accepted exactly where it
//!   is documented;
//! - a resource object holds exactly the members its declaration names.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use serde_json::{Value, json};

use crate::helpers::{JSONAPI, TestApp};

fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        serde_json::from_str(include_str!("../../openapi.json")).expect("openapi.json is JSON")
    })
}

/// `path` without scheme, authority, query or trailing slash.
fn bare(path: &str) -> &str {
    let path = match path.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |at| &rest[at..]),
        None => path,
    };
    let path = path.split('?').next().unwrap_or_default();
    match path.trim_end_matches('/') {
        "" => "/",
        trimmed => trimmed,
    }
}

/// The path template of the document that `path` matches (`/wallets/{id}` for `/wallets/7`).
fn template_of(path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = bare(path).split('/').collect();
    let templates = document()["paths"].as_object()?.keys();
    // A literal segment beats a parameter (/health/live is not /health/{id}).
    let mut matching: Vec<&String> = templates
        .filter(|template| {
            let parts: Vec<&str> = template.split('/').collect();
            parts.len() == segments.len()
                && parts
                    .iter()
                    .zip(&segments)
                    .all(|(part, segment)| part.starts_with('{') || part == segment)
        })
        .collect();
    matching.sort_by_key(|template| template.matches('{').count());
    matching.first().map(|template| template.as_str())
}

/// `value`, or what its `$ref` points at inside the document.
fn resolved(value: &'static Value) -> &'static Value {
    match value["$ref"].as_str() {
        Some(reference) => {
            let pointer = reference.trim_start_matches('#');
            resolved(
                document()
                    .pointer(pointer)
                    .expect("a $ref into the document"),
            )
        }
        None => value,
    }
}

/// A validator for `schema`, whose `$ref`s point into the document's components.
fn validator(schema: &'static Value) -> &'static jsonschema::Validator {
    static CACHE: OnceLock<Mutex<HashMap<usize, &'static jsonschema::Validator>>> = OnceLock::new();
    let key = schema as *const Value as usize;
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap();
    cache.entry(key).or_insert_with(|| {
        let mut root = schema.clone();
        if let Some(object) = root.as_object_mut() {
            object.insert("components".into(), document()["components"].clone());
        } else {
            root = json!({"allOf": [schema], "components": document()["components"]});
        }
        let validator = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&root)
            .expect("the document's schemas compile");
        Box::leak(Box::new(validator))
    })
}

/// Panics unless this response is what the document says the operation answers. A request
/// the document does not describe may only have been answered as the server answers any
/// unknown URL (404 `not-found`) or undocumented method (405 with `Allow`).
pub fn assert_documented(
    method: &str,
    path: &str,
    status: u16,
    content_type: Option<&str>,
    body: &Value,
) {
    // Authentication comes first: a request without a working key learns nothing else.
    let unauthenticated = status == 401 && body["errors"][0]["code"] == "unauthenticated";
    let Some(template) = template_of(path) else {
        assert!(
            (status == 404 && body["errors"][0]["code"] == "not-found") || unauthenticated,
            "{method} {path}: no such path in openapi.json, yet answered {status}: {body}"
        );
        return;
    };
    let Some(operation) = document()["paths"][template].get(method.to_lowercase()) else {
        assert!(
            status == 405 || unauthenticated,
            "{method} {template} is not in openapi.json, yet answered {status}: {body}"
        );
        return;
    };
    let Some(response) = operation["responses"].get(status.to_string()) else {
        panic!("{method} {template} answered {status}, which openapi.json does not declare");
    };
    let response = resolved(response);
    let Some(declared) = response["content"].as_object() else {
        assert!(
            body.is_null(),
            "{method} {template} {status} declares no body, got {body}"
        );
        return;
    };
    if body.is_null() {
        return;
    }
    let content_type = content_type.unwrap_or_default();
    let Some((_, media)) = declared
        .iter()
        .find(|(media_type, _)| content_type.starts_with(media_type.as_str()))
    else {
        panic!("{method} {template} {status}: content type {content_type:?} is not declared");
    };
    let errors: Vec<String> = validator(&media["schema"])
        .iter_errors(body)
        .map(|error| format!("{error} at {}", error.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {template} {status} does not match openapi.json: {errors:?}\n{body:#}"
    );
}

/// The documented methods of each path.
fn documented() -> Vec<(&'static str, Vec<String>)> {
    document()["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, item)| {
            let methods = item
                .as_object()
                .unwrap()
                .keys()
                .filter(|key| *key != "parameters")
                .map(|method| method.to_uppercase())
                .collect();
            (path.as_str(), methods)
        })
        .collect()
}

/// A wallet, a transaction in it, and its journal entry: ids that exist, for every path.
fn seeded() -> (TestApp, String) {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("contract");
    app.book(&wallet, "contract-1", "5").expect(201);
    app.post(
        "/holds",
        json!({"data": {"type": "holds", "attributes": {"amount": "1"},
                        "relationships": {"wallet": {"data": {"type": "wallets", "id": wallet}}}}}),
    )
    .expect(201);
    // Transfer 1, from it.
    let other = app.create_wallet("contract-other");
    app.post(
        "/transfers",
        json!({"data": {"type": "transfers", "attributes": {"txid": "contract-t", "amount": "1"},
            "relationships": {"source": {"data": {"type": "wallets", "id": wallet}},
                              "destination": {"data": {"type": "wallets", "id": other}}}}}),
    )
    .expect(201);
    crate::exchanges::one_exchange(&app);
    // Balance monitor 1, on it.
    app.post(
        "/balance-monitors",
        json!({"data": {"type": "balance-monitors",
            "attributes": {"field": "balance", "operator": "lt", "amount": "5"},
            "relationships": {"wallet": {"data": {"type": "wallets", "id": wallet}}}}}),
    )
    .expect(201);
    // Webhook endpoint 1, and delivery 1 in its log.
    crate::webhooks::one_webhook_delivery(&app);
    (app, wallet)
}

/// A path of `template` naming resources that exist: the wallet for every type but the
/// keys, which get a key of their own (a DELETE revokes it; the test's own key must live).
fn path_of(app: &TestApp, template: &str, wallet: &str) -> String {
    static SPARE: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    if !template.starts_with("/api-keys/") {
        return template.replace("{id}", wallet);
    }
    let mut spare = SPARE.get_or_init(Default::default).lock().unwrap();
    let id = spare
        .entry(app.address.clone())
        .or_insert_with(|| app.new_key("contract-spare", &["read"], &[]).0);
    template.replace("{id}", id)
}

/// `pattern`, compiled once (some are large: bounded repetitions of bounded items).
fn compiled(pattern: &str) -> regex::Regex {
    static CACHE: OnceLock<Mutex<HashMap<String, regex::Regex>>> = OnceLock::new();
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap();
    cache
        .entry(pattern.to_string())
        .or_insert_with(|| {
            regex::RegexBuilder::new(pattern)
                .size_limit(1 << 30)
                .build()
                .unwrap_or_else(|e| panic!("{pattern}: {e}"))
        })
        .clone()
}

#[test]
fn every_documented_method_is_served_and_no_other() {
    let (app, wallet) = seeded();
    const METHODS: [&str; 6] = ["GET", "POST", "PATCH", "DELETE", "PUT", "OPTIONS"];
    for (template, methods) in documented() {
        let path = path_of(&app, template, &wallet);
        for method in METHODS {
            if method == "GET"
                && (template == "/metrics"
                    || template == "/openapi.json"
                    || template.starts_with("/console"))
            {
                assert_eq!(app.raw_get(&path).0, 200, "{template}");
                continue;
            }
            // An empty document: enough to be routed, never enough to write anything.
            let reply = app.send(
                method,
                &path,
                &[("Content-Type", JSONAPI)],
                Some("{}".into()),
            );
            let served = methods.iter().any(|m| m == method);
            if served {
                assert_ne!(
                    reply.status, 405,
                    "{method} {template} is documented, not served"
                );
                assert!(
                    !(reply.status == 404 && reply.error()["code"] == "not-found"),
                    "{method} {template} is documented, but no route serves it"
                );
            } else {
                reply.expect_error(405, "method-not-allowed", None);
                let allowed: Vec<&str> = reply.header("allow").unwrap().split(", ").collect();
                let mut expected: Vec<&str> = methods.iter().map(String::as_str).collect();
                expected.sort();
                let mut allowed_sorted = allowed.clone();
                allowed_sorted.sort();
                assert_eq!(allowed_sorted, expected, "Allow of {template}");
            }
        }
    }
}

/// The query parameters an operation documents, resolved.
fn parameters_of(template: &str, method: &str) -> Vec<&'static Value> {
    document()["paths"][template][method]["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(resolved)
        .filter(|parameter| parameter["in"] == "query")
        .collect()
}

/// Whether a string `value` meets `schema` (`false`, or `pattern`, or `enum`, or anything).
fn value_meets(schema: &Value, value: &str) -> bool {
    if schema == &Value::Bool(false) {
        return false;
    }
    let pattern = schema["pattern"]
        .as_str()
        .is_none_or(|p| compiled(p).is_match(value));
    let listed = schema["enum"]
        .as_array()
        .is_none_or(|words| words.iter().any(|word| word == value));
    pattern && listed
}

/// Whether the document says `name=value` is taken: a parameter of that name whose schema
/// the value meets, or an object parameter in the `form` style, exploded, whose properties
/// are the query parameters themselves: its `propertyNames` admit `name`, and its patterns
/// name it (at least one; the value meets every one that does).
fn documents(template: &str, name: &str, value: &str) -> bool {
    parameters_of(template, "get").iter().any(|parameter| {
        let documented = parameter["name"].as_str().unwrap();
        let exploded_object = parameter["style"] == "form"
            && parameter["explode"] == true
            && parameter["schema"]["type"] == "object";
        if !exploded_object {
            return documented == name && value_meets(&parameter["schema"], value);
        }
        let schema = &parameter["schema"];
        let admitted = schema["propertyNames"]["pattern"]
            .as_str()
            .is_none_or(|pattern| compiled(pattern).is_match(name));
        let naming: Vec<&Value> = schema["patternProperties"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(pattern, _)| compiled(pattern).is_match(name))
            .map(|(_, schema)| schema)
            .collect();
        admitted && !naming.is_empty() && naming.iter().all(|schema| value_meets(schema, value))
    })
}

/// `text` as it goes in a query string: everything but letters, digits and `-._~,:`
/// percent-encoded.
fn percent(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b',' | b':' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// A value each kind of filter operand takes.
fn sample(field: &str) -> &'static str {
    match field {
        "createdAt" | "changedAt" | "updatedAt" => "2026-01-01T00:00:00Z",
        "balance" | "amount" | "delta" => "1.5",
        "operation" => "insert",
        "label" | "txid" | "changedBy" | "application" => "x",
        _ => "1",
    }
}

#[test]
fn query_parameters_are_accepted_exactly_where_documented() {
    let (app, wallet) = seeded();
    let operators = [
        "",
        ".in",
        ".gt",
        ".gte",
        ".lt",
        ".lte",
        ".startswith",
        ".icontains",
    ];
    let mut checked = 0;
    for resource in wallet_api::api::RESOURCES {
        let fields = (resource.fields)();
        let names: Vec<&str> = fields.iter().map(|spec| spec.name).collect();
        let members = (resource.members)();
        let paths: Vec<String> = documented()
            .into_iter()
            .filter(|(template, methods)| {
                methods.iter().any(|m| m == "GET")
                    && document()["paths"][template]["get"]["parameters"]
                        .as_array()
                        .is_some_and(|params| {
                            params.iter().map(resolved).any(|p| p["name"] == "sort")
                        })
                    && (template.ends_with(&format!("/{}", resource.type_name))
                        || template.ends_with(&format!("relationships/{}", resource.type_name)))
            })
            .map(|(template, _)| template.to_string())
            .collect();
        for template in &paths {
            let path = path_of(&app, template, &wallet);
            let mut probe = |name: String, value: &str| {
                let query = format!("{}={}", percent(&name), percent(value));
                let reply = app.get(&format!("{path}?{query}"));
                let accepted = reply.status == 200;
                assert!(
                    reply.status == 200 || reply.status == 400,
                    "{template}?{query}: {}",
                    reply.status
                );
                assert_eq!(
                    accepted,
                    documents(template, &name, value),
                    "{template}?{query}: the server says {}, the document says the opposite",
                    reply.status
                );
                checked += 1;
            };
            for field in names.iter().chain(["nothing"].iter()) {
                for op in operators {
                    probe(format!("filter[{field}{op}]"), sample(field));
                }
                probe("sort".into(), field);
                probe("sort".into(), &format!("-{field}"));
                probe("sort".into(), &format!("{field},-{field}"));
                probe("sort".into(), &format!("-id,{field}"));
                probe("sort".into(), &format!("{field},id"));
            }
            let long_key = "k".repeat(41);
            for (key, value) in [
                ("invoice", "42"),
                ("invoice", "41,42"),
                ("order id & \u{fc}", "x"),
                ("invoice.exists", "true"),
                ("invoice.exists", "false"),
                ("invoice.exists", "maybe"),
                ("paid.exists.exists", "true"),
                (".exists", "true"),
                ("", "x"),
                (long_key.as_str(), "x"),
                ("tab\there", "x"),
            ] {
                probe(format!("filter[metadata.{key}]"), value);
            }
            probe("filter[metadata]".into(), "x");
            for member in members.iter().chain(["nothing"].iter()) {
                probe(format!("fields[{}]", resource.type_name), member);
                probe("include".into(), member);
            }
        }
    }
    assert!(checked > 500, "only {checked} parameters were probed");
}

#[test]
fn a_resource_object_holds_exactly_its_declared_members() {
    let (app, wallet) = seeded();
    for resource in wallet_api::api::RESOURCES {
        let list = app.get(&format!("/{}", resource.type_name));
        let object = &list.body["data"][0];
        assert!(object.is_object(), "no {} to look at", resource.type_name);
        let mut shown: Vec<&str> = ["attributes", "relationships"]
            .iter()
            .flat_map(|member| {
                object[member]
                    .as_object()
                    .into_iter()
                    .flat_map(|m| m.keys())
            })
            .map(String::as_str)
            .collect();
        shown.sort();
        let mut declared = (resource.members)();
        declared.sort();
        assert_eq!(shown, declared, "{}", resource.type_name);
    }
    let _ = wallet;
}

/// Every example of the document, where it stands: (where, its schema, the example).
fn examples() -> Vec<(String, &'static Value, &'static Value)> {
    let mut found = Vec::new();
    let media_of = |content: &'static Value, at: String, found: &mut Vec<_>| {
        for (media, typed) in content.as_object().into_iter().flatten() {
            if let Some(example) = typed.get("example") {
                found.push((format!("{at} {media}"), &typed["schema"], example));
            }
        }
    };
    for (path, item) in document()["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if method == "parameters" {
                continue;
            }
            let at = format!("{} {path}", method.to_uppercase());
            if let Some(body) = operation.get("requestBody") {
                media_of(&body["content"], format!("{at} request"), &mut found);
            }
            for (status, response) in operation["responses"].as_object().unwrap() {
                media_of(
                    &resolved(response)["content"],
                    format!("{at} {status}"),
                    &mut found,
                );
            }
        }
    }
    found
}

#[test]
fn every_example_meets_its_schema_and_every_operation_has_one() {
    let examples = examples();
    let mut wrong = Vec::new();
    for (at, schema, example) in &examples {
        let errors: Vec<String> = validator(schema)
            .iter_errors(example)
            .map(|error| format!("{} at {}", error, error.instance_path()))
            .collect();
        if !errors.is_empty() {
            wrong.push(format!("{at}: {}", errors.join("; ")));
        }
    }
    assert!(
        wrong.is_empty(),
        "examples that miss their schema:\n{}",
        wrong.join("\n")
    );
    // Every operation shows a request (when it takes a body) and a success with a body.
    for (path, item) in document()["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if method == "parameters" || method == "head" {
                continue;
            }
            let at = format!("{} {path}", method.to_uppercase());
            if operation.get("requestBody").is_some() {
                assert!(
                    examples
                        .iter()
                        .any(|(w, _, _)| w.starts_with(&format!("{at} request"))),
                    "{at} has no example request"
                );
            }
            let succeeds_with_body =
                operation["responses"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .any(|(status, response)| {
                        status.starts_with('2') && resolved(response).get("content").is_some()
                    });
            if succeeds_with_body {
                assert!(
                    examples
                        .iter()
                        .any(|(w, _, _)| w.starts_with(&format!("{at} 2"))),
                    "{at} has no example response"
                );
            }
        }
    }
}

/// The id of the example resource of the type at the start of `path` (`/holds/{id}/...`),
/// as the document's example of `GET /TYPE/{id}` shows it.
fn example_id(path: &str) -> String {
    let type_name = path.trim_start_matches('/').split('/').next().unwrap();
    let shown = &document()["paths"][format!("/{type_name}/{{id}}")]["get"]["responses"]["200"];
    resolved(shown)["content"][JSONAPI]["example"]["data"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no example of GET /{type_name}/{{id}}"))
        .to_string()
}

#[test]
fn the_example_requests_are_answered_as_documented() {
    // The world the examples describe: wallets 1 and 2, wallet 1 funded, transaction 42,
    // hold 7 (pending), API key 2, wallets 3 (USD) and 4 (BTC) to exchange between, and
    // wallets 5 and 6, the house's in USD and in BTC.
    let app = TestApp::spawn();
    let (one, two) = (app.create_wallet("one"), app.create_wallet("two"));
    assert_eq!((one.as_str(), two.as_str()), ("1", "2"));
    app.book(&one, "funding", "1000").expect(201);
    let mut conn = app.db.connect();
    crate::helpers::exec(
        &mut conn,
        "INSERT INTO transactions (id, wallet_id, txid, amount) OVERRIDING SYSTEM VALUE \
         VALUES (42, 2, 'example-42', 10); \
         INSERT INTO holds (id, wallet_id, amount) OVERRIDING SYSTEM VALUE VALUES (7, 1, 30)",
    );
    let (key, _) = app.new_key("example-key", &["read"], &[]);
    assert_eq!(key, "2");
    // Wallets 3 (USD, funded) and 4 (BTC) for the exchange, and the house that changes
    // between them.
    let (usd, btc) = (
        crate::currencies::wallet_in(&app, "three", "USD"),
        crate::currencies::wallet_in(&app, "four", "BTC"),
    );
    assert_eq!((usd.as_str(), btc.as_str()), ("3", "4"));
    app.book(&usd, "funding-usd", "1000").expect(201);
    crate::helpers::exec(
        &mut conn,
        "INSERT INTO wallets (label, currency, credit_limit) \
         VALUES ('house USD', 'USD', 1000000), ('house BTC', 'BTC', 100); \
         UPDATE currencies AS c SET liquidity_wallet_id = w.id FROM wallets AS w \
         WHERE w.label = 'house ' || c.code",
    );
    assert_eq!(
        crate::helpers::scalar(
            &mut conn,
            "SELECT liquidity_wallet_id FROM currencies WHERE code = 'USD'"
        ),
        "5"
    );
    // Every example request, sent as it is, to the resource its example names: creates
    // first, then atomic operations, then changes (the order a client would send them in).
    let mut requests: Vec<(u8, String, String, String, &Value)> = Vec::new();
    for (template, item) in document()["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(body) = operation.get("requestBody") else {
                continue;
            };
            let path = if template.contains("{id}") {
                template.replace("{id}", &example_id(template))
            } else {
                template.clone()
            };
            let order = match (method.as_str(), template.as_str()) {
                ("post", "/operations") => 1,
                ("post", _) => 0,
                _ => 2,
            };
            for (media, typed) in body["content"].as_object().unwrap() {
                requests.push((
                    order,
                    method.to_uppercase(),
                    path.clone(),
                    media.clone(),
                    &typed["example"],
                ));
            }
        }
    }
    requests.sort_by(|a, b| (a.0, &a.2).cmp(&(b.0, &b.2)));
    assert!(requests.len() >= 10, "{} example requests", requests.len());
    for (_, method, path, media, example) in requests {
        let reply = app.send(
            &method,
            &path,
            &[("Content-Type", media.as_str())],
            Some(example.to_string()),
        );
        assert!(
            reply.status < 300,
            "{method} {path}: {example} answered {}: {:#}",
            reply.status,
            reply.body
        );
    }
}
