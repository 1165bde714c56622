//! What operators and tools read, outside JSON:API: `GET /metrics` (Prometheus text format)
//! and `GET /openapi.json` (the API's OpenAPI 3.1 description, built from the route table:
//! `openapi.json` at the repository's root); and the middleware that counts every request for
//! the metrics.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};

use super::state::AppState;
use crate::metrics;

pub async fn scrape(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics::render(
            state.db.state(),
            state
                .writes
                .as_ref()
                .map(|writes| metrics::CoalescerCounts {
                    runs: writes.runs(),
                    waves: writes.waves().to_vec(),
                }),
            &state
                .reads
                .as_ref()
                .map(|reads| reads.counts())
                .unwrap_or_default(),
        ))
}

pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(super::openapi::text())
}

/// Counts the request under its route's pattern, with its status and how long it took.
pub async fn count_request(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = request.method().clone();
    let response = next.call(request).await?;
    let route = response.request().match_pattern();
    metrics::request(
        route.as_deref().unwrap_or("unmatched"),
        method.as_str(),
        response.status().as_u16(),
        started.elapsed(),
    );
    Ok(response)
}
