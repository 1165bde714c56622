//! Events: written by the database with every change (API, SQL, bulk statements), read as a
//! feed that never misses or repeats one, even when transactions commit out of order; each
//! wallet's in walletSequence order; streamed live; balance monitors firing once per
//! crossing.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use diesel::Connection;
use serde_json::{Value, json};

use crate::helpers::{As, TestApp, all_at_once, exec, scalar};

/// One event as a reader keeps it.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    id: String,
    event_type: String,
    wallet: String,
    sequence: i64,
    origin: String,
    data: Value,
}

fn seen(object: &Value) -> Seen {
    Seen {
        id: object["id"].as_str().unwrap().to_string(),
        event_type: object["attributes"]["eventType"]
            .as_str()
            .unwrap()
            .to_string(),
        wallet: object["relationships"]["wallet"]["data"]["id"]
            .as_str()
            .unwrap()
            .to_string(),
        sequence: object["attributes"]["walletSequence"].as_i64().unwrap(),
        origin: object["attributes"]["origin"].as_str().unwrap().to_string(),
        data: object["attributes"]["data"].clone(),
    }
}

/// A reader of the feed: pages from its cursor to the end, and keeps its cursor.
struct Reader {
    cursor: Option<String>,
    query: String,
    events: Vec<Seen>,
}

impl Reader {
    fn new(query: &str) -> Reader {
        Reader {
            cursor: None,
            query: query.to_string(),
            events: Vec::new(),
        }
    }

    /// Reads every page there is once the feed has served every event that occurred before
    /// the call: the horizon is the oldest transaction running anywhere on the server, so
    /// another test's open transaction holds back this database's events for a while. The
    /// feed's lag (`meta.feed.lagSeconds`, the age of the oldest event not served yet) says
    /// when: 0, or younger than the wait. Waits up to 20 s; returns how many events it got.
    fn read(&mut self, client: &As<'_>) -> usize {
        let before = self.events.len();
        let waited = Instant::now();
        loop {
            let lag = self.read_now(client);
            let elapsed = waited.elapsed();
            if lag == 0.0 || lag < elapsed.as_secs_f64() || elapsed > Duration::from_secs(20) {
                return self.events.len() - before;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Reads every page the feed serves now, without waiting; returns the feed's lag.
    fn read_now(&mut self, client: &As<'_>) -> f64 {
        loop {
            let mut path = format!("/events?page[size]=100{}", self.query);
            if let Some(cursor) = &self.cursor {
                path.push_str(&format!("&page[after]={cursor}"));
            }
            let page = client.get(&path);
            page.expect(200);
            let data = page.body["data"].as_array().unwrap().clone();
            for object in &data {
                self.events.push(seen(object));
                self.cursor = Some(
                    object["meta"]["page"]["cursor"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                );
            }
            if page.body["links"]["next"].is_null() {
                return page.body["meta"]["feed"]["lagSeconds"]
                    .as_f64()
                    .expect("meta.feed.lagSeconds");
            }
        }
    }

    /// Asserts no event twice, and each wallet's events in sequence with no gap (from the
    /// first one seen when `from_one` is false).
    fn assert_in_order(&self, from_one: bool) {
        let ids: HashSet<&str> = self.events.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids.len(), self.events.len(), "an event was read twice");
        let mut last: BTreeMap<&str, i64> = BTreeMap::new();
        for event in &self.events {
            let expected = match last.get(event.wallet.as_str()) {
                Some(previous) => previous + 1,
                None if from_one => 1,
                None => event.sequence,
            };
            assert_eq!(
                event.sequence, expected,
                "wallet {}: event {} ({}) out of sequence",
                event.wallet, event.id, event.event_type
            );
            last.insert(&event.wallet, event.sequence);
        }
    }

    fn of_type(&self, event_type: &str) -> Vec<&Seen> {
        self.events
            .iter()
            .filter(|event| event.event_type == event_type)
            .collect()
    }
}

fn types(events: &[Seen]) -> Vec<&str> {
    events
        .iter()
        .map(|event| event.event_type.as_str())
        .collect()
}

#[test]
fn every_change_is_an_event_in_order_api_and_sql_alike() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("events");
    app.book(&wallet, "deposit", "100").expect(201);
    let mut conn = app.db.connect();
    // psql: an UPDATE, and a bulk INSERT of three rows (one balance.changed for all three).
    exec(
        &mut conn,
        &format!(
            "UPDATE transactions SET amount = 90 WHERE txid = 'deposit'; \
             INSERT INTO transactions (wallet_id, txid, amount) \
             SELECT {wallet}, 'bulk-' || i, 1 FROM generate_series(1, 3) AS i"
        ),
    );
    let mut reader = Reader::new("");
    reader.read(&app.as_key(Some(&app.key)));
    reader.assert_in_order(true);
    assert_eq!(
        types(&reader.events),
        [
            "wallet.created",
            "balance.changed",
            "transaction.created",
            "balance.changed",
            "transaction.updated",
            "balance.changed",
            "transaction.created",
            "transaction.created",
            "transaction.created",
        ]
    );
    let origins: Vec<&str> = reader.events.iter().map(|e| e.origin.as_str()).collect();
    assert_eq!(origins[..3], ["api", "api", "api"]);
    assert!(
        origins[3..].iter().all(|origin| *origin == "sql"),
        "{origins:?}"
    );
    // The data is the subject as the API renders it after the change.
    let updated = &reader.of_type("transaction.updated")[0].data;
    assert_eq!(updated["type"], "transactions");
    assert_eq!(updated["attributes"]["amount"], "90.000000000000000000");
    assert_eq!(updated["attributes"]["txid"], "deposit");
    let bulk = &reader.of_type("balance.changed")[2].data;
    assert_eq!(bulk["attributes"]["delta"], "3.000000000000000000");
    assert_eq!(bulk["attributes"]["balance"], "93.000000000000000000");
    assert_eq!(bulk["attributes"]["available"], "93.000000000000000000");
    // The API's event names its key.
    let first = app.get(&format!("/events/{}", reader.events[1].id));
    first.expect(200);
    assert_eq!(first.body["data"]["attributes"]["actorName"], "test-admin");
    assert_eq!(
        first.body["data"]["relationships"]["balanceChange"]["data"]["type"],
        "balance-changes"
    );
    // Filters: by type, by wallet.
    let created = app.get("/events?filter[eventType]=transaction.created");
    assert_eq!(created.ids().len(), 4);
    let nothing = app.get("/events?filter[wallet]=999");
    assert_eq!(nothing.ids().len(), 0);
    // The feed's meta says how far it trails: nothing waits now.
    assert_eq!(created.body["meta"]["feed"]["lagSeconds"], 0.0);
    // One order, by cursor only.
    app.get("/events?sort=-id")
        .expect_bad_parameter("sort", "one order");
    app.get("/events?page[number]=2")
        .expect_bad_parameter("page[number]", "cursor only");
    // Holds, transfers, wallet changes, deletes and TRUNCATE are events too.
    let other = app.create_wallet("other");
    exec(
        &mut conn,
        &format!(
            "INSERT INTO holds (wallet_id, amount) VALUES ({wallet}, 5); \
             UPDATE holds SET status = 'voided'; \
             UPDATE wallets SET label = 'renamed' WHERE id = {wallet}; \
             INSERT INTO transfers (txid, source_wallet_id, destination_wallet_id, amount) \
             VALUES ('move', {wallet}, {other}, 10)"
        ),
    );
    reader.read(&app.as_key(Some(&app.key)));
    reader.assert_in_order(true);
    let later: Vec<&str> = reader.events[9..]
        .iter()
        .filter(|e| e.wallet == wallet)
        .map(|e| e.event_type.as_str())
        .collect();
    assert_eq!(
        later,
        [
            "balance.changed",
            "hold.created",
            "balance.changed",
            "hold.voided",
            "wallet.updated",
            "balance.changed",
            "transaction.created",
            "transfer.created",
        ]
    );
    assert_eq!(
        reader.of_type("transfer.created").len(),
        2,
        "one per wallet"
    );
}

#[test]
fn transactions_committing_out_of_order_are_never_missed_nor_repeated() {
    let app = TestApp::spawn();
    let (a, b) = (app.create_wallet("a"), app.create_wallet("b"));
    let admin = app.as_key(Some(&app.key));
    let mut reader = Reader::new("");
    reader.read(&admin);
    // The earlier transaction takes its id first and stays open; the later one commits.
    let mut early = app.db.connect();
    exec(
        &mut early,
        &format!(
            "BEGIN; INSERT INTO transactions (wallet_id, txid, amount) VALUES ({a}, 'early', 1)"
        ),
    );
    let mut late = app.db.connect();
    exec(
        &mut late,
        &format!("INSERT INTO transactions (wallet_id, txid, amount) VALUES ({b}, 'late', 2)"),
    );
    // In between, the reader sees neither: the later one waits behind the open one.
    let before = reader.events.len();
    reader.read_now(&admin);
    assert_eq!(reader.events.len(), before, "{:?}", reader.events);
    let waiting = app.get("/events");
    assert!(
        waiting.body["meta"]["feed"]["lagSeconds"].as_f64().unwrap() > 0.0,
        "{:#}",
        waiting.body["meta"]
    );
    // The open one now writes to b too, after the later one: b's events stay in sequence.
    exec(
        &mut early,
        &format!(
            "INSERT INTO transactions (wallet_id, txid, amount) VALUES ({b}, 'early-b', 3); COMMIT"
        ),
    );
    assert_eq!(reader.read(&admin), 6);
    assert_eq!(reader.read(&admin), 0);
    reader.assert_in_order(true);
    let txids: Vec<&str> = reader
        .of_type("transaction.created")
        .iter()
        .map(|e| e.data["attributes"]["txid"].as_str().unwrap())
        .collect();
    // The feed's order is the transactions' (the earlier one first, though it committed
    // later); b's events stay in its sequence.
    assert_eq!(txids, ["early", "late", "early-b"]);
}

#[test]
fn concurrent_writers_and_readers_lose_and_repeat_nothing() {
    const WRITERS: usize = 16;
    const CHANGES: usize = 20_000;
    let app = TestApp::spawn();
    let mut conn = app.db.connect();
    exec(
        &mut conn,
        "INSERT INTO wallets (label) SELECT 'w' || i FROM generate_series(1, 32) AS i",
    );
    let before = Reader::new("").read(&app.as_key(Some(&app.key)));
    assert_eq!(before, 32);
    let done = std::sync::atomic::AtomicBool::new(false);
    let url = app.db.url.clone();
    let (readers, ()) = std::thread::scope(|scope| {
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (app, done) = (&app, &done);
                scope.spawn(move || {
                    let mut reader = Reader::new("");
                    let admin = app.as_key(Some(&app.key));
                    while !done.load(std::sync::atomic::Ordering::SeqCst) {
                        reader.read(&admin);
                    }
                    reader.read(&admin);
                    reader
                })
            })
            .collect();
        all_at_once(
            WRITERS,
            |_| diesel::PgConnection::establish(&url).unwrap(),
            |writer, mut conn| {
                for i in 0..CHANGES / WRITERS {
                    // Two wallets per writer, booked in turn; every statement its own commit.
                    let wallet = 1 + (writer * 2 + i % 2) as i64;
                    exec(
                        &mut conn,
                        &format!(
                            "INSERT INTO transactions (wallet_id, txid, amount) \
                             VALUES ({wallet}, 'c-{writer}-{i}', 1)"
                        ),
                    );
                }
            },
        );
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        let readers: Vec<Reader> = readers.into_iter().map(|r| r.join().unwrap()).collect();
        (readers, ())
    });
    let total: i64 = scalar(&mut conn, "SELECT count(*) FROM events")
        .parse()
        .unwrap();
    assert_eq!(total, 32 + 2 * CHANGES as i64);
    for reader in &readers {
        assert_eq!(reader.events.len() as i64, total);
        reader.assert_in_order(true);
    }
}

#[test]
fn a_wallet_limited_key_reads_only_its_wallets_events() {
    let app = TestApp::spawn();
    let (mine, theirs) = (app.create_wallet("mine"), app.create_wallet("theirs"));
    app.book(&mine, "m", "5").expect(201);
    app.book(&theirs, "t", "5").expect(201);
    let (_, limited) = app.new_key("limited", &["read"], &[&mine]);
    let mut reader = Reader::new("");
    reader.read(&app.as_key(Some(&limited)));
    assert_eq!(reader.events.len(), 3);
    assert!(reader.events.iter().all(|e| e.wallet == mine));
    let id = scalar(
        &mut app.db.connect(),
        &format!("SELECT min(id) FROM events WHERE wallet_id = {theirs}"),
    );
    app.as_key(Some(&limited))
        .get(&format!("/events/{id}"))
        .expect_error(404, "event-not-found", None);
}

#[test]
fn retention_removes_old_events_and_their_cursors_expire() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("old");
    app.book(&wallet, "a", "1").expect(201);
    let admin = app.as_key(Some(&app.key));
    let first_page = app.get("/events?page[size]=1");
    let early = first_page.body["data"][0]["meta"]["page"]["cursor"]
        .as_str()
        .unwrap()
        .to_string();
    app.book(&wallet, "b", "1").expect(201);
    let mut reader = Reader::new("");
    reader.read(&admin);
    let at_end = reader.cursor.clone().unwrap();
    let mut conn = app.db.connect();
    // Everything so far is past a retention of zero.
    let removed = scalar(
        &mut conn,
        "SELECT events_prune(now() + interval '1 second')",
    );
    assert_eq!(removed, "5");
    assert_eq!(app.get("/events").ids().len(), 0);
    // A reader at the end lost nothing: its cursor still works.
    app.get(&format!("/events?page[after]={at_end}"))
        .expect(200);
    // One before the removed events would miss some: 410.
    app.get(&format!("/events?page[after]={early}"))
        .expect_error(410, "cursor-expired", None);
    app.book(&wallet, "c", "1").expect(201);
    let after = app.get("/events");
    assert_eq!(after.ids().len(), 2);
    // The numbering goes on where it was.
    assert_eq!(after.body["data"][0]["attributes"]["walletSequence"], 6);
}

/// An open event stream: the lines it sends, read as they come.
struct Stream {
    lines: std::sync::mpsc::Receiver<String>,
}

impl Stream {
    fn open(
        app: &TestApp,
        secret: &str,
        path: &str,
        last_event_id: Option<&str>,
    ) -> Result<Stream, u16> {
        let mut request = reqwest::blocking::Client::builder()
            .timeout(None)
            .build()
            .unwrap()
            .get(app.url(path))
            .bearer_auth(secret)
            .header("Accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().unwrap();
        if response.status() != 200 {
            return Err(response.status().as_u16());
        }
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        let (sender, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(response).lines() {
                let Ok(line) = line else { return };
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        Ok(Stream { lines })
    }

    /// The next `n` events: (id, event type, resource object).
    fn events(&self, n: usize) -> Vec<(String, String, Value)> {
        let mut events = Vec::new();
        let (mut id, mut event_type) = (String::new(), String::new());
        let deadline = Instant::now() + Duration::from_secs(20);
        while events.len() < n {
            let line = self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| panic!("{} of {n} events came", events.len()));
            if let Some(rest) = line.strip_prefix("id: ") {
                id = rest.to_string();
            } else if let Some(rest) = line.strip_prefix("event: ") {
                event_type = rest.to_string();
            } else if let Some(rest) = line.strip_prefix("data: ") {
                events.push((
                    id.clone(),
                    event_type.clone(),
                    serde_json::from_str(rest).unwrap(),
                ));
            }
        }
        events
    }

    /// Whether an event comes within `wait`.
    fn quiet_for(&self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if line.starts_with("data: ") {
                return false;
            }
        }
        true
    }
}

#[test]
fn the_stream_sends_events_live_and_resumes_from_last_event_id() {
    let app = TestApp::spawn();
    let (mine, theirs) = (app.create_wallet("mine"), app.create_wallet("theirs"));
    let (_, limited) = app.new_key("limited", &["read"], &[&mine]);
    let stream = Stream::open(
        &app,
        &limited,
        "/events?filter[eventType]=transaction.created",
        None,
    )
    .unwrap();
    app.book(&theirs, "theirs-1", "1").expect(201);
    app.book(&mine, "m-1", "1").expect(201);
    app.book(&mine, "m-2", "2").expect(201);
    let first = stream.events(2);
    let txids: Vec<&str> = first
        .iter()
        .map(|(_, _, object)| {
            object["attributes"]["data"]["attributes"]["txid"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(txids, ["m-1", "m-2"]);
    assert!(
        first
            .iter()
            .all(|(_, kind, _)| kind == "transaction.created")
    );
    drop(stream);
    // Missed while away, then resumed after the first: m-2 again is not sent, m-3 is.
    app.book(&mine, "m-3", "3").expect(201);
    let resumed = Stream::open(
        &app,
        &limited,
        "/events?filter[eventType]=transaction.created",
        Some(&first[0].0),
    )
    .unwrap();
    let next = resumed.events(2);
    let txids: Vec<&str> = next
        .iter()
        .map(|(_, _, object)| {
            object["attributes"]["data"]["attributes"]["txid"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(txids, ["m-2", "m-3"]);
    assert!(resumed.quiet_for(Duration::from_millis(500)));
    // A cursor that is not one: 400, as JSON:API.
    assert_eq!(
        Stream::open(&app, &limited, "/events", Some("nonsense")).err(),
        Some(400)
    );
}

#[test]
fn streams_are_bounded_per_key() {
    let app = TestApp::spawn_with(|config| config.event_streams_per_key = 2);
    let open: Vec<Stream> = (0..2)
        .map(|_| Stream::open(&app, &app.key, "/events", None).unwrap())
        .collect();
    let refused = app.send("GET", "/events", &[("Accept", "text/event-stream")], None);
    refused.expect_error(429, "too-many-streams", None);
    assert!(refused.header("Retry-After").is_some());
    drop(open);
    // The places are given back when the clients go (the server notices at its next look).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Stream::open(&app, &app.key, "/events", None) {
            Ok(_) => break,
            Err(429) if Instant::now() < deadline => {
                app.book(&app.create_wallet("nudge"), "n", "1");
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(status) => panic!("{status}"),
        }
    }
}

fn monitor(app: &TestApp, wallet: &str, field: &str, operator: &str, amount: &str) -> String {
    let made = app.post(
        "/balance-monitors",
        json!({"data": {"type": "balance-monitors",
            "attributes": {"field": field, "operator": operator, "amount": amount},
            "relationships": {"wallet": {"data": {"type": "wallets", "id": wallet}}}}}),
    );
    made.expect(201);
    made.body["data"]["id"].as_str().unwrap().to_string()
}

#[test]
fn monitors_fire_once_per_crossing_on_every_path() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("watched");
    app.book(&wallet, "deposit", "100").expect(201);
    let low = monitor(&app, &wallet, "available", "lt", "50");
    assert_eq!(
        app.get(&format!("/balance-monitors/{low}")).body["data"]["attributes"]["state"],
        "clear"
    );
    let mut reader = Reader::new("&filter[eventType]=monitor.triggered,monitor.cleared");
    let admin = app.as_key(Some(&app.key));
    // Through the API: crossing below 50 fires once; going lower does not fire again.
    app.book(&wallet, "spend-1", "-60").expect(201);
    app.book(&wallet, "spend-2", "-10").expect(201);
    reader.read(&admin);
    assert_eq!(types(&reader.events), ["monitor.triggered"]);
    let shown = app.get(&format!("/balance-monitors/{low}"));
    assert_eq!(shown.body["data"]["attributes"]["state"], "triggered");
    assert!(shown.body["data"]["attributes"]["triggeredAt"].is_string());
    // In SQL: back above clears it once.
    let mut conn = app.db.connect();
    exec(
        &mut conn,
        &format!("INSERT INTO transactions (wallet_id, txid, amount) VALUES ({wallet}, 'sql', 40)"),
    );
    exec(
        &mut conn,
        &format!(
            "INSERT INTO transactions (wallet_id, txid, amount) VALUES ({wallet}, 'sql-2', 5)"
        ),
    );
    reader.read(&admin);
    assert_eq!(
        types(&reader.events),
        ["monitor.triggered", "monitor.cleared"]
    );
    // A hold lowers what is available: fires; its void clears.
    let hold = app.post(
        "/holds",
        json!({"data": {"type": "holds", "attributes": {"amount": "30"},
            "relationships": {"wallet": {"data": {"type": "wallets", "id": wallet}}}}}),
    );
    hold.expect(201);
    let hold = hold.body["data"]["id"].as_str().unwrap().to_string();
    app.patch(
        &format!("/holds/{hold}"),
        json!({"data": {"type": "holds", "id": hold, "attributes": {"status": "voided"}}}),
    )
    .expect(200);
    reader.read(&admin);
    assert_eq!(
        types(&reader.events),
        [
            "monitor.triggered",
            "monitor.cleared",
            "monitor.triggered",
            "monitor.cleared"
        ]
    );
    // A monitor made when its condition holds already starts triggered, with its event.
    let high = monitor(&app, &wallet, "balance", "gte", "10");
    assert_eq!(
        app.get(&format!("/balance-monitors/{high}")).body["data"]["attributes"]["state"],
        "triggered"
    );
    // Changing its threshold evaluates it again.
    app.patch(
        &format!("/balance-monitors/{high}"),
        json!({"data": {"type": "balance-monitors", "id": high, "attributes": {"amount": "1000"}}}),
    )
    .expect(200);
    reader.read(&admin);
    assert_eq!(reader.events.len(), 6);
    assert_eq!(reader.events[5].event_type, "monitor.cleared");
    assert_eq!(reader.events[5].data["id"], high);
    // A threshold finer than the wallet's currency is refused.
    let usd = crate::currencies::wallet_in(&app, "usd", "USD");
    app.post(
        "/balance-monitors",
        json!({"data": {"type": "balance-monitors",
            "attributes": {"field": "balance", "operator": "lt", "amount": "0.001"},
            "relationships": {"wallet": {"data": {"type": "wallets", "id": usd}}}}}),
    )
    .expect_error(
        422,
        "amount-precision",
        Some(("pointer", "/data/attributes/amount")),
    );
    // A wallet-limited key manages monitors of its wallets only.
    let (_, limited) = app.new_key("limited", &["read", "write"], &[&usd]);
    app.as_key(Some(&limited))
        .post(
            "/balance-monitors",
            json!({"data": {"type": "balance-monitors",
                "attributes": {"field": "balance", "operator": "lt", "amount": "1"},
                "relationships": {"wallet": {"data": {"type": "wallets", "id": wallet}}}}}),
        )
        .expect_error(404, "wallet-not-found", None);
    assert_eq!(
        app.as_key(Some(&limited))
            .get("/balance-monitors")
            .ids()
            .len(),
        0
    );
}

#[test]
fn truncate_and_a_deleted_wallet_are_events_too() {
    let app = TestApp::spawn();
    let (kept, empty) = (app.create_wallet("kept"), app.create_wallet("empty"));
    app.book(&kept, "a", "2").expect(201);
    app.book(&kept, "b", "3").expect(201);
    app.delete(&format!("/wallets/{empty}")).expect(204);
    exec(&mut app.db.connect(), "TRUNCATE transactions");
    let mut reader = Reader::new("");
    reader.read(&app.as_key(Some(&app.key)));
    reader.assert_in_order(true);
    let of = |wallet: &str| -> Vec<&str> {
        reader
            .events
            .iter()
            .filter(|e| e.wallet == wallet)
            .map(|e| e.event_type.as_str())
            .collect()
    };
    assert_eq!(of(&empty), ["wallet.created", "wallet.deleted"]);
    assert_eq!(
        of(&kept)[5..],
        [
            "balance.changed",
            "transaction.deleted",
            "transaction.deleted"
        ]
    );
    let truncated = reader
        .of_type("balance.changed")
        .last()
        .unwrap()
        .data
        .clone();
    assert_eq!(truncated["attributes"]["operation"], "truncate");
    assert_eq!(truncated["attributes"]["balance"], "0.000000000000000000");
}

#[test]
fn a_restore_into_a_cluster_with_lower_transaction_ids_hides_no_event() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("restored");
    app.book(&wallet, "a", "1").expect(201);
    let mut conn = app.db.connect();
    // What a logical restore into another cluster looks like: the stored positions far above
    // the ids this cluster gives now.
    exec(
        &mut conn,
        "ALTER TABLE events DISABLE TRIGGER events_append_only; \
         UPDATE events SET position = position + 1000000000; \
         ALTER TABLE events ENABLE ALWAYS TRIGGER events_append_only",
    );
    assert_eq!(app.get("/events").ids().len(), 0, "hidden until migrate");
    // `wallet-api migrate`, which every start runs, raises the offset above them.
    let applied = wallet_api::db::run_migrations(&mut conn).unwrap();
    assert!(
        applied.iter().any(|line| line.starts_with("events_rebase")),
        "{applied:?}"
    );
    app.book(&wallet, "b", "1").expect(201);
    let mut reader = Reader::new("");
    reader.read(&app.as_key(Some(&app.key)));
    assert_eq!(reader.events.len(), 5);
    reader.assert_in_order(true);
    // Run again, it finds nothing to raise.
    let again = wallet_api::db::run_migrations(&mut conn).unwrap();
    assert!(again.iter().all(|line| !line.starts_with("events_rebase")));
}

/// Every kind of monitor, on both fields, against jumps across and landings on its amount:
/// after each change, each monitor's state is its condition on the wallet's numbers. The
/// database reads only the monitors whose amount the value reached or passed; a mistake in
/// which those are leaves a state behind here.
#[test]
fn every_monitor_keeps_its_condition_through_jumps_and_landings() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("watched");
    app.book(&wallet, "opening", "100").expect(201);
    let mut conn = app.db.connect();
    // 10 held: available is balance - 10.
    exec(
        &mut conn,
        &format!("INSERT INTO holds (wallet_id, amount) VALUES ({wallet}, 10)"),
    );
    let mut monitors = Vec::new();
    for field in ["balance", "available"] {
        for operator in ["lt", "lte", "gt", "gte"] {
            for amount in ["40", "50", "100"] {
                let id = monitor(&app, &wallet, field, operator, amount);
                monitors.push((id, field, operator, amount.parse::<i64>().unwrap()));
            }
        }
    }
    let mut balance = 100;
    for (step, target) in [100, 50, 49, 50, 51, 200, 40, 60, 100, 10, 150, 50]
        .into_iter()
        .enumerate()
    {
        let delta = target - balance;
        if delta != 0 {
            exec(
                &mut conn,
                &format!(
                    "INSERT INTO transactions (wallet_id, txid, amount) \
                     VALUES ({wallet}, 'step-{step}', {delta})"
                ),
            );
        }
        balance = target;
        let listed = app.get(&format!(
            "/balance-monitors?filter[wallet]={wallet}&page[size]=100"
        ));
        for (id, field, operator, amount) in &monitors {
            let value = if *field == "balance" {
                balance
            } else {
                balance - 10
            };
            let holds = match *operator {
                "lt" => value < *amount,
                "lte" => value <= *amount,
                "gt" => value > *amount,
                _ => value >= *amount,
            };
            let shown = listed.body["data"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["id"] == id.as_str())
                .unwrap();
            assert_eq!(
                shown["attributes"]["state"],
                if holds { "triggered" } else { "clear" },
                "{field} {operator} {amount} at balance {balance}"
            );
        }
    }
}
