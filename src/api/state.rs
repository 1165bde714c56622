//! What every worker shares: the database, the write coalescer, the health check and the
//! settings the handlers read.

use std::sync::Arc;

use crate::api::auth::Authenticator;
use crate::api::health::{HealthCheck, Load};
use crate::db::Database;
use crate::db::coalesce::Coalescer;
use crate::db::reads::Reads;
use crate::db::standby::{Lsn, Reader};
use crate::jsonapi::ApiError;
use crate::jsonapi::document::Reply;
use crate::models::{Booking, Record, Transaction, Wallet};

/// The read coalescers, one per resource read by id on the hot path.
pub struct ReadCoalescing {
    pub wallets: Arc<Reads<Wallet>>,
    pub transactions: Arc<Reads<Transaction>>,
}

impl ReadCoalescing {
    pub fn new(max_batch: usize) -> ReadCoalescing {
        ReadCoalescing {
            wallets: Reads::new(max_batch, Wallet::find_many, Wallet::id),
            transactions: Reads::new(max_batch, Transaction::find_many, Transaction::id),
        }
    }

    /// Per resource: the queries run, and the reads they answered.
    pub fn counts(&self) -> Vec<(&'static str, (u64, u64))> {
        vec![
            ("wallets", self.wallets.counts()),
            ("transactions", self.transactions.counts()),
        ]
    }
}

/// State shared by all workers.
pub struct AppState {
    /// The primary: every write, and every read when there is no standby.
    pub db: Database,
    /// Where reads go first, when configured (`STANDBY_DATABASE_URL`; see `db::standby`).
    pub standby: Option<Database>,
    /// Where creates wait to be run together, when coalescing is on (`COALESCE`).
    pub writes: Option<std::sync::Arc<Coalescer<Reply, ApiError, Booking>>>,
    /// Where reads by id wait to be answered together, when read coalescing is on
    /// (`COALESCE_READS`).
    pub reads: Option<ReadCoalescing>,
    pub health: HealthCheck,
    /// The requests answered and shed lately, for `/health`.
    pub load: Load,
    /// Who may call: the API keys in memory, their rate limits.
    pub auth: Arc<Authenticator>,
    /// How long a client has to send a request body (`HTTP_BODY_TIMEOUT`).
    pub body_timeout: std::time::Duration,
    /// Scheme and authority for links, when configured (`BASE_URL`).
    pub base_url: Option<String>,
    /// How long a stored `Idempotency-Key` response is replayed (`IDEMPOTENCY_TTL`).
    pub idempotency_ttl_seconds: i64,
}

impl AppState {
    /// Where a read runs that must see the write at `after`, when the client sent one.
    pub fn reader(&self, after: Option<Lsn>) -> Reader<'_> {
        Reader {
            primary: &self.db,
            standby: self.standby.as_ref(),
            after,
        }
    }
}
