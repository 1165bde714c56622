//! Webhooks: every event delivered to a loopback receiver, signed (checked here by hand, with
//! HMAC-SHA256 as Standard Webhooks defines it), each wallet's in order, retried with the same
//! webhook-id, disabled by a 410, never sent into the service's network unless allowed, with
//! two secrets while one is rotated out; nothing lost when the service is killed, and one
//! instance delivering each endpoint when two run.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::*;
use wallet_api::webhooks::schedule::Schedule;

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Got {
    id: String,
    timestamp: String,
    signature: String,
    body: Value,
    raw: Vec<u8>,
}

/// How the receiver answers: `fail_first` requests get `failure` (after `delay`, when set).
#[derive(Debug, Clone)]
struct Behaviour {
    fail_first: usize,
    failure: u16,
    delay: Option<Duration>,
    /// The `Retry-After` of a failure, in seconds.
    retry_after: Option<u64>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            fail_first: 0,
            failure: 500,
            delay: None,
            retry_after: None,
        }
    }
}

/// A loopback HTTP server that records what it gets.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Got>>>,
    /// Every request, the failed ones too.
    requests: Arc<Mutex<usize>>,
    server: actix_web::dev::ServerHandle,
}

impl Receiver {
    fn start(behaviour: Behaviour) -> Receiver {
        let got = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(Mutex::new(0usize));
        let (sender, receiver) = std::sync::mpsc::channel();
        let (got_here, requests_here) = (got.clone(), requests.clone());
        std::thread::spawn(move || {
            let system = actix_web::rt::System::new();
            system.block_on(async move {
                let server = actix_web::HttpServer::new(move || {
                    let got = got_here.clone();
                    let requests = requests_here.clone();
                    let behaviour = behaviour.clone();
                    actix_web::App::new().default_service(actix_web::web::to(
                        move |request: actix_web::HttpRequest, body: actix_web::web::Bytes| {
                            let got = got.clone();
                            let requests = requests.clone();
                            let behaviour = behaviour.clone();
                            async move {
                                let n = {
                                    let mut count = requests.lock().unwrap();
                                    *count += 1;
                                    *count
                                };
                                if n <= behaviour.fail_first {
                                    if let Some(delay) = behaviour.delay {
                                        actix_web::rt::time::sleep(delay).await;
                                    }
                                    let mut failure = actix_web::HttpResponse::build(
                                        actix_web::http::StatusCode::from_u16(behaviour.failure)
                                            .unwrap(),
                                    );
                                    if let Some(seconds) = behaviour.retry_after {
                                        failure.insert_header(("Retry-After", seconds.to_string()));
                                    }
                                    return failure.body("not now");
                                }
                                let header = |name: &str| {
                                    request
                                        .headers()
                                        .get(name)
                                        .map(|v| v.to_str().unwrap().to_string())
                                        .unwrap_or_default()
                                };
                                got.lock().unwrap().push(Got {
                                    id: header("webhook-id"),
                                    timestamp: header("webhook-timestamp"),
                                    signature: header("webhook-signature"),
                                    body: serde_json::from_slice(&body).unwrap(),
                                    raw: body.to_vec(),
                                });
                                actix_web::HttpResponse::Ok().body("ok")
                            }
                        },
                    ))
                })
                .workers(2)
                .bind("127.0.0.1:0")
                .unwrap();
                let port = server.addrs()[0].port();
                let server = server.run();
                sender.send((port, server.handle())).unwrap();
                server.await.unwrap();
            });
        });
        let (port, server) = receiver.recv().unwrap();
        Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            got,
            requests,
            server,
        }
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    fn requests(&self) -> usize {
        *self.requests.lock().unwrap()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let server = self.server.clone();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(server.stop(false));
        });
    }
}

/// The service delivering webhooks, with a quick schedule.
fn app_delivering(schedule: &str) -> TestApp {
    let schedule = Schedule::parse(schedule).unwrap();
    TestApp::spawn_with(move |config| {
        config.webhooks = true;
        config.webhook_schedule = schedule;
        config.webhook_timeout = Duration::from_secs(2);
    })
}

/// Creates an endpoint: its id and its secret.
fn endpoint(app: &TestApp, attributes: Value, wallets: &[&str]) -> (String, String) {
    let wallets: Vec<Value> = wallets
        .iter()
        .map(|id| json!({"type": "wallets", "id": id}))
        .collect();
    let reply = app.post(
        "/webhook-endpoints",
        json!({"data": {"type": "webhook-endpoints", "attributes": attributes,
                        "relationships": {"wallets": {"data": wallets}}}}),
    );
    reply.expect(201);
    (
        reply.body["data"]["id"].as_str().unwrap().to_string(),
        reply.body["meta"]["secret"].as_str().unwrap().to_string(),
    )
}

/// A webhook endpoint (disabled: nothing is sent) and a delivery of the latest event in its
/// log, for tests that need one of each: their ids.
pub fn one_webhook_delivery(app: &TestApp) -> (String, String) {
    let (endpoint, _) = endpoint(
        app,
        json!({"url": "https://hooks.example.com/", "status": "disabled"}),
        &[],
    );
    let mut conn = app.db.connect();
    exec(
        &mut conn,
        &format!(
            "INSERT INTO webhook_deliveries (endpoint_id, event_id, wallet_id, event_type, \
                                             next_attempt_at) \
             SELECT {endpoint}, id, wallet_id, event_type, now() \
             FROM events ORDER BY id DESC LIMIT 1"
        ),
    );
    let delivery = scalar(&mut conn, "SELECT max(id) FROM webhook_deliveries");
    (endpoint, delivery)
}

/// A PATCH of endpoint `id` whose resource object has `members` beside its type and id.
fn patch_endpoint(app: &TestApp, id: &str, members: Value) -> Reply {
    let mut data = json!({"type": "webhook-endpoints", "id": id});
    for (name, value) in members.as_object().unwrap() {
        data[name] = value.clone();
    }
    app.patch(&format!("/webhook-endpoints/{id}"), json!({"data": data}))
}

/// Waits until the database records every delivery of endpoint `id` as succeeded (a
/// receiver gets a request before the deliverer records its answer).
fn wait_until_recorded(app: &TestApp, id: &str) {
    let mut conn = app.db.connect();
    wait_for("the deliveries recorded", Duration::from_secs(30), || {
        scalar(
            &mut conn,
            &format!(
                "SELECT count(*) FILTER (WHERE status <> 'succeeded') = 0 AND count(*) > 0 \
                 FROM webhook_deliveries WHERE endpoint_id = {id}"
            ),
        ) == "true"
    });
}

/// Waits until endpoint `id` is disabled: why it is.
fn disabled_reason(app: &TestApp, id: &str) -> String {
    let mut reason = String::new();
    wait_for("the endpoint disabled", Duration::from_secs(30), || {
        let shown = app.get(&format!("/webhook-endpoints/{id}"));
        let attributes = &shown.body["data"]["attributes"];
        reason = attributes["disabledReason"]
            .as_str()
            .unwrap_or("")
            .to_string();
        attributes["status"] == "disabled"
    });
    reason
}

/// The signature of a delivery under `secret`, computed here as the specification says.
fn sign(secret: &str, got: &Got) -> String {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.", got.id, got.timestamp).as_bytes());
    mac.update(&got.raw);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// Waits until `done` holds, or fails saying `what`.
fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The ids of the feed's events (as an admin reads them), in feed order.
fn feed_ids(app: &TestApp) -> Vec<String> {
    let mut ids = Vec::new();
    let mut path = "/events?page[size]=100".to_string();
    loop {
        let page = app.get(&path);
        page.expect(200);
        ids.extend(page.ids());
        match page.body["links"]["next"].as_str() {
            Some(next) => path = next.trim_start_matches(&app.address).to_string(),
            None => return ids,
        }
    }
}

/// Each wallet's walletSequence numbers in the order they arrived.
fn sequences(got: &[Got]) -> BTreeMap<String, Vec<i64>> {
    let mut by_wallet: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for got in got {
        let wallet = got.body["data"]["relationships"]["wallet"]["data"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let sequence = got.body["data"]["attributes"]["walletSequence"]
            .as_i64()
            .unwrap();
        by_wallet.entry(wallet).or_default().push(sequence);
    }
    by_wallet
}

/// Every wallet's events came one after the other, with no gap.
fn assert_in_sequence(got: &[Got]) {
    for (wallet, numbers) in sequences(got) {
        for pair in numbers.windows(2) {
            assert_eq!(
                pair[1],
                pair[0] + 1,
                "wallet {wallet}'s events arrived as {numbers:?}"
            );
        }
    }
}

/// Every wallet's events (of the types an endpoint wants) came in walletSequence order.
fn assert_in_order(got: &[Got]) {
    for (wallet, numbers) in sequences(got) {
        assert!(
            numbers.windows(2).all(|pair| pair[0] < pair[1]),
            "wallet {wallet}'s events arrived as {numbers:?}"
        );
    }
}

#[test]
fn every_event_of_api_and_sql_arrives_once_signed_in_each_wallets_order() {
    let app = app_delivering("0s,100ms,100ms");
    let receiver = Receiver::start(Behaviour::default());
    let (id, secret) = endpoint(&app, json!({"url": receiver.url}), &[]);
    // A mixed workload: the API, psql statements, a bulk insert, a transfer.
    let a = app.create_wallet("a");
    let b = app.create_wallet("b");
    for i in 0..20 {
        app.book(&a, &format!("a{i}"), "10.00").expect(201);
        app.book(&b, &format!("b{i}"), "1.00").expect(201);
    }
    let mut conn = app.db.connect();
    exec(
        &mut conn,
        &format!(
            "INSERT INTO transactions (wallet_id, txid, amount) \
             SELECT {a}, 'bulk' || g, 0.5 FROM generate_series(1, 200) AS g"
        ),
    );
    exec(
        &mut conn,
        &format!("UPDATE wallets SET label = 'renamed' WHERE id = {b}"),
    );
    app.post(
        "/transfers",
        json!({"data": {"type": "transfers", "attributes": {"txid": "t1", "amount": "5.00"},
            "relationships": {
                "source": {"data": {"type": "wallets", "id": a}},
                "destination": {"data": {"type": "wallets", "id": b}}}}}),
    )
    .expect(201);
    // The whole feed, once every event has passed its horizon (other tests' transactions hold
    // it back a while).
    let written: usize = scalar(&mut conn, "SELECT count(*) FROM events")
        .parse()
        .unwrap();
    let mut expected = Vec::new();
    wait_for(
        "the feed to hold every event",
        Duration::from_secs(60),
        || {
            expected = feed_ids(&app);
            expected.len() == written
        },
    );
    assert!(expected.len() > 250, "{} events", expected.len());
    wait_for("every event delivered", Duration::from_secs(60), || {
        receiver.got().len() >= expected.len()
    });
    wait_until_recorded(&app, &id);
    let got = receiver.got();
    // Exactly once each: the same ids as the feed, none twice.
    let ids: Vec<String> = got.iter().map(|g| g.id.clone()).collect();
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "a duplicate arrived");
    assert_eq!(unique, expected.iter().collect::<BTreeSet<_>>());
    assert_in_sequence(&got);
    for got in &got {
        // Signed with the endpoint's secret; the body is the event as GET /events/{id} has it.
        assert_eq!(got.signature, sign(&secret, got));
        let age = chrono::Utc::now().timestamp() - got.timestamp.parse::<i64>().unwrap();
        assert!(
            (0..120).contains(&age),
            "webhook-timestamp {}",
            got.timestamp
        );
        assert_eq!(
            got.body["type"],
            got.body["data"]["attributes"]["eventType"]
        );
        assert_eq!(
            got.body["timestamp"],
            got.body["data"]["attributes"]["occurredAt"]
        );
        assert_eq!(got.body["data"]["type"], "events");
        assert_eq!(got.body["data"]["id"].as_str().unwrap(), got.id);
    }
    let one = &got[got.len() / 2];
    let shown = app.get(&format!("/events/{}", one.id));
    for member in ["type", "id", "attributes"] {
        assert_eq!(one.body["data"][member], shown.body["data"][member]);
    }
    // Both origins came.
    let origins: BTreeSet<&str> = got
        .iter()
        .map(|g| g.body["data"]["attributes"]["origin"].as_str().unwrap())
        .collect();
    assert_eq!(origins, BTreeSet::from(["api", "sql"]));
    // The log: every delivery succeeded at its first attempt.
    let log = app.get("/webhook-deliveries?filter[status]=succeeded&page[size]=1");
    log.expect(200);
    assert_eq!(log.body["data"][0]["attributes"]["attempts"], 1);
    assert_eq!(log.body["data"][0]["attributes"]["responseStatus"], 200);
    assert_eq!(log.body["data"][0]["attributes"]["responseBody"], "ok");
}

#[test]
fn failures_are_retried_with_the_same_id_and_each_wallet_waits_for_its_own() {
    let app = app_delivering("0s,200ms,200ms,200ms,200ms,200ms");
    let receiver = Receiver::start(Behaviour {
        fail_first: 4,
        failure: 503,
        delay: None,
        retry_after: None,
    });
    let wallets: Vec<String> = (0..3)
        .map(|i| app.create_wallet(&format!("w{i}")))
        .collect();
    let (id, secret) = endpoint(
        &app,
        json!({"url": receiver.url, "eventTypes": ["transaction.created"]}),
        &[],
    );
    for i in 0..5 {
        for wallet in &wallets {
            app.book(wallet, &format!("{wallet}-{i}"), "1.00")
                .expect(201);
        }
    }
    wait_for("the 15 bookings delivered", Duration::from_secs(30), || {
        receiver.got().len() >= 15
    });
    let got = receiver.got();
    assert_eq!(got.len(), 15);
    assert!(
        receiver.requests() >= 19,
        "{} requests",
        receiver.requests()
    );
    assert!(got.iter().all(|g| g.body["type"] == "transaction.created"));
    assert_in_order(&got);
    for got in &got {
        assert_eq!(got.signature, sign(&secret, got));
    }
    wait_until_recorded(&app, &id);
    // The retried ones kept their webhook-id: the log holds one delivery per event, some
    // with several attempts and the 503's body.
    let log = app.get(&format!(
        "/webhook-deliveries?filter[endpoint]={id}&page[size]=100"
    ));
    log.expect(200);
    assert_eq!(log.body["data"].as_array().unwrap().len(), 15);
    let attempts: i64 = log.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["attributes"]["attempts"].as_i64().unwrap())
        .sum();
    assert_eq!(attempts as usize, receiver.requests());
    // The metric counts them (at least these: the tests share the process's counters).
    let metric = app.metric(&format!(
        "wallet_api_webhook_deliveries_total{{endpoint=\"{id}\",outcome=\"retried\"}}"
    ));
    assert!(metric >= 4.0, "{metric}");
    let lag = app.metric(&format!(
        "wallet_api_webhook_lag_seconds{{endpoint=\"{id}\"}}"
    ));
    assert_eq!(lag, 0.0);
}

#[test]
fn a_410_disables_the_endpoint_and_nothing_more_is_sent() {
    let app = app_delivering("0s,100ms");
    let receiver = Receiver::start(Behaviour {
        fail_first: usize::MAX,
        failure: 410,
        delay: None,
        retry_after: None,
    });
    let (id, _) = endpoint(&app, json!({"url": receiver.url}), &[]);
    let wallet = app.create_wallet("w");
    let reason = disabled_reason(&app, &id);
    assert!(reason.contains("410"), "{reason}");
    let requests = receiver.requests();
    app.book(&wallet, "after", "1.00").expect(201);
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(receiver.requests(), requests);
    // Re-enabled, it goes on from where it stopped: the pending event first.
    patch_endpoint(&app, &id, json!({"attributes": {"status": "enabled"}})).expect(200);
    wait_for("the endpoint tried again", Duration::from_secs(20), || {
        receiver.requests() > requests
    });
}

#[test]
fn retry_after_is_honoured_and_days_of_failures_disable() {
    let schedule = Schedule::parse("0s,100ms,100ms,100ms,100ms,100ms").unwrap();
    let app = TestApp::spawn_with(move |config| {
        config.webhooks = true;
        config.webhook_schedule = schedule;
        config.webhook_disable_after = Duration::from_secs(3);
    });
    let receiver = Receiver::start(Behaviour {
        fail_first: usize::MAX,
        failure: 503,
        delay: None,
        retry_after: Some(2),
    });
    let (id, _) = endpoint(&app, json!({"url": receiver.url}), &[]);
    app.create_wallet("w");
    wait_for("a second attempt", Duration::from_secs(20), || {
        receiver.requests() >= 2
    });
    // The 503's Retry-After (2 s) outweighs the schedule's 100 ms.
    let mut conn = app.db.connect();
    let waited: f64 = scalar(
        &mut conn,
        &format!(
            "SELECT extract(epoch FROM next_attempt_at - last_attempt_at) \
             FROM webhook_deliveries WHERE endpoint_id = {id}"
        ),
    )
    .parse()
    .unwrap();
    assert!(waited >= 1.9, "waited {waited} s");
    // Nothing but failures for longer than WEBHOOK_DISABLE_AFTER: disabled, saying why.
    let reason = disabled_reason(&app, &id);
    assert!(reason.contains("every attempt failed"), "{reason}");
    // The delivery stays pending: enabled again, the endpoint would go on with it.
    assert_eq!(
        scalar(
            &mut conn,
            &format!("SELECT status FROM webhook_deliveries WHERE endpoint_id = {id}")
        ),
        "pending"
    );
}

#[test]
fn a_receiver_slower_than_the_timeout_is_tried_again() {
    let schedule = Schedule::parse("0s,100ms,100ms").unwrap();
    let app = TestApp::spawn_with(move |config| {
        config.webhooks = true;
        config.webhook_schedule = schedule;
        config.webhook_timeout = Duration::from_millis(300);
    });
    let receiver = Receiver::start(Behaviour {
        fail_first: 1,
        failure: 200,
        delay: Some(Duration::from_secs(1)),
        retry_after: None,
    });
    let (id, _) = endpoint(&app, json!({"url": receiver.url}), &[]);
    app.create_wallet("w");
    wait_until_recorded(&app, &id);
    assert_eq!(receiver.got().len(), 1);
    let log = app.get(&format!("/webhook-deliveries?filter[endpoint]={id}"));
    let delivery = &log.body["data"][0]["attributes"];
    assert_eq!(delivery["status"], "succeeded");
    assert_eq!(delivery["attempts"], 2);
    let mut conn = app.db.connect();
    // The first attempt timed out and was counted as retried.
    assert!(
        app.metric(&format!(
            "wallet_api_webhook_deliveries_total{{endpoint=\"{id}\",outcome=\"retried\"}}"
        )) >= 1.0
    );
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT count(*) FROM webhook_deliveries WHERE status = 'succeeded'"
        ),
        "1"
    );
}

#[test]
fn urls_into_the_service_network_are_refused_unless_allowed() {
    let app = TestApp::spawn_with(|config| {
        config.webhook_allow_private = false;
        config.webhook_allow_http = false;
        config.webhooks = true;
        config.webhook_schedule = Schedule::parse("0s,100ms").unwrap();
    });
    let refused = |url: &str, says: &str| {
        let reply = app.post(
            "/webhook-endpoints",
            json!({"data": {"type": "webhook-endpoints", "attributes": {"url": url}}}),
        );
        reply.expect_error(
            422,
            "url-not-allowed",
            Some(("pointer", "/data/attributes/url")),
        );
        let detail = reply.error()["detail"].as_str().unwrap();
        assert!(detail.contains(says), "{url}: {detail}");
    };
    refused("http://example.com/hook", "https");
    refused(
        "https://169.254.169.254/latest/meta-data/",
        "169.254.169.254",
    );
    refused("https://127.0.0.1:8443/", "own network");
    refused("https://[::1]/", "own network");
    refused("https://10.0.0.8/", "own network");
    refused("https://localhost/hook", "own network");
    refused("https://[::ffff:192.168.0.1]/", "own network");
    // Syntax: a 422 of its own.
    let reply = app.post(
        "/webhook-endpoints",
        json!({"data": {"type": "webhook-endpoints", "attributes": {"url": "ftp://x.example/"}}}),
    );
    assert_eq!(reply.status, 422, "{}", reply.body);
    // An endpoint written behind the API's back (in SQL) is refused at delivery time.
    let receiver = Receiver::start(Behaviour::default());
    let mut conn = app.db.connect();
    exec(
        &mut conn,
        &format!(
            "INSERT INTO webhook_endpoints (url, secret, queued_position, queued_id) \
             VALUES ('{}', 'whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 0, 0)",
            receiver
                .url
                .replace("http://127.0.0.1", "https://127.0.0.1")
        ),
    );
    let id = scalar(&mut conn, "SELECT max(id) FROM webhook_endpoints");
    app.create_wallet("w");
    wait_for("the delivery refused", Duration::from_secs(20), || {
        scalar(
            &mut conn,
            &format!(
                "SELECT count(*) FROM webhook_deliveries \
                 WHERE endpoint_id = {id} AND error LIKE 'refused%'"
            ),
        ) != "0"
    });
    assert_eq!(receiver.requests(), 0);
}

#[test]
fn a_rotated_secret_signs_beside_the_new_one() {
    let app = app_delivering("0s,100ms");
    let receiver = Receiver::start(Behaviour::default());
    let (id, old) = endpoint(&app, json!({"url": receiver.url}), &[]);
    let rotated = patch_endpoint(&app, &id, json!({"meta": {"rotateSecret": true}}));
    rotated.expect(200);
    let new = rotated.body["meta"]["secret"].as_str().unwrap().to_string();
    assert!(new.starts_with("whsec_") && new != old);
    // Shown once: a read does not show it.
    let shown = app.get(&format!("/webhook-endpoints/{id}"));
    assert!(!shown.text.contains(&new) && !shown.text.contains(&old));
    app.create_wallet("w");
    wait_for("the event delivered", Duration::from_secs(20), || {
        !receiver.got().is_empty()
    });
    let got = &receiver.got()[0];
    let signatures: Vec<&str> = got.signature.split(' ').collect();
    assert_eq!(signatures, [sign(&new, got), sign(&old, got)]);
    // A rotateSecret that is no boolean: a 400 pointing at it.
    patch_endpoint(&app, &id, json!({"meta": {"rotateSecret": "yes"}})).expect_error(
        400,
        "invalid-document",
        Some(("pointer", "/data/meta/rotateSecret")),
    );
}

#[test]
fn an_endpoint_gets_only_its_wallets_and_types_and_replays_from_an_event() {
    let app = app_delivering("0s,100ms");
    let receiver = Receiver::start(Behaviour::default());
    let a = app.create_wallet("a");
    let b = app.create_wallet("b");
    let (id, _) = endpoint(
        &app,
        json!({"url": receiver.url, "eventTypes": ["balance.changed"]}),
        &[&a],
    );
    for i in 0..3 {
        app.book(&a, &format!("a{i}"), "1.00").expect(201);
        app.book(&b, &format!("b{i}"), "1.00").expect(201);
    }
    wait_for("a's three balance changes", Duration::from_secs(20), || {
        receiver.got().len() >= 3
    });
    std::thread::sleep(Duration::from_millis(300));
    let got = receiver.got();
    assert_eq!(got.len(), 3);
    for got in &got {
        assert_eq!(got.body["type"], "balance.changed");
        assert_eq!(
            got.body["data"]["relationships"]["wallet"]["data"]["id"],
            a.as_str()
        );
    }
    // Replay from the first: the three again, with the same webhook-ids.
    let first = got[0].id.clone();
    let replayed = patch_endpoint(&app, &id, json!({"attributes": {"replayFrom": first}}));
    replayed.expect(200);
    assert_eq!(
        replayed.body["data"]["attributes"]["replayFrom"],
        first.as_str()
    );
    wait_for("the replay", Duration::from_secs(20), || {
        receiver.got().len() >= 6
    });
    let again: Vec<String> = receiver.got()[3..].iter().map(|g| g.id.clone()).collect();
    let before: Vec<String> = got.iter().map(|g| g.id.clone()).collect();
    assert_eq!(again, before);
    // An event the feed does not hold: 422.
    patch_endpoint(
        &app,
        &id,
        json!({"attributes": {"replayFrom": "999999999"}}),
    )
    .expect_error(
        422,
        "replay-event-not-found",
        Some(("pointer", "/data/attributes/replayFrom")),
    );
}

#[test]
fn only_admin_keys_manage_endpoints_and_read_deliveries() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("w");
    let (_, writer) = app.new_key("writer", &["write"], &[]);
    let (_, limited) = app.new_key("limited", &["write"], &[&wallet]);
    for key in [&writer, &limited] {
        let client = app.as_key(Some(key));
        client
            .post(
                "/webhook-endpoints",
                json!({"data": {"type": "webhook-endpoints",
                                "attributes": {"url": "https://hooks.example.com/"}}}),
            )
            .expect(403);
        client.get("/webhook-endpoints").expect(403);
        client.get("/webhook-deliveries").expect(403);
    }
    // Not in atomic operations (the secret is shown by its own POST only).
    let reply = app.operations(json!([{"op": "add", "data": {
        "type": "webhook-endpoints", "attributes": {"url": "https://hooks.example.com/"}}}]));
    assert_eq!(reply.status, 403, "{}", reply.body);
}

#[test]
fn two_instances_deliver_each_endpoint_once() {
    let app = app_delivering("0s,100ms");
    let beside = TestApp::spawn_beside_with(&app, |config| {
        config.webhooks = true;
        config.webhook_schedule = Schedule::parse("0s,100ms").unwrap();
    });
    let receivers: Vec<Receiver> = (0..3)
        .map(|_| Receiver::start(Behaviour::default()))
        .collect();
    for receiver in &receivers {
        endpoint(
            &app,
            json!({"url": receiver.url, "eventTypes": ["transaction.created"]}),
            &[],
        );
    }
    let wallets: Vec<String> = (0..4)
        .map(|i| app.create_wallet(&format!("w{i}")))
        .collect();
    for i in 0..10 {
        for (n, wallet) in wallets.iter().enumerate() {
            let server = if n % 2 == 0 { &app } else { &beside };
            server
                .book(wallet, &format!("{wallet}-{i}"), "1.00")
                .expect(201);
        }
    }
    for receiver in &receivers {
        wait_for(
            "40 bookings at each endpoint",
            Duration::from_secs(30),
            || receiver.got().len() >= 40,
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    for receiver in &receivers {
        let got = receiver.got();
        assert_eq!(got.len(), 40, "each event once");
        assert_in_order(&got);
    }
    // Each endpoint's lock is held by one session.
    let mut conn = app.db.connect();
    let holders = scalar(
        &mut conn,
        "SELECT count(*) FROM pg_locks AS l JOIN webhook_endpoints AS e \
           ON l.locktype = 'advisory' AND l.granted \
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
          AND ((l.classid::bigint << 32) | l.objid::bigint) = webhook_lock(e.id)",
    );
    assert_eq!(holders, "3");
    drop(beside);
}

#[test]
fn a_killed_service_loses_no_delivery() {
    let db = TestDb::new();
    let mut owner = db.connect();
    let (_, admin) = create_key(&mut owner, "admin", &["admin"], &[]);
    let receiver = Receiver::start(Behaviour::default());
    let start = |port: u16| {
        std::process::Command::new(env!("CARGO_BIN_EXE_wallet-api"))
            .arg("serve")
            .env("DATABASE_URL", &db.service_url)
            .env("MIGRATION_DATABASE_URL", &db.url)
            .env("PORT", port.to_string())
            .env("WEBHOOK_ALLOW_PRIVATE", "on")
            .env("WEBHOOK_ALLOW_HTTP", "on")
            .env("WEBHOOK_SCHEDULE", "0s,100ms,100ms")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::blocking::Client::new();
    let mut server = start(port);
    wait_for("the server", Duration::from_secs(20), || {
        client.get(format!("{base}/health")).send().is_ok()
    });
    let created: Value = client
        .post(format!("{base}/webhook-endpoints"))
        .bearer_auth(&admin)
        .header("Content-Type", JSONAPI)
        .body(
            json!({"data": {"type": "webhook-endpoints", "attributes": {"url": receiver.url}}})
                .to_string(),
        )
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(created["meta"]["secret"].is_string(), "{created}");
    // Events keep coming (in SQL, beside the service) while it is killed mid-delivery.
    let wallet = wallet(&mut owner, "w");
    for round in 0..3 {
        exec(
            &mut owner,
            &format!(
                "INSERT INTO transactions (wallet_id, txid, amount) \
                 SELECT {wallet}, 'r{round}-' || g, 1 FROM generate_series(1, 300) AS g"
            ),
        );
        wait_for("some deliveries", Duration::from_secs(20), || {
            !receiver.got().is_empty()
        });
        server.kill().unwrap();
        server.wait().unwrap();
        server = start(port);
        wait_for("the server again", Duration::from_secs(20), || {
            client.get(format!("{base}/health")).send().is_ok()
        });
    }
    let events: i64 = scalar(&mut owner, "SELECT count(*) FROM events")
        .parse()
        .unwrap();
    let wallet_events = events as usize;
    wait_for("every event delivered", Duration::from_secs(60), || {
        receiver
            .got()
            .iter()
            .map(|g| g.id.clone())
            .collect::<BTreeSet<_>>()
            .len()
            >= wallet_events
    });
    let got = receiver.got();
    let unique: BTreeSet<String> = got.iter().map(|g| g.id.clone()).collect();
    assert_eq!(unique.len(), wallet_events, "every event, once at least");
    // Redeliveries (a 2xx cut off from its record) are allowed: counted, and in order all
    // the same for each wallet's first copies.
    let duplicates = got.len() - unique.len();
    eprintln!(
        "{} deliveries, {duplicates} sent again after a kill",
        got.len()
    );
    let mut seen = BTreeSet::new();
    let firsts: Vec<Got> = got
        .into_iter()
        .filter(|g| seen.insert(g.id.clone()))
        .collect();
    assert_in_sequence(&firsts);
    assert_eq!(
        scalar(
            &mut owner,
            "SELECT count(*) FROM webhook_deliveries WHERE status <> 'succeeded'"
        ),
        "0"
    );
    server.kill().unwrap();
    server.wait().unwrap();
}
