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

use std::sync::LazyLock;

use actix_web::http::StatusCode;
use serde_json::{Map, Value, json};

use super::auth::{
    AUTHENTICATION_FAILURES_LIMITED, INSUFFICIENT_SCOPE, RATE_LIMITED, UNAUTHENTICATED,
    WALLET_LIMITED_KEY, scope_of,
};
use super::errors::{
    BUSY, CONNECTION_LOST, DATABASE_TIMEOUT, DATABASE_UNAVAILABLE, OUTCOME_UNKNOWN,
    TRANSIENT_CONFLICT,
};
use super::listing::{MAX_FILTER_DIGITS, MAX_FILTER_VALUES, filter_chars};
use super::operations::NOT_ATOMIC;
use super::positions::INVALID_LSN;
use super::routes::{Custom, Endpoint, Operation, table};
use super::write::idempotency::{
    IDEMPOTENCY_KEY_IN_USE, IDEMPOTENCY_KEY_REUSED, INVALID_IDEMPOTENCY_KEY,
};
use super::{LIMITED_TO, RESOURCES, Registered, registered};
use crate::jsonapi::atomic::MAX_OPERATIONS;
use crate::jsonapi::error::{
    BODY_TIMEOUT, CLIENT_GENERATED_ID, Code, EMPTY_BODY, ID_MISMATCH, INTERNAL_ERROR,
    INVALID_ATTRIBUTE, INVALID_DOCUMENT, INVALID_JSON, INVALID_QUERY_PARAMETER, MISSING_FIELD,
    NOT_ACCEPTABLE, NOT_DELETABLE, NOT_FOUND, PAYLOAD_TOO_LARGE, READ_ONLY_FIELD,
    READ_ONLY_RELATIONSHIP, READ_ONLY_RESOURCE, TOO_MANY_OPERATIONS, TYPE_MISMATCH, UNKNOWN_FIELD,
    UNREADABLE_BODY, UNSUPPORTED_MEDIA_TYPE,
};
use crate::jsonapi::media_type::{ATOMIC, JSONAPI_MEDIA_TYPE};
use crate::jsonapi::query::{DEFAULT_PAGE_SIZE, MAX_PAGE_NUMBER, MAX_PAGE_SIZE};
use crate::models::fields::{Accepts, Create, FieldSpec, Kind};
use crate::models::metadata::{
    EXISTS_SUFFIX, KEY_CHARACTER, MAX_KEY_CHARS, MAX_KEYS, MAX_VALUE_CHARS,
};

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

// Patterns: what the server reads, as regular expressions (ECMA 262, no lookaround).

/// One of these names.
fn one_of(names: &[&str]) -> String {
    format!("(?:{})", names.join("|"))
}

/// A comma list of 1 to [`MAX_FILTER_VALUES`] items matching `item`.
fn bounded_list(item: &str) -> String {
    format!("^{item}(?:,{item}){{0,{}}}$", MAX_FILTER_VALUES - 1)
}

/// A comma list of items matching `item`, or nothing.
fn optional_list(item: &str) -> String {
    format!("^(?:{item}(?:,{item})*)?$")
}

/// A fraction of 1 to `digits` digits, not all zero.
fn nonzero_fraction(digits: u32) -> String {
    let alternatives: Vec<String> = (0..digits)
        .map(|zeros| {
            let rest = digits - zeros - 1;
            format!("0{{{zeros}}}[1-9][0-9]{{0,{rest}}}")
        })
        .collect();
    format!("(?:{})", alternatives.join("|"))
}

/// An exact decimal as clients write money: at most `integer` digits before the point and
/// `fraction` after it, not zero; `positive`: without a sign.
fn money_input_pattern(integer: u32, fraction: u32, positive: bool) -> String {
    let sign = if positive { "" } else { "-?" };
    format!(
        "^{sign}(?:[1-9][0-9]{{0,{}}}(?:\\.[0-9]{{1,{fraction}}})?|0?\\.{})$",
        integer - 1,
        nonzero_fraction(fraction)
    )
}

/// A day of the proleptic Gregorian calendar, years 0000 to 9999.
const DATE: &str = "(?:[0-9]{4}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)-02-29)";
/// A time of day with an offset, RFC 3339.
const TIME: &str = "T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{1,9})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])";

/// A time as the server reads it in parameters: RFC 3339, or a date (its midnight UTC).
fn time_pattern() -> String {
    format!("{DATE}(?:{TIME})?")
}

/// An id in a filter: a whole number.
const ID: &str = "-?[0-9]{1,18}";
/// A decimal in a filter.
fn decimal_pattern() -> String {
    let digits = MAX_FILTER_DIGITS;
    format!(
        "-?(?:[0-9]{{1,{digits}}}(?:\\.[0-9]{{0,{digits}}})?|\\.[0-9]{{1,{digits}}})(?:[eE][+-]?[0-9]{{1,4}})?"
    )
}
/// Text PostgreSQL can hold: anything but NUL.
const TEXT: &str = "^[^\\u0000]*$";

/// A `Wallet-Api-Lsn`: a WAL position as PostgreSQL writes it.
const LSN: &str = "^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$";
/// The same as a request header, where an empty value sends none.
const LSN_OR_NONE: &str = "^(?:[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8})?$";

/// An `Idempotency-Key`: a token, or a quoted string.
const IDEMPOTENCY_KEY: &str =
    "^(?:[!#-~](?:[ -~]{0,253}[!-~])?|\"(?:[ !#-\\[\\]-~]|\\\\[\"\\\\]){1,255}\")$";

struct Builder {
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
               "description": "The resource's id."}),
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

    fn common_schemas(&mut self) {
        self.add_schema(
            "Money",
            json!({"type": "string", "pattern": "^-?[0-9]{1,19}\\.[0-9]{18}$",
                   "description": "An exact decimal with 18 fractional digits, as a string (never a float)."}),
        );
        self.add_schema(
            "Timestamp",
            json!({"type": "string", "format": "date-time"}),
        );
        self.add_schema(
            "Jsonapi",
            json!({"type": "object", "required": ["version"], "additionalProperties": false,
                   "properties": {"version": {"const": "1.1"},
                                  "ext": {"type": "array", "items": {"type": "string"}}}}),
        );
        self.add_schema(
            "Links",
            json!({"type": "object", "required": ["self"],
                   "properties": {"self": {"type": "string"}},
                   "additionalProperties": {"type": "string"}}),
        );
        self.add_schema(
            "RelationshipLinks",
            json!({"type": "object", "required": ["self", "related"], "additionalProperties": false,
                   "properties": {"self": {"type": "string"}, "related": {"type": "string"}}}),
        );
        self.add_schema(
            "CursorMeta",
            json!({"type": "object", "required": ["cursor"], "additionalProperties": false,
                   "properties": {"cursor": {"type": "string"}}}),
        );
        self.add_schema(
            "PageMeta",
            json!({"type": "object", "additionalProperties": false, "properties": {
                "pagination": {"type": "object", "required": ["page", "pages", "count"],
                    "additionalProperties": false, "properties": {
                        "page": {"type": "integer", "minimum": 1},
                        "pages": {"type": "integer", "minimum": 1},
                        "count": {"type": "integer", "minimum": 0}}}}}),
        );
        self.add_schema(
            "ErrorObject",
            json!({"type": "object", "required": ["status", "code", "title", "detail"],
                "additionalProperties": false, "properties": {
                "id": {"type": "string", "description": "For a server error: the server's log repeats it."},
                "status": {"type": "string", "pattern": "^[45][0-9]{2}$"},
                "code": {"type": "string"},
                "title": {"type": "string"},
                "detail": {"type": "string"},
                "source": {"type": "object", "minProperties": 1, "maxProperties": 1,
                    "additionalProperties": false, "properties": {
                        "pointer": {"type": "string"}, "parameter": {"type": "string"},
                        "header": {"type": "string"}}},
                "links": {"type": "object"},
                "meta": {"type": "object"}}}),
        );
        self.add_schema(
            "ErrorDocument",
            json!({"type": "object", "required": ["errors", "jsonapi"], "additionalProperties": false,
                "properties": {
                    "errors": {"type": "array", "minItems": 1, "items": schema("ErrorObject")},
                    "links": schema("Links"), "jsonapi": schema("Jsonapi")}}),
        );
        self.add_schema(
            "HealthDocument",
            json!({"type": "object", "required": ["meta", "jsonapi"], "additionalProperties": false,
                "properties": {"jsonapi": schema("Jsonapi"), "meta": {
                    "type": "object", "required": ["status", "database", "pool", "queue", "load"],
                    "additionalProperties": false, "properties": {
                        "status": {"enum": ["ok", "saturated"], "description":
                            "saturated: the instance shed at least half of its requests as busy \
                             over the last seconds (still 200: see docs/operations.md)"},
                        "database": {"const": "ok"},
                        "pool": {"type": "object", "required": ["open", "idle", "max", "waiting"],
                            "additionalProperties": false, "properties": {
                                "open": {"type": "integer", "minimum": 0},
                                "idle": {"type": "integer", "minimum": 0},
                                "max": {"type": "integer", "minimum": 1},
                                "waiting": {"type": "integer", "minimum": 0}}},
                        "queue": {"type": "object", "required": ["waiting", "max"],
                            "additionalProperties": false, "description":
                                "Requests waiting for a database connection, and the most that may",
                            "properties": {
                                "waiting": {"type": "integer", "minimum": 0},
                                "max": {"type": "integer", "minimum": 0}}},
                        "load": {"type": "object",
                            "required": ["seconds", "requests", "shed", "shedShare"],
                            "additionalProperties": false, "description":
                                "Requests answered over the last seconds, and those shed (503 busy)",
                            "properties": {
                                "seconds": {"type": "integer", "minimum": 1},
                                "requests": {"type": "integer", "minimum": 0},
                                "shed": {"type": "integer", "minimum": 0},
                                "shedShare": {"type": "number", "minimum": 0, "maximum": 1}}}}}}}),
        );
        self.add_schema(
            "LiveDocument",
            json!({"type": "object", "required": ["meta", "jsonapi"], "additionalProperties": false,
                "properties": {"jsonapi": schema("Jsonapi"), "meta": {
                    "type": "object", "required": ["status"], "additionalProperties": false,
                    "properties": {"status": {"const": "ok"}}}}}),
        );
        let every: Vec<Value> = RESOURCES
            .iter()
            .map(|resource| schema(&component(resource.type_name)))
            .collect();
        self.add_schema("Resource", json!({"oneOf": every}));
        self.add_schema(
            "RequestMeta",
            json!({"description": "Any JSON the client likes; the server ignores it."}),
        );
    }

    /// The schemas of one resource type: its resource object and identifier, the documents
    /// that carry them, and (when clients write it) the documents of a create and an update.
    fn resource_schemas(&mut self, resource: &Registered) {
        let name = component(resource.type_name);
        let fields = (resource.fields)();
        let mut attributes = Map::new();
        let mut relationships = Map::new();
        for spec in &fields {
            match spec.kind {
                Kind::Id => {}
                Kind::ToManyIds(target) => {
                    relationships.insert(
                        spec.name.into(),
                        json!({"type": "object", "required": ["data"],
                               "additionalProperties": false, "description": spec.doc,
                               "properties": {"data": {"type": "array",
                                   "items": schema(&format!("{}Identifier", component(target)))}}}),
                    );
                }
                Kind::ToOne(target) => {
                    let data = if spec.nullable {
                        json!({"oneOf": [schema(&format!("{}Identifier", component(target))), {"type": "null"}]})
                    } else {
                        schema(&format!("{}Identifier", component(target)))
                    };
                    relationships.insert(
                        spec.name.into(),
                        json!({"type": "object", "required": ["links", "data"],
                               "additionalProperties": false, "description": spec.doc,
                               "properties": {"links": schema("RelationshipLinks"), "data": data}}),
                    );
                }
                _ => {
                    attributes.insert(spec.name.into(), attribute_schema(spec));
                }
            }
        }
        for many in resource.to_many {
            relationships.insert(
                many.name.into(),
                json!({"type": "object", "required": ["links"], "additionalProperties": false,
                       "description": many.doc,
                       "properties": {"links": schema("RelationshipLinks")}}),
            );
        }
        let mut meta = Map::new();
        meta.insert("page".into(), schema("CursorMeta"));
        for custom in custom_parameters(resource.type_name) {
            if let Some(text) = custom.meta {
                meta.insert(
                    custom.name.into(),
                    serde_json::from_str(text).expect("a custom parameter's meta schema"),
                );
            }
        }
        self.add_schema(
            &name,
            json!({"type": "object", "required": ["type", "id", "links"],
                "additionalProperties": false, "properties": {
                    "type": {"const": resource.type_name},
                    "id": {"type": "string"},
                    "attributes": {"type": "object", "additionalProperties": false,
                                   "properties": attributes},
                    "relationships": {"type": "object", "additionalProperties": false,
                                      "properties": relationships},
                    "links": schema("Links"),
                    "meta": {"type": "object", "additionalProperties": false, "properties": meta}}}),
        );
        self.add_schema(
            &format!("{name}Identifier"),
            json!({"type": "object", "required": ["type", "id"], "additionalProperties": false,
                   "properties": {"type": {"const": resource.type_name}, "id": {"type": "string"}}}),
        );
        let included = json!({"type": "array", "items": schema("Resource")});
        for (suffix, data) in [
            ("Document", schema(&name)),
            (
                "OrNullDocument",
                json!({"oneOf": [schema(&name), {"type": "null"}]}),
            ),
        ] {
            self.add_schema(
                &format!("{name}{suffix}"),
                json!({"type": "object", "required": ["data", "links", "jsonapi"],
                       "additionalProperties": false, "properties": {
                           "data": data, "included": included, "links": schema("Links"),
                           "jsonapi": schema("Jsonapi")}}),
            );
        }
        if let Some(meta) = resource.created_meta {
            let meta: Value = serde_json::from_str(meta).expect("a created meta schema is JSON");
            self.add_schema(
                &format!("{name}CreatedDocument"),
                json!({"type": "object", "required": ["data", "links", "jsonapi", "meta"],
                       "additionalProperties": false, "properties": {
                           "data": schema(&name), "included": included, "links": schema("Links"),
                           "meta": meta, "jsonapi": schema("Jsonapi")}}),
            );
        }
        self.add_schema(
            &format!("{name}Collection"),
            json!({"type": "object", "required": ["data", "links", "jsonapi"],
                   "additionalProperties": false, "properties": {
                       "data": {"type": "array", "items": schema(&name)},
                       "included": included, "links": schema("Links"),
                       "meta": schema("PageMeta"), "jsonapi": schema("Jsonapi")}}),
        );
        for (suffix, data) in [
            ("Linkage", schema(&format!("{name}Identifier"))),
            (
                "OrNullLinkage",
                json!({"oneOf": [schema(&format!("{name}Identifier")), {"type": "null"}]}),
            ),
        ] {
            self.add_schema(
                &format!("{name}{suffix}"),
                json!({"type": "object", "required": ["data", "links", "jsonapi"],
                       "additionalProperties": false, "properties": {
                           "data": data, "links": schema("Links"), "jsonapi": schema("Jsonapi")}}),
            );
        }
        self.add_schema(
            &format!("{name}Linkages"),
            json!({"type": "object", "required": ["data", "links", "jsonapi"],
                   "additionalProperties": false, "properties": {
                       "data": {"type": "array", "items": schema(&format!("{name}Identifier"))},
                       "links": schema("Links"), "meta": schema("PageMeta"),
                       "jsonapi": schema("Jsonapi")}}),
        );
        // What a client sends to link to a resource of this type.
        self.add_schema(
            &format!("{name}IdentifierInput"),
            json!({"type": "object", "required": ["type", "id"], "additionalProperties": false,
                   "properties": {"type": {"const": resource.type_name},
                                  "id": {"type": "string"}, "meta": schema("RequestMeta")}}),
        );
        if resource.operable.is_some() {
            for target in [Target::Create, Target::Update, Target::Add] {
                let object = resource_input(resource.type_name, &fields, target);
                self.add_schema(&format!("{name}{}Object", target.suffix()), object);
                if target != Target::Add {
                    self.add_schema(
                        &format!("{name}{}", target.suffix()),
                        input_document(&format!("{name}{}Object", target.suffix())),
                    );
                }
            }
        }
    }

    /// The documents of `/operations`: every operation the server can carry out, each of the
    /// types it writes.
    fn operation_schemas(&mut self) {
        let writable: Vec<&Registered> = RESOURCES
            .iter()
            .filter(|resource| resource.operable.is_some())
            .collect();
        let ref_of = |resource: &Registered, relationship: bool| {
            let mut properties = json!({
                "type": {"const": resource.type_name},
                "id": {"type": "string"},
                "lid": {"type": "string"},
                "meta": schema("RequestMeta"),
            });
            let mut required = vec!["type"];
            if relationship {
                let names: Vec<&str> = (resource.fields)()
                    .iter()
                    .filter(|spec| spec.is_relationship() && spec.access.update)
                    .map(|spec| spec.name)
                    .collect();
                properties["relationship"] = json!({"enum": names});
                required.push("relationship");
            }
            json!({"type": "object", "required": required, "additionalProperties": false,
                   "properties": properties,
                   "oneOf": [{"required": ["id"]}, {"required": ["lid"]}]})
        };
        let mut operations = Vec::new();
        for resource in &writable {
            let name = component(resource.type_name);
            let collection = format!("/{}", resource.type_name);
            operations.push(json!({
                "title": format!("add {}", resource.type_name),
                "type": "object", "required": ["op", "data"], "additionalProperties": false,
                "properties": {"op": {"const": "add"}, "href": {"const": collection},
                               "data": schema(&format!("{name}AddObject")),
                               "meta": schema("RequestMeta")}}));
            operations.push(json!({
                "title": format!("update {}", resource.type_name),
                "type": "object", "required": ["op", "ref", "data"], "additionalProperties": false,
                "properties": {"op": {"const": "update"}, "ref": ref_of(resource, false),
                               "data": schema(&format!("{name}UpdateObject")),
                               "meta": schema("RequestMeta")}}));
            operations.push(json!({
                "title": format!("remove {}", resource.type_name),
                "type": "object", "required": ["op", "ref"], "additionalProperties": false,
                "properties": {"op": {"const": "remove"}, "ref": ref_of(resource, false),
                               "meta": schema("RequestMeta")}}));
            let fields = (resource.fields)();
            for spec in fields
                .iter()
                .filter(|spec| spec.is_relationship() && spec.access.update)
            {
                let Kind::ToOne(target) = spec.kind else {
                    continue;
                };
                operations.push(json!({
                    "title": format!("update the {} of {}", spec.name, resource.type_name),
                    "type": "object", "required": ["op", "ref", "data"], "additionalProperties": false,
                    "properties": {"op": {"const": "update"}, "ref": ref_of(resource, true),
                                   "data": schema(&format!("{}IdentifierInput", component(target))),
                                   "meta": schema("RequestMeta")}}));
            }
        }
        self.add_schema(
            "OperationsDocument",
            json!({"type": "object", "required": ["atomic:operations"], "additionalProperties": false,
                "properties": {
                    "atomic:operations": {"type": "array", "minItems": 1, "maxItems": MAX_OPERATIONS,
                                          "items": {"anyOf": operations}},
                    "meta": schema("RequestMeta"), "jsonapi": schema("RequestMeta"),
                    "links": schema("RequestMeta")},
                "description": "Operations run in order, in one database transaction: all or \
                    nothing. An add's data may carry a lid; later operations name the resource \
                    by it (in ref, or in a relationship's data)."}),
        );
        self.add_schema(
            "ResultsDocument",
            json!({"type": "object", "required": ["atomic:results", "jsonapi"],
                "additionalProperties": false, "properties": {
                    "atomic:results": {"type": "array", "items": {
                        "type": "object", "additionalProperties": false, "properties": {
                            "data": {"description": "The resource an add or update left, or the linkage a relationship update left.",
                                     "anyOf": [schema("Resource"), {"type": "object", "required": ["type", "id"],
                                               "properties": {"type": {"type": "string"}, "id": {"type": "string"}}},
                                               {"type": "null"}]},
                            "meta": {"type": "object"}}}},
                    "links": schema("Links"), "jsonapi": schema("Jsonapi")}}),
        );
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
        match scope_of(endpoint) {
            None => operation["security"] = json!([]),
            Some(scope) => operation["x-required-scope"] = json!(scope),
        }
        operation
    }

    /// The query and header parameters an endpoint takes.
    fn parameters(&mut self, endpoint: &Endpoint) -> Vec<Value> {
        let mut parameters = Vec::new();
        let operation = &endpoint.operation;
        let listed = match operation {
            Operation::List { type_name } => Some(*type_name),
            Operation::Children { target, .. } | Operation::ChildLinkage { target, .. } => {
                Some(*target)
            }
            _ => None,
        };
        let shown = match operation {
            Operation::List { type_name }
            | Operation::Show { type_name, .. }
            | Operation::Create { type_name }
            | Operation::Update { type_name } => Some(*type_name),
            Operation::Children { target, .. } => Some(*target),
            _ => None,
        };
        if !operation.is_jsonapi() || matches!(operation, Operation::Refused { .. }) {
            return parameters;
        }
        if matches!(operation, Operation::Health | Operation::Live) {
            return parameters;
        }
        parameters.push(include_parameter(shown));
        for resource in RESOURCES {
            parameters.push(self.fields_parameter(resource));
        }
        if let Some(type_name) = listed {
            let resource = registered(type_name).expect("a registered type");
            parameters.push(sort_parameter(resource));
            parameters.push(page_parameter());
            for (key, filter) in filter_parameters(resource)
                .into_iter()
                .chain(metadata_filter_parameter(resource))
            {
                parameters.push(reference("parameters", &key));
                self.parameters.insert(key, filter);
            }
        }
        if let Operation::Show { custom, .. } = operation {
            for custom in *custom {
                parameters.push(json!({
                    "name": custom.name, "in": "query", "description": custom.doc,
                    "schema": {"type": "string", "pattern": format!("^{}$", time_pattern())}}));
            }
        }
        parameters.push(reference("parameters", "walletApiLsn"));
        self.parameters.insert(
            "walletApiLsn".into(),
            json!({"name": "Wallet-Api-Lsn", "in": "header",
                   "description": "The Wallet-Api-Lsn of the client's last write: the request \
                       is served only by a database that holds that write (a standby that has \
                       replayed it, or the primary). Empty: none.",
                   "schema": {"type": "string", "pattern": LSN_OR_NONE}}),
        );
        if replayable(operation) {
            parameters.push(reference("parameters", "idempotencyKey"));
            self.parameters.insert(
                "idempotencyKey".into(),
                json!({"name": "Idempotency-Key", "in": "header",
                       "description": "Makes the write safe to retry: the same key with the same \
                           request replays the first response (24 hours by default).",
                       "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY}}),
            );
        }
        parameters
    }

    fn fields_parameter(&mut self, resource: &Registered) -> Value {
        let name = format!("fields-{}", resource.type_name);
        let members = (resource.members)();
        self.parameters.insert(
            name.clone(),
            json!({"name": format!("fields[{}]", resource.type_name), "in": "query",
                   "description": format!("The members of {} to show (empty: none).", resource.type_name),
                   "schema": {"type": "string", "pattern": optional_list(&one_of(&members))}}),
        );
        reference("parameters", &name)
    }
}

/// The `include` parameter of an endpoint showing resources of this type (none: only the
/// empty value, which asks for an empty `included`).
fn include_parameter(shown: Option<&str>) -> Value {
    let offered: Vec<&str> = shown
        .and_then(registered)
        .map(|resource| {
            (resource.fields)()
                .iter()
                .filter(|spec| spec.is_relationship())
                .map(|spec| spec.name)
                .collect()
        })
        .unwrap_or_default();
    let pattern = if offered.is_empty() {
        "^$".to_string()
    } else {
        optional_list(&one_of(&offered))
    };
    json!({"name": "include", "in": "query",
           "description": if offered.is_empty() { "Nothing can be included here (empty: an empty included)." .to_string() }
                          else { format!("Relationships to include: {} (comma-separated).", offered.join(", ")) },
           "schema": {"type": "string", "pattern": pattern}})
}

fn sort_parameter(resource: &Registered) -> Value {
    let sortable: Vec<&str> = (resource.fields)()
        .iter()
        .filter(|spec| spec.sortable)
        .map(|spec| spec.name)
        .collect();
    json!({"name": "sort", "in": "query",
           "description": format!("Sort keys, comma-separated, each once, - for descending: \
               {}; id always ends the sort (keys after it change nothing).", sortable.join(", ")),
           "schema": {"type": "string", "pattern": format!("^{}$", distinct_keys(&sortable))}})
}

/// A comma list of these keys, each at most once, each with an optional `-`.
fn distinct_keys(keys: &[&str]) -> String {
    let alternatives: Vec<String> = keys
        .iter()
        .map(|key| {
            let rest: Vec<&str> = keys.iter().copied().filter(|k| k != key).collect();
            if rest.is_empty() {
                format!("-?{key}")
            } else {
                format!("-?{key}(?:,{})?", distinct_keys(&rest))
            }
        })
        .collect();
    format!("(?:{})", alternatives.join("|"))
}

/// `page[...]`: numbered pages or cursors, never both (a deepObject, so that the document
/// says which members go together).
fn page_parameter() -> Value {
    let size = json!({"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE,
                      "description": format!("Resources per page ({DEFAULT_PAGE_SIZE} by default).")});
    let cursor = json!({"type": "string", "description": "A cursor the server gave (links, or meta.page.cursor) for the same sort."});
    json!({"name": "page", "in": "query", "style": "deepObject", "explode": true,
           "description": "page[number] and page[size] for numbered pages (with a count); \
               page[after] or page[before] and page[size] for cursor pages (the default; \
               the Cursor Pagination profile).",
           "schema": {"oneOf": [
               {"type": "object", "required": ["number"], "additionalProperties": false,
                "properties": {"number": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_NUMBER}, "size": size}},
               {"type": "object", "required": ["after"], "additionalProperties": false,
                "properties": {"after": cursor, "size": size}},
               {"type": "object", "required": ["before"], "additionalProperties": false,
                "properties": {"before": cursor, "size": size}},
               {"type": "object", "additionalProperties": false, "properties": {"size": size}}]}})
}

/// One `filter[FIELD]` and `filter[FIELD.OP]` parameter per field and operator, each value
/// described as the server reads it.
fn filter_parameters(resource: &Registered) -> Vec<(String, Value)> {
    let mut parameters = Vec::new();
    for spec in (resource.fields)() {
        let Some(operators) = spec.operators else {
            continue;
        };
        let value = match spec.kind {
            Kind::Id | Kind::Count | Kind::ToOne(_) => ID.to_string(),
            Kind::Money => decimal_pattern(),
            Kind::Time => time_pattern(),
            Kind::Choice(words) => one_of(words),
            Kind::Text => String::new(),
            Kind::Words(_) | Kind::ToManyIds(_) | Kind::Metadata => continue,
        };
        for op in std::iter::once(None).chain(operators.iter().map(|op| Some(*op))) {
            let name = match op {
                None => format!("filter[{}]", spec.name),
                Some(op) => format!("filter[{}.{op}]", spec.name),
            };
            let list = matches!(op, None | Some("in"));
            let chars = filter_chars(&spec);
            let pattern = match (spec.kind, list) {
                (Kind::Text, true) => bounded_list(&format!("[^,\\u0000]{{0,{chars}}}")),
                (Kind::Text, false) => format!("^[^\\u0000]{{0,{chars}}}$"),
                (_, true) => bounded_list(&value),
                (_, false) => format!("^{value}$"),
            };
            let mut schema = json!({"type": "string", "pattern": pattern});
            if spec.kind == Kind::Text {
                schema["maxLength"] = json!(if list {
                    (chars + 1) * MAX_FILTER_VALUES - 1
                } else {
                    chars
                });
            }
            let meaning = match op {
                None | Some("in") => "equal to one of a comma list",
                Some("gt") => "greater than",
                Some("gte") => "at least",
                Some("lt") => "less than",
                Some("lte") => "at most",
                Some("startswith") => "starting with (case-sensitive)",
                Some("icontains") => "containing (ignoring case)",
                Some(other) => other,
            };
            let key = format!(
                "filter-{}-{}{}",
                resource.type_name,
                spec.name,
                op.map_or(String::new(), |op| format!("-{op}"))
            );
            let each = match spec.kind {
                Kind::Text => format!(" of at most {chars} characters"),
                Kind::Money => {
                    format!(" of at most {MAX_FILTER_DIGITS} digits before and after the point")
                }
                _ => String::new(),
            };
            let bounds = match (list, spec.kind) {
                (true, _) => format!(" At most {MAX_FILTER_VALUES} values{each}."),
                (false, Kind::Text) => format!(" At most {chars} characters."),
                (false, Kind::Money) => {
                    format!(" At most {MAX_FILTER_DIGITS} digits before and after the point.")
                }
                (false, _) => String::new(),
            };
            parameters.push((
                key,
                json!({"name": name, "in": "query",
                "description": format!("{}: {meaning}.{bounds}", spec.name),
                "schema": schema}),
            ));
        }
    }
    parameters
}

/// `filter[metadata.KEY]` and `filter[metadata.KEY.exists]` of a resource with metadata: the
/// keys are the client's, so they are the properties of one `filter` object (`deepObject`:
/// `filter[PROPERTY]=VALUE`), named by patterns. A property matching several patterns meets
/// all of their schemas, so `metadata.paid.exists` takes only `true` or `false`, and the names
/// whose key could never be stored take nothing. The other filters are parameters of their
/// own.
fn metadata_filter_parameter(resource: &Registered) -> Option<(String, Value)> {
    let spec = (resource.fields)()
        .into_iter()
        .find(|spec| spec.kind == Kind::Metadata)?;
    let name = regex_escape(spec.name);
    let key = format!("{KEY_CHARACTER}{{1,{MAX_KEY_CHARS}}}");
    let exists = regex_escape(EXISTS_SUFFIX);
    let value = format!("[^,\\u0000]{{0,{MAX_VALUE_CHARS}}}");
    let properties = json!({
        format!("^{name}\\.{key}$"): {"type": "string", "pattern": bounded_list(&value),
            "maxLength": (MAX_VALUE_CHARS + 1) * MAX_FILTER_VALUES - 1},
        format!("^{name}\\.{key}{exists}$"): {"type": "string", "enum": ["true", "false"]},
        format!("^{name}\\.(?:.*{exists})?{exists}$"): false,
    });
    Some((
        format!("filter-{}-{}", resource.type_name, spec.name),
        json!({"name": "filter", "in": "query", "style": "deepObject", "explode": true,
            "description": format!(
                "{0} by key: filter[{0}.KEY]=a,b (KEY holds one of these values; at most \
                 {MAX_FILTER_VALUES} values of at most {MAX_VALUE_CHARS} characters) and \
                 filter[{0}.KEY.exists]=true|false (KEY is there, or is not). KEY is 1 to \
                 {MAX_KEY_CHARS} characters, no control characters or brackets, not ending \
                 {EXISTS_SUFFIX}. The other filters are parameters of their own.",
                spec.name),
            "schema": {"type": "object", "additionalProperties": false,
                       "patternProperties": properties}}),
    ))
}

/// `text` matched literally in a pattern.
fn regex_escape(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

/// What a document is for, for its schema.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Create,
    Update,
    /// An atomic `add`: a create that may carry a `lid`, and relationships by `lid`.
    Add,
}

impl Target {
    fn suffix(self) -> &'static str {
        match self {
            Target::Create => "Create",
            Target::Update => "Update",
            Target::Add => "Add",
        }
    }
}

/// The resource object of a create or an update: the members a client may write then.
fn resource_input(type_name: &str, fields: &[FieldSpec<()>], target: Target) -> Value {
    let mut attributes = Map::new();
    let mut relationships = Map::new();
    let mut required_attributes = Vec::new();
    let mut required_relationships = Vec::new();
    for spec in fields {
        let writable = match target {
            Target::Create | Target::Add => spec.access.create != Create::No,
            Target::Update => spec.access.update,
        };
        if !writable || spec.kind == Kind::Id {
            continue;
        }
        let required = target != Target::Update && spec.access.create == Create::Required;
        match spec.kind {
            Kind::ToManyIds(related) => {
                relationships.insert(
                    spec.name.into(),
                    json!({"type": "object", "required": ["data"], "additionalProperties": false,
                           "description": spec.doc,
                           "properties": {"data": {"type": "array", "uniqueItems": true,
                               "items": schema(&format!("{}IdentifierInput", component(related)))},
                               "links": schema("RequestMeta"), "meta": schema("RequestMeta")}}),
                );
                if required {
                    required_relationships.push(spec.name);
                }
            }
            Kind::ToOne(related) => {
                let mut data = schema(&format!("{}IdentifierInput", component(related)));
                if target == Target::Add {
                    data = json!({"oneOf": [data, {"type": "object", "required": ["type", "lid"],
                        "additionalProperties": false, "properties": {
                            "type": {"const": related}, "lid": {"type": "string"},
                            "meta": schema("RequestMeta")}}]});
                }
                if spec.nullable {
                    data = json!({"oneOf": [data, {"type": "null"}]});
                }
                relationships.insert(
                    spec.name.into(),
                    json!({"type": "object", "required": ["data"], "additionalProperties": false,
                           "description": spec.doc,
                           "properties": {"data": data, "links": schema("RequestMeta"),
                                          "meta": schema("RequestMeta")}}),
                );
                if required {
                    required_relationships.push(spec.name);
                }
            }
            _ => {
                attributes.insert(spec.name.into(), input_schema(spec));
                if required {
                    required_attributes.push(spec.name);
                }
            }
        }
    }
    let mut properties = json!({
        "type": {"const": type_name},
        "attributes": {"type": "object", "additionalProperties": false,
                       "required": required_attributes, "properties": attributes},
        "relationships": {"type": "object", "additionalProperties": false,
                          "required": required_relationships, "properties": relationships},
        "links": schema("RequestMeta"),
        "meta": schema("RequestMeta"),
    });
    let mut required = vec!["type"];
    match target {
        Target::Update => {
            properties["id"] = json!({"type": "string"});
            required.push("id");
        }
        Target::Add => properties["lid"] = json!({"type": "string"}),
        Target::Create => {}
    }
    if !required_attributes.is_empty() {
        required.push("attributes");
    }
    if !required_relationships.is_empty() {
        required.push("relationships");
    }
    json!({"type": "object", "required": required, "additionalProperties": false,
           "properties": properties})
}

/// The request document of a create or an update, around its resource object.
fn input_document(object: &str) -> Value {
    json!({"type": "object", "required": ["data"], "additionalProperties": false,
           "properties": {"data": schema(object), "meta": schema("RequestMeta"),
                          "jsonapi": schema("RequestMeta"), "links": schema("RequestMeta")}})
}

/// The schema of an attribute as the server writes it.
fn attribute_schema(spec: &FieldSpec<()>) -> Value {
    let mut schema = match spec.kind {
        Kind::Money => schema("Money"),
        Kind::Time => schema("Timestamp"),
        Kind::Count => json!({"type": "integer", "minimum": 0}),
        Kind::Choice(words) => json!({"enum": words}),
        Kind::Words(words) => {
            json!({"type": "array", "items": {"enum": words}, "uniqueItems": true})
        }
        Kind::Text => match spec.accepts {
            Some(Accepts::Text { min, max }) => {
                json!({"type": "string", "minLength": min, "maxLength": max})
            }
            _ => json!({"type": "string"}),
        },
        Kind::Id | Kind::ToOne(_) | Kind::ToManyIds(_) => json!({"type": "string"}),
        Kind::Metadata => json!({"type": "object", "maxProperties": MAX_KEYS,
                                 "additionalProperties": {"type": "string"}}),
    };
    if spec.nullable {
        schema = json!({"oneOf": [schema, {"type": "null"}]});
    }
    schema["description"] = Value::String(spec.doc.to_string());
    schema
}

/// The schema of an attribute's value as a client may send it.
fn input_schema(spec: &FieldSpec<()>) -> Value {
    let schema = match spec.accepts {
        Some(Accepts::Text { min, max }) => json!({
            "type": "string", "minLength": min, "maxLength": max, "pattern": TEXT}),
        Some(Accepts::Decimal {
            integer,
            fraction,
            positive,
        }) => {
            let bound = 10f64.powi(integer as i32);
            let number = if positive {
                json!({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": bound,
                       "multipleOf": 10f64.powi(-(fraction as i32))})
            } else {
                json!({"type": "number", "exclusiveMinimum": -bound, "exclusiveMaximum": bound,
                       "multipleOf": 10f64.powi(-(fraction as i32)), "not": {"const": 0}})
            };
            json!({"oneOf": [
                {"type": "string", "pattern": money_input_pattern(integer, fraction, positive)},
                number]})
        }
        Some(Accepts::Time) => json!({"type": "string", "pattern": format!("^{DATE}{TIME}$")}),
        Some(Accepts::Choice(words)) => json!({"enum": words}),
        Some(Accepts::Words(words)) => json!({"type": "array", "minItems": 1, "uniqueItems": true,
                                              "items": {"enum": words}}),
        Some(Accepts::Metadata) => json!({
            "type": "object", "maxProperties": MAX_KEYS,
            "propertyNames": {
                "pattern": format!("^{KEY_CHARACTER}{{1,{MAX_KEY_CHARS}}}$"),
                "not": {"pattern": format!("{}$", regex_escape(EXISTS_SUFFIX))}},
            "additionalProperties": {"oneOf": [
                {"type": "string", "maxLength": MAX_VALUE_CHARS, "pattern": TEXT},
                {"type": "null"}]}}),
        Some(Accepts::Link | Accepts::Links) | None => json!({}),
    };
    // A client gives an attribute a value, never null (an expiry is left out, not null); a
    // nullable relationship may be emptied.
    let mut schema = if spec.nullable && spec.is_relationship() {
        json!({"oneOf": [schema, {"type": "null"}]})
    } else {
        schema
    };
    schema["description"] = Value::String(spec.doc.to_string());
    schema
}

fn custom_parameters(type_name: &str) -> Vec<Custom> {
    table()
        .iter()
        .filter_map(|endpoint| match endpoint.operation {
            Operation::Show {
                type_name: shown,
                custom,
            } if shown == type_name => Some(custom.iter().copied()),
            _ => None,
        })
        .flatten()
        .collect()
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
        Operation::Health | Operation::Live => "health",
        Operation::Metrics | Operation::OpenApi => "operator",
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
        Operation::Atomic => {
            "The operations run in order in one database transaction: all or nothing. Errors point \
             into the failing operation; nothing is written."
        }
        Operation::Health | Operation::Live => {
            "Answered on a connection and a thread of its own: never queued behind requests."
        }
        Operation::Metrics | Operation::OpenApi => "Not a JSON:API document.",
    };
    let scope = match scope_of(endpoint) {
        None => "Needs no API key.".to_string(),
        Some(scope) => format!("Needs an API key with the {scope} scope."),
    };
    format!("{} {detail} {scope}", summary(endpoint))
}

fn summary(endpoint: &Endpoint) -> String {
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
        Operation::Atomic => "Atomic Operations: several writes in one all-or-nothing request \
            (jsonapi.org/ext/atomic)."
            .to_string(),
        Operation::Health => "Whether the service and its database answer (503 within \
            HEALTH_TIMEOUT when the database does not)."
            .to_string(),
        Operation::Live => "Whether the process serves HTTP (never touches the database).".into(),
        Operation::Metrics => "Prometheus metrics (text format 0.0.4).".into(),
        Operation::OpenApi => "This document.".into(),
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
    Some(json!({"required": true, "content": {media: {"schema": body}}}))
}

/// The codes an endpoint can answer.
fn codes_of(endpoint: &Endpoint) -> Vec<&'static Code> {
    let operation = &endpoint.operation;
    let database: [&'static Code; 4] = [
        &BUSY,
        &DATABASE_UNAVAILABLE,
        &DATABASE_TIMEOUT,
        &CONNECTION_LOST,
    ];
    let mut codes: Vec<&'static Code> = Vec::new();
    if scope_of(endpoint).is_some() {
        codes.extend([
            &UNAUTHENTICATED,
            &INSUFFICIENT_SCOPE,
            &RATE_LIMITED,
            &AUTHENTICATION_FAILURES_LIMITED,
        ]);
    }
    match operation {
        Operation::Refused { code } => {
            codes.push(code);
            return codes;
        }
        Operation::Health => return vec![&DATABASE_UNAVAILABLE],
        Operation::Live | Operation::OpenApi => return Vec::new(),
        Operation::Metrics => return codes,
        _ => {}
    }
    codes.extend([
        &INVALID_QUERY_PARAMETER,
        &INVALID_LSN,
        &NOT_ACCEPTABLE,
        &INTERNAL_ERROR,
    ]);
    codes.extend(database);
    let parent = match operation {
        Operation::Show { type_name, .. }
        | Operation::Update { type_name }
        | Operation::Delete { type_name } => Some(*type_name),
        Operation::Related { parent, .. }
        | Operation::Linkage { parent, .. }
        | Operation::ChangeLinkage { parent, .. }
        | Operation::Children { parent, .. }
        | Operation::ChildLinkage { parent, .. } => Some(*parent),
        _ => None,
    };
    if let Some(parent) = parent.and_then(registered) {
        codes.push(parent.not_found_code);
    }
    if let Operation::Related { target, .. } = operation
        && let Some(target) = registered(target)
    {
        codes.push(target.not_found_code);
    }
    if replayable(operation) {
        codes.extend([&IDEMPOTENCY_KEY_IN_USE, &IDEMPOTENCY_KEY_REUSED]);
    }
    if is_write(operation) {
        codes.extend([
            &INVALID_IDEMPOTENCY_KEY,
            &OUTCOME_UNKNOWN,
            &TRANSIENT_CONFLICT,
        ]);
    }
    if has_body(operation) {
        codes.extend([
            &INVALID_JSON,
            &EMPTY_BODY,
            &UNREADABLE_BODY,
            &INVALID_DOCUMENT,
            &BODY_TIMEOUT,
            &PAYLOAD_TOO_LARGE,
            &UNSUPPORTED_MEDIA_TYPE,
            &TYPE_MISMATCH,
            &INVALID_ATTRIBUTE,
        ]);
    }
    let written = match operation {
        Operation::Create { type_name } => Some((*type_name, 0)),
        Operation::Update { type_name } => Some((*type_name, 1)),
        Operation::Delete { type_name } => Some((*type_name, 2)),
        Operation::ChangeLinkage { parent, .. } => Some((*parent, 1)),
        _ => None,
    };
    if let Some((type_name, method)) = written {
        let resource = registered(type_name).expect("a registered type");
        codes.extend(resource.write_errors[method]);
        if method != 2 {
            codes.extend(document_codes(resource, method == 0));
        }
    }
    if matches!(operation, Operation::Create { type_name } if *type_name == LIMITED_TO)
        || matches!(operation, Operation::Atomic)
    {
        codes.push(&WALLET_LIMITED_KEY);
    }
    if let Operation::Atomic = operation {
        codes.extend([
            &NOT_ATOMIC,
            &TOO_MANY_OPERATIONS,
            &NOT_FOUND,
            &READ_ONLY_RESOURCE,
            &READ_ONLY_RELATIONSHIP,
            &NOT_DELETABLE,
            &CLIENT_GENERATED_ID,
            &ID_MISMATCH,
        ]);
        for resource in RESOURCES
            .iter()
            .filter(|r| r.operable.is_some() && !r.admin_only)
        {
            codes.push(resource.not_found_code);
            for method in 0..3 {
                codes.extend(resource.write_errors[method]);
            }
            codes.extend(document_codes(resource, true));
        }
    }
    if let Operation::ChangeLinkage { .. } = operation {
        codes.push(&READ_ONLY_RELATIONSHIP);
    }
    let mut unique: Vec<&'static Code> = Vec::new();
    for code in codes {
        if !unique.contains(&code) {
            unique.push(code);
        }
    }
    unique
}

/// What reading a resource's document can answer: refused, unknown, missing members, the ids
/// and types of its relationships.
fn document_codes(resource: &Registered, create: bool) -> Vec<&'static Code> {
    let mut codes: Vec<&'static Code> = vec![&READ_ONLY_FIELD, &UNKNOWN_FIELD, &TYPE_MISMATCH];
    codes.push(if create {
        &CLIENT_GENERATED_ID
    } else {
        &ID_MISMATCH
    });
    if create {
        codes.push(&MISSING_FIELD);
    }
    for spec in (resource.fields)() {
        if let Kind::ToOne(target) = spec.kind
            && spec.access.writable()
            && let Some(target) = registered(target)
        {
            codes.push(target.not_found_code);
        }
    }
    codes
}

impl Builder {
    /// Every response an endpoint can give: its success, and one error response per status its
    /// codes have (each listing exactly those codes). Problems of different statuses found in
    /// one document are answered together as a 400, which lists every client error code.
    fn responses(&mut self, endpoint: &Endpoint) -> Value {
        let operation = &endpoint.operation;
        let mut responses = Map::new();
        let jsonapi_media = if matches!(operation, Operation::Atomic) {
            ATOMIC.media_type
        } else {
            JSONAPI_MEDIA_TYPE
        };
        let replayable = replayable(operation);
        let rate_limited = scope_of(endpoint).is_some();
        let links = links_from(endpoint);
        let mut success = |status: u16, description: &str, body: Option<Value>, location: bool| {
            let mut response = json!({"description": description});
            if status < 300 && !links.is_empty() {
                response["links"] = Value::Object(links.clone());
            }
            if let Some(body) = body {
                response["content"] = json!({jsonapi_media: {"schema": body}});
            }
            let mut headers = Map::new();
            if location {
                headers.insert("Location".into(), reference("headers", "Location"));
            }
            if replayable {
                headers.insert(
                    "Idempotent-Replayed".into(),
                    reference("headers", "IdempotentReplayed"),
                );
            }
            if is_write(operation) {
                headers.insert(
                    "Wallet-Api-Lsn".into(),
                    reference("headers", "WalletApiLsn"),
                );
            }
            if rate_limited {
                headers.insert(
                    "RateLimit-Policy".into(),
                    reference("headers", "RateLimitPolicy"),
                );
                headers.insert("RateLimit".into(), reference("headers", "RateLimit"));
            }
            if !headers.is_empty() {
                response["headers"] = Value::Object(headers);
            }
            responses.insert(status.to_string(), response);
        };
        match operation {
            Operation::List { type_name }
            | Operation::Children {
                target: type_name, ..
            } => success(
                200,
                "A page of the collection.",
                Some(schema(&format!("{}Collection", component(type_name)))),
                false,
            ),
            Operation::Show { type_name, .. } | Operation::Update { type_name } => success(
                200,
                "The resource.",
                Some(schema(&format!("{}Document", component(type_name)))),
                false,
            ),
            Operation::Create { type_name } => {
                let created = registered(type_name).and_then(|r| r.created_meta);
                let suffix = created.map_or("Document", |_| "CreatedDocument");
                success(
                    201,
                    "Created.",
                    Some(schema(&format!("{}{suffix}", component(type_name)))),
                    true,
                )
            }
            Operation::Delete { .. } => success(204, "Deleted.", None, false),
            Operation::Related {
                parent,
                name,
                target,
            } => {
                let suffix = if nullable(parent, name) {
                    "OrNullDocument"
                } else {
                    "Document"
                };
                success(
                    200,
                    "The related resource.",
                    Some(schema(&format!("{}{suffix}", component(target)))),
                    false,
                )
            }
            Operation::Linkage {
                parent,
                name,
                target,
            }
            | Operation::ChangeLinkage {
                parent,
                name,
                target,
            } => {
                let suffix = if nullable(parent, name) {
                    "OrNullLinkage"
                } else {
                    "Linkage"
                };
                success(
                    200,
                    "The linkage.",
                    Some(schema(&format!("{}{suffix}", component(target)))),
                    false,
                )
            }
            Operation::ChildLinkage { target, .. } => success(
                200,
                "A page of the linkage.",
                Some(schema(&format!("{}Linkages", component(target)))),
                false,
            ),
            Operation::Atomic => {
                success(
                    200,
                    "The results, one per operation, in order.",
                    Some(schema("ResultsDocument")),
                    false,
                );
                success(
                    204,
                    "No operation has a result with data (all removes).",
                    None,
                    false,
                );
            }
            Operation::Health => success(
                200,
                "The service and its database answer.",
                Some(schema("HealthDocument")),
                false,
            ),
            Operation::Live => success(
                200,
                "The process serves HTTP.",
                Some(schema("LiveDocument")),
                false,
            ),
            Operation::Metrics => {
                responses.insert("200".into(), json!({"description": "The metrics.",
                "content": {"text/plain; version=0.0.4; charset=utf-8": {"schema": {"type": "string"}}}}));
            }
            Operation::OpenApi => {
                responses.insert(
                    "200".into(),
                    json!({"description": "The OpenAPI document.",
                "content": {"application/json": {"schema": {"type": "object"}}}}),
                );
            }
            Operation::Refused { .. } => {}
        }
        let codes = codes_of(endpoint);
        let mut statuses: Vec<StatusCode> = codes.iter().map(|code| code.status).collect();
        let merges = has_body(operation);
        if merges {
            statuses.push(StatusCode::BAD_REQUEST);
        }
        statuses.sort();
        statuses.dedup();
        for status in statuses {
            let of_status: Vec<&'static Code> = codes
                .iter()
                .copied()
                .filter(|code| {
                    code.status == status
                        || (merges
                            && status == StatusCode::BAD_REQUEST
                            && code.status.is_client_error()
                            && !ANSWERED_ALONE.contains(code))
                })
                .collect();
            // Refusals and negotiation failures are plain JSON:API even at /operations: they are
            // answered before the extension applies.
            let media = match operation {
                Operation::Atomic
                    if status != StatusCode::NOT_ACCEPTABLE
                        && status != StatusCode::UNSUPPORTED_MEDIA_TYPE =>
                {
                    vec![ATOMIC.media_type, JSONAPI_MEDIA_TYPE]
                }
                _ => vec![JSONAPI_MEDIA_TYPE],
            };
            let response = error_response(status, &of_status, &media, replayable);
            let name = match self.responses.iter().find(|(_, known)| **known == response) {
                Some((name, _)) => name.clone(),
                None => {
                    let name = format!("Error{}-{}", status.as_str(), self.responses.len() + 1);
                    self.responses.insert(name.clone(), response);
                    name
                }
            };
            responses.insert(status.as_str().to_string(), reference("responses", &name));
        }
        Value::Object(responses)
    }
}

/// The OpenAPI links of an endpoint's success: from a created resource (or the first of a
/// page) to every operation on it by id, so that a client (or the fuzzer's stateful phase)
/// can follow them.
fn links_from(endpoint: &Endpoint) -> Map<String, Value> {
    let (type_name, id) = match endpoint.operation {
        Operation::Create { type_name } => (type_name, "$response.body#/data/id"),
        Operation::List { type_name } => (type_name, "$response.body#/data/0/id"),
        _ => return Map::new(),
    };
    let prefix = format!("/{type_name}/{{id}}");
    table()
        .iter()
        .filter(|target| target.path == prefix || target.path.starts_with(&format!("{prefix}/")))
        .filter(|target| !matches!(target.operation, Operation::Refused { .. }))
        .map(|target| {
            (
                operation_id(target),
                json!({"operationId": operation_id(target), "parameters": {"id": id}}),
            )
        })
        .collect()
}

fn nullable(parent: &str, name: &str) -> bool {
    registered(parent)
        .and_then(|resource| {
            (resource.fields)()
                .iter()
                .find(|spec| spec.name == name)
                .map(|spec| spec.nullable)
        })
        .unwrap_or(false)
}

/// The refusals answered before a request's document is read, never together with its
/// problems: who sends it, and how fast.
const ANSWERED_ALONE: [&Code; 5] = [
    &UNAUTHENTICATED,
    &INSUFFICIENT_SCOPE,
    &WALLET_LIMITED_KEY,
    &RATE_LIMITED,
    &AUTHENTICATION_FAILURES_LIMITED,
];

/// An error response of `status` whose error objects carry one of `codes`.
fn error_response(
    status: StatusCode,
    codes: &[&'static Code],
    media: &[&str],
    replayable: bool,
) -> Value {
    let names: Vec<&str> = codes.iter().map(|code| code.name).collect();
    let lines: Vec<String> = codes
        .iter()
        .map(|code| format!("- `{}`: {}", code.name, code.when))
        .collect();
    let document = json!({"allOf": [schema("ErrorDocument"), {"properties": {"errors": {
        "items": {"properties": {"code": {"enum": names}}}}}}]});
    let mut content = Map::new();
    for media in media {
        content.insert(media.to_string(), json!({"schema": document}));
    }
    let mut response = json!({"description": lines.join("\n"), "content": content});
    let mut headers = Map::new();
    let answered_with = |code: &Code| code.status == status && codes.contains(&code);
    if status == StatusCode::SERVICE_UNAVAILABLE
        || answered_with(&IDEMPOTENCY_KEY_IN_USE)
        || answered_with(&RATE_LIMITED)
        || answered_with(&AUTHENTICATION_FAILURES_LIMITED)
    {
        headers.insert("Retry-After".into(), reference("headers", "RetryAfter"));
    }
    if answered_with(&UNAUTHENTICATED) {
        headers.insert(
            "WWW-Authenticate".into(),
            reference("headers", "WWWAuthenticate"),
        );
    }
    if answered_with(&RATE_LIMITED) {
        headers.insert(
            "RateLimit-Policy".into(),
            reference("headers", "RateLimitPolicy"),
        );
        headers.insert("RateLimit".into(), reference("headers", "RateLimit"));
    }
    if replayable && codes.iter().any(|code| code.status.is_client_error()) {
        headers.insert(
            "Idempotent-Replayed".into(),
            reference("headers", "IdempotentReplayed"),
        );
    }
    if !headers.is_empty() {
        response["headers"] = Value::Object(headers);
    }
    response
}

/// Every code an operation of the document answers, as a Markdown table: status, code and
/// when it is answered.
pub fn error_table() -> String {
    let mut codes: Vec<&'static Code> = Vec::new();
    for endpoint in table() {
        for code in codes_of(endpoint) {
            if !codes.contains(&code) {
                codes.push(code);
            }
        }
    }
    // Any URL answers a method no route serves so.
    codes.push(&crate::jsonapi::error::METHOD_NOT_ALLOWED);
    codes.sort_by_key(|code| (code.status.as_u16(), code.name));
    let mut text = String::from("| status | code | when |\n|---|---|---|\n");
    for code in codes {
        text.push_str(&format!(
            "| {} | `{}` | {} |\n",
            code.status.as_str(),
            code.name,
            code.when
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Amount, parse_time};

    fn full(pattern: &str) -> regex::Regex {
        regex::Regex::new(pattern).unwrap()
    }

    #[test]
    fn the_money_pattern_accepts_what_amounts_accept_in_their_canonical_form() {
        let pattern = full(&money_input_pattern(18, 18, false));
        for good in [
            "1",
            "-1",
            "0.5",
            ".5",
            "-0.000000000000000001",
            "999999999999999999.999999999999999999",
            "12.50",
        ] {
            assert!(pattern.is_match(good), "{good}");
            assert!(Amount::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "0",
            "0.0",
            "-0.000",
            "0.0000000000000000001",
            "1000000000000000000",
            "1.",
            "abc",
            "",
            "1,5",
            "+5",
        ] {
            assert!(!pattern.is_match(bad), "{bad}");
        }
        assert!(!full(&money_input_pattern(18, 18, true)).is_match("-1"));
    }

    #[test]
    fn the_time_pattern_is_what_the_server_parses() {
        let pattern = full(&format!("^{}$", time_pattern()));
        for good in [
            "2026-11-24",
            "2026-11-24T13:00:00Z",
            "2024-02-29T23:59:59.123456+02:00",
            "2016-12-31T23:59:59Z",
            "2000-02-29",
            "0001-01-01T00:00:00-23:59",
        ] {
            assert!(pattern.is_match(good), "{good}");
            assert!(parse_time(good).is_some(), "{good}");
        }
        for bad in [
            "2026-13-01",
            "2026-02-30",
            "2023-02-29",
            "1900-02-29",
            "2026-11-24T25:00:00Z",
            "2026-11-24T13:00:00",
            "2016-12-31T23:59:60Z",
            "yesterday",
        ] {
            assert!(!pattern.is_match(bad), "{bad}");
            assert!(parse_time(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn idempotency_keys_are_tokens_or_quoted_strings() {
        let pattern = full(IDEMPOTENCY_KEY);
        for good in ["abc-123", "\"8e03978e 40d5\"", "\"say \\\"hi\\\"\"", "a b"] {
            assert!(pattern.is_match(good), "{good}");
        }
        for bad in ["", "\"\"", " a", "a ", "\"open", "caf\u{e9}"] {
            assert!(!pattern.is_match(bad), "{bad}");
        }
    }

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
