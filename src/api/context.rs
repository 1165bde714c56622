//! What every handler needs from a request: the shared state, the parsed query
//! parameters, and absolute links.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, web};

use crate::db::Pool;
use crate::jsonapi::ApiError;
use crate::jsonapi::document::Fieldsets;
use crate::jsonapi::query::QueryParams;

/// State shared by all workers.
pub struct AppState {
    pub pool: Pool,
    /// Scheme and authority for links, when configured (`BASE_URL`).
    pub base_url: Option<String>,
}

/// The fields of each resource type, for `fields[TYPE]`.
const TYPES: [(&str, &[&str]); 2] = [
    (
        "wallets",
        &["label", "balance", "createdAt", "updatedAt", "transactions"],
    ),
    ("transactions", &["txid", "amount", "createdAt", "wallet"]),
];

/// One request: its parameters, its sparse fieldsets, and how to write links.
pub struct Context {
    pub params: QueryParams,
    pub fieldsets: Fieldsets,
    base: String,
    path: String,
    query: String,
}

impl Context {
    pub fn new(request: &HttpRequest, state: &web::Data<AppState>) -> Result<Context, ApiError> {
        let params = QueryParams::parse(request.query_string())?;
        for (type_name, fields) in &params.fields {
            let parameter = format!("fields[{type_name}]");
            let (_, known) = TYPES
                .iter()
                .find(|(name, _)| name == type_name)
                .ok_or_else(|| {
                    ApiError::invalid_parameter(
                        &parameter,
                        format!(
                            "there is no resource type {type_name:?}; types: wallets, transactions"
                        ),
                    )
                })?;
            if let Some(unknown) = fields.iter().find(|field| !known.contains(&field.as_str())) {
                return Err(ApiError::invalid_parameter(
                    &parameter,
                    format!(
                        "{type_name} have no field {unknown:?}; fields: {}",
                        known.join(", ")
                    ),
                ));
            }
        }
        let base = base_of(request, state.base_url.as_deref());
        Ok(Context {
            fieldsets: Fieldsets(params.fields.clone()),
            params,
            base,
            path: request.path().to_string(),
            query: request.query_string().to_string(),
        })
    }

    /// The context of a request for one resource: collection parameters (`sort`, `filter`,
    /// `page`) are refused.
    pub fn single(request: &HttpRequest, state: &web::Data<AppState>) -> Result<Context, ApiError> {
        let context = Context::new(request, state)?;
        context.single_resource()?;
        Ok(context)
    }

    /// The absolute URL of a path on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The URL of this very request. Links are written with their query percent-encoded
    /// (`page%5Bsize%5D=5`): brackets are not allowed bare in a URI's query.
    pub fn self_link(&self) -> String {
        self.link_with(|_| true, &[])
    }

    /// This request's URL with its `page[...]` parameters replaced by `page`; every other
    /// parameter is kept.
    pub fn page_link(&self, page: &[(&str, String)]) -> String {
        let page: Vec<(String, &str)> = page
            .iter()
            .map(|(name, value)| (format!("page[{name}]"), value.as_str()))
            .collect();
        let page: Vec<(&str, &str)> = page.iter().map(|(n, v)| (n.as_str(), *v)).collect();
        self.link_with(|name| !name.starts_with("page["), &page)
    }

    fn link_with(&self, keep: impl Fn(&str) -> bool, extra: &[(&str, &str)]) -> String {
        link(&self.base, &self.path, &self.query, keep, extra)
    }

    /// Refuses `sort`, `filter` and `page` on an endpoint that returns a single resource.
    fn single_resource(&self) -> Result<(), ApiError> {
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

    /// Checks `include` against the relationships this endpoint can include; returns whether
    /// each of `allowed` was asked for.
    pub fn include(
        &self,
        allowed: &[&str],
        refused: &[(&str, &str)],
    ) -> Result<Vec<bool>, ApiError> {
        let asked = self.params.include.clone().unwrap_or_default();
        for path in &asked {
            if let Some((_, why)) = refused.iter().find(|(name, _)| name == path) {
                return Err(ApiError::invalid_parameter(
                    "include",
                    format!("include={path} is not supported: {why}"),
                ));
            }
            if !allowed.contains(&path.as_str()) {
                return Err(ApiError::invalid_parameter(
                    "include",
                    if allowed.is_empty() {
                        format!("include={path}: nothing can be included here")
                    } else {
                        format!(
                            "include={path}: no such relationship; can include: {}",
                            allowed.join(", ")
                        )
                    },
                ));
            }
        }
        Ok(allowed
            .iter()
            .map(|name| asked.iter().any(|path| path == name))
            .collect())
    }

    /// Whether `include` was given at all (then `included` must be present, maybe empty).
    pub fn include_given(&self) -> bool {
        self.params.include.is_some()
    }
}

/// Scheme and authority of links: `BASE_URL` when configured, else the request's own.
fn base_of(request: &HttpRequest, base_url: Option<&str>) -> String {
    match base_url {
        Some(base) => base.to_string(),
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
/// the 404 and 405 answers and content negotiation all fail with an [`ApiError`]; it is
/// written again here, where the request's URL is known.
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
    let base_url = http
        .app_data::<web::Data<AppState>>()
        .and_then(|state| state.base_url.clone());
    let self_link = link(
        &base_of(http, base_url.as_deref()),
        http.path(),
        http.query_string(),
        |_| true,
        &[],
    );
    let mut rewritten = error.response_with_self_link(&self_link);
    for (name, value) in response.headers() {
        if !rewritten.headers().contains_key(name) {
            rewritten.headers_mut().insert(name.clone(), value.clone());
        }
    }
    Ok(response.into_response(rewritten).map_into_right_body())
}

/// Parses the `{id}` segment of a URL; an id that cannot exist is simply not found.
pub fn path_id(request: &HttpRequest, not_found: fn(&str) -> ApiError) -> Result<i64, ApiError> {
    let raw = request.match_info().get("id").unwrap_or_default();
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| not_found(raw))
}
