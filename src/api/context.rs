//! What every handler needs from a request, as extractors: the shared state, the parsed
//! query parameters and how to write links ([`Single`] for one resource, [`Collection`] for
//! many), and the id in the URL ([`PathId`]).

use std::future::{Ready, ready};
use std::marker::PhantomData;
use std::ops::Deref;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use super::middleware::auth::{Actor, INSUFFICIENT_SCOPE};
use super::resource::{Include, Resource};
use super::state::AppState;
use crate::db::standby::{Lsn, Reader};
use crate::jsonapi::ApiError;
use crate::jsonapi::document::Fieldsets;
use crate::jsonapi::query::QueryParams;
use crate::models::fields::{Key, Kind};

/// One request: who it runs for, its parameters, its sparse fieldsets, and how to write
/// links.
#[derive(Clone)]
pub struct Context {
    pub actor: Actor,
    /// The position of the client's last write, when it sent one (`Wallet-Api-Lsn`).
    pub after: Option<Lsn>,
    pub params: QueryParams,
    pub fieldsets: Fieldsets,
    base: String,
    path: String,
    query: String,
}

impl Context {
    fn new(request: &HttpRequest, accepted: &[&str]) -> Result<Context, ApiError> {
        let params = QueryParams::parse(request.query_string())?;
        params.accept_only(accepted)?;
        for (type_name, fields) in &params.fields {
            check_fieldset(type_name, fields)?;
        }
        let after = super::positions::read_after(request)?;
        // Taken before base_of, which may write the request's extensions.
        let actor = request
            .extensions()
            .get::<Actor>()
            .cloned()
            .unwrap_or_default();
        Ok(Context {
            after,
            actor,
            fieldsets: Fieldsets(params.fields.clone()),
            params,
            base: base_of(request),
            path: request.path().to_string(),
            query: request.query_string().to_string(),
        })
    }

    /// A context outside any request (a webhook's body): every field shown, links under
    /// `base` (relative when it is empty).
    pub fn outside_request(base: &str) -> Context {
        Context {
            actor: Actor::default(),
            after: None,
            params: QueryParams::default(),
            fieldsets: Fieldsets::default(),
            base: base.to_string(),
            path: String::new(),
            query: String::new(),
        }
    }

    /// Where this request's reads run: the standby when there is one and it holds the
    /// client's last write, else the primary.
    pub fn reader<'a>(&self, state: &'a AppState) -> Reader<'a> {
        state.reader(self.after)
    }

    /// The absolute URL of a path on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The URL of this very request. Links are written with their query percent-encoded
    /// (`page%5Bsize%5D=5`): brackets are not allowed bare in a URI's query.
    pub fn self_link(&self) -> String {
        link(&self.base, &self.path, &self.query, |_| true, &[])
    }

    /// This request's URL with its `page[...]` parameters replaced by `page`; every other
    /// parameter is kept.
    pub fn page_link(&self, page: &[(&str, String)]) -> String {
        let page: Vec<(String, &str)> = page
            .iter()
            .map(|(name, value)| (format!("page[{name}]"), value.as_str()))
            .collect();
        let page: Vec<(&str, &str)> = page.iter().map(|(n, v)| (n.as_str(), *v)).collect();
        link(
            &self.base,
            &self.path,
            &self.query,
            |name| !name.starts_with("page["),
            &page,
        )
    }

    /// Refuses `sort`, `filter` and `page` on an endpoint that returns a single resource.
    fn refuse_collection_parameters(&self) -> Result<(), ApiError> {
        let parameter = if self.params.sort.is_some() {
            Some("sort".to_string())
        } else if let Some(filter) = self.params.filters.first() {
            Some(filter.parameter.clone())
        } else if self.params.page_given {
            Some("page".to_string())
        } else {
            None
        };
        match parameter {
            Some(parameter) => Err(ApiError::invalid_parameter(
                &parameter,
                format!("{parameter} applies to collections; this URL returns a single resource"),
            )),
            None => Ok(()),
        }
    }

    /// The relationships of `R` that `include` asks for, checked against those `R` offers:
    /// its to-one relationships (its to-many ones may hold millions of resources).
    pub fn includes<R: Resource>(&self) -> Result<Vec<Include<R>>, ApiError> {
        let offered: Vec<&str> = R::FIELDS
            .iter()
            .filter(|spec| spec.is_relationship())
            .map(|spec| spec.name)
            .collect();
        let refused: Vec<(&str, String)> = R::TO_MANY
            .iter()
            .map(|many| {
                (
                    many.name,
                    format!(
                        "a {} may have millions of {}; page through /{}/{{id}}/{} instead",
                        R::SINGULAR,
                        many.name,
                        R::TYPE,
                        many.name
                    ),
                )
            })
            .collect();
        self.check_include(&offered, &refused)?;
        let asked = self.params.include.as_deref().unwrap_or_default();
        // What only admin keys may read, only they may include.
        for spec in R::FIELDS
            .iter()
            .filter(|spec| asked.iter().any(|path| path == spec.name))
        {
            if let Kind::ToOne(target) | Kind::ToManyIds(target) = spec.kind
                && super::registered(target).is_some_and(|target| target.admin_only)
                && !self.actor.allows("admin")
            {
                return Err(ApiError::new(
                    &INSUFFICIENT_SCOPE,
                    format!("include={}: {target} need the scope \"admin\"", spec.name),
                )
                .parameter("include")
                .meta(serde_json::json!({"requiredScope": "admin"})));
            }
        }
        Ok(R::FIELDS
            .iter()
            .filter(|spec| offered.contains(&spec.name))
            .filter(|spec| asked.iter().any(|path| path == spec.name))
            .collect())
    }

    /// Refuses any `include`: this endpoint includes nothing.
    pub fn include_nothing(&self) -> Result<(), ApiError> {
        self.check_include(&[], &[])
    }

    fn check_include(&self, offered: &[&str], refused: &[(&str, String)]) -> Result<(), ApiError> {
        for path in self.params.include.iter().flatten() {
            if let Some((_, why)) = refused.iter().find(|(name, _)| name == path) {
                return Err(ApiError::invalid_parameter(
                    "include",
                    format!("include={path} is not supported: {why}"),
                ));
            }
            if !offered.contains(&path.as_str()) {
                return Err(ApiError::invalid_parameter(
                    "include",
                    if offered.is_empty() {
                        format!("include={path}: nothing can be included here")
                    } else {
                        format!(
                            "include={path}: no such relationship; can include: {}",
                            offered.join(", ")
                        )
                    },
                ));
            }
        }
        Ok(())
    }

    /// Whether `include` was given at all (then `included` must be present, maybe empty).
    pub fn include_given(&self) -> bool {
        self.params.include.is_some()
    }

    /// The value of an implementation-specific parameter the endpoint accepts.
    pub fn custom(&self, name: &str) -> Option<&str> {
        self.params.custom.get(name).map(String::as_str)
    }
}

/// The implementation-specific query parameters an endpoint accepts, named in its
/// extractor's type (`Single<BalanceAt>`): every other one is a 400 before the handler runs.
pub trait Parameters {
    const NAMES: &'static [&'static str];
}

impl Parameters for () {
    const NAMES: &'static [&'static str] = &[];
}

/// `fields[TYPE]` must name a resource type and fields it has.
fn check_fieldset(type_name: &str, fields: &[String]) -> Result<(), ApiError> {
    let parameter = format!("fields[{type_name}]");
    let Some(known) = super::registered(type_name).map(|r| (r.members)()) else {
        let types: Vec<&str> = super::RESOURCES.iter().map(|r| r.type_name).collect();
        return Err(ApiError::invalid_parameter(
            &parameter,
            format!(
                "there is no resource type {type_name:?}; types: {}",
                types.join(", ")
            ),
        ));
    };
    if let Some(unknown) = fields.iter().find(|field| !known.contains(&field.as_str())) {
        return Err(ApiError::invalid_parameter(
            &parameter,
            format!(
                "{type_name} have no field {unknown:?}; fields: {}",
                known.join(", ")
            ),
        ));
    }
    Ok(())
}

/// The context of a request for one resource: collection parameters (`sort`, `filter`,
/// `page`) are refused before the handler runs, and so are implementation-specific ones
/// other than `P`'s.
pub struct Single<P = ()>(Context, PhantomData<P>);

/// The context of a request for a collection.
pub struct Collection(Context);

/// The context of a request for a collection the server computes (a wallet's balance
/// history): the custom parameters of `P` and filters, which its handler reads; no sort, no
/// pages, no `include`.
pub struct Computed<P>(Context, PhantomData<P>);

impl<P> Deref for Computed<P> {
    type Target = Context;
    fn deref(&self) -> &Context {
        &self.0
    }
}

impl<P: Parameters> FromRequest for Computed<P> {
    type Error = ApiError;
    type Future = Ready<Result<Computed<P>, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Context::new(request, P::NAMES).and_then(|context| {
            let refused = if context.params.sort.is_some() {
                Some("sort")
            } else if context.params.page_given {
                Some("page")
            } else if context.params.include.is_some() {
                Some("include")
            } else if !context.params.fields.is_empty() {
                Some("fields")
            } else {
                None
            };
            match refused {
                Some(parameter) => Err(ApiError::invalid_parameter(
                    parameter,
                    format!(
                        "{parameter} does not apply here: this collection is computed, in one piece"
                    ),
                )),
                None => Ok(Computed(context, PhantomData)),
            }
        }))
    }
}

impl<P> Deref for Single<P> {
    type Target = Context;
    fn deref(&self) -> &Context {
        &self.0
    }
}

impl Deref for Collection {
    type Target = Context;
    fn deref(&self) -> &Context {
        &self.0
    }
}

impl<P: Parameters> FromRequest for Single<P> {
    type Error = ApiError;
    type Future = Ready<Result<Single<P>, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Context::new(request, P::NAMES).and_then(|context| {
            context.refuse_collection_parameters()?;
            Ok(Single(context, PhantomData))
        }))
    }
}

impl FromRequest for Collection {
    type Error = ApiError;
    type Future = Ready<Result<Collection, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Context::new(request, &[]).map(Collection))
    }
}

/// The `{id}` of a URL naming a resource of type `R`. An id that cannot exist (for a numbered
/// resource, not a positive whole number) is simply not found, like an id that does not exist.
pub struct PathId<R: Resource> {
    pub id: R::Id,
}

impl<R: Resource> Clone for PathId<R> {
    fn clone(&self) -> Self {
        PathId {
            id: self.id.clone(),
        }
    }
}

impl<R: Resource> FromRequest for PathId<R> {
    type Error = ApiError;
    type Future = Ready<Result<PathId<R>, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let raw = request.match_info().get("id").unwrap_or_default();
        ready(
            R::Id::from_id(raw)
                .map(|id| PathId { id })
                .ok_or_else(|| R::not_found(raw)),
        )
    }
}

/// Scheme and authority of links: `BASE_URL` when configured, else the request's own.
fn base_of(request: &HttpRequest) -> String {
    let configured = request
        .app_data::<web::Data<AppState>>()
        .and_then(|state| state.base_url.clone());
    match configured {
        Some(base) => base,
        None => {
            let info = request.connection_info();
            format!("{}://{}", info.scheme(), info.host())
        }
    }
}

/// A link to `path` with the parameters of `query` that `keep` accepts, then `extra`, the
/// query percent-encoded (brackets are not allowed bare in a URI's query).
fn link(
    base: &str,
    path: &str,
    query: &str,
    keep: impl Fn(&str) -> bool,
    extra: &[(&str, &str)],
) -> String {
    let mut encoded = form_urlencoded::Serializer::new(String::new());
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        if keep(&name) {
            encoded.append_pair(&name, &value);
        }
    }
    encoded.extend_pairs(extra);
    let encoded = encoded.finish();
    if encoded.is_empty() {
        format!("{base}{path}")
    } else {
        format!("{base}{path}?{encoded}")
    }
}

/// Middleware: error documents get `links.self` too, like every other document. Handlers,
/// extractors, the 404 and 405 answers and content negotiation all fail with an
/// [`ApiError`]; it is written again here, where the request's URL is known.
pub async fn link_errors(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let response = next.call(request).await?;
    let error = response
        .response()
        .error()
        .and_then(|error| error.as_error::<ApiError>())
        .cloned();
    let Some(error) = error else {
        return Ok(response.map_into_left_body());
    };
    let http = response.request();
    let self_link = link(
        &base_of(http),
        http.path(),
        http.query_string(),
        |_| true,
        &[],
    );
    let mut rewritten = error.reply(&self_link).into_http();
    // What the error was, for the middleware outside (the metrics, the access log).
    rewritten.extensions_mut().insert(error);
    for (name, value) in response.headers() {
        if !rewritten.headers().contains_key(name) {
            rewritten.headers_mut().insert(name.clone(), value.clone());
        }
    }
    Ok(response.into_response(rewritten).map_into_right_body())
}
