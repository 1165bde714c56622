//! The handlers every resource shares, generic over its type: list, show, create, update,
//! delete, and the related and relationship URLs of its relationships; and the functions
//! that add them to the route table, from the resource's declaration.

use std::slice;
use std::sync::Arc;

use actix_web::http::{Method, StatusCode};
use actix_web::web;
use diesel::pg::PgConnection;

use super::context::{Collection, Context, PathId, Single};
use super::input::{
    Target, check_identity, linkage_pointer, read_changes, read_new, read_relationship,
};
use super::listing::{list_query, outline};
use super::resource::{
    Answer, Include, Render, Resource, Scope, Writable, created_with_meta, find_existing, linkage,
    linked_id, load_included, page, single, single_in_document_with_meta,
};
use super::routes::{Custom, Operation, Routes};
use super::state::AppState;
use super::write::Write;
use super::write::idempotency::IdempotencyKey;
use crate::db::standby::Reader;
use crate::db::{self, Session};
use crate::jsonapi::ApiError;
use crate::jsonapi::document::{Reply, document, identifier, respond, self_links};
use crate::jsonapi::error::{NOT_DELETABLE, READ_ONLY_RELATIONSHIP, READ_ONLY_RESOURCE};
use crate::jsonapi::request::{parse_relationship_document, parse_resource_document, read_body};
use crate::models::fields::{Kind, Model};
use crate::models::keyset::read_page;
use crate::models::query::{ListPage, ListQuery};

type Result<T> = std::result::Result<T, ApiError>;

const WRITES: [Method; 3] = [Method::POST, Method::PATCH, Method::DELETE];

fn collection_path<R: Model>() -> String {
    format!("/{}", R::TYPE)
}

fn resource_path<R: Model>() -> String {
    format!("/{}/{{id}}", R::TYPE)
}

fn related_path<R: Model>(name: &str) -> String {
    format!("/{}/{{id}}/{name}", R::TYPE)
}

fn linkage_path<R: Model>(name: &str) -> String {
    format!("/{}/{{id}}/relationships/{name}", R::TYPE)
}

/// `/TYPE` (list, create) and `/TYPE/{id}` (show, update, delete) of a resource clients
/// write, and the URLs of its to-one relationships.
pub fn writable<R: Writable>(routes: &mut Routes) {
    writable_showing::<R, _, _>(routes, &[], show::<R>);
}

/// [`writable`], with the resource's own `show`, which takes these `custom` parameters.
pub fn writable_showing<R: Writable, F, Args>(
    routes: &mut Routes,
    custom: &'static [Custom],
    show: F,
) where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    reads::<R, _, _>(routes, custom, show);
    writes::<R, _, _>(routes, create::<R>);
}

/// [`writable`], with the resource's own `create`.
pub fn writable_creating<R: Writable, F, Args>(routes: &mut Routes, create: F)
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    reads::<R, _, _>(routes, &[], show::<R>);
    writes::<R, _, _>(routes, create);
}

/// POST `/TYPE` (`create`), PATCH and DELETE `/TYPE/{id}`, and the URLs of the to-one
/// relationships.
fn writes<R: Writable, F, Args>(routes: &mut Routes, create: F)
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    let type_name = R::TYPE;
    routes.add(
        &collection_path::<R>(),
        Method::POST,
        Operation::Create { type_name },
        create,
    );
    routes.add(
        &resource_path::<R>(),
        Method::PATCH,
        Operation::Update { type_name },
        update::<R>,
    );
    match R::NOT_DELETABLE {
        Some(why) => routes.refuse(
            &resource_path::<R>(),
            &[Method::DELETE],
            &NOT_DELETABLE,
            why,
        ),
        None => routes.add(
            &resource_path::<R>(),
            Method::DELETE,
            Operation::Delete { type_name },
            delete::<R>,
        ),
    }
    for spec in R::FIELDS
        .iter()
        .filter(|spec| matches!(spec.kind, Kind::ToOne(_)))
    {
        to_one_reads::<R>(routes, spec.name);
        if !spec.access.update {
            refuse_linkage_change::<R>(routes, spec.name);
            continue;
        }
        let (name, target) = (spec.name, target_of::<R>(spec.name));
        routes.add(
            &linkage_path::<R>(name),
            Method::PATCH,
            Operation::ChangeLinkage {
                parent: type_name,
                name,
                target,
            },
            move |context: Single, id: PathId<R>, key: IdempotencyKey, state, payload| {
                update_to_one::<R>(name, context, id, key, state, payload)
            },
        );
    }
}

/// `/TYPE` and `/TYPE/{id}` of a resource clients only read (writes are a 403 saying why,
/// `read_only`), and the URLs of its to-one relationships.
pub fn read_only<R: Resource>(routes: &mut Routes, read_only: &'static str) {
    read_only_listing::<R, _, _>(routes, read_only, list::<R>);
}

/// [`read_only`], with the resource's own `list` (a feed's: its meta, its stream).
pub fn read_only_listing<R: Resource, F, Args>(
    routes: &mut Routes,
    read_only: &'static str,
    list: F,
) where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    reads_listing::<R, _, _, _, _>(routes, &[], show::<R>, list);
    routes.refuse(
        &collection_path::<R>(),
        &[Method::POST],
        &READ_ONLY_RESOURCE,
        read_only,
    );
    routes.refuse(
        &resource_path::<R>(),
        &[Method::PATCH, Method::DELETE],
        &READ_ONLY_RESOURCE,
        read_only,
    );
    for spec in R::FIELDS
        .iter()
        .filter(|spec| matches!(spec.kind, Kind::ToOne(_)))
    {
        to_one_reads::<R>(routes, spec.name);
        refuse_linkage_change::<R>(routes, spec.name);
    }
}

/// GET `/TYPE` (the collection) and GET `/TYPE/{id}` (`show`, taking `custom` parameters).
fn reads<R: Resource, F, Args>(routes: &mut Routes, custom: &'static [Custom], show: F)
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    reads_listing::<R, _, _, _, _>(routes, custom, show, list::<R>);
}

/// [`reads`], with the collection's own `list`.
fn reads_listing<R: Resource, F, Args, L, LArgs>(
    routes: &mut Routes,
    custom: &'static [Custom],
    show: F,
    list: L,
) where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
    L: actix_web::Handler<LArgs>,
    LArgs: actix_web::FromRequest + 'static,
    L::Output: actix_web::Responder + 'static,
{
    let type_name = R::TYPE;
    routes.add(
        &collection_path::<R>(),
        Method::GET,
        Operation::List { type_name },
        list,
    );
    routes.add(
        &resource_path::<R>(),
        Method::GET,
        Operation::Show { type_name, custom },
        show,
    );
}

/// `/TYPE/{id}/NAME` (the related resource) and GET `/TYPE/{id}/relationships/NAME` (the
/// linkage) of to-one relationship `name`.
fn to_one_reads<R: Resource>(routes: &mut Routes, name: &'static str) {
    let (parent, target) = (R::TYPE, target_of::<R>(name));
    routes.add(
        &related_path::<R>(name),
        Method::GET,
        Operation::Related {
            parent,
            name,
            target,
        },
        move |context: Single, id: PathId<R>, state| to_one_related::<R>(name, context, id, state),
    );
    routes.add(
        &linkage_path::<R>(name),
        Method::GET,
        Operation::Linkage {
            parent,
            name,
            target,
        },
        move |context: Single, id: PathId<R>, state| to_one_linkage::<R>(name, context, id, state),
    );
}

/// PATCH of the linkage of a to-one relationship clients cannot change: a 403.
fn refuse_linkage_change<R: Resource>(routes: &mut Routes, name: &'static str) {
    routes.refuse(
        &linkage_path::<R>(name),
        &[Method::PATCH],
        &READ_ONLY_RELATIONSHIP,
        format!("the {name} of {} cannot be changed", R::TYPE),
    );
}

/// The type a to-one relationship of `R` holds.
fn target_of<R: Model>(name: &str) -> &'static str {
    match R::FIELDS
        .iter()
        .find(|spec| spec.name == name)
        .map(|spec| spec.kind)
    {
        Some(Kind::ToOne(target)) => target,
        _ => panic!("{} have no to-one relationship {name:?}", R::TYPE),
    }
}

/// `/P/{id}/NAME` (the children, a full collection) and `/P/{id}/relationships/NAME` (their
/// identifiers) of the to-many relationship of `P` whose children are `R`s. They are written
/// elsewhere: writes to the linkage are a 403 saying where (the relationship's doc).
pub fn to_many<P: Resource, R: Resource>(routes: &mut Routes) {
    let many = P::TO_MANY
        .iter()
        .find(|many| many.target == R::TYPE)
        .unwrap_or_else(|| panic!("{} have no to-many relationship to {}", P::TYPE, R::TYPE));
    let (parent, name, target) = (P::TYPE, many.name, R::TYPE);
    routes.add(
        &related_path::<P>(name),
        Method::GET,
        Operation::Children {
            parent,
            name,
            target,
        },
        move |context: Collection, id: PathId<P>, state: web::Data<AppState>| async move {
            respond_with_page::<R>(&context, &state, Some(Scope::of::<P>(id.id))).await
        },
    );
    routes.add(
        &linkage_path::<P>(name),
        Method::GET,
        Operation::ChildLinkage {
            parent,
            name,
            target,
        },
        move |context: Collection, id: PathId<P>, state| {
            to_many_linkage::<P, R>(name, context, id, state)
        },
    );
    routes.refuse(
        &linkage_path::<P>(name),
        &WRITES,
        &READ_ONLY_RELATIONSHIP,
        many.doc,
    );
}

/// GET /TYPE
pub async fn list<R: Resource>(context: Collection, state: web::Data<AppState>) -> Result<Reply> {
    respond_with_page::<R>(&context, &state, None).await
}

/// GET /TYPE/{id}
pub async fn show<R: Resource>(
    context: Single,
    id: PathId<R>,
    state: web::Data<AppState>,
) -> Result<Reply> {
    let includes = context.includes::<R>()?;
    let session = context.actor.reading();
    if includes.is_empty() {
        let row = find_by_id::<R>(&state, &context, &session, id.id).await?;
        return Ok(single(StatusCode::OK, &row, &[], &context));
    }
    let (row, included) = with_included(&state, &context, &session, includes, move |conn| {
        find_existing::<R>(conn, &id.id)
    })
    .await?;
    Ok(single(StatusCode::OK, &row, &included, &context))
}

/// The resource with id `id`, read with the reads of others waiting beside it where reads
/// of its type are coalesced (`db::reads`; not for a wallet-limited key, whose limit is a
/// setting of its own transaction, nor for a read that must see a given write).
pub async fn find_by_id<R: Resource>(
    state: &AppState,
    context: &Context,
    session: &Session,
    id: R::Id,
) -> Result<R> {
    match R::reads(state) {
        Some(reads) if session.is_plain() && context.after.is_none() => reads
            .find(context.reader(state).first(), id.clone())
            .await?
            .ok_or_else(|| R::not_found(&id.to_string())),
        _ => {
            db::run_in(context.reader(state), session, move |conn| {
                find_existing::<R>(conn, &id)
            })
            .await
        }
    }
}

/// Runs `work` on a database connection, then loads what `includes` ask for of the row it
/// returns.
async fn with_included<R: Resource>(
    state: &AppState,
    context: &Context,
    session: &Session,
    includes: Vec<Include<R>>,
    work: impl FnOnce(&mut PgConnection) -> Result<R> + Send + 'static,
) -> Result<(R, Vec<Box<dyn Render>>)> {
    db::run_in(context.reader(state), session, move |conn| {
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
    let new = read_new::<R>(&input)?;
    R::admit_new(&new, &state)?;
    if R::CREATED_META.is_some() {
        key.refuse_for_secret(
            &format!("a new {}'s secret", R::SINGULAR),
            "look for it with a GET before you create it again",
        )?;
    }
    let locks = R::lock_keys_of_new(&new);
    let self_link = context.self_link();
    let actor = context.actor.clone();
    let context = Arc::new(context);
    let answer: Answer<R> = Arc::new(move |conn: &mut PgConnection, row: R| {
        let included = load_included(conn, &includes, slice::from_ref(&row))?;
        Ok(created_with_meta(
            &row,
            R::created_meta(&row),
            &included,
            &context,
        ))
    });
    let rows = R::rows(&new, answer.clone());
    let write = Write::by(&actor, self_link, move |conn| {
        let row = R::insert(conn, &new)?;
        answer(conn, row)
    })
    .keyed(key.with_body(&body))
    .locking(locks)
    .statements(R::CREATE_STATEMENTS)
    .shared(rows);
    state.writer.submit(write).await
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
    check_identity(&input, R::TYPE, Target::Update(&id.id.to_string()))?;
    let changes = read_changes::<R>(&input, &id.id.to_string())?;
    R::admit_changes(&changes, &state)?;
    if R::UPDATE_META.is_some() && !input.meta.is_empty() {
        key.refuse_for_secret(
            &format!("a {}'s rotated secret", R::SINGULAR),
            "rotating again makes another secret",
        )?;
    }
    let actor = context.actor.clone();
    let meta = input.meta;
    let write = Write::by(&actor, context.self_link(), move |conn| {
        let answered = R::update_actions(conn, &id.id, &meta)?;
        let row =
            R::apply(conn, &id.id, &changes)?.ok_or_else(|| R::not_found(&id.id.to_string()))?;
        let included = load_included(conn, &includes, slice::from_ref(&row))?;
        Ok(single_in_document_with_meta(
            StatusCode::OK,
            &row,
            answered,
            &included,
            &context,
        ))
    })
    .keyed(key.with_body(&body));
    state.writer.submit(write).await
}

/// DELETE /TYPE/{id}: 204.
pub async fn delete<R: Writable>(
    context: Single,
    id: PathId<R>,
    key: IdempotencyKey,
    state: web::Data<AppState>,
) -> Result<Reply> {
    context.include_nothing()?;
    let write = Write::by(&context.actor, context.self_link(), move |conn| {
        if !R::remove(conn, &id.id)? {
            return Err(R::not_found(&id.id.to_string()));
        }
        Ok(Reply::no_content())
    })
    .keyed(key.with_body(&[]));
    state.writer.submit(write).await
}

/// GET /TYPE/{id}/NAME of a to-one relationship: the resource it points at (`data: null`
/// when it points at none).
async fn to_one_related<R: Resource>(
    name: &'static str,
    context: Single,
    id: PathId<R>,
    state: web::Data<AppState>,
) -> Result<Reply> {
    context.include_nothing()?;
    let spec = R::FIELDS
        .iter()
        .find(|spec| spec.name == name)
        .expect("a declared relationship");
    let target = target_of::<R>(name);
    // Both reads see one snapshot: a row moved and its old target deleted in between cannot
    // be half seen. (Should the target still be missing, it is not found.)
    let found = db::run_snapshot(
        context.reader(&state),
        &context.actor.reading(),
        move |conn| {
            let row = find_existing::<R>(conn, &id.id)?;
            let Some(target_id) = linked_id(row.value_of(spec.field)) else {
                return Ok(None);
            };
            let registered = super::registered(target).expect("a registered target");
            let mut rows = (registered.load)(conn, slice::from_ref(&target_id))?;
            match rows.pop() {
                Some(row) => Ok(Some(row)),
                None => Err((registered.not_found)(&target_id)),
            }
        },
    )
    .await?;
    let data = found.map_or(serde_json::Value::Null, |row| row.render(&context));
    Ok(respond(
        StatusCode::OK,
        &document(data, self_links(context.self_link()), None, None),
    ))
}

/// GET /TYPE/{id}/relationships/NAME of a to-one relationship.
async fn to_one_linkage<R: Resource>(
    name: &'static str,
    context: Single,
    id: PathId<R>,
    state: web::Data<AppState>,
) -> Result<Reply> {
    context.include_nothing()?;
    let session = context.actor.reading();
    let row = db::run_in(context.reader(&state), &session, move |conn| {
        find_existing::<R>(conn, &id.id)
    })
    .await?;
    Ok(linkage(&context, &row, name))
}

/// PATCH /TYPE/{id}/relationships/NAME: changes the relationship; errors point at the
/// document's `data`, the only member it has.
async fn update_to_one<R: Writable>(
    name: &'static str,
    context: Single,
    id: PathId<R>,
    key: IdempotencyKey,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<Reply> {
    context.include_nothing()?;
    let body = read_body(payload, state.body_timeout).await?;
    let linkage_data = parse_relationship_document(&body)?;
    let as_linkage = move |error: ApiError| error.map_pointers(|p| linkage_pointer(p, name));
    let changes =
        read_relationship::<R>(&id.id.to_string(), name, &linkage_data).map_err(as_linkage)?;
    let actor = context.actor.clone();
    let write = Write::by(&actor, context.self_link(), move |conn| {
        let row = R::apply(conn, &id.id, &changes)
            .and_then(|row| row.ok_or_else(|| R::not_found(&id.id.to_string())))
            .map_err(as_linkage)?;
        Ok(linkage(&context, &row, name))
    })
    .keyed(key.with_body(&body));
    state.writer.submit(write).await
}

/// GET /P/{id}/relationships/NAME of a to-many relationship: the children's identifiers,
/// paginated like the collection.
async fn to_many_linkage<P: Resource, R: Resource>(
    name: &'static str,
    context: Collection,
    id: PathId<P>,
    state: web::Data<AppState>,
) -> Result<Reply> {
    context.include_nothing()?;
    let related = format!("{}/{name}", P::self_path(&id.id));
    let scope: Scope<R> = Scope::of::<P>(id.id);
    let query = list_query::<R>(&context, vec![scope.filter.clone()])?;
    let session = context.actor.reading();
    let (query, page, _) = read(
        context.reader(&state),
        &session,
        query,
        Some(scope),
        Vec::new(),
    )
    .await?;
    let mut outline = outline(&context, &query, &page);
    outline.links.insert(
        "related".into(),
        serde_json::Value::String(context.url(&related)),
    );
    let data: Vec<serde_json::Value> = page
        .rows
        .iter()
        .map(|row| identifier(R::TYPE, row.id()))
        .collect();
    Ok(respond(
        StatusCode::OK,
        &document(
            serde_json::Value::Array(data),
            outline.links,
            None,
            outline.meta,
        ),
    ))
}

/// The page a collection request asks for, of every `R` or of one parent's.
async fn respond_with_page<R: Resource>(
    context: &Context,
    state: &AppState,
    scope: Option<Scope<R>>,
) -> Result<Reply> {
    let includes = context.includes::<R>()?;
    let extra = scope.iter().map(|scope| scope.filter.clone()).collect();
    let query = list_query::<R>(context, extra)?;
    let session = context.actor.reading();
    let reader = context.reader(state);
    let (query, page_read, included) = read(reader, &session, query, scope, includes).await?;
    let outline = outline(context, &query, &page_read);
    Ok(page(context, &page_read.rows, outline, &included))
}

type PageRead<R> = (
    ListQuery<<R as Model>::Field>,
    ListPage<R>,
    Vec<Box<dyn Render>>,
);

/// Reads a page and what it includes; a parent that does not exist is a 404.
async fn read<R: Resource>(
    reader: Reader<'_>,
    session: &Session,
    query: ListQuery<R::Field>,
    scope: Option<Scope<R>>,
    includes: Vec<Include<R>>,
) -> Result<PageRead<R>> {
    db::run_in(reader, session, move |conn| {
        if let Some(scope) = &scope {
            (scope.parent_exists)(conn)?;
        }
        let page = read_page::<R>(conn, &query)?;
        let included = load_included(conn, &includes, &page.rows)?;
        Ok((query, page, included))
    })
    .await
}
