//! Counters and gauges in the Prometheus text format, served at `GET /metrics`: requests by
//! route and status, their latency, the database pool, database errors by kind, requests
//! shed; what the binary is (`wallet_api_build_info`) and the process's own (`process_*`:
//! CPU, memory, open files, start time, from the `prometheus` crate's collector).

use std::sync::LazyLock;
use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

struct Metrics {
    registry: Registry,
    authentication_failures: IntCounterVec,
    authentication_failures_limited: IntCounter,
    rate_limited: IntCounter,
    requests: IntCounterVec,
    latency: HistogramVec,
    database_errors: IntCounterVec,
    shed: IntCounter,
    pool: IntGaugeVec,
    batches: Histogram,
    standby_reads: IntCounterVec,
    webhook_deliveries: IntCounterVec,
    webhook_lag: prometheus::GaugeVec,
}

/// Latency buckets, in seconds: from a fast read to the longest bounded wait.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let registry = Registry::new();
    let requests = IntCounterVec::new(
        Opts::new("wallet_api_http_requests_total", "HTTP requests answered"),
        &["route", "method", "status"],
    )
    .expect("valid metric");
    let latency = HistogramVec::new(
        HistogramOpts::new(
            "wallet_api_http_request_duration_seconds",
            "Time from a request's head to its response",
        )
        .buckets(BUCKETS.to_vec()),
        &["route", "method"],
    )
    .expect("valid metric");
    let database_errors = IntCounterVec::new(
        Opts::new(
            "wallet_api_database_errors_total",
            "Database errors, by kind (constraint, timeout, connection_lost, ...)",
        ),
        &["kind"],
    )
    .expect("valid metric");
    let shed = IntCounter::new(
        "wallet_api_requests_shed_total",
        "Requests answered 503 at once because too many waited for a database connection",
    )
    .expect("valid metric");
    let pool = IntGaugeVec::new(
        Opts::new(
            "wallet_api_database_pool_connections",
            "Database connections: size (open), idle, in_use, max; and requests waiting",
        ),
        &["state"],
    )
    .expect("valid metric");
    let batches = Histogram::with_opts(
        HistogramOpts::new(
            "wallet_api_coalesced_batch_size",
            "Writes run together in one database transaction (1: alone)",
        )
        .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]),
    )
    .expect("valid metric");
    let authentication_failures = IntCounterVec::new(
        Opts::new(
            "wallet_api_authentication_failures_total",
            "Requests refused 401, by why (missing, malformed, unknown, revoked, expired)",
        ),
        &["reason"],
    )
    .expect("valid metric");
    let authentication_failures_limited = IntCounter::new(
        "wallet_api_authentication_failures_limited_total",
        "Requests refused 429: their client address sent more secrets that do not work than \
         AUTH_FAILURE_LIMIT allows",
    )
    .expect("valid metric");
    let rate_limited = IntCounter::new(
        "wallet_api_rate_limited_total",
        "Requests refused 429: their key sent more than its rate",
    )
    .expect("valid metric");
    let standby_reads = IntCounterVec::new(
        Opts::new(
            "wallet_api_standby_reads_total",
            "Reads sent to the standby (STANDBY_DATABASE_URL), by where they were served: \
             standby, or primary (the standby had not replayed the client's Wallet-Api-Lsn, \
             or was out of reach)",
        ),
        &["served_by"],
    )
    .expect("valid metric");
    let webhook_deliveries = IntCounterVec::new(
        Opts::new(
            "wallet_api_webhook_deliveries_total",
            "Webhook delivery attempts this instance made, by endpoint and outcome: succeeded \
             (2xx), retried (failed, sent again later), failed (the last attempt failed)",
        ),
        &["endpoint", "outcome"],
    )
    .expect("valid metric");
    let webhook_lag = prometheus::GaugeVec::new(
        Opts::new(
            "wallet_api_webhook_lag_seconds",
            "How far each enabled webhook endpoint trails the events feed: the age of the \
             oldest event not delivered to it yet (0: caught up)",
        ),
        &["endpoint"],
    )
    .expect("valid metric");
    let build_info = IntGaugeVec::new(
        Opts::new(
            "wallet_api_build_info",
            "The version and commit the service was built from (always 1)",
        ),
        &["version", "commit"],
    )
    .expect("valid metric");
    build_info
        .with_label_values(&[
            crate::version::VERSION,
            crate::version::COMMIT.unwrap_or("unknown"),
        ])
        .set(1);
    for metric in [
        Box::new(prometheus::process_collector::ProcessCollector::for_self())
            as Box<dyn prometheus::core::Collector>,
        Box::new(build_info),
        Box::new(standby_reads.clone()),
        Box::new(webhook_deliveries.clone()),
        Box::new(webhook_lag.clone()),
        Box::new(batches.clone()),
        Box::new(authentication_failures.clone()),
        Box::new(authentication_failures_limited.clone()),
        Box::new(rate_limited.clone()),
        Box::new(requests.clone()),
        Box::new(latency.clone()),
        Box::new(database_errors.clone()),
        Box::new(shed.clone()),
        Box::new(pool.clone()),
    ] {
        registry.register(metric).expect("registered once");
    }
    Metrics {
        registry,
        authentication_failures,
        authentication_failures_limited,
        rate_limited,
        requests,
        latency,
        database_errors,
        shed,
        pool,
        batches,
        standby_reads,
        webhook_deliveries,
        webhook_lag,
    }
});

/// One webhook delivery attempt: `outcome` is succeeded, retried or failed.
pub fn webhook_delivery(endpoint: i64, outcome: &str) {
    METRICS
        .webhook_deliveries
        .with_label_values(&[&endpoint.to_string(), outcome])
        .inc();
}

/// Each enabled endpoint's lag, as the database says now (those not listed are dropped).
pub fn webhook_lags(lags: &[(i64, f64)]) {
    let metrics = &*METRICS;
    metrics.webhook_lag.reset();
    for (endpoint, lag) in lags {
        metrics
            .webhook_lag
            .with_label_values(&[&endpoint.to_string()])
            .set(*lag);
    }
}

/// One request answered: `route` is the route's pattern (`/wallets/{id}`), never the path,
/// so that the number of series stays bounded.
pub fn request(route: &str, method: &str, status: u16, took: Duration) {
    let metrics = &*METRICS;
    metrics
        .requests
        .with_label_values(&[route, method, &status.to_string()])
        .inc();
    metrics
        .latency
        .with_label_values(&[route, method])
        .observe(took.as_secs_f64());
}

/// A database error of this kind (see `DbError::kind`).
pub fn database_error(kind: &str) {
    METRICS.database_errors.with_label_values(&[kind]).inc();
}

/// A coalesced batch of `size` writes was run.
pub fn batch(size: usize) {
    METRICS.batches.observe(size as f64);
}

/// A read meant for the standby was served by `served_by` (`standby` or `primary`).
pub fn standby_read(served_by: &str) {
    METRICS.standby_reads.with_label_values(&[served_by]).inc();
}

/// A request refused 401, and why.
pub fn authentication_failed(reason: &str) {
    METRICS
        .authentication_failures
        .with_label_values(&[reason])
        .inc();
}

/// A request refused 429 because its address failed to authenticate too often.
pub fn authentication_failures_limited() {
    METRICS.authentication_failures_limited.inc();
}

/// A request refused 429.
pub fn rate_limited() {
    METRICS.rate_limited.inc();
}

/// A request turned away because too many waited for a connection.
pub fn shed() {
    METRICS.shed.inc();
}

/// The pool as it is now.
pub struct PoolState {
    pub open: u32,
    pub idle: u32,
    pub max: u32,
    pub waiting: usize,
    /// The most requests that may wait for a connection (`DB_MAX_WAITING`).
    pub max_waiting: usize,
}

/// What this service's write coalescer counted: its runs by how (together, guarded,
/// alone), and its waves' statements by kind (see `api::write::batch`).
pub struct CoalescerCounts {
    pub runs: Vec<(&'static str, u64)>,
    pub waves: Vec<(&'static str, u64)>,
}

/// Every metric in the Prometheus text format, with the pool's gauges as of now, what this
/// service's write coalescer counted, when it has one, and its read coalescers (per
/// resource: queries run, reads they answered).
pub fn render(
    pool: PoolState,
    coalescer: Option<CoalescerCounts>,
    reads: &[(&'static str, (u64, u64))],
) -> String {
    let metrics = &*METRICS;
    for (state, value) in [
        ("open", i64::from(pool.open)),
        ("idle", i64::from(pool.idle)),
        ("in_use", i64::from(pool.open - pool.idle.min(pool.open))),
        ("max", i64::from(pool.max)),
        ("waiting", pool.waiting as i64),
    ] {
        metrics.pool.with_label_values(&[state]).set(value);
    }
    let mut text = Vec::new();
    TextEncoder::new()
        .encode(&metrics.registry.gather(), &mut text)
        .expect("text encoding cannot fail");
    let mut text = String::from_utf8(text).expect("the text format is UTF-8");
    if let Some(coalescer) = coalescer {
        counters(
            &mut text,
            "wallet_api_coalesced_batch_runs_total",
            "Runs of coalesced writes, by how: together (one transaction), guarded (once more, \
             each write in a savepoint, after a write of the batch failed), alone",
            "how",
            &coalescer.runs,
        );
        counters(
            &mut text,
            "wallet_api_coalesced_wave_total",
            "The waves of coalesced bookings: statements (multi-row statements sent, split \
             halves included), written (bookings they wrote), bisections (failed statements \
             split in two), locks (statements that locked a batch's wallets first)",
            "kind",
            &coalescer.waves,
        );
    }
    if !reads.is_empty() {
        let queries: Vec<_> = reads
            .iter()
            .map(|&(name, (queries, _))| (name, queries))
            .collect();
        let answered: Vec<_> = reads
            .iter()
            .map(|&(name, (_, reads))| (name, reads))
            .collect();
        counters(
            &mut text,
            "wallet_api_coalesced_read_queries_total",
            "Queries run by the read coalescers (one per batch of reads by id)",
            "resource",
            &queries,
        );
        counters(
            &mut text,
            "wallet_api_coalesced_reads_total",
            "Reads by id answered by the read coalescers",
            "resource",
            &answered,
        );
    }
    text
}

/// A counter family with one label, in the text format.
fn counters(text: &mut String, name: &str, help: &str, label: &str, samples: &[(&str, u64)]) {
    text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n"));
    for (value, count) in samples {
        text.push_str(&format!("{name}{{{label}=\"{value}\"}} {count}\n"));
    }
}
