//! What the fault tests check of a load's answers: how they were answered, and how fast.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::client::Answer;

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// How many answers had each status and code.
pub fn tally(answers: &[Answer]) -> BTreeMap<(u16, String), usize> {
    let mut statuses = BTreeMap::new();
    for answer in answers {
        *statuses
            .entry((answer.status, answer.code.clone()))
            .or_insert(0) += 1;
    }
    statuses
}

/// Every request was answered 201 or 503, each within `bound`.
pub fn assert_answered_within(answers: &[Answer], bound: Duration) {
    for answer in answers {
        assert!(
            answer.status == 201 || answer.status == 503,
            "{} answered {} {}",
            answer.txid,
            answer.status,
            answer.code
        );
        assert!(
            answer.took < bound,
            "{} took {:?}",
            answer.txid,
            answer.took
        );
    }
}

/// How long each refusal (503) took to come, shortest first.
pub fn refusal_times(answers: &[Answer]) -> Vec<Duration> {
    let mut times: Vec<Duration> = answers
        .iter()
        .filter(|a| a.status == 503)
        .map(|a| a.took)
        .collect();
    times.sort();
    times
}

/// Every booking acknowledged is among `stored`; one refused is not, unless its outcome was
/// said to be unknown.
pub fn assert_nothing_acknowledged_lost(
    answers: &[Answer],
    stored: &std::collections::HashSet<String>,
) {
    for answer in answers {
        match (answer.status, answer.code.as_str()) {
            (201, _) => assert!(
                stored.contains(&answer.txid),
                "{} was acknowledged and lost",
                answer.txid
            ),
            (503, "outcome-unknown") => {}
            (_, code) => assert!(
                !stored.contains(&answer.txid),
                "{} answered {code} but was written",
                answer.txid
            ),
        }
    }
}
