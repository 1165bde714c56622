//! What every handler needs from a request: the shared state, the parsed query
//! parameters, and absolute links.

use actix_web::HttpRequest;
use actix_web::web;

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
        let base = match &state.base_url {
            Some(base) => base.clone(),
            None => {
                let info = request.connection_info();
                format!("{}://{}", info.scheme(), info.host())
            }
        };
        Ok(Context {
            fieldsets: Fieldsets(params.fields.clone()),
            params,
            base,
            path: request.path().to_string(),
            query: request.query_string().to_string(),
        })
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
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (name, value) in form_urlencoded::parse(self.query.as_bytes()) {
            if keep(&name) {
                query.append_pair(&name, &value);
            }
        }
        query.extend_pairs(extra);
        let query = query.finish();
        if query.is_empty() {
            self.url(&self.path)
        } else {
            format!("{}{}?{}", self.base, self.path, query)
        }
    }

    /// Refuses `sort`, `filter` and `page` on an endpoint that returns a single resource.
    pub fn single_resource(&self) -> Result<(), ApiError> {
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

/// Parses the `{id}` segment of a URL; an id that cannot exist is simply not found.
pub fn path_id(request: &HttpRequest, not_found: fn(&str) -> ApiError) -> Result<i64, ApiError> {
    let raw = request.match_info().get("id").unwrap_or_default();
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| not_found(raw))
}
