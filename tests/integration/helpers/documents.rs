//! Documents: checked against the official JSON:API schema (and, for the Atomic Operations
//! extension, its own shape), and the documents the tests send.

use std::sync::OnceLock;

use serde_json::{Value, json};

pub const JSONAPI: &str = "application/vnd.api+json";
pub const ATOMIC: &str = "application/vnd.api+json; ext=\"https://jsonapi.org/ext/atomic\"";
pub const ATOMIC_URI: &str = "https://jsonapi.org/ext/atomic";

/// Panics unless `body` is a document of the Atomic Operations extension. The official
/// schema predates JSON:API 1.1 and its extensions, so the document's own shape is checked
/// here and every part the base specification defines (each result's data, the errors)
/// against the schema.
pub fn assert_atomic(body: &Value) {
    let top = body.as_object().expect("a document is an object");
    assert_eq!(body["jsonapi"]["ext"], json!([ATOMIC_URI]), "{body}");
    for member in top.keys() {
        assert!(
            ["atomic:results", "errors", "links", "jsonapi", "meta"].contains(&member.as_str()),
            "member {member} in {body}"
        );
    }
    assert!(
        top.contains_key("atomic:results") != top.contains_key("errors"),
        "results or errors, not both: {body}"
    );
    let mut base = body.clone();
    base["jsonapi"] = json!({"version": "1.1"});
    if let Some(results) = base.as_object_mut().unwrap().remove("atomic:results") {
        for result in results.as_array().expect("atomic:results is an array") {
            let result = result.as_object().expect("a result is an object");
            assert!(result.keys().all(|k| k == "data" || k == "meta"), "{body}");
            if let Some(data) = result.get("data") {
                assert_jsonapi(&json!({"data": data}));
            }
        }
    } else {
        assert_jsonapi(&base);
    }
}

// The service over HTTP

static SCHEMA: OnceLock<jsonschema::Validator> = OnceLock::new();

/// The official JSON:API schema (tests/fixtures/jsonapi-schema.json).
fn schema() -> &'static jsonschema::Validator {
    SCHEMA.get_or_init(|| {
        let text = include_str!("../../fixtures/jsonapi-schema.json");
        let schema: Value = serde_json::from_str(text).unwrap();
        jsonschema::validator_for(&schema).expect("the JSON:API schema compiles")
    })
}

/// Panics unless `body` is a valid JSON:API document.
pub fn assert_jsonapi(body: &Value) {
    let errors: Vec<String> = schema()
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if !errors.is_empty() {
        let text: String = body.to_string().chars().take(3000).collect();
        panic!("not a valid JSON:API document: {errors:?}\n{text}");
    }
}

/// The document of a booking: `amount` into `wallet`, under `txid`.
pub fn transaction_document(wallet: &str, txid: &str, amount: &str) -> Value {
    json!({"data": {
        "type": "transactions",
        "attributes": {"txid": txid, "amount": amount},
        "relationships": {"wallet": {"data": {"type": "wallets", "id": wallet}}}
    }})
}
