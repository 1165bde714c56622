//! What every worker shares: the database, the write pipeline, the read coalescers, the
//! health check and the settings the handlers read.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use super::resource::Resource;
use super::write::Writer;
use crate::api::health::{HealthCheck, Load};
use crate::api::middleware::auth::Authenticator;
use crate::db::Database;
use crate::db::reads::Reads;
use crate::db::standby::{Lsn, Reader};

/// The read coalescer of one resource type, its type erased: made by [`ReadsOf::of`].
pub struct ReadsOf {
    make: fn(usize) -> Arc<dyn Any + Send + Sync>,
    counts: fn(&(dyn Any + Send + Sync)) -> (u64, u64),
}

impl ReadsOf {
    /// The coalescer of `R`'s reads by id.
    pub const fn of<R: Resource>() -> ReadsOf {
        ReadsOf {
            make: make::<R>,
            counts: counts::<R>,
        }
    }
}

fn make<R: Resource>(max_batch: usize) -> Arc<dyn Any + Send + Sync> {
    Arc::new(Reads::<R, R::Id>::new(max_batch, R::find_many, R::id))
}

fn counts<R: Resource>(reads: &(dyn Any + Send + Sync)) -> (u64, u64) {
    reads
        .downcast_ref::<Arc<Reads<R, R::Id>>>()
        .map_or((0, 0), |reads| reads.counts())
}

/// The read coalescers, one per resource whose reads by id are coalesced
/// (`Resource::COALESCE_READS`).
pub struct ReadCoalescing {
    by_type: HashMap<&'static str, (Arc<dyn Any + Send + Sync>, &'static ReadsOf)>,
}

impl ReadCoalescing {
    pub fn new(max_batch: usize) -> ReadCoalescing {
        ReadCoalescing {
            by_type: super::RESOURCES
                .iter()
                .filter_map(|resource| {
                    let of = resource.reads.as_ref()?;
                    Some((resource.type_name, ((of.make)(max_batch), of)))
                })
                .collect(),
        }
    }

    /// `R`'s coalescer, if its reads are coalesced.
    pub fn of<R: Resource>(&self) -> Option<&Arc<Reads<R, R::Id>>> {
        self.by_type
            .get(R::TYPE)
            .and_then(|(reads, _)| reads.downcast_ref::<Arc<Reads<R, R::Id>>>())
    }

    /// Per resource: the queries run, and the reads they answered.
    pub fn counts(&self) -> Vec<(&'static str, (u64, u64))> {
        let mut counts: Vec<_> = self
            .by_type
            .iter()
            .map(|(type_name, (reads, of))| (*type_name, (of.counts)(&**reads)))
            .collect();
        counts.sort_by_key(|(type_name, _)| *type_name);
        counts
    }
}

/// State shared by all workers.
pub struct AppState {
    /// The primary: every write, and every read when there is no standby.
    pub db: Database,
    /// Where reads go first, when configured (`STANDBY_DATABASE_URL`; see `db::standby`).
    pub standby: Option<Database>,
    /// Where every write runs (`api::write`).
    pub writer: Writer,
    /// Where reads by id wait to be answered together, when read coalescing is on
    /// (`COALESCE_READS`).
    pub reads: Option<ReadCoalescing>,
    pub health: HealthCheck,
    /// The requests answered and shed lately, for `/health`.
    pub load: Load,
    /// Set once the instance is shutting down: `/health` then answers 503.
    pub draining: Arc<std::sync::atomic::AtomicBool>,
    /// Who may call: the API keys in memory, their rate limits.
    pub auth: Arc<Authenticator>,
    /// How long a client has to send a request body (`HTTP_BODY_TIMEOUT`).
    pub body_timeout: std::time::Duration,
    /// Scheme and authority for links, when configured (`BASE_URL`).
    pub base_url: Option<String>,
    /// The open event streams (`GET /events` as `text/event-stream`), and their bounds.
    pub streams: std::sync::Arc<super::resources::events::Streams>,
    /// What webhook endpoints' URLs may reach.
    pub webhook_network: crate::webhooks::address::Network,
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
