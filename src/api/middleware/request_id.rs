//! Every request's id and span (`trace`): taken from `X-Request-Id` when the client sends a
//! well-formed one (1 to 128 characters of `A-Z a-z 0-9 - _ . :`), else made fresh; returned in
//! the response's `X-Request-Id`, whatever the response.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;

use crate::trace::{self, Request};

/// The header that carries a request's id, both ways.
pub const HEADER: &str = "X-Request-Id";

/// Middleware, around everything but CORS: the request's id and span.
pub async fn identify(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = request
        .headers()
        .get(HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|id| trace::well_formed(id))
        .map_or_else(trace::fresh_id, str::to_string);
    let span = tracing::info_span!(
        "request",
        id = %id,
        method = %request.method(),
        path = %request.path(),
        key = tracing::field::Empty,
        batch = tracing::field::Empty,
    );
    let context = Request {
        id: Arc::from(id.as_str()),
        span,
    };
    let mut response = trace::scoped(context, next.call(request)).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-request-id"), value);
    }
    Ok(response)
}
