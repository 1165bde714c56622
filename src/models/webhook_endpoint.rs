//! Webhook endpoints: where the events feed is delivered (`webhooks`). An endpoint keeps its
//! signing secret (shown once, when made or rotated) and its own cursor in the feed
//! (`sql/57_webhooks.sql`); neither is one of its fields.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;

use super::declare::resource;
use super::event::EVENT_TYPE_NAMES;
use super::metadata::{METADATA_DOC, MetadataInput, merged};
use crate::domain::parse_time;
use crate::parse::{Accepts, Input, Parse, string_attribute};
use crate::schema::webhook_endpoints;

/// Where an endpoint stands.
pub const STATUSES: &[&str] = &["enabled", "disabled"];

/// What a signing secret starts with (the Standard Webhooks convention).
pub const SECRET_PREFIX: &str = "whsec_";

/// How long a rotated-out secret still signs beside the new one.
pub const ROTATION_OVERLAP: Duration = Duration::hours(24);

/// The longest URL an endpoint may have.
pub const MAX_URL: usize = 2048;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = webhook_endpoints, check_for_backend(Pg))]
pub struct WebhookEndpoint {
    pub id: i64,
    pub url: String,
    pub event_types: Vec<String>,
    pub wallet_ids: Vec<i64>,
    pub description: String,
    pub status: String,
    pub disabled_reason: Option<String>,
    pub replay_from: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub metadata: serde_json::Value,
    /// Its signing secret: never one of its fields (a created endpoint's document shows it
    /// once, in `meta`).
    pub secret: String,
}

resource! {
    /// The fields of a webhook endpoint.
    WebhookEndpoint in webhook_endpoints as "webhook-endpoints", fields WebhookEndpointField {
        Id "id": id, id, read, sort, filter cmp, "The endpoint's id.";
        Url "url": url, text, required(EndpointUrl), nosort, filter text,
            "Where events are POSTed: an https URL (http where the service allows it), never \
             one into the service's own network (loopback, link-local, private ranges, or a \
             name that resolves to one), checked again at every delivery.";
        EventTypes "eventTypes": event_types, words(EVENT_TYPE_NAMES), write(EventTypes), nosort, filter none,
            "The event types it receives; none: every type.";
        Description "description": description, text, write(Description), nosort, filter text,
            "What it is for (at most 1000 characters).";
        Status "status": status, choice(STATUSES), write(EndpointStatus), nosort, filter eq,
            "enabled: events are delivered; disabled: nothing is sent, and its place in the feed \
             waits (re-enabled, it goes on from there). The service disables an endpoint that \
             answers 410, or that failed every attempt for WEBHOOK_DISABLE_AFTER (5 days).";
        DisabledReason "disabledReason": disabled_reason, opt_text, read, nosort, filter none,
            "Why it is disabled (by a client, a 410, or days of failures); null while enabled.";
        ReplayFrom "replayFrom": replay_from, opt_text, update(ReplayPoint), nosort, filter none,
            "Set it to an RFC 3339 time or an event's id to deliver again every event from \
             there (each with its own webhook-id: a receiver drops the ones it had); shows the \
             last replay asked.";
        CreatedAt "createdAt": created_at, time, read, sort, filter cmp,
            "When it was created (set by the server).";
        UpdatedAt "updatedAt": updated_at, time, read, nosort, filter none,
            "When it last changed (set by the server).";
        Metadata "metadata": metadata, metadata, write(MetadataInput), nosort, filter keys,
            METADATA_DOC;
        Wallets "wallets": wallet_ids, to_many_ids("wallets"), create(Vec<i64>), nosort, filter none,
            "The wallets whose events it receives; none: every wallet's.";
    }
    input NewWebhookEndpoint, WebhookEndpointChanges;
}

/// An endpoint's URL as written: http or https, with a host, no credentials, no fragment.
/// Whether the service may send to it (https only? which addresses?) is the delivery's
/// policy (`webhooks::address`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointUrl(pub reqwest::Url);

impl Parse for EndpointUrl {
    const ACCEPTS: Accepts = Accepts::Text {
        min: 1,
        max: MAX_URL,
    };

    fn parse(input: Input<'_>) -> Result<EndpointUrl, String> {
        let text = string_attribute(input, "url")?;
        if text.len() > MAX_URL {
            return Err(format!("url is at most {MAX_URL} characters"));
        }
        let url = reqwest::Url::parse(&text).map_err(|error| {
            format!("url must be an absolute http or https URL ({error}), got {text:?}")
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "url must be an https (or http) URL, got the scheme {:?}",
                url.scheme()
            ));
        }
        if url.host().is_none() {
            return Err("url must name a host".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(
                "url may not carry credentials: authenticate the deliveries by their signature"
                    .into(),
            );
        }
        if url.fragment().is_some() {
            return Err("url may not have a fragment (#...): it is never sent".into());
        }
        Ok(EndpointUrl(url))
    }
}

/// The event types an endpoint wants: each a known type, once; none means all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTypes(pub Vec<String>);

impl Parse for EventTypes {
    const ACCEPTS: Accepts = Accepts::SomeWords(EVENT_TYPE_NAMES);

    fn parse(input: Input<'_>) -> Result<EventTypes, String> {
        let words: Vec<String> = match input {
            Input::Attribute(raw) => serde_json::from_str(raw.get())
                .map_err(|_| "eventTypes is an array of event types".to_string())?,
            _ => return Err("eventTypes is an attribute".into()),
        };
        for (i, word) in words.iter().enumerate() {
            if !EVENT_TYPE_NAMES.contains(&word.as_str()) {
                return Err(format!(
                    "{word:?} is not an event type; the types: {}",
                    EVENT_TYPE_NAMES.join(", ")
                ));
            }
            if words[..i].contains(word) {
                return Err(format!("the event type {word:?} is given twice"));
            }
        }
        Ok(EventTypes(words))
    }
}

/// What an endpoint is for: at most 1000 characters, no NUL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description(pub String);

impl Parse for Description {
    const ACCEPTS: Accepts = Accepts::Text { min: 0, max: 1000 };

    fn parse(input: Input<'_>) -> Result<Description, String> {
        let text = string_attribute(input, "description")?;
        if text.chars().count() > 1000 || text.contains('\0') {
            return Err("description is at most 1000 characters, without NUL".into());
        }
        Ok(Description(text))
    }
}

/// `status` as a client sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointStatus(pub &'static str);

impl Parse for EndpointStatus {
    const ACCEPTS: Accepts = Accepts::Choice(STATUSES);

    fn parse(input: Input<'_>) -> Result<EndpointStatus, String> {
        let text = string_attribute(input, "status")?;
        STATUSES
            .iter()
            .find(|word| **word == text)
            .map(|word| EndpointStatus(word))
            .ok_or_else(|| format!("status is enabled or disabled, got {text:?}"))
    }
}

/// Where a replay starts: a time, or an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayPoint {
    At(DateTime<Utc>),
    Event(i64),
}

impl ReplayPoint {
    fn text(&self) -> String {
        match self {
            ReplayPoint::At(time) => crate::domain::timestamp(time),
            ReplayPoint::Event(id) => id.to_string(),
        }
    }
}

impl Parse for ReplayPoint {
    const ACCEPTS: Accepts = Accepts::Text { min: 1, max: 40 };

    fn parse(input: Input<'_>) -> Result<ReplayPoint, String> {
        let text = string_attribute(input, "replayFrom")?;
        if let Some(time) = parse_time(&text) {
            return Ok(ReplayPoint::At(time));
        }
        match text.parse::<i64>() {
            Ok(id) if id > 0 && text.bytes().all(|b| b.is_ascii_digit()) => {
                Ok(ReplayPoint::Event(id))
            }
            _ => Err(format!(
                "replayFrom is an RFC 3339 time or an event's id, got {text:?}"
            )),
        }
    }
}

/// A new signing secret: `whsec_` and 32 random bytes, base64.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's randomness");
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

/// The replay that found no event to start from.
#[derive(Debug)]
pub struct NoSuchEvent;

diesel::define_sql_function! {
    /// `webhook_replay(endpoint, at, event)` (`sql/57_webhooks.sql`).
    fn webhook_replay(
        endpoint: diesel::sql_types::Int8,
        at: diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
        event: diesel::sql_types::Nullable<diesel::sql_types::Int8>,
    ) -> diesel::sql_types::Bool;
}

impl WebhookEndpoint {
    /// Creates the endpoint with `secret`; the database starts its cursor at the feed's end.
    pub fn create(
        conn: &mut PgConnection,
        new: &NewWebhookEndpoint,
        secret: &str,
    ) -> QueryResult<WebhookEndpoint> {
        let status = new.status.map_or("enabled", |status| status.0);
        diesel::insert_into(webhook_endpoints::table)
            .values((
                webhook_endpoints::url.eq(new.url.0.as_str()),
                webhook_endpoints::event_types
                    .eq(new.event_types.as_ref().map_or(&[][..], |t| &t.0[..])),
                webhook_endpoints::wallet_ids.eq(new.wallet_ids.as_deref().unwrap_or_default()),
                webhook_endpoints::description
                    .eq(new.description.as_ref().map_or("", |d| d.0.as_str())),
                webhook_endpoints::status.eq(status),
                webhook_endpoints::disabled_reason
                    .eq((status == "disabled").then_some("disabled by a client")),
                webhook_endpoints::secret.eq(secret),
                // Set by the database (webhook_endpoints_start).
                webhook_endpoints::queued_position.eq(0),
                webhook_endpoints::queued_id.eq(0),
                webhook_endpoints::metadata.eq(new
                    .metadata
                    .as_ref()
                    .map_or_else(|| serde_json::json!({}), MetadataInput::object)),
            ))
            .returning(WebhookEndpoint::as_returning())
            .get_result(conn)
    }

    /// Applies `changes` to endpoint `id` (its row locked); `Err(NoSuchEvent)` inside `Ok`
    /// when a replay names an event the feed does not hold. `None`: no such endpoint.
    pub fn update(
        conn: &mut PgConnection,
        id: i64,
        changes: &WebhookEndpointChanges,
    ) -> QueryResult<Option<Result<(), NoSuchEvent>>> {
        let Some(_) = webhook_endpoints::table
            .find(id)
            .select(webhook_endpoints::id)
            .for_update()
            .first::<i64>(conn)
            .optional()?
        else {
            return Ok(None);
        };
        let target = webhook_endpoints::table.find(id);
        if let Some(url) = &changes.url {
            diesel::update(target)
                .set(webhook_endpoints::url.eq(url.0.as_str()))
                .execute(conn)?;
        }
        if let Some(types) = &changes.event_types {
            diesel::update(target)
                .set(webhook_endpoints::event_types.eq(&types.0))
                .execute(conn)?;
        }
        if let Some(description) = &changes.description {
            diesel::update(target)
                .set(webhook_endpoints::description.eq(&description.0))
                .execute(conn)?;
        }
        if let Some(status) = changes.status {
            // Re-enabled: its failures so far are forgiven.
            let reason = (status.0 == "disabled").then_some("disabled by a client");
            diesel::update(target.filter(webhook_endpoints::status.ne(status.0)))
                .set((
                    webhook_endpoints::status.eq(status.0),
                    webhook_endpoints::disabled_reason.eq(reason),
                    webhook_endpoints::failing_since.eq(None::<DateTime<Utc>>),
                ))
                .execute(conn)?;
        }
        if let Some(patch) = &changes.metadata {
            diesel::update(target)
                .set(webhook_endpoints::metadata.eq(merged!(webhook_endpoints::metadata, patch)))
                .execute(conn)?;
        }
        if let Some(point) = &changes.replay_from {
            let (at, event) = match point {
                ReplayPoint::At(time) => (Some(*time), None),
                ReplayPoint::Event(id) => (None, Some(*id)),
            };
            if !diesel::select(webhook_replay(id, at, event)).get_result::<bool>(conn)? {
                return Ok(Some(Err(NoSuchEvent)));
            }
            diesel::update(target)
                .set(webhook_endpoints::replay_from.eq(point.text()))
                .execute(conn)?;
        }
        diesel::update(target)
            .set(webhook_endpoints::updated_at.eq(diesel::dsl::now))
            .execute(conn)?;
        Ok(Some(Ok(())))
    }

    /// A new secret for endpoint `id`; the old one signs beside it for [`ROTATION_OVERLAP`].
    /// `None`: no such endpoint.
    pub fn rotate_secret(conn: &mut PgConnection, id: i64) -> QueryResult<Option<String>> {
        let secret = new_secret();
        let rotated = diesel::update(webhook_endpoints::table.find(id))
            .set((
                webhook_endpoints::previous_secret.eq(webhook_endpoints::secret.nullable()),
                webhook_endpoints::previous_secret_until.eq(Some(Utc::now() + ROTATION_OVERLAP)),
                webhook_endpoints::secret.eq(&secret),
                webhook_endpoints::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        Ok((rotated == 1).then_some(secret))
    }

    pub fn delete(conn: &mut PgConnection, id: i64) -> QueryResult<bool> {
        Ok(diesel::delete(webhook_endpoints::table.find(id)).execute(conn)? == 1)
    }
}

/// Each enabled endpoint's lag in seconds (the view `webhook_endpoint_lag`).
pub fn lags(conn: &mut PgConnection) -> QueryResult<Vec<(i64, f64)>> {
    #[derive(QueryableByName)]
    struct Lag {
        #[diesel(sql_type = diesel::sql_types::Int8)]
        endpoint_id: i64,
        #[diesel(sql_type = diesel::sql_types::Double)]
        lag_seconds: f64,
    }
    let rows: Vec<Lag> = diesel::sql_query(
        "SELECT endpoint_id, lag_seconds FROM webhook_endpoint_lag ORDER BY endpoint_id",
    )
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| (row.endpoint_id, row.lag_seconds))
        .collect())
}
