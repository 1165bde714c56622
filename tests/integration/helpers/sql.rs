//! SQL as a psql user writes it: statements that must succeed or fail, values read back,
//! wallets and bookings made directly; and clients acting at once.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_query;

/// Runs SQL, panicking with the database's message on failure.
pub fn exec(conn: &mut PgConnection, sql: &str) {
    conn.batch_execute(sql)
        .unwrap_or_else(|e| panic!("{sql}\nfailed: {e}"));
}

/// Runs SQL that must fail; returns the error.
pub fn exec_err(conn: &mut PgConnection, sql: &str) -> diesel::result::Error {
    match conn.batch_execute(sql) {
        Ok(()) => panic!("{sql}\nsucceeded, but should have failed"),
        Err(e) => e,
    }
}

#[derive(QueryableByName, Debug)]
struct Text {
    #[diesel(sql_type = diesel::sql_types::Text)]
    value: String,
}

/// The first column of the first row of `sql`, as text.
pub fn scalar(conn: &mut PgConnection, sql: &str) -> String {
    sql_query(format!("SELECT ({sql})::text AS value"))
        .get_result::<Text>(conn)
        .unwrap_or_else(|e| panic!("{sql}\nfailed: {e}"))
        .value
}

/// A wallet's balance as text with 18 decimals.
pub fn balance(conn: &mut PgConnection, wallet: i64) -> String {
    scalar(
        conn,
        &format!("SELECT balance FROM wallets WHERE id = {wallet}"),
    )
}

/// Creates a wallet; returns its id.
pub fn wallet(conn: &mut PgConnection, label: &str) -> i64 {
    wallets(conn, &[label])[0]
}

/// Books one transaction with a plain SQL INSERT, as a SQL user would.
pub fn book(conn: &mut PgConnection, wallet: i64, txid: &str, amount: &str) {
    exec(
        conn,
        &format!(
            "INSERT INTO transactions (wallet_id, txid, amount) VALUES ({wallet}, '{txid}', {amount})"
        ),
    );
}

/// Creates wallets with these labels; returns their ids.
pub fn wallets(conn: &mut PgConnection, labels: &[&str]) -> Vec<i64> {
    use wallet_api::schema::wallets;
    labels
        .iter()
        .map(|label| {
            diesel::insert_into(wallets::table)
                .values(wallets::label.eq(*label))
                .returning(wallets::id)
                .get_result(conn)
                .unwrap()
        })
        .collect()
}

/// Runs `clients` threads at once: each prepares (connects, say), all wait until every one
/// is ready, then each acts. Returns what each one's `act` returned, in client order.
pub fn all_at_once<S, T: Send>(
    clients: usize,
    prepare: impl Fn(usize) -> S + Sync,
    act: impl Fn(usize, S) -> T + Sync,
) -> Vec<T> {
    let ready = std::sync::Barrier::new(clients);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|client| {
                let (ready, prepare, act) = (&ready, &prepare, &act);
                scope.spawn(move || {
                    let prepared = prepare(client);
                    ready.wait();
                    act(client, prepared)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .collect()
    })
}
