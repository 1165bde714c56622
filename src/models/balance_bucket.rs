//! Balance buckets: a wallet's balance over time, one bucket per minute, hour or day, read
//! from the journal folded per bucket (`sql/62_balance_history.sql`): at the bucket's end its
//! balance, held and available amounts, and its lowest and highest balance within it.

use bigdecimal::BigDecimal;
use chrono::{DateTime, Duration, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Int8, Numeric, Text, Timestamptz};

/// The widths a bucket may have, as `bucketSize` names them.
pub const SIZES: &[&str] = &["1m", "1h", "1d"];

/// A bucket width's length.
pub fn step(size: &str) -> Option<Duration> {
    match size {
        "1m" => Some(Duration::minutes(1)),
        "1h" => Some(Duration::hours(1)),
        "1d" => Some(Duration::days(1)),
        _ => None,
    }
}

/// Where the bucket of `step` holding `at` starts (buckets are aligned on UTC midnight, as the
/// database aligns them).
pub fn bucket_start(at: DateTime<Utc>, step: Duration) -> DateTime<Utc> {
    let step = step.num_microseconds().expect("a bucket is short");
    let micros = at.timestamp_micros();
    DateTime::from_timestamp_micros(micros - micros.rem_euclid(step)).expect("a time in range")
}

#[derive(Debug, Clone, PartialEq, QueryableByName)]
pub struct BalanceBucket {
    #[diesel(sql_type = Timestamptz, column_name = bucket_start)]
    pub start: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz, column_name = bucket_end)]
    pub end: DateTime<Utc>,
    #[diesel(sql_type = Numeric)]
    pub balance: BigDecimal,
    #[diesel(sql_type = Numeric)]
    pub held: BigDecimal,
    #[diesel(sql_type = Numeric)]
    pub available: BigDecimal,
    #[diesel(sql_type = Numeric)]
    pub min_balance: BigDecimal,
    #[diesel(sql_type = Numeric)]
    pub max_balance: BigDecimal,
}

/// Wallet `wallet`'s buckets of width `size` from the one holding `from` to the last starting
/// before `to`, in order.
pub fn history(
    conn: &mut PgConnection,
    wallet: i64,
    size: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> QueryResult<Vec<BalanceBucket>> {
    diesel::sql_query("SELECT * FROM balance_history($1, $2, $3, $4)")
        .bind::<Int8, _>(wallet)
        .bind::<Text, _>(size)
        .bind::<Timestamptz, _>(from)
        .bind::<Timestamptz, _>(to)
        .load(conn)
}

/// Every row of the `balance_bucket_audit` view: buckets that disagree with the journal, as
/// (wallet, size, start).
pub fn audit(conn: &mut PgConnection) -> QueryResult<Vec<(i64, String, DateTime<Utc>)>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Int8)]
        wallet_id: i64,
        #[diesel(sql_type = Text)]
        width: String,
        #[diesel(sql_type = Timestamptz)]
        start: DateTime<Utc>,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT wallet_id, width, start FROM balance_bucket_audit ORDER BY 1, 2, 3",
    )
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| (row.wallet_id, row.width, row.start))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_start_on_their_boundaries() {
        let at = DateTime::parse_from_rfc3339("2026-12-06T22:28:04.5Z")
            .unwrap()
            .with_timezone(&Utc);
        let start = |size| bucket_start(at, step(size).unwrap()).to_rfc3339();
        assert_eq!(start("1m"), "2026-12-06T22:28:00+00:00");
        assert_eq!(start("1h"), "2026-12-06T22:00:00+00:00");
        assert_eq!(start("1d"), "2026-12-06T00:00:00+00:00");
        assert_eq!(step("1w"), None);
    }
}
