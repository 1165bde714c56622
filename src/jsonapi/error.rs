//! JSON:API error objects, the error type every handler returns, and the catalogue of the
//! problems the protocol itself reports.
//!
//! Every problem has a [`Code`]: its HTTP status, a stable machine-readable name and a title,
//! declared once as a `static`, where it belongs (the protocol's below, the application's
//! beside the handlers that answer them). Error objects point at their code, so the status is
//! never a string to parse back, and control flow asks `error.is(&CODE)` instead of comparing
//! rendered names. The OpenAPI document lists the codes each operation can answer.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use super::document::Reply;
use super::media_type::{Extension, JSONAPI_MEDIA_TYPE};

/// One kind of problem: what a client matches on. Two codes are equal when they are the same
/// `static`.
#[derive(Debug)]
pub struct Code {
    pub status: StatusCode,
    /// A stable, machine-readable name (`insufficient-funds`).
    pub name: &'static str,
    /// A short summary, the same for every occurrence.
    pub title: &'static str,
    /// When it is answered, for the documentation.
    pub when: &'static str,
}

impl PartialEq for Code {
    fn eq(&self, other: &Code) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for Code {}

/// Declares codes as statics: `NAME = (status, "name", "Title", "when it is answered");`.
#[macro_export]
macro_rules! codes {
    ($( $(#[$meta:meta])* $vis:vis $ident:ident = ($status:ident, $name:literal, $title:literal, $when:literal); )+) => {
        $(
            $(#[$meta])*
            $vis static $ident: $crate::jsonapi::error::Code = $crate::jsonapi::error::Code {
                status: actix_web::http::StatusCode::$status,
                name: $name,
                title: $title,
                when: $when,
            };
        )+
    };
}

codes! {
    pub INVALID_JSON = (BAD_REQUEST, "invalid-json", "Invalid JSON", "the request body is not JSON");
    pub EMPTY_BODY = (BAD_REQUEST, "empty-body", "Empty body", "a request that needs a document has an empty body");
    pub UNREADABLE_BODY = (BAD_REQUEST, "unreadable-body", "Unreadable body", "the request body could not be read");
    pub INVALID_DOCUMENT = (BAD_REQUEST, "invalid-document", "Invalid request document",
        "the document is JSON but not of the shape JSON:API asks for (source.pointer names where)");
    pub INVALID_QUERY_PARAMETER = (BAD_REQUEST, "invalid-query-parameter", "Invalid query parameter",
        "an unknown, repeated or malformed query parameter (source.parameter names it)");
    pub CLIENT_GENERATED_ID = (FORBIDDEN, "client-generated-id", "Client-generated id",
        "a create that gives an id: the server assigns ids");
    pub READ_ONLY_FIELD = (FORBIDDEN, "read-only-field", "Read-only field",
        "a write of a member clients may read but not write");
    pub READ_ONLY_RESOURCE = (FORBIDDEN, "read-only-resource", "Read-only resource",
        "a write of a resource type clients only read");
    pub NOT_DELETABLE = (FORBIDDEN, "not-deletable", "Not deletable",
        "a DELETE of a resource type that is never deleted (the detail says what to do instead)");
    pub READ_ONLY_RELATIONSHIP = (FORBIDDEN, "read-only-relationship", "Read-only relationship",
        "a write of a relationship clients cannot change here");
    pub NOT_FOUND = (NOT_FOUND, "not-found", "Not found", "no such URL or resource type");
    pub METHOD_NOT_ALLOWED = (METHOD_NOT_ALLOWED, "method-not-allowed", "Method not allowed",
        "a method the URL does not serve (the Allow header lists those it does)");
    pub NOT_ACCEPTABLE = (NOT_ACCEPTABLE, "not-acceptable", "Not acceptable",
        "Accept names JSON:API only with parameters or extensions the URL does not support");
    pub BODY_TIMEOUT = (REQUEST_TIMEOUT, "body-timeout", "Request timeout",
        "the request body did not arrive in time; the connection is closed");
    pub TYPE_MISMATCH = (CONFLICT, "type-mismatch", "Type mismatch",
        "a document's type does not match the endpoint or the relationship");
    pub ID_MISMATCH = (CONFLICT, "id-mismatch", "Id mismatch",
        "a document names another resource than the URL");
    pub PAYLOAD_TOO_LARGE = (PAYLOAD_TOO_LARGE, "payload-too-large", "Payload too large",
        "the request body is too large");
    pub TOO_MANY_OPERATIONS = (PAYLOAD_TOO_LARGE, "too-many-operations", "Too many operations",
        "more atomic operations than one request may hold");
    pub UNSUPPORTED_MEDIA_TYPE = (UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "Unsupported media type",
        "a body not sent as JSON:API, or with parameters or extensions the URL does not support");
    pub INVALID_ATTRIBUTE = (UNPROCESSABLE_ENTITY, "invalid-attribute", "Invalid attribute",
        "a value that cannot be accepted (source.pointer names it)");
    pub MISSING_FIELD = (UNPROCESSABLE_ENTITY, "missing-field", "Missing field",
        "a required member is missing");
    pub UNKNOWN_FIELD = (UNPROCESSABLE_ENTITY, "unknown-field", "Unknown field",
        "a member the resource does not have");
    pub INTERNAL_ERROR = (INTERNAL_SERVER_ERROR, "internal-error", "Internal server error",
        "a bug, never the client's input: the error's id is repeated in the server's log");
}

/// Where in the request the problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A JSON Pointer into the request document (`/data/attributes/amount`).
    Pointer(String),
    /// A query parameter (`page[size]`).
    Parameter(String),
    /// A request header (`Content-Type`).
    Header(String),
}

/// One error object (jsonapi.org/format/#error-objects).
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorObject {
    /// This occurrence's id, for a server error: the log line that explains it repeats it.
    id: Option<String>,
    code: &'static Code,
    /// What exactly went wrong this time, and how to fix it.
    detail: String,
    source: Option<Source>,
    links: Option<Value>,
    meta: Option<Value>,
}

impl ErrorObject {
    pub fn new(code: &'static Code, detail: impl Into<String>) -> ErrorObject {
        ErrorObject {
            id: None,
            code,
            detail: detail.into(),
            source: None,
            links: None,
            meta: None,
        }
    }

    pub fn code(&self) -> &'static Code {
        self.code
    }

    pub fn detail(&self) -> &str {
        &self.detail
    }

    pub fn source(&self) -> Option<&Source> {
        self.source.as_ref()
    }

    pub fn meta(&self) -> Option<&Value> {
        self.meta.as_ref()
    }
}

impl Serialize for ErrorObject {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Some(id) = &self.id {
            map.serialize_entry("id", id)?;
        }
        map.serialize_entry("status", self.code.status.as_str())?;
        map.serialize_entry("code", self.code.name)?;
        map.serialize_entry("title", self.code.title)?;
        map.serialize_entry("detail", &self.detail)?;
        if let Some(source) = &self.source {
            let (key, value) = match source {
                Source::Pointer(p) => ("pointer", p),
                Source::Parameter(p) => ("parameter", p),
                Source::Header(h) => ("header", h),
            };
            map.serialize_entry("source", &serde_json::json!({ key: value }))?;
        }
        if let Some(links) = &self.links {
            map.serialize_entry("links", links)?;
        }
        if let Some(meta) = &self.meta {
            map.serialize_entry("meta", meta)?;
        }
        map.end()
    }
}

/// One or more problems with a request, answered as a JSON:API error document. It always
/// holds at least one error object.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// Boxed: an `ApiError` travels in every `Result` of the request path.
    first: Box<ErrorObject>,
    more: Vec<ErrorObject>,
    /// Extra response headers (`Allow` on a 405).
    headers: Vec<(&'static str, String)>,
    /// The extension the request was processed under, if any: the error document is then
    /// of that extension's media type.
    extension: Option<&'static Extension>,
}

impl ApiError {
    pub fn new(code: &'static Code, detail: impl Into<String>) -> ApiError {
        ApiError {
            first: Box::new(ErrorObject::new(code, detail)),
            more: Vec::new(),
            headers: Vec::new(),
            extension: None,
        }
    }

    /// All the problems of `first` and `rest`, answered together.
    pub fn merge(first: ApiError, rest: impl IntoIterator<Item = ApiError>) -> ApiError {
        let mut merged = first;
        for error in rest {
            merged.more.push(*error.first);
            merged.more.extend(error.more);
            merged.headers.extend(error.headers);
        }
        merged
    }

    /// Every problem, the first first.
    pub fn errors(&self) -> impl Iterator<Item = &ErrorObject> {
        std::iter::once(&*self.first).chain(&self.more)
    }

    fn errors_mut(&mut self) -> impl Iterator<Item = &mut ErrorObject> {
        std::iter::once(&mut *self.first).chain(&mut self.more)
    }

    /// The first problem.
    pub fn first(&self) -> &ErrorObject {
        &self.first
    }

    /// Whether any of the problems is of this kind.
    pub fn is(&self, code: &Code) -> bool {
        self.errors().any(|error| error.code == code)
    }

    /// Sets where the first problem is.
    pub fn source(mut self, source: Source) -> ApiError {
        self.first.source = Some(source);
        self
    }

    pub fn has_source(&self) -> bool {
        self.first.source.is_some()
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
        for error in self.errors_mut() {
            if let Some(Source::Pointer(pointer)) = &mut error.source {
                *pointer = map(pointer);
            }
        }
        self
    }

    pub fn meta(mut self, meta: Value) -> ApiError {
        self.first.meta = Some(meta);
        self
    }

    pub fn links(mut self, links: Value) -> ApiError {
        self.first.links = Some(links);
        self
    }

    /// Answers the error under `extension` (its media type, `jsonapi.ext`).
    pub fn under(mut self, extension: &'static Extension) -> ApiError {
        self.extension = Some(extension);
        self
    }

    /// The extension the error is answered under.
    pub fn extension(&self) -> Option<&'static Extension> {
        self.extension
    }

    /// This error answered under the same extension as `other`.
    pub fn as_answer_to(mut self, other: &ApiError) -> ApiError {
        self.extension = other.extension;
        self
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> ApiError {
        self.headers.push((name, value.into()));
        self
    }

    pub fn headers(&self) -> &[(&'static str, String)] {
        &self.headers
    }

    // The protocol's own errors.

    pub fn invalid_parameter(parameter: &str, detail: impl Into<String>) -> ApiError {
        ApiError::new(&INVALID_QUERY_PARAMETER, detail).parameter(parameter)
    }

    pub fn invalid_document(pointer: &str, detail: impl Into<String>) -> ApiError {
        ApiError::new(&INVALID_DOCUMENT, detail).pointer(pointer)
    }

    pub fn invalid_attribute(pointer: &str, detail: impl Into<String>) -> ApiError {
        ApiError::new(&INVALID_ATTRIBUTE, detail).pointer(pointer)
    }

    pub fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError::new(&NOT_FOUND, detail)
    }

    pub fn method_not_allowed(method: &str, allowed: &str) -> ApiError {
        ApiError::new(
            &METHOD_NOT_ALLOWED,
            format!("{method} is not allowed here; allowed: {allowed}"),
        )
        .with_header("Allow", allowed)
    }

    /// A bug of the server: `what` is logged under an error id, which the error object
    /// carries so that a report can be matched with its log line: the id of the request it
    /// happened in (`X-Request-Id`), or a fresh one outside a request.
    pub fn internal(what: impl std::fmt::Display) -> ApiError {
        let id = crate::trace::current_id().map_or_else(error_id, |id| id.to_string());
        tracing::error!(error_id = %id, "internal error {id}: {what}");
        let mut error = ApiError::new(
            &INTERNAL_ERROR,
            format!("The server could not complete the request; it logged why as error {id}."),
        );
        error.first.id = Some(id);
        error
    }

    /// The status of the response: the errors' own when they agree; otherwise the most
    /// general one of their class (400 for mixed client errors, 500 for server errors).
    pub fn status(&self) -> StatusCode {
        let first = self.first.code.status;
        if self.errors().all(|e| e.code.status == first) {
            first
        } else if self.errors().any(|e| e.code.status.is_server_error()) {
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
        let errors: Vec<&ErrorObject> = self.errors().collect();
        serde_json::json!({
            "errors": errors,
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
        for error in self.errors() {
            write!(
                f,
                "{} {}: {}; ",
                error.code.status.as_str(),
                error.code.name,
                error.detail
            )?;
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

    codes! {
        A = (UNPROCESSABLE_ENTITY, "a", "A", "a");
        B = (FORBIDDEN, "b", "B", "b");
        C = (UNPROCESSABLE_ENTITY, "c", "C", "c");
    }

    #[test]
    fn mixed_client_errors_answer_400() {
        let mixed = ApiError::merge(ApiError::new(&A, "a"), [ApiError::new(&B, "b")]);
        assert_eq!(mixed.status(), StatusCode::BAD_REQUEST);
        let same = ApiError::merge(ApiError::new(&A, "a"), [ApiError::new(&C, "c")]);
        assert_eq!(same.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(same.is(&C) && !same.is(&B));
        assert_eq!(same.errors().count(), 2);
    }

    #[test]
    fn codes_are_equal_only_to_themselves() {
        assert_eq!(&A, &A);
        assert_ne!(&A, &C, "same status, another code");
    }

    #[test]
    fn document_has_string_status_and_one_source_member() {
        let doc = ApiError::invalid_parameter("sort", "no such field").document();
        assert_eq!(doc["errors"][0]["status"], "400");
        assert_eq!(doc["errors"][0]["code"], "invalid-query-parameter");
        assert_eq!(doc["errors"][0]["title"], "Invalid query parameter");
        assert_eq!(
            doc["errors"][0]["source"],
            serde_json::json!({"parameter": "sort"})
        );
        assert_eq!(doc["jsonapi"]["version"], "1.1");
    }
}
