//! Reads from a standby (`STANDBY_DATABASE_URL`), with read-your-writes through
//! `Wallet-Api-Lsn`. A real standby, lagging on purpose, is in `tests/cluster.rs`; here the
//! "standby" is the primary itself, which holds every write: what is checked is the header
//! each way and where reads are sent.

use crate::helpers::{TestApp, transaction_document};
use serde_json::json;
use wallet_api::db::standby::Lsn;

fn lsn_of(reply: &crate::helpers::Reply) -> Lsn {
    let text = reply.header("wallet-api-lsn").unwrap_or_else(|| {
        panic!(
            "a write's response carries Wallet-Api-Lsn: {:?}",
            reply.headers
        )
    });
    Lsn::parse(text).unwrap_or_else(|| panic!("{text:?} is a WAL position"))
}

#[test]
fn without_a_standby_writes_carry_no_position_and_reads_take_one() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("w");
    let booked = app.book(&wallet, "no-standby", "5");
    booked.expect(201);
    assert_eq!(booked.header("wallet-api-lsn"), None);
    let read = app.send(
        "GET",
        &format!("/wallets/{wallet}"),
        &[("Wallet-Api-Lsn", "0/1")],
        None,
    );
    read.expect(200);
    assert_eq!(
        read.body["data"]["attributes"]["balance"],
        "5.000000000000000000"
    );
}

#[test]
fn a_position_that_is_not_one_is_refused_with_its_header_named() {
    let app = TestApp::spawn();
    for bad in ["yesterday", "1/2/3", "123456789/0", "G/1", "0/-1"] {
        app.send("GET", "/wallets", &[("Wallet-Api-Lsn", bad)], None)
            .expect_error(400, "invalid-lsn", Some(("header", "Wallet-Api-Lsn")));
    }
    // An empty one sends none.
    app.send("GET", "/wallets", &[("Wallet-Api-Lsn", "")], None)
        .expect(200);
}

#[test]
fn with_a_standby_every_write_returns_its_position_and_reads_go_to_the_standby() {
    let app = TestApp::spawn_with(|config| {
        config.standby_database_url = Some(config.database_url.clone());
    });
    let created = app.post(
        "/wallets",
        json!({"data": {"type": "wallets", "attributes": {"label": "w"}}}),
    );
    created.expect(201);
    let wallet = created.body["data"]["id"].as_str().unwrap().to_string();
    let mut last = lsn_of(&created);
    let booked = app.post("/transactions", transaction_document(&wallet, "s-1", "7"));
    booked.expect(201);
    let renamed = app.patch(
        &format!("/wallets/{wallet}"),
        json!({"data": {"type": "wallets", "id": wallet, "attributes": {"label": "v"}}}),
    );
    renamed.expect(200);
    let atomic = app.operations(json!([
        {"op": "add", "data": {"type": "transactions",
            "attributes": {"txid": "s-2", "amount": "1"},
            "relationships": {"wallet": {"data": {"type": "wallets", "id": wallet}}}}}]));
    atomic.expect(200);
    // Each write's position is at or past the one before it.
    for reply in [&booked, &renamed, &atomic] {
        let lsn = lsn_of(reply);
        assert!(lsn >= last, "{lsn} after {last}");
        last = lsn;
    }
    // A refused write says nothing of a position.
    let refused = app.post(
        "/transactions",
        transaction_document(&wallet, "s-3", "-100"),
    );
    assert!(refused.status >= 400);
    assert_eq!(refused.header("wallet-api-lsn"), None);

    // Reads with the last position go to the standby, which holds it (here: is the primary).
    let before = app.metric("wallet_api_standby_reads_total{served_by=\"standby\"}");
    let position = last.to_string();
    for path in [
        format!("/wallets/{wallet}"),
        format!("/wallets/{wallet}/transactions"),
        format!("/transactions?filter[wallet]={wallet}&include=wallet"),
        format!("/wallets/{wallet}/relationships/transactions"),
    ] {
        let read = app.send("GET", &path, &[("Wallet-Api-Lsn", &position)], None);
        read.expect(200);
    }
    let read = app.send(
        "GET",
        &format!("/wallets/{wallet}"),
        &[("Wallet-Api-Lsn", &position)],
        None,
    );
    assert_eq!(
        read.body["data"]["attributes"]["balance"],
        "8.000000000000000000"
    );
    assert_eq!(
        app.metric("wallet_api_standby_reads_total{served_by=\"standby\"}") - before,
        5.0
    );
    assert_eq!(
        app.metric("wallet_api_standby_reads_total{served_by=\"primary\"}"),
        0.0
    );
}
