//! The deliverer: a thread of its own with one database connection, which claims endpoints
//! (a session advisory lock each), queues what each endpoint's cursor reads of the feed, and
//! sends the due deliveries.
//!
//! Order: only the oldest pending delivery of each wallet (its head) is sent, so a wallet's
//! events reach an endpoint in feed order, which is the wallet's `walletSequence` order. A
//! failing event holds back its own wallet's later events and nothing else; the head-of-line
//! blocking is bounded by the retry schedule (after its last attempt a delivery is marked
//! failed and its wallet goes on), and by `WEBHOOK_QUEUE` pending deliveries per endpoint,
//! past which the endpoint reads no further in the feed until some are delivered (its cursor
//! waits; nothing is lost).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text, Timestamptz};
use serde_json::json;

use super::address::{GuardedResolver, Network, literal_refusal};
use super::schedule::{Schedule, random};
use super::signing;
use crate::api::context::Context;
use crate::api::resource::object;
use crate::db;
use crate::domain::timestamp;
use crate::metrics;
use crate::models::Event;
use crate::schema::events_feed;

/// How the deliveries go.
#[derive(Debug, Clone)]
pub struct Settings {
    pub network: Network,
    /// How long an endpoint has to answer.
    pub timeout: Duration,
    pub schedule: Schedule,
    /// How long an endpoint may fail every attempt before it is disabled.
    pub disable_after: Duration,
    /// How often an idle deliverer looks for work.
    pub poll: Duration,
    /// How many deliveries to one endpoint are in flight at once (each of another wallet).
    pub concurrency: usize,
    /// How many pending deliveries an endpoint may have before it stops reading the feed.
    pub queue: i64,
    /// The links' base in the bodies (`BASE_URL`; relative links without it).
    pub base_url: String,
}

/// The most events one queueing reads of the feed.
const READ_AT_ONCE: i32 = 500;
/// The most bytes of an answer's body kept in the log.
const BODY_KEPT: usize = 1024;

/// Starts the deliverer on a thread of its own; it stops soon after `stop` is set.
pub fn start(database_url: &str, settings: Settings, stop: Arc<AtomicBool>) -> std::io::Result<()> {
    let url = database_url.to_string();
    std::thread::Builder::new()
        .name("webhooks".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    tracing::error!("webhooks: cannot start the deliverer: {error}");
                    return;
                }
            };
            runtime.block_on(Deliverer::new(url, settings, stop).run());
        })
        .map(drop)
}

struct Deliverer {
    url: String,
    settings: Settings,
    stop: Arc<AtomicBool>,
    client: reqwest::Client,
    conn: Option<PgConnection>,
    /// The endpoints whose advisory locks this connection holds.
    claimed: BTreeSet<i64>,
}

/// An endpoint as its deliveries need it.
#[derive(QueryableByName)]
struct Target {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    url: String,
    #[diesel(sql_type = Text)]
    secret: String,
    #[diesel(sql_type = Nullable<Text>)]
    previous_secret: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    failing_since: Option<DateTime<Utc>>,
}

/// A delivery due now: the head of its wallet's queue.
#[derive(QueryableByName)]
struct Due {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    event_id: i64,
    #[diesel(sql_type = BigInt)]
    attempts: i64,
}

/// What one attempt got.
#[derive(Debug)]
struct Outcome {
    delivery: i64,
    attempts: i64,
    status: Option<u16>,
    body: Option<String>,
    error: Option<String>,
    latency: Duration,
    retry_after: Option<Duration>,
}

impl Outcome {
    fn succeeded(&self) -> bool {
        self.status
            .is_some_and(|status| (200..300).contains(&status))
    }
}

impl Deliverer {
    fn new(url: String, settings: Settings, stop: Arc<AtomicBool>) -> Deliverer {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(GuardedResolver::shared(settings.network))
            .user_agent(concat!(
                "wallet-api/",
                env!("CARGO_PKG_VERSION"),
                " (webhooks)"
            ))
            .pool_max_idle_per_host(settings.concurrency)
            .build()
            .expect("an HTTP client");
        Deliverer {
            url,
            settings,
            stop,
            client,
            conn: None,
            claimed: BTreeSet::new(),
        }
    }

    async fn run(mut self) {
        while !self.stop.load(Ordering::Relaxed) {
            match self.round().await {
                Ok(true) => continue,
                Ok(false) => tokio::time::sleep(self.settings.poll).await,
                Err(error) => {
                    // The connection, and with it every claim, is gone or suspect: start over.
                    tracing::warn!("webhooks: {error:#}; reconnecting");
                    self.conn = None;
                    self.claimed.clear();
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    fn conn(&mut self) -> anyhow::Result<&mut PgConnection> {
        if self.conn.is_none() {
            self.conn = Some(db::connect(&self.url, "wallet-api webhooks")?);
        }
        Ok(self.conn.as_mut().expect("connected"))
    }

    /// Claims what it can, then serves each endpoint it holds once; whether there was work.
    async fn round(&mut self) -> anyhow::Result<bool> {
        self.claim()?;
        let mut busy = false;
        for id in self.claimed.clone() {
            busy |= self.serve(id).await?;
        }
        Ok(busy)
    }

    /// Takes the advisory lock of every enabled endpoint no one holds, and lets go of those
    /// that are gone or disabled.
    fn claim(&mut self) -> anyhow::Result<()> {
        #[derive(QueryableByName)]
        struct Claim {
            #[diesel(sql_type = BigInt)]
            id: i64,
        }
        let held: Vec<i64> = self.claimed.iter().copied().collect();
        let conn = self.conn()?;
        // A session lock is counted: one already held is not taken again (CASE decides
        // in order, where OR may not).
        let claimed: BTreeSet<i64> = diesel::sql_query(
            "SELECT e.id FROM webhook_endpoints AS e \
             WHERE e.status = 'enabled' \
               AND CASE WHEN e.id = ANY ($1) THEN true \
                        ELSE pg_try_advisory_lock(webhook_lock(e.id)) END",
        )
        .bind::<Array<BigInt>, _>(&held)
        .load::<Claim>(conn)?
        .into_iter()
        .map(|claim| claim.id)
        .collect();
        // Those deleted or disabled: let go.
        let released: Vec<i64> = held
            .iter()
            .copied()
            .filter(|id| !claimed.contains(id))
            .collect();
        if !released.is_empty() {
            diesel::sql_query("SELECT pg_advisory_unlock(webhook_lock(id)) FROM unnest($1) AS id")
                .bind::<Array<BigInt>, _>(&released)
                .execute(conn)?;
        }
        self.claimed = claimed;
        Ok(())
    }

    /// Queues what endpoint `id` reads of the feed and sends its due deliveries; whether
    /// there was work.
    async fn serve(&mut self, id: i64) -> anyhow::Result<bool> {
        let settings = self.settings.clone();
        let conn = self.conn()?;
        #[derive(QueryableByName)]
        struct Read {
            #[diesel(sql_type = Integer)]
            read: i32,
        }
        let read = diesel::sql_query(
            "SELECT CASE WHEN (SELECT count(*) FROM (SELECT 1 FROM webhook_deliveries \
                               WHERE endpoint_id = $1 AND status = 'pending' LIMIT $3) AS p) < $3 \
                    THEN webhook_queue($1, $2) ELSE 0 END AS read",
        )
        .bind::<BigInt, _>(id)
        .bind::<Integer, _>(READ_AT_ONCE)
        .bind::<BigInt, _>(settings.queue)
        .get_result::<Read>(conn)?
        .read;
        let Some(target) = diesel::sql_query(
            "SELECT id, url, secret, \
                    CASE WHEN previous_secret_until > now() THEN previous_secret END \
                        AS previous_secret, \
                    failing_since \
             FROM webhook_endpoints WHERE id = $1 AND status = 'enabled'",
        )
        .bind::<BigInt, _>(id)
        .get_result::<Target>(conn)
        .optional()?
        else {
            return Ok(false);
        };
        // The head of each wallet's queue, when it is due.
        let due: Vec<Due> = diesel::sql_query(
            "SELECT h.id, h.event_id, h.attempts \
             FROM (SELECT DISTINCT ON (d.wallet_id) d.id, d.event_id, d.attempts, d.next_attempt_at \
                   FROM webhook_deliveries AS d \
                   WHERE d.endpoint_id = $1 AND d.status = 'pending' \
                   ORDER BY d.wallet_id, d.id) AS h \
             WHERE h.next_attempt_at <= clock_timestamp() \
             ORDER BY h.id \
             LIMIT $2",
        )
        .bind::<BigInt, _>(id)
        .bind::<BigInt, _>(settings.concurrency as i64)
        .load(conn)?;
        if due.is_empty() {
            return Ok(read == READ_AT_ONCE);
        }
        let ids: Vec<i64> = due.iter().map(|d| d.event_id).collect();
        let events: Vec<Event> = events_feed::table
            .filter(events_feed::id.eq_any(&ids))
            .select(Event::as_select())
            .load(conn)?;
        let context = Context::outside_request(&settings.base_url);
        let mut sends = tokio::task::JoinSet::new();
        let mut outcomes = Vec::new();
        for delivery in &due {
            let Some(event) = events.iter().find(|event| event.id == delivery.event_id) else {
                outcomes.push(Outcome {
                    delivery: delivery.id,
                    attempts: delivery.attempts,
                    status: None,
                    body: None,
                    error: Some("its event is past the events' retention".into()),
                    latency: Duration::ZERO,
                    retry_after: None,
                });
                continue;
            };
            let body = serde_json::to_vec(&json!({
                "type": event.event_type,
                "timestamp": timestamp(&event.occurred_at),
                "data": object(event, &context, None),
            }))
            .expect("JSON");
            let request = Request {
                client: self.client.clone(),
                url: target.url.clone(),
                secrets: [Some(target.secret.clone()), target.previous_secret.clone()]
                    .into_iter()
                    .flatten()
                    .collect(),
                network: settings.network,
                webhook_id: event.id.to_string(),
                body,
                delivery: delivery.id,
                attempts: delivery.attempts,
            };
            sends.spawn(request.send());
        }
        while let Some(sent) = sends.join_next().await {
            outcomes.push(sent.expect("a delivery does not panic"));
        }
        let conn = self.conn()?;
        record(conn, &target, &outcomes, &settings)?;
        Ok(true)
    }
}

/// One attempt of one delivery.
struct Request {
    client: reqwest::Client,
    url: String,
    secrets: Vec<String>,
    network: Network,
    webhook_id: String,
    body: Vec<u8>,
    delivery: i64,
    attempts: i64,
}

impl Request {
    async fn send(self) -> Outcome {
        let started = Instant::now();
        let mut outcome = Outcome {
            delivery: self.delivery,
            attempts: self.attempts,
            status: None,
            body: None,
            error: None,
            latency: Duration::ZERO,
            retry_after: None,
        };
        let refused = reqwest::Url::parse(&self.url)
            .map_err(|error| format!("the URL is not valid: {error}"))
            .and_then(|url| literal_refusal(&url, self.network).map_or(Ok(()), Err));
        if let Err(refused) = refused {
            outcome.error = Some(refused);
            return outcome;
        }
        let now = Utc::now().timestamp();
        let secrets: Vec<&str> = self.secrets.iter().map(String::as_str).collect();
        let sent = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("webhook-id", &self.webhook_id)
            .header("webhook-timestamp", now.to_string())
            .header(
                "webhook-signature",
                signing::header(&secrets, &self.webhook_id, now, &self.body),
            )
            .body(self.body)
            .send()
            .await;
        match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                outcome.status = Some(status);
                if matches!(status, 429 | 503) {
                    outcome.retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|value| value.to_str().ok())
                        .and_then(|text| text.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                }
                // The first KB of the answer, read no further.
                let mut kept = Vec::new();
                let mut response = response;
                while kept.len() < BODY_KEPT {
                    match response.chunk().await {
                        Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
                        _ => break,
                    }
                }
                kept.truncate(BODY_KEPT);
                outcome.body = Some(String::from_utf8_lossy(&kept).into_owned());
            }
            Err(error) => {
                outcome.error = Some(describe(&error));
            }
        }
        outcome.latency = started.elapsed();
        outcome
    }
}

/// What went wrong with a request, in words: the chain of causes.
fn describe(error: &reqwest::Error) -> String {
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    let mut text = what.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.chars().take(500).collect()
}

/// Writes what the attempts got, in one transaction: each delivery succeeded, scheduled
/// again or failed for good; the endpoint's run of failures, and its disabling after a 410
/// or `disable_after` of nothing but failures.
fn record(
    conn: &mut PgConnection,
    target: &Target,
    outcomes: &[Outcome],
    settings: &Settings,
) -> QueryResult<()> {
    let mut ids = Vec::new();
    let mut statuses = Vec::new();
    let mut attempts = Vec::new();
    let mut codes = Vec::new();
    let mut bodies = Vec::new();
    let mut errors = Vec::new();
    let mut latencies = Vec::new();
    let mut next = Vec::new();
    for outcome in outcomes {
        let made = outcome.attempts + 1;
        let (status, next_at) = if outcome.succeeded() {
            ("succeeded", None)
        } else {
            match settings
                .schedule
                .next_wait(made as usize, outcome.retry_after, random())
            {
                Some(wait) => (
                    "pending",
                    Some(Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default()),
                ),
                None => ("failed", None),
            }
        };
        metrics::webhook_delivery(
            target.id,
            if outcome.succeeded() {
                "succeeded"
            } else if status == "failed" {
                "failed"
            } else {
                "retried"
            },
        );
        ids.push(outcome.delivery);
        statuses.push(status.to_string());
        attempts.push(made);
        codes.push(outcome.status.map(i64::from));
        bodies.push(outcome.body.clone());
        errors.push(outcome.error.clone());
        latencies.push(outcome.latency.as_millis() as i64);
        next.push(next_at);
    }
    let any_success = outcomes.iter().any(Outcome::succeeded);
    let gone = outcomes.iter().any(|outcome| outcome.status == Some(410));
    let failing_since = if any_success {
        None
    } else {
        Some(target.failing_since.unwrap_or_else(Utc::now))
    };
    let failed_too_long = failing_since.is_some_and(|since| {
        Utc::now() - since > chrono::Duration::from_std(settings.disable_after).unwrap_or_default()
    });
    let disabled = if gone {
        Some("the endpoint answered 410 Gone".to_string())
    } else if failed_too_long {
        Some(format!(
            "every attempt failed for {} (since {})",
            humantime::format_duration(settings.disable_after),
            failing_since
                .map(|since| timestamp(&since))
                .unwrap_or_default()
        ))
    } else {
        None
    };
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        diesel::sql_query(
            "UPDATE webhook_deliveries AS d \
             SET status = o.status, attempts = o.attempts, response_status = o.code, \
                 response_body = o.body, error = o.error, latency_ms = o.latency, \
                 next_attempt_at = o.next, last_attempt_at = clock_timestamp() \
             FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], \
                         $6::text[], $7::bigint[], $8::timestamptz[]) \
                  AS o(id, status, attempts, code, body, error, latency, next) \
             WHERE d.id = o.id AND d.status = 'pending'",
        )
        .bind::<Array<BigInt>, _>(&ids)
        .bind::<Array<Text>, _>(&statuses)
        .bind::<Array<BigInt>, _>(&attempts)
        .bind::<Array<Nullable<BigInt>>, _>(&codes)
        .bind::<Array<Nullable<Text>>, _>(&bodies)
        .bind::<Array<Nullable<Text>>, _>(&errors)
        .bind::<Array<BigInt>, _>(&latencies)
        .bind::<Array<Nullable<Timestamptz>>, _>(&next)
        .execute(conn)?;
        diesel::sql_query(
            "UPDATE webhook_endpoints \
             SET failing_since = $2, \
                 status = CASE WHEN $3::text IS NULL THEN status ELSE 'disabled' END, \
                 disabled_reason = coalesce($3, disabled_reason), \
                 updated_at = CASE WHEN $3::text IS NULL THEN updated_at ELSE now() END \
             WHERE id = $1 AND status = 'enabled'",
        )
        .bind::<BigInt, _>(target.id)
        .bind::<Nullable<Timestamptz>, _>(failing_since)
        .bind::<Nullable<Text>, _>(&disabled)
        .execute(conn)?;
        Ok(())
    })?;
    if let Some(reason) = disabled {
        tracing::warn!("webhooks: endpoint {} disabled: {reason}", target.id);
    }
    Ok(())
}
