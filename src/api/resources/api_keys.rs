//! `/api-keys`: the service's clients, for `admin` keys only. A key is created with its
//! secret shown once (the 201's `meta.secret`), listed and read without it, and revoked by
//! `DELETE` or by `PATCH` of its `revokedAt` (a revocation is final). The same functions serve
//! `wallet-api keys`.

use std::sync::{Arc, Mutex};

use actix_web::http::StatusCode;
use actix_web::web;
use chrono::Utc;
use diesel::pg::PgConnection;
use serde_json::json;

use super::wallets::{WALLET_NOT_FOUND, wallets_exist};
use crate::api::context::Single;
use crate::api::handlers;
use crate::api::input::{Target, check_identity, read_new};
use crate::api::resource::{Example, Resource, Writable, load_included, object};
use crate::api::routes::Routes;
use crate::api::state::AppState;
use crate::api::write::Write;
use crate::api::write::idempotency::IdempotencyKey;
use crate::codes;
use crate::db::DbError;
use crate::jsonapi::ApiError;
use crate::jsonapi::document::{Reply, document, respond, self_links};
use crate::jsonapi::error::Code;
use crate::jsonapi::request::{parse_resource_document, read_body};
use crate::models::api_key::{ApiKey, ApiKeyChanges, NewApiKey, Revoked};
use crate::models::{Model, Record};

codes! {
    pub API_KEY_NOT_FOUND = (NOT_FOUND, "api-key-not-found", "API key not found",
        "no API key has this id");
    pub DUPLICATE_KEY_NAME = (CONFLICT, "duplicate-key-name", "Duplicate key name",
        "another key in use has this name");
    pub API_KEY_REVOKED = (CONFLICT, "api-key-revoked", "API key revoked",
        "the key was revoked already: a revocation is final");
    pub LIMITED_ADMIN_KEY = (UNPROCESSABLE_ENTITY, "limited-admin-key", "Limited admin key",
        "a key with admin manages every key, so it cannot be limited to some wallets");
}

/// The constraints of `migrations/` that refuse keys.
const NAME_IN_USE: &str = "api_keys_name_in_use";
const ADMIN_NOT_LIMITED: &str = "api_keys_admin_not_limited";

/// The schema of what a created key's document carries in its `meta`: the secret.
pub const CREATED_META: &str = r#"{"type": "object", "required": ["secret"], "additionalProperties": false,
    "properties": {"secret": {"type": "string", "pattern": "^wk_[A-Za-z0-9_-]{43}$",
        "description": "The key's secret, shown this once: the service keeps only its hash."}}}"#;

pub fn routes(routes: &mut Routes) {
    handlers::writable_creating::<ApiKey, _, _>(routes, create);
}

impl Resource for ApiKey {
    const NOT_FOUND: &'static Code = &API_KEY_NOT_FOUND;
    const SINGULAR: &'static str = "API key";
    const ADMIN_ONLY: bool = true;
    const EXAMPLE: &'static Example = &Example {
        shown: r#"{"id": "2", "name": "bob-app", "prefix": "wk_3q9XbT2a", "scopes": ["read"],
            "wallets": ["2"], "createdAt": "2026-12-01T12:00:00Z", "expiresAt": null,
            "revokedAt": null}"#,
        create: r#"{"name": "bob-app", "scopes": ["read"], "wallets": ["2"]}"#,
        update: r#"{"revokedAt": "2026-12-01T13:00:00Z"}"#,
        created_meta: Some(r#"{"secret": "wk_3q9XbT2aVn8kP4cW6yR1sD7fG0hJ5lM2xB9vZ3qT8uE"}"#),
    };
}

/// POST /api-keys: 201 with the key and, once, its secret in `meta.secret`.
async fn create(
    context: Single,
    key: IdempotencyKey,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<Reply, ApiError> {
    let includes = context.includes::<ApiKey>()?;
    key.refuse_for_secret(
        "a key's secret",
        "a retry is safe: the name of a key in use is taken, 409 duplicate-key-name",
    )?;
    let body = read_body(payload, state.body_timeout).await?;
    let input = parse_resource_document(&body)?;
    check_identity(&input, ApiKey::TYPE, Target::Create)?;
    let new = read_new::<ApiKey>(&input)?;
    // The key made, for this instance to know from the response on (the others look it up
    // when they first meet its secret).
    let made = Arc::new(Mutex::new(None));
    let made_here = made.clone();
    let actor = context.actor.clone();
    let write = Write::by(&actor, context.self_link(), move |conn| {
        let (created, secret) = create_key(conn, &new)?;
        *made_here.lock().expect("made lock") = Some((created.clone(), secret.clone()));
        let included = load_included(conn, &includes, std::slice::from_ref(&created))?;
        let document = document(
            object(&created, &context, None),
            self_links(context.self_link()),
            context
                .include_given()
                .then(|| included.iter().map(|r| r.render(&context)).collect()),
            Some(json!({"secret": secret})),
        );
        Ok(respond(StatusCode::CREATED, &document)
            .with_header("Location", context.url(&ApiKey::self_path(&created.id))))
    });
    let reply = state.writer.submit(write).await?;
    if let Some((key, secret)) = made.lock().expect("made lock").take() {
        state.auth.made(key, &secret);
    }
    Ok(reply)
}

/// A new key and its secret; its constraints as API errors.
pub fn create_key(conn: &mut PgConnection, new: &NewApiKey) -> Result<(ApiKey, String), ApiError> {
    if let Some(wallets) = &new.wallet_ids {
        wallets_exist(conn, wallets, "to limit the key to")?;
    }
    ApiKey::create(conn, new).map_err(|error| match DbError::from(error) {
        error if error.constraint() == Some(NAME_IN_USE) => ApiError::new(
            &DUPLICATE_KEY_NAME,
            format!(
                "a key in use is named {:?}; revoke it first, or choose another name",
                new.name.as_str()
            ),
        )
        .pointer("/data/attributes/name"),
        error if error.constraint() == Some(ADMIN_NOT_LIMITED) => ApiError::new(
            &LIMITED_ADMIN_KEY,
            "a key with admin manages every key, so it cannot be limited to some wallets: \
             give it no wallets, or no admin",
        )
        .pointer("/data/relationships/wallets"),
        error => error.into(),
    })
}

/// Revokes key `id` at `at` (`None`: now); a key revoked already is a 409 naming when.
pub fn revoke(
    conn: &mut PgConnection,
    id: i64,
    at: Option<chrono::DateTime<Utc>>,
) -> Result<Option<ApiKey>, ApiError> {
    match ApiKey::revoke(conn, id, at)? {
        None => Ok(None),
        Some(Revoked::Now(key)) => Ok(Some(key)),
        Some(Revoked::Before(key)) => Err(ApiError::new(
            &API_KEY_REVOKED,
            format!(
                "key {} ({:?}) was revoked at {}; a revocation is final",
                key.id,
                key.name,
                key.revoked_at
                    .map(|at| crate::domain::timestamp(&at))
                    .unwrap_or_default()
            ),
        )
        .pointer("/data/attributes/revokedAt")),
    }
}

impl Writable for ApiKey {
    const CREATED_META: Option<&'static str> = Some(CREATED_META);
    const CREATE_ERRORS: &'static [&'static Code] =
        &[&DUPLICATE_KEY_NAME, &LIMITED_ADMIN_KEY, &WALLET_NOT_FOUND];
    const UPDATE_ERRORS: &'static [&'static Code] = &[&API_KEY_REVOKED];

    fn insert(conn: &mut PgConnection, new: &NewApiKey) -> Result<ApiKey, ApiError> {
        create_key(conn, new).map(|(key, _)| key)
    }

    /// The only change: a revocation.
    fn apply(
        conn: &mut PgConnection,
        &id: &i64,
        changes: &ApiKeyChanges,
    ) -> Result<Option<ApiKey>, ApiError> {
        match changes.revoked_at {
            Some(revocation) => revoke(conn, id, Some(revocation.0)),
            None => Ok(ApiKey::find(conn, &id)?),
        }
    }

    /// A key is never deleted (the journal names it): DELETE revokes it now. Deleting a key
    /// revoked already changes nothing.
    fn remove(conn: &mut PgConnection, &id: &i64) -> Result<bool, ApiError> {
        match ApiKey::revoke(conn, id, None)? {
            None => Ok(false),
            Some(_) => Ok(true),
        }
    }
}
