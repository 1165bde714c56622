//! Currencies: every wallet holds one, every amount is exact at its scale on every write
//! path (the API's and SQL's, bulk statements included), and every amount goes out with
//! exactly the currency's fractional digits.

use serde_json::{Value, json};

use crate::helpers::{TestApp, exec, exec_err, scalar};
use crate::holds::{hold, hold_document, resolve};

/// Creates a wallet of this currency over the API; returns its id.
pub(crate) fn wallet_in(app: &TestApp, label: &str, currency: &str) -> String {
    let reply = app.post(
        "/wallets",
        json!({"data": {"type": "wallets", "attributes": {"label": label, "currency": currency}}}),
    );
    reply.expect(201);
    assert_eq!(reply.body["data"]["attributes"]["currency"], currency);
    reply.body["data"]["id"].as_str().unwrap().to_string()
}

fn attributes(app: &TestApp, path: &str) -> Value {
    let reply = app.get(path);
    reply.expect(200);
    reply.body["data"]["attributes"].clone()
}

#[test]
fn the_catalogue_holds_iso_4217_the_common_crypto_assets_and_xxx() {
    let app = TestApp::spawn();
    let mut conn = app.db.connect();
    for (code, scale, kind) in [
        ("USD", 2, "iso"),
        ("EUR", 2, "iso"),
        ("JPY", 0, "iso"),
        ("KWD", 3, "iso"),
        ("CLF", 4, "iso"),
        ("BTC", 8, "crypto"),
        ("ETH", 18, "crypto"),
        ("USDT", 6, "crypto"),
        ("USDC", 6, "crypto"),
        ("XXX", 18, "iso"),
    ] {
        assert_eq!(
            scalar(
                &mut conn,
                &format!("SELECT scale || ' ' || kind FROM currencies WHERE code = '{code}'")
            ),
            format!("{scale} {kind}"),
            "{code}"
        );
    }
    assert!(
        scalar(
            &mut conn,
            "SELECT count(*) FROM currencies WHERE kind = 'iso'"
        )
        .parse::<i64>()
        .unwrap()
            > 150
    );
    // A code is 2 to 16 of A-Z and 0-9, starting with a letter.
    exec_err(
        &mut conn,
        "INSERT INTO currencies (code, name, scale, kind) VALUES ('usd', 'x', 2, 'custom')",
    );
    exec_err(
        &mut conn,
        "INSERT INTO currencies (code, name, scale, kind) VALUES ('PTS', 'x', 19, 'custom')",
    );
}

#[test]
fn every_amount_goes_out_at_its_currencys_scale() {
    let app = TestApp::spawn();
    let usd = wallet_in(&app, "usd", "USD");
    let jpy = wallet_in(&app, "jpy", "JPY");
    let btc = wallet_in(&app, "btc", "BTC");
    let eth = wallet_in(&app, "eth", "ETH");
    let none = app.create_wallet("none");

    for (wallet, amount, shown) in [
        (&usd, "100.5", "100.50"),
        (&usd, "-0.25", "-0.25"),
        (&jpy, "1500", "1500"),
        (&jpy, "-500.000", "-500"),
        (&btc, "0.00000001", "0.00000001"),
        (&eth, "1.000000000000000001", "1.000000000000000001"),
        (&none, "2.5", "2.500000000000000000"),
    ] {
        let reply = app.book(wallet, &format!("t-{wallet}-{amount}"), amount);
        reply.expect(201);
        assert_eq!(
            reply.body["data"]["attributes"]["amount"], shown,
            "{amount}"
        );
        let id = reply.body["data"]["id"].as_str().unwrap();
        assert_eq!(
            attributes(&app, &format!("/transactions/{id}"))["amount"],
            shown
        );
    }
    for (wallet, currency, balance) in [
        (&usd, "USD", "100.25"),
        (&jpy, "JPY", "1000"),
        (&btc, "BTC", "0.00000001"),
        (&eth, "ETH", "1.000000000000000001"),
        (&none, "XXX", "2.500000000000000000"),
    ] {
        let shown = attributes(&app, &format!("/wallets/{wallet}"));
        assert_eq!(shown["currency"], currency);
        assert_eq!(shown["balance"], balance, "{currency}");
        assert_eq!(shown["available"], balance, "{currency}");
        let journal = app.get(&format!("/wallets/{wallet}/balance-changes?sort=-id"));
        journal.expect(200);
        let last = &journal.body["data"][0]["attributes"];
        assert_eq!(last["balance"], balance, "{currency}");
        assert_eq!(last["currency"], currency);
    }
    let journal = app.get(&format!("/wallets/{jpy}/balance-changes?sort=id"));
    assert_eq!(journal.body["data"][1]["attributes"]["delta"], "-500");
    assert_eq!(journal.body["data"][1]["attributes"]["held"], "0");

    // The balance at a time, at the scale too.
    let past = app.get(&format!("/wallets/{usd}?balanceAt=2999-01-01T00:00:00Z"));
    past.expect(200);
    assert_eq!(past.body["data"]["meta"]["balanceAt"]["balance"], "100.25");
    assert_eq!(
        past.body["data"]["meta"]["balanceAt"]["available"],
        "100.25"
    );

    // A hold and a partial capture.
    let hold = app.post("/holds", hold_document(&usd, "30", None));
    hold.expect(201);
    assert_eq!(hold.body["data"]["attributes"]["amount"], "30.00");
    assert_eq!(hold.body["data"]["attributes"]["currency"], "USD");
    let id = hold.body["data"]["id"].as_str().unwrap();
    let captured = app.patch(
        &format!("/holds/{id}"),
        resolve(id, json!({"status": "captured", "capturedAmount": "20.5"})),
    );
    captured.expect(200);
    assert_eq!(
        captured.body["data"]["attributes"]["capturedAmount"],
        "20.50"
    );
    assert_eq!(
        attributes(&app, &format!("/wallets/{usd}"))["balance"],
        "79.75"
    );
}

#[test]
fn an_amount_finer_than_the_currency_is_refused_on_every_path_and_nothing_is_written() {
    let app = TestApp::spawn();
    let usd = wallet_in(&app, "usd", "USD");
    app.book(&usd, "seed", "100").expect(201);

    let refused = app.book(&usd, "fine", "1.005");
    refused.expect_error(
        422,
        "amount-precision",
        Some(("pointer", "/data/attributes/amount")),
    );
    let detail = refused.error()["detail"].as_str().unwrap();
    assert!(detail.contains("USD") && detail.contains('2'), "{detail}");
    // Trailing zeros are not digits of precision.
    app.book(&usd, "fine-zeros", "1.500").expect(201);
    app.post("/holds", hold_document(&usd, "0.001", None))
        .expect_error(
            422,
            "amount-precision",
            Some(("pointer", "/data/attributes/amount")),
        );
    let id = hold(&app, &usd, "10");
    app.patch(
        &format!("/holds/{id}"),
        resolve(
            &id,
            json!({"status": "captured", "capturedAmount": "5.555"}),
        ),
    )
    .expect_error(
        422,
        "amount-precision",
        Some(("pointer", "/data/attributes/capturedAmount")),
    );
    // In an atomic request, the whole request is refused.
    let reply = app.operations(json!([
        {"op": "add", "data": {"type": "transactions", "attributes": {"txid": "a1", "amount": "1"},
            "relationships": {"wallet": {"data": {"type": "wallets", "id": usd}}}}},
        {"op": "add", "data": {"type": "transactions", "attributes": {"txid": "a2", "amount": "0.001"},
            "relationships": {"wallet": {"data": {"type": "wallets", "id": usd}}}}}
    ]));
    assert_eq!(reply.status, 422, "{:#}", reply.body);
    assert_eq!(reply.error()["code"], "amount-precision");
    assert_eq!(
        attributes(&app, &format!("/wallets/{usd}"))["balance"],
        "101.50"
    );

    // In SQL: one row, a bulk statement with one wrong row of a thousand, a change of amount.
    let mut conn = app.db.connect();
    let wallet: i64 = usd.parse().unwrap();
    let error = exec_err(
        &mut conn,
        &format!(
            "INSERT INTO transactions (wallet_id, txid, amount) VALUES ({wallet}, 's1', 1.005)"
        ),
    );
    assert!(error.to_string().contains("amount precision"), "{error}");
    exec_err(
        &mut conn,
        &format!(
            "INSERT INTO transactions (wallet_id, txid, amount) \
             SELECT {wallet}, 'bulk-' || i, CASE WHEN i = 500 THEN 0.001 ELSE 0.01 END \
             FROM generate_series(1, 1000) AS i"
        ),
    );
    // Rows that cancel out are judged one by one all the same.
    exec_err(
        &mut conn,
        &format!(
            "INSERT INTO transactions (wallet_id, txid, amount) \
             VALUES ({wallet}, 'c1', 0.001), ({wallet}, 'c2', -0.001)"
        ),
    );
    exec_err(
        &mut conn,
        "UPDATE transactions SET amount = 2.345 WHERE txid = 'seed'",
    );
    exec_err(
        &mut conn,
        &format!("INSERT INTO holds (wallet_id, amount) VALUES ({wallet}, 0.125)"),
    );
    assert_eq!(
        scalar(
            &mut conn,
            &format!("SELECT count(*) FROM transactions WHERE wallet_id = {wallet}")
        ),
        "2"
    );
    assert_eq!(
        scalar(
            &mut conn,
            &format!("SELECT balance::text FROM wallets WHERE id = {wallet}")
        ),
        "101.500000000000000000"
    );
    exec(
        &mut conn,
        &format!(
            "INSERT INTO transactions (wallet_id, txid, amount) \
             SELECT {wallet}, 'bulk-' || i, 0.01 FROM generate_series(1, 1000) AS i"
        ),
    );
    assert_eq!(
        attributes(&app, &format!("/wallets/{usd}"))["balance"],
        "111.50"
    );
}

#[test]
fn money_stays_in_its_currency() {
    let app = TestApp::spawn();
    let usd = wallet_in(&app, "usd", "USD");
    let eur = wallet_in(&app, "eur", "EUR");
    let usd2 = wallet_in(&app, "usd2", "USD");
    let booked = app.book(&usd, "t1", "10");
    let id = booked.body["data"]["id"].as_str().unwrap().to_string();

    app.patch(
        &format!("/transactions/{id}"),
        json!({"data": {"type": "transactions", "id": id, "relationships": {
            "wallet": {"data": {"type": "wallets", "id": eur}}}}}),
    )
    .expect_error(
        422,
        "currency-mismatch",
        Some(("pointer", "/data/relationships/wallet/data")),
    );
    // At the relationship's own endpoint, its document is the linkage.
    app.patch(
        &format!("/transactions/{id}/relationships/wallet"),
        json!({"data": {"type": "wallets", "id": eur}}),
    )
    .expect_error(422, "currency-mismatch", Some(("pointer", "/data")));
    assert_eq!(
        attributes(&app, &format!("/wallets/{usd}"))["balance"],
        "10.00"
    );
    // To a wallet of the same currency it moves.
    app.patch(
        &format!("/transactions/{id}/relationships/wallet"),
        json!({"data": {"type": "wallets", "id": usd2}}),
    )
    .expect(200);
    assert_eq!(
        attributes(&app, &format!("/wallets/{usd2}"))["balance"],
        "10.00"
    );

    let mut conn = app.db.connect();
    let error = exec_err(
        &mut conn,
        &format!("UPDATE transactions SET wallet_id = {eur} WHERE id = {id}"),
    );
    assert!(
        error.to_string().contains("stays in its currency"),
        "{error}"
    );
    // A wallet's currency never changes, through the API or SQL.
    let reply = app.patch(
        &format!("/wallets/{usd}"),
        json!({"data": {"type": "wallets", "id": usd, "attributes": {"currency": "EUR"}}}),
    );
    assert_eq!(reply.error()["code"], "read-only-field", "{:#}", reply.body);
    assert_eq!(
        reply.error()["source"]["pointer"],
        "/data/attributes/currency"
    );
    exec_err(
        &mut conn,
        &format!("UPDATE wallets SET currency = 'EUR' WHERE id = {usd}"),
    );
    exec_err(
        &mut conn,
        &format!("UPDATE wallets SET scale = 3 WHERE id = {usd}"),
    );
}

#[test]
fn a_currencys_scale_is_fixed_once_a_wallet_uses_it() {
    let app = TestApp::spawn();
    let mut conn = app.db.connect();
    exec(
        &mut conn,
        "INSERT INTO currencies (code, name, scale, kind) VALUES ('PTS', 'Points', 2, 'custom')",
    );
    // Unused, its scale may change.
    exec(
        &mut conn,
        "UPDATE currencies SET scale = 4 WHERE code = 'PTS'",
    );
    let wallet = wallet_in(&app, "points", "PTS");
    app.book(&wallet, "p1", "1.2345").expect(201);
    let error = exec_err(
        &mut conn,
        "UPDATE currencies SET scale = 2 WHERE code = 'PTS'",
    );
    assert!(
        error.to_string().contains("wallets_currency_fkey"),
        "{error}"
    );
    exec_err(&mut conn, "DELETE FROM currencies WHERE code = 'PTS'");
    exec_err(
        &mut conn,
        "UPDATE currencies SET code = 'PTX' WHERE code = 'PTS'",
    );
    // Its name may change.
    exec(
        &mut conn,
        "UPDATE currencies SET name = 'Reward points' WHERE code = 'PTS'",
    );
    assert_eq!(
        attributes(&app, &format!("/wallets/{wallet}"))["balance"],
        "1.2345"
    );
}

#[test]
fn an_unknown_or_malformed_currency_is_refused() {
    let app = TestApp::spawn();
    let create = |currency: Value| {
        app.post(
            "/wallets",
            json!({"data": {"type": "wallets", "attributes": {"label": "x", "currency": currency}}}),
        )
    };
    create(json!("QQQ")).expect_error(
        422,
        "unknown-currency",
        Some(("pointer", "/data/attributes/currency")),
    );
    for malformed in [json!("usd"), json!("U"), json!(840), json!("1BTC")] {
        let reply = create(malformed.clone());
        assert_eq!(reply.status, 422, "{malformed}: {:#}", reply.body);
        assert_eq!(
            reply.error()["source"]["pointer"],
            "/data/attributes/currency"
        );
    }
    let mut conn = app.db.connect();
    let error = exec_err(
        &mut conn,
        "INSERT INTO wallets (label, currency) VALUES ('x', 'QQQ')",
    );
    assert!(error.to_string().contains("no currency"), "{error}");
    assert_eq!(scalar(&mut conn, "SELECT count(*) FROM wallets"), "0");
}

#[test]
fn every_collection_filters_by_currency() {
    let app = TestApp::spawn();
    let usd = wallet_in(&app, "usd", "USD");
    let eur = wallet_in(&app, "eur", "EUR");
    let btc = wallet_in(&app, "btc", "BTC");
    for (wallet, txid) in [(&usd, "u"), (&eur, "e"), (&btc, "b")] {
        app.book(wallet, txid, "5").expect(201);
        app.post("/holds", hold_document(wallet, "1", None))
            .expect(201);
    }
    let ids = |path: &str| -> Vec<String> {
        let reply = app.get(path);
        reply.expect(200);
        let mut currencies: Vec<String> = reply.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row["attributes"]["currency"].as_str().unwrap().to_string())
            .collect();
        currencies.sort();
        currencies.dedup();
        currencies
    };
    assert_eq!(ids("/wallets?filter[currency]=USD,EUR"), ["EUR", "USD"]);
    assert_eq!(ids("/wallets?sort=currency")[0], "BTC");
    assert_eq!(ids("/transactions?filter[currency]=BTC"), ["BTC"]);
    assert_eq!(ids("/holds?filter[currency]=EUR"), ["EUR"]);
    assert_eq!(ids("/balance-changes?filter[currency]=USD"), ["USD"]);
    assert_eq!(
        ids(&format!("/wallets/{usd}/transactions?filter[currency]=USD")),
        ["USD"]
    );
    let none = app.get(&format!("/wallets/{usd}/transactions?filter[currency]=EUR"));
    assert_eq!(none.body["data"], json!([]));
}

#[test]
fn an_atomic_request_opens_a_wallet_in_a_currency_and_books_to_it() {
    let app = TestApp::spawn();
    let reply = app.operations(json!([
        {"op": "add", "data": {"type": "wallets", "lid": "w",
            "attributes": {"label": "btc", "currency": "BTC"}}},
        {"op": "add", "data": {"type": "transactions",
            "attributes": {"txid": "sats", "amount": "0.5"},
            "relationships": {"wallet": {"data": {"type": "wallets", "lid": "w"}}}}}
    ]));
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    let results = &reply.body["atomic:results"];
    assert_eq!(results[0]["data"]["attributes"]["currency"], "BTC");
    assert_eq!(results[1]["data"]["attributes"]["amount"], "0.50000000");
    assert_eq!(results[1]["data"]["attributes"]["currency"], "BTC");
}

fn codes_of(reply: &crate::helpers::Reply) -> Vec<String> {
    reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn any_key_reads_the_catalogue_by_code_with_filters_sorts_and_pages() {
    let app = TestApp::spawn();
    let (_, reader) = app.new_key("reader", &["read"], &[]);
    let reader = app.as_key(Some(&reader));
    let usd = reader.get("/currencies/USD");
    usd.expect(200);
    assert_eq!(usd.body["data"]["id"], "USD");
    assert_eq!(
        usd.body["data"]["links"]["self"],
        app.url("/currencies/USD")
    );
    let attributes = &usd.body["data"]["attributes"];
    assert_eq!(
        (
            &attributes["code"],
            &attributes["scale"],
            &attributes["kind"]
        ),
        (&json!("USD"), &json!(2), &json!("iso"))
    );
    assert_eq!(attributes["name"], "US Dollar");
    // A code that is not in the catalogue, or that no currency can have, is not found.
    for missing in [
        "QQQ",
        "usd",
        "U",
        "%20",
        "1234567890123456789012345678901234567890",
    ] {
        reader
            .get(&format!("/currencies/{missing}"))
            .expect_error(404, "currency-not-found", None);
    }
    let reply = reader.get("/currencies?filter[code]=USD,JPY,BTC&sort=-scale");
    reply.expect(200);
    assert_eq!(codes_of(&reply), ["BTC", "USD", "JPY"]);
    let crypto = reader.get("/currencies?filter[kind]=crypto&filter[scale.gte]=18&sort=code");
    crypto.expect(200);
    assert!(codes_of(&crypto).contains(&"ETH".to_string()));
    assert!(
        crypto.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|row| row["attributes"]["kind"] == "crypto" && row["attributes"]["scale"] == 18)
    );
    // A scale filter past what a scale can be compares as it reads: all, or none.
    let all = reader.get("/currencies?filter[scale.gt]=-9127661&page[size]=1");
    all.expect(200);
    assert_eq!(all.ids().len(), 1);
    let none = reader.get("/currencies?filter[scale]=99999");
    none.expect(200);
    assert_eq!(none.ids().len(), 0);
    let named = reader.get("/currencies?filter[name.icontains]=dollar&sort=code");
    named.expect(200);
    assert!(codes_of(&named).contains(&"AUD".to_string()));
    // Every currency once across cursor pages, in code order.
    let mut seen: Vec<String> = Vec::new();
    let mut next = Some(app.url("/currencies?page[size]=50&sort=code"));
    while let Some(link) = next {
        let path = link.strip_prefix(&app.url("")).unwrap().to_string();
        let page = reader.get(&path);
        page.expect(200);
        seen.extend(codes_of(&page));
        next = page.body["links"]["next"].as_str().map(str::to_string);
    }
    let mut conn = app.db.connect();
    assert_eq!(
        seen.len().to_string(),
        scalar(&mut conn, "SELECT count(*) FROM currencies")
    );
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen, sorted);
    // Numbered pages read the same rows.
    let second = reader.get("/currencies?page[number]=2&page[size]=50&sort=code");
    second.expect(200);
    assert_eq!(codes_of(&second), seen[50..100]);
}

fn currency_document(code: &str, name: &str, scale: Value) -> Value {
    json!({"data": {"type": "currencies",
                    "attributes": {"code": code, "name": name, "scale": scale}}})
}

#[test]
fn admin_keys_add_rename_and_remove_currencies_and_a_scale_in_use_is_frozen() {
    let app = TestApp::spawn();
    let (_, writer) = app.new_key("writer", &["write"], &[]);
    let writer = app.as_key(Some(&writer));
    writer
        .post(
            "/currencies",
            currency_document("GOLDG", "Gold, grams", json!(3)),
        )
        .expect_error(403, "insufficient-scope", None);
    assert_eq!(
        writer
            .post(
                "/currencies",
                currency_document("GOLDG", "Gold, grams", json!(3))
            )
            .error()["meta"]["requiredScope"],
        "admin"
    );
    writer
        .patch(
            "/currencies/USD",
            json!({"data": {"type": "currencies", "id": "USD", "attributes": {"name": "x"}}}),
        )
        .expect_error(403, "insufficient-scope", None);
    writer
        .delete("/currencies/USD")
        .expect_error(403, "insufficient-scope", None);

    let created = app.post(
        "/currencies",
        currency_document("GOLDG", "Gold, grams", json!(3)),
    );
    created.expect(201);
    assert_eq!(created.body["data"]["id"], "GOLDG");
    assert_eq!(created.body["data"]["attributes"]["kind"], "custom");
    assert_eq!(
        created.header("Location").unwrap(),
        app.url("/currencies/GOLDG")
    );
    let again = app.post("/currencies", currency_document("GOLDG", "Gold", json!(2)));
    again.expect_error(
        409,
        "duplicate-currency",
        Some(("pointer", "/data/attributes/code")),
    );
    assert_eq!(
        again.error()["meta"]["existing"],
        json!({"type": "currencies", "id": "GOLDG"})
    );
    for (document, pointer) in [
        (
            currency_document("PTS", "Points", json!(19)),
            "/data/attributes/scale",
        ),
        (
            currency_document("PTS", "Points", json!("2")),
            "/data/attributes/scale",
        ),
        (
            currency_document("PTS", "Points", json!(-1)),
            "/data/attributes/scale",
        ),
        (
            currency_document("pts", "Points", json!(2)),
            "/data/attributes/code",
        ),
        (
            currency_document("PTS", "", json!(2)),
            "/data/attributes/name",
        ),
        (
            json!({"data": {"type": "currencies", "attributes":
                {"code": "PTS", "name": "Points", "scale": 2, "kind": "iso"}}}),
            "/data/attributes/kind",
        ),
    ] {
        let reply = app.post("/currencies", document.clone());
        assert_eq!(reply.status, 422, "{document}: {:#}", reply.body);
        assert_eq!(reply.error()["source"]["pointer"], pointer, "{document}");
    }
    // A whole number however JSON writes it.
    let whole = app.post(
        "/currencies",
        currency_document("PTS", "Points", json!(2.0)),
    );
    whole.expect(201);
    assert_eq!(whole.body["data"]["attributes"]["scale"], 2);
    app.delete("/currencies/PTS").expect(204);
    // A crypto asset of its own.
    let token = app.post(
        "/currencies",
        json!({"data": {"type": "currencies", "attributes":
            {"code": "WBTC", "name": "Wrapped Bitcoin", "scale": 8, "kind": "crypto"}}}),
    );
    token.expect(201);
    assert_eq!(token.body["data"]["attributes"]["kind"], "crypto");

    let change = |attributes: Value| {
        app.patch(
            "/currencies/GOLDG",
            json!({"data": {"type": "currencies", "id": "GOLDG", "attributes": attributes}}),
        )
    };
    // Unused: its scale may change.
    change(json!({"scale": 4})).expect(200);
    let wallet = wallet_in(&app, "gold", "GOLDG");
    app.book(&wallet, "g1", "1.2345").expect(201);
    let frozen = change(json!({"scale": 2}));
    frozen.expect_error(
        409,
        "currency-in-use",
        Some(("pointer", "/data/attributes/scale")),
    );
    assert!(
        frozen.error()["detail"].as_str().unwrap().contains("GOLDG"),
        "{:#}",
        frozen.body
    );
    // Its name may change; its code and kind never.
    let renamed = change(json!({"name": "Gold (grams)"}));
    renamed.expect(200);
    assert_eq!(renamed.body["data"]["attributes"]["name"], "Gold (grams)");
    assert_eq!(renamed.body["data"]["attributes"]["scale"], 4);
    assert_eq!(change(json!({"code": "GOLDX"})).status, 403);
    assert_eq!(change(json!({"kind": "crypto"})).status, 403);
    // A currency in use, and XXX, are never deleted; an unused one is.
    app.delete("/currencies/GOLDG")
        .expect_error(409, "currency-in-use", None);
    app.delete("/currencies/XXX")
        .expect_error(409, "currency-in-use", None);
    app.delete("/currencies/WBTC").expect(204);
    app.get("/currencies/WBTC")
        .expect_error(404, "currency-not-found", None);
    app.delete("/currencies/WBTC")
        .expect_error(404, "currency-not-found", None);
    let mut conn = app.db.connect();
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT scale || ' ' || name FROM currencies WHERE code = 'GOLDG'"
        ),
        "4 Gold (grams)"
    );
    assert_eq!(
        attributes(&app, &format!("/wallets/{wallet}"))["balance"],
        "1.2345"
    );
    // In SQL too, XXX stays.
    let error = exec_err(&mut conn, "DELETE FROM currencies WHERE code = 'XXX'");
    assert!(error.to_string().contains("never deleted"), "{error}");
    // The catalogue is written one currency at a time, not in atomic operations.
    let atomic = app.operations(json!([{"op": "add", "data":
        {"type": "currencies", "attributes": {"code": "PTS", "name": "Points", "scale": 2}}}]));
    assert_eq!(atomic.status, 403, "{:#}", atomic.body);
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT count(*) FROM currencies WHERE code = 'PTS'"
        ),
        "0"
    );
}

#[test]
fn a_wallet_includes_its_currencys_catalogue_entry() {
    let app = TestApp::spawn();
    let usd = wallet_in(&app, "usd", "USD");
    let btc = wallet_in(&app, "btc", "BTC");
    let _usd_too = wallet_in(&app, "usd-2", "USD");
    let one = app.get(&format!("/wallets/{usd}?include=currencyDetails"));
    one.expect(200);
    assert_eq!(
        one.body["data"]["relationships"]["currencyDetails"]["data"],
        json!({"type": "currencies", "id": "USD"})
    );
    let included = one.body["included"].as_array().unwrap();
    assert_eq!(included.len(), 1);
    assert_eq!(included[0]["id"], "USD");
    assert_eq!(included[0]["attributes"]["scale"], 2);
    // With ?balanceAt, the same.
    let past = app.get(&format!(
        "/wallets/{usd}?include=currencyDetails&balanceAt=2030-01-01T00:00:00Z"
    ));
    past.expect(200);
    assert_eq!(past.body["included"][0]["id"], "USD");
    // A page includes each currency once.
    let page = app.get("/wallets?include=currencyDetails&sort=id");
    page.expect(200);
    let mut codes: Vec<&str> = page.body["included"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["id"].as_str().unwrap())
        .collect();
    codes.sort();
    assert_eq!(codes, ["BTC", "USD"]);
    // The related resource and the linkage.
    let related = app.get(&format!("/wallets/{btc}/currencyDetails"));
    related.expect(200);
    assert_eq!(related.body["data"]["attributes"]["scale"], 8);
    let linkage = app.get(&format!("/wallets/{btc}/relationships/currencyDetails"));
    linkage.expect(200);
    assert_eq!(
        linkage.body["data"],
        json!({"type": "currencies", "id": "BTC"})
    );
    // Read-only: the currency is given once, as the attribute.
    let moved = app.patch(
        &format!("/wallets/{btc}/relationships/currencyDetails"),
        json!({"data": {"type": "currencies", "id": "USD"}}),
    );
    assert_eq!(moved.status, 403, "{:#}", moved.body);
    // The attribute is not a relationship: include names the relationship.
    let wrong = app.get(&format!("/wallets/{usd}?include=currency"));
    wrong.expect_error(
        400,
        "invalid-query-parameter",
        Some(("parameter", "include")),
    );
    assert!(
        wrong.error()["detail"]
            .as_str()
            .unwrap()
            .contains("currencyDetails"),
        "{:#}",
        wrong.body
    );
}
