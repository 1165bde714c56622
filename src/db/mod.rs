//! The database: connection pool, embedded migrations, running blocking queries off the
//! async threads, and the one place where database errors are told apart.

use std::time::{Duration, Instant};

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, ManageConnection, R2D2Connection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub mod deadline;
mod error;
pub mod prepared;
pub mod queue;
pub mod reads;
pub mod rules;
pub mod standby;

use deadline::{Budget, Deadline, Limits};
pub use error::{ConstraintKind, DbError};

pub type Pool = r2d2::Pool<Manager>;

/// Every migration under `migrations/`, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The name the service gives its connections (`application_name`), which the balance
/// journal records with every change: API writes are told apart from a `psql` user's.
pub const APPLICATION_NAME: &str = "wallet-api";

/// How the service uses the database: its connections' session limits and how long and how
/// many requests may wait for one.
#[derive(Debug, Clone)]
pub struct Settings {
    pub pool_size: u32,
    /// `statement_timeout` and `lock_timeout` of every pooled connection.
    pub statement_timeout: Duration,
    pub lock_timeout: Duration,
    /// How long a request waits for a connection.
    pub acquire_timeout: Duration,
    /// How many requests may wait for one at once.
    pub max_waiting: usize,
}

/// The service's database: a pool of connections and the gate in front of it.
#[derive(Clone)]
pub struct Database {
    pub pool: Pool,
    gate: Arc<Gate>,
    /// What a request may wait for a connection, a statement and a lock.
    pub limits: Limits,
}

impl Database {
    /// Connects (`size` connections at most, the first ones opened now).
    pub fn connect(url: &str, settings: &Settings) -> anyhow::Result<Database> {
        let manager = Manager {
            inner: ConnectionManager::new(named(url, APPLICATION_NAME)),
            session: format!(
                "SET statement_timeout = {}; SET lock_timeout = {}",
                settings.statement_timeout.as_millis(),
                settings.lock_timeout.as_millis()
            ),
        };
        let pool = r2d2::Pool::builder()
            .max_size(settings.pool_size)
            .min_idle(Some(settings.pool_size.min(4)))
            // Not pinged on checkout (a round trip per request); see Manager::has_broken.
            .test_on_check_out(false)
            .connection_timeout(settings.acquire_timeout)
            .build(manager)
            .context("cannot connect to the database (is DATABASE_URL right, is PostgreSQL up?)")?;
        Ok(Database {
            pool,
            gate: Arc::new(Gate {
                slots: Arc::new(Semaphore::new(settings.pool_size as usize)),
                waiting: AtomicUsize::new(0),
                max_waiting: settings.max_waiting,
            }),
            limits: Limits {
                acquire: settings.acquire_timeout,
                statement: settings.statement_timeout,
                lock: settings.lock_timeout,
            },
        })
    }

    /// The pool and its queue as they are now.
    pub fn state(&self) -> crate::metrics::PoolState {
        let pool = self.pool.state();
        crate::metrics::PoolState {
            open: pool.connections,
            idle: pool.idle_connections,
            max: self.pool.max_size(),
            waiting: self.gate.waiting.load(Ordering::Relaxed),
            max_waiting: self.gate.max_waiting,
        }
    }
}

/// At most `pool_size` requests use the database at once; at most `max_waiting` wait their
/// turn, each at most what its deadline leaves of the acquire timeout. A request beyond that
/// is turned away at once: a queue that cannot grow without bound, and no request that waits
/// without bound.
struct Gate {
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
}

impl Database {
    /// A permit to use the database, within `timeout` (see [`Gate`]).
    pub async fn enter(&self, timeout: Duration) -> Result<OwnedSemaphorePermit, DbError> {
        self.gate.enter(timeout).await
    }

    /// The most requests that may wait for a connection.
    pub fn max_waiting(&self) -> usize {
        self.gate.max_waiting
    }
}

impl Gate {
    /// A permit to use the database, within `timeout`. Cancel-safe: a caller that stops
    /// waiting (its request answered by a batch another request ran) leaves the count of
    /// waiters right.
    async fn enter(&self, timeout: Duration) -> Result<OwnedSemaphorePermit, DbError> {
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            return Ok(permit);
        }
        let waiter = Waiter::join(&self.waiting);
        if waiter.ahead >= self.max_waiting {
            crate::metrics::shed();
            return Err(DbError::Busy);
        }
        match tokio::time::timeout(timeout, self.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => {
                crate::metrics::shed();
                Err(DbError::Busy)
            }
        }
    }
}

/// One request counted among the waiters while it lives.
struct Waiter<'a> {
    count: &'a AtomicUsize,
    /// How many were waiting when it came.
    ahead: usize,
}

impl<'a> Waiter<'a> {
    fn join(count: &'a AtomicUsize) -> Waiter<'a> {
        let ahead = count.fetch_add(1, Ordering::Relaxed);
        Waiter { count, ahead }
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The pool's connection manager: diesel's, plus the session limits set on every new
/// connection, and a connection the service found dead dropped instead of reused (diesel's
/// own check sees a broken transaction, not a closed socket).
pub struct Manager {
    inner: ConnectionManager<PgConnection>,
    session: String,
}

/// A pooled connection, whether the service found it dead, when it last served, the limits
/// its session has now, and the API key its session names (`None`: not known).
pub struct Connection {
    pub conn: PgConnection,
    dead: bool,
    last_used: Instant,
    budget: Budget,
    actor: Option<Option<i64>>,
}

impl Connection {
    /// Names `actor` (an API key's id, or none) as the key the following writes of this
    /// session are journaled under: `wallet_api.actor`, which the triggers read (see
    /// `sql/10_who.sql`). The one way the service names its actor: a session setting, sent only
    /// when it changes (most writes of a deployment come from few keys).
    pub fn act_as(&mut self, actor: Option<i64>) -> Result<(), DbError> {
        if self.actor == Some(actor) {
            return Ok(());
        }
        let value = actor.map_or_else(String::new, |id| id.to_string());
        self.conn
            .batch_execute(&format!(
                "SELECT set_config('wallet_api.actor', '{value}', false)"
            ))
            .map_err(DbError::from)?;
        self.actor = Some(actor);
        Ok(())
    }

    /// Forgets which key the session names: a rollback undoes a setting made inside what it
    /// rolls back.
    pub fn forget_actor(&mut self) {
        self.actor = None;
    }

    /// Marks the connection dead: it is dropped, not reused.
    pub fn kill(&mut self) {
        self.dead = true;
    }

    pub fn is_dead(&self) -> bool {
        self.dead
    }

    /// Records that it served now (see [`CHECK_AFTER_IDLE`]).
    pub fn touch(&mut self) {
        self.last_used = Instant::now();
    }

    /// Gives the session `budget`'s limits, unless it has them (a round trip only when a
    /// request's deadline shortens them, or a connection left shortened serves again).
    /// Outside a transaction only: the setting outlives it.
    pub fn limit(&mut self, limits: &Limits, budget: Budget) -> Result<(), DbError> {
        if self.budget == budget && budget == Budget::Configured {
            return Ok(());
        }
        match self.conn.batch_execute(&limits.set_sql(budget)) {
            Ok(()) => {
                self.budget = budget;
                Ok(())
            }
            Err(error) => {
                if !alive(&mut self.conn) {
                    self.dead = true;
                }
                Err(DbError::from(error))
            }
        }
    }

    /// Runs `work` within what `deadline` leaves: with the limits it allows, or not at all
    /// (`Timeout`) when nothing is left. After a failure, one `SELECT 1` tells whether the
    /// connection still lives (a dead one is dropped, not reused).
    fn run_until<T, E: From<DbError>>(
        &mut self,
        limits: &Limits,
        deadline: Option<Deadline>,
        work: impl FnOnce(&mut Connection) -> Result<T, E>,
    ) -> Result<T, E> {
        let budget = limits.budget(deadline).map_err(E::from)?;
        self.limit(limits, budget).map_err(E::from)?;
        let done = work(self);
        if done.is_err() && !alive(&mut self.conn) {
            self.dead = true;
        }
        self.last_used = Instant::now();
        done
    }
}

/// A connection idle longer than this is checked (one `SELECT 1`) before it serves: after
/// a database restart every idle connection is dead, and a write sent on one would be
/// answered "outcome unknown" when it certainly never ran. A connection in steady use skips
/// the check, so that a busy service pays nothing for it.
const CHECK_AFTER_IDLE: Duration = Duration::from_millis(500);

impl ManageConnection for Manager {
    type Connection = Connection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Connection, Self::Error> {
        let mut conn = self.inner.connect()?;
        conn.batch_execute(&self.session)
            .map_err(diesel::r2d2::Error::QueryError)?;
        Ok(Connection {
            conn,
            dead: false,
            last_used: Instant::now(),
            budget: Budget::Configured,
            actor: None,
        })
    }

    fn is_valid(&self, connection: &mut Connection) -> Result<(), Self::Error> {
        connection
            .conn
            .ping()
            .map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, connection: &mut Connection) -> bool {
        connection.dead || self.inner.has_broken(&mut connection.conn)
    }
}

/// `url` with `application_name` set to `name`, unless the URL sets one itself. Takes both
/// forms libpq does: a URI (`postgresql://...`) and `key=value` pairs.
pub fn named(url: &str, name: &str) -> String {
    if url.contains("application_name=") {
        url.to_string()
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let separator = if url.contains('?') { '&' } else { '?' };
        // libpq percent-decodes URI parameters; it does not read `+` as a space.
        let encoded: String = name
            .bytes()
            .map(|byte| match byte {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (byte as char).to_string()
                }
                _ => format!("%{byte:02X}"),
            })
            .collect();
        format!("{url}{separator}application_name={encoded}")
    } else {
        format!("{url} application_name='{name}'")
    }
}

/// One connection, named `name` (see [`named`]).
pub fn connect(url: &str, name: &str) -> anyhow::Result<PgConnection> {
    use diesel::Connection;
    PgConnection::establish(&named(url, name))
        .context("cannot connect to the database (is DATABASE_URL right, is PostgreSQL up?)")
}

/// The versions of the migrations this binary holds that the database has not applied,
/// oldest first, then the files of `sql/` whose text it does not hold ([`rules`]); read
/// without creating anything (the service's role may not), so a database never migrated has
/// them all pending.
pub fn pending_migrations(conn: &mut PgConnection) -> anyhow::Result<Vec<String>> {
    use diesel::migration::MigrationSource;
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Applied {
        #[diesel(sql_type = diesel::sql_types::Text)]
        version: String,
    }
    let known: Vec<String> = MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS)
        .map_err(|error| anyhow::anyhow!("cannot read the migrations: {error}"))?
        .iter()
        .map(|migration| migration.name().version().to_string())
        .collect();
    #[derive(QueryableByName)]
    struct Present {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        present: bool,
    }
    let present: Present = diesel::sql_query(
        "SELECT to_regclass('__diesel_schema_migrations') IS NOT NULL AS present",
    )
    .get_result(conn)?;
    let applied: Vec<Applied> = if present.present {
        diesel::sql_query("SELECT version::text FROM __diesel_schema_migrations")
            .load(conn)
            .context(
                "cannot read which migrations the database has (may this role read \
                 __diesel_schema_migrations?)",
            )?
    } else {
        Vec::new()
    };
    let mut pending: Vec<String> = known
        .into_iter()
        .filter(|version| !applied.iter().any(|applied| &applied.version == version))
        .collect();
    pending.sort();
    pending.extend(
        rules::stale(conn)
            .context("cannot read which SQL rules the database holds")?
            .into_iter()
            .map(|name| format!("sql/{name}")),
    );
    Ok(pending)
}

/// Whether the connection's role may apply migrations: a superuser, the owner of the
/// tables, or, on a database without them, a role that may create in its schema.
pub fn may_migrate(conn: &mut PgConnection) -> anyhow::Result<bool> {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct May {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        may: bool,
    }
    let found: May = diesel::sql_query(
        "SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) \
             OR EXISTS (SELECT 1 FROM pg_tables WHERE tablename = 'wallets' \
                        AND schemaname = current_schema() AND tableowner = current_user) \
             OR (to_regclass('wallets') IS NULL \
                 AND has_schema_privilege(current_schema(), 'CREATE')) AS may",
    )
    .get_result(conn)?;
    Ok(found.may)
}

diesel::define_sql_function! {
    /// `events_rebase()`: raises the feed's offset above every stored event position.
    fn events_rebase() -> diesel::sql_types::Int8;
}

/// Applies every pending migration, then the SQL rules ([`rules`]), in one transaction:
/// a database is never left between two versions. Returns what was applied.
pub fn run_migrations(conn: &mut PgConnection) -> anyhow::Result<Vec<String>> {
    use diesel::Connection;
    conn.transaction(|conn| {
        let mut applied: Vec<String> = conn
            .run_pending_migrations(MIGRATIONS)
            .map_err(|error| anyhow::anyhow!("migration failed: {error}"))?
            .iter()
            .map(|version| version.to_string())
            .collect();
        let files = rules::apply(conn, !applied.is_empty())
            .context("applying the SQL rules of sql/ failed")?;
        applied.extend(files.into_iter().map(|name| format!("sql/{name}")));
        // A database restored into another cluster: its events' feed positions may be ahead
        // of this cluster's transaction ids (sql/55_events.sql).
        let raised: i64 = diesel::RunQueryDsl::get_result(diesel::select(events_rebase()), conn)?;
        if raised > 0 {
            applied.push(format!(
                "events_rebase: feed positions raised by {raised} (restored from another cluster)"
            ));
        }
        Ok(applied)
    })
}

/// Runs `work` with a pooled connection on the blocking thread pool, so that diesel's
/// synchronous calls never stall an async worker. Waits are bounded (see [`Gate`]), and count
/// against the request's deadline ([`deadline`]); after a failed `work`, one cheap query
/// tells whether the connection still lives.
pub async fn run<T, E, F>(database: &Database, work: F) -> Result<T, E>
where
    F: FnOnce(&mut PgConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
{
    run_with(database, move |pooled: &mut Connection| {
        work(&mut pooled.conn)
    })
    .await
}

/// [`run`], `work` given the pooled connection itself (its session's actor and limits).
pub async fn run_with<T, E, F>(database: &Database, work: F) -> Result<T, E>
where
    F: FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
{
    let deadline = Deadline::current();
    let limits = database.limits;
    limits.budget(deadline).map_err(E::from)?;
    let permit = database
        .gate
        .enter(limits.acquire(deadline))
        .await
        .map_err(E::from)?;
    let pool = database.pool.clone();
    let request = crate::trace::current();
    let ran = actix_web::web::block(move || {
        let _permit = permit;
        crate::trace::on_thread(request.as_ref(), || {
            checkout(&pool)?.run_until(&limits, deadline, work)
        })
    })
    .await;
    match ran {
        Ok(done) => done,
        Err(panicked) => Err(E::from(DbError::Bug(format!(
            "database work panicked: {panicked}"
        )))),
    }
}

/// What the database must know of the client a statement runs for beyond its API key (which
/// the write pipeline names, `Connection::act_as`): the wallets it may see and touch
/// (`wallet_api.wallets`; row-level security keeps every other out). A setting of its own
/// transaction only, so that no other request on the connection inherits it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Session {
    /// `None`: every wallet.
    pub wallets: Option<Vec<i64>>,
}

impl Session {
    /// Whether the database needs to be told nothing.
    pub fn is_plain(&self) -> bool {
        self.wallets.is_none()
    }

    /// `BEGIN`, and the settings for this transaction only: what opens a transaction for
    /// this session, in one round trip (see [`within`]).
    pub fn begin_sql(&self) -> String {
        self.begin("BEGIN")
    }

    /// `begin` (a `BEGIN` statement), and the settings for this transaction only. Only
    /// numbers are written into the SQL.
    fn begin(&self, begin: &str) -> String {
        let mut sql = String::from(begin);
        if let Some(wallets) = &self.wallets {
            let list: Vec<String> = wallets.iter().map(i64::to_string).collect();
            sql.push_str(&format!(
                "; SELECT set_config('wallet_api.wallets', '{{{}}}', true)",
                list.join(",")
            ));
        }
        sql
    }
}

impl<'a> From<&'a Database> for standby::Reader<'a> {
    /// The primary alone.
    fn from(primary: &'a Database) -> standby::Reader<'a> {
        standby::Reader {
            primary,
            standby: None,
            after: None,
        }
    }
}

/// [`run`] on `target` (the primary, or a [`standby::Reader`] for a read), with `session`
/// told to the database: in a transaction whose first round trip also sets it, committed
/// when `work` succeeds. A plain session runs as [`run`] does.
pub async fn run_in<'a, T, E, F>(
    target: impl Into<standby::Reader<'a>>,
    session: &Session,
    work: F,
) -> Result<T, E>
where
    F: FnOnce(&mut PgConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
{
    let target = target.into();
    if session.is_plain() {
        return target.run(work).await;
    }
    let begin = session.begin_sql();
    target.run(move |conn| within(conn, &begin, work)).await
}

/// [`run_in`], in a read-only transaction whose reads all see one snapshot.
pub async fn run_snapshot<'a, T, E, F>(
    target: impl Into<standby::Reader<'a>>,
    session: &Session,
    work: F,
) -> Result<T, E>
where
    F: FnOnce(&mut PgConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
{
    let begin = session.begin("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    target
        .into()
        .run(move |conn| within(conn, &begin, work))
        .await
}

/// `work` in a transaction begun with `begin`.
pub fn within<T, E: From<DbError>>(
    conn: &mut PgConnection,
    begin: &str,
    work: impl FnOnce(&mut PgConnection) -> Result<T, E>,
) -> Result<T, E> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    AnsiTransactionManager::begin_transaction_sql(conn, begin)
        .map_err(|error| E::from(DbError::from(error)))?;
    match work(conn) {
        Ok(done) => {
            AnsiTransactionManager::commit_transaction(conn)
                .map_err(|error| E::from(DbError::from(error)))?;
            Ok(done)
        }
        Err(error) => {
            let _ = AnsiTransactionManager::rollback_transaction(conn);
            Err(error)
        }
    }
}

/// Whether the connection still answers (one round trip).
pub fn alive(conn: &mut PgConnection) -> bool {
    conn.batch_execute("SELECT 1").is_ok()
}

/// A live connection from the pool: one idle for a while is checked first, and a dead one
/// dropped for the next (the pool opens new ones as the old ones are dropped). The only
/// error is [`DbError::Unavailable`].
pub fn checkout(pool: &Pool) -> Result<r2d2::PooledConnection<Manager>, DbError> {
    for _ in 0..=pool.max_size() {
        let mut pooled = pool.get().map_err(|error| {
            tracing::warn!("no database connection: {error}");
            crate::metrics::database_error(DbError::Unavailable.kind());
            DbError::Unavailable
        })?;
        if pooled.last_used.elapsed() < CHECK_AFTER_IDLE || alive(&mut pooled.conn) {
            return Ok(pooled);
        }
        pooled.dead = true;
    }
    crate::metrics::database_error(DbError::Unavailable.kind());
    Err(DbError::Unavailable)
}

#[cfg(test)]
mod tests {
    use super::named;

    #[test]
    fn connections_are_named_unless_the_url_names_them() {
        assert_eq!(
            named("postgresql://u@/db?host=/run", "wallet-api"),
            "postgresql://u@/db?host=/run&application_name=wallet-api"
        );
        assert_eq!(
            named("postgres://u@h/db", "wallet-api repair"),
            "postgres://u@h/db?application_name=wallet-api%20repair"
        );
        assert_eq!(
            named("host=h dbname=db", "wallet-api"),
            "host=h dbname=db application_name='wallet-api'"
        );
        let own = "postgres://h/db?application_name=mine";
        assert_eq!(named(own, "wallet-api"), own);
    }
}
