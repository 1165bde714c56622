//! `/webhook-endpoints`: where the events feed is delivered, for `admin` keys only. An
//! endpoint is created with its signing secret shown once (the 201's `meta.secret`); a PATCH
//! whose resource object's `meta` says `"rotateSecret": true` makes a new one, shown once in
//! the response's `meta.secret` (the old one signs beside it for 24 hours). Its URL is
//! checked against the service's network policy (`webhooks::address`) when written, and
//! again at every delivery.

use diesel::pg::PgConnection;
use serde_json::json;
use serde_json::value::RawValue;

use super::wallets::{WALLET_NOT_FOUND, wallets_exist};
use crate::api::handlers;
use crate::api::resource::{Example, Resource, Writable};
use crate::api::routes::Routes;
use crate::api::state::AppState;
use crate::codes;
use crate::jsonapi::ApiError;
use crate::jsonapi::error::{Code, INVALID_DOCUMENT};
use crate::models::Record;
use crate::models::webhook_endpoint::{
    EndpointUrl, NewWebhookEndpoint, NoSuchEvent, WebhookEndpoint, WebhookEndpointChanges,
};
use crate::webhooks::address::refusal;

codes! {
    pub WEBHOOK_ENDPOINT_NOT_FOUND = (NOT_FOUND, "webhook-endpoint-not-found",
        "Webhook endpoint not found", "no webhook endpoint has this id");
    pub URL_NOT_ALLOWED = (UNPROCESSABLE_ENTITY, "url-not-allowed", "URL not allowed",
        "the service does not send webhooks there: a plain http URL, or an address in its own \
         network (loopback, link-local, private, reserved), or a name that does not resolve");
    pub REPLAY_EVENT_NOT_FOUND = (UNPROCESSABLE_ENTITY, "replay-event-not-found",
        "Replay event not found", "replayFrom names an event the feed does not hold (not \
         written, not final yet, or past retention)");
}

/// The schema of what a created (or rotated) endpoint's document carries in its `meta`.
pub const SECRET_META: &str = r#"{"type": "object", "required": ["secret"], "additionalProperties": false,
    "properties": {"secret": {"type": "string", "pattern": "^whsec_[A-Za-z0-9+/]{43}=$",
        "description": "The endpoint's signing secret, shown this once (Standard Webhooks: whsec_ and base64 of 32 random bytes)."}}}"#;

/// The schema of the `meta` a PATCH's resource object may carry.
pub const UPDATE_META: &str = r#"{"type": "object", "properties": {"rotateSecret": {"type": "boolean",
    "description": "true: a new signing secret, shown once in the response's meta.secret; the old one signs beside it for 24 hours."}}}"#;

pub fn routes(routes: &mut Routes) {
    handlers::writable::<WebhookEndpoint>(routes);
}

impl Resource for WebhookEndpoint {
    const NOT_FOUND: &'static Code = &WEBHOOK_ENDPOINT_NOT_FOUND;
    const SINGULAR: &'static str = "webhook endpoint";
    const ADMIN_ONLY: bool = true;
    const EXAMPLE: &'static Example = &Example {
        shown: r#"{"id": "1", "url": "https://hooks.example.com/wallet-api",
            "eventTypes": ["balance.changed"], "description": "treasury",
            "status": "enabled", "disabledReason": null, "replayFrom": null,
            "createdAt": "2026-12-01T12:00:00Z", "updatedAt": "2026-12-01T12:00:00Z",
            "metadata": {"team": "treasury"}, "wallets": ["1"]}"#,
        create: r#"{"url": "https://hooks.example.com/wallet-api",
            "eventTypes": ["balance.changed"], "description": "treasury", "wallets": ["1"]}"#,
        update: r#"{"replayFrom": "2026-12-01T00:00:00Z"}"#,
        created_meta: Some(r#"{"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYo="}"#),
    };
}

impl Writable for WebhookEndpoint {
    const CREATED_META: Option<&'static str> = Some(SECRET_META);
    const UPDATE_META: Option<(&'static str, &'static str)> = Some((UPDATE_META, SECRET_META));
    const CREATE_ERRORS: &'static [&'static Code] = &[&URL_NOT_ALLOWED, &WALLET_NOT_FOUND];
    const UPDATE_ERRORS: &'static [&'static Code] = &[&URL_NOT_ALLOWED, &REPLAY_EVENT_NOT_FOUND];
    const NOT_ATOMIC: Option<&'static str> =
        Some("an endpoint's secret is shown once, in the response of its own POST");

    fn admit_new(new: &NewWebhookEndpoint, state: &AppState) -> Result<(), ApiError> {
        admit(&new.url, state)
    }

    fn admit_changes(changes: &WebhookEndpointChanges, state: &AppState) -> Result<(), ApiError> {
        changes.url.as_ref().map_or(Ok(()), |url| admit(url, state))
    }

    fn insert(
        conn: &mut PgConnection,
        new: &NewWebhookEndpoint,
    ) -> Result<WebhookEndpoint, ApiError> {
        if let Some(wallets) = &new.wallet_ids {
            wallets_exist(conn, wallets, "to deliver the events of")?;
        }
        let secret = crate::models::webhook_endpoint::new_secret();
        Ok(WebhookEndpoint::create(conn, new, &secret)?)
    }

    fn apply(
        conn: &mut PgConnection,
        &id: &i64,
        changes: &WebhookEndpointChanges,
    ) -> Result<Option<WebhookEndpoint>, ApiError> {
        match WebhookEndpoint::update(conn, id, changes)? {
            None => Ok(None),
            Some(Err(NoSuchEvent)) => Err(ApiError::new(
                &REPLAY_EVENT_NOT_FOUND,
                "replayFrom names an event the feed does not hold: give the id of an event \
                 GET /events lists, or a time",
            )
            .pointer("/data/attributes/replayFrom")),
            Some(Ok(())) => Ok(WebhookEndpoint::find(conn, &id)?),
        }
    }

    fn remove(conn: &mut PgConnection, &id: &i64) -> Result<bool, ApiError> {
        Ok(WebhookEndpoint::delete(conn, id)?)
    }

    fn created_meta(row: &WebhookEndpoint) -> Option<serde_json::Value> {
        Some(json!({"secret": row.secret}))
    }

    /// `"rotateSecret": true`: a new secret, shown once.
    fn update_actions(
        conn: &mut PgConnection,
        &id: &i64,
        meta: &[(String, Box<RawValue>)],
    ) -> Result<Option<serde_json::Value>, ApiError> {
        let Some((_, raw)) = meta.iter().find(|(name, _)| name == "rotateSecret") else {
            return Ok(None);
        };
        match serde_json::from_str::<bool>(raw.get()) {
            Ok(false) => Ok(None),
            Ok(true) => {
                Ok(WebhookEndpoint::rotate_secret(conn, id)?
                    .map(|secret| json!({"secret": secret})))
            }
            Err(_) => Err(ApiError::new(
                &INVALID_DOCUMENT,
                "rotateSecret is true (rotate the signing secret) or false",
            )
            .pointer("/data/meta/rotateSecret")),
        }
    }
}

/// Refuses a URL the service may not send to.
fn admit(url: &EndpointUrl, state: &AppState) -> Result<(), ApiError> {
    match refusal(&url.0, state.webhook_network) {
        Some(why) => Err(ApiError::new(&URL_NOT_ALLOWED, why).pointer("/data/attributes/url")),
        None => Ok(()),
    }
}
