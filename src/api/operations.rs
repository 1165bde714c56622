//! `POST /operations`: JSON:API Atomic Operations. Every operation of a request runs in
//! order, each as its own SQL statement (so the balance rules judge each in turn: a transfer
//! written debit first can never overdraw), in one database transaction: all or nothing.
//!
//! - Results are the resources as the request committed them (each re-read after the last
//!   operation): a wallet funded by a later operation shows its final balance. A transfer's
//!   response shows the wallets' balances when the request names them, with an `update` of
//!   each wallet that changes nothing.
//! - The wallets the request writes are locked up front, lowest id first (the balance
//!   triggers' order), so requests crossing the same wallets wait for each other instead of
//!   deadlocking; should a deadlock still happen (a transaction moved by someone else between
//!   the lock and the write), the write pipeline runs the request again.
//! - An error answers what the failing operation would have alone (409 insufficient funds,
//!   422, 404...), its pointer into that operation (`/atomic:operations/1/data/...`); nothing
//!   is written.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, web};
use diesel::pg::PgConnection;
use diesel::{Connection, QueryResult};
use serde_json::Value;

use super::context::{Context, Single};
use super::input::{
    Target, check_identity, linkage_pointer, read_changes, read_new, read_relationship,
};
use super::middleware::auth::{Actor, WALLET_LIMITED_KEY, limited_key_cannot_create};
use super::resource::{Render, Resource, Writable};
use super::routes::Doc;
use super::state::AppState;
use super::write::Write;
use super::write::idempotency::IdempotencyKey;
use crate::codes;
use crate::jsonapi::ApiError;
use crate::jsonapi::atomic::{
    OpCode, Operation, Ref, operation_pointer, parse_operations, results_document, within,
};
use crate::jsonapi::document::{Reply, respond};
use crate::jsonapi::error::{
    CLIENT_GENERATED_ID, ID_MISMATCH, NOT_DELETABLE, NOT_FOUND, READ_ONLY_RELATIONSHIP,
    READ_ONLY_RESOURCE, TOO_MANY_OPERATIONS,
};
use crate::jsonapi::media_type::{ATOMIC, applies};
use crate::jsonapi::request::{Ident, Identifier, Linkage, ResourceInput, read_body};
use crate::models::fields::Key;

codes! {
    pub NOT_ATOMIC = (FORBIDDEN, "not-atomic", "Not in atomic operations",
        "API keys are written one by one at /api-keys (a new key's secret is shown once)");
}

/// What the documentation says of `POST /operations` (beyond the codes of every resource's
/// writes, which the OpenAPI document adds).
pub const DOC: Doc = Doc {
    summary: "Atomic Operations: several writes in one all-or-nothing request \
              (jsonapi.org/ext/atomic).",
    description: "The operations run in order in one database transaction: all or nothing. \
                  Errors point into the failing operation; nothing is written.",
    errors: &[
        &WALLET_LIMITED_KEY,
        &NOT_ATOMIC,
        &TOO_MANY_OPERATIONS,
        &NOT_FOUND,
        &READ_ONLY_RESOURCE,
        &READ_ONLY_RELATIONSHIP,
        &NOT_DELETABLE,
        &CLIENT_GENERATED_ID,
        &ID_MISMATCH,
    ],
    request: Some(
        r#"{"atomic:operations": [
        {"op": "add", "data": {"type": "transactions",
            "attributes": {"txid": "transfer-1-out", "amount": "-25"},
            "relationships": {"wallet": {"data": {"type": "wallets", "id": "1"}}}}},
        {"op": "add", "data": {"type": "transactions",
            "attributes": {"txid": "transfer-1-in", "amount": "25"},
            "relationships": {"wallet": {"data": {"type": "wallets", "id": "2"}}}}}]}"#,
    ),
    response: Some(
        r#"{"jsonapi": {"version": "1.1", "ext": ["https://jsonapi.org/ext/atomic"]},
        "atomic:results": [
        {"data": {"type": "transactions", "id": "43",
            "attributes": {"txid": "transfer-1-out", "amount": "-25.000000000000000000",
                "currency": "XXX", "createdAt": "2026-12-01T12:00:00Z", "metadata": {}},
            "relationships": {"wallet": {"data": {"type": "wallets", "id": "1"},
                "links": {"self": "http://127.0.0.1:8080/transactions/43/relationships/wallet",
                          "related": "http://127.0.0.1:8080/transactions/43/wallet"}}},
            "links": {"self": "http://127.0.0.1:8080/transactions/43"}}},
        {"data": {"type": "transactions", "id": "44",
            "attributes": {"txid": "transfer-1-in", "amount": "25.000000000000000000",
                "currency": "XXX", "createdAt": "2026-12-01T12:00:00Z", "metadata": {}},
            "relationships": {"wallet": {"data": {"type": "wallets", "id": "2"},
                "links": {"self": "http://127.0.0.1:8080/transactions/44/relationships/wallet",
                          "related": "http://127.0.0.1:8080/transactions/44/wallet"}}},
            "links": {"self": "http://127.0.0.1:8080/transactions/44"}}}]}"#,
    ),
};

const CONTENT_TYPE_NEEDED: &str = "POST /operations takes an atomic:operations document: send \
     Content-Type: application/vnd.api+json; ext=\"https://jsonapi.org/ext/atomic\"";

/// The rows writes lock, lowest id first (wallets: the order the balance triggers lock in):
/// an atomic request locks the rows of type `type_name` it names by id (a row named by lid is
/// new: nobody else can hold it) and the lock keys of the resources it writes before its first
/// write; a coalesced batch locks all of its writes' keys in one statement, and finds those
/// another transaction holds.
pub struct LockTable {
    pub type_name: &'static str,
    /// Locks these rows (ascending ids); the ids of those that exist.
    pub lock_all: fn(&mut PgConnection, &[i64]) -> QueryResult<Vec<i64>>,
    /// Of these rows (ascending ids), locks those nobody holds, without waiting; the ids of
    /// those another transaction holds.
    pub held_elsewhere: fn(&mut PgConnection, &[i64]) -> QueryResult<Vec<i64>>,
}

/// What atomic operations can do to one resource type: its [`Writable`] impl, reached
/// through plain functions so that the route table can hold it. Ids are the text of the
/// resource objects' `id`s (a number or a code), read here into the type's own key.
#[derive(Clone, Copy)]
pub struct Operable {
    add: fn(&mut PgConnection, &ResourceInput) -> Result<Done, ApiError>,
    update: fn(&mut PgConnection, &str, &ResourceInput) -> Result<Done, ApiError>,
    remove: fn(&mut PgConnection, &str) -> Result<(), ApiError>,
    set_relationship: fn(&mut PgConnection, &str, &str, &Linkage) -> Result<Done, ApiError>,
    lock_key_of: fn(&mut PgConnection, &str) -> QueryResult<Option<i64>>,
    current: fn(&mut PgConnection, &[String]) -> QueryResult<Vec<Done>>,
    /// Whether a resource of the type can have this id (else it is not found).
    valid_id: fn(&str) -> bool,
    not_found: fn(&str) -> ApiError,
}

/// A resource an operation wrote.
pub struct Done {
    id: String,
    row: Box<dyn Render>,
}

impl Operable {
    pub const fn of<R: Writable>() -> Operable {
        Operable {
            add: add::<R>,
            update: update::<R>,
            remove: remove::<R>,
            set_relationship: set_relationship::<R>,
            lock_key_of: lock_key_of::<R>,
            current: current::<R>,
            valid_id: |id| R::Id::from_id(id).is_some(),
            not_found: R::not_found,
        }
    }
}

fn done<R: Resource>(row: R) -> Done {
    Done {
        id: row.id().to_string(),
        row: Box::new(row),
    }
}

/// The key `id` names (checked by [`resolve`]).
fn key<R: Resource>(id: &str) -> Result<R::Id, ApiError> {
    R::Id::from_id(id).ok_or_else(|| R::not_found(id).pointer("/ref"))
}

fn add<R: Writable>(conn: &mut PgConnection, data: &ResourceInput) -> Result<Done, ApiError> {
    check_identity(data, R::TYPE, Target::Create)?;
    let new = read_new::<R>(data)?;
    R::insert(conn, &new).map(done)
}

fn update<R: Writable>(
    conn: &mut PgConnection,
    id: &str,
    data: &ResourceInput,
) -> Result<Done, ApiError> {
    check_identity(data, R::TYPE, Target::Update(id))?;
    let changes = read_changes::<R>(data, id)?;
    R::apply(conn, &key::<R>(id)?, &changes)?
        .map(done)
        .ok_or_else(|| R::not_found(id).pointer("/ref"))
}

fn remove<R: Writable>(conn: &mut PgConnection, id: &str) -> Result<(), ApiError> {
    match R::remove(conn, &key::<R>(id)?)? {
        true => Ok(()),
        false => Err(R::not_found(id).pointer("/ref")),
    }
}

/// Errors point where the linkage stands in the operation: its `data`.
fn set_relationship<R: Writable>(
    conn: &mut PgConnection,
    id: &str,
    name: &str,
    linkage: &Linkage,
) -> Result<Done, ApiError> {
    let as_linkage = |error: ApiError| error.map_pointers(|p| linkage_pointer(p, name));
    let changes = read_relationship::<R>(id, name, linkage).map_err(as_linkage)?;
    R::apply(conn, &key::<R>(id)?, &changes)
        .map_err(as_linkage)?
        .map(done)
        .ok_or_else(|| R::not_found(id).pointer("/ref"))
}

fn lock_key_of<R: Writable>(conn: &mut PgConnection, id: &str) -> QueryResult<Option<i64>> {
    match R::Id::from_id(id) {
        Some(id) => R::lock_key_of(conn, &id),
        None => Ok(None),
    }
}

fn current<R: Writable>(conn: &mut PgConnection, ids: &[String]) -> QueryResult<Vec<Done>> {
    let ids: Vec<R::Id> = ids.iter().filter_map(|id| R::Id::from_id(id)).collect();
    Ok(R::find_many(conn, &ids)?.into_iter().map(done).collect())
}

/// POST /operations
pub async fn operations(
    request: HttpRequest,
    context: Single,
    key: IdempotencyKey,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<Reply, ApiError> {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    if !applies(content_type, &ATOMIC) {
        return Err(ApiError::new(
            &crate::jsonapi::error::UNSUPPORTED_MEDIA_TYPE,
            CONTENT_TYPE_NEEDED,
        )
        .header("Content-Type"));
    }
    let atomic = |error: ApiError| error.under(&ATOMIC);
    context.include_nothing().map_err(atomic)?;
    let body = read_body(payload, state.body_timeout)
        .await
        .map_err(atomic)?;
    let operations = parse_operations(&body).map_err(atomic)?;
    let steps = plan(operations, &context.actor).map_err(atomic)?;
    // Its place in a coalesced batch: the wallets it names, whose rows its writes lock.
    let locks = named_wallets(&steps);
    let actor = context.actor.clone();
    let write = Write::by(&actor, context.self_link(), move |conn| {
        conn.transaction(|conn| run_once(conn, &steps, &context))
            .map_err(atomic)
    })
    .keyed(key.with_body(&body))
    .locking(locks)
    .shared(None);
    state.writer.submit(write).await
}

/// One operation, with the resource type that will carry it out.
struct Step {
    operation: Operation,
    type_name: &'static str,
    operable: Operable,
}

/// Finds the resource type of each operation: one this API serves, and clients write.
fn plan(operations: Vec<Operation>, actor: &Actor) -> Result<Vec<Step>, ApiError> {
    operations
        .into_iter()
        .enumerate()
        .map(|(i, operation)| {
            let (type_name, at) = match &operation {
                Operation::Add(data) => (&data.type_name, "/data/type"),
                Operation::Update { target, .. } => (&target.type_name, "/data/type"),
                Operation::Remove(target) | Operation::Relationship { target, .. } => {
                    (&target.type_name, "/ref/type")
                }
            };
            let pointer = format!("{}{at}", operation_pointer(i));
            let registered = super::RESOURCES
                .iter()
                .find(|resource| resource.type_name == type_name)
                .ok_or_else(|| {
                    ApiError::not_found(format!("there is no resource type {type_name:?}"))
                        .pointer(&pointer)
                })?;
            if registered.admin_writes {
                return Err(ApiError::new(
                    &NOT_ATOMIC,
                    format!(
                        "{type_name} are written one by one at /{type_name}, not in atomic \
                         operations"
                    ),
                )
                .pointer(&pointer));
            }
            if actor.wallets().is_some()
                && registered.type_name == super::LIMITED_TO
                && matches!(operation, Operation::Add(_))
            {
                return Err(limited_key_cannot_create().pointer(&pointer));
            }
            let operable = registered.operable.ok_or_else(|| {
                let why = match registered.not_atomic {
                    Some(why) => format!("{type_name} are not written by atomic operations: {why}"),
                    None => format!("{type_name} are read-only: no operation can write them"),
                };
                ApiError::new(&READ_ONLY_RESOURCE, why).pointer(&pointer)
            })?;
            Ok(Step {
                operation,
                type_name: registered.type_name,
                operable,
            })
        })
        .collect()
}

fn run_once(conn: &mut PgConnection, steps: &[Step], context: &Context) -> Result<Reply, ApiError> {
    lock_keys(conn, steps)?;
    let mut local_ids: LocalIds = HashMap::new();
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(steps.len());
    for (i, step) in steps.iter().enumerate() {
        let at = operation_pointer(i);
        let outcome = perform(conn, step, &mut local_ids).map_err(|error| {
            let error = error.map_pointers(|pointer| within(&at, pointer));
            if error.has_source() {
                error
            } else {
                error.pointer(at.clone())
            }
        })?;
        outcomes.push(outcome);
    }
    results(conn, steps, outcomes, context)
}

/// What one operation leaves for the results.
enum Outcome {
    /// A resource it added or updated.
    Resource(Done),
    /// The relationship `name` of a resource it changed.
    Linkage(Done, String),
    /// Nothing (a remove).
    Nothing,
}

/// The ids the lids of a request stand for, by type and lid.
type LocalIds = HashMap<(String, String), String>;

fn perform(
    conn: &mut PgConnection,
    step: &Step,
    local_ids: &mut LocalIds,
) -> Result<Outcome, ApiError> {
    let operable = &step.operable;
    match &step.operation {
        Operation::Add(data) => {
            let data = resolve_relationships(data, local_ids);
            let added = (operable.add)(conn, &data)?;
            if let Some(lid) = &data.lid {
                local_ids.insert((data.type_name.clone(), lid.clone()), added.id.clone());
            }
            Ok(Outcome::Resource(added))
        }
        Operation::Update { target, data } => {
            let id = resolve(operable, target, local_ids)?;
            let mut data = resolve_relationships(data, local_ids);
            data.id = Some(id.clone());
            (operable.update)(conn, &id, &data).map(Outcome::Resource)
        }
        Operation::Remove(target) => {
            let id = resolve(operable, target, local_ids)?;
            (operable.remove)(conn, &id).map(|()| Outcome::Nothing)
        }
        Operation::Relationship {
            op: OpCode::Update,
            target,
            name,
            data,
        } => {
            let id = resolve(operable, target, local_ids)?;
            let data = resolve_linkage(data, local_ids);
            let changed = (operable.set_relationship)(conn, &id, name, &data)?;
            Ok(Outcome::Linkage(changed, name.clone()))
        }
        Operation::Relationship { target, name, .. } => Err(ApiError::new(
            &READ_ONLY_RELATIONSHIP,
            format!(
                "members cannot be added to or removed from the {name} of {}: only a to-one \
                 relationship can be updated",
                target.type_name
            ),
        )
        .pointer("/ref/relationship")),
    }
}

/// The id a ref names: its own, or that of the resource its lid was given to (the document
/// was checked: every lid is defined before it is used). An id that cannot exist is simply
/// not found.
fn resolve(operable: &Operable, target: &Ref, local_ids: &LocalIds) -> Result<String, ApiError> {
    let id = match &target.id {
        Ident::Lid(lid) => local_ids
            .get(&(target.type_name.clone(), lid.clone()))
            .cloned(),
        Ident::Id(id) => (operable.valid_id)(id).then(|| id.clone()),
    };
    id.ok_or_else(|| {
        let (Ident::Id(text) | Ident::Lid(text)) = &target.id;
        (operable.not_found)(text.as_str()).pointer("/ref")
    })
}

/// `data` with every lid of its relationships replaced by the id it stands for.
fn resolve_relationships(data: &ResourceInput, local_ids: &LocalIds) -> ResourceInput {
    let mut data = data.clone();
    for (_, linkage) in &mut data.relationships {
        *linkage = resolve_linkage(linkage, local_ids);
    }
    data
}

fn resolve_linkage(linkage: &Linkage, local_ids: &LocalIds) -> Linkage {
    let resolve = |identifier: &Identifier| match &identifier.id {
        Ident::Lid(lid) => match local_ids.get(&(identifier.type_name.clone(), lid.clone())) {
            Some(id) => Identifier {
                type_name: identifier.type_name.clone(),
                id: Ident::Id(id.clone()),
            },
            None => identifier.clone(),
        },
        Ident::Id(_) => identifier.clone(),
    };
    match linkage {
        Linkage::Null => Linkage::Null,
        Linkage::One(identifier) => Linkage::One(resolve(identifier)),
        Linkage::Many(identifiers) => Linkage::Many(identifiers.iter().map(resolve).collect()),
    }
}

/// The ids of the wallets the operations' documents name (as lock rows, `super::LOCKS`).
fn named_wallets(steps: &[Step]) -> Vec<i64> {
    let locks = &super::LOCKS;
    let mut keys: Vec<i64> = Vec::new();
    let mut named = |identifier: &Identifier| {
        if let (Ident::Id(id), true) = (&identifier.id, identifier.type_name == locks.type_name)
            && let Ok(id) = id.parse()
        {
            keys.push(id);
        }
    };
    for step in steps {
        match &step.operation {
            Operation::Add(data) | Operation::Update { data, .. } => data
                .relationships
                .iter()
                .for_each(|(_, linkage)| each_identifier(linkage, &mut named)),
            Operation::Relationship { data, .. } => each_identifier(data, &mut named),
            Operation::Remove(_) => {}
        }
    }
    keys
}

/// Takes the locks the operations need, in order (see [`LockTable`], [`super::LOCKS`]).
fn lock_keys(conn: &mut PgConnection, steps: &[Step]) -> Result<(), ApiError> {
    let locks = &super::LOCKS;
    let mut keys = named_wallets(steps);
    let mut written: Vec<(Operable, &str)> = Vec::new();
    for step in steps {
        let target = match &step.operation {
            Operation::Add(_) => None,
            Operation::Update { target, .. }
            | Operation::Relationship { target, .. }
            | Operation::Remove(target) => Some(target),
        };
        if let Some(Ref {
            id: Ident::Id(id), ..
        }) = target
        {
            written.push((step.operable, id));
        }
    }
    for (operable, id) in written {
        keys.extend((operable.lock_key_of)(conn, id)?);
    }
    keys.sort_unstable();
    keys.dedup();
    (locks.lock_all)(conn, &keys)?;
    Ok(())
}

fn each_identifier(linkage: &Linkage, mut visit: impl FnMut(&Identifier)) {
    match linkage {
        Linkage::One(identifier) => visit(identifier),
        Linkage::Many(identifiers) => identifiers.iter().for_each(visit),
        Linkage::Null => {}
    }
}

/// The results, each resource as the request leaves it (re-read after the last operation;
/// a resource removed by a later operation keeps its state after its own).
fn results(
    conn: &mut PgConnection,
    steps: &[Step],
    outcomes: Vec<Outcome>,
    context: &Context,
) -> Result<Reply, ApiError> {
    let mut written: HashMap<&str, (Operable, Vec<String>)> = HashMap::new();
    for (step, outcome) in steps.iter().zip(&outcomes) {
        if let Outcome::Resource(done) | Outcome::Linkage(done, _) = outcome {
            let (_, ids) = written
                .entry(step.type_name)
                .or_insert_with(|| (step.operable, Vec::new()));
            ids.push(done.id.clone());
        }
    }
    let mut latest: HashMap<(&str, String), Done> = HashMap::new();
    for (type_name, (operable, mut ids)) in written {
        ids.sort_unstable();
        ids.dedup();
        for done in (operable.current)(conn, &ids)? {
            latest.insert((type_name, done.id.clone()), done);
        }
    }
    let data: Vec<Option<Value>> = steps
        .iter()
        .zip(outcomes)
        .map(|(step, outcome)| match outcome {
            Outcome::Nothing => None,
            Outcome::Resource(done) => {
                let done = latest
                    .get(&(step.type_name, done.id.clone()))
                    .unwrap_or(&done);
                Some(done.row.render(context))
            }
            Outcome::Linkage(done, name) => {
                let done = latest
                    .get(&(step.type_name, done.id.clone()))
                    .unwrap_or(&done);
                Some(done.row.linkage(&name))
            }
        })
        .collect();
    if data.iter().all(Option::is_none) {
        return Ok(Reply::no_content());
    }
    let document = results_document(data, &context.self_link());
    Ok(respond(StatusCode::OK, &document).with_content_type(ATOMIC.media_type))
}
