//! `GET /health`: 200 when the database answers, 503 within `HEALTH_TIMEOUT` when it does
//! not. `GET /health/live`: 200 while the process serves HTTP at all.
//!
//! The check never waits behind the request queue or the pool: it has its own connection,
//! used from a thread of its own, and answers 503 once its timeout passes whatever that
//! thread is still waiting for. `SELECT 1` takes no lock, so a locked table does not slow it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::web;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use serde_json::json;

use super::state::AppState;
use crate::db;
use crate::jsonapi::ApiError;
use crate::jsonapi::document::{Reply, respond};

/// The health check's own connection to the database.
pub struct HealthCheck {
    url: String,
    timeout: Duration,
    connection: Arc<Mutex<Option<PgConnection>>>,
}

impl HealthCheck {
    pub fn new(url: &str, timeout: Duration) -> HealthCheck {
        HealthCheck {
            url: db::named(url, "wallet-api health"),
            timeout,
            connection: Arc::new(Mutex::new(None)),
        }
    }

    /// Whether the database answers `SELECT 1` within the timeout.
    async fn database_answers(&self) -> bool {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let connection = self.connection.clone();
        let url = self.url.clone();
        let timeout = self.timeout;
        let spawned = std::thread::Builder::new()
            .name("health-check".into())
            .spawn(move || answer.send(ping(&connection, &url, timeout)));
        spawned.is_ok() && matches!(tokio::time::timeout(timeout, answered).await, Ok(Ok(true)))
    }
}

/// One `SELECT 1` on the check's connection, opened first if need be. A check still waiting
/// on the connection (the database stopped answering) makes the next ones fail at once
/// rather than pile up behind it.
fn ping(connection: &Mutex<Option<PgConnection>>, url: &str, timeout: Duration) -> bool {
    let Ok(mut slot) = connection.try_lock() else {
        return false;
    };
    if slot.is_none() {
        let Ok(mut opened) = db::connect(url, "wallet-api health") else {
            return false;
        };
        let limit = format!("SET statement_timeout = {}", timeout.as_millis());
        if opened.batch_execute(&limit).is_err() {
            return false;
        }
        *slot = Some(opened);
    }
    let answers = slot
        .as_mut()
        .is_some_and(|conn| conn.batch_execute("SELECT 1").is_ok());
    if !answers {
        *slot = None;
    }
    answers
}

pub async fn check(state: web::Data<AppState>) -> Result<Reply, ApiError> {
    if !state.health.database_answers().await {
        return Err(ApiError::from(db::DbError::Unavailable));
    }
    let pool = state.db.state();
    Ok(respond(
        StatusCode::OK,
        &json!({
            "meta": {
                "status": "ok",
                "database": "ok",
                "pool": {"open": pool.open, "idle": pool.idle, "max": pool.max, "waiting": pool.waiting},
            },
            "jsonapi": {"version": "1.1"},
        }),
    ))
}

pub async fn live() -> Reply {
    respond(
        StatusCode::OK,
        &json!({"meta": {"status": "ok"}, "jsonapi": {"version": "1.1"}}),
    )
}
