//! Settings, from the environment with command-line flags taking precedence.
//!
//! | flag             | variable       | default                      |
//! |------------------|----------------|------------------------------|
//! | `--database-url` | `DATABASE_URL` | required                     |
//! | `--host`         | `HOST`         | `127.0.0.1`                  |
//! | `--port`         | `PORT`         | `8080`                       |
//! | `--pool-size`    | `DB_POOL_SIZE` | twice the number of CPUs     |
//! | `--workers`      | `WORKERS`      | number of CPUs               |
//! | `--base-url`     | `BASE_URL`     | taken from each request      |
//! | `--idempotency-ttl` | `IDEMPOTENCY_TTL` | `24h`                  |
//! | `--coalesce`     | `COALESCE`     | `on`                         |
//! | `--coalesce-max-batch` | `COALESCE_MAX_BATCH` | `64`             |
//! | `--coalesce-runners` | `COALESCE_RUNNERS` | pool size - 1 (at least 1) |
//!
//! and the bounds of [`Limits`], each `--flag` / `VARIABLE` pair in [`LIMITS`].

use std::time::Duration;

use anyhow::{Context, anyhow, bail};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub database_url: String,
    pub host: String,
    pub port: u16,
    /// Database connections kept by the pool: the most requests that can be in the database
    /// at once. The default, twice the CPUs, was measured best on a 2-CPU machine for reads,
    /// spread writes and writes to one hot wallet alike (BENCHMARKS.md, "Tuning").
    pub pool_size: u32,
    /// HTTP worker threads (each runs its own event loop).
    pub workers: usize,
    /// Scheme and authority written into links (`https://api.example.com`), for a service
    /// behind a proxy. Without it, links use the scheme and `Host` of each request.
    pub base_url: Option<String>,
    /// How long the response to a request with an `Idempotency-Key` is kept and replayed.
    pub idempotency_ttl: Duration,
    pub limits: Limits,
    /// Whether concurrent creates are run together (`db::coalesce`), and at most how many.
    pub coalesce: bool,
    pub coalesce_max_batch: usize,
    /// How many batches may run at once: while they commit, the next batch gathers.
    pub coalesce_runners: usize,
}

/// How long anything may wait, and how much may queue: every wait is bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// `statement_timeout` of the service's connections: a statement running longer is
    /// cancelled (and rolled back), and the request answered 503.
    pub statement_timeout: Duration,
    /// `lock_timeout` of the service's connections: a statement waiting longer for a lock (a
    /// table locked in psql, a row held by a long transaction) is cancelled, answered 503.
    pub lock_timeout: Duration,
    /// How long a request waits for a database connection before a 503.
    pub acquire_timeout: Duration,
    /// How many requests may wait for a connection at once; past that, an immediate 503.
    pub max_waiting: usize,
    /// How long `/health` waits for the database before it answers 503.
    pub health_timeout: Duration,
    /// How long a client has to send a request's head, then its body (408 after).
    pub head_timeout: Duration,
    pub body_timeout: Duration,
    /// How long an idle keep-alive connection stays open.
    pub keep_alive: Duration,
    /// On SIGTERM, how long in-flight requests have to finish (new ones are refused).
    pub shutdown_timeout: Duration,
}

/// Each limit's flag, variable, default and field.
pub const LIMITS: [(&str, &str, &str); 8] = [
    ("--db-statement-timeout", "DB_STATEMENT_TIMEOUT", "5s"),
    ("--db-lock-timeout", "DB_LOCK_TIMEOUT", "2s"),
    ("--db-acquire-timeout", "DB_ACQUIRE_TIMEOUT", "1s"),
    ("--health-timeout", "HEALTH_TIMEOUT", "1s"),
    ("--http-head-timeout", "HTTP_HEAD_TIMEOUT", "5s"),
    ("--http-body-timeout", "HTTP_BODY_TIMEOUT", "10s"),
    ("--http-keep-alive", "HTTP_KEEP_ALIVE", "5s"),
    ("--shutdown-timeout", "SHUTDOWN_TIMEOUT", "30s"),
];

/// `DB_MAX_WAITING` when not given: this many requests per pooled connection.
const WAITING_PER_CONNECTION: usize = 16;

const FLAGS: [(&str, &str); 11] = [
    ("--coalesce-runners", "COALESCE_RUNNERS"),
    ("--coalesce", "COALESCE"),
    ("--coalesce-max-batch", "COALESCE_MAX_BATCH"),
    ("--database-url", "DATABASE_URL"),
    ("--host", "HOST"),
    ("--port", "PORT"),
    ("--pool-size", "DB_POOL_SIZE"),
    ("--workers", "WORKERS"),
    ("--base-url", "BASE_URL"),
    ("--idempotency-ttl", "IDEMPOTENCY_TTL"),
    ("--db-max-waiting", "DB_MAX_WAITING"),
];

impl Config {
    /// Reads the settings: `args` are the flags after the subcommand, `env` looks a variable up.
    pub fn from_sources(
        args: &[String],
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Config> {
        let flags: Vec<(&str, &str)> = FLAGS
            .iter()
            .copied()
            .chain(LIMITS.iter().map(|(flag, var, _)| (*flag, *var)))
            .collect();
        let mut values: Vec<(&str, Option<String>)> =
            flags.iter().map(|(_, var)| (*var, env(var))).collect();
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) => (flag, Some(value.to_string())),
                None => (arg.as_str(), None),
            };
            let index = flags
                .iter()
                .position(|(name, _)| *name == flag)
                .ok_or_else(|| anyhow!("unknown option {arg:?}"))?;
            let value = match inline {
                Some(value) => value,
                None => rest
                    .next()
                    .cloned()
                    .ok_or_else(|| anyhow!("{flag} needs a value"))?,
            };
            values[index].1 = Some(value);
        }
        let get = |var: &str| {
            values
                .iter()
                .find(|(name, _)| *name == var)
                .and_then(|(_, value)| value.clone())
                .filter(|value| !value.is_empty())
        };

        let database_url = get("DATABASE_URL").ok_or_else(|| {
            anyhow!("DATABASE_URL is not set (or pass --database-url); `make run` sets it up")
        })?;
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let pool_size: u32 = parse_or(get("DB_POOL_SIZE"), "DB_POOL_SIZE", 2 * cpus as u32)?;
        if pool_size == 0 {
            bail!("DB_POOL_SIZE must be at least 1");
        }
        let workers = parse_or(get("WORKERS"), "WORKERS", cpus)?;
        if workers == 0 {
            bail!("WORKERS must be at least 1");
        }
        let base_url = get("BASE_URL").map(|url| url.trim_end_matches('/').to_string());
        if let Some(url) = &base_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            bail!("BASE_URL must start with http:// or https://, got {url:?}");
        }
        let idempotency_ttl = match get("IDEMPOTENCY_TTL") {
            None => Duration::from_secs(24 * 3600),
            Some(text) => parse_duration(&text)
                .filter(|ttl| !ttl.is_zero())
                .ok_or_else(|| {
                    anyhow!(
                        "IDEMPOTENCY_TTL must be a duration such as 24h, 90m or 3600s, got {text:?}"
                    )
                })?,
        };
        let max_waiting = parse_or(
            get("DB_MAX_WAITING"),
            "DB_MAX_WAITING",
            WAITING_PER_CONNECTION * pool_size as usize,
        )?;
        let limits = Limits::from(|var: &str| get(var), max_waiting)?;
        let coalesce = match get("COALESCE").as_deref() {
            None | Some("on") => true,
            Some("off") => false,
            Some(other) => bail!("COALESCE must be on or off, got {other:?}"),
        };
        let coalesce_max_batch = parse_or(get("COALESCE_MAX_BATCH"), "COALESCE_MAX_BATCH", 64)?;
        if coalesce_max_batch == 0 {
            bail!("COALESCE_MAX_BATCH must be at least 1");
        }
        // All connections but one: measured best (BENCHMARKS.md), and one stays for reads.
        let coalesce_runners = parse_or(
            get("COALESCE_RUNNERS"),
            "COALESCE_RUNNERS",
            (pool_size as usize).saturating_sub(1).max(1),
        )?;
        if coalesce_runners == 0 {
            bail!("COALESCE_RUNNERS must be at least 1");
        }
        Ok(Config {
            database_url,
            host: get("HOST").unwrap_or_else(|| "127.0.0.1".to_string()),
            port: parse_or(get("PORT"), "PORT", 8080)?,
            pool_size,
            workers,
            base_url,
            idempotency_ttl,
            limits,
            coalesce,
            coalesce_max_batch,
            coalesce_runners,
        })
    }

    /// How the service uses the database.
    pub fn database_settings(&self) -> crate::db::Settings {
        crate::db::Settings {
            pool_size: self.pool_size,
            statement_timeout: self.limits.statement_timeout,
            lock_timeout: self.limits.lock_timeout,
            acquire_timeout: self.limits.acquire_timeout,
            max_waiting: self.limits.max_waiting,
        }
    }

    /// Settings from this process's command line (after the subcommand) and environment.
    pub fn from_env(args: &[String]) -> anyhow::Result<Config> {
        Config::from_sources(args, |var| std::env::var(var).ok())
    }
}

impl Limits {
    /// The limits of [`LIMITS`], each read with `get` or its default.
    fn from(get: impl Fn(&str) -> Option<String>, max_waiting: usize) -> anyhow::Result<Limits> {
        let mut read = LIMITS.iter().map(|(_, var, default)| {
            let text = get(var).unwrap_or_else(|| default.to_string());
            parse_duration(&text)
                .filter(|duration| !duration.is_zero())
                .ok_or_else(|| {
                    anyhow!("{var} must be a duration such as 5s or 250ms, got {text:?}")
                })
        });
        let mut next = || read.next().expect("one value per limit");
        Ok(Limits {
            statement_timeout: next()?,
            lock_timeout: next()?,
            acquire_timeout: next()?,
            health_timeout: next()?,
            head_timeout: next()?,
            body_timeout: next()?,
            keep_alive: next()?,
            shutdown_timeout: next()?,
            max_waiting,
        })
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::from(|_| None, WAITING_PER_CONNECTION).expect("the defaults parse")
    }
}

/// `90s`, `30m`, `24h`, `7d`, or a number of seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let seconds_per_unit = match unit {
        "ms" => return number.parse().ok().map(Duration::from_millis),
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return None,
    };
    number
        .parse::<u64>()
        .ok()?
        .checked_mul(seconds_per_unit)
        .map(Duration::from_secs)
}

fn parse_or<T: std::str::FromStr>(
    value: Option<String>,
    name: &str,
    default: T,
) -> anyhow::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    match value {
        None => Ok(default),
        Some(text) => text
            .parse()
            .with_context(|| format!("{name} must be a positive integer, got {text:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |var| {
            pairs
                .iter()
                .find(|(name, _)| *name == var)
                .map(|(_, value)| value.to_string())
        }
    }

    #[test]
    fn environment_gives_defaults_and_flags_win() {
        let config = Config::from_sources(
            &["--port".into(), "9000".into(), "--pool-size=4".into()],
            env(&[("DATABASE_URL", "postgres://x/y"), ("PORT", "7000")]),
        )
        .unwrap();
        assert_eq!(config.database_url, "postgres://x/y");
        assert_eq!(config.host, "127.0.0.1");
        assert_eq!(config.port, 9000);
        assert_eq!(config.pool_size, 4);
        assert!(config.workers >= 1);
        assert_eq!(config.base_url, None);
        assert!(config.coalesce);
        assert_eq!(config.coalesce_max_batch, 64);
        let off = Config::from_sources(&["--coalesce=off".into()], env(&[("DATABASE_URL", "x")]));
        assert!(!off.unwrap().coalesce);
    }

    #[test]
    fn missing_database_url_is_explained() {
        let error = Config::from_sources(&[], env(&[])).unwrap_err().to_string();
        assert!(error.contains("DATABASE_URL"), "{error}");
    }

    #[test]
    fn bad_values_are_refused() {
        let url = ("DATABASE_URL", "postgres://x/y");
        for (args, needle) in [
            (vec!["--port", "http"], "PORT"),
            (vec!["--pool-size", "0"], "DB_POOL_SIZE"),
            (vec!["--workers", "0"], "WORKERS"),
            (vec!["--base-url", "example.com"], "BASE_URL"),
            (vec!["--colour", "red"], "unknown option"),
            (vec!["--port"], "needs a value"),
            (vec!["--idempotency-ttl", "soon"], "IDEMPOTENCY_TTL"),
            (vec!["--idempotency-ttl", "0h"], "IDEMPOTENCY_TTL"),
            (vec!["--db-lock-timeout", "soon"], "DB_LOCK_TIMEOUT"),
            (vec!["--db-max-waiting", "-1"], "DB_MAX_WAITING"),
            (vec!["--coalesce", "maybe"], "COALESCE"),
            (vec!["--coalesce-max-batch", "0"], "COALESCE_MAX_BATCH"),
        ] {
            let args: Vec<String> = args.into_iter().map(String::from).collect();
            let error = Config::from_sources(&args, env(&[url]))
                .unwrap_err()
                .to_string();
            assert!(error.contains(needle), "{args:?}: {error}");
        }
    }

    #[test]
    fn limits_have_defaults_and_can_be_set() {
        let config = Config::from_sources(
            &["--db-statement-timeout=250ms".into()],
            env(&[
                ("DATABASE_URL", "x"),
                ("DB_POOL_SIZE", "3"),
                ("HTTP_BODY_TIMEOUT", "2s"),
            ]),
        )
        .unwrap();
        assert_eq!(config.limits.statement_timeout, Duration::from_millis(250));
        assert_eq!(config.limits.body_timeout, Duration::from_secs(2));
        assert_eq!(config.limits.lock_timeout, Duration::from_secs(2));
        assert_eq!(config.limits.acquire_timeout, Duration::from_secs(1));
        assert_eq!(config.limits.max_waiting, 48);
    }

    #[test]
    fn durations_take_a_unit() {
        assert_eq!(parse_duration("24h"), Some(Duration::from_secs(86400)));
        assert_eq!(parse_duration("90m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(604800)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("1w"), None);
        assert_eq!(parse_duration("h"), None);
        let config = Config::from_sources(
            &[],
            env(&[("DATABASE_URL", "x"), ("IDEMPOTENCY_TTL", "2h")]),
        )
        .unwrap();
        assert_eq!(config.idempotency_ttl, Duration::from_secs(7200));
    }

    #[test]
    fn base_url_loses_its_trailing_slash() {
        let config = Config::from_sources(
            &["--base-url".into(), "https://api.example.com/".into()],
            env(&[("DATABASE_URL", "postgres://x/y")]),
        )
        .unwrap();
        assert_eq!(config.base_url.as_deref(), Some("https://api.example.com"));
    }
}
