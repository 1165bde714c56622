//! Exchanges: money changed between currencies through the house's liquidity wallets, the
//! amount not given computed by the database and rounded toward the house to the last digit,
//! four legs in one statement, on every path.

use serde_json::{Value, json};

use crate::credit::wallet_with_limit;
use crate::currencies::wallet_in;
use crate::helpers::{TestApp, all_at_once, exec, exec_err, scalar};

/// Names `wallet` the liquidity wallet of `currency` (as the admin test key).
fn make_liquidity(app: &TestApp, currency: &str, wallet: &str) {
    app.patch(
        &format!("/currencies/{currency}"),
        json!({"data": {"type": "currencies", "id": currency, "relationships": {
            "liquidityWallet": {"data": {"type": "wallets", "id": wallet}}}}}),
    )
    .expect(200);
}

/// The house: a USD and a BTC liquidity wallet, with credit limits of 1,000,000 USD and
/// `btc_limit` BTC.
pub(crate) fn house(app: &TestApp, btc_limit: &str) -> (String, String) {
    let usd = wallet_with_limit(app, "house USD", "USD", "1000000");
    let btc = wallet_with_limit(app, "house BTC", "BTC", btc_limit);
    make_liquidity(app, "USD", &usd);
    make_liquidity(app, "BTC", &btc);
    (usd, btc)
}

/// A client with a USD wallet holding `dollars` and an empty BTC wallet.
pub(crate) fn client(app: &TestApp, name: &str, dollars: &str) -> (String, String) {
    let usd = wallet_in(app, &format!("{name} USD"), "USD");
    let btc = wallet_in(app, &format!("{name} BTC"), "BTC");
    app.book(&usd, &format!("{name}-deposit"), dollars)
        .expect(201);
    (usd, btc)
}

pub(crate) fn exchange_document(
    txid: &str,
    source: &str,
    destination: &str,
    amounts: Value,
    rate: &str,
) -> Value {
    let mut attributes = amounts;
    attributes["txid"] = json!(txid);
    attributes["rate"] = json!(rate);
    json!({"data": {"type": "exchanges", "attributes": attributes, "relationships": {
        "source": {"data": {"type": "wallets", "id": source}},
        "destination": {"data": {"type": "wallets", "id": destination}}}}})
}

/// One exchange of 10 USD into BTC between a new client's wallets (a house made for it);
/// its id, and the client's (USD, BTC) wallets.
pub(crate) fn one_exchange(app: &TestApp) -> (String, String, String) {
    house(app, "10");
    let (usd, btc) = client(app, "one", "100");
    let made = app.post(
        "/exchanges",
        exchange_document("one", &usd, &btc, json!({"sourceAmount": "10"}), "0.00001"),
    );
    made.expect(201);
    (
        made.body["data"]["id"].as_str().unwrap().to_string(),
        usd,
        btc,
    )
}

fn counts(app: &TestApp) -> String {
    scalar(
        &mut app.db.connect(),
        "SELECT (SELECT count(*) FROM exchanges) || '/' || (SELECT count(*) FROM transfers) \
         || '/' || (SELECT count(*) FROM transactions) || '/' || (SELECT count(*) FROM balance_changes)",
    )
}

#[test]
fn a_source_amount_buys_what_the_rate_gives_truncated_toward_the_house() {
    let app = TestApp::spawn();
    let (house_usd, house_btc) = house(&app, "10");
    let (usd, btc) = client(&app, "alice", "1000");
    // 100 USD x 0.00001234567 = 0.001234567 BTC: 0.00123456 at BTC's 8 digits, not ...57.
    let made = app.post(
        "/exchanges?include=transfers",
        exchange_document(
            "buy-1",
            &usd,
            &btc,
            json!({"sourceAmount": "100"}),
            "0.00001234567",
        ),
    );
    made.expect(201);
    let attributes = &made.body["data"]["attributes"];
    assert_eq!(attributes["sourceAmount"], "100.00");
    assert_eq!(attributes["destinationAmount"], "0.00123456");
    assert_eq!(attributes["rate"], "0.00001234567");
    assert_eq!(attributes["sourceCurrency"], "USD");
    assert_eq!(attributes["destinationCurrency"], "BTC");
    assert_eq!(app.balance(&usd), "900.00");
    assert_eq!(app.balance(&btc), "0.00123456");
    assert_eq!(app.balance(&house_usd), "100.00");
    assert_eq!(app.balance(&house_btc), "-0.00123456");
    // Its two transfers, through the house, each naming the exchange.
    let transfers = made.body["data"]["relationships"]["transfers"]["data"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(transfers.len(), 2);
    let included = made.body["included"].as_array().unwrap();
    assert_eq!(included.len(), 2);
    let id = made.body["data"]["id"].as_str().unwrap();
    let sides: Vec<(String, String, String)> = transfers
        .iter()
        .map(|linkage| {
            let transfer = app.get(&format!("/transfers/{}", linkage["id"].as_str().unwrap()));
            transfer.expect(200);
            let data = &transfer.body["data"];
            assert_eq!(data["relationships"]["exchange"]["data"]["id"], id);
            (
                data["relationships"]["source"]["data"]["id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                data["relationships"]["destination"]["data"]["id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                data["attributes"]["amount"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        sides,
        vec![
            (usd.clone(), house_usd.clone(), "100.00".to_string()),
            (house_btc.clone(), btc.clone(), "0.00123456".to_string())
        ]
    );
    // Four legs, and a journal row for each of the four wallets.
    assert_eq!(counts(&app), "1/2/5/5");
    // A transfer of an exchange is not reversed on its own.
    app.post(
        "/transfers",
        json!({"data": {"type": "transfers", "attributes": {"txid": "undo", "amount": "1"},
            "relationships": {"reverses": {"data": {"type": "transfers",
                "id": transfers[0]["id"]}}}}}),
    )
    .expect_error(422, "invalid-reversal", None);
}

#[test]
fn a_destination_amount_costs_what_the_rate_asks_rounded_up_toward_the_house() {
    let app = TestApp::spawn();
    let (house_usd, house_btc) = house(&app, "10");
    let (usd, btc) = client(&app, "bob", "1000");
    // 0.01 BTC at 0.0000105 BTC per USD: 952.380952... USD, so 952.39.
    let made = app.post(
        "/exchanges",
        exchange_document(
            "buy-2",
            &usd,
            &btc,
            json!({"destinationAmount": "0.01"}),
            "0.0000105",
        ),
    );
    made.expect(201);
    assert_eq!(made.body["data"]["attributes"]["sourceAmount"], "952.39");
    assert_eq!(
        made.body["data"]["attributes"]["destinationAmount"],
        "0.01000000"
    );
    assert_eq!(app.balance(&usd), "47.61");
    assert_eq!(app.balance(&btc), "0.01000000");
    assert_eq!(app.balance(&house_usd), "952.39");
    assert_eq!(app.balance(&house_btc), "-0.01000000");
}

#[test]
fn ether_at_eighteen_digits_changes_into_dollars_both_ways_to_the_last_digit() {
    let app = TestApp::spawn();
    let house_usd = wallet_with_limit(&app, "house USD", "USD", "1000000");
    let house_eth = wallet_with_limit(&app, "house ETH", "ETH", "1000");
    make_liquidity(&app, "USD", &house_usd);
    make_liquidity(&app, "ETH", &house_eth);
    let eth = wallet_in(&app, "carol ETH", "ETH");
    let usd = wallet_in(&app, "carol USD", "USD");
    app.book(&eth, "carol-eth", "1").expect(201);
    // 0.123456789012345678 ETH x 3456.78 = 426.76295912209629279684 USD: 426.76.
    let sold = app.post(
        "/exchanges",
        exchange_document(
            "sell-eth",
            &eth,
            &usd,
            json!({"sourceAmount": "0.123456789012345678"}),
            "3456.78",
        ),
    );
    sold.expect(201);
    assert_eq!(
        sold.body["data"]["attributes"]["destinationAmount"],
        "426.76"
    );
    // 250 USD / 3456.78 = 0.0723216403705182279462... ETH: 0.072321640370518228.
    let bought = app.post(
        "/exchanges",
        exchange_document(
            "sell-eth-2",
            &eth,
            &usd,
            json!({"destinationAmount": "250"}),
            "3456.78",
        ),
    );
    bought.expect(201);
    assert_eq!(
        bought.body["data"]["attributes"]["sourceAmount"],
        "0.072321640370518228"
    );
    assert_eq!(app.balance(&eth), "0.804221570617136094");
    assert_eq!(app.balance(&usd), "676.76");
    assert_eq!(app.balance(&house_usd), "-676.76");
}

#[test]
fn refused_exchanges_write_nothing_and_say_why() {
    let app = TestApp::spawn();
    let (_, house_btc) = house(&app, "1");
    let (usd, btc) = client(&app, "dave", "100");
    let other_usd = wallet_in(&app, "dave savings", "USD");
    let eur = wallet_in(&app, "dave EUR", "EUR");
    let before = counts(&app);
    let post = |txid: &str, source: &str, destination: &str, amounts: Value, rate: &str| {
        app.post(
            "/exchanges",
            exchange_document(txid, source, destination, amounts, rate),
        )
    };
    // One currency on both sides: that is a transfer.
    post("r1", &usd, &other_usd, json!({"sourceAmount": "1"}), "1").expect_error(
        422,
        "same-currency",
        None,
    );
    // A currency without a liquidity wallet, named.
    let none = post("r2", &usd, &eur, json!({"sourceAmount": "1"}), "0.9");
    none.expect_error(422, "no-liquidity-wallet", None);
    assert_eq!(none.error()["meta"]["currency"], "EUR");
    // Both amounts, or none.
    post(
        "r3",
        &usd,
        &btc,
        json!({"sourceAmount": "1", "destinationAmount": "1"}),
        "1",
    )
    .expect_error(422, "invalid-attribute", None);
    post("r4", &usd, &btc, json!({}), "1").expect_error(422, "invalid-attribute", None);
    // An amount that buys nothing at BTC's scale: 0.01 USD x 0.0000001 = 0.000000001.
    post(
        "r5",
        &usd,
        &btc,
        json!({"sourceAmount": "0.01"}),
        "0.0000001",
    )
    .expect_error(
        422,
        "exchange-amount-zero",
        Some(("pointer", "/data/attributes/sourceAmount")),
    );
    // A rate of zero, or finer than 18 digits.
    post("r6", &usd, &btc, json!({"sourceAmount": "1"}), "0").expect(422);
    post(
        "r7",
        &usd,
        &btc,
        json!({"sourceAmount": "1"}),
        "0.0000000000000000001",
    )
    .expect(422);
    // An amount finer than its currency.
    post(
        "r8",
        &usd,
        &btc,
        json!({"sourceAmount": "1.001"}),
        "0.00001",
    )
    .expect_error(
        422,
        "amount-precision",
        Some(("pointer", "/data/attributes/sourceAmount")),
    );
    // The source without the money: named as the source.
    let poor = post(
        "r9",
        &usd,
        &btc,
        json!({"sourceAmount": "100.01"}),
        "0.00001",
    );
    poor.expect_error(409, "insufficient-funds", None);
    assert!(
        poor.error()["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("the source, wallet {usd}")),
        "{:#}",
        poor.body
    );
    // The liquidity wallet without the money (a limit of 1 BTC): named, its amount not told.
    let dry = post(
        "r10",
        &usd,
        &btc,
        json!({"destinationAmount": "1.5"}),
        "0.02",
    );
    dry.expect_error(409, "insufficient-funds", None);
    let detail = dry.error()["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("liquidity wallet {house_btc}")),
        "{detail}"
    );
    assert!(!detail.contains("available"), "{detail}");
    // An amount that computes to 10^18 or more, either way.
    post(
        "r13",
        &usd,
        &btc,
        json!({"sourceAmount": "99"}),
        "999999999999999999",
    )
    .expect_error(
        422,
        "balance-overflow",
        Some(("pointer", "/data/attributes/sourceAmount")),
    );
    post(
        "r14",
        &usd,
        &btc,
        json!({"destinationAmount": "1"}),
        "0.000000000000000001",
    )
    .expect_error(422, "balance-overflow", None);
    // A liquidity wallet as a side.
    post(
        "r11",
        &usd,
        &house_btc,
        json!({"sourceAmount": "1"}),
        "0.00001",
    )
    .expect_error(422, "liquidity-wallet-side", None);
    // A wallet that does not exist.
    post(
        "r12",
        &usd,
        "999999",
        json!({"sourceAmount": "1"}),
        "0.00001",
    )
    .expect_error(
        404,
        "wallet-not-found",
        Some(("pointer", "/data/relationships/destination/data")),
    );
    assert_eq!(counts(&app), before);
    // A txid exchanges once.
    post("once", &usd, &btc, json!({"sourceAmount": "1"}), "0.00001").expect(201);
    let again = post("once", &usd, &btc, json!({"sourceAmount": "2"}), "0.00001");
    again.expect_error(409, "duplicate-txid", None);
    assert_eq!(again.error()["meta"]["existing"]["type"], "exchanges");
    // Never deleted, only its metadata changes.
    let id = app.get("/exchanges?filter[txid]=once").ids()[0].clone();
    app.delete(&format!("/exchanges/{id}")).expect(403);
    app.patch(
        &format!("/exchanges/{id}"),
        json!({"data": {"type": "exchanges", "id": id, "attributes": {"metadata": {"quote": "Q-1"}}}}),
    )
    .expect(200);
    app.patch(
        &format!("/exchanges/{id}"),
        json!({"data": {"type": "exchanges", "id": id, "attributes": {"rate": "2"}}}),
    )
    .expect_error(403, "read-only-field", None);
}

#[test]
fn concurrent_exchanges_never_take_a_liquidity_wallet_past_its_limit() {
    let app = TestApp::spawn();
    let (_, house_btc) = house(&app, "10");
    let buyers: Vec<(String, String)> = (0..16)
        .map(|i| client(&app, &format!("buyer{i}"), "1000000"))
        .collect();
    let statuses = all_at_once(
        16,
        |i| buyers[i].clone(),
        |i, (usd, btc)| {
            app.post(
                "/exchanges",
                exchange_document(
                    &format!("rush-{i}"),
                    &usd,
                    &btc,
                    json!({"destinationAmount": "1"}),
                    "0.00002",
                ),
            )
            .status
        },
    );
    assert_eq!(statuses.iter().filter(|&&status| status == 201).count(), 10);
    assert_eq!(statuses.iter().filter(|&&status| status == 409).count(), 6);
    assert_eq!(app.balance(&house_btc), "-10.00000000");
    assert_eq!(
        app.get(&format!("/wallets/{house_btc}")).body["data"]["attributes"]["available"],
        "0.00000000"
    );
}

#[test]
fn an_exchange_runs_in_atomic_operations_and_replays_with_an_idempotency_key() {
    let app = TestApp::spawn();
    let (_, _) = house(&app, "10");
    let (usd, btc) = client(&app, "erin", "1000");
    let savings = wallet_in(&app, "erin savings", "BTC");
    // An exchange and a transfer of what it bought, in one request.
    let exchange = exchange_document(
        "atomic-x",
        &usd,
        &btc,
        json!({"destinationAmount": "0.01"}),
        "0.0000105",
    );
    let done = app.operations(json!([
        {"op": "add", "data": exchange["data"]},
        {"op": "add", "data": {"type": "transfers", "attributes": {"txid": "atomic-t", "amount": "0.01"},
            "relationships": {"source": {"data": {"type": "wallets", "id": btc}},
                              "destination": {"data": {"type": "wallets", "id": savings}}}}}
    ]));
    done.expect(200);
    assert_eq!(app.balance(&savings), "0.01000000");
    // The same, with a transfer that cannot be made: nothing of either.
    let before = counts(&app);
    let exchange = exchange_document(
        "atomic-x2",
        &usd,
        &btc,
        json!({"sourceAmount": "10"}),
        "0.0000105",
    );
    app.operations(json!([
        {"op": "add", "data": exchange["data"]},
        {"op": "add", "data": {"type": "transfers", "attributes": {"txid": "atomic-t2", "amount": "1"},
            "relationships": {"source": {"data": {"type": "wallets", "id": btc}},
                              "destination": {"data": {"type": "wallets", "id": savings}}}}}
    ]))
    .expect(409);
    assert_eq!(counts(&app), before);

    // A retried request with its Idempotency-Key gets the first answer, and exchanges once.
    let body = exchange_document(
        "retried",
        &usd,
        &btc,
        json!({"sourceAmount": "10"}),
        "0.00001",
    )
    .to_string();
    let headers = [
        ("Content-Type", crate::helpers::JSONAPI),
        ("Accept", crate::helpers::JSONAPI),
        ("Idempotency-Key", "exchange-retry-1"),
    ];
    let first = app.send("POST", "/exchanges", &headers, Some(body.clone()));
    first.expect(201);
    let second = app.send("POST", "/exchanges", &headers, Some(body));
    second.expect(201);
    assert_eq!(first.body, second.body);
    assert_eq!(
        scalar(
            &mut app.db.connect(),
            "SELECT count(*) FROM exchanges WHERE txid = 'retried'"
        ),
        "1"
    );
}

#[test]
fn a_wallet_limited_key_exchanges_between_its_wallets_and_sees_the_house_by_id_only() {
    let app = TestApp::spawn();
    let (house_usd, _) = house(&app, "10");
    let (usd, btc) = client(&app, "frank", "1000");
    let (_, stranger_btc) = client(&app, "grace", "1");
    let (_, secret) = app.new_key("frank", &["read", "write"], &[&usd, &btc]);
    let frank = app.as_key(Some(&secret));
    let made = frank.post(
        "/exchanges",
        exchange_document(
            "frank-1",
            &usd,
            &btc,
            json!({"sourceAmount": "10"}),
            "0.00001",
        ),
    );
    made.expect(201);
    let id = made.body["data"]["id"].as_str().unwrap();
    // Its exchange and both transfers are its to read; the house's wallet is not.
    frank.get(&format!("/exchanges/{id}")).expect(200);
    for linkage in made.body["data"]["relationships"]["transfers"]["data"]
        .as_array()
        .unwrap()
    {
        frank
            .get(&format!("/transfers/{}", linkage["id"].as_str().unwrap()))
            .expect(200);
    }
    frank.get(&format!("/wallets/{house_usd}")).expect(404);
    assert_eq!(frank.get("/exchanges").ids(), vec![id.to_string()]);
    // Into a wallet that is not its own: that wallet does not exist for it.
    frank
        .post(
            "/exchanges",
            exchange_document(
                "frank-2",
                &usd,
                &stranger_btc,
                json!({"sourceAmount": "10"}),
                "0.00001",
            ),
        )
        .expect_error(404, "wallet-not-found", None);
}

#[test]
fn liquidity_wallets_hold_their_currency_and_are_named_by_admins() {
    let app = TestApp::spawn();
    let btc = wallet_in(&app, "not dollars", "BTC");
    let named = |wallet: &str| {
        app.patch(
            "/currencies/USD",
            json!({"data": {"type": "currencies", "id": "USD", "relationships": {
                "liquidityWallet": {"data": {"type": "wallets", "id": wallet}}}}}),
        )
    };
    named(&btc).expect_error(
        422,
        "currency-mismatch",
        Some(("pointer", "/data/relationships/liquidityWallet/data")),
    );
    named("999999").expect_error(404, "wallet-not-found", None);
    let usd = wallet_in(&app, "house", "USD");
    named(&usd).expect(200);
    let shown = app.get("/currencies/USD?include=liquidityWallet");
    assert_eq!(
        shown.body["data"]["relationships"]["liquidityWallet"]["data"]["id"],
        usd.as_str()
    );
    assert_eq!(shown.body["included"][0]["id"], usd.as_str());
    // Its wallet is kept while it is named.
    app.delete(&format!("/wallets/{usd}")).expect(409);
    // In SQL too.
    let mut conn = app.db.connect();
    let error = exec_err(
        &mut conn,
        &format!("UPDATE currencies SET liquidity_wallet_id = {btc} WHERE code = 'EUR'"),
    );
    assert!(error.to_string().contains("holds BTC"), "{error}");
    // A write key does not name one.
    let (_, writer) = app.new_key("writer", &["read", "write"], &[]);
    app.as_key(Some(&writer))
        .patch(
            "/currencies/USD",
            json!({"data": {"type": "currencies", "id": "USD", "relationships": {
                "liquidityWallet": {"data": null}}}}),
        )
        .expect_error(403, "insufficient-scope", None);
}

#[test]
fn sql_writers_get_the_same_rules_and_filters_find_exchanges() {
    let app = TestApp::spawn();
    let (house_usd, house_btc) = house(&app, "10");
    let (usd, btc) = client(&app, "heidi", "1000");
    let mut conn = app.db.connect();
    // The database computes the amount not given, in bulk too.
    exec(
        &mut conn,
        &format!(
            "INSERT INTO exchanges (txid, source_wallet_id, destination_wallet_id, source_amount, rate) \
             SELECT 'sql-' || i, {usd}, {btc}, 10, 0.00001234567 FROM generate_series(1, 3) AS i"
        ),
    );
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT string_agg(DISTINCT destination_amount::text, ',') FROM exchanges"
        ),
        "0.000123450000000000"
    );
    assert_eq!(app.balance(&usd), "970.00");
    assert_eq!(app.balance(&house_btc), "-0.00037035");
    // Both amounts given: they must agree.
    let error = exec_err(
        &mut conn,
        &format!(
            "INSERT INTO exchanges (txid, source_wallet_id, destination_wallet_id, source_amount, \
             destination_amount, rate) VALUES ('sql-x', {usd}, {btc}, 10, 0.0002, 0.00001234567)"
        ),
    );
    assert!(
        error
            .to_string()
            .contains("buys 0.00012345 BTC, not 0.00020000"),
        "{error}"
    );
    exec(
        &mut conn,
        &format!(
            "INSERT INTO exchanges (txid, source_wallet_id, destination_wallet_id, source_amount, \
             destination_amount, rate) VALUES ('sql-y', {usd}, {btc}, 10, 0.00012345, 0.00001234567)"
        ),
    );
    // Kept: no delete, no truncate, no change but metadata, no transfer of its own making.
    for statement in [
        "DELETE FROM exchanges".to_string(),
        "TRUNCATE exchanges CASCADE".to_string(),
        "UPDATE exchanges SET rate = 1".to_string(),
        format!(
            "INSERT INTO transfers (txid, source_wallet_id, destination_wallet_id, amount, exchange_id) \
             VALUES ('fake', {usd}, {house_usd}, 1, 1)"
        ),
    ] {
        let error = exec_err(&mut conn, &statement);
        assert!(
            error.to_string().contains("exchange"),
            "{statement}: {error}"
        );
    }
    exec(
        &mut conn,
        "UPDATE exchanges SET metadata = '{\"desk\": \"sql\"}'",
    );

    // Filters.
    let all = app.get("/exchanges?sort=id");
    assert_eq!(all.ids().len(), 4);
    assert_eq!(
        app.get(&format!("/exchanges?filter[wallet]={btc}"))
            .ids()
            .len(),
        4
    );
    assert_eq!(
        app.get(&format!("/exchanges?filter[source]={btc}"))
            .ids()
            .len(),
        0
    );
    assert_eq!(
        app.get("/exchanges?filter[sourceCurrency]=USD&filter[destinationCurrency]=BTC")
            .ids()
            .len(),
        4
    );
    assert_eq!(
        app.get("/exchanges?filter[sourceCurrency]=BTC").ids().len(),
        0
    );
    assert_eq!(
        app.get("/exchanges?filter[metadata.desk]=sql").ids().len(),
        4
    );
    assert_eq!(
        app.get("/exchanges?filter[createdAt.gte]=2000-01-01")
            .ids()
            .len(),
        4
    );
    assert_eq!(
        app.get(&format!("/wallets/{usd}/exchanges?filter[direction]=out"))
            .ids()
            .len(),
        4
    );
    assert_eq!(
        app.get(&format!("/wallets/{usd}/exchanges?filter[direction]=in"))
            .ids()
            .len(),
        0
    );
    let sparse = app.get("/exchanges?fields[exchanges]=rate&page[size]=1");
    assert_eq!(
        sparse.body["data"][0]["attributes"],
        json!({"rate": "0.00001234567"})
    );
}

#[test]
fn a_source_pays_from_its_credit_line_and_not_from_held_money() {
    let app = TestApp::spawn();
    house(&app, "10");
    // A client with no dollars and a credit line of 100, 30 of it held.
    let usd = wallet_with_limit(&app, "line USD", "USD", "100");
    let btc = wallet_in(&app, "line BTC", "BTC");
    crate::holds::hold(&app, &usd, "30");
    let post = |txid: &str, amount: &str| {
        app.post(
            "/exchanges",
            exchange_document(txid, &usd, &btc, json!({"sourceAmount": amount}), "0.00001"),
        )
    };
    post("line-over", "70.01").expect_error(409, "insufficient-funds", None);
    post("line-1", "70").expect(201);
    assert_eq!(app.balance(&usd), "-70.00");
    assert_eq!(app.balance(&btc), "0.00070000");
    assert_eq!(
        app.get(&format!("/wallets/{usd}")).body["data"]["attributes"]["available"],
        "0.00"
    );
}
