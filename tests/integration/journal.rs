//! The balance journal as SQL users meet it: every write path leaves one journal row per
//! wallet per statement with an unbroken running total, edits and deletions leave their
//! before-images, both tables are append-only, `wallet_balance_at` answers for any time,
//! and only `wallet_repair` (run by someone allowed to) writes a balance around the triggers.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_query;
use diesel::sql_types::{BigInt, Nullable, Text};

use crate::helpers::{TestDb, all_at_once, balance, book, exec, exec_err, scalar, wallet, wallets};

/// One journal row, its money as text.
#[derive(QueryableByName, Debug, Clone, PartialEq)]
pub struct Entry {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = BigInt)]
    pub wallet_id: i64,
    #[diesel(sql_type = Text)]
    pub operation: String,
    #[diesel(sql_type = Text)]
    pub delta: String,
    #[diesel(sql_type = Text)]
    pub balance: String,
    #[diesel(sql_type = BigInt)]
    pub transaction_count: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub transaction_id: Option<i64>,
}

/// The journal of one wallet, in order.
pub fn journal(conn: &mut PgConnection, wallet: i64) -> Vec<Entry> {
    sql_query(format!(
        "SELECT id, wallet_id, operation, delta::text AS delta, balance::text AS balance, \
         transaction_count, transaction_id FROM balance_changes WHERE wallet_id = {wallet} \
         ORDER BY id"
    ))
    .load(conn)
    .unwrap()
}

/// (operation, delta, balance) of each journal row of a wallet, the money without trailing
/// zeros, for short assertions.
fn steps(conn: &mut PgConnection, wallet: i64) -> Vec<(String, String, String)> {
    let trim = |text: &str| {
        let text = text.trim_end_matches('0');
        text.trim_end_matches('.').to_string()
    };
    journal(conn, wallet)
        .into_iter()
        .map(|e| (e.operation, trim(&e.delta), trim(&e.balance)))
        .collect()
}

/// `COPY transactions (wallet_id, txid, amount) FROM STDIN` of these rows.
fn copy_in(conn: &mut PgConnection, rows: &[(i64, &str, &str)]) {
    use diesel::ExecuteCopyFromDsl;
    use wallet_api::schema::transactions;
    diesel::copy_from(transactions::table)
        .from_raw_data(
            (
                transactions::wallet_id,
                transactions::txid,
                transactions::amount,
            ),
            |out: &mut dyn std::io::Write| -> diesel::QueryResult<()> {
                for (wallet, txid, amount) in rows {
                    writeln!(out, "{wallet}\t{txid}\t{amount}")
                        .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
                }
                Ok(())
            },
        )
        .with_format(diesel::pg::CopyFormat::Text)
        .execute(conn)
        .unwrap();
}

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    line: String,
}

/// The plan PostgreSQL chooses for `sql`.
fn plan(conn: &mut PgConnection, sql: &str) -> String {
    let lines: Vec<PlanLine> = sql_query(format!("EXPLAIN {sql}")).load(conn).unwrap();
    lines
        .into_iter()
        .map(|l| l.line)
        .collect::<Vec<_>>()
        .join("\n")
}

fn step(operation: &str, delta: &str, balance: &str) -> (String, String, String) {
    (operation.into(), delta.into(), balance.into())
}

/// Checks the journal's promise for every wallet: each row's balance (and held) is the
/// previous one's plus its delta (0 before the first), the last equals the stored balance
/// (and held), and changed_at grows with id.
pub fn assert_running_totals(conn: &mut PgConnection) {
    assert_running_totals_after(conn, "0");
}

/// [`assert_running_totals`] from each wallet's last repair on (a repair acknowledges the
/// tampered rows before it, which stay in the journal).
pub fn assert_running_totals_since_repairs(conn: &mut PgConnection) {
    assert_running_totals_after(conn, "coalesce(last_repair, 0)");
}

fn assert_running_totals_after(conn: &mut PgConnection, first_checked: &str) {
    let broken = scalar(
        conn,
        &format!(
            "SELECT count(*) FROM (
                 SELECT id, balance, delta, held, held_delta, changed_at,
                        lag(balance, 1, 0::numeric) OVER w AS previous,
                        lag(held, 1, 0::numeric) OVER w AS previous_held,
                        lag(changed_at) OVER w AS previous_time,
                        max(id) FILTER (WHERE operation = 'repair') OVER all_rows AS last_repair
                 FROM balance_changes
                 WINDOW w AS (PARTITION BY wallet_id ORDER BY id),
                        all_rows AS (PARTITION BY wallet_id)
             ) AS j
             WHERE id >= {first_checked}
               AND (balance <> previous + delta OR held <> previous_held + held_delta
                    OR changed_at < previous_time)"
        ),
    );
    assert_eq!(broken, "0", "journal rows break the running total");
    let apart = scalar(
        conn,
        "SELECT count(*) FROM wallets AS w
         WHERE (w.balance, w.held) <> coalesce((SELECT (c.balance, c.held) FROM balance_changes AS c
                                      WHERE c.wallet_id = w.id ORDER BY c.id DESC LIMIT 1),
                                             (0::numeric, 0::numeric))",
    );
    assert_eq!(
        apart, "0",
        "a stored balance differs from its journal's last row"
    );
}

#[test]
fn every_write_path_journals_one_row_per_wallet_per_statement() {
    let db = TestDb::new();
    let mut conn = db.connect();
    let ids = wallets(&mut conn, &["a", "b", "c"]);
    let (a, b, c) = (ids[0], ids[1], ids[2]);

    // Single row: one entry, naming its transaction.
    book(&mut conn, a, "t1", "100");
    let first = journal(&mut conn, a);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].transaction_count, 1);
    let t1: i64 = scalar(&mut conn, "SELECT id FROM transactions WHERE txid = 't1'")
        .parse()
        .unwrap();
    assert_eq!(first[0].transaction_id, Some(t1));

    // Multi-row: one entry per wallet with its net change and its count; no transaction id
    // when several rows of the wallet were involved.
    exec(
        &mut conn,
        &format!(
            "INSERT INTO transactions (wallet_id, txid, amount)
             VALUES ({a}, 'm1', 1), ({b}, 'm2', 2), ({a}, 'm3', 3)"
        ),
    );
    let last = journal(&mut conn, a).pop().unwrap();
    assert_eq!((last.transaction_count, last.transaction_id), (2, None));
    assert_eq!(steps(&mut conn, b), [step("insert", "2", "2")]);

    // INSERT ... SELECT of many rows into few wallets: one entry per wallet.
    exec(
        &mut conn,
        &format!(
            "INSERT INTO transactions (wallet_id, txid, amount)
             SELECT CASE WHEN g % 2 = 0 THEN {b} ELSE {c} END, 'bulk-' || g, 0.5
             FROM generate_series(1, 1000) AS g"
        ),
    );
    assert_eq!(journal(&mut conn, c).len(), 1);
    assert_eq!(journal(&mut conn, c)[0].transaction_count, 500);

    // COPY goes through the same triggers.
    copy_in(&mut conn, &[(c, "copy-1", "7"), (c, "copy-2", "-2")]);

    // Amount edit (the difference), move (both wallets), txid-only edit (no entry), delete.
    exec(
        &mut conn,
        "UPDATE transactions SET amount = 150 WHERE txid = 't1'",
    );
    exec(
        &mut conn,
        &format!("UPDATE transactions SET wallet_id = {b} WHERE txid = 'm3'"),
    );
    exec(
        &mut conn,
        "UPDATE transactions SET txid = 'm3-moved' WHERE txid = 'm3'",
    );
    exec(&mut conn, "DELETE FROM transactions WHERE txid = 'm1'");

    assert_eq!(
        steps(&mut conn, a),
        [
            step("insert", "100", "100"),
            step("insert", "4", "104"),
            step("update", "50", "154"),
            step("update", "-3", "151"),
            step("delete", "-1", "150"),
        ]
    );
    assert_eq!(
        steps(&mut conn, b),
        [
            step("insert", "2", "2"),
            step("insert", "250", "252"),
            step("update", "3", "255"),
        ]
    );
    assert_eq!(
        steps(&mut conn, c),
        [step("insert", "250", "250"), step("insert", "5", "255")]
    );
    assert_running_totals(&mut conn);

    // TRUNCATE: every balance back to 0, journaled with the rows it removed.
    exec(&mut conn, "TRUNCATE transactions");
    let truncated = journal(&mut conn, c).pop().unwrap();
    assert_eq!(truncated.operation, "truncate");
    assert_eq!(truncated.delta, "-255.000000000000000000");
    assert_eq!(truncated.balance, "0.000000000000000000");
    assert_eq!(truncated.transaction_count, 502);
    assert_running_totals(&mut conn);
}

#[test]
fn a_statement_that_changes_no_balance_leaves_no_entry() {
    let db = TestDb::new();
    let mut conn = db.connect();
    let a = wallet(&mut conn, "a");
    // Net zero in one statement: the balance did not change.
    exec(
        &mut conn,
        &format!(
            "INSERT INTO transactions (wallet_id, txid, amount) VALUES ({a}, 'in', 5), ({a}, 'out', -5)"
        ),
    );
    exec(&mut conn, "UPDATE transactions SET txid = txid || '!'");
    assert!(journal(&mut conn, a).is_empty());
    // The edit is still on record.
    assert_eq!(
        scalar(&mut conn, "SELECT count(*) FROM transaction_revisions"),
        "2"
    );
}

#[test]
fn a_big_insert_select_adds_one_entry_per_wallet_not_per_row() {
    let db = TestDb::new();
    let mut conn = db.connect();
    exec(
        &mut conn,
        "INSERT INTO wallets (label) SELECT 'w' || g FROM generate_series(1, 1000) AS g",
    );
    exec(
        &mut conn,
        "INSERT INTO transactions (wallet_id, txid, amount)
         SELECT 1 + g % 1000, 'bulk-' || g, 0.25 FROM generate_series(1, 100000) AS g",
    );
    assert_eq!(
        scalar(&mut conn, "SELECT count(*) FROM balance_changes"),
        "1000"
    );
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT count(DISTINCT transaction_count) || ':' || min(transaction_count) FROM balance_changes"
        ),
        "1:100"
    );
    assert_running_totals(&mut conn);
}

#[test]
fn a_rolled_back_write_leaves_no_entry_and_no_revision() {
    let db = TestDb::new();
    let mut conn = db.connect();
    let a = wallet(&mut conn, "a");
    book(&mut conn, a, "kept", "10");
    exec(
        &mut conn,
        &format!(
            "BEGIN;
             INSERT INTO transactions (wallet_id, txid, amount) VALUES ({a}, 'gone', 5);
             UPDATE transactions SET amount = 1 WHERE txid = 'kept';
             DELETE FROM transactions WHERE txid = 'kept';
             ROLLBACK;"
        ),
    );
    // A failed statement leaves nothing either.
    exec_err(
        &mut conn,
        &format!("INSERT INTO transactions (wallet_id, txid, amount) VALUES ({a}, 'big', -11)"),
    );
    assert_eq!(steps(&mut conn, a), [step("insert", "10", "10")]);
    assert_eq!(
        scalar(&mut conn, "SELECT count(*) FROM transaction_revisions"),
        "0"
    );
}

#[test]
fn replica_mode_still_journals() {
    let db = TestDb::new();
    let mut conn = db.connect();
    let a = wallet(&mut conn, "a");
    exec(&mut conn, "SET session_replication_role = replica");
    book(&mut conn, a, "r1", "4");
    exec(
        &mut conn,
        "UPDATE transactions SET amount = 6 WHERE txid = 'r1'",
    );
    exec(&mut conn, "RESET session_replication_role");
    assert_eq!(
        steps(&mut conn, a),
        [step("insert", "4", "4"), step("update", "2", "6")]
    );
    assert_eq!(
        scalar(&mut conn, "SELECT count(*) FROM transaction_revisions"),
        "1"
    );
}

#[test]
fn concurrent_writers_to_one_wallet_keep_an_unbroken_running_total() {
    const CLIENTS: usize = 16;
    const EACH: usize = 25;
    let db = TestDb::new();
    let mut conn = db.connect();
    let hot = wallet(&mut conn, "hot");
    book(&mut conn, hot, "fund", "1000");
    all_at_once(
        CLIENTS,
        |_| db.connect(),
        |client, mut conn| {
            for i in 0..EACH {
                // Deposits, withdrawals and edits, interleaved by the scheduler.
                let amount = if i % 3 == 0 { "-1.5" } else { "2.25" };
                book(&mut conn, hot, &format!("c{client}-{i}"), amount);
                if i % 5 == 0 {
                    exec(
                        &mut conn,
                        &format!("UPDATE transactions SET amount = 3 WHERE txid = 'c{client}-{i}'"),
                    );
                }
            }
        },
    );
    let entries = journal(&mut conn, hot);
    assert_eq!(
        entries.len(),
        1 + CLIENTS * EACH + CLIENTS * EACH.div_ceil(5)
    );
    assert_running_totals(&mut conn);
    assert_eq!(entries.last().unwrap().balance, balance(&mut conn, hot));
}

#[test]
fn edits_and_deletions_keep_their_before_images() {
    let db = TestDb::new();
    let mut conn = db.connect();
    let ids = wallets(&mut conn, &["a", "b"]);
    let (a, b) = (ids[0], ids[1]);
    book(&mut conn, a, "t", "100");
    exec(&mut conn, "SET application_name = 'clerk-console'");
    exec(
        &mut conn,
        "UPDATE transactions SET amount = 500 WHERE txid = 't'",
    );
    exec(
        &mut conn,
        &format!("UPDATE transactions SET wallet_id = {b}, txid = 't2' WHERE txid = 't'"),
    );
    exec(&mut conn, "DELETE FROM transactions WHERE txid = 't2'");
    let revisions = scalar(
        &mut conn,
        "SELECT string_agg(concat_ws(' ', operation, old_wallet_id, old_txid, old_amount::numeric(10,0),
                                     coalesce(new_wallet_id::text, '-'), coalesce(new_txid, '-'),
                                     coalesce(new_amount::numeric(10,0)::text, '-'),
                                     revised_by, application), ' | ' ORDER BY id)
         FROM transaction_revisions",
    );
    assert_eq!(
        revisions,
        format!(
            "update {a} t 100 {a} t 500 postgres clerk-console | \
             update {a} t 500 {b} t2 500 postgres clerk-console | \
             delete {b} t2 500 - - - postgres clerk-console"
        )
    );
    // Each revision names the journal rows its statement wrote for the old and new wallet.
    let linked = scalar(
        &mut conn,
        "SELECT string_agg(concat_ws('/', oc.operation, oc.delta::numeric(10,0), nc.delta::numeric(10,0)), ' ' ORDER BY r.id)
         FROM transaction_revisions AS r
         LEFT JOIN balance_changes AS oc ON oc.id = r.old_balance_change_id
         LEFT JOIN balance_changes AS nc ON nc.id = r.new_balance_change_id",
    );
    assert_eq!(linked, "update/400/400 update/-500/500 delete/-500");
    // Entries are attributed to who wrote them.
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT string_agg(DISTINCT changed_by || '@' || application, ',') FROM balance_changes WHERE operation <> 'insert'"
        ),
        "postgres@clerk-console"
    );
}

#[test]
fn truncate_keeps_every_row_as_a_revision() {
    let db = TestDb::new();
    let mut conn = db.connect();
    let a = wallet(&mut conn, "a");
    exec(
        &mut conn,
        &format!(
            "INSERT INTO transactions (wallet_id, txid, amount)
             SELECT {a}, 'x' || g, g FROM generate_series(1, 50) AS g"
        ),
    );
    exec(&mut conn, "TRUNCATE transactions");
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT count(*) || ' ' || sum(old_amount)::numeric(10,0) FROM transaction_revisions WHERE operation = 'truncate'"
        ),
        "50 1275"
    );
    assert_eq!(balance(&mut conn, a), "0.000000000000000000");
}

#[test]
fn the_journal_and_the_revisions_are_append_only() {
    let db = TestDb::new();
    let mut conn = db.connect();
    let a = wallet(&mut conn, "a");
    book(&mut conn, a, "t", "5");
    exec(&mut conn, "DELETE FROM transactions");
    for table in ["balance_changes", "transaction_revisions"] {
        for sql in [
            format!("UPDATE {table} SET operation = operation"),
            format!("DELETE FROM {table}"),
            format!("TRUNCATE {table}"),
        ] {
            let error = exec_err(&mut conn, &sql).to_string();
            assert!(error.contains("append-only"), "{sql}: {error}");
        }
    }
    // Not even as a cascade from wallets.
    let error = exec_err(&mut conn, "TRUNCATE wallets CASCADE").to_string();
    assert!(error.contains("append-only"), "{error}");
    // A wallet with a history is kept.
    let error = exec_err(&mut conn, &format!("DELETE FROM wallets WHERE id = {a}")).to_string();
    assert!(error.contains("balance_changes_wallet_id_fkey"), "{error}");
    assert_eq!(
        scalar(&mut conn, "SELECT count(*) FROM balance_changes"),
        "2"
    );
}

#[test]
fn the_balance_at_a_time_is_the_last_entry_at_or_before_it() {
    let db = TestDb::new();
    let mut conn = db.connect();
    let a = wallet(&mut conn, "a");
    let now = || scalar(&mut db.connect(), "SELECT clock_timestamp()");
    let before = now();
    std::thread::sleep(std::time::Duration::from_millis(5));
    book(&mut conn, a, "t1", "10");
    let after_first = now();
    std::thread::sleep(std::time::Duration::from_millis(5));
    book(&mut conn, a, "t2", "-4");
    exec(
        &mut conn,
        "UPDATE transactions SET amount = 20 WHERE txid = 't1'",
    );
    let at = |conn: &mut PgConnection, time: &str| {
        scalar(conn, &format!("SELECT wallet_balance_at({a}, '{time}')"))
    };
    assert_eq!(at(&mut conn, &before), "0");
    assert_eq!(at(&mut conn, &after_first), "10.000000000000000000");
    assert_eq!(at(&mut conn, "infinity"), "16.000000000000000000");
    // Exactly at an entry's time: that entry counts.
    let second_time = scalar(
        &mut conn,
        &format!(
            "SELECT changed_at FROM balance_changes WHERE wallet_id = {a} ORDER BY id OFFSET 1 LIMIT 1"
        ),
    );
    assert_eq!(at(&mut conn, &second_time), "6.000000000000000000");
    // With a long history, one backward probe of the (wallet_id, changed_at, id) index (the
    // plan, not a timing: BENCHMARKS.md times it).
    let other = wallet(&mut conn, "other");
    exec(
        &mut conn,
        &format!(
            "INSERT INTO transactions (wallet_id, txid, amount)
             SELECT {other}, 'o' || g, 1 FROM generate_series(1, 2000) AS g;
             DO $$ BEGIN FOR i IN 1..2000 LOOP
                 UPDATE transactions SET amount = amount + 1 WHERE txid = 't1';
             END LOOP; END $$;
             ANALYZE balance_changes;"
        ),
    );
    let chosen = plan(
        &mut conn,
        &format!("SELECT wallet_balance_at({a}, now() - interval '1 day')"),
    );
    assert!(
        !chosen.contains("Seq Scan") && !chosen.contains("Sort"),
        "{chosen}"
    );
    let inner = plan(
        &mut conn,
        &format!(
            "SELECT balance FROM balance_changes WHERE wallet_id = {a} AND changed_at <= now() \
             ORDER BY changed_at DESC, id DESC LIMIT 1"
        ),
    );
    assert!(
        inner.contains("Index Scan Backward using balance_changes_wallet_time_idx"),
        "{inner}"
    );
}

/// A login role of its own for one test (roles are shared by the whole cluster), dropped
/// when the test ends.
struct Role {
    name: String,
    url: String,
    owner_url: String,
}

impl Role {
    /// A role that may read and write wallets and transactions, as a clerk in psql.
    fn clerk(db: &TestDb, conn: &mut PgConnection) -> Role {
        let name = format!("clerk_{}", db.name.trim_start_matches("wallet_api_test_"));
        let password = "clerk-password";
        exec(
            conn,
            &format!(
                "CREATE ROLE {name} LOGIN PASSWORD '{password}';
                 GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON wallets, transactions TO {name};
                 GRANT SELECT ON balance_changes, transaction_revisions TO {name};"
            ),
        );
        Role {
            url: crate::helpers::with_user(&db.url, &name, password),
            name,
            owner_url: db.url.clone(),
        }
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(&self.owner_url) {
            let _ = conn.batch_execute(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{0}';
                 DROP OWNED BY {0}; DROP ROLE IF EXISTS {0}",
                self.name
            ));
        }
    }
}

#[test]
fn an_ordinary_user_gets_right_balances_and_cannot_write_one() {
    let db = TestDb::new();
    let mut owner = db.connect();
    let role = Role::clerk(&db, &mut owner);
    let mut clerk = PgConnection::establish(&role.url).unwrap();
    let a = wallet(&mut clerk, "a");
    book(&mut clerk, a, "t", "10");
    exec(&mut clerk, "UPDATE transactions SET amount = 12");
    assert_eq!(balance(&mut clerk, a), "12.000000000000000000");
    assert_eq!(
        scalar(
            &mut clerk,
            &format!(
                "SELECT string_agg(DISTINCT changed_by, ',') FROM balance_changes WHERE wallet_id = {a}"
            )
        ),
        role.name
    );

    // No direct write of a balance, journal row or revision.
    for sql in [
        format!("UPDATE wallets SET balance = 1000 WHERE id = {a}"),
        format!(
            "INSERT INTO balance_changes (wallet_id, delta, balance, operation, transaction_count, changed_at, database_xid, changed_by, application)
             VALUES ({a}, 1, 13, 'insert', 1, now(), pg_current_xact_id(), 'x', 'x')"
        ),
        "SELECT * FROM wallet_repair(true)".to_string(),
        format!("SELECT * FROM wallet_apply('insert', ARRAY[{a}]::bigint[], ARRAY[1]::numeric[], ARRAY[0]::numeric[], ARRAY[1]::bigint[], ARRAY[NULL]::bigint[], ARRAY[0]::bigint[], ARRAY[NULL]::bigint[], ARRAY[NULL]::integer[])"),
    ] {
        let error = exec_err(&mut clerk, &sql).to_string();
        assert!(
            error.contains("permission denied") || error.contains("cannot be written directly"),
            "{sql}: {error}"
        );
    }
    // Not even from a trigger of their own (the old guard let any trigger through).
    exec(
        &mut owner,
        &format!("GRANT CREATE ON SCHEMA public TO {}", role.name),
    );
    exec(
        &mut clerk,
        "CREATE TABLE notes (wallet bigint);
         CREATE FUNCTION sneak() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN UPDATE wallets SET balance = 1000 WHERE id = NEW.wallet; RETURN NEW; END $$;
         CREATE TRIGGER sneak AFTER INSERT ON notes FOR EACH ROW EXECUTE FUNCTION sneak();",
    );
    let error = exec_err(&mut clerk, &format!("INSERT INTO notes VALUES ({a})")).to_string();
    assert!(error.contains("cannot be written directly"), "{error}");
    assert_eq!(balance(&mut clerk, a), "12.000000000000000000");
}
