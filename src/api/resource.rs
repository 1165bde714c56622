//! What a resource type tells the API about itself, and the response shapes every resource
//! shares: one resource, a created one (with `Location`), a page of them, a to-one linkage.
//!
//! A resource implements [`Resource`] (its type, fields, rendering and relationships) and,
//! when clients may write it, [`Writable`] (how a document becomes a row). The generic
//! handlers of [`super::handlers`] do the rest.

use std::marker::PhantomData;

use actix_web::http::StatusCode;
use diesel::QueryResult;
use diesel::pg::PgConnection;
use serde_json::{Map, Value, json};

use super::context::Context;
use super::listing::{PageOutline, cursor_meta};
use crate::jsonapi::ApiError;
use crate::jsonapi::document::{Reply, ResourceObject, document, identifier, respond, self_links};
use crate::jsonapi::request::{Linkage, ResourceInput};
use crate::models::listing::{Filter, Listable, Record};

/// A resource type of the API.
pub trait Resource: Record {
    /// The JSON:API type (`wallets`), also the first segment of its URLs.
    const TYPE: &'static str;
    /// Every attribute and relationship, for `fields[TYPE]`.
    const FIELDS: &'static [&'static str];
    /// The relationships `include` may name.
    const INCLUDES: &'static [&'static dyn Include<Self>] = &[];
    /// Relationships `include` may not name, with the reason given to the client.
    const REFUSED_INCLUDES: &'static [(&'static str, &'static str)] = &[];

    /// The answer to a URL or relationship naming a resource of this type that does not
    /// exist.
    fn not_found(id: &str) -> ApiError;

    /// Adds this resource's attributes and relationships to its resource object.
    fn fill<'c>(&self, object: ResourceObject<'c>, context: &Context) -> ResourceObject<'c>;

    fn self_path(id: i64) -> String {
        format!("/{}/{id}", Self::TYPE)
    }
}

/// A resource clients create, change and delete with documents. The `read_*` functions
/// check a document (type and id are already checked); the others run the write, turning the
/// resource's own constraints into errors that point into the document.
pub trait Writable: Resource {
    /// Everything a new resource needs, checked.
    type New: Send + Sync + 'static;
    /// What an update may change, checked.
    type Changes: Send + 'static;

    fn read_new(input: &ResourceInput) -> Result<Self::New, ApiError>;
    fn read_changes(input: &ResourceInput) -> Result<Self::Changes, ApiError>;
    /// The change a relationship document asks for (`data` of to-one relationship `name`),
    /// errors pointing where the same linkage stands in a resource document
    /// (`/data/relationships/NAME/data`). Clients change no relationship unless the resource
    /// says otherwise.
    fn read_relationship(name: &str, _linkage: &Linkage) -> Result<Self::Changes, ApiError> {
        Err(ApiError::new(
            &crate::jsonapi::error::READ_ONLY_RELATIONSHIP,
            format!("the {name} of {} cannot be changed", Self::TYPE),
        ))
    }

    fn insert(conn: &mut PgConnection, new: &Self::New) -> Result<Self, ApiError>;
    /// `None` when there is no resource with this id.
    fn apply(
        conn: &mut PgConnection,
        id: i64,
        changes: &Self::Changes,
    ) -> Result<Option<Self>, ApiError>;
    /// `false` when there was no resource with this id.
    fn remove(conn: &mut PgConnection, id: i64) -> Result<bool, ApiError>;

    /// The wallet whose balance writing resource `id` can change: an atomic request locks it,
    /// with every other wallet it writes, before its first write (see `api::operations`).
    fn wallet_of(_conn: &mut PgConnection, _id: i64) -> QueryResult<Option<i64>> {
        Ok(None)
    }

    /// The wallet a new resource's insert locks, if any: creates run together in the order
    /// of this key (see `db::coalesce`), so that two batches never lock wallets in opposite
    /// orders.
    fn wallet_of_new(_new: &Self::New) -> Option<i64> {
        None
    }
}

/// A resource object, rendered once the request's context is at hand. Included resources
/// and the results of atomic operations are of several types: they travel as
/// `Box<dyn Render>`.
pub trait Render: Send {
    fn render(&self, context: &Context) -> Value;
    /// The linkage (`data`) of relationship `name`, whatever the request's sparse fieldsets.
    fn linkage(&self, name: &str, context: &Context) -> Value;
}

impl<R: Resource> Render for R {
    fn render(&self, context: &Context) -> Value {
        object(self, context, None)
    }

    fn linkage(&self, name: &str, context: &Context) -> Value {
        let every_field = Default::default();
        let object = ResourceObject::new(R::TYPE, self.id(), String::new(), &every_field);
        self.fill(object, context).build()["relationships"][name]["data"].clone()
    }
}

/// A relationship `include` can name: loads the related resources of a set of rows.
pub trait Include<R>: Sync {
    fn name(&self) -> &'static str;
    /// The related resources of `rows`, each once.
    fn load(&self, conn: &mut PgConnection, rows: &[R]) -> QueryResult<Vec<Box<dyn Render>>>;
}

/// A to-one relationship from `R` to `T`: its name, and the id it holds in a row.
pub struct ToOne<R, T> {
    pub name: &'static str,
    pub key: fn(&R) -> Option<i64>,
    target: PhantomData<fn() -> T>,
}

impl<R, T> ToOne<R, T> {
    pub const fn new(name: &'static str, key: fn(&R) -> Option<i64>) -> Self {
        ToOne {
            name,
            key,
            target: PhantomData,
        }
    }
}

impl<R: Resource, T: Resource> ToOne<R, T> {
    /// The relationship object: its links, and the target's identifier (or `null`).
    pub fn object(&self, resource: &R, context: &Context) -> Value {
        let path = R::self_path(resource.id());
        json!({
            "links": {
                "self": context.url(&format!("{path}/relationships/{}", self.name)),
                "related": context.url(&format!("{path}/{}", self.name)),
            },
            "data": (self.key)(resource).map_or(Value::Null, |id| identifier(T::TYPE, id)),
        })
    }
}

impl<R: Resource, T: Resource> Include<R> for ToOne<R, T> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn load(&self, conn: &mut PgConnection, rows: &[R]) -> QueryResult<Vec<Box<dyn Render>>> {
        let mut ids: Vec<i64> = rows.iter().filter_map(self.key).collect();
        ids.sort_unstable();
        ids.dedup();
        Ok(T::find_many(conn, &ids)?
            .into_iter()
            .map(|target| Box::new(target) as Box<dyn Render>)
            .collect())
    }
}

/// A to-many relationship from `P` to the `R`s whose `field` holds its id: shown with links
/// only (there may be millions), read through its related URL as a full collection.
pub struct ToMany<P, R: Listable> {
    pub name: &'static str,
    pub field: R::Field,
    parent: PhantomData<fn() -> P>,
}

impl<P: Resource, R: Listable> ToMany<P, R> {
    pub const fn new(name: &'static str, field: R::Field) -> Self {
        ToMany {
            name,
            field,
            parent: PhantomData,
        }
    }

    /// The relationship object: links only.
    pub fn object(&self, parent: &P, context: &Context) -> Value {
        let path = P::self_path(parent.id());
        json!({"links": {
            "self": context.url(&format!("{path}/relationships/{}", self.name)),
            "related": context.url(&format!("{path}/{}", self.name)),
        }})
    }

    /// The collection of one parent: its filter, and the check that the parent exists.
    pub fn scope(&self, parent_id: i64) -> Scope<R> {
        Scope {
            filter: Filter {
                field: self.field,
                condition: crate::models::listing::Condition::Compare(
                    crate::models::listing::Op::Eq,
                    crate::models::listing::Value::Id(parent_id),
                ),
            },
            parent_id,
            parent_exists: exists::<P>,
        }
    }
}

/// A collection narrowed to the children of one parent resource.
pub struct Scope<R: Listable> {
    pub filter: Filter<R::Field>,
    pub parent_id: i64,
    /// Answers the parent's 404 when it does not exist.
    pub parent_exists: fn(&mut PgConnection, i64) -> Result<(), ApiError>,
}

fn exists<P: Resource>(conn: &mut PgConnection, id: i64) -> Result<(), ApiError> {
    find_existing::<P>(conn, id).map(|_| ())
}

/// The resource with this id, or its 404.
pub fn find_existing<R: Resource>(conn: &mut PgConnection, id: i64) -> Result<R, ApiError> {
    R::find(conn, id)?.ok_or_else(|| R::not_found(&id.to_string()))
}

/// Loads what `includes` ask for, for these rows.
pub fn load_included<R>(
    conn: &mut PgConnection,
    includes: &[&'static dyn Include<R>],
    rows: &[R],
) -> QueryResult<Vec<Box<dyn Render>>> {
    let mut included = Vec::new();
    for include in includes {
        included.extend(include.load(conn, rows)?);
    }
    Ok(included)
}

/// The resource object of `resource`, with `meta` when given.
pub fn object<R: Resource>(resource: &R, context: &Context, meta: Option<Value>) -> Value {
    let id = resource.id();
    let mut object = ResourceObject::new(
        R::TYPE,
        id,
        context.url(&R::self_path(id)),
        &context.fieldsets,
    );
    object = resource.fill(object, context);
    if let Some(meta) = meta {
        object = object.meta(meta);
    }
    object.build()
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

/// [`single`], the resource object carrying `meta`.
pub fn single_with_meta<R: Resource>(
    status: StatusCode,
    resource: &R,
    meta: Option<Value>,
    included: &[Box<dyn Render>],
    context: &Context,
) -> Reply {
    let body = document(
        object(resource, context, meta),
        self_links(context.self_link()),
        rendered(context, included),
        None,
    );
    respond(status, &body)
}

/// 201 Created, with `Location` naming the new resource.
pub fn created<R: Resource>(
    resource: &R,
    included: &[Box<dyn Render>],
    context: &Context,
) -> Reply {
    single(StatusCode::CREATED, resource, included, context)
        .with_header("Location", context.url(&R::self_path(resource.id())))
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

/// The document of a relationship URL: the relationship's linkage (`data`) and links, `self`
/// being this request's URL.
pub fn linkage(context: &Context, data: Value, relationship_links: &Value) -> Reply {
    let mut links: Map<String, Value> = relationship_links.as_object().cloned().unwrap_or_default();
    links.insert("self".into(), Value::String(context.self_link()));
    respond(StatusCode::OK, &document(data, links, None, None))
}
