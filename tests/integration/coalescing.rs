//! Creates that arrive together are run together (`api::write::batch`): each request still gets
//! the answer it would have had alone, and nothing a request was told is lost.

use serde_json::json;

use crate::helpers::*;

pub fn coalescing_app() -> TestApp {
    TestApp::spawn_with(|config| {
        config.coalesce = true;
        config.limits.lock_timeout = std::time::Duration::from_secs(10);
        // The requests pile up on purpose: none is to be shed.
        config.limits.acquire_timeout = std::time::Duration::from_secs(10);
        config.limits.max_waiting = Some(64);
    })
}

#[test]
fn requests_booked_together_each_get_their_own_answer() {
    let app = coalescing_app();
    let wallet = app.create_wallet("hot");
    let other = app.create_wallet("other");
    app.book(&wallet, "fund", "10").expect(201);
    let lock = RowLock::wallet(&app, &wallet);
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(500));
        drop(lock);
    });
    // 20 withdrawals of 1 from 10, the same txid five times, one unknown wallet, and
    // deposits elsewhere: all sent while the wallet is locked, so that they wait together.
    let replies = all_at_once(
        32,
        |n| match n {
            0..20 => transaction_document(&wallet, &format!("w{n}"), "-1"),
            20..25 => transaction_document(&wallet, "same", "1"),
            25 => transaction_document("999999", "nowhere", "1"),
            _ => transaction_document(&other, &format!("d{n}"), "2"),
        },
        |_, document| app.post("/transactions", document),
    );
    release.join().unwrap();
    let status = |range: std::ops::Range<usize>, status: u16| {
        replies[range].iter().filter(|r| r.status == status).count()
    };
    let same: Vec<_> = replies[20..25].iter().map(|r| r.text.clone()).collect();
    assert_eq!(status(20..25, 201), 1, "one booking of the txid: {same:#?}");
    for reply in replies[20..25].iter().filter(|r| r.status != 201) {
        reply.expect_error(409, "duplicate-txid", None);
        let booked = replies[20..25].iter().find(|r| r.status == 201).unwrap();
        assert_eq!(
            reply.body["errors"][0]["meta"]["existing"]["id"],
            booked.body["data"]["id"]
        );
    }
    // 10 funds, plus 1 from the deposit "same" (whenever it ran): 10 or 11 withdrawals.
    let withdrawn = status(0..20, 201);
    assert!((10..=11).contains(&withdrawn), "{withdrawn} withdrawals");
    for reply in replies[0..20].iter().filter(|r| r.status != 201) {
        reply.expect_error(
            409,
            "insufficient-funds",
            Some(("pointer", "/data/attributes/amount")),
        );
    }
    replies[25].expect_error(404, "wallet-not-found", None);
    assert!(replies[26..].iter().all(|r| r.status == 201));
    assert_eq!(
        app.balance(&wallet),
        format!("{}.000000000000000000", 11 - withdrawn)
    );
    assert_eq!(app.balance(&other), "12.000000000000000000");

    // Every booking has its own journal row, naming its transaction.
    let mut conn = app.db.connect();
    let journal_rows = scalar(
        &mut conn,
        &format!(
            "SELECT count(*) FROM balance_changes WHERE wallet_id = {wallet} \
             AND transaction_id IS NOT NULL AND operation = 'insert'"
        ),
    );
    assert_eq!(journal_rows, (1 + withdrawn + 1).to_string());
    // The waiting requests were run together, several to a database transaction.
    assert!(booked_together(&app) > 1);
    let metrics = app.raw_get("/metrics").2;
    assert!(
        metrics.contains("wallet_api_coalesced_batch_size_bucket"),
        "{metrics}"
    );
}

#[test]
fn a_batch_whose_connection_is_killed_is_run_again_and_nothing_told_is_lost() {
    let app = coalescing_app();
    let wallet = app.create_wallet("w");
    killed_while_waiting(&app, std::slice::from_ref(&wallet));
}

#[test]
fn a_wave_whose_connection_is_killed_is_run_again_and_nothing_told_is_lost() {
    let app = coalescing_app();
    // The first wallet is locked: the waves that book to it wait, and are killed waiting.
    let wallets: Vec<String> = (0..6)
        .map(|n| app.create_wallet(&format!("w{n}")))
        .collect();
    killed_while_waiting(&app, &wallets);
    assert!(
        app.metric("wallet_api_coalesced_wave_total{kind=\"written\"}") > 0.0,
        "no wave was written"
    );
}

/// 12 bookings over `wallets` while the first is locked; the service's connections that
/// wait on the lock are killed, then the lock goes: every booking acknowledged is stored,
/// and every other one is answered `outcome-unknown`.
fn killed_while_waiting(app: &TestApp, wallets: &[String]) {
    let wallet = &wallets[0];
    let lock = RowLock::wallet(app, wallet);
    let replies = std::thread::scope(|scope| {
        let sent: Vec<_> = (0..12)
            .map(|n| {
                let target = &wallets[n % wallets.len()];
                scope.spawn(move || app.book(target, &format!("t{n}"), "1"))
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(700));
        // Kill the service's connections that wait on the lock: the lone booking's and the
        // batch's.
        exec(
            &mut app.db.connect(),
            &format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = '{}' AND application_name = 'wallet-api' \
                 AND wait_event_type = 'Lock'",
                app.db.name
            ),
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
        drop(lock);
        sent.into_iter()
            .map(|s| s.join().unwrap())
            .collect::<Vec<Reply>>()
    });
    let mut conn = app.db.connect();
    let mut booked = 0;
    for (n, reply) in replies.iter().enumerate() {
        let stored = scalar(
            &mut conn,
            &format!("SELECT count(*) FROM transactions WHERE txid = 't{n}'"),
        );
        match reply.status {
            201 => {
                assert_eq!(stored, "1", "t{n} was acknowledged and lost");
                booked += 1;
            }
            // A booking that ran alone, in autocommit: nobody can know.
            _ => {
                reply.expect_error(503, "outcome-unknown", None);
            }
        }
    }
    // The killed batches never committed: they were run again, on a live connection. Only a
    // booking that ran alone (in autocommit, as without coalescing) cannot know.
    assert!(
        booked >= 1,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for wallet in wallets {
        let total = scalar(
            &mut conn,
            &format!("SELECT count(*) FROM transactions WHERE wallet_id = {wallet}"),
        );
        assert_eq!(app.balance(wallet), format!("{total}.000000000000000000"));
    }
    crate::journal::assert_running_totals(&mut conn);
}

#[test]
fn coalescing_can_be_switched_off() {
    let app = TestApp::spawn_with(|config| {
        config.coalesce = false;
        config.limits.lock_timeout = std::time::Duration::from_secs(10);
    });
    let wallet = app.create_wallet("w");
    let lock = RowLock::wallet(&app, &wallet);
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(500));
        drop(lock);
    });
    let replies = all_at_once(
        8,
        |n| transaction_document(&wallet, &format!("t{n}"), "1"),
        |_, document| app.post("/transactions", document),
    );
    release.join().unwrap();
    assert!(replies.iter().all(|r| r.status == 201));
    assert_eq!(booked_together(&app), 0, "each booking committed alone");
}

/// Coalescing with one runner: while it waits on a locked wallet, every other booking queues
/// behind it, and the next run takes them all, as one batch.
fn one_runner_app(lock_timeout: std::time::Duration) -> TestApp {
    TestApp::spawn_with(|config| {
        config.coalesce = true;
        config.coalesce_runners = Some(1);
        config.limits.lock_timeout = lock_timeout;
        config.limits.acquire_timeout = std::time::Duration::from_secs(10);
        config.limits.max_waiting = Some(128);
    })
}

/// How many database transactions wrote the journal rows of the transactions `condition`
/// (SQL on `t`) picks.
fn database_transactions(conn: &mut diesel::PgConnection, condition: &str) -> usize {
    scalar(
        conn,
        &format!(
            "SELECT count(DISTINCT b.database_xid) FROM balance_changes AS b \
             JOIN transactions AS t ON t.id = b.transaction_id WHERE {condition}"
        ),
    )
    .parse()
    .unwrap()
}

/// A counter of `/metrics`, 0 when it has no sample yet.
#[test]
fn a_batch_runs_at_most_twice_however_many_of_its_writes_fail() {
    let app = one_runner_app(std::time::Duration::from_secs(10));
    let funded = app.create_wallet("funded");
    app.book(&funded, "fund", "100").expect(201);
    // 62 bookings to one wallet, so 62 waves of one, each the booking's own statement: a
    // taken txid and an overdraft among them fail the batch's first run, which then runs
    // once more, each booking in a savepoint. The unknown wallet beside them is answered
    // before the waves.
    let replies = one_batch(
        &app,
        (0..63)
            .map(|n| match n {
                0 => transaction_document(&funded, "fund", "1"),
                1 => transaction_document("999999", "nowhere", "1"),
                2 => transaction_document(&funded, "overdraft", "-1000"),
                _ => transaction_document(&funded, &format!("good-{n}"), "-1"),
            })
            .collect(),
    );
    replies[0].expect_error(409, "duplicate-txid", None);
    replies[1].expect_error(404, "wallet-not-found", None);
    replies[2].expect_error(
        409,
        "insufficient-funds",
        Some(("pointer", "/data/attributes/amount")),
    );
    for reply in &replies[3..] {
        reply.expect(201);
    }
    assert_eq!(app.balance(&funded), "40.000000000000000000");
    // The 63 ran as one batch (its 60 bookings share one database transaction), and it ran
    // twice: together (a write failed, nothing kept), then guarded.
    let mut conn = app.db.connect();
    assert_eq!(database_transactions(&mut conn, "t.txid LIKE 'good-%'"), 1);
    let runs = |how: &str| batch_runs(&app, how);
    assert_eq!((runs("together"), runs("guarded")), (1.0, 1.0));
    assert_eq!(
        scalar(
            &mut conn,
            &format!(
                "SELECT count(*) FROM balance_changes WHERE wallet_id = {funded} \
                 AND operation = 'insert' AND transaction_id IS NOT NULL"
            )
        ),
        "61"
    );
    crate::journal::assert_running_totals(&mut conn);
}

#[test]
fn a_write_that_times_out_on_a_locked_wallet_fails_alone() {
    let app = one_runner_app(std::time::Duration::from_millis(300));
    let locked = app.create_wallet("locked");
    let hot = app.create_wallet("hot");
    let free = app.create_wallet("free");
    // The first booking to `hot` waits on its lock while the others queue; then `locked`
    // stays locked: its bookings in the batch time out, the others are written.
    let hold_hot = RowLock::wallet(&app, &hot);
    let hold_locked = RowLock::wallet(&app, &locked);
    let replies = std::thread::scope(|scope| {
        let first = scope.spawn(|| app.book(&hot, "first", "1"));
        std::thread::sleep(std::time::Duration::from_millis(100));
        let sent = scope.spawn(|| {
            all_at_once(
                20,
                |n| match n {
                    0..3 => transaction_document(&locked, &format!("l{n}"), "1"),
                    _ => transaction_document(&free, &format!("f{n}"), "1"),
                },
                |_, document| app.post("/transactions", document),
            )
        });
        std::thread::sleep(std::time::Duration::from_millis(150));
        drop(hold_hot);
        let first = first.join().unwrap();
        (first, sent.join().unwrap())
    });
    drop(hold_locked);
    // `first` met the lock timeout or was let through in time: either way it is answered.
    assert!(
        matches!(replies.0.status, 201 | 503),
        "{}",
        replies.0.status
    );
    for reply in &replies.1[0..3] {
        assert_eq!(reply.status, 503, "{}", reply.text);
    }
    for reply in &replies.1[3..] {
        reply.expect(201);
    }
    assert_eq!(app.balance(&free), "17.000000000000000000");
    assert_eq!(app.balance(&locked), "0.000000000000000000");
}

#[test]
fn keyed_bookings_are_coalesced_with_their_claims_and_stored_responses() {
    let app = coalescing_app();
    let wallet = app.create_wallet("keyed");
    app.book(&wallet, "fund", "5").expect(201);
    let keyed = |n: usize| {
        let key = format!("key-{}", n % 10);
        let document = transaction_document(&wallet, &format!("k{}", n % 10), "-1");
        app.send(
            "POST",
            "/transactions",
            &[("Content-Type", JSONAPI), ("Idempotency-Key", &key)],
            Some(document.to_string()),
        )
    };
    let lock = RowLock::wallet(&app, &wallet);
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(500));
        drop(lock);
    });
    // 10 keys, two requests each (the same request twice), debits of 1 from 5.
    let replies = all_at_once(20, |n| n, |_, n| keyed(n));
    release.join().unwrap();
    assert!(
        booked_together(&app) > 1,
        "keyed bookings were not coalesced"
    );
    for key in 0..10 {
        let (first, second) = (&replies[key], &replies[key + 10]);
        for reply in [first, second] {
            assert!(
                matches!(reply.status, 201 | 409),
                "{}: {}",
                reply.status,
                reply.text
            );
        }
        // Whatever each got, a retry now gets the stored answer of the one that ran.
        let retried = keyed(key);
        assert_eq!(
            retried.header("idempotent-replayed"),
            Some("true"),
            "{}",
            retried.text
        );
        if retried.status == 201 {
            let booked = retried.body["data"]["id"].clone();
            for reply in [first, second].iter().filter(|r| r.status == 201) {
                assert_eq!(reply.body["data"]["id"], booked);
            }
        } else {
            retried.expect_error(409, "insufficient-funds", None);
        }
    }
    // Five debits of 1 could be paid: exactly five keys booked one each.
    let booked = (0..10).filter(|&key| keyed(key).status == 201).count();
    assert_eq!(booked, 5);
    assert_eq!(app.balance(&wallet), "0.000000000000000000");
}

/// `documents`, sent while a first booking (to a wallet of its own, locked) holds the one
/// runner: they queue behind it and run as one batch once the lock goes.
fn one_batch(app: &TestApp, documents: Vec<serde_json::Value>) -> Vec<Reply> {
    one_keyed_batch(
        app,
        documents
            .into_iter()
            .map(|document| (document, None))
            .collect(),
    )
}

/// [`one_batch`], each booking with its `Idempotency-Key` if it has one.
fn one_keyed_batch(app: &TestApp, documents: Vec<(serde_json::Value, Option<&str>)>) -> Vec<Reply> {
    one_batch_of(app, documents.len(), |n| {
        let (document, key) = &documents[n];
        keyed_post(app, document, *key)
    })
}

/// `count` requests (`send(n)` sends the n-th), sent while a first booking (to a wallet of
/// its own, locked) holds the one runner: they queue behind it and run as one batch.
fn one_batch_of(app: &TestApp, count: usize, send: impl Fn(usize) -> Reply + Sync) -> Vec<Reply> {
    let blocker = app.create_wallet("blocker");
    let lock = RowLock::wallet(app, &blocker);
    std::thread::scope(|scope| {
        let first = scope.spawn(|| app.book(&blocker, &format!("first-{blocker}"), "1"));
        std::thread::sleep(std::time::Duration::from_millis(300));
        let send = &send;
        let sent = scope.spawn(move || all_at_once(count, |n| n, |_, n| send(n)));
        std::thread::sleep(std::time::Duration::from_millis(500));
        drop(lock);
        first.join().unwrap().expect(201);
        sent.join().unwrap()
    })
}

/// How many runs of coalesced writes `/metrics` counts of kind `how` (together, guarded,
/// alone).
fn batch_runs(app: &TestApp, how: &str) -> f64 {
    app.metric(&format!(
        "wallet_api_coalesced_batch_runs_total{{how=\"{how}\"}}"
    ))
}

fn wave_counter(app: &TestApp, kind: &str) -> f64 {
    app.metric(&format!(
        "wallet_api_coalesced_wave_total{{kind=\"{kind}\"}}"
    ))
}

#[test]
fn a_wave_answers_each_booking_as_alone_and_splits_only_around_a_refusal() {
    let app = one_runner_app(std::time::Duration::from_secs(10));
    let wallets: Vec<String> = (0..58)
        .map(|n| app.create_wallet(&format!("w{n}")))
        .collect();
    let empty = app.create_wallet("empty");
    app.book(&wallets[0], "taken", "1").expect(201);
    // 60 good bookings (wallets 0 and 1 twice), a taken txid, an unknown wallet and an
    // overdraft, in one batch: two waves, the first of 60 statements' worth.
    let mut documents: Vec<_> = (0..60)
        .map(|n| transaction_document(&wallets[n % 58], &format!("good-{n}"), "2"))
        .collect();
    documents.push(transaction_document(&wallets[5], "taken", "1"));
    documents.push(transaction_document("999999", "nowhere", "1"));
    documents.push(transaction_document(&empty, "overdraft", "-1"));
    let replies = one_batch(&app, documents);
    for reply in &replies[..60] {
        reply.expect(201);
    }
    replies[60].expect_error(409, "duplicate-txid", None);
    assert!(replies[60].body["errors"][0]["meta"]["existing"]["id"].is_string());
    replies[61].expect_error(404, "wallet-not-found", None);
    replies[62].expect_error(
        409,
        "insufficient-funds",
        Some(("pointer", "/data/attributes/amount")),
    );
    assert_eq!(app.balance(&wallets[0]), "5.000000000000000000");
    assert_eq!(app.balance(&wallets[1]), "4.000000000000000000");
    assert_eq!(app.balance(&wallets[5]), "2.000000000000000000");
    assert_eq!(app.balance(&empty), "0.000000000000000000");

    // One database transaction, run once: one statement locked its wallets, the first wave
    // (58 good, the overdraft, maybe the taken txid) was split only on the way to the
    // overdraft, at most log2(60) times, and the good bookings were written by wave
    // statements (but for a lone half or two on the way).
    let mut conn = app.db.connect();
    assert_eq!(database_transactions(&mut conn, "t.txid LIKE 'good-%'"), 1);
    let runs = |how: &str| batch_runs(&app, how);
    assert_eq!((runs("together"), runs("guarded")), (1.0, 0.0));
    let bisections = wave_counter(&app, "bisections");
    assert!((1.0..=6.0).contains(&bisections), "{bisections} bisections");
    // Each split sends at most two statements (a half of one booking runs its own work).
    let statements = wave_counter(&app, "statements");
    assert!(
        statements <= 2.0 + 2.0 * bisections,
        "{statements} statements"
    );
    let written = wave_counter(&app, "written");
    assert!(
        (60.0 - bisections..=60.0).contains(&written),
        "{written} written"
    );
    assert_eq!(wave_counter(&app, "locks"), 1.0);
    // Wallets 0 and 1 were booked in two waves: a journal row per booking, each naming it.
    for wallet in &wallets[..2] {
        assert_eq!(
            scalar(
                &mut conn,
                &format!(
                    "SELECT count(*) FROM balance_changes AS b JOIN transactions AS t \
                     ON t.id = b.transaction_id WHERE b.wallet_id = {wallet} \
                     AND t.txid LIKE 'good-%' AND b.operation = 'insert'"
                )
            ),
            "2"
        );
    }
    crate::journal::assert_running_totals(&mut conn);
}

#[test]
fn an_unknown_wallet_in_a_single_wave_is_found_by_splitting_it() {
    let app = one_runner_app(std::time::Duration::from_secs(10));
    let wallets: Vec<String> = (0..31)
        .map(|n| app.create_wallet(&format!("w{n}")))
        .collect();
    let mut documents: Vec<_> = wallets
        .iter()
        .enumerate()
        .map(|(n, wallet)| transaction_document(wallet, &format!("spread-{n}"), "1"))
        .collect();
    documents.insert(17, transaction_document("999999", "nowhere", "1"));
    let replies = one_batch(&app, documents);
    replies[17].expect_error(404, "wallet-not-found", None);
    let booked = replies.iter().filter(|reply| reply.status == 201).count();
    assert_eq!(booked, 31);
    // No statement locked the wallets first (one wave, nothing else): the foreign key
    // refused the wave, and splitting found the one booking it refused.
    assert_eq!(wave_counter(&app, "locks"), 0.0);
    let bisections = wave_counter(&app, "bisections");
    assert!((1.0..=5.0).contains(&bisections), "{bisections} bisections");
    let written = wave_counter(&app, "written");
    assert!(
        (31.0 - bisections..=31.0).contains(&written),
        "{written} written"
    );
    let mut conn = app.db.connect();
    crate::journal::assert_running_totals(&mut conn);
}

#[test]
fn a_wallet_locked_in_psql_holds_up_only_its_own_bookings() {
    let lock_timeout = std::time::Duration::from_millis(300);
    let acquire_timeout = std::time::Duration::from_secs(1);
    let app = TestApp::spawn_with(|config| {
        config.coalesce = true;
        config.limits.lock_timeout = lock_timeout;
        config.limits.acquire_timeout = acquire_timeout;
    });
    let locked = app.create_wallet("locked");
    let others: Vec<String> = (0..20)
        .map(|n| app.create_wallet(&format!("o{n}")))
        .collect();
    // An idle psql transaction holds the wallet's row for 3 s while 8 clients book: 6 to
    // it, 2 to the others.
    let lock = RowLock::wallet(&app, &locked);
    let held_until = std::time::Instant::now() + std::time::Duration::from_secs(3);
    let answers = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for client in 0..8 {
            let (app, answers, others, locked) = (&app, &answers, &others, &locked);
            scope.spawn(move || {
                let mut n = 0;
                while std::time::Instant::now() < held_until {
                    n += 1;
                    let wallet = if client < 6 { locked } else { &others[n % 20] };
                    let sent = std::time::Instant::now();
                    let reply = app.book(wallet, &format!("c{client}-{n}"), "1");
                    let took = sent.elapsed();
                    answers.lock().unwrap().push((client < 6, reply, took));
                }
            });
        }
    });
    drop(lock);
    let answers = answers.into_inner().unwrap();
    // The documented bound of a booking: its wait for a connection, and at most two waits
    // for a lock (its batch's, and once more alone).
    let bound = acquire_timeout + 2 * lock_timeout;
    let slack = std::time::Duration::from_millis(500);
    for (to_locked, reply, took) in &answers {
        assert!(
            *took <= bound + slack,
            "answered after {took:?}: {}",
            reply.text
        );
        if *to_locked {
            assert!(matches!(reply.status, 201 | 503), "{}", reply.text);
            if reply.status == 503 {
                reply.expect_error(503, "database-timeout", None);
            }
        } else {
            reply.expect(201);
        }
    }
    // The other wallets' bookings went on: far more than one per lock wait each.
    let elsewhere = answers.iter().filter(|(to_locked, ..)| !to_locked).count();
    let one_per_wait = 2 * (3000 / lock_timeout.as_millis() as usize);
    assert!(
        elsewhere > 3 * one_per_wait,
        "{elsewhere} bookings to other wallets in 3 s"
    );
    let mut conn = app.db.connect();
    crate::journal::assert_running_totals(&mut conn);
}

#[test]
fn reads_by_id_that_wait_together_are_answered_by_one_query_each_with_its_own_row() {
    let app = TestApp::spawn_with(|config| {
        config.coalesce_reads = true;
        config.limits.acquire_timeout = std::time::Duration::from_secs(10);
        config.limits.lock_timeout = std::time::Duration::from_secs(10);
        config.limits.max_waiting = Some(128);
    });
    let wallets: Vec<String> = (0..8)
        .map(|n| app.create_wallet(&format!("r{n}")))
        .collect();
    let booked: Vec<String> = wallets
        .iter()
        .enumerate()
        .map(|(n, wallet)| {
            let reply = app.book(wallet, &format!("read-{n}"), &format!("{}", n + 1));
            reply.expect(201);
            reply.body["data"]["id"].as_str().unwrap().to_owned()
        })
        .collect();
    // While psql holds the tables, every read that gets a connection waits on the lock and
    // the others queue behind: once it goes, they are answered by a few queries.
    let mut conn = app.db.connect();
    exec(
        &mut conn,
        "BEGIN; LOCK TABLE wallets, transactions IN ACCESS EXCLUSIVE MODE",
    );
    let replies = std::thread::scope(|scope| {
        let sent = scope.spawn(|| {
            all_at_once(
                60,
                |n| match n % 4 {
                    0 => format!("/wallets/{}", wallets[n % 8]),
                    1 => format!("/transactions/{}", booked[n % 8]),
                    2 => "/wallets/999999".to_owned(),
                    _ => format!("/wallets/{}", wallets[0]),
                },
                |_, path| (path.clone(), app.get(&path)),
            )
        });
        std::thread::sleep(std::time::Duration::from_millis(500));
        exec(&mut conn, "COMMIT");
        sent.join().unwrap()
    });
    for (path, reply) in &replies {
        if path == "/wallets/999999" {
            reply.expect_error(404, "wallet-not-found", None);
            continue;
        }
        reply.expect(200);
        assert!(
            reply.body["data"]["links"]["self"]
                .as_str()
                .unwrap()
                .ends_with(path)
        );
        let id = path.rsplit('/').next().unwrap();
        assert_eq!(
            reply.body["data"]["id"], id,
            "{path} answered with another row"
        );
        if let Some(n) = wallets.iter().position(|wallet| wallet == id)
            && path.starts_with("/wallets/")
        {
            assert_eq!(
                reply.body["data"]["attributes"]["balance"],
                format!("{}.000000000000000000", n + 1)
            );
        }
    }
    let queries = app.metric("wallet_api_coalesced_read_queries_total{resource=\"wallets\"}")
        + app.metric("wallet_api_coalesced_read_queries_total{resource=\"transactions\"}");
    let answered = app.metric("wallet_api_coalesced_reads_total{resource=\"wallets\"}")
        + app.metric("wallet_api_coalesced_reads_total{resource=\"transactions\"}");
    // The 60 reads (the set-up read nothing by id), by far fewer queries.
    assert!(answered >= 60.0, "{answered} reads answered");
    assert!(
        queries <= answered - 40.0,
        "{queries} queries for {answered} reads"
    );
}

fn keyed_post(app: &TestApp, document: &serde_json::Value, key: Option<&str>) -> Reply {
    let mut headers = vec![("Content-Type", JSONAPI)];
    headers.extend(key.map(|key| ("Idempotency-Key", key)));
    app.send(
        "POST",
        "/transactions",
        &headers,
        Some(document.to_string()),
    )
}

#[test]
fn keyed_bookings_share_waves_and_each_key_still_answers_once() {
    let app = one_runner_app(std::time::Duration::from_secs(10));
    let wallets: Vec<String> = (0..30)
        .map(|n| app.create_wallet(&format!("k{n}")))
        .collect();
    // Stored before the batch: a key whose request is replayed, and one sent again with
    // another body.
    let first = transaction_document(&wallets[0], "stored", "5");
    keyed_post(&app, &first, Some("stored-key")).expect(201);
    let other = transaction_document(&wallets[1], "other-body", "5");
    let mut documents: Vec<(serde_json::Value, Option<String>)> = (0..30)
        .map(|n| {
            let document = transaction_document(&wallets[n], &format!("keyed-{n}"), "2");
            (document, Some(format!("key-{n}")))
        })
        .collect();
    documents.push((first.clone(), Some("stored-key".into()))); // 30: replayed
    documents.push((other.clone(), Some("stored-key".into()))); // 31: key reused
    documents.push((documents[3].0.clone(), Some("key-3".into()))); // 32: same key, same request
    documents.push((
        transaction_document(&wallets[29], "stored", "1"),
        Some("fresh-key".into()),
    )); // 33: a new key, with a txid booked before the batch
    let sent: Vec<(serde_json::Value, Option<&str>)> = documents
        .iter()
        .map(|(document, key)| (document.clone(), key.as_deref()))
        .collect();
    let replies = one_keyed_batch(&app, sent);
    for reply in &replies[..30] {
        reply.expect(201);
    }
    replies[30].expect(201);
    assert_eq!(replies[30].header("idempotent-replayed"), Some("true"));
    replies[31].expect_error(422, "idempotency-key-reused", None);
    // The same key twice in one batch: one booked it, the other got its stored answer.
    assert_eq!(replies[32].status, 201, "{}", replies[32].text);
    assert_eq!(
        replies[32].body["data"]["id"],
        replies[3].body["data"]["id"]
    );
    replies[33].expect_error(409, "duplicate-txid", None);
    // Each booked once; every stored answer is what its key replays now.
    for n in 0..30 {
        assert_eq!(
            app.balance(&wallets[n]),
            if n == 0 {
                "7.000000000000000000"
            } else {
                "2.000000000000000000"
            }
        );
        let again = keyed_post(&app, &documents[n].0, Some(&format!("key-{n}")));
        assert_eq!(
            again.header("idempotent-replayed"),
            Some("true"),
            "{}",
            again.text
        );
        assert_eq!(again.body["data"]["id"], replies[n].body["data"]["id"]);
    }
    let refused = keyed_post(&app, &documents[33].0, Some("fresh-key"));
    assert_eq!(refused.header("idempotent-replayed"), Some("true"));
    refused.expect_error(409, "duplicate-txid", None);
    // The keyed bookings were written by wave statements, in one database transaction.
    assert!(
        wave_counter(&app, "written") >= 28.0,
        "{} written by waves",
        wave_counter(&app, "written")
    );
    let mut conn = app.db.connect();
    assert_eq!(database_transactions(&mut conn, "t.txid LIKE 'keyed-%'"), 1);
    crate::journal::assert_running_totals(&mut conn);
}

#[test]
fn atomic_requests_share_a_batch_and_each_keeps_its_own_fate_and_actor() {
    let app = one_runner_app(std::time::Duration::from_secs(10));
    let funded = app.create_wallet("funded");
    let payee = app.create_wallet("payee");
    let empty = app.create_wallet("empty");
    app.book(&funded, "fund", "10").expect(201);
    let (_, first) = app.new_key("first", &["write"], &[]);
    let (_, second) = app.new_key("second", &["write"], &[]);
    let booked = app.book(&funded, "to-revise", "1");
    let revised = booked.body["data"]["id"].as_str().unwrap().to_owned();
    let add = |wallet: &str, txid: &str, amount: &str| {
        json!({"op": "add", "data": {"type": "transactions",
            "attributes": {"txid": txid, "amount": amount},
            "relationships": {"wallet": {"data": {"type": "wallets", "id": wallet}}}}})
    };
    let replies = one_batch_of(&app, 12, |n| match n {
        // Transfers by "first" that the funded wallet pays.
        0..8 => app.as_key(Some(&first)).operations(json!([
            add(&funded, &format!("out-{n}"), "-1"),
            add(&payee, &format!("in-{n}"), "1"),
        ])),
        // One the empty wallet cannot pay: refused whole, the others unharmed.
        8 => app.as_key(Some(&second)).operations(json!([
            add(&payee, "in-refused", "5"),
            add(&empty, "out-refused", "-5"),
        ])),
        // An update in an atomic request of "second": journaled under "second".
        9 => app.as_key(Some(&second)).operations(json!([{"op": "update",
            "ref": {"type": "transactions", "id": revised},
            "data": {"type": "transactions", "id": revised, "attributes": {"amount": "2"}}}])),
        _ => app
            .as_key(Some(&first))
            .book(&payee, &format!("plain-{n}"), "1"),
    });
    for reply in &replies[..8] {
        reply.expect(200);
    }
    replies[8].expect_error(
        409,
        "insufficient-funds",
        Some(("pointer", "/atomic:operations/1/data/attributes/amount")),
    );
    replies[9].expect(200);
    for reply in &replies[10..] {
        reply.expect(201);
    }
    // 10 funded, 1 booked and revised to 2, 8 paid out.
    assert_eq!(app.balance(&funded), "4.000000000000000000");
    assert_eq!(app.balance(&payee), "10.000000000000000000");
    assert_eq!(app.balance(&empty), "0.000000000000000000");
    let mut conn = app.db.connect();
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT count(*) FROM transactions WHERE txid LIKE '%-refused'"
        ),
        "0"
    );
    // The transfers shared one database transaction with the bookings, and each write is
    // journaled under its own key: a batch never lends one request's actor to another.
    assert_eq!(
        database_transactions(&mut conn, "t.txid LIKE 'out-%' OR t.txid LIKE 'plain-%'"),
        1
    );
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT string_agg(DISTINCT actor_name, ',') FROM balance_changes AS b \
             JOIN transactions AS t ON t.id = b.transaction_id \
             WHERE t.txid LIKE 'out-%' OR t.txid LIKE 'in-%' OR t.txid LIKE 'plain-%'"
        ),
        "first"
    );
    assert_eq!(
        scalar(
            &mut conn,
            &format!(
                "SELECT actor_name FROM balance_changes WHERE operation = 'update' \
                 AND transaction_id = {revised}"
            )
        ),
        "second"
    );
    crate::journal::assert_running_totals(&mut conn);
}

#[test]
fn a_batch_names_every_request_in_its_log_lines() {
    use std::process::{Command, Stdio};
    let db = TestDb::new();
    let (_, secret) = create_key(&mut db.connect(), "logger", &["admin"], &[]);
    let mut owner = db.connect();
    let ids = wallets(&mut owner, &["blocker", "a", "b", "c", "d", "e"]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = Command::new(env!("CARGO_BIN_EXE_wallet-api"))
        .arg("serve")
        .env("DATABASE_URL", &db.service_url)
        .env_remove("MIGRATION_DATABASE_URL")
        .env("PORT", port.to_string())
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "wallet_api=debug")
        .env("COALESCE_RUNNERS", "1")
        .env("DB_LOCK_TIMEOUT", "10s")
        .env("DB_ACQUIRE_TIMEOUT", "10s")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::blocking::Client::new();
    let started = std::time::Instant::now();
    while client.get(format!("{base}/health")).send().is_err() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "no server"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let book = |wallet: i64, txid: &str, request_id: &str| {
        let response = client
            .post(format!("{base}/transactions"))
            .bearer_auth(&secret)
            .header("Content-Type", JSONAPI)
            .header("X-Request-Id", request_id)
            .body(transaction_document(&wallet.to_string(), txid, "1").to_string())
            .send()
            .unwrap();
        let status = response.status().as_u16();
        let echoed = response
            .headers()
            .get("x-request-id")
            .map(|value| value.to_str().unwrap().to_string());
        (status, echoed)
    };
    // The first booking waits on a locked wallet holding the one runner; the five after it
    // queue, and run as one batch once the lock goes.
    exec(
        &mut owner,
        &format!(
            "BEGIN; SELECT 1 FROM wallets WHERE id = {} FOR UPDATE",
            ids[0]
        ),
    );
    let names: Vec<String> = (1..=5).map(|n| format!("batch-request-{n}")).collect();
    let (book, names_ref, ids_ref) = (&book, &names, &ids);
    std::thread::scope(|scope| {
        let first = scope.spawn(move || book(ids_ref[0], "first", "the-first"));
        std::thread::sleep(std::time::Duration::from_millis(300));
        let queued: Vec<_> = (1..=5)
            .map(|n| {
                scope.spawn(move || book(ids_ref[n], &format!("queued-{n}"), &names_ref[n - 1]))
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(500));
        exec(&mut owner, "ROLLBACK");
        assert_eq!(first.join().unwrap().0, 201);
        for (n, queued) in queued.into_iter().enumerate() {
            let (status, echoed) = queued.join().unwrap();
            assert_eq!(status, 201);
            assert_eq!(echoed.as_deref(), Some(names[n].as_str()));
        }
    });
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let output = server.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stderr).to_string();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    assert!(!lines.is_empty(), "no JSON lines: {log}");
    let batch_lines: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|line| line["span"]["name"] == "batch")
        .collect();
    let named_all = batch_lines.iter().any(|line| {
        let requests = line["span"]["requests"].as_str().unwrap_or_default();
        names
            .iter()
            .all(|name| requests.split(',').any(|id| id == name))
    });
    assert!(
        named_all,
        "no batch line names all of {names:?}: {batch_lines:#?}"
    );
    // And each request's own lines name its batch.
    let access = lines
        .iter()
        .find(|line| line["span"]["id"] == names[0])
        .unwrap_or_else(|| panic!("no line of {}: {log}", names[0]));
    assert!(access["span"]["batch"].is_number(), "{access:#}");
}

#[test]
fn transfers_that_arrive_together_are_written_in_waves_each_answered_as_alone() {
    let app = one_runner_app(std::time::Duration::from_secs(10));
    let wallets: Vec<String> = (0..10)
        .map(|n| {
            let wallet = app.create_wallet(&format!("ring-{n}"));
            app.book(&wallet, &format!("ring-fund-{n}"), "10")
                .expect(201);
            wallet
        })
        .collect();
    // Five pairs, each trading 1 back and forth twice: four waves of five (a wave holds no
    // wallet twice, and keeps each wallet's writes in their order); an overdraft and a
    // transfer to itself among them.
    let mut documents: Vec<serde_json::Value> = (0..20)
        .map(|n| {
            let (pair, back) = (n % 5, (n / 5) % 2);
            crate::transfers::transfer_document(
                &format!("ring-{n}"),
                &wallets[2 * pair + back],
                &wallets[2 * pair + 1 - back],
                "1",
            )
        })
        .collect();
    documents.push(crate::transfers::transfer_document(
        "ring-over",
        &wallets[3],
        &wallets[4],
        "1000",
    ));
    documents.push(crate::transfers::transfer_document(
        "ring-self",
        &wallets[5],
        &wallets[5],
        "1",
    ));
    let replies = one_batch_of(&app, documents.len(), |n| {
        app.post("/transfers", documents[n].clone())
    });
    for reply in &replies[..20] {
        reply.expect(201);
    }
    replies[20].expect_error(
        409,
        "insufficient-funds",
        Some(("pointer", "/data/attributes/amount")),
    );
    replies[21].expect_error(
        422,
        "same-wallet",
        Some(("pointer", "/data/relationships/destination/data")),
    );
    for wallet in &wallets {
        assert_eq!(app.balance(wallet), "10.000000000000000000");
    }
    // The twenty were written in one database transaction, as waves of one statement each.
    let mut conn = app.db.connect();
    assert_eq!(
        database_transactions(&mut conn, "t.transfer_id IS NOT NULL"),
        1
    );
    assert_eq!(scalar(&mut conn, "SELECT count(*) FROM transfers"), "20");
    // In multi-row statements: the order they arrived in decides which share one, and a
    // wave holding the overdraft is written again without it.
    assert!(wave_counter(&app, "statements") >= 2.0);
    assert!(wave_counter(&app, "written") >= 10.0);
}

#[test]
fn exchanges_that_arrive_together_share_waves_and_the_liquidity_locks() {
    let app = one_runner_app(std::time::Duration::from_secs(10));
    let (house_usd, house_btc) = crate::exchanges::house(&app, "10");
    let clients: Vec<(String, String)> = (0..10)
        .map(|n| crate::exchanges::client(&app, &format!("swap{n}"), "100"))
        .collect();
    // Ten exchanges of ten clients, one of an eleventh client who cannot pay, and one between
    // two dollar wallets of a twelfth: no two share a wallet, so all twelve may share a wave,
    // and the two refusals split it.
    let mut documents: Vec<serde_json::Value> = clients
        .iter()
        .enumerate()
        .map(|(n, (usd, btc))| {
            crate::exchanges::exchange_document(
                &format!("swap-{n}"),
                usd,
                btc,
                json!({"sourceAmount": "10"}),
                "0.00001",
            )
        })
        .collect();
    let (poor_usd, poor_btc) = crate::exchanges::client(&app, "poor", "1");
    documents.push(crate::exchanges::exchange_document(
        "swap-over",
        &poor_usd,
        &poor_btc,
        json!({"sourceAmount": "1000"}),
        "0.00001",
    ));
    let (dollars, _) = crate::exchanges::client(&app, "same", "1");
    let more_dollars = crate::currencies::wallet_in(&app, "same USD 2", "USD");
    documents.push(crate::exchanges::exchange_document(
        "swap-same",
        &dollars,
        &more_dollars,
        json!({"sourceAmount": "1"}),
        "1",
    ));
    let replies = one_batch_of(&app, documents.len(), |n| {
        app.post("/exchanges", documents[n].clone())
    });
    for reply in &replies[..10] {
        reply.expect(201);
        assert_eq!(
            reply.body["data"]["attributes"]["destinationAmount"],
            "0.00010000"
        );
    }
    replies[10].expect_error(
        409,
        "insufficient-funds",
        Some(("pointer", "/data/attributes/sourceAmount")),
    );
    replies[11].expect_error(422, "same-currency", None);
    assert_eq!(app.balance(&house_usd), "100.00");
    assert_eq!(app.balance(&house_btc), "-0.00100000");
    // The ten in one database transaction, in multi-row statements.
    let mut conn = app.db.connect();
    assert_eq!(
        database_transactions(
            &mut conn,
            "t.transfer_id IN (SELECT id FROM transfers WHERE exchange_id IS NOT NULL)"
        ),
        1
    );
    // In multi-row statements: a wave holding a refusal is written again without it, so at
    // least the half of the first wave without either refusal went in one statement.
    assert!(wave_counter(&app, "statements") >= 2.0);
    assert!(wave_counter(&app, "written") >= 5.0);
}
