//! The command line: `migrate` on an empty database, and `verify` catching a balance that
//! someone with owner rights corrupted behind the triggers' back.

use std::process::{Command, Output};
use std::time::Duration;

use crate::helpers::{TestDb, exec, scalar, wallets};

fn wallet_api(db: &TestDb, command: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wallet-api"))
        .arg(command)
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn migrate_builds_the_schema_once() {
    let db = TestDb::empty();
    let first = wallet_api(&db, "migrate");
    assert!(first.status.success(), "{first:?}");
    assert!(stdout(&first).contains("applied"), "{}", stdout(&first));
    let second = wallet_api(&db, "migrate");
    assert!(second.status.success());
    assert!(
        stdout(&second).contains("up to date"),
        "{}",
        stdout(&second)
    );
    let mut conn = db.connect();
    exec(&mut conn, "INSERT INTO wallets (label) VALUES ('works')");
}

#[test]
fn verify_passes_on_a_consistent_database() {
    let db = TestDb::new();
    let mut conn = db.connect();
    let ids = wallets(&mut conn, &["a", "b"]);
    exec(
        &mut conn,
        &format!(
            "INSERT INTO transactions (wallet_id, txid, amount) VALUES ({}, 't', 3), ({}, 'u', 4)",
            ids[0], ids[1]
        ),
    );
    let output = wallet_api(&db, "verify");
    assert!(output.status.success(), "{}", stdout(&output));
    assert!(stdout(&output).starts_with("ok"));
}

#[test]
fn verify_names_a_wallet_corrupted_behind_the_triggers() {
    let mut db = TestDb::new();
    let mut conn = db.connect();
    let ids = wallets(&mut conn, &["honest", "tampered", "drifted"]);
    exec(
        &mut conn,
        &format!(
            "INSERT INTO transactions (wallet_id, txid, amount) VALUES ({}, 'a', 10), ({}, 'b', 20)",
            ids[0], ids[1]
        ),
    );
    // The owner disables the guard and writes a balance directly...
    exec(
        &mut conn,
        &format!(
            "ALTER TABLE wallets DISABLE TRIGGER wallets_balance_guard_update;
             UPDATE wallets SET balance = 1000 WHERE id = {};
             ALTER TABLE wallets ENABLE ALWAYS TRIGGER wallets_balance_guard_update;",
            ids[1]
        ),
    );
    // ...and books a transaction with the balance trigger disabled.
    exec(
        &mut conn,
        &format!(
            "ALTER TABLE transactions DISABLE TRIGGER transactions_balance_insert;
             INSERT INTO transactions (wallet_id, txid, amount) VALUES ({}, 'c', 5);
             ALTER TABLE transactions ENABLE ALWAYS TRIGGER transactions_balance_insert;",
            ids[2]
        ),
    );
    let output = wallet_api(&db, "verify");
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let report = stdout(&output);
    assert!(report.contains(&format!("wallet {}:", ids[1])), "{report}");
    assert!(
        report.contains(
            "stored balance 1000.000000000000000000, sum of transactions 20.000000000000000000"
        ),
        "{report}"
    );
    assert!(report.contains(&format!("wallet {}:", ids[2])), "{report}");
    assert!(!report.contains(&format!("wallet {}:", ids[0])), "{report}");
    assert!(report.contains("2 problem(s) found"), "{report}");
    db.skip_final_verify();
}

#[test]
fn usage_errors_exit_2() {
    let output = Command::new(env!("CARGO_BIN_EXE_wallet-api"))
        .arg("dance")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("usage"));
}

#[test]
fn a_missing_database_url_is_explained() {
    let output = Command::new(env!("CARGO_BIN_EXE_wallet-api"))
        .arg("verify")
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
}

#[test]
fn a_flag_wins_over_its_environment_variable() {
    let db = TestDb::empty();
    let output = Command::new(env!("CARGO_BIN_EXE_wallet-api"))
        .args(["migrate", "--database-url", &db.url])
        .env(
            "DATABASE_URL",
            "postgresql://nobody@/nowhere?host=/nonexistent",
        )
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let bad = Command::new(env!("CARGO_BIN_EXE_wallet-api"))
        .arg("serve")
        .env("DATABASE_URL", &db.url)
        .env("PORT", "http")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("--port") && stderr.contains("http"),
        "{stderr}"
    );
}

/// Four wallets, each corrupted a different way by an owner working around the triggers:
/// (edited transaction, written balance, tampered journal row, deleted journal row).
fn corrupted(db: &TestDb) -> [i64; 4] {
    let mut conn = db.connect();
    let ids = wallets(&mut conn, &["edited", "written", "tampered", "truncated"]);
    for (i, id) in ids.iter().enumerate() {
        exec(
            &mut conn,
            &format!(
                "INSERT INTO transactions (wallet_id, txid, amount) VALUES ({id}, 'a{i}', 100);
                 INSERT INTO transactions (wallet_id, txid, amount) VALUES ({id}, 'b{i}', 50);"
            ),
        );
    }
    let [edited, written, tampered, truncated] = [ids[0], ids[1], ids[2], ids[3]];
    exec(
        &mut conn,
        &format!(
            "ALTER TABLE transactions DISABLE TRIGGER transactions_balance_update;
             UPDATE transactions SET amount = 500 WHERE txid = 'a0';
             ALTER TABLE transactions ENABLE ALWAYS TRIGGER transactions_balance_update;

             ALTER TABLE wallets DISABLE TRIGGER wallets_balance_guard_update;
             UPDATE wallets SET balance = 1000 WHERE id = {written};
             ALTER TABLE wallets ENABLE ALWAYS TRIGGER wallets_balance_guard_update;

             ALTER TABLE balance_changes DISABLE TRIGGER balance_changes_append_only;
             UPDATE balance_changes SET delta = 101
              WHERE id = (SELECT min(id) FROM balance_changes WHERE wallet_id = {tampered});
             DELETE FROM balance_changes
              WHERE id = (SELECT max(id) FROM balance_changes WHERE wallet_id = {truncated});
             ALTER TABLE balance_changes ENABLE ALWAYS TRIGGER balance_changes_append_only;"
        ),
    );
    [edited, written, tampered, truncated]
}

fn line_of(report: &str, wallet: i64) -> String {
    report
        .lines()
        .find(|line| line.starts_with(&format!("wallet {wallet}:")))
        .unwrap_or_else(|| panic!("no line for wallet {wallet} in:\n{report}"))
        .to_string()
}

#[test]
fn verify_says_which_copy_of_each_balance_disagrees() {
    let mut db = TestDb::new();
    let [edited, written, tampered, truncated] = corrupted(&db);
    let output = wallet_api(&db, "verify");
    assert_eq!(output.status.code(), Some(1));
    let report = stdout(&output);
    assert_eq!(
        line_of(&report, edited),
        format!(
            "wallet {edited}: balance differs from the sum of its transactions (stored balance \
             150.000000000000000000, sum of transactions 550.000000000000000000, journal \
             150.000000000000000000)"
        )
    );
    assert!(
        line_of(&report, written).contains(
            "balance differs from the sum of its transactions; balance differs from its journal"
        ),
        "{report}"
    );
    let first_of_tampered = scalar(
        &mut db.connect(),
        &format!("SELECT min(id) FROM balance_changes WHERE wallet_id = {tampered}"),
    );
    assert!(
        line_of(&report, tampered).contains(&format!(
            "journal running total breaks at balance change {first_of_tampered}"
        )),
        "{report}"
    );
    assert!(
        line_of(&report, truncated).contains(": balance differs from its journal ("),
        "{report}"
    );
    // The journal row deleted behind the triggers' back leaves its balance-history buckets
    // (a minute's, an hour's, a day's) disagreeing with the journal, after the balance lines.
    for size in ["1m", "1h", "1d"] {
        assert!(
            report.contains(&format!(
                "wallet {truncated}: its {size} balance-history bucket"
            )),
            "{report}"
        );
    }
    assert!(report.contains("7 problem(s) found"), "{report}");
    db.skip_final_verify();
}

#[test]
fn repair_is_a_dry_run_until_applied_then_verify_is_clean() {
    let db = TestDb::new();
    let [edited, written, tampered, truncated] = corrupted(&db);
    let mut conn = db.connect();
    let journal_rows = || scalar(&mut db.connect(), "SELECT count(*) FROM balance_changes");
    let before = journal_rows();

    let dry = wallet_api(&db, "repair");
    assert!(dry.status.success(), "{dry:?}");
    let report = stdout(&dry);
    assert!(
        line_of(&report, edited)
            .contains("would repair: balance 150.000000000000000000 -> 550.000000000000000000"),
        "{report}"
    );
    assert!(
        report.contains("4 wallet(s) to repair; nothing was changed"),
        "{report}"
    );
    assert_eq!(journal_rows(), before);
    assert_eq!(wallet_api(&db, "verify").status.code(), Some(1));

    let applied = Command::new(env!("CARGO_BIN_EXE_wallet-api"))
        .args(["repair", "--apply"])
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    let report = stdout(&applied);
    assert!(applied.status.success(), "{applied:?}");
    assert!(report.contains("4 wallet(s) repaired"), "{report}");
    assert!(
        line_of(&report, written)
            .contains("repaired: balance 1000.000000000000000000 -> 150.000000000000000000"),
        "{report}"
    );
    let verify = wallet_api(&db, "verify");
    assert!(verify.status.success(), "{}", stdout(&verify));
    for (wallet, stored, repaired) in [
        (edited, "150", "550"),
        (written, "1000", "150"),
        (tampered, "150", "150"),
        (truncated, "150", "150"),
    ] {
        assert_eq!(
            scalar(
                &mut conn,
                &format!(
                    "SELECT operation || ' ' || repaired_from::numeric(10,0) || ' ' || balance::numeric(10,0) \
                     || ' ' || application FROM balance_changes WHERE wallet_id = {wallet} ORDER BY id DESC LIMIT 1"
                )
            ),
            format!("repair {stored} {repaired} wallet-api repair")
        );
    }
    crate::journal::assert_running_totals_since_repairs(&mut conn);
    // Nothing left to do.
    assert!(stdout(&wallet_api(&db, "repair")).starts_with("nothing to repair"));
}

#[test]
fn repair_under_concurrent_writes_leaves_every_balance_right() {
    const WRITERS: usize = 6;
    let db = TestDb::new();
    let targets = corrupted(&db);
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        for writer in 0..WRITERS {
            let (db, stop) = (&db, &stop);
            scope.spawn(move || {
                let mut conn = db.connect();
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    // Each wallet in turn gets a deposit, then a smaller withdrawal: none
                    // runs dry however fast the writers go.
                    let wallet = targets[n % targets.len()];
                    let amount = if (n / targets.len()).is_multiple_of(2) {
                        "1.5"
                    } else {
                        "-0.5"
                    };
                    exec(
                        &mut conn,
                        &format!(
                            "INSERT INTO transactions (wallet_id, txid, amount) VALUES ({wallet}, 'load-{writer}-{n}', {amount})"
                        ),
                    );
                    n += 1;
                }
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
        let applied = Command::new(env!("CARGO_BIN_EXE_wallet-api"))
            .args(["repair", "--apply"])
            .env("DATABASE_URL", &db.url)
            .output()
            .unwrap();
        if applied.status.success() {
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
        // The writers stop whatever happened: a failed assertion must not leave them running.
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(applied.status.success(), "{applied:?}");
    });
    let verify = wallet_api(&db, "verify");
    assert!(verify.status.success(), "{}", stdout(&verify));
    crate::journal::assert_running_totals_since_repairs(&mut db.connect());
}

#[test]
fn sigterm_and_sigint_both_drain_a_slow_upload_and_refuse_new_connections() {
    // SIGTERM with a delay: /health fails first while connections are still taken.
    drains_on("TERM", Duration::from_millis(1500));
    // Ctrl-C, as a person stops it: no delay, the same drain.
    drains_on("INT", Duration::ZERO);
}

/// Waits until the listening socket on `port` has no connection waiting to be accepted (its
/// accept queue, the `rx_queue` of its LISTEN line in /proc/net/tcp, is empty).
fn wait_until_accepted(port: u16) {
    let local = format!(":{port:04X}");
    for _ in 0..200 {
        let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
        let waiting = table.lines().skip(1).any(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.len() > 4
                && fields[1].ends_with(&local)
                && fields[3] == "0A"
                && fields[4]
                    .split(':')
                    .nth(1)
                    .is_some_and(|queue| u64::from_str_radix(queue, 16).is_ok_and(|n| n > 0))
        });
        if !waiting {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("the server never accepted the connection");
}

/// Starts the service with `SHUTDOWN_DELAY=delay`, sends half of a booking's body, then
/// `SIG{signal}`: for `delay` the server still takes connections and answers `/health` 503
/// `draining`; then it takes none, finishes the upload's booking when the rest of the body
/// comes, and exits 0.
fn drains_on(signal: &str, delay: Duration) {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpStream;

    let db = TestDb::new();
    let mut admin = db.connect();
    let wallet = crate::helpers::wallet(&mut admin, "w");
    let (_, secret) = crate::helpers::create_key(&mut admin, "writer", &["write"], &[]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_wallet-api"))
        .arg("serve")
        .env("DATABASE_URL", &db.url)
        .env("PORT", port.to_string())
        .env("HTTP_BODY_TIMEOUT", "20s")
        .env("SHUTDOWN_DELAY", format!("{}ms", delay.as_millis()))
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(server.stderr.take().unwrap());
    let mut line = String::new();
    let mut started = String::new();
    while !line.contains("serving on") {
        line.clear();
        assert!(log.read_line(&mut line).unwrap() > 0, "the server exited");
        started.push_str(&line);
    }
    // It says what it is, and that it connects as the cluster's superuser, loudly.
    assert!(
        started.contains(&format!("wallet-api {}", env!("CARGO_PKG_VERSION"))),
        "{started}"
    );
    assert!(
        started.contains("WARN") && started.contains("connects as a superuser"),
        "{started}"
    );

    // An upload under way: the head and half the body.
    let body =
        crate::helpers::transaction_document(&wallet.to_string(), &format!("upload-{signal}"), "5")
            .to_string();
    let (first, rest) = body.split_at(body.len() / 2);
    let mut upload = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        upload,
        "POST /transactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/vnd.api+json\r\n\
         Authorization: Bearer {secret}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{first}",
        body.len()
    )
    .unwrap();
    upload.flush().unwrap();
    // Under way means accepted: a connection still in the listener's queue when the signal
    // comes is never taken (and is reset), which is not what this test is about.
    wait_until_accepted(port);
    std::thread::sleep(Duration::from_millis(300));
    let signalled = std::time::Instant::now();
    Command::new("kill")
        .args([&format!("-{signal}"), &server.id().to_string()])
        .status()
        .unwrap();
    if !delay.is_zero() {
        // The delay: still served, but /health says to send requests elsewhere.
        std::thread::sleep(delay / 4);
        let mut probe = TcpStream::connect(("127.0.0.1", port))
            .expect("connections are still taken during the delay");
        write!(
            probe,
            "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut health = String::new();
        probe.read_to_string(&mut health).unwrap();
        assert!(
            health.starts_with("HTTP/1.1 503") && health.contains("\"draining\""),
            "SIG{signal}: {health}"
        );
        assert!(
            signalled.elapsed() < delay,
            "the probe came after the delay"
        );
    }
    std::thread::sleep(delay + Duration::from_millis(300));
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "SIG{signal}: a stopping server accepts no new connection after its delay"
    );
    upload.write_all(rest.as_bytes()).unwrap();
    let mut answer = String::new();
    upload.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "SIG{signal}: {answer}");
    assert!(server.wait().unwrap().success(), "SIG{signal}");
    let mut rest_of_log = String::new();
    log.read_to_string(&mut rest_of_log).unwrap();
    assert!(
        rest_of_log.contains(&format!("SIG{signal}: shutting down")),
        "{rest_of_log}"
    );
    assert_eq!(
        crate::helpers::balance(&mut admin, wallet),
        "5.000000000000000000"
    );
}
