//! `GET /health`: 200 when the database answers, 503 when it does not.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::web;
use diesel::RunQueryDsl;
use serde_json::json;

use super::context::AppState;
use crate::jsonapi::ApiError;
use crate::jsonapi::document::{Reply, respond};

/// How long the check waits for a connection: a health check must answer quickly.
const TIMEOUT: Duration = Duration::from_secs(2);

pub async fn check(state: web::Data<AppState>) -> Result<Reply, ApiError> {
    let pool = state.pool.clone();
    let answered = web::block(move || {
        // After a database restart the pool may still hold dead connections; each failed
        // try drops one, so trying once per pooled connection reaches a live one.
        for _ in 0..=pool.max_size() {
            let Ok(mut conn) = pool.get_timeout(TIMEOUT) else {
                return false;
            };
            if diesel::sql_query("SELECT 1").execute(&mut conn).is_ok() {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    if !answered {
        return Err(ApiError::unavailable());
    }
    Ok(respond(
        StatusCode::OK,
        &json!({"meta": {"status": "ok", "database": "ok"}, "jsonapi": {"version": "1.1"}}),
    ))
}
