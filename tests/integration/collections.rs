//! Collections: filters, sorts, both pagination styles, include and sparse fieldsets.

use crate::helpers::{Reply, TestApp};
use serde_json::{Value, json};

fn ids(reply: &Reply) -> Vec<String> {
    reply.ids()
}

fn txids(reply: &Reply) -> Vec<String> {
    reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["attributes"]["txid"].as_str().unwrap().to_string())
        .collect()
}

/// Three wallets; transactions t01..t12 with amounts 1..12 spread over the first two.
fn seeded() -> (TestApp, Vec<String>) {
    let app = TestApp::spawn();
    let wallets: Vec<String> = ["alpha", "Beta", "gamma_1"]
        .iter()
        .map(|l| app.create_wallet(l))
        .collect();
    for i in 1..=12 {
        app.book(&wallets[i % 2], &format!("t{i:02}"), &i.to_string())
            .expect(201);
    }
    (app, wallets)
}

/// Follows `next` links from `first` to the end; returns every txid in order.
fn walk(app: &TestApp, first: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut link = Some(app.url(first));
    let mut pages = 0;
    while let Some(url) = link {
        let reply = app.get(&url);
        reply.expect(200);
        seen.extend(txids(&reply));
        link = reply.body["links"]["next"].as_str().map(str::to_string);
        pages += 1;
        assert!(pages < 50, "pagination does not end");
    }
    seen
}

#[test]
fn filters_on_every_field_and_operator() {
    let (app, wallets) = seeded();
    let count = |query: &str| {
        let reply = app.get(&format!("/transactions?page[size]=100&{query}"));
        reply.expect(200);
        reply.body["data"].as_array().unwrap().len()
    };
    assert_eq!(count(&format!("filter[wallet]={}", wallets[0])), 6);
    assert_eq!(
        count(&format!("filter[wallet]={},{}", wallets[0], wallets[1])),
        12,
        "a comma list means in"
    );
    assert_eq!(
        count(&format!("filter[wallet.in]={},{}", wallets[1], wallets[2])),
        6
    );
    assert_eq!(count("filter[amount.gt]=10"), 2);
    assert_eq!(count("filter[amount.gte]=10"), 3);
    assert_eq!(count("filter[amount.lt]=2.5"), 2);
    assert_eq!(count("filter[amount.lte]=2"), 2);
    assert_eq!(count("filter[amount]=3"), 1);
    assert_eq!(count("filter[amount.in]=3,4,99"), 2);
    assert_eq!(count("filter[txid]=t05"), 1);
    assert_eq!(count("filter[txid.in]=t05,t06,zz"), 2);
    assert_eq!(count("filter[txid.startswith]=t1"), 3);
    assert_eq!(count("filter[txid.icontains]=T0"), 9);
    assert_eq!(
        count("filter[amount.gte]=3&filter[amount.lte]=5&filter[txid.startswith]=t0"),
        3,
        "filters AND"
    );
    let first_id = ids(&app.get("/transactions?page[size]=1"))[0].clone();
    assert_eq!(count(&format!("filter[id]={first_id}")), 1);
    assert_eq!(count(&format!("filter[id.gt]={first_id}")), 11);
    assert_eq!(count("filter[createdAt.gte]=2000-01-01"), 12);
    assert_eq!(count("filter[createdAt.lt]=2000-01-01T00:00:00Z"), 0);
    assert_eq!(
        count("filter[createdAt.lt]=2999-01-01T00:00:00%2B02:00"),
        12
    );
}

#[test]
fn like_patterns_in_filter_values_match_literally() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("w");
    app.book(&wallet, "50%_off", "1").expect(201);
    app.book(&wallet, "500-off", "1").expect(201);
    let reply = app.get("/transactions?filter[txid.startswith]=50%25_");
    assert_eq!(txids(&reply), ["50%_off"]);
    let reply = app.get("/transactions?filter[txid.icontains]=%25");
    assert_eq!(txids(&reply), ["50%_off"]);
}

#[test]
fn wallet_filters() {
    let (app, _) = seeded();
    let labels = |query: &str| -> Vec<String> {
        let reply = app.get(&format!("/wallets?{query}"));
        reply.expect(200);
        reply.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["attributes"]["label"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(labels("filter[label]=alpha"), ["alpha"]);
    assert_eq!(labels("filter[label.icontains]=ETA"), ["Beta"]);
    assert_eq!(labels("filter[label.startswith]=gamma_"), ["gamma_1"]);
    assert_eq!(labels("filter[balance]=0"), ["gamma_1"]);
    assert_eq!(
        labels("filter[balance.gt]=30&sort=label"),
        ["Beta", "alpha"]
    );
    assert_eq!(labels("filter[createdAt.lte]=2999-12-31").len(), 3);
}

#[test]
fn bad_filters_are_400_naming_the_parameter() {
    let (app, _) = seeded();
    for (query, parameter) in [
        ("filter[colour]=red", "filter[colour]"),
        ("filter[amount.gt]=lots", "filter[amount.gt]"),
        ("filter[amount.startswith]=1", "filter[amount.startswith]"),
        ("filter[txid.gt]=a", "filter[txid.gt]"),
        ("filter[wallet]=abc", "filter[wallet]"),
        ("filter[wallet]=1,,2", "filter[wallet]"),
        ("filter[createdAt.gte]=yesterday", "filter[createdAt.gte]"),
        ("filter[amount.between]=1", "filter[amount.between]"),
    ] {
        app.get(&format!("/transactions?{query}")).expect_error(
            400,
            "invalid-query-parameter",
            Some(("parameter", parameter)),
        );
    }
    app.get("/wallets?filter[wallet]=1").expect_error(
        400,
        "invalid-query-parameter",
        Some(("parameter", "filter[wallet]")),
    );
}

#[test]
fn sorts_by_each_field_with_id_as_the_final_tiebreak() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("w");
    for (txid, amount) in [("c", "2"), ("a", "1"), ("d", "2"), ("b", "3")] {
        app.book(&wallet, txid, amount).expect(201);
    }
    assert_eq!(
        txids(&app.get("/transactions")),
        ["c", "a", "d", "b"],
        "default: id"
    );
    assert_eq!(
        txids(&app.get("/transactions?sort=txid")),
        ["a", "b", "c", "d"]
    );
    assert_eq!(
        txids(&app.get("/transactions?sort=-txid")),
        ["d", "c", "b", "a"]
    );
    assert_eq!(
        txids(&app.get("/transactions?sort=amount")),
        ["a", "c", "d", "b"],
        "ties by id"
    );
    assert_eq!(
        txids(&app.get("/transactions?sort=-amount")),
        ["b", "c", "d", "a"]
    );
    assert_eq!(
        txids(&app.get("/transactions?sort=-amount,-id")),
        ["b", "d", "c", "a"]
    );
    assert_eq!(
        txids(&app.get("/transactions?sort=-createdAt")),
        ["b", "d", "a", "c"]
    );
    assert_eq!(
        txids(&app.get("/transactions?sort=-id")),
        ["b", "d", "a", "c"]
    );
    for (query, _) in [
        ("sort=wallet", ()),
        ("sort=colour", ()),
        ("sort=amount,amount", ()),
        ("sort=-", ()),
    ] {
        app.get(&format!("/transactions?{query}")).expect_error(
            400,
            "invalid-query-parameter",
            Some(("parameter", "sort")),
        );
    }
    let reply = app.get("/wallets?sort=-balance,label");
    reply.expect(200);
    app.get("/wallets?sort=updatedAt").expect(400);
}

#[test]
fn cursor_pages_walk_everything_once_in_any_sort() {
    let (app, wallets) = seeded();
    let all: Vec<String> = (1..=12).map(|i| format!("t{i:02}")).collect();
    assert_eq!(walk(&app, "/transactions?page[size]=5"), all);
    let mut by_amount_desc = all.clone();
    by_amount_desc.reverse();
    assert_eq!(
        walk(&app, "/transactions?page[size]=5&sort=-amount"),
        by_amount_desc
    );
    assert_eq!(walk(&app, "/transactions?page[size]=1&sort=txid"), all);
    // Filters and the wallet's own collection keep to their rows across pages.
    let of_wallet: Vec<String> = (1..=12)
        .filter(|i| i % 2 == 0)
        .map(|i| format!("t{i:02}"))
        .collect();
    assert_eq!(
        walk(
            &app,
            &format!("/wallets/{}/transactions?page[size]=4", wallets[0])
        ),
        of_wallet
    );
    assert_eq!(
        walk(
            &app,
            &format!("/transactions?filter[wallet]={}&page[size]=2", wallets[0])
        ),
        of_wallet
    );
}

#[test]
fn cursor_links_keep_every_other_parameter_and_go_back() {
    let (app, _) = seeded();
    let first = app.get(
        "/transactions?sort=-amount&filter[amount.gt]=2&page[size]=4&fields[transactions]=txid",
    );
    first.expect(200);
    assert_eq!(txids(&first), ["t12", "t11", "t10", "t09"]);
    let links = &first.body["links"];
    assert!(links["prev"].is_null());
    assert!(
        links["last"].is_null(),
        "a cursor page does not know the last page"
    );
    let next = links["next"].as_str().unwrap();
    for kept in [
        "sort=-amount",
        "filter%5Bamount.gt%5D=2",
        "fields%5Btransactions%5D=txid",
        "page%5Bsize%5D=4",
    ] {
        assert!(next.contains(kept), "{next} lacks {kept}");
    }
    let first_link = links["first"].as_str().unwrap();
    assert_eq!(txids(&app.get(first_link)), txids(&first));
    let second = app.get(next);
    assert_eq!(txids(&second), ["t08", "t07", "t06", "t05"]);
    // Each item carries its cursor (Cursor Pagination profile).
    assert!(second.body["data"][0]["meta"]["page"]["cursor"].is_string());
    let back = app.get(second.body["links"]["prev"].as_str().unwrap());
    assert_eq!(txids(&back), ["t12", "t11", "t10", "t09"]);
    assert!(
        back.body["links"]["prev"].is_null(),
        "nothing before the first page"
    );
    let third = app.get(second.body["links"]["next"].as_str().unwrap());
    assert_eq!(txids(&third), ["t04", "t03"]);
    assert!(third.body["links"]["next"].is_null());
}

#[test]
fn bad_cursors_and_page_sizes_are_400() {
    let (app, _) = seeded();
    let next = app.get("/transactions?page[size]=2&sort=amount").body["links"]["next"]
        .as_str()
        .unwrap()
        .to_string();
    let cursor = next.split("page%5Bafter%5D=").nth(1).unwrap().to_string();
    // A cursor belongs to its sort.
    app.get(&format!("/transactions?sort=txid&page[after]={cursor}"))
        .expect_error(
            400,
            "invalid-query-parameter",
            Some(("parameter", "page[after]")),
        );
    app.get(&format!("/transactions?sort=amount&page[after]={cursor}"))
        .expect(200);
    for (query, parameter) in [
        ("page[after]=garbage!", "page[after]"),
        ("page[before]=eyJ4IjoxfQ", "page[before]"),
        ("page[size]=0", "page[size]"),
        ("page[size]=-1", "page[size]"),
        ("page[number]=0", "page[number]"),
        ("page[number]=2&page[after]=x", "page[number]"),
        ("page[after]=a&page[before]=b", "page[before]"),
    ] {
        app.get(&format!("/transactions?{query}")).expect_error(
            400,
            "invalid-query-parameter",
            Some(("parameter", parameter)),
        );
    }
    let reply = app.get("/transactions?page[size]=101");
    reply.expect_error(
        400,
        "invalid-query-parameter",
        Some(("parameter", "page[size]")),
    );
    assert_eq!(reply.error()["meta"]["page"]["maxSize"], 100);
    app.get("/transactions?page[size]=100").expect(200);
}

#[test]
fn numbered_pages_count_and_link_every_page() {
    let (app, _) = seeded();
    let reply = app.get("/transactions?page[number]=2&page[size]=5&sort=txid");
    reply.expect(200);
    assert_eq!(txids(&reply), ["t06", "t07", "t08", "t09", "t10"]);
    // A page past the first is read as its ids, then its rows: in the page's order still.
    let reversed = app.get("/transactions?page[number]=2&page[size]=5&sort=-txid");
    assert_eq!(txids(&reversed), ["t07", "t06", "t05", "t04", "t03"]);
    assert_eq!(
        reply.body["meta"]["pagination"],
        json!({"page": 2, "pages": 3, "count": 12})
    );
    let links = &reply.body["links"];
    for (name, expected) in [("first", "1"), ("prev", "1"), ("next", "3"), ("last", "3")] {
        let link = links[name].as_str().unwrap();
        assert!(
            link.contains(&format!("page%5Bnumber%5D={expected}")),
            "{name}: {link}"
        );
        assert!(link.contains("sort=txid"), "{name}: {link}");
        app.get(link).expect(200);
    }
    let last = app.get(links["last"].as_str().unwrap());
    assert_eq!(txids(&last), ["t11", "t12"]);
    assert!(last.body["links"]["next"].is_null());
    let beyond = app.get("/transactions?page[number]=9&page[size]=5");
    beyond.expect(200);
    assert_eq!(beyond.body["data"], json!([]));
    let empty = app.get("/transactions?filter[txid]=none&page[number]=1");
    assert_eq!(
        empty.body["meta"]["pagination"],
        json!({"page": 1, "pages": 1, "count": 0})
    );
    assert!(empty.body["links"]["prev"].is_null() && empty.body["links"]["next"].is_null());
}

#[test]
fn the_default_page_holds_twenty() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("w");
    for i in 0..25 {
        app.book(&wallet, &format!("t{i:02}"), "1").expect(201);
    }
    let reply = app.get("/transactions");
    assert_eq!(ids(&reply).len(), 20);
    assert_eq!(
        txids(&app.get(reply.body["links"]["next"].as_str().unwrap())).len(),
        5
    );
}

#[test]
fn include_wallet_holds_each_wallet_once() {
    let (app, wallets) = seeded();
    let reply = app.get("/transactions?include=wallet&page[size]=100");
    reply.expect(200);
    let included: Vec<&Value> = reply.body["included"].as_array().unwrap().iter().collect();
    let mut included_ids: Vec<&str> = included.iter().map(|w| w["id"].as_str().unwrap()).collect();
    included_ids.sort();
    let mut expected = vec![wallets[0].as_str(), wallets[1].as_str()];
    expected.sort();
    assert_eq!(
        included_ids, expected,
        "each wallet once, and only those referred to"
    );
    assert!(included.iter().all(|w| w["type"] == "wallets"));
    // Present, empty, when nothing matches.
    let none = app.get("/transactions?include=wallet&filter[txid]=nothing");
    assert_eq!(none.body["included"], json!([]));
    // Absent when not asked for.
    assert!(app.get("/transactions").body.get("included").is_none());
    let of_wallet = app.get(&format!(
        "/wallets/{}/transactions?include=wallet",
        wallets[1]
    ));
    assert_eq!(of_wallet.body["included"].as_array().unwrap().len(), 1);
    app.get("/transactions?include=wallet.transactions")
        .expect_error(
            400,
            "invalid-query-parameter",
            Some(("parameter", "include")),
        );
}

#[test]
fn sparse_fieldsets_for_primary_and_included_resources() {
    let (app, _) = seeded();
    let reply = app.get("/transactions?include=wallet&fields[transactions]=amount&fields[wallets]=label&page[size]=1");
    reply.expect(200);
    let item = &reply.body["data"][0];
    assert_eq!(
        item["attributes"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["amount"]
    );
    assert!(
        item.get("relationships").is_none(),
        "wallet was not asked for"
    );
    let wallet = &reply.body["included"][0];
    assert_eq!(
        wallet["attributes"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["label"]
    );
    let reply = app.get("/transactions?fields[transactions]=wallet&page[size]=1");
    assert!(reply.body["data"][0].get("attributes").is_none());
    assert!(reply.body["data"][0]["relationships"]["wallet"]["data"].is_object());
}

#[test]
fn the_collection_of_a_missing_wallet_is_404() {
    let app = TestApp::spawn();
    app.get("/wallets/424242/transactions")
        .expect_error(404, "wallet-not-found", None);
    app.get("/wallets/x/transactions")
        .expect_error(404, "wallet-not-found", None);
}
