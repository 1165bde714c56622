//! JSON:API error objects and the error type every handler returns.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::Value;

use super::document::Reply;
use super::media_type::{Extension, JSONAPI_MEDIA_TYPE};

/// Where in the request the problem is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A JSON Pointer into the request document (`/data/attributes/amount`).
    Pointer(String),
    /// A query parameter (`page[size]`).
    Parameter(String),
    /// A request header (`Content-Type`).
    Header(String),
}

/// One error object (jsonapi.org/format/#error-objects).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorObject {
    /// This occurrence's id, for a server error: the log line that explains it repeats it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The HTTP status, as a string.
    pub status: String,
    /// A stable, machine-readable name of the problem (`insufficient-funds`).
    pub code: &'static str,
    /// A short summary, the same for every occurrence of the code.
    pub title: &'static str,
    /// What exactly went wrong this time, and how to fix it.
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceObject>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub links: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<Value>,
}

/// `source` holds exactly one of pointer, parameter or header.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceObject(std::collections::BTreeMap<&'static str, String>);

impl From<Source> for SourceObject {
    fn from(source: Source) -> Self {
        let (key, value) = match source {
            Source::Pointer(p) => ("pointer", p),
            Source::Parameter(p) => ("parameter", p),
            Source::Header(h) => ("header", h),
        };
        SourceObject([(key, value)].into_iter().collect())
    }
}

impl ErrorObject {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> ErrorObject {
        ErrorObject {
            id: None,
            status: status.as_str().to_string(),
            code,
            title,
            detail: detail.into(),
            source: None,
            links: None,
            meta: None,
        }
    }

    pub fn status_code(&self) -> StatusCode {
        self.status
            .parse::<u16>()
            .ok()
            .and_then(|code| StatusCode::from_u16(code).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// One or more problems with a request, answered as a JSON:API error document.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub errors: Vec<ErrorObject>,
    /// Extra response headers (`Allow` on a 405).
    pub headers: Vec<(&'static str, String)>,
    /// The extension the request was processed under, if any: the error document is then
    /// of that extension's media type.
    pub extension: Option<&'static Extension>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> ApiError {
        ApiError {
            errors: vec![ErrorObject::new(status, code, title, detail)],
            headers: Vec::new(),
            extension: None,
        }
    }

    /// Several problems found in one request, answered together.
    pub fn many(errors: Vec<ErrorObject>) -> ApiError {
        assert!(!errors.is_empty(), "an error response needs an error");
        ApiError {
            errors,
            headers: Vec::new(),
            extension: None,
        }
    }

    /// All the problems of several errors, answered together.
    pub fn merge(errors: Vec<ApiError>) -> ApiError {
        let mut merged = ApiError::many(
            errors
                .iter()
                .flat_map(|error| error.errors.iter().cloned())
                .collect(),
        );
        merged.headers = errors.into_iter().flat_map(|error| error.headers).collect();
        merged
    }

    /// Sets where the (first) problem is.
    pub fn source(mut self, source: Source) -> ApiError {
        self.errors[0].source = Some(source.into());
        self
    }

    pub fn pointer(self, pointer: impl Into<String>) -> ApiError {
        self.source(Source::Pointer(pointer.into()))
    }

    pub fn parameter(self, parameter: impl Into<String>) -> ApiError {
        self.source(Source::Parameter(parameter.into()))
    }

    pub fn header(self, header: impl Into<String>) -> ApiError {
        self.source(Source::Header(header.into()))
    }

    /// Rewrites every `source.pointer` (of every problem) with `map`.
    pub fn map_pointers(mut self, map: impl Fn(&str) -> String) -> ApiError {
        for error in &mut self.errors {
            if let Some(SourceObject(source)) = &mut error.source
                && let Some(pointer) = source.get_mut("pointer")
            {
                *pointer = map(pointer);
            }
        }
        self
    }

    pub fn meta(mut self, meta: Value) -> ApiError {
        self.errors[0].meta = Some(meta);
        self
    }

    pub fn links(mut self, links: Value) -> ApiError {
        self.errors[0].links = Some(links);
        self
    }

    /// Answers the error under `extension` (its media type, `jsonapi.ext`).
    pub fn under(mut self, extension: &'static Extension) -> ApiError {
        self.extension = Some(extension);
        self
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> ApiError {
        self.headers.push((name, value.into()));
        self
    }

    // The errors this service answers, by status.

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, "Bad request", detail)
    }

    pub fn invalid_parameter(parameter: &str, detail: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-query-parameter",
            "Invalid query parameter",
            detail,
        )
        .parameter(parameter)
    }

    pub fn invalid_document(pointer: &str, detail: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-document",
            "Invalid request document",
            detail,
        )
        .pointer(pointer)
    }

    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, code, "Forbidden", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn method_not_allowed(method: &str, allowed: &'static str) -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            format!("{method} is not allowed here; allowed: {allowed}"),
        )
        .with_header("Allow", allowed)
    }

    pub fn conflict(
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code, title, detail)
    }

    pub fn invalid_attribute(pointer: &str, detail: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-attribute",
            "Invalid attribute",
            detail,
        )
        .pointer(pointer)
    }

    /// A bug of the server: `what` is logged with a fresh error id, which the error object
    /// carries so that a report can be matched with its log line.
    pub fn internal(what: impl std::fmt::Display) -> ApiError {
        let id = error_id();
        log::error!("internal error {id}: {what}");
        let mut error = ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal-error",
            "Internal server error",
            format!("The server could not complete the request; it logged why as error {id}."),
        );
        error.errors[0].id = Some(id);
        error
    }

    /// The status of the response: the errors' own when they agree; otherwise the most
    /// general one of their class (400 for mixed client errors, 500 for server errors).
    pub fn status(&self) -> StatusCode {
        let first = self.errors[0].status_code();
        if self.errors.iter().all(|e| e.status_code() == first) {
            first
        } else if self
            .errors
            .iter()
            .any(|e| e.status_code().is_server_error())
        {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::BAD_REQUEST
        }
    }

    /// The error document.
    pub fn document(&self) -> Value {
        let mut jsonapi = serde_json::json!({"version": "1.1"});
        if let Some(extension) = self.extension {
            jsonapi["ext"] = serde_json::json!([extension.uri]);
        }
        serde_json::json!({
            "errors": self.errors,
            "jsonapi": jsonapi,
        })
    }

    /// The response, its document carrying `links.self`.
    pub fn reply(&self, self_link: &str) -> Reply {
        let mut document = self.document();
        document["links"] = serde_json::json!({ "self": self_link });
        self.reply_with(&document)
    }

    fn reply_with(&self, document: &Value) -> Reply {
        Reply {
            status: self.status(),
            content_type: self.extension.map_or(JSONAPI_MEDIA_TYPE, |e| e.media_type),
            headers: self
                .headers
                .iter()
                .map(|(name, value)| (name.to_string(), value.clone()))
                .collect(),
            body: document.to_string(),
        }
    }
}

/// An id unique to this process's lifetime and unlikely to repeat across restarts: the
/// start time and a counter, in hex.
fn error_id() -> String {
    use std::sync::LazyLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static STARTED: LazyLock<u64> = LazyLock::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs())
    });
    static COUNT: AtomicU64 = AtomicU64::new(0);
    format!("{:x}-{:x}", *STARTED, COUNT.fetch_add(1, Ordering::Relaxed))
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for error in &self.errors {
            write!(f, "{} {}: {}; ", error.status, error.code, error.detail)?;
        }
        Ok(())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        self.reply_with(&self.document()).into_http()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_client_errors_answer_400() {
        let error = ApiError::many(vec![
            ErrorObject::new(StatusCode::UNPROCESSABLE_ENTITY, "a", "A", "a"),
            ErrorObject::new(StatusCode::FORBIDDEN, "b", "B", "b"),
        ]);
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
        let same = ApiError::many(vec![
            ErrorObject::new(StatusCode::UNPROCESSABLE_ENTITY, "a", "A", "a"),
            ErrorObject::new(StatusCode::UNPROCESSABLE_ENTITY, "b", "B", "b"),
        ]);
        assert_eq!(same.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }

    #[test]
    fn document_has_string_status_and_one_source_member() {
        let doc = ApiError::invalid_parameter("sort", "no such field").document();
        assert_eq!(doc["errors"][0]["status"], "400");
        assert_eq!(
            doc["errors"][0]["source"],
            serde_json::json!({"parameter": "sort"})
        );
        assert_eq!(doc["jsonapi"]["version"], "1.1");
    }
}
