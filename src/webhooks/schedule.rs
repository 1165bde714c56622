//! When a failed delivery is sent again. The default is the schedule of Standard Webhooks:
//! at once, then after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h (`WEBHOOK_SCHEDULE`
//! sets another, so tests run in seconds); each wait gets up to a tenth more at random, so
//! that the retries of many deliveries do not arrive together. A `Retry-After` on 429 or 503
//! is honoured when it asks for longer.

use std::time::Duration;

/// The waits before each attempt: the first is the first attempt's (usually none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule(pub Vec<Duration>);

/// The default, as `WEBHOOK_SCHEDULE` writes it.
pub const STANDARD: &str = "0s,5s,5m,30m,2h,5h,10h,14h,20h,24h";

/// The longest `Retry-After` honoured.
const MOST_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

impl Schedule {
    /// A schedule as `WEBHOOK_SCHEDULE` writes it: waits separated by commas.
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let waits = text
            .split(',')
            .map(|part| {
                humantime::parse_duration(part.trim())
                    .map_err(|error| format!("{part:?} is not a duration ({error})"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if waits.is_empty() {
            return Err("give at least one attempt".into());
        }
        Ok(Schedule(waits))
    }

    /// How many attempts a delivery gets.
    pub fn attempts(&self) -> usize {
        self.0.len()
    }

    /// How long after attempt number `made` (1, 2, ...) failed the next one goes, or `None`
    /// when that was the last; `retry_after` is the answer's `Retry-After`, if any; `random`
    /// is in [0, 1).
    pub fn next_wait(
        &self,
        made: usize,
        retry_after: Option<Duration>,
        random: f64,
    ) -> Option<Duration> {
        let wait = *self.0.get(made)?;
        let jittered = wait + wait.mul_f64(random.clamp(0.0, 1.0) / 10.0);
        Some(match retry_after {
            Some(asked) => jittered.max(asked.min(MOST_RETRY_AFTER)),
            None => jittered,
        })
    }
}

/// A random number in [0, 1).
pub fn random() -> f64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the operating system's randomness");
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_schedule() {
        let schedule = Schedule::parse(STANDARD).unwrap();
        assert_eq!(schedule.attempts(), 10);
        assert_eq!(
            schedule.next_wait(1, None, 0.0),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            schedule.next_wait(2, None, 0.0),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            schedule.next_wait(9, None, 0.0),
            Some(Duration::from_secs(24 * 3600))
        );
        assert_eq!(schedule.next_wait(10, None, 0.0), None);
        // Jitter adds at most a tenth.
        let jittered = schedule.next_wait(1, None, 0.999).unwrap();
        assert!(jittered > Duration::from_secs(5) && jittered < Duration::from_millis(5500));
        // Retry-After asks for longer: honoured, within a day.
        assert_eq!(
            schedule.next_wait(1, Some(Duration::from_secs(60)), 0.0),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            schedule.next_wait(1, Some(Duration::from_secs(90 * 3600)), 0.0),
            Some(Duration::from_secs(24 * 3600))
        );
        assert!(Schedule::parse("1s,soon").is_err());
    }
}
