//! `GET /wallets/{id}/balance-history`: buckets that match the journal they are folded from
//! (computed here again from the journal's rows), a bucket without changes carrying the
//! balance forward, a wallet with no history, the limits on a request's range, and
//! wallet-limited keys.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::helpers::*;

/// A wallet holding USD (two decimals).
fn usd_wallet(app: &TestApp, label: &str) -> String {
    let reply = app.post(
        "/wallets",
        json!({"data": {"type": "wallets", "attributes": {"label": label, "currency": "USD"}}}),
    );
    reply.expect(201);
    reply.body["data"]["id"].as_str().unwrap().to_string()
}

fn history(app: &TestApp, wallet: &str, query: &str) -> Reply {
    app.get(&format!("/wallets/{wallet}/balance-history?{query}"))
}

fn time(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

/// The wallet's journal as (changed_at, id, balance, held), in order.
fn journal(app: &TestApp, wallet: &str) -> Vec<(DateTime<Utc>, i64, f64, f64)> {
    let mut conn = app.db.connect();
    let rows = scalar(
        &mut conn,
        &format!(
            "SELECT coalesce(string_agg(to_char(changed_at AT TIME ZONE 'UTC', \
                'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') || ' ' || id || ' ' || balance || ' ' || held, \
                ';' ORDER BY changed_at, id), '') \
             FROM balance_changes WHERE wallet_id = {wallet}"
        ),
    );
    rows.split(';')
        .filter(|row| !row.is_empty())
        .map(|row| {
            let parts: Vec<&str> = row.split(' ').collect();
            (
                DateTime::parse_from_rfc3339(parts[0])
                    .unwrap()
                    .with_timezone(&Utc),
                parts[1].parse().unwrap(),
                parts[2].parse().unwrap(),
                parts[3].parse().unwrap(),
            )
        })
        .collect()
}

/// Each bucket checked against the journal: its end balance and held amount are the last
/// entry's before its end (0 before the first), its lowest and highest balance those of the
/// balance it started with and of its entries.
fn assert_matches_journal(app: &TestApp, wallet: &str, buckets: &[Value]) {
    let journal = journal(app, wallet);
    let before = |at: DateTime<Utc>| {
        journal
            .iter()
            .rfind(|(changed, ..)| *changed < at)
            .map_or((0.0, 0.0), |(_, _, balance, held)| (*balance, *held))
    };
    for bucket in buckets {
        let attributes = &bucket["attributes"];
        let (start, end) = (time(&attributes["start"]), time(&attributes["end"]));
        let number = |name: &str| attributes[name].as_str().unwrap().parse::<f64>().unwrap();
        let (balance, held) = before(end);
        let opening = before(start).0;
        let inside: Vec<f64> = journal
            .iter()
            .filter(|(changed, ..)| *changed >= start && *changed < end)
            .map(|(_, _, balance, _)| *balance)
            .collect();
        let lowest = inside.iter().copied().fold(opening, f64::min);
        let highest = inside.iter().copied().fold(opening, f64::max);
        assert_eq!(number("balance"), balance, "{bucket}");
        assert_eq!(number("held"), held, "{bucket}");
        assert_eq!(number("available"), balance - held, "{bucket}");
        assert_eq!(number("minBalance"), lowest, "{bucket}");
        assert_eq!(number("maxBalance"), highest, "{bucket}");
    }
}

#[test]
fn buckets_hold_what_the_journal_says_and_carry_the_balance_forward() {
    let app = TestApp::spawn();
    let wallet = usd_wallet(&app, "charted");
    app.book(&wallet, "in", "100.00").expect(201);
    app.book(&wallet, "out", "-60.00").expect(201);
    app.post(
        "/holds",
        json!({"data": {"type": "holds", "attributes": {"amount": "15.00"},
            "relationships": {"wallet": {"data": {"type": "wallets", "id": wallet}}}}}),
    )
    .expect(201);
    // And in SQL, several rows in one statement: one journal entry.
    let mut conn = app.db.connect();
    exec(
        &mut conn,
        &format!(
            "INSERT INTO transactions (wallet_id, txid, amount) \
             SELECT {wallet}, 'sql-' || g, 5 FROM generate_series(1, 4) AS g"
        ),
    );
    for size in ["1m", "1h", "1d"] {
        let reply = history(&app, &wallet, &format!("bucketSize={size}"));
        reply.expect(200);
        let buckets = reply.body["data"].as_array().unwrap();
        // 100 buckets up to the current one, in order, each as wide as asked.
        assert_eq!(buckets.len(), 100, "{size}");
        assert_eq!(
            reply.body["meta"],
            json!({"bucketSize": size, "count": 100})
        );
        for pair in buckets.windows(2) {
            assert_eq!(pair[0]["attributes"]["end"], pair[1]["attributes"]["start"]);
        }
        let last = &buckets[99]["attributes"];
        assert!(time(&last["start"]) <= Utc::now() && Utc::now() < time(&last["end"]));
        assert_eq!(last["balance"], "60.00");
        assert_eq!(last["held"], "15.00");
        assert_eq!(last["available"], "45.00");
        assert_eq!(buckets[0]["type"], "balance-buckets");
        assert_eq!(
            buckets[0]["relationships"]["wallet"]["data"],
            json!({"type": "wallets", "id": wallet})
        );
        assert_matches_journal(&app, &wallet, buckets);
    }
    // A range of minutes reaching past now: the buckets after the last change carry its
    // balance forward, unchanged within.
    let from = (Utc::now() - Duration::minutes(3)).to_rfc3339();
    let to = (Utc::now() + Duration::minutes(3)).to_rfc3339();
    let reply = history(
        &app,
        &wallet,
        &format!(
            "bucketSize=1m&filter[changedAt.gte]={}&filter[changedAt.lt]={}",
            urlencode(&from),
            urlencode(&to)
        ),
    );
    reply.expect(200);
    let buckets = reply.body["data"].as_array().unwrap();
    assert!((6..=7).contains(&buckets.len()), "{}", buckets.len());
    let future = buckets.last().unwrap();
    assert_eq!(future["attributes"]["balance"], "60.00");
    assert_eq!(future["attributes"]["minBalance"], "60.00");
    assert_eq!(future["attributes"]["maxBalance"], "60.00");
    assert_matches_journal(&app, &wallet, buckets);
    // The day's bucket saw the balance go from 0 up to 100 and back to 40, then 60.
    let day = history(
        &app,
        &wallet,
        "bucketSize=1d&filter[changedAt.gte]=2000-01-01T00:00:00Z",
    );
    day.expect_bad_parameter("filter[changedAt.gte]", "at most 1000");
    let today = Utc::now().format("%Y-%m-%d").to_string();
    let day = history(
        &app,
        &wallet,
        &format!("bucketSize=1d&filter[changedAt.gte]={today}"),
    );
    let bucket = &day.body["data"][0]["attributes"];
    assert_eq!(bucket["minBalance"], "0.00");
    assert_eq!(bucket["maxBalance"], "100.00");
}

#[test]
fn a_wallet_without_history_is_flat_at_zero() {
    let app = TestApp::spawn();
    let wallet = usd_wallet(&app, "quiet");
    let reply = history(&app, &wallet, "bucketSize=1h");
    reply.expect(200);
    for bucket in reply.body["data"].as_array().unwrap() {
        for name in ["balance", "held", "available", "minBalance", "maxBalance"] {
            assert_eq!(bucket["attributes"][name], "0.00", "{name}");
        }
    }
    // The database's buckets start where Rust's do, a change at a boundary opening its bucket.
    let mut conn = app.db.connect();
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT balance_bucket_start('1h', timestamptz '2026-12-06 22:00:00+00')"
        ),
        "2026-12-06 22:00:00+00"
    );
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT balance_bucket_start('1d', timestamptz '2026-12-06 23:59:59.999999+00')"
        ),
        "2026-12-06 00:00:00+00"
    );
}

#[test]
fn a_range_is_bounded_and_every_refusal_names_its_parameter() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("w");
    each(
        [
            (
                "too many buckets",
                (
                    "bucketSize=1m&filter[changedAt.gte]=2026-01-01",
                    "filter[changedAt.gte]",
                    "at most 1000",
                ),
            ),
            (
                "an empty range",
                (
                    "filter[changedAt.gte]=2026-12-02&filter[changedAt.lt]=2026-12-01",
                    "filter[changedAt.gte]",
                    "before",
                ),
            ),
            (
                "an unknown size",
                ("bucketSize=1w", "bucketSize", "1m, 1h, 1d"),
            ),
            (
                "not a time",
                (
                    "filter[changedAt.lt]=yesterday",
                    "filter[changedAt.lt]",
                    "not a time",
                ),
            ),
            (
                "another filter",
                ("filter[amount.gt]=1", "filter[amount.gt]", "does not apply"),
            ),
            ("a sort", ("sort=start", "sort", "does not apply")),
            ("a page", ("page[size]=5", "page", "does not apply")),
            ("include", ("include=wallet", "include", "does not apply")),
            (
                "fields",
                ("fields[wallets]=label", "fields", "does not apply"),
            ),
            ("a name JSON:API keeps", ("interval=1h", "interval", "")),
            (
                "before the year 1",
                (
                    "filter[changedAt.lt]=0000-01-01",
                    "filter[changedAt.lt]",
                    "year 1",
                ),
            ),
            (
                "past the year 9999",
                (
                    "filter[changedAt.lt]=9999-12-31T12:00:00Z",
                    "filter[changedAt.lt]",
                    "9999-12-30",
                ),
            ),
        ],
        |(query, parameter, says)| {
            history(&app, &wallet, query).expect_bad_parameter(parameter, says);
        },
    );
    history(&app, "999999", "").expect_error(404, "wallet-not-found", None);
}

#[test]
fn a_wallet_limited_key_reads_its_own_wallets_history_only() {
    let app = TestApp::spawn();
    let mine = usd_wallet(&app, "mine");
    let theirs = usd_wallet(&app, "theirs");
    app.book(&mine, "m", "3.00").expect(201);
    app.book(&theirs, "t", "7.00").expect(201);
    let (_, limited) = app.new_key("limited", &["read"], &[&mine]);
    let client = app.as_key(Some(&limited));
    let reply = client.get(&format!("/wallets/{mine}/balance-history?bucketSize=1d"));
    reply.expect(200);
    assert_eq!(
        reply.body["data"].as_array().unwrap().last().unwrap()["attributes"]["balance"],
        "3.00"
    );
    client
        .get(&format!("/wallets/{theirs}/balance-history"))
        .expect_error(404, "wallet-not-found", None);
}

fn urlencode(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}
