//! The responses of the document: each operation's success, and one error response per
//! status its codes have, shared by every operation that answers the same codes.

use actix_web::http::StatusCode;
use serde_json::{Map, Value, json};

use super::codes::{ANSWERED_ALONE, codes_of};
use super::examples;
use super::{Builder, component, has_body, is_write, operation_id, reference, replayable, schema};
use crate::api::middleware::auth::{
    AUTHENTICATION_FAILURES_LIMITED, RATE_LIMITED, UNAUTHENTICATED, scope_of,
};
use crate::api::registered;
use crate::api::resources::events::EVENT_STREAM;
use crate::api::routes::{Endpoint, Operation, table};
use crate::api::write::idempotency::IDEMPOTENCY_KEY_IN_USE;
use crate::jsonapi::error::Code;
use crate::jsonapi::media_type::{ATOMIC, JSONAPI_MEDIA_TYPE};

/// A success an operation answers: its status, what it means, the schema of its body (none:
/// no body), and whether it names a created resource (`Location`).
struct Success {
    status: u16,
    description: &'static str,
    body: Option<Value>,
    location: bool,
}

impl Success {
    fn new(status: u16, description: &'static str, body: Option<Value>) -> Success {
        Success {
            status,
            description,
            body,
            location: false,
        }
    }
}

impl Builder {
    /// Every response an endpoint can give: its success, and one error response per status its
    /// codes have (each listing exactly those codes). Problems of different statuses found in
    /// one document are answered together as a 400, which lists every client error code.
    pub(super) fn responses(&mut self, endpoint: &Endpoint) -> Value {
        let mut responses = Map::new();
        for success in successes(endpoint) {
            responses.insert(
                success.status.to_string(),
                success_response(endpoint, success),
            );
        }
        let request_id = json!({"X-Request-Id": reference("headers", "XRequestId")});
        match endpoint.operation {
            Operation::Metrics => {
                responses.insert("200".into(), json!({"description": "The metrics.",
                "headers": request_id,
                "content": {"text/plain; version=0.0.4; charset=utf-8": {"schema": {"type": "string"},
                    "example": examples::success(endpoint, 200)}}}));
            }
            Operation::OpenApi => {
                responses.insert(
                    "200".into(),
                    json!({"description": "The OpenAPI document.", "headers": request_id,
                "content": {"application/json": {"schema": {"type": "object"},
                    "example": examples::success(endpoint, 200)}}}),
                );
            }
            Operation::Console { media_type } => {
                responses.insert(
                    "200".into(),
                    json!({"description": "The file.", "headers": request_id,
                "content": {media_type: {"schema": {"type": "string"},
                    "example": examples::success(endpoint, 200)}}}),
                );
            }
            _ => {}
        }
        for (status, name) in self.error_responses(endpoint) {
            responses.insert(status, reference("responses", &name));
        }
        Value::Object(responses)
    }

    /// The error responses of an endpoint, by status: each the name of a shared component.
    fn error_responses(&mut self, endpoint: &Endpoint) -> Vec<(String, String)> {
        let operation = &endpoint.operation;
        let codes = codes_of(endpoint);
        let mut statuses: Vec<StatusCode> = codes.iter().map(|code| code.status).collect();
        let merges = has_body(operation);
        if merges {
            statuses.push(StatusCode::BAD_REQUEST);
        }
        statuses.sort();
        statuses.dedup();
        let mut named = Vec::new();
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
            let response = error_response(status, &of_status, &media, replayable(operation));
            let name = match self.responses.iter().find(|(_, known)| **known == response) {
                Some((name, _)) => name.clone(),
                None => {
                    let name = format!("Error{}-{}", status.as_str(), self.responses.len() + 1);
                    self.responses.insert(name.clone(), response);
                    name
                }
            };
            named.push((status.as_str().to_string(), name));
        }
        named
    }
}

/// The JSON:API successes of an endpoint.
fn successes(endpoint: &Endpoint) -> Vec<Success> {
    let document =
        |type_name: &str, suffix: &str| Some(schema(&format!("{}{suffix}", component(type_name))));
    match endpoint.operation {
        Operation::List { type_name }
        | Operation::Children {
            target: type_name, ..
        } => vec![Success::new(
            200,
            "A page of the collection.",
            document(type_name, "Collection"),
        )],
        Operation::Show { type_name, .. } => {
            vec![Success::new(
                200,
                "The resource.",
                document(type_name, "Document"),
            )]
        }
        Operation::Update { type_name } => {
            let updated = registered(type_name).and_then(|r| r.update_meta);
            let suffix = updated.map_or("Document", |_| "UpdatedDocument");
            vec![Success::new(
                200,
                "The resource.",
                document(type_name, suffix),
            )]
        }
        Operation::Create { type_name } => {
            let created = registered(type_name).and_then(|r| r.created_meta);
            let suffix = created.map_or("Document", |_| "CreatedDocument");
            vec![Success {
                location: true,
                ..Success::new(201, "Created.", document(type_name, suffix))
            }]
        }
        Operation::Delete { .. } => vec![Success::new(204, "Deleted.", None)],
        Operation::Related {
            parent,
            name,
            target,
        } => vec![Success::new(
            200,
            "The related resource.",
            document(target, to_one(parent, name, "Document")),
        )],
        Operation::Linkage {
            parent,
            name,
            target,
        }
        | Operation::ChangeLinkage {
            parent,
            name,
            target,
        } => vec![Success::new(
            200,
            "The linkage.",
            document(target, to_one(parent, name, "Linkage")),
        )],
        Operation::ChildLinkage { target, .. } => {
            vec![Success::new(
                200,
                "A page of the linkage.",
                document(target, "Linkages"),
            )]
        }
        Operation::Atomic => vec![
            Success::new(
                200,
                "The results, one per operation, in order.",
                Some(schema("ResultsDocument")),
            ),
            Success::new(
                204,
                "No operation has a result with data (all removes).",
                None,
            ),
        ],
        Operation::BalanceHistory => vec![Success::new(
            200,
            "The buckets of the range, in order.",
            Some(schema("BalanceBucketCollection")),
        )],
        Operation::Health => vec![Success::new(
            200,
            "The service and its database answer.",
            Some(schema("HealthDocument")),
        )],
        Operation::Live => vec![Success::new(
            200,
            "The process serves HTTP.",
            Some(schema("LiveDocument")),
        )],
        Operation::Metrics
        | Operation::OpenApi
        | Operation::Console { .. }
        | Operation::Refused { .. } => Vec::new(),
    }
}

/// A feed's list answers `Accept: text/event-stream` with its events as Server-Sent Events.
fn event_stream(operation: &Operation) -> Option<Value> {
    let Operation::List { type_name } = operation else {
        return None;
    };
    registered(type_name)?.feed?;
    Some(json!({
        "schema": {"type": "string", "description": "Server-Sent Events, one per event as it \
            passes the feed's horizon, with the same filters and wallet limits as a page: \
            `id:` the event's cursor (send it back as Last-Event-ID, or as page[after], to \
            resume after it), `event:` its eventType, `data:` its resource object (one line of \
            JSON). Without a cursor the stream starts with the events to come. A comment line \
            (`: heartbeat`) is sent while nothing happens."},
        "example": "id: eyJzIjoiUG9zaXRpb24sSWQiLCJ2IjpbIjgxMiIsIjMxIl19\nevent: transaction.created\ndata: {\"type\":\"events\",\"id\":\"31\",\"attributes\":{\"eventType\":\"transaction.created\"}}\n\n"
    }))
}

/// The schema suffix of to-one relationship `name` of `parent`'s documents of `kind`
/// (`Document`, `Linkage`): `OrNull...` when it may name none.
fn to_one(parent: &str, name: &str, kind: &str) -> &'static str {
    match (nullable(parent, name), kind) {
        (true, "Document") => "OrNullDocument",
        (false, "Document") => "Document",
        (true, _) => "OrNullLinkage",
        (false, _) => "Linkage",
    }
}

/// One success of an endpoint: its description, its links, its body and its headers.
fn success_response(endpoint: &Endpoint, success: Success) -> Value {
    let operation = &endpoint.operation;
    let media = if matches!(operation, Operation::Atomic) {
        ATOMIC.media_type
    } else {
        JSONAPI_MEDIA_TYPE
    };
    let mut response = json!({"description": success.description});
    let links = links_from(endpoint);
    if success.status < 300 && !links.is_empty() {
        response["links"] = Value::Object(links);
    }
    if let Some(body) = success.body {
        let mut content = json!({"schema": body});
        if let Some(example) = examples::success(endpoint, success.status) {
            content["example"] = example;
        }
        response["content"] = json!({media: content});
        if let Some(stream) = event_stream(operation) {
            response["content"][EVENT_STREAM] = stream;
        }
    }
    let mut headers = Map::new();
    headers.insert("X-Request-Id".into(), reference("headers", "XRequestId"));
    if success.location {
        headers.insert("Location".into(), reference("headers", "Location"));
    }
    if replayable(operation) {
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
    if scope_of(endpoint).is_some() {
        headers.insert(
            "RateLimit-Policy".into(),
            reference("headers", "RateLimitPolicy"),
        );
        headers.insert("RateLimit".into(), reference("headers", "RateLimit"));
    }
    response["headers"] = Value::Object(headers);
    response
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
        let mut typed = json!({"schema": document});
        if let Some(code) = codes
            .iter()
            .find(|code| code.status == status)
            .or(codes.first())
        {
            typed["example"] = examples::error(code);
        }
        content.insert(media.to_string(), typed);
    }
    let mut response = json!({"description": lines.join("\n"), "content": content});
    let mut headers = Map::new();
    headers.insert("X-Request-Id".into(), reference("headers", "XRequestId"));
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
    response["headers"] = Value::Object(headers);
    response
}
