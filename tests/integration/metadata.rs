//! Metadata: the client's own keys and values on wallets, transactions and holds, merged on
//! update, bounded, filtered by key through the GIN index, and on record whoever changes it.

use diesel::pg::PgConnection;
use serde_json::{Value, json};

use crate::helpers::{JSONAPI, TestApp, each, exec, exec_err, scalar};
use crate::journal::assert_running_totals;

fn booking(wallet: &str, txid: &str, amount: &str, metadata: Value) -> Value {
    json!({"data": {
        "type": "transactions",
        "attributes": {"txid": txid, "amount": amount, "metadata": metadata},
        "relationships": {"wallet": {"data": {"type": "wallets", "id": wallet}}}
    }})
}

/// Books over the API; returns the transaction's id.
fn book(app: &TestApp, wallet: &str, txid: &str, metadata: Value) -> String {
    let reply = app.post("/transactions", booking(wallet, txid, "1", metadata));
    reply.expect(201);
    reply.body["data"]["id"].as_str().unwrap().to_string()
}

fn tag(app: &TestApp, path: &str, metadata: Value) -> crate::helpers::Reply {
    let (type_name, id) = path.trim_start_matches('/').split_once('/').unwrap();
    app.patch(
        path,
        json!({"data": {"type": type_name, "id": id, "attributes": {"metadata": metadata}}}),
    )
}

/// The ids of a collection's page, in order.
fn ids(app: &TestApp, path: &str) -> Vec<String> {
    let reply = app.get(path);
    reply.expect(200);
    reply.ids()
}

#[test]
fn every_resource_with_metadata_stores_what_it_was_given() {
    let app = TestApp::spawn();
    let created = app.post(
        "/wallets",
        json!({"data": {"type": "wallets", "attributes": {
            "label": "shop", "metadata": {"account": "acme-7", "tier": "gold"}}}}),
    );
    created.expect(201);
    assert_eq!(
        created.body["data"]["attributes"]["metadata"],
        json!({"account": "acme-7", "tier": "gold"})
    );
    let wallet = created.body["data"]["id"].as_str().unwrap().to_string();
    let plain = app.create_wallet("plain");
    let shown = app.get(&format!("/wallets/{plain}"));
    assert_eq!(shown.body["data"]["attributes"]["metadata"], json!({}));

    let transaction = book(&app, &wallet, "pay-42", json!({"invoice": "42"}));
    let shown = app.get(&format!("/transactions/{transaction}"));
    assert_eq!(
        shown.body["data"]["attributes"]["metadata"],
        json!({"invoice": "42"})
    );

    let hold = app.post(
        "/holds",
        json!({"data": {"type": "holds", "attributes": {"amount": "1", "metadata": {"card": "auth-9"}},
                        "relationships": {"wallet": {"data": {"type": "wallets", "id": wallet}}}}}),
    );
    hold.expect(201);
    assert_eq!(
        hold.body["data"]["attributes"]["metadata"],
        json!({"card": "auth-9"})
    );

    // Sparse fieldsets: metadata alone.
    let sparse = app.get(&format!(
        "/transactions/{transaction}?fields[transactions]=metadata"
    ));
    assert_eq!(
        sparse.body["data"]["attributes"],
        json!({"metadata": {"invoice": "42"}})
    );
    assert!(sparse.body["data"].get("relationships").is_none());
}

#[test]
fn an_update_merges_keys_and_null_removes_one() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("w");
    let path = format!("/wallets/{wallet}");
    tag(&app, &path, json!({"a": "1", "b": "2", "c": "3"})).expect(200);
    let before = app.get(&path).body["data"]["attributes"]["updatedAt"].clone();
    std::thread::sleep(std::time::Duration::from_millis(5));
    let merged = tag(
        &app,
        &path,
        json!({"b": "two", "c": null, "d": "4", "gone": null}),
    );
    merged.expect(200);
    let attributes = &merged.body["data"]["attributes"];
    assert_eq!(
        attributes["metadata"],
        json!({"a": "1", "b": "two", "d": "4"})
    );
    assert_ne!(
        attributes["updatedAt"], before,
        "a metadata change is a change"
    );
    assert_eq!(attributes["label"], "w");

    // A transaction's: the money stays, the journal has nothing new.
    let transaction = book(&app, &wallet, "t", json!({"x": "1"}));
    let mut conn = app.db.connect();
    let journal = scalar(&mut conn, "SELECT count(*) FROM balance_changes");
    let changed = tag(
        &app,
        &format!("/transactions/{transaction}"),
        json!({"y": "2"}),
    );
    changed.expect(200);
    assert_eq!(
        changed.body["data"]["attributes"]["metadata"],
        json!({"x": "1", "y": "2"})
    );
    assert_eq!(
        changed.body["data"]["attributes"]["amount"],
        "1.000000000000000000"
    );
    assert_eq!(
        scalar(&mut conn, "SELECT count(*) FROM balance_changes"),
        journal
    );
    assert_eq!(app.balance(&wallet), "1.000000000000000000");
}

#[test]
fn metadata_outside_its_limits_is_refused_with_a_pointer_and_nothing_written() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("w");
    let many: serde_json::Map<String, Value> =
        (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
    let cases = [
        ("a string", (json!("invoice=42"), "JSON object")),
        ("an array", (json!(["a"]), "JSON object")),
        ("a number value", (json!({"n": 42}), "must be a string")),
        (
            "a nested object",
            (json!({"n": {"deep": "x"}}), "must be a string"),
        ),
        ("an empty key", (json!({"": "x"}), "1 to 40 characters")),
        (
            "a 41-character key",
            (json!({"k".repeat(41): "x"}), "1 to 40 characters"),
        ),
        ("a bracket in a key", (json!({"a[b]": "x"}), "bracket")),
        (
            "a tab in a key",
            (json!({"tab\there": "x"}), "control character"),
        ),
        (
            "a key ending .exists",
            (json!({"paid.exists": "x"}), ".exists"),
        ),
        (
            "a 501-character value",
            (json!({"v": "x".repeat(501)}), "500"),
        ),
        ("a NUL in a value", (json!({"v": "a\u{0}b"}), "NUL")),
        ("51 keys", (Value::Object(many), "at most 50 keys")),
    ];
    each(cases, |(metadata, says)| {
        let reply = app.post(
            "/transactions",
            booking(&wallet, "t", "1", metadata.clone()),
        );
        reply.expect_error(
            422,
            "invalid-attribute",
            Some(("pointer", "/data/attributes/metadata")),
        );
        let detail = reply.error()["detail"].as_str().unwrap();
        assert!(detail.contains(says), "{metadata}: {detail}");
    });
    assert_eq!(
        scalar(&mut app.db.connect(), "SELECT count(*) FROM transactions"),
        "0"
    );

    // 40 keys stored, 11 more merged in: more than 50 once merged.
    let path = format!("/wallets/{wallet}");
    let forty: serde_json::Map<String, Value> =
        (0..40).map(|i| (format!("k{i}"), json!("v"))).collect();
    tag(&app, &path, Value::Object(forty)).expect(200);
    let eleven: serde_json::Map<String, Value> =
        (100..111).map(|i| (format!("k{i}"), json!("v"))).collect();
    let reply = tag(&app, &path, Value::Object(eleven.clone()));
    reply.expect_error(
        422,
        "invalid-attribute",
        Some(("pointer", "/data/attributes/metadata")),
    );
    assert!(
        reply.error()["detail"]
            .as_str()
            .unwrap()
            .contains("once merged")
    );
    let stored = app.get(&path);
    assert_eq!(
        stored.body["data"]["attributes"]["metadata"]
            .as_object()
            .unwrap()
            .len(),
        40
    );
    // The same eleven with ten removed fits.
    let mut swap = eleven;
    for i in 0..10 {
        swap.insert(format!("k{i}"), Value::Null);
    }
    let reply = tag(&app, &path, Value::Object(swap));
    reply.expect(200);
    assert_eq!(
        reply.body["data"]["attributes"]["metadata"]
            .as_object()
            .unwrap()
            .len(),
        41
    );
}

#[test]
fn the_database_holds_every_writer_to_the_limits() {
    let app = TestApp::spawn();
    let mut conn = app.db.connect();
    let wallet = crate::helpers::wallet(&mut conn, "w");
    for metadata in [
        r#"[]"#,
        r#"{"n": 1}"#,
        r#"{"": "x"}"#,
        r#"{"a]": "x"}"#,
        r#"{"x.exists": "x"}"#,
    ] {
        let error = exec_err(
            &mut conn,
            &format!("UPDATE wallets SET metadata = '{metadata}' WHERE id = {wallet}"),
        );
        assert!(
            error.to_string().contains("wallets_metadata_valid"),
            "{metadata}: {error}"
        );
    }
    let error = exec_err(
        &mut conn,
        &format!(
            "INSERT INTO transactions (wallet_id, txid, amount, metadata) \
             VALUES ({wallet}, 't', 1, jsonb_build_object('v', repeat('x', 501)))"
        ),
    );
    assert!(
        error.to_string().contains("transactions_metadata_valid"),
        "{error}"
    );
}

#[test]
fn filters_find_by_value_any_of_and_presence() {
    let app = TestApp::spawn();
    let a = app.create_wallet("a");
    let b = app.create_wallet("b");
    let t1 = book(&app, &a, "t1", json!({"invoice": "41"}));
    let t2 = book(
        &app,
        &a,
        "t2",
        json!({"invoice": "42", "order id & \u{fc}": "x/y=z"}),
    );
    let t3 = book(&app, &b, "t3", json!({"invoice": "42"}));
    let t4 = book(&app, &a, "t4", json!({"refund": "yes"}));
    let _t5 = book(&app, &a, "t5", json!({}));

    assert_eq!(
        ids(&app, "/transactions?filter[metadata.invoice]=42"),
        [t2.clone(), t3.clone()]
    );
    assert_eq!(
        ids(
            &app,
            "/transactions?filter[metadata.invoice]=41,42&sort=-id"
        ),
        [t3.clone(), t2.clone(), t1.clone()]
    );
    assert_eq!(
        ids(&app, "/transactions?filter[metadata.invoice.exists]=true"),
        [t1.clone(), t2.clone(), t3.clone()]
    );
    assert_eq!(
        ids(
            &app,
            &format!("/transactions?filter[metadata.invoice.exists]=false&filter[wallet]={a}")
        ),
        [t4.clone(), _t5.clone()]
    );
    // Combined with a wallet, and with each other.
    assert_eq!(
        ids(
            &app,
            &format!("/transactions?filter[metadata.invoice]=42&filter[wallet]={a}")
        ),
        vec![t2.clone()]
    );
    assert_eq!(
        ids(
            &app,
            &format!(
                "/wallets/{a}/transactions?filter[metadata.invoice]=41,42&filter[metadata.refund.exists]=false"
            )
        ),
        [t1.clone(), t2.clone()]
    );
    // A key that needs escaping in a URL, and a value with a slash and an equals sign.
    assert_eq!(
        ids(
            &app,
            "/transactions?filter%5Bmetadata.order%20id%20%26%20%C3%BC%5D=x%2Fy%3Dz"
        ),
        vec![t2.clone()]
    );
    // Values are exact: no prefix, no case folding.
    assert!(ids(&app, "/transactions?filter[metadata.invoice]=4").is_empty());
    assert!(ids(&app, "/transactions?filter[metadata.refund]=YES").is_empty());

    // A cursor page at a time, the filter kept in the links.
    let first = app.get("/transactions?filter[metadata.invoice.exists]=true&page[size]=2");
    first.expect(200);
    assert_eq!(first.ids(), [t1.clone(), t2.clone()]);
    let next = first.body["links"]["next"].as_str().unwrap();
    assert!(next.contains("metadata.invoice.exists"), "{next}");
    let second = app.get(
        next.split_once(app.url("").as_str())
            .map_or(next, |(_, rest)| rest),
    );
    second.expect(200);
    assert_eq!(second.body["data"][0]["id"], t3.as_str());
    assert_eq!(second.body["data"].as_array().unwrap().len(), 1);

    // Wallets and holds take the same filters.
    let tagged = app.post(
        "/wallets",
        json!({"data": {"type": "wallets", "attributes": {"label": "c", "metadata": {"account": "7"}}}}),
    );
    let c = tagged.body["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(ids(&app, "/wallets?filter[metadata.account]=7"), [c]);

    // A key limited to wallet a finds a's transactions only, however the filter is read.
    let (_, secret) = app.new_key("only-a", &["read"], &[&a]);
    let limited = app.as_key(Some(&secret));
    for path in [
        "/transactions?filter[metadata.invoice]=42",
        "/transactions?filter[metadata.invoice.exists]=true",
    ] {
        let reply = limited.get(path);
        reply.expect(200);
        let seen = reply.ids();
        assert!(!seen.contains(&t3), "{path}: {seen:?}");
        assert!(seen.contains(&t2), "{path}: {seen:?}");
    }
    assert!(ids(&app, "/holds?filter[metadata.card.exists]=true").is_empty());
}

#[test]
fn a_filter_naming_no_possible_key_is_a_400_naming_the_parameter() {
    let app = TestApp::spawn();
    let cases = [
        (
            "no key",
            (
                "filter[metadata]=x",
                "filter[metadata]",
                "filter[metadata.KEY]",
            ),
        ),
        (
            "an empty key",
            ("filter[metadata.]=x", "filter[metadata.]", "1 to 40"),
        ),
        (
            "an empty key asked to exist",
            (
                "filter[metadata..exists]=true",
                "filter[metadata..exists]",
                "1 to 40",
            ),
        ),
        (
            "a control character in the key",
            (
                "filter[metadata.a%01b]=x",
                "filter[metadata.a\u{1}b]",
                "control character",
            ),
        ),
        (
            "exists neither true nor false",
            (
                "filter[metadata.paid.exists]=maybe",
                "filter[metadata.paid.exists]",
                "true or false",
            ),
        ),
        (
            "exists twice",
            (
                "filter[metadata.k.exists.exists]=true",
                "filter[metadata.k.exists.exists]",
                ".exists",
            ),
        ),
        (
            "a NUL in the value",
            ("filter[metadata.k]=a%00b", "filter[metadata.k]", "NUL"),
        ),
    ];
    each(cases, |(query, parameter, says)| {
        app.get(&format!("/transactions?{query}"))
            .expect_bad_parameter(parameter, says);
    });
    let long = format!("/transactions?filter[metadata.{}]=x", "k".repeat(41));
    app.get(&long)
        .expect_error(400, "invalid-query-parameter", None);
    let values = vec!["v"; 101].join(",");
    app.get(&format!("/transactions?filter[metadata.k]={values}"))
        .expect_error(
            400,
            "invalid-query-parameter",
            Some(("parameter", "filter[metadata.k]")),
        );
    // Where there is no metadata, there is no such filter.
    app.get("/balance-changes?filter[metadata.k]=x")
        .expect_error(
            400,
            "invalid-query-parameter",
            Some(("parameter", "filter[metadata.k]")),
        );
}

#[test]
fn the_filter_reads_the_gin_index_at_a_hundred_thousand_rows() {
    use wallet_api::models::Transaction;
    use wallet_api::models::TransactionField as F;
    use wallet_api::models::keyset::read_page;
    use wallet_api::models::query::{
        Condition, Direction, Filter, ListQuery, Page, Position, SortKey,
    };

    let app = TestApp::spawn();
    let mut conn = app.db.connect();
    let wallet = crate::helpers::wallet(&mut conn, "w");
    exec(
        &mut conn,
        &format!(
            "INSERT INTO transactions (wallet_id, txid, amount, metadata) \
             SELECT {wallet}, 'bulk-' || i, 1, jsonb_build_object('invoice', i::text, 'shop', 'main') \
             FROM generate_series(1, 100000) AS i; ANALYZE transactions"
        ),
    );
    let page_of = |condition: Condition| ListQuery {
        filters: vec![Filter {
            field: F::Metadata,
            condition,
            either: Vec::new(),
        }],
        sort: vec![SortKey {
            field: F::Id,
            direction: Direction::Asc,
        }],
        page: Page::Cursor {
            position: Position::First,
            size: 25,
        },
    };
    let invoice = page_of(Condition::MetadataIn {
        key: "invoice".into(),
        values: vec!["4242".into(), "4243".into()],
    });
    let rare_key = page_of(Condition::MetadataHas {
        key: "refund".into(),
        present: true,
    });
    let common = page_of(Condition::MetadataIn {
        key: "shop".into(),
        values: vec!["main".into()],
    });
    // As the service reads, under row-level security (which keeps PostgreSQL from using the
    // index for @> and ?, since they are not leakproof): this transaction's own counters
    // say what each page cost.
    exec(&mut conn, "BEGIN; SET LOCAL ROLE wallet_service");
    let rows_read = |conn: &mut PgConnection| -> i64 {
        scalar(
            conn,
            "SELECT coalesce(sum(seq_tup_read + idx_tup_fetch), 0) FROM pg_stat_xact_user_tables \
             WHERE relname = 'transactions'",
        )
        .parse()
        .unwrap()
    };
    for _ in 0..10 {
        let page = read_page::<Transaction>(&mut conn, &invoice).unwrap();
        assert_eq!(page.rows.len(), 2);
        assert!(
            read_page::<Transaction>(&mut conn, &rare_key)
                .unwrap()
                .rows
                .is_empty()
        );
    }
    let read = rows_read(&mut conn);
    assert!(read < 1_000, "20 pages read {read} rows of 100,000");
    // A value on every row: read as it stands, the first page is the first rows.
    let page = read_page::<Transaction>(&mut conn, &common).unwrap();
    assert_eq!(page.rows.len(), 25);
    let common_read = rows_read(&mut conn) - read;
    assert!(
        common_read < 5_000,
        "a common value read {common_read} rows"
    );
    exec(&mut conn, "COMMIT");

    // And the API finds the one row.
    let found = app.get("/transactions?filter[metadata.invoice]=4242");
    assert_eq!(found.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(found.body["data"][0]["attributes"]["txid"], "bulk-4242");
}

#[test]
fn a_metadata_change_in_sql_is_a_revision_and_never_a_balance_change() {
    let app = TestApp::spawn();
    let mut conn = app.db.connect();
    let wallet = crate::helpers::wallet(&mut conn, "w");
    crate::helpers::book(&mut conn, wallet, "t", "5");
    let journal = scalar(&mut conn, "SELECT count(*) FROM balance_changes");
    exec(
        &mut conn,
        "UPDATE transactions SET metadata = metadata || '{\"invoice\": \"42\"}' WHERE txid = 't'",
    );
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT old_metadata::text || ' -> ' || new_metadata::text FROM transaction_revisions \
             WHERE operation = 'update' AND new_txid = 't'"
        ),
        r#"{} -> {"invoice": "42"}"#
    );
    assert_eq!(
        scalar(&mut conn, "SELECT count(*) FROM balance_changes"),
        journal
    );
    exec(
        &mut conn,
        &format!("UPDATE wallets SET metadata = '{{\"account\": \"7\"}}' WHERE id = {wallet}"),
    );
    assert_eq!(
        scalar(
            &mut conn,
            &format!(
                "SELECT old_metadata::text || ' -> ' || new_metadata::text || ' by ' || revised_by \
                 FROM wallet_revisions WHERE wallet_id = {wallet}"
            )
        ),
        r#"{} -> {"account": "7"} by postgres"#
            .replace("postgres", &scalar(&mut conn, "SELECT session_user::text"))
    );
    // Unchanged values leave no revision.
    exec(
        &mut conn,
        &format!("UPDATE wallets SET metadata = metadata WHERE id = {wallet}"),
    );
    assert_eq!(
        scalar(
            &mut conn,
            &format!("SELECT count(*) FROM wallet_revisions WHERE wallet_id = {wallet}")
        ),
        "1"
    );
    assert_eq!(
        scalar(&mut conn, "SELECT count(*) FROM balance_changes"),
        journal
    );
    assert_eq!(
        crate::helpers::balance(&mut conn, wallet),
        "5.000000000000000000"
    );
    assert_running_totals(&mut conn);
}

#[test]
fn a_resolved_holds_metadata_may_still_change_and_nothing_else_does() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("w");
    app.book(&wallet, "fund", "10").expect(201);
    let created = app.post(
        "/holds",
        json!({"data": {"type": "holds", "attributes": {"amount": "4", "metadata": {"card": "1"}},
                        "relationships": {"wallet": {"data": {"type": "wallets", "id": wallet}}}}}),
    );
    let hold = created.body["data"]["id"].as_str().unwrap().to_string();
    let path = format!("/holds/{hold}");
    let captured = app.patch(
        &path,
        json!({"data": {"type": "holds", "id": hold, "attributes": {"status": "captured", "metadata": {"order": "9"}}}}),
    );
    captured.expect(200);
    assert_eq!(captured.body["data"]["attributes"]["status"], "captured");
    assert_eq!(
        captured.body["data"]["attributes"]["metadata"],
        json!({"card": "1", "order": "9"})
    );
    let later = tag(&app, &path, json!({"card": null}));
    later.expect(200);
    assert_eq!(
        later.body["data"]["attributes"]["metadata"],
        json!({"order": "9"})
    );
    assert_eq!(later.body["data"]["attributes"]["status"], "captured");
    // On record: the revision of the removal keeps the key it removed.
    assert_eq!(
        scalar(
            &mut app.db.connect(),
            &format!(
                "SELECT count(*) FROM hold_revisions WHERE hold_id = {hold} \
                 AND old -> 'metadata' ? 'card' AND NOT new -> 'metadata' ? 'card'"
            )
        ),
        "1"
    );
    assert_eq!(app.balance(&wallet), "6.000000000000000000");
    // Metadata does not reopen it.
    let again = app.patch(
        &path,
        json!({"data": {"type": "holds", "id": hold, "attributes": {"status": "voided", "metadata": {"x": "1"}}}}),
    );
    again.expect_error(409, "hold-not-pending", None);
    let stored = app.get(&path);
    assert_eq!(
        stored.body["data"]["attributes"]["metadata"],
        json!({"order": "9"})
    );
}

#[test]
fn metadata_goes_through_operations_idempotency_and_coalesced_bookings() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("w");
    let reply = app.operations(json!([
        {"op": "add", "data": {"type": "transactions", "lid": "t",
            "attributes": {"txid": "op-1", "amount": "3", "metadata": {"invoice": "7"}},
            "relationships": {"wallet": {"data": {"type": "wallets", "id": wallet}}}}},
        {"op": "update", "data": {"type": "transactions", "lid": "t",
            "attributes": {"metadata": {"paid": "yes"}}}},
        {"op": "update", "data": {"type": "wallets", "id": wallet,
            "attributes": {"metadata": {"owner": "o-1"}}}}
    ]));
    reply.expect(200);
    let results = &reply.body["atomic:results"];
    // Each result is the resource as committed: the add's transaction with the update merged.
    for result in [&results[0], &results[1]] {
        assert_eq!(
            result["data"]["attributes"]["metadata"],
            json!({"invoice": "7", "paid": "yes"})
        );
    }
    assert_eq!(
        results[2]["data"]["attributes"]["metadata"],
        json!({"owner": "o-1"})
    );
    // A bad one in the middle: a pointer into the operations, nothing written.
    let reply = app.operations(json!([
        {"op": "add", "data": {"type": "transactions",
            "attributes": {"txid": "op-2", "amount": "1"},
            "relationships": {"wallet": {"data": {"type": "wallets", "id": wallet}}}}},
        {"op": "add", "data": {"type": "transactions",
            "attributes": {"txid": "op-3", "amount": "1", "metadata": {"n": 1}},
            "relationships": {"wallet": {"data": {"type": "wallets", "id": wallet}}}}}
    ]));
    reply.expect_error(
        422,
        "invalid-attribute",
        Some(("pointer", "/atomic:operations/1/data/attributes/metadata")),
    );
    assert_eq!(app.balance(&wallet), "3.000000000000000000");

    // Idempotency-Key: the replay shows the metadata first stored.
    let send = || {
        app.send(
            "POST",
            "/transactions",
            &[("Content-Type", JSONAPI), ("Idempotency-Key", "meta-1")],
            Some(booking(&wallet, "keyed", "1", json!({"invoice": "8"})).to_string()),
        )
    };
    let first = send();
    first.expect(201);
    let replay = send();
    replay.expect(201);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        replay.body["data"]["attributes"]["metadata"],
        json!({"invoice": "8"})
    );

    // Coalesced bookings keep each one's own metadata.
    let coalescing = crate::coalescing::coalescing_app();
    let target = coalescing.create_wallet("c");
    let lock = crate::helpers::RowLock::wallet(&coalescing, &target);
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        drop(lock);
    });
    let replies = crate::helpers::all_at_once(
        8,
        |i| i,
        |_, i| {
            coalescing.post(
                "/transactions",
                booking(&target, &format!("c-{i}"), "1", json!({"n": i.to_string()})),
            )
        },
    );
    release.join().unwrap();
    for reply in &replies {
        reply.expect(201);
        let txid = reply.body["data"]["attributes"]["txid"].as_str().unwrap();
        assert_eq!(
            reply.body["data"]["attributes"]["metadata"]["n"],
            txid.trim_start_matches("c-")
        );
    }
    for i in 0..8 {
        assert_eq!(
            ids(
                &coalescing,
                &format!("/transactions?filter[metadata.n]={i}")
            )
            .len(),
            1
        );
    }
    assert!(crate::helpers::booked_together(&coalescing) > 1);
}
