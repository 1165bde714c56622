//! How fast clients may go: a key's requests (`RATE_LIMIT`, `RATE_LIMIT_BURST`), and a client
//! address's failed authentications (`AUTH_FAILURE_LIMIT`, `AUTH_FAILURE_BURST`), each a
//! keyed GCRA limiter (`governor`: a token bucket of `burst` tokens refilled at `rate` a
//! second, kept in a concurrent map); and the failed authentications told in the log as one
//! line per address per interval, with their count.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

/// How fast something may go: `rate` a second, `burst` at once (`rate` 0: no limit).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub rate: f64,
    pub burst: f64,
}

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock, StateInformationMiddleware>;

/// A limiter per key `K`.
pub struct Limiter<K: Hash + Eq + Clone> {
    limiter: Option<Keyed<K>>,
    pub rate: Rate,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    pub fn new(rate: Rate) -> Limiter<K> {
        let limiter = (rate.rate > 0.0).then(|| {
            let period = Duration::from_secs_f64(1.0 / rate.rate).max(Duration::from_nanos(1));
            let burst = NonZeroU32::new(rate.burst.clamp(1.0, u32::MAX as f64) as u32)
                .unwrap_or(NonZeroU32::MIN);
            let quota = Quota::with_period(period)
                .expect("a period above zero")
                .allow_burst(burst);
            RateLimiter::dashmap(quota).with_middleware::<StateInformationMiddleware>()
        });
        Limiter { limiter, rate }
    }

    /// Whether it limits anything.
    pub fn is_on(&self) -> bool {
        self.limiter.is_some()
    }

    /// Takes a token of `key`'s bucket: the tokens left, or how long until one is there.
    pub fn take(&self, key: &K) -> Result<u32, Duration> {
        let Some(limiter) = &self.limiter else {
            return Ok(u32::MAX);
        };
        match limiter.check_key(key) {
            Ok(state) => Ok(state.remaining_burst_capacity()),
            Err(refused) => Err(refused.wait_time_from(limiter.clock().now())),
        }
    }

    /// Forgets the buckets that have filled up again (their state is the default one).
    pub fn prune(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// How many buckets are held.
    pub fn len(&self) -> usize {
        self.limiter.as_ref().map_or(0, |limiter| limiter.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The failed authentications since the last report, per client address.
#[derive(Default)]
pub struct FailureLog {
    tallies: Mutex<HashMap<Option<IpAddr>, Tally>>,
}

struct Tally {
    since: Instant,
    reasons: BTreeMap<&'static str, u64>,
    /// Of them, answered 429 (past the address's limit).
    limited: u64,
}

/// One line of the report: an address's failures since the last one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    /// Whether any was more than a request without a key.
    pub worth_a_warning: bool,
    pub line: String,
}

impl FailureLog {
    /// One failed authentication from `client`, for `reason`; `limited`: answered 429.
    pub fn record(&self, client: Option<IpAddr>, reason: &'static str, limited: bool) {
        let mut tallies = self.tallies.lock().expect("failure log lock");
        let tally = tallies.entry(client).or_insert_with(|| Tally {
            since: Instant::now(),
            reasons: BTreeMap::new(),
            limited: 0,
        });
        *tally.reasons.entry(reason).or_default() += 1;
        tally.limited += u64::from(limited);
    }

    /// The report of every address with failures since the last report, one line each
    /// (addresses in order), and a fresh tally.
    pub fn report(&self) -> Vec<Reported> {
        let drained: Vec<(Option<IpAddr>, Tally)> = {
            let mut tallies = self.tallies.lock().expect("failure log lock");
            let mut drained: Vec<_> = tallies.drain().collect();
            drained.sort_by_key(|(client, _)| *client);
            drained
        };
        drained
            .into_iter()
            .map(|(client, tally)| {
                let total: u64 = tally.reasons.values().sum();
                let reasons: Vec<String> = tally
                    .reasons
                    .iter()
                    .map(|(reason, count)| format!("{reason} {count}"))
                    .collect();
                let limited = match tally.limited {
                    0 => String::new(),
                    n => format!("; {n} answered 429"),
                };
                Reported {
                    worth_a_warning: tally.reasons.keys().any(|reason| *reason != "missing"),
                    line: format!(
                        "authentication failed {total} time(s) from {} in the last {} s ({}){limited}",
                        client.map_or("an unknown address".to_string(), |ip| ip.to_string()),
                        tally.since.elapsed().as_secs().max(1),
                        reasons.join(", "),
                    ),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limiter_lets_a_burst_through_then_says_how_long_to_wait() {
        let limiter = Limiter::new(Rate {
            rate: 1.0,
            burst: 3.0,
        });
        assert_eq!(limiter.take(&"a"), Ok(2));
        assert_eq!(limiter.take(&"a"), Ok(1));
        assert_eq!(limiter.take(&"a"), Ok(0));
        let wait = limiter.take(&"a").unwrap_err();
        assert!(wait > Duration::from_millis(500) && wait <= Duration::from_secs(1));
        // Another key has a bucket of its own.
        assert_eq!(limiter.take(&"b"), Ok(2));
        let off = Limiter::new(Rate {
            rate: 0.0,
            burst: 1.0,
        });
        assert!(!off.is_on());
        for _ in 0..100 {
            assert!(off.take(&"a").is_ok());
        }
    }

    #[test]
    fn failures_are_reported_as_one_line_per_address_with_counts() {
        let log = FailureLog::default();
        let one: IpAddr = "10.0.0.7".parse().unwrap();
        let two: IpAddr = "10.0.0.8".parse().unwrap();
        for n in 0..1500 {
            log.record(Some(one), "unknown", n >= 100);
        }
        log.record(Some(one), "malformed", true);
        log.record(Some(two), "missing", false);
        let report = log.report();
        assert_eq!(report.len(), 2, "{report:?}");
        assert!(report[0].worth_a_warning);
        assert!(
            report[0].line.starts_with(
                "authentication failed 1501 time(s) from 10.0.0.7 in the last 1 s \
                 (malformed 1, unknown 1500); 1401 answered 429"
            ),
            "{}",
            report[0].line
        );
        assert!(!report[1].worth_a_warning);
        assert!(report[1].line.contains("(missing 1)"), "{}", report[1].line);
        assert!(log.report().is_empty());
    }
}
