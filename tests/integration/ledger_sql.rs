//! The money rules as SQL users meet them: every write path to `transactions` keeps every
//! balance equal to the sum of its wallet's transactions and never negative, whoever writes.
//! Each test runs on its own database; when it ends, `wallet_balance_audit` must be empty.

use crate::helpers::{TestDb, all_at_once, balance, book, exec, exec_err, scalar, wallet, wallets};
use diesel::ExecuteCopyFromDsl;
use diesel::connection::SimpleConnection;
use diesel::pg::CopyFormat;
use diesel::result::{DatabaseErrorKind, Error};
use wallet_api::db::{ConstraintKind, DbError};
use wallet_api::schema::transactions;

fn constraint_of(error: &Error) -> Option<String> {
    match error {
        Error::DatabaseError(_, info) => info.constraint_name().map(str::to_string),
        _ => None,
    }
}

fn io_error(error: std::io::Error) -> Error {
    Error::SerializationError(Box::new(error))
}

/// Whether the service classifies `error` as a violation of this kind of this constraint.
fn is_violation(error: Error, kind: ConstraintKind, name: &str) -> bool {
    matches!(DbError::from(error), DbError::Constraint { kind: k, constraint, .. } if k == kind && constraint == name)
}

fn message_of(error: &Error) -> String {
    match error {
        Error::DatabaseError(_, info) => info.message().to_string(),
        other => other.to_string(),
    }
}

#[test]
fn a_single_insert_moves_the_money() {
    let db = TestDb::new();
    let mut conn = db.connect();
    let a = wallet(&mut conn, "a");
    book(&mut conn, a, "t1", "12.5");
    assert_eq!(balance(&mut conn, a), "12.500000000000000000");
    book(&mut conn, a, "t2", "-2.5");
    assert_eq!(balance(&mut conn, a), "10.000000000000000000");
}

#[test]
fn a_multi_row_insert_applies_each_wallets_net_change() {
    let db = TestDb::new();
    let mut conn = db.connect();
    let ids = wallets(&mut conn, &["a", "b", "c"]);
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    exec(
        &mut conn,
        &format!(
            "INSERT INTO transactions (wallet_id, txid, amount) VALUES
             ({a}, 'm1', 1), ({b}, 'm2', 2), ({a}, 'm3', 3), ({c}, 'm4', 0.000000000000000001)"
        ),
    );
    assert_eq!(balance(&mut conn, a), "4.000000000000000000");
    assert_eq!(balance(&mut conn, b), "2.000000000000000000");
    assert_eq!(balance(&mut conn, c), "0.000000000000000001");
}

#[test]
fn a_statement_is_judged_by_its_net_effect_per_wallet() {
    // (+100, -150) in one statement on a balance of 100 leaves 50, whatever the row order.
    let db = TestDb::new();
    let mut conn = db.connect();
    let a = wallet(&mut conn, "a");
    book(&mut conn, a, "seed", "100");
    exec(
        &mut conn,
        &format!(
            "INSERT INTO transactions (wallet_id, txid, amount) VALUES ({a}, 'out', -150), ({a}, 'in', 100)"
        ),
    );
    assert_eq!(balance(&mut conn, a), "50.000000000000000000");
}

#[test]
fn insert_select_of_many_rows_adds_up() {
    let db = TestDb::new();
    let mut conn = db.connect();
    let ids = wallets(&mut conn, &["a", "b", "c"]);
    exec(
        &mut conn,
        &format!(
            "INSERT INTO transactions (wallet_id, txid, amount)
             SELECT (ARRAY[{}, {}, {}])[1 + g % 3], 'bulk-' || g, 0.001 * g
             FROM generate_series(1, 12000) AS g",
            ids[0], ids[1], ids[2]
        ),
    );
    assert_eq!(
        scalar(&mut conn, "SELECT count(*) FROM transactions"),
        "12000"
    );
    for id in ids {
        assert_eq!(
            balance(&mut conn, id),
            scalar(
                &mut conn,
                &format!("SELECT sum(amount) FROM transactions WHERE wallet_id = {id}")
            )
        );
    }
    // 0.001 * (1 + ... + 12000) over all wallets.
    assert_eq!(
        scalar(&mut conn, "SELECT sum(balance) FROM wallets"),
        "72006.000000000000000000"
    );
}

#[test]
fn copy_fires_the_triggers_and_checks() {
    let db = TestDb::new();
    let mut conn = db.connect();
    let ids = wallets(&mut conn, &["a", "b"]);
    let (a, b) = (ids[0], ids[1]);
    let copied = diesel::copy_from(transactions::table)
        .from_raw_data(
            (
                transactions::wallet_id,
                transactions::txid,
                transactions::amount,
            ),
            |out: &mut dyn std::io::Write| -> Result<(), Error> {
                for i in 0..1000 {
                    let wallet = if i % 2 == 0 { a } else { b };
                    writeln!(out, "{wallet}\tcopy-{i}\t1.25").map_err(io_error)?;
                }
                Ok(())
            },
        )
        .with_format(CopyFormat::Text)
        .execute(&mut conn)
        .unwrap();
    assert_eq!(copied, 1000);
    assert_eq!(balance(&mut conn, a), "625.000000000000000000");
    assert_eq!(balance(&mut conn, b), "625.000000000000000000");

    // A COPY that would overdraw fails whole.
    let error = diesel::copy_from(transactions::table)
        .from_raw_data(
            (
                transactions::wallet_id,
                transactions::txid,
                transactions::amount,
            ),
            |out: &mut dyn std::io::Write| -> Result<(), Error> {
                writeln!(out, "{a}\tcopy-out-1\t-600").map_err(io_error)?;
                writeln!(out, "{a}\tcopy-out-2\t-600").map_err(io_error)
            },
        )
        .with_format(CopyFormat::Text)
        .execute(&mut conn)
        .unwrap_err();
    assert_eq!(
        constraint_of(&error).as_deref(),
        Some("wallets_balance_nonnegative")
    );
    assert_eq!(balance(&mut conn, a), "625.000000000000000000");
    assert_eq!(
        scalar(&mut conn, "SELECT count(*) FROM transactions"),
        "1000"
    );
}

#[test]
fn updating_amounts_moves_the_difference() {
    let db = TestDb::new();
    let mut conn = db.connect();
    let ids = wallets(&mut conn, &["a", "b"]);
    let (a, b) = (ids[0], ids[1]);
    exec(
        &mut conn,
        &format!(
            "INSERT INTO transactions (wallet_id, txid, amount)
             SELECT CASE WHEN g % 2 = 0 THEN {a} ELSE {b} END, 'u' || g, 10 FROM generate_series(1, 100) g"
        ),
    );
    exec(&mut conn, "UPDATE transactions SET amount = amount * 2");
    assert_eq!(balance(&mut conn, a), "1000.000000000000000000");
    exec(
        &mut conn,
        &format!("UPDATE transactions SET amount = -1 WHERE wallet_id = {b} AND txid = 'u1'"),
    );
    assert_eq!(balance(&mut conn, b), "979.000000000000000000");
    // Changing only the txid moves no money.
    exec(
        &mut conn,
        "UPDATE transactions SET txid = txid || '-renamed'",
    );
    assert_eq!(balance(&mut conn, a), "1000.000000000000000000");
    assert_eq!(balance(&mut conn, b), "979.000000000000000000");
}

#[test]
fn moving_transactions_between_wallets_moves_their_money() {
    let db = TestDb::new();
    let mut conn = db.connect();
    let ids = wallets(&mut conn, &["a", "b", "c"]);
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    exec(
        &mut conn,
        &format!(
            "INSERT INTO transactions (wallet_id, txid, amount) VALUES ({a}, 'x', 5), ({a}, 'y', 7), ({b}, 'z', 1)"
        ),
    );
    exec(
        &mut conn,
        &format!("UPDATE transactions SET wallet_id = {c} WHERE txid = 'x'"),
    );
    assert_eq!(balance(&mut conn, a), "7.000000000000000000");
    assert_eq!(balance(&mut conn, c), "5.000000000000000000");
    // Moving and changing the amount at once; and swapping wallets in one statement.
    exec(
        &mut conn,
        &format!("UPDATE transactions SET wallet_id = {b}, amount = 2 WHERE txid = 'y'"),
    );
    assert_eq!(balance(&mut conn, a), "0.000000000000000000");
    assert_eq!(balance(&mut conn, b), "3.000000000000000000");
    exec(
        &mut conn,
        &format!(
            "UPDATE transactions SET wallet_id = CASE wallet_id WHEN {b} THEN {c} ELSE {b} END"
        ),
    );
    assert_eq!(balance(&mut conn, b), "5.000000000000000000");
    assert_eq!(balance(&mut conn, c), "3.000000000000000000");
    // Moving a deposit away from a wallet that has spent it is refused.
    book(&mut conn, b, "spend", "-5");
    let error = exec_err(
        &mut conn,
        &format!("UPDATE transactions SET wallet_id = {a} WHERE txid = 'x'"),
    );
    assert_eq!(
        constraint_of(&error).as_deref(),
        Some("wallets_balance_nonnegative")
    );
    assert!(
        message_of(&error).contains(&format!("wallet {b}")),
        "{}",
        message_of(&error)
    );
}

#[test]
fn deleting_transactions_takes_their_money_back() {
    let db = TestDb::new();
    let mut conn = db.connect();
    let a = wallet(&mut conn, "a");
    exec(
        &mut conn,
        &format!(
            "INSERT INTO transactions (wallet_id, txid, amount) SELECT {a}, 'd' || g, g FROM generate_series(1, 10) g"
        ),
    );
    exec(&mut conn, "DELETE FROM transactions WHERE amount > 8");
    assert_eq!(balance(&mut conn, a), "36.000000000000000000");
    // Deleting a deposit that was spent would overdraw.
    book(&mut conn, a, "spend", "-36");
    let error = exec_err(&mut conn, "DELETE FROM transactions WHERE txid = 'd1'");
    assert_eq!(
        constraint_of(&error).as_deref(),
        Some("wallets_balance_nonnegative")
    );
    exec(&mut conn, "DELETE FROM transactions");
    assert_eq!(balance(&mut conn, a), "0.000000000000000000");
}

#[test]
fn truncate_leaves_every_balance_at_zero() {
    let db = TestDb::new();
    let mut conn = db.connect();
    let ids = wallets(&mut conn, &["a", "b"]);
    exec(
        &mut conn,
        &format!(
            "INSERT INTO transactions (wallet_id, txid, amount) VALUES ({}, 'a', 100), ({}, 'b', 50)",
            ids[0], ids[1]
        ),
    );
    exec(&mut conn, "TRUNCATE transactions");
    assert_eq!(balance(&mut conn, ids[0]), "0.000000000000000000");
    assert_eq!(balance(&mut conn, ids[1]), "0.000000000000000000");
}

#[test]
fn a_rolled_back_transaction_leaves_no_trace() {
    let db = TestDb::new();
    let mut conn = db.connect();
    let a = wallet(&mut conn, "a");
    exec(
        &mut conn,
        &format!(
            "BEGIN;
             INSERT INTO transactions (wallet_id, txid, amount) VALUES ({a}, 'r1', 40);
             UPDATE transactions SET amount = 45;
             ROLLBACK;"
        ),
    );
    assert_eq!(balance(&mut conn, a), "0.000000000000000000");
    assert_eq!(scalar(&mut conn, "SELECT count(*) FROM transactions"), "0");
}

#[test]
fn each_statement_must_leave_balances_non_negative_even_inside_a_transaction() {
    let db = TestDb::new();
    let mut conn = db.connect();
    let a = wallet(&mut conn, "a");
    let error = exec_err(
        &mut conn,
        &format!(
            "BEGIN;
             INSERT INTO transactions (wallet_id, txid, amount) VALUES ({a}, 'first-spend', -10);
             INSERT INTO transactions (wallet_id, txid, amount) VALUES ({a}, 'then-fund', 10);
             COMMIT;"
        ),
    );
    assert_eq!(
        constraint_of(&error).as_deref(),
        Some("wallets_balance_nonnegative")
    );
    exec(&mut conn, "ROLLBACK");
    assert_eq!(balance(&mut conn, a), "0.000000000000000000");
}

#[test]
fn a_bulk_overdraft_rolls_back_whole() {
    let db = TestDb::new();
    let mut conn = db.connect();
    let ids = wallets(&mut conn, &["rich", "poor"]);
    let (rich, poor) = (ids[0], ids[1]);
    exec(
        &mut conn,
        &format!(
            "INSERT INTO transactions (wallet_id, txid, amount) VALUES ({rich}, 'f1', 100), ({poor}, 'f2', 1)"
        ),
    );
    let error = exec_err(
        &mut conn,
        &format!(
            "INSERT INTO transactions (wallet_id, txid, amount)
             SELECT CASE WHEN g % 2 = 0 THEN {rich} ELSE {poor} END, 'o' || g, -1 FROM generate_series(1, 1000) g"
        ),
    );
    let classified = DbError::from(error);
    assert!(
        matches!(classified, DbError::InsufficientFunds { wallet_id: Some(id), .. } if id == rich || id == poor),
        "{classified:?}"
    );
    assert_eq!(scalar(&mut conn, "SELECT count(*) FROM transactions"), "2");
    assert_eq!(balance(&mut conn, rich), "100.000000000000000000");
    assert_eq!(balance(&mut conn, poor), "1.000000000000000000");
}

#[test]
fn a_balance_beyond_numeric_36_18_is_refused_whole() {
    let db = TestDb::new();
    let mut conn = db.connect();
    let a = wallet(&mut conn, "a");
    book(&mut conn, a, "big", "999999999999999999");
    let error = exec_err(
        &mut conn,
        &format!(
            "INSERT INTO transactions (wallet_id, txid, amount) VALUES ({a}, 'more', 1), ({a}, 'more2', 0.5)"
        ),
    );
    assert!(
        matches!(DbError::from(error), DbError::BalanceOverflow { wallet_id: Some(id) } if id == a)
    );
    assert_eq!(
        balance(&mut conn, a),
        "999999999999999999.000000000000000000"
    );
}

#[test]
fn the_schema_refuses_bad_rows() {
    let db = TestDb::new();
    let mut conn = db.connect();
    let a = wallet(&mut conn, "a");
    for (sql, expected) in [
        (
            format!("INSERT INTO transactions (wallet_id, txid, amount) VALUES ({a}, 'z', 0)"),
            "transactions_amount_nonzero",
        ),
        (
            format!("INSERT INTO transactions (wallet_id, txid, amount) VALUES ({a}, '', 1)"),
            "transactions_txid_length",
        ),
        (
            format!(
                "INSERT INTO transactions (wallet_id, txid, amount) VALUES ({a}, repeat('x', 256), 1)"
            ),
            "transactions_txid_length",
        ),
        (
            "INSERT INTO wallets (label) VALUES ('')".to_string(),
            "wallets_label_length",
        ),
        (
            "INSERT INTO transactions (wallet_id, txid, amount) VALUES (999999, 'orphan', 1)"
                .to_string(),
            "transactions_wallet_id_fkey",
        ),
    ] {
        let error = exec_err(&mut conn, &sql);
        assert_eq!(constraint_of(&error).as_deref(), Some(expected), "{sql}");
    }
    book(&mut conn, a, "dup", "1");
    let error = exec_err(
        &mut conn,
        &format!("INSERT INTO transactions (wallet_id, txid, amount) VALUES ({a}, 'dup', 1)"),
    );
    assert!(matches!(
        error,
        Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
    ));
    assert!(is_violation(
        error,
        ConstraintKind::Unique,
        "transactions_txid_key"
    ));
    // A wallet with history cannot be deleted.
    let error = exec_err(&mut conn, &format!("DELETE FROM wallets WHERE id = {a}"));
    assert!(is_violation(
        error,
        ConstraintKind::ForeignKey,
        "transactions_wallet_id_fkey"
    ));
}

#[test]
fn direct_balance_writes_are_refused() {
    let db = TestDb::new();
    let mut conn = db.connect();
    let a = wallet(&mut conn, "a");
    book(&mut conn, a, "f", "5");
    for sql in [
        format!("UPDATE wallets SET balance = 1000 WHERE id = {a}"),
        format!("UPDATE wallets SET balance = balance + 1, label = 'x' WHERE id = {a}"),
        "INSERT INTO wallets (label, balance) VALUES ('rich', 10)".to_string(),
    ] {
        let error = exec_err(&mut conn, &sql);
        assert!(
            message_of(&error).contains("cannot be written directly"),
            "{sql}: {}",
            message_of(&error)
        );
    }
    assert_eq!(balance(&mut conn, a), "5.000000000000000000");
    // What is allowed: a new label (which refreshes updated_at), and a no-op balance write.
    let before = scalar(
        &mut conn,
        &format!("SELECT updated_at FROM wallets WHERE id = {a}"),
    );
    exec(
        &mut conn,
        &format!("UPDATE wallets SET label = 'renamed', balance = balance WHERE id = {a}"),
    );
    assert_eq!(
        scalar(
            &mut conn,
            &format!("SELECT label FROM wallets WHERE id = {a}")
        ),
        "renamed"
    );
    assert_ne!(
        scalar(
            &mut conn,
            &format!("SELECT updated_at FROM wallets WHERE id = {a}")
        ),
        before
    );
}

#[test]
fn replica_mode_does_not_skip_the_triggers() {
    let db = TestDb::new();
    let mut conn = db.connect();
    let a = wallet(&mut conn, "a");
    exec(&mut conn, "SET session_replication_role = replica");
    book(&mut conn, a, "r", "9");
    assert_eq!(balance(&mut conn, a), "9.000000000000000000");
    let error = exec_err(
        &mut conn,
        &format!("UPDATE wallets SET balance = 0 WHERE id = {a}"),
    );
    assert!(message_of(&error).contains("cannot be written directly"));
    let error = exec_err(
        &mut conn,
        &format!("INSERT INTO transactions (wallet_id, txid, amount) VALUES ({a}, 'r2', -10)"),
    );
    assert_eq!(
        constraint_of(&error).as_deref(),
        Some("wallets_balance_nonnegative")
    );
    // Replica mode also skips foreign keys; the balance rules still refuse an unknown wallet.
    let error = exec_err(
        &mut conn,
        "INSERT INTO transactions (wallet_id, txid, amount) VALUES (424242, 'lost', 1)",
    );
    assert!(is_violation(
        error,
        ConstraintKind::ForeignKey,
        "transactions_wallet_id_fkey"
    ));
    exec(&mut conn, "TRUNCATE transactions");
    assert_eq!(balance(&mut conn, a), "0.000000000000000000");
    exec(&mut conn, "RESET session_replication_role");
}

#[test]
fn concurrent_withdrawals_never_overdraw() {
    const CLIENTS: usize = 32;
    const FUNDS: usize = 10;
    let db = TestDb::new();
    let mut conn = db.connect();
    let a = wallet(&mut conn, "hot");
    exec(
        &mut conn,
        &format!(
            "INSERT INTO transactions (wallet_id, txid, amount) VALUES ({a}, 'fund', {FUNDS})"
        ),
    );
    let outcomes: Vec<Result<(), String>> = all_at_once(
        CLIENTS,
        |_| db.connect(),
        |i, mut conn| {
            conn.batch_execute(&format!(
                "INSERT INTO transactions (wallet_id, txid, amount) VALUES ({a}, 'w{i}', -1)"
            ))
            .map_err(|e| constraint_of(&e).unwrap_or_else(|| e.to_string()))
        },
    );
    let accepted = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(accepted, FUNDS, "{outcomes:?}");
    for refused in outcomes.iter().filter_map(|o| o.as_ref().err()) {
        assert_eq!(refused, "wallets_balance_nonnegative");
    }
    assert_eq!(balance(&mut conn, a), "0.000000000000000000");
}

#[test]
fn concurrent_bulk_statements_over_overlapping_wallets_do_not_deadlock() {
    const CLIENTS: usize = 8;
    const ROUNDS: usize = 15;
    let db = TestDb::new();
    let mut conn = db.connect();
    let ids: Vec<i64> = wallets(&mut conn, &["w"; 40]);
    exec(
        &mut conn,
        "INSERT INTO transactions (wallet_id, txid, amount) SELECT id, 'seed-' || id, 1000 FROM wallets",
    );
    let outcomes: Vec<Result<(), String>> = all_at_once(
        CLIENTS,
        |_| db.connect(),
        |client, mut conn| {
            let mut state = 0x9E37_79B9_7F4A_7C15_u64 ^ (client as u64 + 1);
            let mut next = move || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            };
            for round in 0..ROUNDS {
                // The same wallets, in a different order each time, so that without the
                // ordered locks these statements would lock rows in conflicting orders.
                let mut order = ids.clone();
                for i in (1..order.len()).rev() {
                    order.swap(i, (next() % (i as u64 + 1)) as usize);
                }
                let list = order
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(",");
                let sql = match round % 3 {
                    0 => format!(
                        "INSERT INTO transactions (wallet_id, txid, amount)
                         SELECT w, 'c{client}-r{round}-' || ord, 1
                         FROM unnest(ARRAY[{list}]) WITH ORDINALITY AS u(w, ord)"
                    ),
                    1 => format!(
                        "UPDATE transactions SET amount = amount + 1
                         WHERE txid LIKE 'c{client}-r{}-%'",
                        round - 1
                    ),
                    _ => format!(
                        "DELETE FROM transactions WHERE txid LIKE 'c{client}-r{}-%'",
                        round - 2
                    ),
                };
                conn.batch_execute(&sql).map_err(|e| message_of(&e))?;
            }
            Ok(())
        },
    );
    for outcome in outcomes {
        outcome.unwrap();
    }
    for id in ids {
        assert_eq!(balance(&mut conn, id), "1000.000000000000000000");
    }
}
