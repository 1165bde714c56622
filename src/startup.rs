//! Building the HTTP server: middleware, routes, shared state. Used by `wallet-api serve`
//! and by the tests, which start it on a free port.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;

use crate::api::context::link_errors;
use crate::api::health::{HealthCheck, Load};
use crate::api::middleware::auth::{self, Authenticator};
use crate::api::resources::events::Streams;
use crate::api::routes::{Endpoint, Guard};
use crate::api::state::ReadCoalescing;
use crate::api::write::Writer;
use crate::api::write::batch::Batches;
use crate::api::{self, AppState};
use crate::config::Config;
use crate::db::{self, Database};
use crate::jsonapi::media_type::negotiate;
use crate::models::Hold;
use crate::models::api_key::ApiKey;
use crate::models::event;
use crate::models::idempotency_key::StoredResponse;

pub struct Application {
    port: u16,
    server: Server,
    /// Set on the first SIGTERM or SIGINT (`/health` reads it).
    draining: Arc<AtomicBool>,
    shutdown: Shutdown,
    /// SIGTERM and SIGINT, listened to when they stop it ([`Application::stop_on_signals`]).
    signals: Option<Signals>,
    db: Database,
    /// Its failed authentications not logged yet are when the server stops.
    auth: Arc<Authenticator>,
    idempotency_ttl: Duration,
    hold_sweep: Duration,
    event_retention: Duration,
    database_url: String,
    /// How webhooks are delivered, when this instance delivers them.
    webhooks: Option<crate::webhooks::Settings>,
}

impl Application {
    /// Checks that the database holds every migration of this binary (creating nothing),
    /// applies those it lacks when a role that may is at hand (MIGRATION_DATABASE_URL, or
    /// DATABASE_URL when it owns the tables), and binds `HOST:PORT` (port 0 picks a free one).
    /// The service's role alone serves a migrated database; it cannot migrate one, and says
    /// what to run instead.
    pub fn build(config: &Config) -> anyhow::Result<Application> {
        let mut conn = db::connect(&config.database_url, "wallet-api")?;
        let pending = db::pending_migrations(&mut conn)?;
        if !pending.is_empty() {
            // On a connection of its own: the pool's are limited by statement_timeout, and a
            // migration may take longer.
            let owner = match &config.migration_database_url {
                Some(url) => Some(db::connect(url, "wallet-api migrate")?),
                None if db::may_migrate(&mut conn)? => {
                    Some(db::connect(&config.database_url, "wallet-api migrate")?)
                }
                None => None,
            };
            let Some(mut owner) = owner else {
                anyhow::bail!(
                    "the database lacks {} migration(s) of this version ({}), and DATABASE_URL's \
                     role may not apply them (as it should not: it is the service's). Run \
                     `wallet-api migrate` with DATABASE_URL set to the role that owns the tables \
                     (`make migrate` on the local cluster), then start the service again",
                    pending.len(),
                    pending.join(", ")
                );
            };
            let applied = db::run_migrations(&mut owner).with_context(|| {
                "cannot apply the pending migrations: they need the role that owns the tables \
                 (run `wallet-api migrate` as it, or give MIGRATION_DATABASE_URL)"
            })?;
            for version in applied {
                tracing::info!("applied migration {version}");
            }
        }
        drop(conn);
        Application::serving(config)
    }

    /// Binds the server over a migrated database.
    pub fn serving(config: &Config) -> anyhow::Result<Application> {
        check_auth_off(config)?;
        let db = Database::connect(&config.database_url, &config.database_settings())?;
        warn_if_privileged(&config.database_url);
        let listener = TcpListener::bind((config.host.as_str(), config.port))
            .with_context(|| format!("cannot listen on {}:{}", config.host, config.port))?;
        let port = listener.local_addr()?.port();
        let draining = Arc::new(AtomicBool::new(false));
        let state = web::Data::new(shared_state(config, &db, &draining)?);
        let auth = state.auth.clone();
        let limits = &config.limits;
        let cors_origins = config.cors_origins.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .service(
                    web::scope("")
                        .configure(|config| routes_of(api::register_operator, config))
                        .configure(|config| routes_of(api::register, config))
                        .default_service(RouteGuard.wrap(web::to(api::not_found), None))
                        .wrap(from_fn(link_errors)),
                )
                .wrap(from_fn(api::middleware::paths::canonicalize))
                .wrap(from_fn(api::middleware::observe::count_request))
                .wrap(from_fn(api::middleware::request_id::identify))
                .wrap(api::middleware::cors::middleware(&cors_origins))
        })
        .workers(config.workers())
        // Database work runs on each worker's blocking pool. More threads than pooled
        // connections would only wait for a connection, and every extra runnable thread
        // lengthens the tail on a small machine: size the pools to the connections.
        .worker_max_blocking_threads((config.pool_size() as usize).div_ceil(config.workers()))
        .client_request_timeout(limits.head_timeout)
        .client_disconnect_timeout(Duration::from_secs(1))
        .keep_alive(limits.keep_alive)
        // SIGTERM and SIGINT stop the server gracefully (`drain_on_signals`): it stops
        // accepting, and in-flight requests have this long to finish.
        .shutdown_timeout(limits.shutdown_timeout.as_secs().max(1))
        .disable_signals()
        .listen(listener)?
        .run();
        Ok(Application {
            port,
            server,
            draining,
            shutdown: Shutdown {
                delay: limits.shutdown_delay,
                timeout: limits.shutdown_timeout,
            },
            signals: None,
            db,
            auth,
            idempotency_ttl: config.idempotency_ttl,
            hold_sweep: config.hold_sweep,
            event_retention: config.event_retention,
            database_url: config.database_url.clone(),
            webhooks: config.webhooks.then(|| config.webhook_settings()),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops gracefully on SIGTERM or SIGINT (the process's own server; an application a test
    /// runs in its process leaves the signals to the test harness).
    pub fn stop_on_signals(mut self) -> Application {
        // Listened to from now on, before the caller says it serves: a signal sent as soon
        // as it does is drained, never the default action (the process killed at once).
        self.signals = Signals::listen();
        self
    }

    /// A handle that stops the server (tests use it to stop at once).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped; meanwhile removes expired `Idempotency-Key` responses.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let purge = actix_web::rt::spawn(purge_expired_keys(self.db.clone(), self.idempotency_ttl));
        let prune = actix_web::rt::spawn(prune_events(self.db.clone(), self.event_retention));
        let signals = self.signals.map(|signals| {
            actix_web::rt::spawn(drain_on_signals(
                signals,
                self.server.handle(),
                self.draining.clone(),
                self.shutdown,
            ))
        });
        let stop = Arc::new(AtomicBool::new(false));
        if !self.hold_sweep.is_zero() {
            sweep_expired_holds(&self.database_url, self.hold_sweep, stop.clone())?;
        }
        if let Some(settings) = self.webhooks.clone() {
            crate::webhooks::deliver::start(&self.database_url, settings, stop.clone())?;
        }
        let served = self.server.await;
        purge.abort();
        prune.abort();
        if let Some(signals) = signals {
            signals.abort();
        }
        stop.store(true, Ordering::Relaxed);
        // Here, not when the last worker drops its state: the process may end before that.
        self.auth.report();
        served
    }
}

/// How the server stops on a signal: how long it goes on accepting with `/health` failing,
/// then how long the requests in flight have.
#[derive(Debug, Clone, Copy)]
struct Shutdown {
    delay: Duration,
    timeout: Duration,
}

/// Stops the server gracefully on the first SIGTERM or SIGINT (Ctrl-C) alike: `/health`
/// answers 503 from then on; after `SHUTDOWN_DELAY` no new connections are taken, the
/// requests in flight get `SHUTDOWN_TIMEOUT` to finish, then the process ends. A second
/// signal stops it at once.
async fn drain_on_signals(
    mut signals: Signals,
    server: actix_web::dev::ServerHandle,
    draining: Arc<AtomicBool>,
    shutdown: Shutdown,
) {
    let Some(first) = signals.next().await else {
        return;
    };
    draining.store(true, Ordering::SeqCst);
    tracing::info!(
        "{first}: shutting down: /health answers 503; new connections taken for {}s more; \
         then the requests in flight have up to {}s",
        shutdown.delay.as_secs_f64(),
        shutdown.timeout.as_secs().max(1)
    );
    let stopped = async {
        tokio::time::sleep(shutdown.delay).await;
        server.stop(true).await;
    };
    tokio::select! {
        () = stopped => {}
        second = signals.next() => {
            if let Some(second) = second {
                tracing::warn!("{second} again: stopping now, requests in flight are dropped");
                server.stop(false).await;
            }
        }
    }
}

/// SIGTERM and SIGINT, listened to.
struct Signals {
    terminate: actix_web::rt::signal::unix::Signal,
    interrupt: actix_web::rt::signal::unix::Signal,
}

impl Signals {
    /// Starts listening (on the current runtime); `None`, said loudly, when it cannot.
    fn listen() -> Option<Signals> {
        use actix_web::rt::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(terminate), Ok(interrupt)) => Some(Signals {
                terminate,
                interrupt,
            }),
            _ => {
                tracing::warn!(
                    "cannot listen to SIGTERM and SIGINT: stop the service with SIGKILL"
                );
                None
            }
        }
    }

    /// The next SIGTERM or SIGINT, by name.
    async fn next(&mut self) -> Option<&'static str> {
        tokio::select! {
            _ = self.terminate.recv() => Some("SIGTERM"),
            _ = self.interrupt.recv() => Some("SIGINT"),
        }
    }
}

/// Refuses `AUTH=off` on an address other than loopback unless a gateway is confirmed, and
/// says loudly that it is off.
fn check_auth_off(config: &Config) -> anyhow::Result<()> {
    if config.auth {
        return Ok(());
    }
    let loopback = matches!(config.host.as_str(), "127.0.0.1" | "::1" | "localhost");
    if !loopback && !config.auth_off_behind_gateway {
        anyhow::bail!(
            "AUTH=off on {}: anyone who reaches this address could move any wallet's \
                 money. Serve on loopback, or confirm a gateway authenticates every request \
                 with AUTH_OFF_BEHIND_GATEWAY=yes",
            config.host
        );
    }
    tracing::warn!(
        "AUTHENTICATION IS OFF (AUTH=off): every request runs without a key, unchecked \
             and unattributed; only a gateway in front of {} keeps anyone out",
        config.host
    );
    Ok(())
}

/// What the workers share: the API keys (loaded, and kept current), the write pipeline, the
/// read coalescers, the health check.
fn shared_state(
    config: &Config,
    db: &Database,
    draining: &Arc<AtomicBool>,
) -> anyhow::Result<AppState> {
    let auth = Arc::new(Authenticator::new(&config.auth_settings()));
    let mut conn = db::connect(&config.database_url, "wallet-api")?;
    auth.load(ApiKey::credentials(&mut conn).context(
        "cannot read the API keys (is the database migrated, and may this role read api_keys?)",
    )?);
    drop(conn);
    auth::keep_current(&config.database_url, Arc::downgrade(&auth))?;
    let limits = &config.limits;
    let standby = config
        .standby_database_url
        .as_deref()
        .map(|url| Database::connect(url, &config.database_settings()))
        .transpose()
        .context("cannot connect to STANDBY_DATABASE_URL")?;
    // Only with a standby do writes need to say where they committed.
    let positions = standby.is_some();
    let batches = config.coalesce.then(|| {
        Batches::new(
            config.coalesce_max_batch,
            config.coalesce_runners(),
            positions,
        )
    });
    Ok(AppState {
        db: db.clone(),
        standby,
        writer: Writer::new(
            db.clone(),
            batches,
            config.idempotency_ttl.as_secs() as i64,
            positions,
        ),
        reads: config
            .coalesce_reads
            .then(|| ReadCoalescing::new(config.coalesce_max_batch)),
        health: HealthCheck::new(&config.database_url, limits.health_timeout)?,
        load: Load::default(),
        draining: draining.clone(),
        auth,
        body_timeout: limits.body_timeout,
        base_url: config.base_url.clone(),
        streams: Arc::new(Streams::new(
            config.event_streams_per_key,
            config.event_streams,
            config.event_poll,
            config.event_heartbeat,
        )),
        webhook_network: config.webhook_network(),
    })
}

/// Says loudly when the service's role can bypass the database's rules: a superuser, or the
/// owner of the tables, can disable the triggers, write a balance or rewrite the journal.
fn warn_if_privileged(url: &str) {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Privileges {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        superuser: bool,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        owner: bool,
    }
    let Ok(mut conn) = db::connect(url, "wallet-api") else {
        return;
    };
    let found: QueryResult<Privileges> = diesel::sql_query(
        "SELECT rolsuper AS superuser, EXISTS (SELECT 1 FROM pg_tables \
             WHERE tablename = 'wallets' AND tableowner = current_user) AS owner \
         FROM pg_roles WHERE rolname = current_user",
    )
    .get_result(&mut conn);
    if let Ok(privileges) = found
        && (privileges.superuser || privileges.owner)
    {
        tracing::warn!(
            "the service connects as a {}: it could disable the triggers, write balances and \
             rewrite the journal, and wallet-limited keys are not enforced by the database. \
             Connect as a role in wallet_service (docs/operations.md, \"Database roles\")",
            if privileges.superuser {
                "superuser"
            } else {
                "owner of the tables"
            }
        );
    }
}

/// Registers the routes `register` adds to a route table, each in its [`RouteGuard`].
fn routes_of(register: fn(&mut api::routes::Routes), config: &mut web::ServiceConfig) {
    let mut routes = api::routes::Routes::default();
    register(&mut routes);
    routes.configure(config, &RouteGuard);
}

/// What runs between routing and a handler, knowing the endpoint the router matched: the
/// endpoint recorded, then authentication and the scope check, then content negotiation,
/// then the handler with its deadline's clock (`db::deadline`).
struct RouteGuard;

impl Guard for RouteGuard {
    fn wrap(
        &self,
        route: actix_web::Route,
        endpoint: Option<&'static Endpoint>,
    ) -> actix_web::Route {
        route
            .wrap(from_fn(|request, next: Next<_>| {
                db::deadline::scoped(next.call(request))
            }))
            .wrap(from_fn(|request, next| {
                negotiate(request, next, api::routes::negotiation)
            }))
            .wrap(from_fn(auth::authenticate))
            .wrap(from_fn(move |request, next| {
                api::routes::matched(request, next, endpoint)
            }))
    }
}

/// How many expired keys one statement removes: small batches keep each one short.
const PURGE_BATCH: i64 = 1000;

/// Marks the holds past their expiry expired, every `every`, on a thread and a connection of
/// its own (never taking a request's connection, nor its place in the queue): their release
/// goes on record. Reads do not wait for it: they are exact before it. Stops once `stop` is set.
fn sweep_expired_holds(url: &str, every: Duration, stop: Arc<AtomicBool>) -> std::io::Result<()> {
    use diesel::connection::SimpleConnection;
    let url = db::named(url, "wallet-api sweep");
    std::thread::Builder::new()
        .name("hold-sweep".into())
        .spawn(move || {
            let mut conn: Option<diesel::PgConnection> = None;
            let mut failing = false;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(every);
                let swept = (|| -> anyhow::Result<i64> {
                    if conn.is_none() {
                        let mut opened = db::connect(&url, "wallet-api sweep")?;
                        opened.batch_execute("SET statement_timeout = '10s'")?;
                        conn = Some(opened);
                    }
                    Ok(Hold::expire(conn.as_mut().expect("a connection"))?)
                })();
                match swept {
                    Ok(swept) => {
                        if swept > 0 {
                            tracing::info!("marked {swept} holds expired");
                        }
                        failing = false;
                    }
                    Err(error) => {
                        conn = None;
                        if !failing {
                            tracing::warn!("cannot mark expired holds (reads stay exact): {error}");
                        }
                        failing = true;
                    }
                }
            }
        })
        .map(|_| ())
}

/// Every so often (a 24th of the retention, between a second and ten minutes), removes the
/// events older than the retention from the front of the feed (`events_prune`).
async fn prune_events(db: Database, retention: Duration) {
    let every = (retention / 24).clamp(Duration::from_secs(1), Duration::from_secs(600));
    // The first a period after the start, not at it (when the pool is busiest).
    let mut ticks =
        actix_web::rt::time::interval_at(actix_web::rt::time::Instant::now() + every, every);
    loop {
        ticks.tick().await;
        let before = chrono::Utc::now()
            - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
        match db::run(&db, move |conn| {
            let events = event::prune(conn, before)?;
            let deliveries = crate::models::webhook_delivery::prune(conn, before)?;
            Ok::<_, db::DbError>((events, deliveries))
        })
        .await
        {
            Ok((0, 0)) => {}
            Ok((events, deliveries)) => tracing::info!(
                "removed {events} events and {deliveries} webhook deliveries past the retention"
            ),
            Err(error) => tracing::warn!("cannot remove old events: {error}"),
        }
    }
}

/// Every so often (a 24th of the time keys are kept, between a second and ten minutes),
/// deletes the expired `Idempotency-Key` responses, those that expired first first, in
/// small batches.
async fn purge_expired_keys(db: Database, ttl: Duration) {
    let every = (ttl / 24).clamp(Duration::from_secs(1), Duration::from_secs(600));
    let mut ticks = actix_web::rt::time::interval(every);
    loop {
        ticks.tick().await;
        let purged = db::run(&db, move |conn| {
            let mut total = 0;
            loop {
                let removed = StoredResponse::purge_expired(conn, PURGE_BATCH)?;
                total += removed;
                if removed < PURGE_BATCH {
                    return Ok::<_, db::DbError>(total);
                }
            }
        })
        .await;
        match purged {
            Ok(0) => {}
            Ok(n) => tracing::info!("removed {n} expired idempotency keys"),
            Err(error) => tracing::warn!("cannot remove expired idempotency keys: {error}"),
        }
    }
}
