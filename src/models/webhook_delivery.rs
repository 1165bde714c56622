//! Webhook deliveries: the log of what was sent to each endpoint (read only). One row per
//! event queued for an endpoint, pending until the endpoint answers 2xx (succeeded) or the
//! retry schedule is spent (failed); its last attempt's answer is kept beside it.

use chrono::{DateTime, Utc};
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;

use super::declare::resource;
use super::event::EVENT_TYPE_NAMES;
use crate::schema::webhook_deliveries;

/// Where a delivery stands.
pub const DELIVERY_STATUSES: &[&str] = &["pending", "succeeded", "failed"];

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = webhook_deliveries, check_for_backend(Pg))]
pub struct WebhookDelivery {
    pub id: i64,
    pub endpoint_id: i64,
    pub event_id: i64,
    pub wallet_id: i64,
    pub event_type: String,
    pub status: String,
    pub attempts: i64,
    pub response_status: Option<i64>,
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub latency_ms: Option<i64>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

resource! {
    /// The fields of a webhook delivery.
    WebhookDelivery in webhook_deliveries as "webhook-deliveries", fields WebhookDeliveryField {
        Id "id": id, id, read, sort, filter cmp, "The delivery's id.";
        EventType "eventType": event_type, choice(EVENT_TYPE_NAMES), read, nosort, filter eq,
            "Its event's type.";
        Status "status": status, choice(DELIVERY_STATUSES), read, nosort, filter eq,
            "pending: to be sent (again); succeeded: the endpoint answered 2xx; failed: every \
             attempt of the retry schedule failed.";
        Attempts "attempts": attempts, count, read, nosort, filter none,
            "How many times it was sent.";
        ResponseStatus "responseStatus": response_status, opt_count, read, nosort, filter none,
            "The HTTP status of the last attempt's answer; null when there was none.";
        ResponseBody "responseBody": response_body, opt_text, read, nosort, filter none,
            "The first 1 KB of the last attempt's answer.";
        Error "error": error, opt_text, read, nosort, filter none,
            "What went wrong short of an answer (a timeout, a refused connection or address).";
        LatencyMs "latencyMs": latency_ms, opt_count, read, nosort, filter none,
            "How long the last attempt took, in milliseconds.";
        NextAttemptAt "nextAttemptAt": next_attempt_at, opt_time, read, nosort, filter none,
            "When it is sent next, while pending (it also waits for its wallet's earlier \
             events to the endpoint).";
        LastAttemptAt "lastAttemptAt": last_attempt_at, opt_time, read, nosort, filter none,
            "When it was last sent.";
        CreatedAt "createdAt": created_at, time, read, sort, filter cmp,
            "When its event was queued for the endpoint.";
        Endpoint "endpoint": endpoint_id, to_one("webhook-endpoints"), read, nosort, filter cmp,
            "The endpoint it goes to.";
        Event "event": event_id, to_one("events"), read, nosort, filter cmp,
            "The event it carries (its id is the delivery's webhook-id).";
        Wallet "wallet": wallet_id, to_one("wallets"), read, nosort, filter cmp,
            "The wallet of its event.";
    }
}

/// Retention: removes the deliveries made before `before` that are done (succeeded or
/// failed); pending ones stay until they are.
pub fn prune(conn: &mut PgConnection, before: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(
        webhook_deliveries::table
            .filter(webhook_deliveries::created_at.lt(before))
            .filter(webhook_deliveries::status.ne("pending")),
    )
    .execute(conn)
}
