//! The keys an instance knows: held in memory by the hash of their secret, reloaded from the
//! database twice a second (so a revocation stops a key within a second on every instance),
//! and looked up in the database when a request brings a secret the instance does not hold
//! yet (a key made a moment ago, here or on another instance, or with `wallet-api keys`).
//!
//! A secret is looked up by its SHA-256 through the table's unique index: one indexed read,
//! at most once per secret, since a secret no key has is remembered as absent (a bounded
//! cache: a real secret is 256 random bits, so one found absent can never become a key's).
//! Only a secret of the right form (`wk_` and 43 base64url characters) is looked up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use crate::models::api_key::{ApiKey, Credential, SECRET_PREFIX};

/// How often the keys are reloaded: a revocation takes effect within this, and a reload.
pub const RELOAD_EVERY: Duration = Duration::from_millis(500);

/// The most secrets remembered as absent; past it the oldest half is forgotten.
const MAX_ABSENT: usize = 10_000;

/// How long a secret stays remembered as absent.
const ABSENT_FOR: Duration = Duration::from_secs(600);

/// The keys in memory and the secrets known to be no key's.
#[derive(Default)]
pub struct KeyStore {
    by_hash: RwLock<Arc<HashMap<Vec<u8>, Arc<ApiKey>>>>,
    absent: Mutex<HashMap<Vec<u8>, Instant>>,
}

impl KeyStore {
    /// Replaces the keys with these (a reload).
    pub fn load(&self, credentials: Vec<Credential>) {
        let keys = credentials
            .into_iter()
            .map(|credential| (credential.secret_hash, Arc::new(credential.key)))
            .collect();
        *self.by_hash.write().expect("keys lock") = Arc::new(keys);
    }

    /// Adds one key (made here, or found by a lookup).
    pub fn add(&self, credential: Credential) -> Arc<ApiKey> {
        let key = Arc::new(credential.key);
        let mut held = self.by_hash.write().expect("keys lock");
        let mut keys = HashMap::clone(&held);
        keys.insert(credential.secret_hash, key.clone());
        *held = Arc::new(keys);
        key
    }

    /// The key whose secret hashes to `hash`, if this instance holds it.
    pub fn get(&self, hash: &[u8]) -> Option<Arc<ApiKey>> {
        self.by_hash.read().expect("keys lock").get(hash).cloned()
    }

    /// Whether a lookup found no key for `hash` lately.
    pub fn known_absent(&self, hash: &[u8]) -> bool {
        self.absent
            .lock()
            .expect("absent lock")
            .get(hash)
            .is_some_and(|at| at.elapsed() < ABSENT_FOR)
    }

    /// Remembers that no key has the secret hashing to `hash`.
    pub fn mark_absent(&self, hash: Vec<u8>) {
        let mut absent = self.absent.lock().expect("absent lock");
        if absent.len() >= MAX_ABSENT {
            let mut ages: Vec<Instant> = absent.values().copied().collect();
            ages.sort_unstable();
            let cutoff = ages[ages.len() / 2];
            absent.retain(|_, at| *at > cutoff);
        }
        absent.insert(hash, Instant::now());
    }

    /// Forgets the absent secrets remembered too long.
    pub fn prune(&self) {
        self.absent
            .lock()
            .expect("absent lock")
            .retain(|_, at| at.elapsed() < ABSENT_FOR);
    }
}

/// Whether `secret` has the form of a key's secret: `wk_` and 43 base64url characters.
pub fn well_formed(secret: &str) -> bool {
    secret.strip_prefix(SECRET_PREFIX).is_some_and(|rest| {
        rest.len() == 43
            && rest
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::api_key::new_secret;

    #[test]
    fn only_secrets_of_the_right_form_are_looked_up() {
        assert!(well_formed(&new_secret()));
        assert!(well_formed(
            "wk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        ));
        for bad in [
            "",
            "wk_",
            "xk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "wk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "wk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            "wk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+",
        ] {
            assert!(!well_formed(bad), "{bad}");
        }
    }

    #[test]
    fn the_absent_secrets_are_bounded() {
        let store = KeyStore::default();
        for n in 0..(MAX_ABSENT + 10) {
            store.mark_absent(n.to_le_bytes().to_vec());
        }
        let held = store.absent.lock().unwrap().len();
        assert!(held <= MAX_ABSENT, "{held}");
        assert!(store.known_absent(&(MAX_ABSENT + 9).to_le_bytes()));
    }
}
