//! Who a request runs for: the API key it presents (`Authorization: Bearer <secret>`), its
//! scopes, the wallets it is limited to, and its rate.
//!
//! - The keys live in memory: the service reloads every key that may work from the
//!   database twice a second ([`keep_current`]), so a request costs no database round trip to
//!   authenticate, and a revoked key stops working within a second on every instance.
//! - A secret is looked up by its SHA-256. A secret is 256 random bits, so a fast hash is
//!   enough: guessing one that hashes to a stored hash is as hard as guessing the secret, and
//!   how long a lookup takes says nothing about any secret.
//! - The scope a request needs comes from the route table: `read` for a GET, `write` for any
//!   other method, `admin` for the keys themselves; the 403 names it (`meta.requiredScope`).
//! - A token bucket per key bounds its rate (per instance); past it, a 429 with
//!   `Retry-After` and the IETF `RateLimit-Policy` / `RateLimit` headers, on every answer.
//! - `/health`, `/health/live` and `/openapi.json` need no key. Nothing logs a secret.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use chrono::Utc;
use serde_json::json;

use super::routes::{Endpoint, Operation, endpoint_of};
use super::state::AppState;
use crate::codes;
use diesel::pg::PgConnection;

use crate::db::{self, Session};
use crate::jsonapi::ApiError;
use crate::models::api_key::{ApiKey, Credential, hash};

codes! {
    pub UNAUTHENTICATED = (UNAUTHORIZED, "unauthenticated", "Unauthenticated",
        "no API key, or one that is malformed, unknown, revoked or expired: send Authorization: Bearer <secret>");
    pub INSUFFICIENT_SCOPE = (FORBIDDEN, "insufficient-scope", "Insufficient scope",
        "the key lacks the scope this request needs (meta.requiredScope names it)");
    pub WALLET_LIMITED_KEY = (FORBIDDEN, "wallet-limited-key", "Wallet-limited key",
        "a key limited to some wallets cannot create wallets");
    pub RATE_LIMITED = (TOO_MANY_REQUESTS, "rate-limited", "Too many requests",
        "the key sent more requests than its rate allows: send it again after Retry-After seconds");
}

/// How often the keys are reloaded: a revocation takes effect within this, and a reload.
pub const RELOAD_EVERY: Duration = Duration::from_millis(500);

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
            actor: None,
            wallets: self.wallets().map(<[i64]>::to_vec),
        }
    }

    /// What the database must know of a write: whose it is, and the wallets it may touch.
    pub fn writing(&self) -> Session {
        Session {
            actor: self.key.as_ref().map(|key| key.id),
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

/// The keys that may work, by the hash of their secret.
#[derive(Default)]
struct Keys {
    by_hash: HashMap<Vec<u8>, Arc<ApiKey>>,
}

impl Keys {
    fn of(credentials: Vec<Credential>) -> Keys {
        Keys {
            by_hash: credentials
                .into_iter()
                .map(|credential| (credential.secret_hash, Arc::new(credential.key)))
                .collect(),
        }
    }
}

/// How fast a key may send requests: `rate` a second, `burst` at once (`rate` 0: no limit).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub rate: f64,
    pub burst: f64,
}

/// The authentication of a service: its keys, its rate limits, and whether it is on.
pub struct Authenticator {
    enabled: bool,
    keys: RwLock<Arc<Keys>>,
    rate: Rate,
    buckets: Mutex<HashMap<i64, Bucket>>,
}

/// A token bucket.
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Why a request was not authenticated, for the log and the metrics (never the secret).
#[derive(Debug, Clone, Copy)]
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

impl Authenticator {
    /// `enabled` false: every request runs for no key (behind a gateway that authenticates).
    pub fn new(enabled: bool, rate: Rate) -> Authenticator {
        Authenticator {
            enabled,
            keys: RwLock::new(Arc::new(Keys::default())),
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Replaces the keys with these.
    pub fn load(&self, credentials: Vec<Credential>) {
        *self.keys.write().expect("keys lock") = Arc::new(Keys::of(credentials));
    }

    /// The key with this secret, if it works now.
    fn key(&self, secret: &str) -> Result<Arc<ApiKey>, Refusal> {
        let keys = self.keys.read().expect("keys lock").clone();
        let key = keys.by_hash.get(&hash(secret)).ok_or(Refusal::Unknown)?;
        let now = Utc::now();
        if key.revoked_at.is_some_and(|at| at <= now) {
            return Err(Refusal::Revoked);
        }
        if key.expires_at.is_some_and(|at| at <= now) {
            return Err(Refusal::Expired);
        }
        Ok(key.clone())
    }

    /// Takes a token of `key`'s bucket: the tokens left, or how long until one is there.
    fn take(&self, key: i64) -> Result<f64, Duration> {
        if self.rate.rate <= 0.0 {
            return Ok(f64::INFINITY);
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().expect("buckets lock");
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: self.rate.burst,
            at: now,
        });
        let elapsed = now.duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate.rate).min(self.rate.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(bucket.tokens)
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / self.rate.rate,
            ))
        }
    }

    /// The `RateLimit-Policy` and `RateLimit` headers with `remaining` tokens left
    /// (draft-ietf-httpapi-ratelimit-headers: a quota of `burst` over the time the bucket
    /// takes to fill).
    fn rate_headers(&self, remaining: f64) -> Option<[(&'static str, String); 2]> {
        if self.rate.rate <= 0.0 {
            return None;
        }
        let window = (self.rate.burst / self.rate.rate).ceil().max(1.0) as u64;
        let refill = ((self.rate.burst - remaining) / self.rate.rate)
            .ceil()
            .max(0.0) as u64;
        Some([
            (
                "RateLimit-Policy",
                format!("\"per-key\";q={};w={window}", self.rate.burst as u64),
            ),
            (
                "RateLimit",
                format!("\"per-key\";r={};t={refill}", remaining.floor() as u64),
            ),
        ])
    }
}

/// Keeps the keys current, on a thread and a connection of its own (never queued behind
/// requests, never shed with them): reloads them every [`RELOAD_EVERY`] until the
/// authenticator is dropped. A failed reload keeps the keys held: a database that is down
/// fails the requests, not their authentication.
pub fn keep_current(url: &str, authenticator: Weak<Authenticator>) -> std::io::Result<()> {
    let url = db::named(url, "wallet-api keys");
    std::thread::Builder::new()
        .name("api-keys".into())
        .spawn(move || {
            let mut conn: Option<PgConnection> = None;
            let mut failing = false;
            loop {
                std::thread::sleep(RELOAD_EVERY);
                let Some(authenticator) = authenticator.upgrade() else {
                    return;
                };
                match credentials(&mut conn, &url) {
                    Ok(credentials) => {
                        authenticator.load(credentials);
                        if failing {
                            log::info!("API keys reloaded again");
                        }
                        failing = false;
                    }
                    Err(error) => {
                        conn = None;
                        if !failing {
                            log::warn!("cannot reload the API keys (keeping those held): {error}");
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

/// The scope a request needs (see [`scope_of`]); a URL nothing serves needs `read`, so that
/// its 404 tells nobody unauthenticated what the service holds.
fn scope_needed(path: &str, method: &Method) -> Option<&'static str> {
    endpoint_of(path, method).map_or(Some("read"), scope_of)
}

/// The scope an endpoint needs: none for what anyone may read (health, the OpenAPI
/// document), `admin` for the keys (and what only they show), `read` for a GET, `write`
/// otherwise.
pub fn scope_of(endpoint: &Endpoint) -> Option<&'static str> {
    let admin_only = |type_name: &str| super::registered(type_name).is_some_and(|r| r.admin_only);
    match endpoint.operation {
        Operation::Health | Operation::Live | Operation::OpenApi => None,
        Operation::List { type_name }
        | Operation::Show { type_name, .. }
        | Operation::Create { type_name }
        | Operation::Update { type_name }
        | Operation::Delete { type_name }
            if admin_only(type_name) =>
        {
            Some("admin")
        }
        Operation::Related { target, .. } | Operation::Children { target, .. }
            if admin_only(target) =>
        {
            Some("admin")
        }
        _ if endpoint.method == Method::GET => Some("read"),
        _ => Some("write"),
    }
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

/// Middleware: authenticates the request, checks its scope, its wallet limits and its rate,
/// and hands its [`Actor`] to the handlers.
pub async fn authenticate(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let state = request
        .app_data::<web::Data<AppState>>()
        .expect("the application state")
        .clone();
    let authenticator = &state.auth;
    let Some(scope) = scope_needed(request.path(), request.method()) else {
        return Ok(next.call(request).await?.map_into_left_body());
    };
    if !authenticator.enabled() {
        request.extensions_mut().insert(Actor::default());
        return Ok(next.call(request).await?.map_into_left_body());
    }
    let key = bearer(&request).and_then(|secret| authenticator.key(&secret));
    let key = match key {
        Ok(key) => key,
        Err(refusal) => {
            crate::metrics::authentication_failed(refusal.name());
            // A request without a key is common (a browser, a probe); a key that does not
            // work is worth a warning.
            let level = match refusal {
                Refusal::Missing => log::Level::Info,
                _ => log::Level::Warn,
            };
            log::log!(
                level,
                "authentication failed ({}) for {} {} from {}",
                refusal.name(),
                request.method(),
                request.path(),
                request
                    .peer_addr()
                    .map_or("?".into(), |peer| peer.to_string())
            );
            return refuse(request, unauthenticated(refusal));
        }
    };
    let actor = Actor { key: Some(key) };
    if !actor.allows(scope) {
        let error = ApiError::new(
            &INSUFFICIENT_SCOPE,
            format!(
                "this request needs the scope {scope:?}; the key has {:?}",
                actor.key.as_ref().map(|k| &k.scopes)
            ),
        )
        .header("Authorization")
        .meta(json!({"requiredScope": scope}));
        return refuse(request, error);
    }
    if actor.wallets().is_some()
        && matches!(
            endpoint_of(request.path(), request.method()).map(|e| e.operation),
            Some(Operation::Create { type_name }) if type_name == super::LIMITED_TO
        )
    {
        return refuse(request, limited_key_cannot_create());
    }
    let remaining = match authenticator.take(actor.key_id()) {
        Ok(remaining) => remaining,
        Err(wait) => {
            crate::metrics::rate_limited();
            let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
            let mut error = ApiError::new(
                &RATE_LIMITED,
                format!(
                    "this key may send {} requests a second; send it again in {seconds} s",
                    authenticator.rate.rate
                ),
            )
            .with_header("Retry-After", seconds.to_string());
            for (name, value) in authenticator.rate_headers(0.0).into_iter().flatten() {
                error = error.with_header(name, value);
            }
            return refuse(request, error);
        }
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
