//! What operators and tools read, outside JSON:API: `GET /metrics` (Prometheus text format)
//! and `GET /openapi.json` (the API's OpenAPI 3.1 description, built from the route table:
//! `openapi.json` at the repository's root).

use actix_web::{HttpResponse, web};

use super::routes::Doc;
use super::state::AppState;
use crate::metrics;

pub const METRICS: Doc = Doc {
    summary: "Prometheus metrics (text format 0.0.4).",
    description: "Not a JSON:API document.",
    errors: &[],
    request: None,
    response: Some(concat!(
        r##""# HELP wallet_api_build_info The version and commit the service was built from (always 1)\n# TYPE wallet_api_build_info gauge\nwallet_api_build_info{commit=\"5f1c2e9a7b3d\",version=\""##,
        env!("CARGO_PKG_VERSION"),
        r##"\"} 1\n""##
    )),
};

pub const OPENAPI: Doc = Doc {
    summary: "This document.",
    description: "Not a JSON:API document.",
    errors: &[],
    request: None,
    response: Some(concat!(
        r#"{"openapi": "3.1.0", "info": {"title": "wallet-api", "version": ""#,
        env!("CARGO_PKG_VERSION"),
        r#""}}"#
    )),
};

pub async fn scrape(state: web::Data<AppState>) -> HttpResponse {
    // The endpoints' lag, from the database; without it (the database out of reach) the
    // rest is still served.
    match crate::db::run(&state.db, |conn| {
        crate::models::webhook_endpoint::lags(conn).map_err(crate::db::DbError::from)
    })
    .await
    {
        Ok(lags) => metrics::webhook_lags(&lags),
        Err(error) => tracing::warn!("metrics: the webhook endpoints' lag is unknown: {error}"),
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics::render(
            state.db.state(),
            state
                .writer
                .batches()
                .map(|batches| metrics::CoalescerCounts {
                    runs: batches.runs(),
                    waves: batches.waves().to_vec(),
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
