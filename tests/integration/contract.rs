//! Every response the tests receive is checked against `openapi.json`, the contract the
//! service publishes: when its path and method are described there, the status must be one
//! the operation declares, the content type the one declared for it, and the body must match
//! the declared schema. A response that drifts from the document fails the test that got it.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use serde_json::{Value, json};
use wallet_api::models::Model;
use wallet_api::models::{BalanceChange, Transaction, Wallet};

fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        serde_json::from_str(include_str!("../../openapi.json")).expect("openapi.json is JSON")
    })
}

/// The path template of the document that `path` matches (`/wallets/{id}` for `/wallets/7`).
fn template_of(path: &str) -> Option<&'static str> {
    let path = match path.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |at| &rest[at..]),
        None => path,
    };
    let path = path
        .split('?')
        .next()
        .unwrap_or_default()
        .trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').collect();
    document()["paths"]
        .as_object()?
        .keys()
        .find(|template| {
            let parts: Vec<&str> = template.split('/').collect();
            parts.len() == segments.len()
                && parts
                    .iter()
                    .zip(&segments)
                    .all(|(part, segment)| part.starts_with('{') || part == segment)
        })
        .map(String::as_str)
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

/// Panics unless this response is what the document says the operation answers.
pub fn assert_documented(
    method: &str,
    path: &str,
    status: u16,
    content_type: Option<&str>,
    body: &Value,
) {
    let Some(template) = template_of(path) else {
        return;
    };
    let Some(operation) = document()["paths"][template].get(method.to_lowercase()) else {
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

/// The names of `filter[...]` parameters `L` takes, and whether each field sorts.
fn filters_of<L: Model>() -> Vec<String> {
    L::FIELDS
        .iter()
        .filter_map(|field| Some((field.name, field.operators?)))
        .flat_map(|(name, operators)| {
            std::iter::once(format!("filter[{name}]")).chain(
                operators
                    .iter()
                    .map(move |op| format!("filter[{name}.{op}]")),
            )
        })
        .collect()
}

#[test]
fn every_filter_is_documented() {
    let parameters = document()["components"]["parameters"].as_object().unwrap();
    let documented: Vec<&str> = parameters
        .values()
        .filter_map(|parameter| parameter["name"].as_str())
        .collect();
    let all = [
        filters_of::<Wallet>(),
        filters_of::<Transaction>(),
        filters_of::<BalanceChange>(),
    ];
    for name in all.iter().flatten() {
        assert!(
            documented.contains(&name.as_str()),
            "{name} is not in openapi.json"
        );
    }
}
