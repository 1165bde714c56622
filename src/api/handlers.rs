//! The handlers every resource shares, generic over its type: list, show, create, update,
//! delete, and the related and relationship URLs of its relationships. A resource's own
//! file wires them to its URLs (its `routes`) and adds what is particular to it.

use std::slice;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use diesel::pg::PgConnection;
use serde_json::Value;

use super::context::{AppState, Collection, Context, PathId, Single};
use super::idempotency::{IdempotencyKey, write, write_shared};
use super::input::{Target, check_identity, linkage_pointer};
use super::listing::{list_query, outline};
use super::resource::{
    Include, Render, Resource, Scope, ToMany, ToOne, Writable, created, find_existing, linkage,
    load_included, page, single,
};
use super::route;
use crate::db;
use crate::jsonapi::ApiError;
use crate::jsonapi::document::{Reply, document, identifier, respond, self_links};
use crate::jsonapi::error::{READ_ONLY_RELATIONSHIP, READ_ONLY_RESOURCE};
use crate::jsonapi::request::{parse_relationship_document, parse_resource_document, read_body};
use crate::models::listing::{ListPage, ListQuery, Listable, read_page};

type Result<T> = std::result::Result<T, ApiError>;

/// GET /TYPE
pub async fn list<R: Resource + Listable>(
    context: Collection,
    state: web::Data<AppState>,
) -> Result<Reply> {
    respond_with_page::<R>(&context, &state, None).await
}

/// `/TYPE` (list, create) and `/TYPE/{id}` (show, update, delete) of a resource clients
/// write.
pub fn writable_routes<R: Writable + Listable>(config: &mut web::ServiceConfig) {
    writable_routes_showing::<R>(config, web::get().to(show::<R>));
}

/// [`writable_routes`], with the resource's own `show` (a GET route).
pub fn writable_routes_showing<R: Writable + Listable>(
    config: &mut web::ServiceConfig,
    show: actix_web::Route,
) {
    config
        .service(
            route(&format!("/{}", R::TYPE), "GET, POST")
                .get(list::<R>)
                .post(create::<R>),
        )
        .service(
            route(&format!("/{}/{{id}}", R::TYPE), "GET, PATCH, DELETE")
                .route(show)
                .patch(update::<R>)
                .delete(delete::<R>),
        );
}

/// `/TYPE` and `/TYPE/{id}` of a resource clients only read: writes are a 403 saying why
/// (`read_only`).
pub fn read_only_routes<R: Resource + Listable>(
    config: &mut web::ServiceConfig,
    read_only: &'static str,
) {
    let refuse = move || async move {
        Err::<HttpResponse, _>(ApiError::new(&READ_ONLY_RESOURCE, read_only))
    };
    config
        .service(
            route(&format!("/{}", R::TYPE), "GET")
                .get(list::<R>)
                .route(web::post().to(refuse)),
        )
        .service(
            route(&format!("/{}/{{id}}", R::TYPE), "GET")
                .get(show::<R>)
                .patch(refuse)
                .delete(refuse),
        );
}

/// GET /TYPE/{id}
pub async fn show<R: Resource>(
    context: Single,
    id: PathId<R>,
    state: web::Data<AppState>,
) -> Result<Reply> {
    let includes = context.includes::<R>()?;
    let (row, included) = with_included(&state, includes, move |conn| {
        find_existing::<R>(conn, id.id)
    })
    .await?;
    Ok(single(StatusCode::OK, &row, &included, &context))
}

/// Runs `work` on a database connection, then loads what `includes` ask for of the row it
/// returns.
async fn with_included<R: Resource>(
    state: &AppState,
    includes: Vec<&'static dyn Include<R>>,
    work: impl FnOnce(&mut PgConnection) -> Result<R> + Send + 'static,
) -> Result<(R, Vec<Box<dyn Render>>)> {
    db::run(&state.db, move |conn| {
        let row = work(conn)?;
        let included = load_included(conn, &includes, slice::from_ref(&row))?;
        Ok((row, included))
    })
    .await
}

/// POST /TYPE: 201 with `Location`.
pub async fn create<R: Writable>(
    context: Single,
    key: IdempotencyKey,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<Reply> {
    let includes = context.includes::<R>()?;
    let body = read_body(payload, state.body_timeout).await?;
    let input = parse_resource_document(&body)?;
    check_identity(&input, R::TYPE, Target::Create)?;
    let new = R::read_new(&input)?;
    let self_link = context.self_link();
    let order = R::wallet_of_new(&new).unwrap_or(0);
    write_shared(
        &state,
        key.with_body(&body),
        self_link,
        order,
        move |conn| {
            let row = R::insert(conn, &new)?;
            let included = load_included(conn, &includes, slice::from_ref(&row))?;
            Ok(created(&row, &included, &context))
        },
    )
    .await
}

/// PATCH /TYPE/{id}
pub async fn update<R: Writable>(
    context: Single,
    id: PathId<R>,
    key: IdempotencyKey,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<Reply> {
    let includes = context.includes::<R>()?;
    let body = read_body(payload, state.body_timeout).await?;
    let input = parse_resource_document(&body)?;
    check_identity(&input, R::TYPE, Target::Update(id.id))?;
    let changes = R::read_changes(&input)?;
    let self_link = context.self_link();
    write(&state, key.with_body(&body), self_link, move |conn| {
        let row =
            R::apply(conn, id.id, &changes)?.ok_or_else(|| R::not_found(&id.id.to_string()))?;
        let included = load_included(conn, &includes, slice::from_ref(&row))?;
        Ok(single(StatusCode::OK, &row, &included, &context))
    })
    .await
}

/// DELETE /TYPE/{id}: 204.
pub async fn delete<R: Writable>(
    context: Single,
    id: PathId<R>,
    key: IdempotencyKey,
    state: web::Data<AppState>,
) -> Result<Reply> {
    context.include_nothing()?;
    write(
        &state,
        key.with_body(&[]),
        context.self_link(),
        move |conn| {
            if !R::remove(conn, id.id)? {
                return Err(R::not_found(&id.id.to_string()));
            }
            Ok(Reply::no_content())
        },
    )
    .await
}

/// `/TYPE/{id}/NAME` (the related resource) and `/TYPE/{id}/relationships/NAME` (the
/// linkage) of a to-one relationship clients cannot change: PATCH of the linkage is a 403.
pub fn to_one_routes<R: Resource, T: Resource>(
    config: &mut web::ServiceConfig,
    relationship: &'static ToOne<R, T>,
) {
    let refuse = web::patch().to(move || async move {
        Err::<HttpResponse, _>(ApiError::new(
            &READ_ONLY_RELATIONSHIP,
            format!("the {} of {} cannot be changed", relationship.name, R::TYPE),
        ))
    });
    relationship_routes(config, relationship, "GET", refuse);
}

/// [`to_one_routes`] of a relationship clients change with PATCH of its linkage
/// ([`Writable::read_relationship`]).
pub fn writable_to_one_routes<R: Writable, T: Resource>(
    config: &mut web::ServiceConfig,
    relationship: &'static ToOne<R, T>,
) {
    let update = web::patch().to(
        move |context: Single, id: PathId<R>, key: IdempotencyKey, state, payload| {
            update_to_one(relationship, context, id, key, state, payload)
        },
    );
    relationship_routes(config, relationship, "GET, PATCH", update);
}

/// The two URLs of a to-one relationship, `patch` answering PATCH of the linkage.
fn relationship_routes<R: Resource, T: Resource>(
    config: &mut web::ServiceConfig,
    relationship: &'static ToOne<R, T>,
    allowed: &'static str,
    patch: actix_web::Route,
) {
    config
        .service(
            route(&format!("/{}/{{id}}/{}", R::TYPE, relationship.name), "GET").get(
                move |context: Single, id: PathId<R>, state| {
                    to_one_related(relationship, context, id, state)
                },
            ),
        )
        .service(
            route(&linkage_path::<R>(relationship.name), allowed)
                .get(move |context: Single, id: PathId<R>, state| {
                    to_one_linkage(relationship, context, id, state)
                })
                .route(patch),
        );
}

/// `/TYPE/{id}/NAME` (the children, a full collection) and `/TYPE/{id}/relationships/NAME`
/// (their identifiers) of a to-many relationship whose children are written elsewhere:
/// writes to the linkage are a 403 saying where (`read_only`).
pub fn to_many_routes<P: Resource, R: Resource + Listable>(
    config: &mut web::ServiceConfig,
    relationship: &'static ToMany<P, R>,
    read_only: &'static str,
) {
    let refuse = move || async move {
        Err::<HttpResponse, _>(ApiError::new(&READ_ONLY_RELATIONSHIP, read_only))
    };
    config
        .service(
            route(&format!("/{}/{{id}}/{}", P::TYPE, relationship.name), "GET").get(
                move |context: Collection, id: PathId<P>, state: web::Data<AppState>| async move {
                    respond_with_page::<R>(&context, &state, Some(relationship.scope(id.id))).await
                },
            ),
        )
        .service(
            route(&linkage_path::<P>(relationship.name), "GET")
                .get(move |context: Collection, id: PathId<P>, state| {
                    to_many_linkage(relationship, context, id, state)
                })
                .route(web::post().to(refuse))
                .patch(refuse)
                .delete(refuse),
        );
}

fn linkage_path<R: Resource>(name: &str) -> String {
    format!("/{}/{{id}}/relationships/{name}", R::TYPE)
}

/// GET /TYPE/{id}/NAME of a to-one relationship: the resource it points at (`data: null`
/// when it points at none).
async fn to_one_related<R: Resource, T: Resource>(
    relationship: &'static ToOne<R, T>,
    context: Single,
    id: PathId<R>,
    state: web::Data<AppState>,
) -> Result<Reply> {
    context.include_nothing()?;
    let target = db::run(&state.db, move |conn| {
        // Both reads see one snapshot: a row moved and its old target deleted in between
        // cannot be half seen. (Should the target still be missing, it is not found.)
        conn.build_transaction()
            .read_only()
            .repeatable_read()
            .run(|conn| {
                let row = find_existing::<R>(conn, id.id)?;
                (relationship.key)(&row)
                    .map(|target| find_existing::<T>(conn, target))
                    .transpose()
            })
    })
    .await?;
    Ok(match target {
        Some(target) => single(StatusCode::OK, &target, &[], &context),
        None => respond(
            StatusCode::OK,
            &document(Value::Null, self_links(context.self_link()), None, None),
        ),
    })
}

/// GET /TYPE/{id}/relationships/NAME of a to-one relationship.
async fn to_one_linkage<R: Resource, T: Resource>(
    relationship: &'static ToOne<R, T>,
    context: Single,
    id: PathId<R>,
    state: web::Data<AppState>,
) -> Result<Reply> {
    context.include_nothing()?;
    let row = db::run(&state.db, move |conn| find_existing::<R>(conn, id.id)).await?;
    Ok(respond_linkage(&context, relationship, &row))
}

/// PATCH /TYPE/{id}/relationships/NAME: changes the relationship; errors point at the
/// document's `data`, the only member it has.
async fn update_to_one<R: Writable, T: Resource>(
    relationship: &'static ToOne<R, T>,
    context: Single,
    id: PathId<R>,
    key: IdempotencyKey,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<Reply> {
    context.include_nothing()?;
    let body = read_body(payload, state.body_timeout).await?;
    let linkage = parse_relationship_document(&body)?;
    let as_linkage =
        |error: ApiError| error.map_pointers(|p| linkage_pointer(p, relationship.name));
    let changes = R::read_relationship(relationship.name, &linkage).map_err(as_linkage)?;
    write(
        &state,
        key.with_body(&body),
        context.self_link(),
        move |conn| {
            let row = R::apply(conn, id.id, &changes)
                .and_then(|row| row.ok_or_else(|| R::not_found(&id.id.to_string())))
                .map_err(as_linkage)?;
            Ok(respond_linkage(&context, relationship, &row))
        },
    )
    .await
}

/// The document of a to-one relationship URL for `row`.
fn respond_linkage<R: Resource, T: Resource>(
    context: &Context,
    relationship: &ToOne<R, T>,
    row: &R,
) -> Reply {
    let object = relationship.object(row, context);
    linkage(context, object["data"].clone(), &object["links"])
}

/// GET /TYPE/{id}/relationships/NAME of a to-many relationship: the children's identifiers,
/// paginated like the collection.
async fn to_many_linkage<P: Resource, R: Resource + Listable>(
    relationship: &'static ToMany<P, R>,
    context: Collection,
    id: PathId<P>,
    state: web::Data<AppState>,
) -> Result<Reply> {
    context.include_nothing()?;
    let scope = relationship.scope(id.id);
    let query = list_query::<R>(&context, vec![scope.filter.clone()])?;
    let (query, page, _) = read(&state, query, Some(scope), Vec::new()).await?;
    let mut outline = outline(&context, &query, &page);
    let related = format!("{}/{}", P::self_path(id.id), relationship.name);
    outline
        .links
        .insert("related".into(), Value::String(context.url(&related)));
    let data: Vec<Value> = page
        .rows
        .iter()
        .map(|row| identifier(R::TYPE, row.id()))
        .collect();
    Ok(respond(
        StatusCode::OK,
        &document(Value::Array(data), outline.links, None, outline.meta),
    ))
}

/// The page a collection request asks for, of every `R` or of one parent's.
async fn respond_with_page<R: Resource + Listable>(
    context: &Context,
    state: &AppState,
    scope: Option<Scope<R>>,
) -> Result<Reply> {
    let includes = context.includes::<R>()?;
    let extra = scope.iter().map(|scope| scope.filter.clone()).collect();
    let query = list_query::<R>(context, extra)?;
    let (query, page_read, included) = read(state, query, scope, includes).await?;
    let outline = outline(context, &query, &page_read);
    Ok(page(context, &page_read.rows, outline, &included))
}

type PageRead<R> = (
    ListQuery<<R as Listable>::Field>,
    ListPage<R>,
    Vec<Box<dyn Render>>,
);

/// Reads a page and what it includes; a parent that does not exist is a 404.
async fn read<R: Resource + Listable>(
    state: &AppState,
    query: ListQuery<R::Field>,
    scope: Option<Scope<R>>,
    includes: Vec<&'static dyn Include<R>>,
) -> Result<PageRead<R>> {
    db::run(&state.db, move |conn| {
        if let Some(scope) = &scope {
            (scope.parent_exists)(conn, scope.parent_id)?;
        }
        let page = read_page::<R>(conn, &query)?;
        let included = load_included(conn, &includes, &page.rows)?;
        Ok((query, page, included))
    })
    .await
}
