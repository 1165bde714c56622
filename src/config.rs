//! Settings: each one declared once, below, with its flag, its environment variable, its
//! default, how it parses and its help (clap reads the declarations). A flag wins over its
//! variable. `docs/operations.md` holds the table [`markdown_table`] writes from the same
//! declarations; a test keeps the two equal.

use std::time::Duration;

use clap::builder::TypedValueParser;

/// What `wallet-api serve` runs with.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct Config {
    /// The PostgreSQL database the service uses, as a role that owns nothing and holds only
    /// the grants of `wallet_service` (`make run` starts a project-local one and sets this).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_parser = database_url)]
    pub database_url: String,
    /// The database as the role that owns the tables, for migrations `serve` would apply
    /// first. Default: none; `serve` then applies them only when DATABASE_URL's role owns the
    /// tables, and otherwise refuses to start, saying to run `wallet-api migrate` as the
    /// owner (the recommended way: the serving process then never holds the owner's
    /// credentials).
    #[arg(long, env = "MIGRATION_DATABASE_URL", hide_env_values = true, value_parser = database_url)]
    pub migration_database_url: Option<String>,
    /// A database to serve reads from first: a standby of DATABASE_URL's (libpq's
    /// `target_session_attrs=prefer-standby` over the formation's hosts). A read that sends
    /// the `Wallet-Api-Lsn` of a write is served by it only once it has replayed that write,
    /// else by the primary. Default: none, every read from DATABASE_URL.
    #[arg(long, env = "STANDBY_DATABASE_URL", hide_env_values = true, value_parser = database_url)]
    pub standby_database_url: Option<String>,
    /// The address to listen on.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// The port to listen on (0: any free one).
    #[arg(long, env = "PORT", default_value_t = 8080)]
    pub port: u16,
    /// Database connections kept by the pool: the most requests in the database at once.
    /// Default: twice the number of CPUs, measured best on 2 CPUs for reads, spread writes and
    /// one hot wallet alike (BENCHMARKS.md, "Tuning").
    #[arg(long, env = "DB_POOL_SIZE", value_name = "N", value_parser = at_least_one::<u32>())]
    pub pool_size: Option<u32>,
    /// HTTP worker threads, each with its own event loop. Default: one per CPU.
    #[arg(long, env = "WORKERS", value_name = "N", value_parser = at_least_one::<usize>())]
    pub workers: Option<usize>,
    /// Scheme and authority written into links (`https://api.example.com`), for a service
    /// behind a proxy. Default: each request's own scheme and `Host`.
    #[arg(long, env = "BASE_URL", value_name = "URL", value_parser = base_url)]
    pub base_url: Option<String>,
    /// How long the response to a request with an `Idempotency-Key` is kept and replayed.
    #[arg(long, env = "IDEMPOTENCY_TTL", default_value = "24h", value_name = "DURATION", value_parser = duration)]
    pub idempotency_ttl: Duration,
    /// How often holds past their expiresAt are marked expired (`expire_holds()`; one
    /// instance at a time). 0 turns the sweep off (for pg_cron to run it instead): reads are
    /// exact either way.
    #[arg(long, env = "HOLD_SWEEP", default_value = "1s", value_name = "DURATION", value_parser = duration_or_zero)]
    pub hold_sweep: Duration,
    /// How long events are kept (GET /events); a cursor to an event removed since is
    /// answered 410 cursor-expired.
    #[arg(long, env = "EVENT_RETENTION", default_value = "30d", value_name = "DURATION", value_parser = duration)]
    pub event_retention: Duration,
    /// How many event streams (GET /events with Accept: text/event-stream) may be open at
    /// once: per API key, and in all.
    #[arg(
        long,
        env = "EVENT_STREAMS_PER_KEY",
        default_value_t = 8,
        value_name = "N"
    )]
    pub event_streams_per_key: usize,
    #[arg(long, env = "EVENT_STREAMS", default_value_t = 256, value_name = "N")]
    pub event_streams: usize,
    /// How often an open event stream looks for new events, and how long an idle one waits
    /// between heartbeat comments.
    #[arg(long, env = "EVENT_POLL", default_value = "100ms", value_name = "DURATION", value_parser = duration)]
    pub event_poll: Duration,
    #[arg(long, env = "EVENT_HEARTBEAT", default_value = "15s", value_name = "DURATION", value_parser = duration)]
    pub event_heartbeat: Duration,
    /// Webhooks: whether deliveries may go into the service's own network (loopback,
    /// link-local, private, reserved addresses), and to plain http URLs. Both off by
    /// default; the tests turn them on for their loopback receivers.
    #[arg(long, env = "WEBHOOK_ALLOW_PRIVATE", default_value = "off", value_parser = on_off, action = clap::ArgAction::Set)]
    pub webhook_allow_private: bool,
    #[arg(long, env = "WEBHOOK_ALLOW_HTTP", default_value = "off", value_parser = on_off, action = clap::ArgAction::Set)]
    pub webhook_allow_http: bool,
    /// How long an endpoint has to answer a delivery.
    #[arg(long, env = "WEBHOOK_TIMEOUT", default_value = "15s", value_name = "DURATION", value_parser = duration)]
    pub webhook_timeout: Duration,
    /// The waits before each attempt of a delivery, comma-separated (the first is the
    /// first attempt's): Standard Webhooks' schedule by default.
    #[arg(long, env = "WEBHOOK_SCHEDULE", default_value = crate::webhooks::schedule::STANDARD, value_name = "DURATIONS", value_parser = crate::webhooks::schedule::Schedule::parse)]
    pub webhook_schedule: crate::webhooks::schedule::Schedule,
    /// An endpoint whose every attempt failed for this long is disabled.
    #[arg(long, env = "WEBHOOK_DISABLE_AFTER", default_value = "5d", value_name = "DURATION", value_parser = duration)]
    pub webhook_disable_after: Duration,
    /// How often an idle deliverer looks for new events.
    #[arg(long, env = "WEBHOOK_POLL", default_value = "100ms", value_name = "DURATION", value_parser = duration)]
    pub webhook_poll: Duration,
    /// How many deliveries to one endpoint are in flight at once (each of another wallet).
    #[arg(long, env = "WEBHOOK_CONCURRENCY", default_value_t = 16, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub webhook_concurrency: u16,
    /// How many pending deliveries an endpoint may have before it reads no further in the
    /// feed (until some are delivered).
    #[arg(long, env = "WEBHOOK_QUEUE", default_value_t = 10000, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub webhook_queue: u32,
    /// Whether this instance delivers webhooks at all (`off`: another instance does).
    #[arg(long, env = "WEBHOOKS", default_value = "on", value_parser = on_off, action = clap::ArgAction::Set)]
    pub webhooks: bool,
    #[command(flatten)]
    pub limits: Limits,
    /// Whether every request but /health, /health/live and /openapi.json needs an API key
    /// (`on`). `off` serves each as no key, for a service behind a gateway that
    /// authenticates: it says so loudly in the log, and on an address other than loopback it
    /// also needs AUTH_OFF_BEHIND_GATEWAY=yes.
    #[arg(long, env = "AUTH", default_value = "on", value_parser = on_off, action = clap::ArgAction::Set)]
    pub auth: bool,
    /// `yes` confirms that a gateway authenticates every request to a service serving with
    /// AUTH=off on an address other than loopback.
    #[arg(long, env = "AUTH_OFF_BEHIND_GATEWAY", default_value = "no", value_parser = yes_no, action = clap::ArgAction::Set)]
    pub auth_off_behind_gateway: bool,
    /// Requests one API key may send a second, on each instance; past it, 429 (0: no limit).
    #[arg(long, env = "RATE_LIMIT", default_value = "500", value_name = "N", value_parser = rate)]
    pub rate_limit: f64,
    /// Requests one API key may send at once, on top of its rate.
    #[arg(long, env = "RATE_LIMIT_BURST", default_value = "1000", value_name = "N", value_parser = rate)]
    pub rate_limit_burst: f64,
    /// Failed authentications (a secret that is malformed, unknown, revoked or expired) one
    /// client address may make a second, on each instance; past it, 429 (0: no limit). A
    /// request with a working key is never held to it.
    #[arg(long, env = "AUTH_FAILURE_LIMIT", default_value = "10", value_name = "N", value_parser = rate)]
    pub auth_failure_limit: f64,
    /// Failed authentications one client address may make at once, on top of its rate.
    #[arg(long, env = "AUTH_FAILURE_BURST", default_value = "50", value_name = "N", value_parser = rate)]
    pub auth_failure_burst: f64,
    /// The proxies whose X-Forwarded-For names the client address (for the limit on failed
    /// authentications), comma-separated addresses or networks (`127.0.0.1,10.0.0.0/8`).
    /// Default: none, the peer's address is the client's.
    #[arg(long, env = "TRUSTED_PROXIES", default_value = "", value_name = "ADDRESSES", value_parser = trusted_proxies)]
    pub trusted_proxies: crate::api::middleware::auth::client::TrustedProxies,
    /// A bearer token that may read /metrics (Prometheus's `bearer_token`), besides an admin
    /// key: at least 16 characters. Default: none, /metrics takes an admin key only.
    #[arg(long, env = "METRICS_TOKEN", hide_env_values = true, value_name = "TOKEN", value_parser = metrics_token)]
    pub metrics_token: Option<String>,
    /// The origins browser pages may call the API from, comma-separated
    /// (`https://app.example.com`). Default: none (no CORS headers at all).
    #[arg(long, env = "CORS_ORIGINS", value_name = "ORIGINS", value_delimiter = ',', value_parser = origin)]
    pub cors_origins: Vec<String>,
    /// Whether concurrent creates share a database transaction and its commit (`on`), or
    /// each runs alone (`off`).
    #[arg(long, env = "COALESCE", default_value = "on", value_parser = on_off, action = clap::ArgAction::Set)]
    pub coalesce: bool,
    /// Whether concurrent reads of one wallet or transaction by id (without `include`) are
    /// answered by one query for all their ids (`on`), or each by its own (`off`).
    #[arg(long, env = "COALESCE_READS", default_value = "on", value_parser = on_off, action = clap::ArgAction::Set)]
    pub coalesce_reads: bool,
    /// The most creates (or reads by id) run together.
    #[arg(long, env = "COALESCE_MAX_BATCH", default_value_t = 64, value_name = "N", value_parser = at_least_one::<usize>())]
    pub coalesce_max_batch: usize,
    /// How many batches may run at once (while one commits, the next gathers). Default: the
    /// pool size less one (at least 1), measured best; one connection stays for reads.
    #[arg(long, env = "COALESCE_RUNNERS", value_name = "N", value_parser = at_least_one::<usize>())]
    pub coalesce_runners: Option<usize>,
}

/// How long anything may wait, and how much may queue: every wait is bounded.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct Limits {
    /// `statement_timeout` of the service's connections: a longer statement is cancelled
    /// and rolled back (503 `database-timeout`).
    #[arg(long = "db-statement-timeout", env = "DB_STATEMENT_TIMEOUT", default_value = "5s", value_name = "DURATION", value_parser = duration)]
    pub statement_timeout: Duration,
    /// `lock_timeout` of the service's connections: a longer wait for a lock (a table locked
    /// in psql, a row held by a long transaction) is cancelled (503 `database-timeout`).
    #[arg(long = "db-lock-timeout", env = "DB_LOCK_TIMEOUT", default_value = "2s", value_name = "DURATION", value_parser = duration)]
    pub lock_timeout: Duration,
    /// The longest wait for a database connection (503 `busy` / `database-unavailable`).
    #[arg(long = "db-acquire-timeout", env = "DB_ACQUIRE_TIMEOUT", default_value = "1s", value_name = "DURATION", value_parser = duration)]
    pub acquire_timeout: Duration,
    /// How many requests may wait for a connection at once; past that, an immediate 503
    /// `busy`. Default: 16 per pooled connection.
    #[arg(long = "db-max-waiting", env = "DB_MAX_WAITING", value_name = "N")]
    pub max_waiting: Option<usize>,
    /// `/health` answers 503 when the database has not answered by then.
    #[arg(long = "health-timeout", env = "HEALTH_TIMEOUT", default_value = "1s", value_name = "DURATION", value_parser = duration)]
    pub health_timeout: Duration,
    /// To send a request's line and headers (408, connection closed).
    #[arg(long = "http-head-timeout", env = "HTTP_HEAD_TIMEOUT", default_value = "5s", value_name = "DURATION", value_parser = duration)]
    pub head_timeout: Duration,
    /// To send a request's body (408 `body-timeout`, connection closed).
    #[arg(long = "http-body-timeout", env = "HTTP_BODY_TIMEOUT", default_value = "10s", value_name = "DURATION", value_parser = duration)]
    pub body_timeout: Duration,
    /// An idle keep-alive connection is closed after it.
    #[arg(long = "http-keep-alive", env = "HTTP_KEEP_ALIVE", default_value = "5s", value_name = "DURATION", value_parser = duration)]
    pub keep_alive: Duration,
    /// On SIGTERM or SIGINT the server stops accepting connections and gives the requests in
    /// flight this long to finish.
    #[arg(long = "shutdown-timeout", env = "SHUTDOWN_TIMEOUT", default_value = "30s", value_name = "DURATION", value_parser = duration)]
    pub shutdown_timeout: Duration,
    /// On SIGTERM or SIGINT, how long the server first goes on accepting and serving while
    /// /health answers 503 draining, so that a balancer that polls it stops sending requests
    /// before connections are refused (set it to the balancer's check interval times its
    /// failure threshold). 0: stop accepting at once.
    #[arg(long = "shutdown-delay", env = "SHUTDOWN_DELAY", default_value = "0", value_name = "DURATION", value_parser = duration_or_zero)]
    pub shutdown_delay: Duration,
}

/// `DB_MAX_WAITING` when not given: this many requests per pooled connection.
const WAITING_PER_CONNECTION: usize = 16;

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl Config {
    /// The database connections of the pool.
    pub fn pool_size(&self) -> u32 {
        self.pool_size.unwrap_or(2 * cpus() as u32)
    }

    pub fn workers(&self) -> usize {
        self.workers.unwrap_or_else(cpus)
    }

    pub fn coalesce_runners(&self) -> usize {
        self.coalesce_runners
            .unwrap_or((self.pool_size() as usize).saturating_sub(1).max(1))
    }

    pub fn max_waiting(&self) -> usize {
        self.limits
            .max_waiting
            .unwrap_or(WAITING_PER_CONNECTION * self.pool_size() as usize)
    }

    /// How requests are authenticated and limited.
    pub fn auth_settings(&self) -> crate::api::middleware::auth::Settings {
        use crate::api::middleware::auth::limits::Rate;
        crate::api::middleware::auth::Settings {
            enabled: self.auth,
            per_key: Rate {
                rate: self.rate_limit,
                burst: self.rate_limit_burst.max(1.0),
            },
            failures: Rate {
                rate: self.auth_failure_limit,
                burst: self.auth_failure_burst.max(1.0),
            },
            trusted_proxies: self.trusted_proxies.clone(),
            metrics_token: self.metrics_token.clone(),
        }
    }

    /// How the service uses the database.
    pub fn database_settings(&self) -> crate::db::Settings {
        crate::db::Settings {
            pool_size: self.pool_size(),
            statement_timeout: self.limits.statement_timeout,
            lock_timeout: self.limits.lock_timeout,
            acquire_timeout: self.limits.acquire_timeout,
            max_waiting: self.max_waiting(),
        }
    }

    /// The settings these flags (after the subcommand) and this process's environment give.
    pub fn parse<I: IntoIterator<Item = T>, T: Into<std::ffi::OsString> + Clone>(
        args: I,
    ) -> Result<Config, clap::Error> {
        #[derive(clap::Parser)]
        struct Serve {
            #[command(flatten)]
            config: Config,
        }
        let args = std::iter::once(std::ffi::OsString::from("serve"))
            .chain(args.into_iter().map(Into::into));
        <Serve as clap::Parser>::try_parse_from(args).map(|serve| serve.config)
    }
}

impl Default for Limits {
    fn default() -> Limits {
        let config = Config::parse(["--database-url", "unused"]).expect("the defaults parse");
        config.limits
    }
}

/// A duration as the settings take it: what `humantime` reads (`250ms`, `5s`, `1.5s`, `1m30s`,
/// `90m`, `24h`, `7d`), or a bare number of seconds (`30`).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()) {
        return text.parse().ok().map(Duration::from_secs);
    }
    humantime::parse_duration(text).ok()
}

/// A duration, where 0 turns something off.
fn duration_or_zero(text: &str) -> Result<Duration, String> {
    parse_duration(text)
        .ok_or_else(|| format!("not a duration such as 0, 5s, 250ms, 1m30s or 24h: {text:?}"))
}

fn trusted_proxies(
    text: &str,
) -> Result<crate::api::middleware::auth::client::TrustedProxies, String> {
    crate::api::middleware::auth::client::TrustedProxies::parse(text)
}

fn metrics_token(text: &str) -> Result<String, String> {
    let token = text.trim();
    if token.len() < 16 || !token.bytes().all(|byte| byte.is_ascii_graphic()) {
        return Err("must be at least 16 printable characters without spaces".into());
    }
    Ok(token.to_string())
}

fn duration(text: &str) -> Result<Duration, String> {
    parse_duration(text)
        .filter(|duration| !duration.is_zero())
        .ok_or_else(|| {
            format!("not a duration above zero such as 5s, 250ms, 1m30s or 24h: {text:?}")
        })
}

/// A connection URL: anything libpq takes, but not nothing.
impl Config {
    /// What webhook deliveries may reach.
    pub fn webhook_network(&self) -> crate::webhooks::address::Network {
        crate::webhooks::address::Network {
            allow_private: self.webhook_allow_private,
            allow_http: self.webhook_allow_http,
        }
    }

    /// How webhooks are delivered.
    pub fn webhook_settings(&self) -> crate::webhooks::Settings {
        crate::webhooks::Settings {
            network: self.webhook_network(),
            timeout: self.webhook_timeout,
            schedule: self.webhook_schedule.clone(),
            disable_after: self.webhook_disable_after,
            poll: self.webhook_poll,
            concurrency: usize::from(self.webhook_concurrency),
            queue: i64::from(self.webhook_queue),
            base_url: self.base_url.clone().unwrap_or_default(),
        }
    }
}

pub fn database_url(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        Err("is empty: give the URL of a PostgreSQL database (`make run` sets it up)".into())
    } else {
        Ok(text.to_string())
    }
}

fn yes_no(text: &str) -> Result<bool, String> {
    match text {
        "yes" => Ok(true),
        "no" => Ok(false),
        other => Err(format!("must be yes or no, got {other:?}")),
    }
}

/// A rate: a number of requests, 0 or more.
fn rate(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|rate| rate.is_finite() && *rate >= 0.0)
        .ok_or_else(|| format!("must be a number of requests, 0 or more, got {text:?}"))
}

/// An origin: a scheme and an authority, no path.
fn origin(text: &str) -> Result<String, String> {
    let origin = text.trim().trim_end_matches('/');
    let authority = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(|| format!("an origin starts with http:// or https://, got {text:?}"))?;
    if authority.is_empty() || authority.contains('/') {
        return Err(format!(
            "an origin is a scheme and a host (no path), got {text:?}"
        ));
    }
    Ok(origin.to_string())
}

fn on_off(text: &str) -> Result<bool, String> {
    match text {
        "on" => Ok(true),
        "off" => Ok(false),
        other => Err(format!("must be on or off, got {other:?}")),
    }
}

fn base_url(text: &str) -> Result<String, String> {
    let url = text.trim_end_matches('/');
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(url.to_string())
    } else {
        Err(format!("must start with http:// or https://, got {text:?}"))
    }
}

/// A whole number of at least 1.
fn at_least_one<T>() -> impl TypedValueParser<Value = T>
where
    T: std::str::FromStr + PartialOrd + From<u8> + Clone + Send + Sync + 'static,
{
    clap::builder::StringValueParser::new().try_map(|text: String| {
        text.parse::<T>()
            .ok()
            .filter(|n| *n >= T::from(1))
            .ok_or_else(|| format!("must be a whole number of at least 1, got {text:?}"))
    })
}

/// The settings of `serve` as a Markdown table: flag, variable, and what it sets with its
/// default, from the declarations above.
pub fn markdown_table() -> String {
    #[derive(clap::Parser)]
    struct Serve {
        #[command(flatten)]
        config: Config,
    }
    let command = <Serve as clap::CommandFactory>::command();
    let mut table = String::from("| flag | variable | what it sets |\n|---|---|---|\n");
    for arg in command.get_arguments() {
        let Some(long) = arg.get_long() else {
            continue;
        };
        let help = arg
            .get_long_help()
            .or(arg.get_help())
            .map(|help| help.to_string().replace('\n', " "))
            .unwrap_or_default();
        // clap drops a doc comment's final period.
        let help = match help.ends_with('.') {
            true => help,
            false => format!("{help}."),
        };
        let default: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|value| value.to_string_lossy().into_owned())
            .collect();
        let default = match default.as_slice() {
            [] => String::new(),
            [value] => format!(" Default: `{value}`."),
            values => format!(" Default: `{}`.", values.join(" ")),
        };
        let variable = arg
            .get_env()
            .map(|env| format!("`{}`", env.to_string_lossy()))
            .unwrap_or_default();
        table.push_str(&format!("| `--{long}` | {variable} | {help}{default} |\n"));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, String> {
        let mut all = vec!["--database-url", "postgres://x/y"];
        all.extend_from_slice(args);
        Config::parse(all).map_err(|error| error.to_string())
    }

    #[test]
    fn flags_give_values_and_defaults_fill_the_rest() {
        let config = parse(&["--port", "9000", "--pool-size=4"]).unwrap();
        assert_eq!(config.database_url, "postgres://x/y");
        assert_eq!(config.host, "127.0.0.1");
        assert_eq!(config.port, 9000);
        assert_eq!(config.pool_size(), 4);
        assert_eq!(config.coalesce_runners(), 3);
        assert_eq!(config.max_waiting(), 64);
        assert!(config.workers() >= 1);
        assert_eq!(config.base_url, None);
        assert!(config.coalesce);
        assert_eq!(config.coalesce_max_batch, 64);
        assert!(!parse(&["--coalesce=off"]).unwrap().coalesce);
    }

    #[test]
    fn bad_values_are_refused() {
        for (args, needle) in [
            (vec!["--port", "http"], "--port"),
            (vec!["--pool-size", "0"], "--pool-size"),
            (vec!["--workers", "0"], "--workers"),
            (vec!["--base-url", "example.com"], "--base-url"),
            (vec!["--colour", "red"], "--colour"),
            (vec!["--port"], "--port"),
            (vec!["--idempotency-ttl", "soon"], "--idempotency-ttl"),
            (vec!["--idempotency-ttl", "0h"], "--idempotency-ttl"),
            (vec!["--db-lock-timeout", "soon"], "--db-lock-timeout"),
            (vec!["--db-max-waiting", "-1"], "'-1'"),
            (vec!["--coalesce", "maybe"], "--coalesce"),
            (vec!["--coalesce-max-batch", "0"], "--coalesce-max-batch"),
            (vec!["--trusted-proxies", "proxy"], "--trusted-proxies"),
            (vec!["--metrics-token", "short"], "--metrics-token"),
            (vec!["--hold-sweep", "soon"], "--hold-sweep"),
        ] {
            let error = parse(&args).unwrap_err();
            assert!(error.contains(needle), "{args:?}: {error}");
        }
    }

    #[test]
    fn limits_have_defaults_and_can_be_set() {
        let config = parse(&[
            "--db-statement-timeout=250ms",
            "--pool-size",
            "3",
            "--http-body-timeout",
            "2s",
        ])
        .unwrap();
        assert_eq!(config.limits.statement_timeout, Duration::from_millis(250));
        assert_eq!(config.limits.body_timeout, Duration::from_secs(2));
        assert_eq!(config.limits.lock_timeout, Duration::from_secs(2));
        assert_eq!(config.limits.acquire_timeout, Duration::from_secs(1));
        assert_eq!(config.limits.head_timeout, Duration::from_secs(5));
        assert_eq!(config.limits.keep_alive, Duration::from_secs(5));
        assert_eq!(config.limits.shutdown_timeout, Duration::from_secs(30));
        assert_eq!(config.limits.health_timeout, Duration::from_secs(1));
        assert_eq!(config.max_waiting(), 48);
        assert_eq!(Limits::default(), parse(&[]).unwrap().limits);
    }

    #[test]
    fn durations_take_a_unit() {
        assert_eq!(parse_duration("24h"), Some(Duration::from_secs(86400)));
        assert_eq!(parse_duration("90m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(604800)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1w"), Some(Duration::from_secs(7 * 86400)));
        assert_eq!(parse_duration("5 parsecs"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("h"), None);
        let config = parse(&["--idempotency-ttl", "2h"]).unwrap();
        assert_eq!(config.idempotency_ttl, Duration::from_secs(7200));
        // HOLD_SWEEP=0 turns the sweep off.
        let config = parse(&["--hold-sweep", "0"]).unwrap();
        assert_eq!(config.hold_sweep, Duration::ZERO);
    }

    #[test]
    fn base_url_loses_its_trailing_slash() {
        let config = parse(&["--base-url", "https://api.example.com/"]).unwrap();
        assert_eq!(config.base_url.as_deref(), Some("https://api.example.com"));
    }

    #[test]
    fn the_table_names_every_setting_once() {
        let table = markdown_table();
        for (flag, variable) in [
            ("--database-url", "DATABASE_URL"),
            ("--db-statement-timeout", "DB_STATEMENT_TIMEOUT"),
            ("--coalesce-runners", "COALESCE_RUNNERS"),
            ("--shutdown-timeout", "SHUTDOWN_TIMEOUT"),
            ("--shutdown-delay", "SHUTDOWN_DELAY"),
        ] {
            let row = table
                .lines()
                .find(|line| line.starts_with(&format!("| `{flag}` |")))
                .unwrap_or_else(|| panic!("no row for {flag}:\n{table}"));
            assert!(row.contains(&format!("`{variable}`")), "{row}");
        }
        assert!(table.contains("Default: `24h`."), "{table}");
    }
}
