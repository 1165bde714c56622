//! `wallet-api keys create | list | revoke`: API keys from the command line, for scripts and
//! for the first key of a deployment. The same functions as `/api-keys` make and revoke
//! them (`api::api_keys`), so both refuse the same things in the same words.

use anyhow::{Context, bail};
use chrono::Utc;
use diesel::pg::PgConnection;

use crate::api::resources::api_keys::{create_key, revoke};
use crate::domain::{parse_time, timestamp};
use crate::jsonapi::ApiError;
use crate::models::api_key::{ApiKey, Expiry, KeyName, NewApiKey, Scopes};

/// What `keys create` is given.
#[derive(Debug, Clone, clap::Args)]
pub struct NewKey {
    /// What the key is for: 1 to 100 characters, unique among the keys in use.
    #[arg(long)]
    pub name: String,
    /// read, write or admin (each includes the ones before it); repeat for several.
    #[arg(long = "scope", required = true, value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// Limit the key to this wallet (repeat for several); none: every wallet.
    #[arg(long = "wallet", value_name = "ID")]
    pub wallets: Vec<i64>,
    /// When the key stops working by itself (RFC 3339); none: when it is revoked.
    #[arg(long, value_name = "RFC3339")]
    pub expires: Option<String>,
}

impl NewKey {
    /// The key to create, checked as `/api-keys` checks a document.
    fn parse(&self) -> anyhow::Result<NewApiKey> {
        let name = KeyName::parse(&self.name).map_err(|why| anyhow::anyhow!("--name: {why}"))?;
        let scopes =
            Scopes::parse(&self.scopes).map_err(|why| anyhow::anyhow!("--scope: {why}"))?;
        let expires_at = match &self.expires {
            None => None,
            Some(text) => {
                let time = parse_time(text)
                    .with_context(|| format!("--expires: {text:?} is not an RFC 3339 time"))?;
                Some(Expiry::at(time).map_err(|why| anyhow::anyhow!("--expires: {why}"))?)
            }
        };
        Ok(NewApiKey {
            name,
            scopes,
            wallet_ids: (!self.wallets.is_empty()).then(|| self.wallets.clone()),
            expires_at,
        })
    }
}

/// Creates a key; what to print, the secret alone on the last line.
pub fn create(conn: &mut PgConnection, new: &NewKey) -> anyhow::Result<String> {
    let (key, secret) = create_key(conn, &new.parse()?).map_err(refused)?;
    Ok(format!(
        "created API key {} ({})\nits secret, shown this once (the service keeps only its hash):\n{secret}",
        key.id,
        describe(&key)
    ))
}

/// Every key, one per line, without secrets.
pub fn list(conn: &mut PgConnection) -> anyhow::Result<String> {
    let keys = ApiKey::all(conn).context("cannot read the API keys")?;
    if keys.is_empty() {
        return Ok(
            "no API keys (create one with: wallet-api keys create --name NAME --scope admin)"
                .to_string(),
        );
    }
    Ok(keys
        .iter()
        .map(|key| format!("{}\t{}\t{}", key.id, key.prefix, describe(key)))
        .collect::<Vec<_>>()
        .join("\n"))
}

/// Revokes the key in use named `name`.
pub fn revoke_named(conn: &mut PgConnection, name: &str) -> anyhow::Result<String> {
    let Some(key) = ApiKey::in_use(conn, name).context("cannot read the API keys")? else {
        bail!("no key in use is named {name:?} (wallet-api keys list shows them)");
    };
    let revoked = revoke(conn, key.id, None)
        .map_err(refused)?
        .with_context(|| format!("key {name:?} is gone"))?;
    Ok(format!(
        "revoked API key {} ({}); it stops working within a second on every instance",
        revoked.id,
        describe(&revoked)
    ))
}

/// A key in a few words: its name, scopes, wallets and state.
fn describe(key: &ApiKey) -> String {
    let wallets = if key.wallet_ids.is_empty() {
        "every wallet".to_string()
    } else {
        let ids: Vec<String> = key.wallet_ids.iter().map(i64::to_string).collect();
        format!("wallets {}", ids.join(", "))
    };
    let state = match (key.revoked_at, key.expires_at) {
        (Some(at), _) => format!("revoked {}", timestamp(&at)),
        (None, Some(at)) if at <= Utc::now() => format!("expired {}", timestamp(&at)),
        (None, Some(at)) => format!("expires {}", timestamp(&at)),
        (None, None) => "never expires".to_string(),
    };
    format!(
        "{:?}, scopes {}, {wallets}, {state}",
        key.name,
        key.scopes.join(", ")
    )
}

/// An API refusal, in the words of its detail.
fn refused(error: ApiError) -> anyhow::Error {
    if error.status().is_server_error() {
        return anyhow::anyhow!(
            "the database did not take the key (the log says why; is it migrated? wallet-api \
             migrate)"
        );
    }
    let document = error.document();
    let detail = document["errors"][0]["detail"]
        .as_str()
        .unwrap_or("refused")
        .to_string();
    anyhow::anyhow!(detail)
}
