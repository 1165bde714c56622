//! What a resource type tells the API beyond its declaration, how a declared row becomes a
//! resource object, and the response shapes every resource shares: one resource, a created
//! one (with `Location`), a page of them, a to-one linkage.
//!
//! A resource implements [`Resource`] (its not-found answer) and, when clients may write it,
//! [`Writable`] (how a checked create or update is written, and what its constraints mean).
//! Its fields, relationships and inputs come from its model's declaration
//! (`models::declare::resource!`); the generic handlers of [`super::handlers`] do the rest.

use actix_web::http::StatusCode;
use diesel::QueryResult;
use diesel::pg::PgConnection;
use serde_json::{Map, Value, json};

use std::sync::Arc;

use super::context::Context;
use super::listing::{PageOutline, cursor_meta};
use super::state::AppState;
use super::write::Statements;
use super::write::rows::Rows;
use crate::db::reads::Reads;
use crate::domain::{format_money, timestamp};
use crate::jsonapi::ApiError;
use crate::jsonapi::document::{Reply, ResourceObject, document, identifier, respond, self_links};
use crate::jsonapi::error::Code;
use crate::models::fields::{FieldSpec, Inputs, Key, Kind, Model, Value as FieldValue};
use crate::models::query::{Condition, Filter, Op};

/// A resource type of the API.
pub trait Resource: Model + Clone {
    /// The answer to a URL or relationship naming a resource of this type that does not
    /// exist.
    const NOT_FOUND: &'static Code;
    /// What one of them is called in messages (`wallet`).
    const SINGULAR: &'static str;
    /// Whether only keys with the `admin` scope may read and write them.
    const ADMIN_ONLY: bool = false;
    /// Whether only keys with the `admin` scope may write them (any key reads them).
    const ADMIN_WRITES: bool = false;
    /// What the documentation shows of one (`openapi.json`'s examples).
    const EXAMPLE: &'static Example;
    /// The codes its list may answer beyond the protocol's (a feed's expired cursor).
    const LIST_ERRORS: &'static [&'static Code] = &[];

    fn not_found(id: &str) -> ApiError {
        ApiError::new(
            Self::NOT_FOUND,
            format!("there is no {} with id {id:?}", Self::SINGULAR),
        )
    }

    fn self_path(id: &Self::Id) -> String {
        format!("/{}/{id}", Self::TYPE)
    }

    /// Whether reads of one of them by id are coalesced (`db::reads`).
    const COALESCE_READS: bool = false;

    /// Where reads of one of them by id are coalesced, if they are.
    fn reads(state: &AppState) -> Option<&Arc<Reads<Self, Self::Id>>> {
        state.reads.as_ref()?.of::<Self>()
    }
}

/// What the documentation shows of a resource type: JSON objects of member names to values,
/// an attribute's value or a relationship's id (a list of ids for a to-many one). The
/// OpenAPI document builds its example requests and responses from them, and a test holds
/// each to its schema.
#[derive(Debug)]
pub struct Example {
    /// One as the server shows it, with its `id`.
    pub shown: &'static str,
    /// What a create sends (`{}` for a type clients do not write).
    pub create: &'static str,
    /// What an update sends.
    pub update: &'static str,
    /// The `meta` of a created one's document, when it has one.
    pub created_meta: Option<&'static str>,
}

/// A resource clients create, change and delete with documents. The document is read into
/// its model's checked values ([`Inputs`]) by `api::input`; these run the write, turning the
/// resource's own constraints into errors that point into the document.
pub trait Writable: Resource + Inputs {
    /// The codes of the refusals its writes may answer beyond the protocol's (the money
    /// rules, its constraints), for the documentation.
    const CREATE_ERRORS: &'static [&'static Code] = &[];
    const UPDATE_ERRORS: &'static [&'static Code] = &[];
    const DELETE_ERRORS: &'static [&'static Code] = &[];
    /// The schema (JSON text) of the `meta` a created one's document carries, if any.
    const CREATED_META: Option<&'static str> = None;
    /// Why its resources are never deleted (a DELETE is a 403 saying so), if they are not.
    const NOT_DELETABLE: Option<&'static str> = None;
    /// Why atomic operations cannot write it (a 403 saying so), if they cannot.
    const NOT_ATOMIC: Option<&'static str> = None;

    /// The checks of a create that need the service's settings (which addresses a webhook
    /// may reach), made before its write.
    fn admit_new(_new: &Self::New, _state: &AppState) -> Result<(), ApiError> {
        Ok(())
    }

    /// The checks of an update that need the service's settings, made before its write.
    fn admit_changes(_changes: &Self::Changes, _state: &AppState) -> Result<(), ApiError> {
        Ok(())
    }

    /// How many statements its create sends (one may run in autocommit, `api::write`).
    const CREATE_STATEMENTS: Statements = Statements::Several;

    /// Inserts `new` (journaled under the API key the write pipeline named on the
    /// connection).
    fn insert(conn: &mut PgConnection, new: &Self::New) -> Result<Self, ApiError>;
    /// `None` when there is no resource with this id.
    fn apply(
        conn: &mut PgConnection,
        id: &Self::Id,
        changes: &Self::Changes,
    ) -> Result<Option<Self>, ApiError>;
    /// `false` when there was no resource with this id.
    fn remove(conn: &mut PgConnection, id: &Self::Id) -> Result<bool, ApiError>;

    /// The lock key (a wallet) that writing resource `id` needs: an atomic request takes the
    /// keys of every write it holds, in order, before its first write (see `api::operations`).
    fn lock_key_of(_conn: &mut PgConnection, _id: &Self::Id) -> QueryResult<Option<i64>> {
        Ok(None)
    }

    /// The lock keys (wallets) a new resource's insert takes: creates run together in the
    /// order of these keys (`api::write::batch`), so that two batches never lock in opposite
    /// orders, and a wave never holds one twice.
    fn lock_keys_of_new(_new: &Self::New) -> Vec<i64> {
        Vec::new()
    }

    /// The multi-row form of a create, when a coalesced batch may write it in one statement
    /// with the creates of its kind beside it (`api::write::rows`); `answer` is its response
    /// once its row is written.
    fn rows(_new: &Self::New, _answer: Answer<Self>) -> Option<Rows> {
        None
    }

    /// The `meta` of a created one's document (a secret shown this once), if any.
    fn created_meta(_row: &Self) -> Option<Value> {
        None
    }

    /// The actions an update asks in its resource object's `meta` that are no field (rotate
    /// a secret), run in the update's transaction before its changes; what they answer is
    /// the response document's `meta`. A resource that takes none ignores `meta`, as the
    /// protocol says.
    fn update_actions(
        _conn: &mut PgConnection,
        _id: &Self::Id,
        _meta: &[(String, Box<serde_json::value::RawValue>)],
    ) -> Result<Option<Value>, ApiError> {
        Ok(None)
    }

    /// The schema (JSON text) of the `meta` an update's resource object may carry, and of
    /// what its response's `meta` then holds, if it takes any.
    const UPDATE_META: Option<(&'static str, &'static str)> = None;
}

/// A create's response once its row is written.
pub type Answer<R> = Arc<dyn Fn(&mut PgConnection, R) -> Result<Reply, ApiError> + Send + Sync>;

/// A resource object, rendered once the request's context is at hand. Included resources
/// and the results of atomic operations are of several types: they travel as
/// `Box<dyn Render>`.
pub trait Render: Send {
    fn render(&self, context: &Context) -> Value;
    /// The linkage (`data`) of to-one relationship `name`.
    fn linkage(&self, name: &str) -> Value;
}

impl<R: Resource> Render for R {
    fn render(&self, context: &Context) -> Value {
        object(self, context, None)
    }

    fn linkage(&self, name: &str) -> Value {
        R::FIELDS
            .iter()
            .find(|spec| spec.name == name)
            .map_or(Value::Null, |spec| to_one_data(self, spec))
    }
}

/// An attribute's value as it goes out: money as an exact decimal string, times in RFC 3339.
fn attribute_value(kind: Kind, value: FieldValue) -> Value {
    match (kind, value) {
        (_, FieldValue::Null) => Value::Null,
        (Kind::Money, FieldValue::Decimal(decimal)) => Value::String(format_money(&decimal)),
        (_, FieldValue::Decimal(decimal)) => Value::String(decimal.to_plain_string()),
        (_, FieldValue::Id(number)) => Value::from(number),
        (_, FieldValue::Text(text)) => Value::String(text),
        (_, FieldValue::Time(time)) => Value::String(timestamp(&time)),
        (_, FieldValue::Words(words)) => Value::from(words),
        (_, FieldValue::Ids(ids)) => Value::from(ids),
        (_, FieldValue::Json(json)) => json,
    }
}

/// The identifier a to-one field holds, or `null`.
fn to_one_data<R: Model>(row: &R, spec: &FieldSpec<R::Field>) -> Value {
    match (spec.kind, linked_id(row.value_of(spec.field))) {
        (Kind::ToOne(target), Some(id)) => identifier(target, id),
        _ => Value::Null,
    }
}

/// The id a to-one field's value names (a number, or a code), as a resource object writes
/// it.
pub fn linked_id(value: FieldValue) -> Option<String> {
    match value {
        FieldValue::Id(id) => Some(id.to_string()),
        FieldValue::Text(code) => Some(code),
        _ => None,
    }
}

/// The links of relationship `name` of resource `id` of type `R`.
fn relationship_links<R: Resource>(id: &R::Id, name: &str, context: &Context) -> Value {
    let path = R::self_path(id);
    json!({
        "self": context.url(&format!("{path}/relationships/{name}")),
        "related": context.url(&format!("{path}/{name}")),
    })
}

/// The resource object of `row`, with `meta` when given: every declared field, as the
/// request's sparse fieldsets allow.
pub fn object<R: Resource>(row: &R, context: &Context, meta: Option<Value>) -> Value {
    let id = row.id();
    let mut object = ResourceObject::new(
        R::TYPE,
        &id.to_string(),
        context.url(&R::self_path(&id)),
        &context.fieldsets,
    );
    for spec in R::FIELDS {
        object = match spec.kind {
            Kind::Id | Kind::Code => object,
            Kind::ToOne(_) => object.relationship(
                spec.name,
                json!({
                    "links": relationship_links::<R>(&id, spec.name, context),
                    "data": to_one_data(row, spec),
                }),
            ),
            // A few ids: shown with their data, and no URLs of their own.
            Kind::ToManyIds(target) => {
                let data: Vec<Value> = match row.value_of(spec.field) {
                    FieldValue::Ids(ids) => {
                        ids.into_iter().map(|id| identifier(target, id)).collect()
                    }
                    _ => Vec::new(),
                };
                object.relationship(spec.name, json!({"data": data}))
            }
            kind => object.attribute(spec.name, attribute_value(kind, row.value_of(spec.field))),
        };
    }
    for many in R::TO_MANY {
        object = object.relationship(
            many.name,
            json!({"links": relationship_links::<R>(&id, many.name, context)}),
        );
    }
    if let Some(meta) = meta {
        object = object.meta(meta);
    }
    object.build()
}

/// The members of a resource object of type `R` (what `fields[TYPE]` may name).
pub fn members<R: Model>() -> Vec<&'static str> {
    R::FIELDS
        .iter()
        .filter(|spec| !spec.is_id())
        .map(|spec| spec.name)
        .chain(R::TO_MANY.iter().map(|many| many.name))
        .collect()
}

/// A to-one relationship `include` can name, of a resource of type `R`.
pub type Include<R> = &'static FieldSpec<<R as Model>::Field>;

/// Loads what `includes` ask for, for these rows: each related resource once.
pub fn load_included<R: Resource>(
    conn: &mut PgConnection,
    includes: &[Include<R>],
    rows: &[R],
) -> QueryResult<Vec<Box<dyn Render>>> {
    let mut included = Vec::new();
    for spec in includes {
        let (Kind::ToOne(target) | Kind::ToManyIds(target)) = spec.kind else {
            continue;
        };
        let mut ids: Vec<String> = rows
            .iter()
            .flat_map(|row| match row.value_of(spec.field) {
                FieldValue::Ids(ids) => ids.iter().map(i64::to_string).collect::<Vec<_>>(),
                value => linked_id(value).into_iter().collect(),
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let load = super::registered(target)
            .expect("a relationship's target is a registered resource")
            .load;
        included.extend(load(conn, &ids)?);
    }
    Ok(included)
}

/// The rows with these ids (a resource object's `id`s; one no row can have is not found), as
/// resource objects to render.
pub fn load_rendered<R: Resource>(
    conn: &mut PgConnection,
    ids: &[String],
) -> QueryResult<Vec<Box<dyn Render>>> {
    let ids: Vec<R::Id> = ids.iter().filter_map(|id| R::Id::from_id(id)).collect();
    Ok(R::find_many(conn, &ids)?
        .into_iter()
        .map(|row| Box::new(row) as Box<dyn Render>)
        .collect())
}

/// The to-one fields of `R` that hold the id of a resource of type `parent`: the fields a
/// to-many relationship of `parent` collects `R`s by (a transfer is a wallet's by its source
/// or its destination).
pub fn parent_fields<R: Model>(parent: &str) -> Vec<R::Field> {
    let fields: Vec<R::Field> = R::FIELDS
        .iter()
        .filter(|spec| matches!(spec.kind, Kind::ToOne(target) if target == parent))
        .map(|spec| spec.field)
        .collect();
    assert!(
        !fields.is_empty(),
        "{} have no to-one relationship to {parent}",
        R::TYPE
    );
    fields
}

/// The collection of one parent's children: its filter, and the check that the parent
/// exists.
pub struct Scope<R: Model> {
    pub filter: Filter<R::Field>,
    /// Answers the parent's 404 when it does not exist.
    pub parent_exists: ParentExists,
}

/// Answers a parent's 404 when it does not exist.
pub type ParentExists = Box<dyn Fn(&mut PgConnection) -> Result<(), ApiError> + Send>;

impl<R: Model> Scope<R> {
    /// The `R`s of parent `parent_id` of type `P`.
    pub fn of<P: Resource>(parent_id: P::Id) -> Scope<R> {
        let mut fields = parent_fields::<R>(P::TYPE);
        Scope {
            filter: Filter {
                field: fields.remove(0),
                condition: Condition::Compare(Op::Eq, parent_id.value()),
                either: fields,
            },
            parent_exists: Box::new(move |conn| find_existing::<P>(conn, &parent_id).map(|_| ())),
        }
    }
}

/// The resource with this id, or its 404.
pub fn find_existing<R: Resource>(conn: &mut PgConnection, id: &R::Id) -> Result<R, ApiError> {
    R::find(conn, id)?.ok_or_else(|| R::not_found(&id.to_string()))
}

/// `included`, present (maybe empty) exactly when the request gave `include`.
fn rendered(context: &Context, included: &[Box<dyn Render>]) -> Option<Vec<Value>> {
    context
        .include_given()
        .then(|| included.iter().map(|r| r.render(context)).collect())
}

/// A response holding one resource, with the resources it includes.
pub fn single<R: Resource>(
    status: StatusCode,
    resource: &R,
    included: &[Box<dyn Render>],
    context: &Context,
) -> Reply {
    single_with_meta(status, resource, None, included, context)
}

/// [`single`], the document carrying `meta` (when given).
pub fn single_in_document_with_meta<R: Resource>(
    status: StatusCode,
    resource: &R,
    meta: Option<Value>,
    included: &[Box<dyn Render>],
    context: &Context,
) -> Reply {
    single_document(status, resource, None, meta, included, context)
}

/// [`single`], the resource object carrying `meta`.
pub fn single_with_meta<R: Resource>(
    status: StatusCode,
    resource: &R,
    meta: Option<Value>,
    included: &[Box<dyn Render>],
    context: &Context,
) -> Reply {
    single_document(status, resource, meta, None, included, context)
}

/// A response holding one resource, with `meta` on the resource object and on the document
/// when given.
fn single_document<R: Resource>(
    status: StatusCode,
    resource: &R,
    object_meta: Option<Value>,
    document_meta: Option<Value>,
    included: &[Box<dyn Render>],
    context: &Context,
) -> Reply {
    let body = document(
        object(resource, context, object_meta),
        self_links(context.self_link()),
        rendered(context, included),
        document_meta,
    );
    respond(status, &body)
}

/// 201 Created, with `Location` naming the new resource.
pub fn created<R: Resource>(
    resource: &R,
    included: &[Box<dyn Render>],
    context: &Context,
) -> Reply {
    created_with_meta(resource, None, included, context)
}

/// [`created`], the document carrying `meta` (when given).
pub fn created_with_meta<R: Resource>(
    resource: &R,
    meta: Option<Value>,
    included: &[Box<dyn Render>],
    context: &Context,
) -> Reply {
    single_in_document_with_meta(StatusCode::CREATED, resource, meta, included, context)
        .with_header("Location", context.url(&R::self_path(&resource.id())))
}

/// A page of resources with its links and meta, each resource carrying its cursor on cursor
/// pages.
pub fn page<R: Resource>(
    context: &Context,
    rows: &[R],
    outline: PageOutline,
    included: &[Box<dyn Render>],
) -> Reply {
    let data: Vec<Value> = rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let meta = outline
                .cursors
                .as_ref()
                .map(|cursors| cursor_meta(&cursors[i]));
            object(row, context, meta)
        })
        .collect();
    respond(
        StatusCode::OK,
        &document(
            Value::Array(data),
            outline.links,
            rendered(context, included),
            outline.meta,
        ),
    )
}

/// The document of a to-one relationship URL of `row`: its linkage and its links.
pub fn linkage<R: Resource>(context: &Context, row: &R, name: &str) -> Reply {
    let mut links: Map<String, Value> = relationship_links::<R>(&row.id(), name, context)
        .as_object()
        .cloned()
        .unwrap_or_default();
    links.insert("self".into(), Value::String(context.self_link()));
    respond(
        StatusCode::OK,
        &document(row.linkage(name), links, None, None),
    )
}
