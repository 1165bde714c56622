//! Who a request runs for: the API key it presents (`Authorization: Bearer <secret>`), its
//! scopes, the wallets it is limited to, and its rate.
//!
//! - The keys live in memory ([`keys`]): reloaded from the database twice a second, so a
//!   revocation stops a key within a second on every instance; a secret the instance does
//!   not hold yet is looked up in the database (by its hash, once), so a key works from the
//!   response that made it on, on every instance.
//! - A secret is looked up by its SHA-256. A secret is 256 random bits, so a fast hash is
//!   enough: guessing one that hashes to a stored hash is as hard as guessing the secret, and
//!   how long a lookup takes says nothing about any secret.
//! - The scope a request needs is its route's, read after routing from the endpoint the
//!   router matched (`routes::Matched`): `read` for a GET, `write` for any other method,
//!   `admin` for the keys themselves and `/metrics`; a method or a path nothing serves needs
//!   `read` (its 404 or 405 tells nobody unauthenticated what the service holds). The 403
//!   names the scope (`meta.requiredScope`).
//! - A token bucket per key bounds its rate (per instance); past it, a 429 with
//!   `Retry-After` and the IETF `RateLimit-Policy` / `RateLimit` headers, on every answer.
//! - A token bucket per client address ([`client`]) bounds its failed authentications (a
//!   secret that is malformed, unknown, revoked or expired); past it, a 429 with
//!   `Retry-After`. A request with a working key is never held to it. Failures are logged as
//!   one line per address every [`REPORT_EVERY`], with their count ([`limits`]).
//! - `/health`, `/health/live` and `/openapi.json` need no key; `/metrics` takes an admin key
//!   or the `METRICS_TOKEN`. Nothing logs a secret.

pub mod client;
pub mod keys;
pub mod limits;

use std::net::IpAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use chrono::Utc;
use diesel::pg::PgConnection;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::api::routes::{Endpoint, Matched, Operation};
use crate::api::state::AppState;
use crate::codes;
use crate::db::{self, Database, DbError, Session};
use crate::jsonapi::ApiError;
use crate::models::api_key::{ApiKey, Credential, hash};
use client::TrustedProxies;
use keys::{KeyStore, RELOAD_EVERY, well_formed};
use limits::{FailureLog, Limiter, Rate};

codes! {
    pub UNAUTHENTICATED = (UNAUTHORIZED, "unauthenticated", "Unauthenticated",
        "no API key, or one that is malformed, unknown, revoked or expired: send Authorization: Bearer <secret>");
    pub INSUFFICIENT_SCOPE = (FORBIDDEN, "insufficient-scope", "Insufficient scope",
        "the key lacks the scope this request needs (meta.requiredScope names it)");
    pub WALLET_LIMITED_KEY = (FORBIDDEN, "wallet-limited-key", "Wallet-limited key",
        "a key limited to some wallets cannot create wallets");
    pub RATE_LIMITED = (TOO_MANY_REQUESTS, "rate-limited", "Too many requests",
        "the key sent more requests than its rate allows: send it again after Retry-After seconds");
    pub AUTHENTICATION_FAILURES_LIMITED = (TOO_MANY_REQUESTS, "authentication-failures-limited",
        "Too many failed authentications",
        "this client address sent more secrets that do not work than it may: send a working key after Retry-After seconds");
}

/// How often failed authentications are logged (one line per address), and the buckets and
/// absent secrets no longer needed are dropped.
pub const REPORT_EVERY: Duration = Duration::from_secs(10);

/// The realm named in `WWW-Authenticate`.
const REALM: &str = "wallet-api";

/// Who a request runs for: its key, or none when authentication is off.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub key: Option<Arc<ApiKey>>,
}

impl Actor {
    /// The key's id; 0 for none.
    pub fn key_id(&self) -> i64 {
        self.key.as_ref().map_or(0, |key| key.id)
    }

    /// The wallets the key is limited to; `None`: every wallet.
    pub fn wallets(&self) -> Option<&[i64]> {
        self.key
            .as_ref()
            .map(|key| key.wallet_ids.as_slice())
            .filter(|wallets| !wallets.is_empty())
    }

    /// Whether the key may act with `scope` (everyone may, with authentication off).
    pub fn allows(&self, scope: &str) -> bool {
        self.key.as_ref().is_none_or(|key| key.allows(scope))
    }

    /// What the database must know of a read: the wallets it may see.
    pub fn reading(&self) -> Session {
        Session {
            wallets: self.wallets().map(<[i64]>::to_vec),
        }
    }
}

impl FromRequest for Actor {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Actor, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(request
            .extensions()
            .get::<Actor>()
            .cloned()
            .unwrap_or_default()))
    }
}

/// What authentication is set to.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `false`: every request runs for no key (behind a gateway that authenticates).
    pub enabled: bool,
    /// Each key's requests.
    pub per_key: Rate,
    /// Each client address's failed authentications.
    pub failures: Rate,
    pub trusted_proxies: TrustedProxies,
    /// A bearer token that may read `/metrics` (and nothing else).
    pub metrics_token: Option<String>,
}

/// The authentication of a service: its keys, its limits, and whether it is on.
pub struct Authenticator {
    enabled: bool,
    keys: KeyStore,
    per_key: Limiter<i64>,
    failures: Limiter<IpAddr>,
    failure_log: FailureLog,
    trusted_proxies: TrustedProxies,
    /// The SHA-256 of `METRICS_TOKEN`: compared by hash, so the comparison's time says
    /// nothing of the token.
    metrics_token: Option<Vec<u8>>,
}

/// Why a request was not authenticated, for the log and the metrics (never the secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Missing,
    Malformed,
    Unknown,
    Revoked,
    Expired,
}

impl Refusal {
    fn name(self) -> &'static str {
        match self {
            Refusal::Missing => "missing",
            Refusal::Malformed => "malformed",
            Refusal::Unknown => "unknown",
            Refusal::Revoked => "revoked",
            Refusal::Expired => "expired",
        }
    }

    fn detail(self) -> &'static str {
        match self {
            Refusal::Missing => {
                "this request needs an API key: send Authorization: Bearer <secret> (make -s key \
                 prints the local one)"
            }
            Refusal::Malformed => "Authorization must be Bearer <secret>, the secret of an API key",
            Refusal::Unknown => "no API key has this secret",
            Refusal::Revoked => "this API key was revoked",
            Refusal::Expired => "this API key expired",
        }
    }
}

/// Why a request gets no key.
enum Denied {
    /// Refused (401), or past its address's limit (429). `charged`: the failure took its
    /// token of the address's bucket already (before a lookup).
    Refused { refusal: Refusal, charged: bool },
    /// Past its address's limit, before anything was looked up.
    Limited { wait: Duration },
    /// The database could not be asked.
    Database(DbError),
}

impl Authenticator {
    pub fn new(settings: &Settings) -> Authenticator {
        Authenticator {
            enabled: settings.enabled,
            keys: KeyStore::default(),
            per_key: Limiter::new(settings.per_key),
            failures: Limiter::new(settings.failures),
            failure_log: FailureLog::default(),
            trusted_proxies: settings.trusted_proxies.clone(),
            metrics_token: settings
                .metrics_token
                .as_ref()
                .map(|token| Sha256::digest(token.as_bytes()).to_vec()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Replaces the keys with these.
    pub fn load(&self, credentials: Vec<Credential>) {
        self.keys.load(credentials);
    }

    /// A key made on this instance: it works from now on, before the next reload.
    pub fn made(&self, key: ApiKey, secret: &str) {
        self.keys.add(Credential {
            key,
            secret_hash: hash(secret),
        });
    }

    /// The key with this secret, if it works now: held in memory, or else looked up in
    /// `database` (an address past its limit of failures looks nothing up).
    async fn key(
        &self,
        database: &Database,
        secret: &str,
        client: Option<IpAddr>,
    ) -> Result<Arc<ApiKey>, Denied> {
        let refused = |refusal| Denied::Refused {
            refusal,
            charged: false,
        };
        let secret_hash = hash(secret);
        if let Some(key) = self.keys.get(&secret_hash) {
            return usable(&key).map(|()| key).map_err(refused);
        }
        if !well_formed(secret) || self.keys.known_absent(&secret_hash) {
            return Err(refused(Refusal::Unknown));
        }
        // Every lookup is charged as a failure until it finds a key that works: a flood of
        // made-up secrets asks the database at most the address's burst.
        if let Err(wait) = self.failures.take(&address_key(client)) {
            return Err(Denied::Limited { wait });
        }
        let looked_up = secret_hash.clone();
        let found = db::run(database, move |conn| {
            ApiKey::credential(conn, &looked_up).map_err(DbError::from)
        })
        .await
        .map_err(Denied::Database)?;
        let charged = |refusal| Denied::Refused {
            refusal,
            charged: true,
        };
        match found {
            Some(credential) => {
                let key = self.keys.add(credential);
                usable(&key).map(|()| key).map_err(charged)
            }
            None => {
                self.keys.mark_absent(secret_hash);
                Err(charged(Refusal::Unknown))
            }
        }
    }

    /// Takes a token of `key`'s bucket: the tokens left, or how long until one is there.
    fn take(&self, key: i64) -> Result<u32, Duration> {
        self.per_key.take(&key)
    }

    /// The error a denied request gets: 401 saying why, or 429 once its address is past its
    /// limit of failures; counted and tallied for the log.
    fn denied(&self, denied: Denied, client: Option<IpAddr>) -> ApiError {
        let (refusal, limited) = match denied {
            Denied::Database(error) => return ApiError::from(error),
            Denied::Limited { wait } => (Refusal::Unknown, Some(wait)),
            // A request without a key guesses nothing: it is logged, never limited.
            Denied::Refused {
                refusal: refusal @ Refusal::Missing,
                ..
            } => (refusal, None),
            Denied::Refused {
                refusal,
                charged: true,
            } => (refusal, None),
            Denied::Refused {
                refusal,
                charged: false,
            } => (refusal, self.failures.take(&address_key(client)).err()),
        };
        crate::metrics::authentication_failed(refusal.name());
        self.failure_log
            .record(client, refusal.name(), limited.is_some());
        match limited {
            None => unauthenticated(refusal),
            Some(wait) => {
                crate::metrics::authentication_failures_limited();
                let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
                ApiError::new(
                    &AUTHENTICATION_FAILURES_LIMITED,
                    format!(
                        "this address sent more secrets that do not work than it may ({} a \
                         second); send a working key in {seconds} s",
                        self.failures.rate.rate
                    ),
                )
                .header("Authorization")
                .with_header("Retry-After", seconds.to_string())
            }
        }
    }

    /// The 429 of a key past its rate, to send again after `wait`.
    fn rate_limited(&self, wait: Duration) -> ApiError {
        crate::metrics::rate_limited();
        let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
        let mut error = ApiError::new(
            &RATE_LIMITED,
            format!(
                "this key may send {} requests a second; send it again in {seconds} s",
                self.per_key.rate.rate
            ),
        )
        .with_header("Retry-After", seconds.to_string());
        for (name, value) in self.rate_headers(0).into_iter().flatten() {
            error = error.with_header(name, value);
        }
        error
    }

    /// Whether the request carries `METRICS_TOKEN` as its bearer token.
    fn carries_metrics_token(&self, request: &ServiceRequest) -> bool {
        let Some(expected) = &self.metrics_token else {
            return false;
        };
        bearer(request).is_ok_and(|token| Sha256::digest(token.as_bytes()).as_slice() == expected)
    }

    /// The `RateLimit-Policy` and `RateLimit` headers with `remaining` tokens left
    /// (draft-ietf-httpapi-ratelimit-headers: a quota of `burst` over the time the bucket
    /// takes to fill).
    fn rate_headers(&self, remaining: u32) -> Option<[(&'static str, String); 2]> {
        let rate = self.per_key.rate;
        if !self.per_key.is_on() {
            return None;
        }
        let window = (rate.burst / rate.rate).ceil().max(1.0) as u64;
        let refill = ((rate.burst - f64::from(remaining)) / rate.rate)
            .ceil()
            .max(0.0) as u64;
        Some([
            (
                "RateLimit-Policy",
                format!("\"per-key\";q={};w={window}", rate.burst as u64),
            ),
            ("RateLimit", format!("\"per-key\";r={remaining};t={refill}")),
        ])
    }

    /// What is done every [`REPORT_EVERY`]: the failures logged, the buckets and absent
    /// secrets no longer needed dropped; and once more when the service stops.
    pub fn report(&self) {
        for reported in self.failure_log.report() {
            if reported.worth_a_warning {
                tracing::warn!("{}", reported.line);
            } else {
                tracing::info!("{}", reported.line);
            }
        }
        self.per_key.prune();
        self.failures.prune();
        self.keys.prune();
    }
}

impl Drop for Authenticator {
    /// The failures not reported yet are, when the service stops.
    fn drop(&mut self) {
        self.report();
    }
}

/// Whether a key found may be used now.
fn usable(key: &ApiKey) -> Result<(), Refusal> {
    let now = Utc::now();
    if key.revoked_at.is_some_and(|at| at <= now) {
        return Err(Refusal::Revoked);
    }
    if key.expires_at.is_some_and(|at| at <= now) {
        return Err(Refusal::Expired);
    }
    Ok(())
}

/// The bucket of failures a client address draws from (one for requests of no known address).
fn address_key(client: Option<IpAddr>) -> IpAddr {
    client.unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

/// Keeps the keys current, on a thread and a connection of its own (never queued behind
/// requests, never shed with them): reloads them every [`RELOAD_EVERY`], and reports the
/// failed authentications every [`REPORT_EVERY`], until the authenticator is dropped. A
/// failed reload keeps the keys held: a database that is down fails the requests, not their
/// authentication.
pub fn keep_current(url: &str, authenticator: Weak<Authenticator>) -> std::io::Result<()> {
    let url = db::named(url, "wallet-api keys");
    std::thread::Builder::new()
        .name("api-keys".into())
        .spawn(move || {
            let mut conn: Option<PgConnection> = None;
            let mut failing = false;
            let mut reported = std::time::Instant::now();
            loop {
                std::thread::sleep(RELOAD_EVERY);
                let Some(authenticator) = authenticator.upgrade() else {
                    return;
                };
                if reported.elapsed() >= REPORT_EVERY {
                    authenticator.report();
                    reported = std::time::Instant::now();
                }
                match credentials(&mut conn, &url) {
                    Ok(credentials) => {
                        authenticator.load(credentials);
                        if failing {
                            tracing::info!("API keys reloaded again");
                        }
                        failing = false;
                    }
                    Err(error) => {
                        conn = None;
                        if !failing {
                            tracing::warn!(
                                "cannot reload the API keys (keeping those held): {error}"
                            );
                        }
                        failing = true;
                    }
                }
            }
        })
        .map(|_| ())
}

/// Every key that may work, read on `conn` (opened first if need be, with a statement
/// timeout of its own).
fn credentials(conn: &mut Option<PgConnection>, url: &str) -> anyhow::Result<Vec<Credential>> {
    use diesel::connection::SimpleConnection;
    if conn.is_none() {
        let mut opened = db::connect(url, "wallet-api keys")?;
        opened.batch_execute(&format!(
            "SET statement_timeout = {}",
            RELOAD_EVERY.as_millis() * 4
        ))?;
        *conn = Some(opened);
    }
    let conn = conn.as_mut().expect("a connection");
    Ok(ApiKey::credentials(conn)?)
}

/// The scope an endpoint needs: none for what anyone may read (health, the OpenAPI
/// document, the console's files: the console asks for a key and sends it with every call), `admin` for the keys (and what only they show), the metrics and the writes of
/// the currency catalogue, `read` for a GET or a HEAD, `write` otherwise.
pub fn scope_of(endpoint: &Endpoint) -> Option<&'static str> {
    let admin_only =
        |type_name: &str| crate::api::registered(type_name).is_some_and(|r| r.admin_only);
    let admin_writes =
        |type_name: &str| crate::api::registered(type_name).is_some_and(|r| r.admin_writes);
    match endpoint.operation {
        Operation::Health | Operation::Live | Operation::OpenApi | Operation::Console { .. } => {
            None
        }
        Operation::Metrics => Some("admin"),
        Operation::List { type_name } | Operation::Show { type_name, .. }
            if admin_only(type_name) =>
        {
            Some("admin")
        }
        Operation::Create { type_name }
        | Operation::Update { type_name }
        | Operation::Delete { type_name }
        | Operation::ChangeLinkage {
            parent: type_name, ..
        } if admin_writes(type_name) => Some("admin"),
        Operation::Related { target, .. } | Operation::Children { target, .. }
            if admin_only(target) =>
        {
            Some("admin")
        }
        _ if matches!(
            endpoint.method,
            actix_web::http::Method::GET | actix_web::http::Method::HEAD
        ) =>
        {
            Some("read")
        }
        _ => Some("write"),
    }
}

/// The scope a request for `endpoint` needs (`None`: a method or a path nothing serves,
/// which needs `read`).
fn scope_needed(endpoint: Option<&Endpoint>) -> Option<&'static str> {
    endpoint.map_or(Some("read"), scope_of)
}

fn unauthenticated(refusal: Refusal) -> ApiError {
    let challenge = match refusal {
        Refusal::Missing => format!("Bearer realm=\"{REALM}\""),
        _ => format!("Bearer realm=\"{REALM}\", error=\"invalid_token\""),
    };
    ApiError::new(&UNAUTHENTICATED, refusal.detail())
        .header("Authorization")
        .with_header("WWW-Authenticate", challenge)
}

/// The secret of `Authorization: Bearer <secret>`.
fn bearer(request: &ServiceRequest) -> Result<String, Refusal> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or(Refusal::Missing)?;
    let text = value.to_str().map_err(|_| Refusal::Malformed)?;
    let (scheme, secret) = text.trim().split_once(' ').ok_or(Refusal::Malformed)?;
    let secret = secret.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || secret.is_empty() || secret.contains(' ') {
        return Err(Refusal::Malformed);
    }
    Ok(secret.to_string())
}

/// Middleware, after routing (inside a route's guard): authenticates the request, checks
/// the scope of the endpoint the router matched, its wallet limits and its rate, and hands
/// its [`Actor`] to the handlers.
pub async fn authenticate(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let state = request
        .app_data::<web::Data<AppState>>()
        .expect("the application state")
        .clone();
    let authenticator = &state.auth;
    let endpoint = Matched::of(&request);
    let Some(scope) = scope_needed(endpoint) else {
        return Ok(next.call(request).await?.map_into_left_body());
    };
    if !authenticator.enabled() {
        request.extensions_mut().insert(Actor::default());
        return Ok(next.call(request).await?.map_into_left_body());
    }
    if endpoint.is_some_and(|endpoint| endpoint.operation == Operation::Metrics)
        && authenticator.carries_metrics_token(&request)
    {
        request.extensions_mut().insert(Actor::default());
        return Ok(next.call(request).await?.map_into_left_body());
    }
    let client = authenticator.trusted_proxies.client_of(&request);
    let key = match bearer(&request) {
        Ok(secret) => authenticator.key(&state.db, &secret, client).await,
        Err(refusal) => Err(Denied::Refused {
            refusal,
            charged: false,
        }),
    };
    let key = match key {
        Ok(key) => key,
        Err(denied) => return refuse(request, authenticator.denied(denied, client)),
    };
    tracing::Span::current().record("key", key.name.as_str());
    let actor = Actor { key: Some(key) };
    if !actor.allows(scope) {
        return refuse(request, insufficient_scope(scope, &actor));
    }
    if actor.wallets().is_some()
        && matches!(
            endpoint.map(|endpoint| endpoint.operation),
            Some(Operation::Create { type_name }) if type_name == crate::api::LIMITED_TO
        )
    {
        return refuse(request, limited_key_cannot_create());
    }
    let remaining = match authenticator.take(actor.key_id()) {
        Ok(remaining) => remaining,
        Err(wait) => return refuse(request, authenticator.rate_limited(wait)),
    };
    request.extensions_mut().insert(actor);
    let mut response = next.call(request).await?.map_into_left_body();
    for (name, value) in authenticator.rate_headers(remaining).into_iter().flatten() {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(
                header::HeaderName::from_static(if name == "RateLimit" {
                    "ratelimit"
                } else {
                    "ratelimit-policy"
                }),
                value,
            );
        }
    }
    Ok(response)
}

/// The 403 of a key without `scope`.
fn insufficient_scope(scope: &str, actor: &Actor) -> ApiError {
    ApiError::new(
        &INSUFFICIENT_SCOPE,
        format!(
            "this request needs the scope {scope:?}; the key has {}",
            actor
                .key
                .as_ref()
                .map_or_else(|| "none".to_string(), |k| k.scopes.join(", "))
        ),
    )
    .header("Authorization")
    .meta(json!({"requiredScope": scope}))
}

/// A wallet-limited key cannot create a wallet: it could never see it.
pub fn limited_key_cannot_create() -> ApiError {
    ApiError::new(
        &WALLET_LIMITED_KEY,
        "this key is limited to some wallets and cannot create one; use a key of every wallet",
    )
}

fn refuse<B>(
    request: ServiceRequest,
    error: ApiError,
) -> Result<ServiceResponse<actix_web::body::EitherBody<B>>, actix_web::Error> {
    Ok(request.error_response(error).map_into_right_body())
}
