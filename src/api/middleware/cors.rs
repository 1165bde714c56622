//! CORS, so that pages of the configured origins (`CORS_ORIGINS`) may call the API from a
//! browser: preflights admit the headers clients send (`Authorization`, `Content-Type`,
//! `Accept`, `Idempotency-Key`, `Wallet-Api-Lsn`, `X-Request-Id`, and the W3C trace context's
//! `traceparent` and `tracestate`, which instrumented pages add), and responses expose those
//! clients read (`Location`, `Retry-After`, `Idempotent-Replayed`, the rate-limit headers,
//! `Wallet-Api-Lsn`, `X-Request-Id`). An origin not configured gets no CORS headers at all;
//! with none configured, nothing changes.

use actix_cors::Cors;
use actix_web::http::{Method, header};
use actix_web::middleware::Condition;

/// The CORS middleware for these origins: none when none are configured.
pub fn middleware(origins: &[String]) -> Condition<Cors> {
    Condition::new(!origins.is_empty(), cors(origins))
}

fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PATCH,
            Method::DELETE,
        ])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::HeaderName::from_static("idempotency-key"),
            header::HeaderName::from_static("wallet-api-lsn"),
            header::HeaderName::from_static("x-request-id"),
            header::HeaderName::from_static("traceparent"),
            header::HeaderName::from_static("tracestate"),
        ])
        .expose_headers([
            header::LOCATION,
            header::RETRY_AFTER,
            header::HeaderName::from_static("idempotent-replayed"),
            header::HeaderName::from_static("ratelimit"),
            header::HeaderName::from_static("ratelimit-policy"),
            header::HeaderName::from_static("wallet-api-lsn"),
            header::HeaderName::from_static("x-request-id"),
        ])
        .max_age(600);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}
