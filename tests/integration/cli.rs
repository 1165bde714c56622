//! The command line: `migrate` on an empty database, and `verify` catching a balance that
//! someone with owner rights corrupted behind the triggers' back.

use std::process::{Command, Output};

use crate::helpers::{TestDb, exec, wallets};

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
