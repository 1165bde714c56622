//! Stored responses of requests sent with an `Idempotency-Key` (see `migrations/`).

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Bytea, Int2, Jsonb, Nullable, Text};

use crate::db::prepared::{bind, prepared, statement};

/// A response stored for a key of an API key.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResponse {
    /// The API key the request ran for (0: none).
    pub owner: i64,
    pub key: String,
    /// SHA-256 of the request (method, URL, body) the key was first used for.
    pub fingerprint: Vec<u8>,
    /// That request's method and URL ("POST /transactions").
    pub request: String,
    pub status: i16,
    pub content_type: String,
    /// Headers beyond Content-Type: `[[name, value], ...]`.
    pub headers: serde_json::Value,
    pub body: String,
    /// How long it is replayed from when it is stored (the row's `expires_at`).
    pub ttl_seconds: i64,
}

/// What claiming a key found.
#[derive(Debug)]
pub enum Claim {
    /// Another request holds the key now.
    Busy,
    /// The key is this transaction's, and was used before: its response.
    Stored(StoredResponse),
    /// The key is this transaction's, and new (or expired).
    Free,
}

// The claims of several keys in one round trip, in the order given (which callers keep
// sorted, so that two batches take the keys' advisory locks in one order).
statement!(
    ClaimKeys,
    "SELECT c.claimed, c.fingerprint, c.request, c.status, c.content_type, c.headers, c.body \
     FROM unnest($1::int8[], $2::text[]) WITH ORDINALITY AS k (owner, key, n), \
     LATERAL idempotency_claim(k.owner, k.key) AS c ORDER BY k.n"
);

// The responses of several keys in one statement (no key twice), each replayed for $9
// seconds. Written once: the claim removed an expired row of the same key first.
statement!(
    SaveResponses,
    "INSERT INTO idempotency_keys (api_key_id, key, fingerprint, request, status, content_type, \
     headers, body, expires_at) SELECT r.*, e.at FROM \
     unnest($1::int8[], $2::text[], $3::bytea[], $4::text[], $5::int2[], $6::text[], \
     $7::jsonb[], $8::text[]) AS r, (SELECT now() + make_interval(secs => $9)) AS e (at)"
);

impl Claimed {
    fn into_claim(self, owner: i64, key: &str) -> Claim {
        if !self.claimed {
            return Claim::Busy;
        }
        match (self.fingerprint, self.status) {
            (Some(fingerprint), Some(status)) => Claim::Stored(StoredResponse {
                owner,
                key: key.to_string(),
                fingerprint,
                request: self.request.unwrap_or_default(),
                status,
                content_type: self.content_type.unwrap_or_default(),
                headers: self.headers.unwrap_or_default(),
                body: self.body.unwrap_or_default(),
                ttl_seconds: 0,
            }),
            _ => Claim::Free,
        }
    }
}

#[derive(QueryableByName)]
struct Claimed {
    #[diesel(sql_type = Bool)]
    claimed: bool,
    #[diesel(sql_type = Nullable<Bytea>)]
    fingerprint: Option<Vec<u8>>,
    #[diesel(sql_type = Nullable<Text>)]
    request: Option<String>,
    #[diesel(sql_type = Nullable<Int2>)]
    status: Option<i16>,
    #[diesel(sql_type = Nullable<Text>)]
    content_type: Option<String>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    headers: Option<serde_json::Value>,
    #[diesel(sql_type = Nullable<Text>)]
    body: Option<String>,
}

impl StoredResponse {
    /// Takes `key` of API key `owner` for this database transaction (`idempotency_claim`:
    /// one round trip), and reads what it stored, unless that expired.
    pub fn claim(conn: &mut PgConnection, owner: i64, key: &str) -> QueryResult<Claim> {
        let mut claims = StoredResponse::claim_many(conn, &[(owner, key)])?;
        claims.pop().ok_or(diesel::result::Error::NotFound)
    }

    /// [`claim`](Self::claim) for each of `keys` (owner, key), in one round trip, in the
    /// order given.
    pub fn claim_many(conn: &mut PgConnection, keys: &[(i64, &str)]) -> QueryResult<Vec<Claim>> {
        let owners: Vec<i64> = keys.iter().map(|&(owner, _)| owner).collect();
        let texts: Vec<&str> = keys.iter().map(|&(_, key)| key).collect();
        let rows: Vec<Claimed> = prepared::<ClaimKeys, _>((
            bind::<Array<BigInt>, _>(&owners),
            bind::<Array<Text>, _>(&texts),
        ))
        .load(conn)?;
        Ok(rows
            .into_iter()
            .zip(keys)
            .map(|(row, &(owner, key))| row.into_claim(owner, key))
            .collect())
    }

    /// Stores a response (once: the claim removed an expired one of the same key).
    pub fn save(&self, conn: &mut PgConnection) -> QueryResult<()> {
        StoredResponse::save_many(conn, std::slice::from_ref(self))
    }

    /// [`save`](Self::save) for each of `responses` (of distinct keys), in one statement.
    pub fn save_many(conn: &mut PgConnection, responses: &[StoredResponse]) -> QueryResult<()> {
        let column = |of: fn(&StoredResponse) -> &str| responses.iter().map(of).collect::<Vec<_>>();
        let owners: Vec<i64> = responses.iter().map(|stored| stored.owner).collect();
        let fingerprints: Vec<&[u8]> = responses
            .iter()
            .map(|stored| stored.fingerprint.as_slice())
            .collect();
        let statuses: Vec<i16> = responses.iter().map(|stored| stored.status).collect();
        // One statement, one time to live: a batch's responses share the service's.
        let ttl_seconds = responses.first().map_or(0, |stored| stored.ttl_seconds);
        let headers: Vec<&serde_json::Value> =
            responses.iter().map(|stored| &stored.headers).collect();
        prepared::<SaveResponses, _>((
            bind::<Array<BigInt>, _>(&owners),
            bind::<Array<Text>, _>(&column(|stored| &stored.key)),
            bind::<Array<Bytea>, _>(&fingerprints),
            bind::<Array<Text>, _>(&column(|stored| &stored.request)),
            bind::<Array<Int2>, _>(&statuses),
            bind::<Array<Text>, _>(&column(|stored| &stored.content_type)),
            bind::<Array<Jsonb>, _>(&headers),
            bind::<Array<Text>, _>(&column(|stored| &stored.body)),
            bind::<BigInt, _>(&ttl_seconds),
        ))
        .execute(conn)
        .map(|_| ())
    }

    /// Removes up to `batch` expired rows, those that expired first first
    /// (`idempotency_purge`, through the expires_at index); returns how many.
    pub fn purge_expired(conn: &mut PgConnection, batch: i64) -> QueryResult<i64> {
        #[derive(QueryableByName)]
        struct Purged {
            #[diesel(sql_type = BigInt)]
            removed: i64,
        }
        diesel::sql_query("SELECT idempotency_purge($1) AS removed")
            .bind::<BigInt, _>(batch)
            .get_result::<Purged>(conn)
            .map(|purged| purged.removed)
    }
}
