//! `Idempotency-Key` (IETF httpapi draft "The Idempotency-Key HTTP Header Field"): a write
//! sent with a key runs once; its response is stored in the same database transaction as the
//! write, and a retry with the same key and the same request gets it again, byte for byte,
//! with `Idempotent-Replayed: true`. The write pipeline's claim hook: a write runs as
//! [`claim_write_store`] alone; a batch claims its writes' keys in one statement
//! ([`claim_all`], [`decided`]) and stores their responses in one more ([`stored`]).
//!
//! - The same key with another request (method, URL or body differ): 422.
//! - The same key while its first request is still running: 409, at once (the first request
//!   holds a transaction-level advisory lock on the key; the second does not wait for it).
//! - Client errors (4xx) the write met in the database are stored and replayed like
//!   successes; server errors (5xx, 503) are not: the client may retry them.
//! - A request without the header behaves as it always did.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use diesel::pg::PgConnection;
use sha2::{Digest, Sha256};

use diesel::QueryResult;

use crate::api::errors::{CONNECTION_LOST, outcome_unknown};
use crate::api::middleware::auth::Actor;
use crate::codes;
use crate::jsonapi::ApiError;
use crate::jsonapi::document::Reply;
use crate::jsonapi::media_type::{ATOMIC, JSONAPI_MEDIA_TYPE};
use crate::models::idempotency_key::{Claim, StoredResponse};

pub const HEADER: &str = "Idempotency-Key";

codes! {
    pub INVALID_IDEMPOTENCY_KEY = (BAD_REQUEST, "invalid-idempotency-key", "Invalid Idempotency-Key",
        "an Idempotency-Key that is empty, too long or not printable ASCII");
    pub IDEMPOTENCY_KEY_IN_USE = (CONFLICT, "idempotency-key-in-use", "Idempotency key in use",
        "a request with the same Idempotency-Key is still running (with Retry-After)");
    pub IDEMPOTENCY_KEY_REUSED = (UNPROCESSABLE_ENTITY, "idempotency-key-reused", "Idempotency key reused",
        "the Idempotency-Key was used for another request");
}
/// The header a replayed response carries.
pub const REPLAYED: &str = "Idempotent-Replayed";
const MAX_KEY_CHARS: usize = 255;

const KEY_FORMAT: &str = "Idempotency-Key must be 1 to 255 printable ASCII characters, as a \
     token or a quoted string (\"8e03978e-40d5-43e8-bc93-6894a57f9324\")";

/// The `Idempotency-Key` of a request, checked, with what identifies the request and the API
/// key it belongs to (a key value names one request of one API key).
pub struct IdempotencyKey {
    key: Option<String>,
    /// `METHOD /path?query`.
    request: String,
    /// The id of the API key the request runs for (0: none).
    owner: i64,
}

impl FromRequest for IdempotencyKey {
    type Error = ApiError;
    type Future = Ready<Result<IdempotencyKey, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let key = match request.headers().get(HEADER) {
            None => Ok(None),
            Some(value) => parse_key(value.as_bytes()).map(Some),
        };
        let target = match request.query_string() {
            "" => request.path().to_string(),
            query => format!("{}?{query}", request.path()),
        };
        let owner = request.extensions().get::<Actor>().map_or(0, Actor::key_id);
        ready(key.map(|key| IdempotencyKey {
            key,
            request: format!("{} {target}", request.method()),
            owner,
        }))
    }
}

/// A key as the draft writes it (a structured-field string, `"..."`, with `\"` and `\\`
/// escapes), or as a bare token (printable ASCII not opening a quote).
fn parse_key(raw: &[u8]) -> Result<String, ApiError> {
    let invalid = || ApiError::new(&INVALID_IDEMPOTENCY_KEY, KEY_FORMAT).header(HEADER);
    let text = std::str::from_utf8(raw).map_err(|_| invalid())?.trim();
    let key = match text.strip_prefix('"') {
        Some(rest) => unquote(rest).ok_or_else(invalid)?,
        None => text.to_string(),
    };
    let printable = key.bytes().all(|b| (0x20..=0x7e).contains(&b));
    if key.is_empty() || key.len() > MAX_KEY_CHARS || !printable {
        return Err(invalid());
    }
    Ok(key)
}

/// The inside of a structured-field string whose opening quote is gone: up to its closing
/// quote, which must end the text, with `\"` and `\\` unescaped.
fn unquote(rest: &str) -> Option<String> {
    let mut key = String::with_capacity(rest.len());
    let mut chars = rest.chars();
    loop {
        match chars.next()? {
            '"' => return chars.next().is_none().then_some(key),
            '\\' => match chars.next()? {
                escaped @ ('"' | '\\') => key.push(escaped),
                _ => return None,
            },
            c => key.push(c),
        }
    }
}

/// A key, the API key it belongs to, and the fingerprint of the request it came with.
#[derive(Debug, Clone)]
pub struct Keyed {
    owner: i64,
    key: String,
    request: String,
    fingerprint: Vec<u8>,
}

impl Keyed {
    /// The API key it belongs to (0: none).
    pub fn owner(&self) -> i64 {
        self.owner
    }

    pub fn key(&self) -> &str {
        &self.key
    }
}

impl IdempotencyKey {
    /// Refuses a key on a write whose response shows a secret once: a stored response would
    /// hold the secret, and a replay would show it again. `what` says what is shown, and
    /// `retry` why a plain retry is safe.
    pub fn refuse_for_secret(&self, what: &str, retry: &str) -> Result<(), ApiError> {
        if !self.is_given() {
            return Ok(());
        }
        Err(ApiError::new(
            &INVALID_IDEMPOTENCY_KEY,
            format!(
                "{what} is shown once and never stored, so this write cannot be replayed: \
                 send it without Idempotency-Key ({retry})"
            ),
        )
        .header(HEADER))
    }

    /// Whether the request carries a key.
    pub fn is_given(&self) -> bool {
        self.key.is_some()
    }

    /// The key with the fingerprint of this request (method, URL and body), when one was
    /// given.
    pub fn with_body(&self, body: &[u8]) -> Option<Keyed> {
        let key = self.key.as_ref()?;
        let mut hash = Sha256::new();
        hash.update(self.request.as_bytes());
        hash.update([0]);
        hash.update(body);
        Some(Keyed {
            owner: self.owner,
            key: key.clone(),
            request: self.request.clone(),
            fingerprint: hash.finalize().to_vec(),
        })
    }
}

/// A write whose connection broke while it ran may have committed.
pub fn unknown_if_lost(error: ApiError) -> ApiError {
    if error.is(&CONNECTION_LOST) {
        outcome_unknown().as_answer_to(&error)
    } else {
        error
    }
}

/// In the caller's transaction: the claim of the key, the write in a savepoint of its own,
/// the stored response, replayed for `ttl_seconds`. A client error rolls back the write alone
/// and is stored as the answer (the claim's advisory lock held throughout, no retry can run in
/// between); any other error is answered as it is, and the caller's transaction rolls back.
/// Two requests with one key in one transaction are judged in order: the second finds the
/// first's stored response (its claim's advisory lock is the transaction's already).
pub fn claim_write_store(
    conn: &mut PgConnection,
    keyed: &Keyed,
    ttl_seconds: i64,
    self_link: &str,
    work: &dyn Fn(&mut PgConnection) -> Result<Reply, ApiError>,
) -> Result<Reply, ApiError> {
    use diesel::Connection;
    let claim = StoredResponse::claim(conn, keyed.owner, &keyed.key)?;
    if let Some(answer) = decided(keyed, claim) {
        return answer;
    }
    let reply = match conn.transaction::<Reply, ApiError, _>(work) {
        Ok(reply) => reply,
        Err(error) if error.status().is_client_error() => error.reply(self_link),
        Err(error) => return Err(error),
    };
    stored(keyed, &reply, ttl_seconds).save(conn)?;
    Ok(reply)
}

/// The claims of several keys in one statement (a batch's, in the order given: callers keep
/// them sorted, so that two batches take the keys' advisory locks in one order).
pub fn claim_all(conn: &mut PgConnection, keys: &[&Keyed]) -> QueryResult<Vec<Claim>> {
    let keys: Vec<(i64, &str)> = keys
        .iter()
        .map(|keyed| (keyed.owner, keyed.key.as_str()))
        .collect();
    StoredResponse::claim_many(conn, &keys)
}

/// What a claim of `keyed` decides: `None` when the request is to run; otherwise its answer
/// (a replay, or the 409 or 422 of a key in use or reused).
pub fn decided(keyed: &Keyed, claim: Claim) -> Option<Result<Reply, ApiError>> {
    match claim {
        Claim::Busy => Some(Err(in_progress())),
        Claim::Stored(stored) if stored.fingerprint == keyed.fingerprint => {
            Some(Ok(replay(stored)))
        }
        Claim::Stored(stored) => Some(Err(reused(&stored.request))),
        Claim::Free => None,
    }
}

/// The response to store for `keyed`, replayed for `ttl_seconds`.
pub fn stored(keyed: &Keyed, reply: &Reply, ttl_seconds: i64) -> StoredResponse {
    StoredResponse {
        owner: keyed.owner,
        key: keyed.key.clone(),
        fingerprint: keyed.fingerprint.clone(),
        request: keyed.request.clone(),
        status: reply.status.as_u16() as i16,
        content_type: reply.content_type.to_string(),
        headers: serde_json::to_value(&reply.headers).unwrap_or_default(),
        body: reply.body.clone(),
        ttl_seconds,
    }
}

fn replay(stored: StoredResponse) -> Reply {
    // Stored content types are the two this service answers with.
    let content_type = if stored.content_type == ATOMIC.media_type {
        ATOMIC.media_type
    } else {
        JSONAPI_MEDIA_TYPE
    };
    let headers: Vec<(String, String)> = serde_json::from_value(stored.headers).unwrap_or_default();
    Reply {
        status: StatusCode::from_u16(stored.status as u16).unwrap_or(StatusCode::OK),
        content_type,
        headers,
        body: stored.body,
    }
    .with_header(REPLAYED, "true")
}

fn in_progress() -> ApiError {
    ApiError::new(
        &IDEMPOTENCY_KEY_IN_USE,
        "a request with this Idempotency-Key is still being processed; retry it shortly to get \
         its response",
    )
    .header(HEADER)
    .with_header("Retry-After", "1")
}

fn reused(first: &str) -> ApiError {
    ApiError::new(
        &IDEMPOTENCY_KEY_REUSED,
        format!(
            "this Idempotency-Key was used for another request ({first}, or the same URL with \
             another body); a key names one request: use a new key for a new request"
        ),
    )
    .header(HEADER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_tokens_or_quoted_strings_of_printable_ascii() {
        assert_eq!(parse_key(b"abc-123").unwrap(), "abc-123");
        assert_eq!(parse_key(b"\"8e03978e 40d5\"").unwrap(), "8e03978e 40d5");
        assert_eq!(parse_key(b"\"say \\\"hi\\\"\"").unwrap(), "say \"hi\"");
        for bad in [
            &b""[..],
            b"\"\"",
            b"\"open",
            b"\"a\"b\"",
            b"\"bad \\escape\"",
            b"caf\xc3\xa9",
            b"tab\there",
            &[b'k'; 256][..],
        ] {
            let error = parse_key(bad).unwrap_err();
            assert_eq!(error.status().as_u16(), 400);
            assert_eq!(error.document()["errors"][0]["source"]["header"], HEADER);
        }
        assert!(parse_key(&[b'k'; 255]).is_ok());
    }

    #[test]
    fn the_fingerprint_covers_method_url_and_body() {
        let key = |request: &str| IdempotencyKey {
            key: Some("k".into()),
            request: request.into(),
            owner: 0,
        };
        let a = key("POST /wallets").with_body(b"{}").unwrap().fingerprint;
        assert_eq!(
            a,
            key("POST /wallets").with_body(b"{}").unwrap().fingerprint
        );
        assert_ne!(
            a,
            key("POST /wallets").with_body(b"{ }").unwrap().fingerprint
        );
        assert_ne!(
            a,
            key("POST /transactions")
                .with_body(b"{}")
                .unwrap()
                .fingerprint
        );
        assert_ne!(
            a,
            key("PATCH /wallets").with_body(b"{}").unwrap().fingerprint
        );
        assert!(
            IdempotencyKey {
                key: None,
                request: "POST /wallets".into(),
                owner: 0,
            }
            .with_body(b"{}")
            .is_none()
        );
    }
}
