//! API keys: who may call the service, with which scopes, over which wallets. A key's secret
//! is made here, shown once (to whoever created the key) and never kept: the table holds its
//! SHA-256 and its first characters only (see `migrations/`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::declare::resource;
use super::fields::Record;
use crate::domain::parse_time;
use crate::parse::{Accepts, Input, Parse, string_attribute as string};
use crate::schema::api_keys;

/// What a key may do: `read` every GET, `write` also every POST, PATCH and DELETE (and
/// atomic operations), `admin` also manage keys. Each includes the ones before it.
pub const SCOPES: &[&str] = &["read", "write", "admin"];

/// What a secret starts with: secret scanners find leaked ones by it.
pub const SECRET_PREFIX: &str = "wk_";

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = api_keys, check_for_backend(Pg))]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    pub wallet_ids: Vec<i64>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

resource! {
    /// The fields of an API key.
    ApiKey in api_keys as "api-keys", fields ApiKeyField {
        Id "id": id, id, read, sort, filter cmp, "The key's id.";
        Name "name": name, text, once(KeyName), sort, filter text,
            "What the key is for: 1 to 100 characters, unique among the keys in use.";
        Prefix "prefix": prefix, text, read, nosort, filter eq,
            "The first 11 characters of its secret (the secret itself is shown once, when the \
             key is created): enough to tell keys apart, and to find a leaked one.";
        Scopes "scopes": scopes, words(SCOPES), once(Scopes), nosort, filter none,
            "What the key may do: read (every GET), write (also every POST, PATCH and DELETE, \
             and atomic operations), admin (also manage keys); each includes the ones before it.";
        Wallets "wallets": wallet_ids, to_many_ids("wallets"), create(Vec<i64>), nosort, filter none,
            "The wallets the key is limited to: it sees and touches only them and what belongs \
             to them. None: every wallet. A key with admin is never limited.";
        CreatedAt "createdAt": created_at, time, read, sort, filter cmp,
            "When the key was created (set by the server).";
        ExpiresAt "expiresAt": expires_at, opt_time, create(Expiry), nosort, filter none,
            "When the key stops working by itself (none: it works until revoked).";
        RevokedAt "revokedAt": revoked_at, opt_time, update(Revocation), nosort, filter none,
            "When the key was revoked: it works no more, on every instance within a second. \
             A revocation cannot be undone.";
    }
    input NewApiKey, ApiKeyChanges;
}

/// A key's name: 1 to 100 characters, no NUL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyName(String);

impl KeyName {
    pub fn parse(text: &str) -> Result<KeyName, String> {
        let chars = text.chars().count();
        if chars == 0 || chars > 100 || text.contains('\0') {
            return Err(format!(
                "a key's name is 1 to 100 characters without NUL, got {chars} characters"
            ));
        }
        Ok(KeyName(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Parse for KeyName {
    const ACCEPTS: Accepts = Accepts::Text { min: 1, max: 100 };

    fn parse(input: Input<'_>) -> Result<KeyName, String> {
        KeyName::parse(&string(input, "name")?)
    }
}

/// A key's scopes: at least one of [`SCOPES`], each once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scopes(Vec<String>);

impl Scopes {
    pub fn parse(words: &[String]) -> Result<Scopes, String> {
        if words.is_empty() {
            return Err(format!("give at least one scope of {}", SCOPES.join(", ")));
        }
        for (i, word) in words.iter().enumerate() {
            if !SCOPES.contains(&word.as_str()) {
                return Err(format!(
                    "{word:?} is not a scope; scopes: {}",
                    SCOPES.join(", ")
                ));
            }
            if words[..i].contains(word) {
                return Err(format!("the scope {word:?} is given twice"));
            }
        }
        Ok(Scopes(words.to_vec()))
    }

    pub fn words(&self) -> &[String] {
        &self.0
    }
}

impl Parse for Scopes {
    const ACCEPTS: Accepts = Accepts::Words(SCOPES);

    fn parse(input: Input<'_>) -> Result<Scopes, String> {
        let words: Vec<String> = match input {
            Input::Attribute(raw) => serde_json::from_str(raw.get())
                .map_err(|_| format!("scopes is an array of scopes ({})", SCOPES.join(", ")))?,
            _ => return Err("scopes is an attribute".into()),
        };
        Scopes::parse(&words)
    }
}

/// When a new key or hold expires: a time to come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry(pub DateTime<Utc>);

impl Parse for Expiry {
    const ACCEPTS: Accepts = Accepts::Time;

    fn parse(input: Input<'_>) -> Result<Expiry, String> {
        Expiry::at(time(input, "expiresAt")?)
    }
}

impl Expiry {
    /// An expiry at `time`, which must be to come.
    pub fn at(time: DateTime<Utc>) -> Result<Expiry, String> {
        if time <= Utc::now() {
            return Err("the expiry is in the past: an expiry is a time to come".into());
        }
        Ok(Expiry(time))
    }
}

/// When a key is revoked: now, or a time already past (to say since when it should not
/// have been used). A time to come is an expiry, not a revocation: refused (the database
/// refuses it too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revocation(pub DateTime<Utc>);

impl Parse for Revocation {
    const ACCEPTS: Accepts = Accepts::Time;

    fn parse(input: Input<'_>) -> Result<Revocation, String> {
        let time = time(input, "revokedAt")?;
        if time > Utc::now() {
            return Err(
                "revokedAt is in the future: a key is revoked now or since a time past (give \
                 that time, or DELETE the key); a key that should stop later is one with an \
                 expiresAt"
                    .into(),
            );
        }
        Ok(Revocation(time))
    }
}

fn time(input: Input<'_>, name: &str) -> Result<DateTime<Utc>, String> {
    let text = string(input, name)?;
    parse_time(&text).ok_or_else(|| format!("{name} must be an RFC 3339 time, got {text:?}"))
}

/// A new key's secret: `wk_` and 32 random bytes, base64url (256 bits).
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's randomness");
    format!("{SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The hash a secret is known by.
pub fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// A key as the authenticator needs it: with its secret's hash.
#[derive(Debug, Clone, Queryable)]
pub struct Credential {
    pub key: ApiKey,
    pub secret_hash: Vec<u8>,
}

impl ApiKey {
    /// A new key, and its secret (the only time anyone sees it).
    pub fn create(conn: &mut PgConnection, new: &NewApiKey) -> QueryResult<(ApiKey, String)> {
        let secret = new_secret();
        let mut wallets = new.wallet_ids.clone().unwrap_or_default();
        wallets.sort_unstable();
        wallets.dedup();
        let key = diesel::insert_into(api_keys::table)
            .values((
                api_keys::name.eq(new.name.as_str()),
                api_keys::prefix.eq(&secret[..11]),
                api_keys::secret_hash.eq(hash(&secret)),
                api_keys::scopes.eq(new.scopes.words()),
                api_keys::wallet_ids.eq(wallets),
                api_keys::expires_at.eq(new.expires_at.map(|expiry| expiry.0)),
            ))
            .returning(ApiKey::as_returning())
            .get_result(conn)?;
        Ok((key, secret))
    }

    /// Revokes a key in use at `at` (`None`: now, by the database's clock); `None` when
    /// there is no such key, and the key as it is when it was revoked already (the first
    /// revocation stands).
    pub fn revoke(
        conn: &mut PgConnection,
        id: i64,
        at: Option<DateTime<Utc>>,
    ) -> QueryResult<Option<Revoked>> {
        use diesel::dsl::sql;
        use diesel::sql_types::{Nullable, Timestamptz};
        let revoked = diesel::update(
            api_keys::table
                .find(id)
                .filter(api_keys::revoked_at.is_null()),
        )
        .set(
            api_keys::revoked_at.eq(sql::<Nullable<Timestamptz>>("coalesce(")
                .bind::<Nullable<Timestamptz>, _>(at)
                .sql(", clock_timestamp())")),
        )
        .returning(ApiKey::as_returning())
        .get_result(conn)
        .optional()?;
        Ok(match revoked {
            Some(key) => Some(Revoked::Now(key)),
            None => ApiKey::find(conn, &id)?.map(Revoked::Before),
        })
    }

    /// The key in use with this name.
    pub fn in_use(conn: &mut PgConnection, name: &str) -> QueryResult<Option<ApiKey>> {
        api_keys::table
            .filter(api_keys::name.eq(name))
            .filter(api_keys::revoked_at.is_null())
            .select(ApiKey::as_select())
            .first(conn)
            .optional()
    }

    /// Every key, oldest first.
    pub fn all(conn: &mut PgConnection) -> QueryResult<Vec<ApiKey>> {
        api_keys::table
            .order(api_keys::id)
            .select(ApiKey::as_select())
            .load(conn)
    }

    /// Every key with its hash: those revoked or expired too, so that a refusal can say why
    /// (keys are few: a deployment's clients).
    pub fn credentials(conn: &mut PgConnection) -> QueryResult<Vec<Credential>> {
        api_keys::table
            .select((ApiKey::as_select(), api_keys::secret_hash))
            .load(conn)
            .map(|rows: Vec<(ApiKey, Vec<u8>)>| {
                rows.into_iter()
                    .map(|(key, secret_hash)| Credential { key, secret_hash })
                    .collect()
            })
    }

    /// The key whose secret hashes to `secret_hash`, with its hash (one read of the unique
    /// index), whatever its state.
    pub fn credential(
        conn: &mut PgConnection,
        secret_hash: &[u8],
    ) -> QueryResult<Option<Credential>> {
        api_keys::table
            .filter(api_keys::secret_hash.eq(secret_hash))
            .select((ApiKey::as_select(), api_keys::secret_hash))
            .first(conn)
            .optional()
            .map(|row: Option<(ApiKey, Vec<u8>)>| {
                row.map(|(key, secret_hash)| Credential { key, secret_hash })
            })
    }

    /// Whether the key holds `scope` or one that includes it.
    pub fn allows(&self, scope: &str) -> bool {
        let rank = |word: &str| SCOPES.iter().position(|s| *s == word);
        let needed = rank(scope);
        self.scopes.iter().any(|held| rank(held) >= needed)
    }
}

/// What revoking a key did.
#[derive(Debug)]
pub enum Revoked {
    Now(ApiKey),
    /// It had been revoked already.
    Before(ApiKey),
}
