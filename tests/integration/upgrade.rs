//! Every migration upgrades databases that already hold money. For each migration: a
//! database migrated up to the one before it and filled through SQL (wallets, bookings,
//! edits and deletions, as a psql user or a batch job would make them), then migrated to the
//! end, must pass `verify`, keep every wallet, transaction and balance, and answer the
//! balance at now right; and the last migration, reverted and applied again, keeps the data.
//! "Migrated to the end" is what `wallet-api migrate` does: the versioned migrations, then
//! the SQL rules of `sql/`.
//!
//! A new migration is covered the moment it exists: nothing here names one.

use diesel::migration::MigrationSource;
use diesel::pg::{Pg, PgConnection};
use diesel_migrations::MigrationHarness;
use wallet_api::db::MIGRATIONS;
use wallet_api::models::wallet::audit_balances;

use crate::helpers::{TestDb, exec, scalar};

fn migrations() -> usize {
    MigrationSource::<Pg>::migrations(&MIGRATIONS)
        .expect("the embedded migrations")
        .len()
}

/// Money in the shape of the schema as it stands: 100 wallets, 5,000 bookings, edits and
/// deletions. Before the balance triggers existed, the balances are written as the sums.
fn fill(conn: &mut PgConnection) {
    exec(
        conn,
        "INSERT INTO wallets (label) SELECT 'upgrade-' || g FROM generate_series(1, 100) AS g;
         INSERT INTO transactions (wallet_id, txid, amount)
         SELECT w.id, 'fill-' || g, (g % 97 + 1) * 0.01
         FROM generate_series(1, 5000) AS g
         JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM wallets) AS w
           ON w.n = g % 100;
         UPDATE transactions SET amount = amount + 1 WHERE id % 10 = 0;
         UPDATE transactions SET wallet_id = (SELECT min(id) FROM wallets) WHERE id % 77 = 0;
         DELETE FROM transactions WHERE id % 50 = 0;",
    );
    // Stored responses of Idempotency-Key requests, once they exist: retries after the
    // upgrade must still be answered with them.
    if has_table(conn, "idempotency_keys") {
        exec(
            conn,
            r#"INSERT INTO idempotency_keys (key, fingerprint, request, status, content_type, headers, body)
               SELECT 'upgrade-key-' || g, sha256(g::text::bytea), 'POST /wallets', 201,
                      'application/vnd.api+json', '[["Location", "/wallets/1"]]', '{"data": ' || g || '}'
               FROM generate_series(1, 20) AS g"#,
        );
    }
    // Holds, once they exist: pending, captured and voided ones.
    if has_table(conn, "holds") {
        exec(
            conn,
            "INSERT INTO holds (wallet_id, amount) SELECT id, 0.01 FROM wallets WHERE balance >= 0.02;
             SELECT capture_hold(id) FROM holds WHERE id % 3 = 0 ORDER BY id;
             UPDATE holds SET status = 'voided' WHERE id % 3 = 1;",
        );
    }
    // Metadata, once it exists: tagged wallets, transactions and holds.
    if has_column(conn, "transactions", "metadata") {
        exec(
            conn,
            "UPDATE wallets SET metadata = jsonb_build_object('account', id::text) WHERE id % 3 = 0;
             UPDATE transactions SET metadata = jsonb_build_object('invoice', (id % 40)::text)
             WHERE id % 7 = 0;
             UPDATE holds SET metadata = '{\"card\": \"x\"}' WHERE id % 2 = 0;",
        );
    }
    // Transfers, once their rules are in force: each books two legs.
    if scalar(
        conn,
        "SELECT count(*) FROM pg_trigger WHERE tgname = 'transfers_legs'",
    ) == "1"
    {
        exec(
            conn,
            "INSERT INTO transfers (txid, source_wallet_id, destination_wallet_id, amount)
             SELECT 'fill-move-' || s.wallet_id, s.wallet_id, d.id, 0.01
             FROM wallet_balances AS s JOIN wallets AS d ON d.id = s.wallet_id + 1
             WHERE s.available >= 0.01 AND s.wallet_id % 5 = 0;",
        );
        assert_ne!(scalar(conn, "SELECT count(*) FROM transfers"), "0");
    }
    // Credit limits, once they exist: wallets that may go below zero.
    if has_column(conn, "wallets", "credit_limit") {
        exec(conn, "UPDATE wallets SET credit_limit = 5 WHERE id % 4 = 0");
    }
    // Exchanges, once their rules are in force: a house in USD and EUR, and a client who
    // changes dollars into euros (each exchange books two transfers, four legs).
    if scalar(
        conn,
        "SELECT count(*) FROM pg_trigger WHERE tgname = 'exchanges_transfers'",
    ) == "1"
    {
        exec(
            conn,
            "INSERT INTO wallets (label, currency, credit_limit) VALUES
                 ('fill-house-usd', 'USD', 1000), ('fill-house-eur', 'EUR', 1000),
                 ('fill-client-usd', 'USD', 0), ('fill-client-eur', 'EUR', 0);
             UPDATE currencies SET liquidity_wallet_id = (SELECT id FROM wallets WHERE label = 'fill-house-usd')
             WHERE code = 'USD';
             UPDATE currencies SET liquidity_wallet_id = (SELECT id FROM wallets WHERE label = 'fill-house-eur')
             WHERE code = 'EUR';
             INSERT INTO transactions (wallet_id, txid, amount)
             SELECT id, 'fill-client-deposit', 100 FROM wallets WHERE label = 'fill-client-usd';
             INSERT INTO exchanges (txid, source_wallet_id, destination_wallet_id, source_amount, rate)
             SELECT 'fill-exchange-' || g, u.id, e.id, 1.5, 0.9123
             FROM generate_series(1, 10) AS g
             CROSS JOIN (SELECT id FROM wallets WHERE label = 'fill-client-usd') AS u
             CROSS JOIN (SELECT id FROM wallets WHERE label = 'fill-client-eur') AS e;",
        );
        assert_eq!(scalar(conn, "SELECT count(*) FROM exchanges"), "10");
    }
    let kept_by_triggers = scalar(
        conn,
        "SELECT count(*) FROM pg_trigger WHERE tgname = 'transactions_balance_insert'",
    );
    if kept_by_triggers == "0" {
        exec(
            conn,
            "UPDATE wallets AS w SET balance = coalesce(
                 (SELECT sum(amount) FROM transactions AS t WHERE t.wallet_id = w.id), 0)",
        );
    }
}

fn has_column(conn: &mut PgConnection, table: &str, column: &str) -> bool {
    scalar(
        conn,
        &format!(
            "SELECT count(*) FROM information_schema.columns \
             WHERE table_name = '{table}' AND column_name = '{column}'"
        ),
    ) == "1"
}

fn has_table(conn: &mut PgConnection, table: &str) -> bool {
    scalar(conn, &format!("SELECT to_regclass('{table}') IS NOT NULL")) == "true"
}

/// What must survive an upgrade: every wallet's balance, every transaction, every stored
/// response.
fn money(conn: &mut PgConnection) -> (String, String, String) {
    let stored = if has_table(conn, "idempotency_keys") {
        scalar(
            conn,
            "SELECT coalesce(md5(string_agg(concat_ws(' ', key, fingerprint, request, status, \
             headers, body), ',' ORDER BY key)), '') FROM idempotency_keys",
        )
    } else {
        String::new()
    };
    (
        scalar(
            conn,
            "SELECT string_agg(id || '=' || balance, ',' ORDER BY id) FROM wallets",
        ),
        scalar(
            conn,
            "SELECT md5(string_agg(concat_ws(' ', id, wallet_id, txid, amount), ',' ORDER BY id)) \
             FROM transactions",
        ),
        stored,
    )
}

/// The upgraded database is right: the audit is empty, nothing was lost, and the journal
/// answers every balance at now.
fn assert_kept(conn: &mut PgConnection, before: &(String, String, String), what: &str) {
    let problems = audit_balances(conn).unwrap();
    assert!(problems.is_empty(), "{what}: verify reports {problems:?}");
    assert_eq!(
        &money(conn),
        before,
        "{what}: balances or transactions changed"
    );
    assert_eq!(
        scalar(
            conn,
            "SELECT count(*) FROM wallets WHERE wallet_balance_at(id, now()) <> balance"
        ),
        "0",
        "{what}: balance-at-now is wrong"
    );
    // Money from before currencies is in XXX, at the 18 digits it always had.
    assert_eq!(
        scalar(
            conn,
            "SELECT count(*) FROM wallets \
             WHERE label LIKE 'upgrade-%' AND (currency <> 'XXX' OR scale <> 18)"
        ),
        "0",
        "{what}: a wallet upgraded into a currency"
    );
}

#[test]
fn every_migration_upgrades_a_database_that_holds_money() {
    let all = migrations();
    assert!(all >= 4, "{all} migrations");
    // From the second on: the first creates the tables the data goes into.
    for before in 1..all {
        let db = TestDb::empty();
        let mut conn = db.connect();
        for _ in 0..before {
            conn.run_next_migration(MIGRATIONS).unwrap();
        }
        fill(&mut conn);
        let kept = money(&mut conn);
        wallet_api::db::run_migrations(&mut conn).unwrap();
        assert_kept(
            &mut conn,
            &kept,
            &format!("from migration {before} of {all}"),
        );
    }
}

#[test]
fn the_last_migration_goes_down_and_up_keeping_the_data() {
    let db = TestDb::new();
    let mut conn = db.connect();
    fill(&mut conn);
    let kept = money(&mut conn);
    conn.revert_last_migration(MIGRATIONS).unwrap();
    wallet_api::db::run_migrations(&mut conn).unwrap();
    assert_kept(&mut conn, &kept, "down and up of the last migration");
}

#[test]
fn the_sql_rules_are_applied_with_the_migrations_and_again_when_one_changes() {
    let db = TestDb::new();
    let mut conn = db.connect();
    assert!(wallet_api::db::rules::stale(&mut conn).unwrap().is_empty());
    assert!(
        wallet_api::db::pending_migrations(&mut conn)
            .unwrap()
            .is_empty()
    );
    // Migrating a current database changes nothing.
    assert!(
        wallet_api::db::run_migrations(&mut conn)
            .unwrap()
            .is_empty()
    );

    // A rule the database holds in another shape (an older version's, or one edited behind
    // the migrations' back) is stale, pending for `serve`, and put back by `migrate`.
    exec(
        &mut conn,
        "CREATE OR REPLACE FUNCTION wallet_balance_at(wallet bigint, at timestamptz)
         RETURNS numeric LANGUAGE sql STABLE AS $$ SELECT 0::numeric $$;
         UPDATE __sql_files SET checksum = 'an older version' WHERE name = '60_history.sql'",
    );
    assert_eq!(
        wallet_api::db::rules::stale(&mut conn).unwrap(),
        ["60_history.sql"]
    );
    assert_eq!(
        wallet_api::db::pending_migrations(&mut conn).unwrap(),
        ["sql/60_history.sql"]
    );
    let applied = wallet_api::db::run_migrations(&mut conn).unwrap();
    assert_eq!(
        applied.len(),
        wallet_api::db::rules::FILES.len(),
        "every file again, in order: {applied:?}"
    );
    exec(&mut conn, "INSERT INTO wallets (label) VALUES ('w')");
    let wallet = scalar(&mut conn, "SELECT max(id) FROM wallets");
    exec(
        &mut conn,
        &format!("INSERT INTO transactions (wallet_id, txid, amount) VALUES ({wallet}, 't', 7)"),
    );
    assert_eq!(
        scalar(
            &mut conn,
            &format!("SELECT wallet_balance_at({wallet}, now())")
        ),
        "7.000000000000000000"
    );
    assert!(wallet_api::db::rules::stale(&mut conn).unwrap().is_empty());
}
