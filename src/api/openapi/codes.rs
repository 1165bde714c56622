//! The error codes each operation can answer: those of who sends it (its scope), of the
//! protocol, of the database, of its kind of write, and those its resource or its handler
//! declares (`Writable`'s errors, an endpoint's `Doc`); and the table of every code that
//! `docs/api.md` shows.

use super::{has_body, is_write, replayable};
use crate::api::errors::{
    BUSY, CONNECTION_LOST, DATABASE_TIMEOUT, DATABASE_UNAVAILABLE, OUTCOME_UNKNOWN,
    TRANSIENT_CONFLICT,
};
use crate::api::middleware::auth::{
    AUTHENTICATION_FAILURES_LIMITED, INSUFFICIENT_SCOPE, RATE_LIMITED, UNAUTHENTICATED,
    WALLET_LIMITED_KEY, scope_of,
};
use crate::api::positions::INVALID_LSN;
use crate::api::routes::{Endpoint, Operation, table};
use crate::api::write::idempotency::{
    IDEMPOTENCY_KEY_IN_USE, IDEMPOTENCY_KEY_REUSED, INVALID_IDEMPOTENCY_KEY,
};
use crate::api::{LIMITED_TO, RESOURCES, Registered, registered};
use crate::jsonapi::error::{
    BODY_TIMEOUT, CLIENT_GENERATED_ID, Code, EMPTY_BODY, ID_MISMATCH, INTERNAL_ERROR,
    INVALID_ATTRIBUTE, INVALID_DOCUMENT, INVALID_JSON, INVALID_QUERY_PARAMETER, MISSING_FIELD,
    NOT_ACCEPTABLE, PAYLOAD_TOO_LARGE, READ_ONLY_FIELD, READ_ONLY_RELATIONSHIP, TYPE_MISMATCH,
    UNKNOWN_FIELD, UNREADABLE_BODY, UNSUPPORTED_MEDIA_TYPE,
};
use crate::models::fields::Kind;

/// The refusals answered before a request's document is read, never together with its
/// problems: who sends it, and how fast.
pub(super) const ANSWERED_ALONE: [&Code; 5] = [
    &UNAUTHENTICATED,
    &INSUFFICIENT_SCOPE,
    &WALLET_LIMITED_KEY,
    &RATE_LIMITED,
    &AUTHENTICATION_FAILURES_LIMITED,
];

/// The codes an endpoint can answer, each once.
pub(super) fn codes_of(endpoint: &Endpoint) -> Vec<&'static Code> {
    let operation = &endpoint.operation;
    let mut codes: Vec<&'static Code> = Vec::new();
    if scope_of(endpoint).is_some() {
        codes.extend([
            &UNAUTHENTICATED,
            &INSUFFICIENT_SCOPE,
            &RATE_LIMITED,
            &AUTHENTICATION_FAILURES_LIMITED,
        ]);
    }
    let declared: &[&'static Code] = endpoint.doc.map_or(&[], |doc| doc.errors);
    match operation {
        Operation::Refused { code } => {
            codes.push(code);
            return codes;
        }
        Operation::Health | Operation::Live | Operation::OpenApi | Operation::Console { .. } => {
            return declared.to_vec();
        }
        Operation::Metrics => {
            codes.extend(declared);
            return codes;
        }
        _ => {}
    }
    codes.extend(protocol_codes(operation));
    codes.extend(write_codes(operation));
    if matches!(operation, Operation::Create { type_name } if *type_name == LIMITED_TO) {
        codes.push(&WALLET_LIMITED_KEY);
    }
    codes.extend(declared);
    if let Operation::List { type_name } = operation
        && let Some(resource) = registered(type_name)
    {
        codes.extend(resource.list_errors);
    }
    if let Operation::Atomic = operation {
        for resource in RESOURCES
            .iter()
            .filter(|r| r.operable.is_some() && !r.admin_writes)
        {
            codes.push(resource.not_found_code);
            codes.extend(resource.write_errors.all());
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

/// What any JSON:API endpoint may answer: its parameters, the database, the resources its
/// URL names.
fn protocol_codes(operation: &Operation) -> Vec<&'static Code> {
    let mut codes: Vec<&'static Code> = vec![
        &INVALID_QUERY_PARAMETER,
        &INVALID_LSN,
        &NOT_ACCEPTABLE,
        &INTERNAL_ERROR,
        &BUSY,
        &DATABASE_UNAVAILABLE,
        &DATABASE_TIMEOUT,
        &CONNECTION_LOST,
    ];
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
    codes
}

/// What a write may answer: its key, its outcome, its document, its resource's rules.
fn write_codes(operation: &Operation) -> Vec<&'static Code> {
    let mut codes: Vec<&'static Code> = Vec::new();
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
    let resource = |type_name: &str| registered(type_name).expect("a registered type");
    match operation {
        Operation::Create { type_name } => {
            let resource = resource(type_name);
            codes.extend(resource.write_errors.create);
            codes.extend(document_codes(resource, true));
        }
        Operation::Update { type_name }
        | Operation::ChangeLinkage {
            parent: type_name, ..
        } => {
            let resource = resource(type_name);
            codes.extend(resource.write_errors.update);
            codes.extend(document_codes(resource, false));
        }
        Operation::Delete { type_name } => codes.extend(resource(type_name).write_errors.delete),
        _ => {}
    }
    codes
}

/// What reading a resource's document can answer: refused, unknown, missing members, the ids
/// and types of its relationships.
pub(super) fn document_codes(resource: &Registered, create: bool) -> Vec<&'static Code> {
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
