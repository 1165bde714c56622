//! Middleware around everything: each request counted for the metrics under its route's
//! pattern, its status and how long it took, told in the access log, and counted in the
//! instance's load (`/health`).

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;

use super::auth::{AUTHENTICATION_FAILURES_LIMITED, UNAUTHENTICATED};
use crate::api::errors::BUSY;
use crate::api::state::AppState;
use crate::jsonapi::ApiError;
use crate::metrics;

/// The error a response answers with, if it is one: as a handler or a middleware returned
/// it, or as `context::link_errors` wrote it again.
fn answered_with<B>(response: &ServiceResponse<B>) -> Option<ApiError> {
    let handled = response
        .response()
        .error()
        .and_then(|error| error.as_error::<ApiError>())
        .cloned();
    handled.or_else(|| response.response().extensions().get::<ApiError>().cloned())
}

/// Counts the request under its route's pattern, with its status and how long it took; logs
/// it (target `wallet_api::access`: the peer, the request line, the status, the time), but
/// for a refused authentication, which `auth` tallies per address instead (a flood of bad
/// secrets is one line per interval, not one per request).
pub async fn count_request(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = request.method().clone();
    let state = request.app_data::<web::Data<AppState>>().cloned();
    let line = tracing::enabled!(target: "wallet_api::access", tracing::Level::INFO).then(|| {
        let peer = request
            .peer_addr()
            .map_or_else(|| "-".to_string(), |peer| peer.ip().to_string());
        format!(
            "{peer} \"{method} {} {:?}\"",
            request.uri(),
            request.version()
        )
    });
    let response = next.call(request).await?;
    let error = answered_with(&response);
    let error = error.as_ref();
    if let Some(state) = state {
        state
            .load
            .record(error.is_some_and(|error| error.is(&BUSY)));
    }
    let refused = error.is_some_and(|error| {
        error.is(&UNAUTHENTICATED) || error.is(&AUTHENTICATION_FAILURES_LIMITED)
    });
    let took = started.elapsed();
    if let Some(line) = line
        && !refused
    {
        tracing::info!(
            target: "wallet_api::access",
            "{line} {} {:.1}ms",
            response.status().as_u16(),
            took.as_secs_f64() * 1000.0
        );
    }
    let route = response.request().match_pattern();
    metrics::request(
        route.as_deref().unwrap_or("unmatched"),
        method.as_str(),
        response.status().as_u16(),
        took,
    );
    Ok(response)
}
