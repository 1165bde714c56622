//! What every worker shares: the database, the write coalescer, the health check and the
//! settings the handlers read.

use std::sync::Arc;

use crate::api::auth::Authenticator;
use crate::api::health::HealthCheck;
use crate::db::Database;
use crate::db::coalesce::Coalescer;
use crate::jsonapi::ApiError;
use crate::jsonapi::document::Reply;
use crate::models::Booking;

/// State shared by all workers.
pub struct AppState {
    pub db: Database,
    /// Where creates wait to be run together, when coalescing is on (`COALESCE`).
    pub writes: Option<std::sync::Arc<Coalescer<Reply, ApiError, Booking>>>,
    pub health: HealthCheck,
    /// Who may call: the API keys in memory, their rate limits.
    pub auth: Arc<Authenticator>,
    /// How long a client has to send a request body (`HTTP_BODY_TIMEOUT`).
    pub body_timeout: std::time::Duration,
    /// Scheme and authority for links, when configured (`BASE_URL`).
    pub base_url: Option<String>,
    /// How long a stored `Idempotency-Key` response is replayed (`IDEMPOTENCY_TTL`).
    pub idempotency_ttl_seconds: i64,
}
