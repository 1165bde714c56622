//! The OpenAPI 3.1 document, built from what the server runs: the route table
//! (`api::routes`: every method of every URL and what it does), each resource's declaration
//! (its fields, kinds, who writes them, sorts, filters, inputs) and the error codes each
//! operation can answer. `openapi.json` at the repository's root is this document as checked
//! in (`make openapi` rewrites it; a test fails while it differs); `GET /openapi.json` serves
//! it.
//!
//! The document is as strict as the server: every query parameter's value, every input
//! attribute and every error code is described as the server reads it, so that a generated
//! client or a contract fuzzer learns the rules from it alone.

mod codes;
mod examples;
mod parameters;
mod patterns;
mod responses;
mod schemas;

use std::sync::LazyLock;

use serde_json::{Map, Value, json};

use super::middleware::auth::scope_of;
use super::routes::{Endpoint, Operation, table};
use super::{RESOURCES, registered};
use crate::jsonapi::media_type::{ATOMIC, JSONAPI_MEDIA_TYPE};
pub use codes::error_table;
use patterns::{LSN, REQUEST_ID};

/// The document, built once.
pub fn document() -> &'static Value {
    static DOCUMENT: LazyLock<Value> = LazyLock::new(build);
    &DOCUMENT
}

/// The document as `openapi.json` holds it.
pub fn text() -> &'static str {
    static TEXT: LazyLock<String> = LazyLock::new(|| {
        let mut text = serde_json::to_string_pretty(document()).expect("JSON");
        text.push('\n');
        text
    });
    &TEXT
}

fn reference(kind: &str, name: &str) -> Value {
    json!({"$ref": format!("#/components/{kind}/{name}")})
}

fn schema(name: &str) -> Value {
    reference("schemas", name)
}

/// A type's name in the components (`balance-changes` -> `BalanceChange`).
fn component(type_name: &str) -> String {
    let singular = type_name.strip_suffix('s').unwrap_or(type_name);
    singular
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

pub(super) struct Builder {
    schemas: Map<String, Value>,
    parameters: Map<String, Value>,
    /// Error responses, shared by every operation that answers the same codes.
    responses: Map<String, Value>,
}

fn build() -> Value {
    let mut builder = Builder {
        schemas: Map::new(),
        parameters: Map::new(),
        responses: Map::new(),
    };
    builder.common_schemas();
    for resource in RESOURCES {
        builder.resource_schemas(resource);
    }
    builder.operation_schemas();
    let mut paths = Map::new();
    for endpoint in table() {
        let item = paths
            .entry(openapi_path(&endpoint.path))
            .or_insert_with(|| json!({}));
        if endpoint.path.contains("{id}") && item.get("parameters").is_none() {
            item["parameters"] = json!([reference("parameters", "id")]);
        }
        item[endpoint.method.as_str().to_lowercase()] = builder.operation(endpoint);
    }
    builder.parameters.insert(
        "id".into(),
        json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"},
               "description": "The resource's id.", "example": "1"}),
    );
    let mut document = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "wallet-api",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Wallets and their transactions behind a JSON:API 1.1 interface; \
                PostgreSQL keeps every balance. Generated from the server's route table and \
                resource declarations (docs/api.md explains the API).",
        },
        "servers": [{"url": "/", "description": "the server this document is served by"}],
        "tags": tags(),
        "paths": paths,
        "components": {
            "schemas": builder.schemas,
            "parameters": builder.parameters,
            "responses": builder.responses,
            "headers": headers(),
            "securitySchemes": {"apiKey": {
                "type": "http",
                "scheme": "bearer",
                "description": "An API key's secret (wk_ and 43 characters), as Authorization: \
                    Bearer <secret>. A key's scopes say what it may do: read (every GET), write \
                    (also every POST, PATCH and DELETE, and atomic operations), admin (also \
                    /api-keys). A key limited to some wallets sees only them and what belongs \
                    to them. docs/api.md, \"Authentication\", says how keys are made.",
            }},
        },
        "security": [{"apiKey": []}],
        "webhooks": webhooks(),
    });
    prune(&mut document);
    document
}

/// Removes the schemas nothing refers to (a resource type's documents it has no endpoint
/// for), so that every component is in use.
fn prune(document: &mut Value) {
    fn refs(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref") {
                    found.push(target.clone());
                }
                map.values().for_each(|v| refs(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
            _ => {}
        }
    }
    let mut used: Vec<String> = Vec::new();
    refs(&document["paths"], &mut used);
    let mut seen = 0;
    while seen < used.len() {
        let target = used[seen].clone();
        seen += 1;
        if let Some(component) = document.pointer(target.trim_start_matches('#')) {
            let mut more = Vec::new();
            refs(component, &mut more);
            for reference in more {
                if !used.contains(&reference) {
                    used.push(reference);
                }
            }
        }
    }
    for kind in ["schemas", "parameters", "responses", "headers"] {
        if let Some(Value::Object(components)) = document["components"].get_mut(kind) {
            components.retain(|name, _| used.contains(&format!("#/components/{kind}/{name}")));
        }
    }
}

/// An actix path as OpenAPI writes it (the same braces).
fn openapi_path(path: &str) -> String {
    path.to_string()
}

fn headers() -> Value {
    json!({
        "Location": {"description": "The URL of the created resource.", "required": true,
                     "schema": {"type": "string"}},
        "XRequestId": {"description": "The request's id: the one the request sent in \
                        X-Request-Id when it was 1 to 128 characters of A-Z a-z 0-9 - _ . :, \
                        else a fresh one. A server error's id (errors[0].id) is this id.",
                       "required": true,
                       "schema": {"type": "string", "pattern": REQUEST_ID}},
        "RetryAfter": {"description": "Seconds to wait before retrying.",
                       "schema": {"type": "string", "pattern": "^[0-9]+$"}},
        "IdempotentReplayed": {"description": "\"true\" when this is the stored response of an \
                                earlier request with the same Idempotency-Key.",
                               "schema": {"const": "true"}},
        "WWWAuthenticate": {"description": "The Bearer challenge: error=\"invalid_token\" when \
                             a key was sent but does not work.", "required": true,
                            "schema": {"type": "string", "pattern": "^Bearer realm=\"wallet-api\""}},
        "RateLimitPolicy": {"description": "The key's quota (IETF RateLimit header fields): q \
                             requests over w seconds, refilled steadily.",
                            "schema": {"type": "string"}},
        "RateLimit": {"description": "What is left of the key's quota: r requests now, full \
                       again in t seconds.", "schema": {"type": "string"}},
        "WalletApiLsn": {"description": "Where the primary's write-ahead log stood after this \
                          write committed, when reads may be served by a standby \
                          (STANDBY_DATABASE_URL): send it back as Wallet-Api-Lsn with a read to \
                          see this write.", "schema": {"type": "string", "pattern": LSN}},
    })
}

impl Builder {
    fn add_schema(&mut self, name: &str, schema: Value) {
        self.schemas.insert(name.to_string(), schema);
    }

    /// The operation object of one endpoint.
    fn operation(&mut self, endpoint: &Endpoint) -> Value {
        let mut operation = json!({
            "operationId": operation_id(endpoint),
            "tags": [tag(endpoint)],
            "summary": summary(endpoint),
            "description": description(endpoint),
        });
        let parameters = self.parameters(endpoint);
        if !parameters.is_empty() {
            operation["parameters"] = Value::Array(parameters);
        }
        if let Some(body) = request_body(endpoint) {
            operation["requestBody"] = body;
        }
        operation["responses"] = self.responses(endpoint);
        if endpoint.method == actix_web::http::Method::HEAD {
            self.without_bodies(&mut operation);
        }
        match scope_of(endpoint) {
            None => operation["security"] = json!([]),
            Some(scope) => operation["x-required-scope"] = json!(scope),
        }
        operation
    }
}

impl Builder {
    /// A HEAD operation: its GET's, every response without its body (the same status and
    /// headers, nothing after them); a shared error response becomes a shared one without
    /// its body.
    fn without_bodies(&mut self, operation: &mut Value) {
        operation["summary"] = json!(format!(
            "{} Headers only.",
            operation["summary"].as_str().unwrap_or_default()
        ));
        let strip = |response: &mut Value| {
            if let Value::Object(response) = response {
                response.remove("content");
                response.remove("links");
            }
        };
        if let Value::Object(responses) = &mut operation["responses"] {
            for response in responses.values_mut() {
                let Some(Value::String(target)) = response.get("$ref") else {
                    strip(response);
                    continue;
                };
                let name = target.rsplit('/').next().unwrap_or_default().to_string();
                let headless = format!("{name}-head");
                if !self.responses.contains_key(&headless) {
                    let mut stripped = self.responses[&name].clone();
                    strip(&mut stripped);
                    self.responses.insert(headless.clone(), stripped);
                }
                *response = reference("responses", &headless);
            }
        }
    }
}

fn is_write(operation: &Operation) -> bool {
    matches!(
        operation,
        Operation::Create { .. }
            | Operation::Update { .. }
            | Operation::Delete { .. }
            | Operation::ChangeLinkage { .. }
            | Operation::Atomic
    )
}

/// The request the service sends to a webhook endpoint (`/webhook-endpoints`): one per event,
/// as Standard Webhooks v1 defines it.
fn webhooks() -> Value {
    let header = |name: &str, description: &str, schema: Value| {
        json!({"name": name, "in": "header", "required": true, "schema": schema,
               "description": description})
    };
    json!({"event": {"post": {
        "summary": "An event, delivered to a webhook endpoint.",
        "description": "One request per event and endpoint, each wallet's events in their \
            walletSequence order; retried on failure with the same webhook-id (the event's id), \
            so a receiver drops the ones it had. Verify webhook-signature before trusting the \
            body (docs/api.md, \"Webhooks\").",
        "security": [],
        "parameters": [
            header("webhook-id", "The event's id: the same on every attempt and at every endpoint.", json!({"type": "string", "pattern": "^[0-9]+$"})),
            header("webhook-timestamp", "When this attempt was made, in Unix seconds: refuse one too far from now.", json!({"type": "string", "pattern": "^[0-9]+$"})),
            header("webhook-signature", "v1, and the base64 HMAC-SHA256 of \"{webhook-id}.{webhook-timestamp}.{body}\" keyed with the bytes of the secret after whsec_ (base64); two, space-separated, while a rotated-out secret still signs.", json!({"type": "string", "pattern": "^v1,[A-Za-z0-9+/]+=*( v1,[A-Za-z0-9+/]+=*)*$"})),
        ],
        "requestBody": {"required": true, "content": {"application/json": {"schema": {
            "type": "object", "required": ["type", "timestamp", "data"],
            "additionalProperties": false,
            "properties": {
                "type": {"description": "The event's eventType.",
                         "enum": crate::models::event::EVENT_TYPE_NAMES},
                "timestamp": {"type": "string", "format": "date-time",
                              "description": "The event's occurredAt."},
                "data": {"$ref": format!("#/components/schemas/{}", component("events")),
                         "description": "The event, as GET /events/{id} renders its resource object."},
            }}}}},
        "responses": {
            "2XX": {"description": "Delivered: the endpoint's cursor moves past it."},
            "410": {"description": "The endpoint is gone: it is disabled at once."},
            "default": {"description": "Not delivered: sent again on the retry schedule (429 and 503 may say Retry-After)."},
        },
    }}})
}

/// Whether a write takes an `Idempotency-Key`: all do but the creates whose response shows
/// something once (a key's secret), which is never stored, so never replayed.
fn replayable(operation: &Operation) -> bool {
    match operation {
        Operation::Create { type_name } => {
            registered(type_name).is_some_and(|resource| resource.created_meta.is_none())
        }
        operation => is_write(operation),
    }
}

fn has_body(operation: &Operation) -> bool {
    is_write(operation) && !matches!(operation, Operation::Delete { .. })
}

fn operation_id(endpoint: &Endpoint) -> String {
    let slug: String = endpoint
        .path
        .trim_matches('/')
        .replace('/', "-")
        .replace(['{', '}'], "")
        .replace('.', "-");
    format!("{}-{slug}", endpoint.method.as_str().to_lowercase())
}

/// The group an operation is listed under: its resource type, or what it serves.
fn tag(endpoint: &Endpoint) -> &'static str {
    match endpoint.operation {
        Operation::List { type_name }
        | Operation::Show { type_name, .. }
        | Operation::Create { type_name }
        | Operation::Update { type_name }
        | Operation::Delete { type_name } => type_name,
        Operation::Related { parent, .. }
        | Operation::Linkage { parent, .. }
        | Operation::ChangeLinkage { parent, .. }
        | Operation::Children { parent, .. }
        | Operation::ChildLinkage { parent, .. } => parent,
        Operation::Refused { .. } => registered(
            endpoint
                .path
                .trim_start_matches('/')
                .split('/')
                .next()
                .unwrap_or_default(),
        )
        .map_or("operator", |resource| resource.type_name),
        Operation::Atomic => "operations",
        Operation::BalanceHistory => "wallets",
        Operation::Health | Operation::Live => "health",
        Operation::Metrics | Operation::OpenApi | Operation::Console { .. } => "operator",
    }
}

/// The tags, each with what it groups.
fn tags() -> Value {
    let mut tags: Vec<Value> = RESOURCES
        .iter()
        .map(|resource| json!({"name": resource.type_name, "description": format!("The {} resource and its relationships.", resource.type_name)}))
        .collect();
    tags.push(json!({"name": "operations", "description": "Atomic Operations: several writes, all or nothing."}));
    tags.push(
        json!({"name": "health", "description": "Whether the service and its database answer."}),
    );
    tags.push(
        json!({"name": "operator", "description": "For operators and tools, outside JSON:API."}),
    );
    Value::Array(tags)
}

/// What an operation does, beyond its summary: the rules a client meets.
fn description(endpoint: &Endpoint) -> String {
    let detail = match endpoint.operation {
        _ if endpoint.doc.is_some() => endpoint.doc.map_or("", |doc| doc.description),
        Operation::List { .. } | Operation::Children { .. } => {
            "Filters combine with AND; sort keys end with id; pages are cursor pages (page[after], \
             page[before]) unless page[number] is given; include and fields[TYPE] shape the \
             document."
        }
        Operation::ChildLinkage { .. } => {
            "The identifiers of the collection, filtered, sorted and paged as the collection is."
        }
        Operation::Show { .. } | Operation::Related { .. } | Operation::Linkage { .. } => {
            "A resource that does not exist, or an id that cannot be one, is a 404."
        }
        Operation::Create { .. } | Operation::Update { .. } | Operation::ChangeLinkage { .. } => {
            "Every problem with the document is reported together, each pointing at its member; \
             the database's rules refuse the write whole. An Idempotency-Key makes it safe to retry."
        }
        Operation::Delete { .. } => {
            "An Idempotency-Key makes it safe to retry; the database refuses a delete that would \
             break its rules."
        }
        Operation::Refused { .. } => "Always refused, saying why: clients never write this.",
        Operation::Atomic
        | Operation::BalanceHistory
        | Operation::Health
        | Operation::Live
        | Operation::Metrics
        | Operation::OpenApi
        | Operation::Console { .. } => "",
    };
    let scope = match scope_of(endpoint) {
        None => "Needs no API key.".to_string(),
        Some(scope) => format!("Needs an API key with the {scope} scope."),
    };
    format!("{} {detail} {scope}", summary(endpoint))
}

fn summary(endpoint: &Endpoint) -> String {
    if let Some(doc) = endpoint.doc {
        return doc.summary.to_string();
    }
    match endpoint.operation {
        Operation::List { type_name } => format!("List {type_name}."),
        Operation::Show {
            type_name,
            custom: [],
        } => {
            format!("One of the {type_name}.")
        }
        Operation::Show { type_name, custom } => {
            let names: Vec<&str> = custom.iter().map(|c| c.name).collect();
            format!("One of the {type_name} (with {}).", names.join(", "))
        }
        Operation::Create { type_name } => format!("Create one of the {type_name}."),
        Operation::Update { type_name } => format!("Change one of the {type_name}."),
        Operation::Delete { type_name } => format!("Delete one of the {type_name}."),
        Operation::Related { parent, name, .. } => {
            format!("The {name} of one of the {parent} (null when it has none).")
        }
        Operation::Linkage { parent, name, .. } => {
            format!("The {name} of one of the {parent}, as linkage.")
        }
        Operation::ChangeLinkage { parent, name, .. } => {
            format!("Change the {name} of one of the {parent}.")
        }
        Operation::Children { parent, name, .. } => {
            format!("The {name} of one of the {parent}: a full collection.")
        }
        Operation::ChildLinkage { parent, name, .. } => {
            format!("The {name} of one of the {parent}, as linkage, paginated.")
        }
        Operation::Refused { code } => format!("Refused: {}.", code.when),
        // Documented beside their handlers (`Doc`).
        Operation::Atomic
        | Operation::BalanceHistory
        | Operation::Health
        | Operation::Live
        | Operation::Metrics
        | Operation::OpenApi
        | Operation::Console { .. } => String::new(),
    }
}

fn request_body(endpoint: &Endpoint) -> Option<Value> {
    let operation = &endpoint.operation;
    if !has_body(operation) {
        return None;
    }
    let (schema_name, media) = match operation {
        Operation::Create { type_name } => (
            format!("{}Create", component(type_name)),
            JSONAPI_MEDIA_TYPE,
        ),
        Operation::Update { type_name } => (
            format!("{}Update", component(type_name)),
            JSONAPI_MEDIA_TYPE,
        ),
        Operation::ChangeLinkage { target, .. } => (
            format!("{}LinkageInput", component(target)),
            JSONAPI_MEDIA_TYPE,
        ),
        Operation::Atomic => ("OperationsDocument".to_string(), ATOMIC.media_type),
        _ => return None,
    };
    let body = if let Operation::ChangeLinkage { target, .. } = operation {
        json!({"type": "object", "required": ["data"], "additionalProperties": false,
               "properties": {"data": schema(&format!("{}IdentifierInput", component(target))),
                              "meta": schema("RequestMeta"), "jsonapi": schema("RequestMeta"),
                              "links": schema("RequestMeta")}})
    } else {
        let _ = &schema_name;
        schema(&schema_name)
    };
    let mut content = json!({"schema": body});
    if let Some(example) = examples::request(endpoint) {
        content["example"] = example;
    }
    Some(json!({"required": true, "content": {media: content}}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openapi_json_is_the_document_the_code_builds() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
        let checked_in = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            checked_in == text(),
            "openapi.json differs from what the code builds: run `make openapi`"
        );
    }

    #[test]
    fn component_names() {
        assert_eq!(component("balance-changes"), "BalanceChange");
        assert_eq!(component("wallets"), "Wallet");
    }
}
