//! Access control (issue "keep everyone out"): API keys, scopes, wallet-limited keys, key
//! management, revocation, attribution of every write, idempotency per key, rate limits, the
//! service's database role, CORS.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde_json::{Value, json};

use crate::helpers::*;

fn bearer(secret: &str) -> String {
    format!("Bearer {secret}")
}

#[test]
fn every_kind_of_bad_credential_is_a_401_with_its_challenge() {
    let app = TestApp::spawn();
    let (_, revoked) = app.new_key("soon-revoked", &["read"], &[]);
    app.delete(&format!(
        "/api-keys/{}",
        app.get("/api-keys?filter[name]=soon-revoked").body["data"][0]["id"]
            .as_str()
            .unwrap()
    ))
    .expect(204);
    let (expiring_id, expiring) = app.new_key("expiring", &["read"], &[]);
    exec(
        &mut app.db.connect(),
        &format!(
            "UPDATE api_keys SET expires_at = now() + interval '300 milliseconds' WHERE id = {expiring_id}"
        ),
    );
    std::thread::sleep(Duration::from_millis(1300));
    let unknown = "wk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_string();
    let cases = [
        (
            "no Authorization",
            (None, "needs an API key", "Bearer realm=\"wallet-api\""),
        ),
        (
            "Basic credentials",
            (
                Some("Basic dXNlcjpwYXNz".into()),
                "Bearer <secret>",
                "invalid_token",
            ),
        ),
        (
            "Bearer without a secret",
            (Some("Bearer".into()), "Bearer <secret>", "invalid_token"),
        ),
        (
            "a secret followed by more",
            (
                Some(format!("Bearer {unknown} extra")),
                "Bearer <secret>",
                "invalid_token",
            ),
        ),
        (
            "an unknown secret",
            (
                Some(bearer(&unknown)),
                "no API key has this secret",
                "invalid_token",
            ),
        ),
        (
            "a revoked key",
            (Some(bearer(&revoked)), "revoked", "invalid_token"),
        ),
        (
            "an expired key",
            (Some(bearer(&expiring)), "expired", "invalid_token"),
        ),
    ];
    each(cases, |(authorization, says, challenge)| {
        for (method, path) in [
            ("GET", "/wallets"),
            ("POST", "/wallets"),
            ("GET", "/metrics"),
            ("GET", "/nowhere"),
        ] {
            let mut headers = vec![("Accept", JSONAPI), ("Content-Type", JSONAPI)];
            if let Some(value) = &authorization {
                headers.push(("Authorization", value.as_str()));
            }
            let reply = app
                .as_key(None)
                .send(method, path, &headers, Some("{}".into()));
            reply.expect_error(401, "unauthenticated", Some(("header", "Authorization")));
            let detail = reply.error()["detail"].as_str().unwrap();
            assert!(detail.contains(says), "{method} {path}: {detail}");
            let www = reply.header("www-authenticate").unwrap();
            assert!(www.starts_with("Bearer realm=\"wallet-api\""), "{www}");
            assert!(www.contains(challenge), "{method} {path}: {www}");
        }
    });
    // What anyone may read.
    let anyone = app.as_key(None);
    anyone.get("/health").expect(200);
    anyone.get("/health/live").expect(200);
    let openapi = reqwest::blocking::get(app.url("/openapi.json")).unwrap();
    assert_eq!(openapi.status(), 200);
    // Counted, by kind.
    let metrics = app.raw_get("/metrics").2;
    for kind in ["missing", "malformed", "unknown", "revoked", "expired"] {
        assert!(
            metrics.contains(&format!(
                "wallet_api_authentication_failures_total{{reason=\"{kind}\"}}"
            )),
            "{kind} not counted:\n{metrics}"
        );
    }
}

#[test]
fn each_scope_allows_its_methods_and_names_the_one_missing() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("w");
    app.book(&wallet, "t-1", "5").expect(201);
    let (_, reader) = app.new_key("reader", &["read"], &[]);
    let (_, writer) = app.new_key("writer", &["write"], &[]);
    let read = app.as_key(Some(&reader));
    let write = app.as_key(Some(&writer));

    let needs = |reply: Reply, scope: &str| {
        reply.expect_error(403, "insufficient-scope", None);
        assert_eq!(
            reply.error()["meta"]["requiredScope"],
            scope,
            "{:#}",
            reply.body
        );
    };
    read.get("/wallets").expect(200);
    read.get(&format!("/wallets/{wallet}/transactions"))
        .expect(200);
    read.get("/balance-changes").expect(200);
    // The metrics are the operators': an admin key's.
    needs(read.get("/metrics"), "admin");
    needs(
        read.post(
            "/wallets",
            json!({"data": {"type": "wallets", "attributes": {"label": "x"}}}),
        ),
        "write",
    );
    needs(
        read.patch(
            &format!("/wallets/{wallet}"),
            json!({"data": {"type": "wallets", "id": wallet, "attributes": {"label": "y"}}}),
        ),
        "write",
    );
    needs(read.delete(&format!("/wallets/{wallet}")), "write");
    needs(read.book(&wallet, "t-2", "1"), "write");
    needs(read.operations(json!([])), "write");
    needs(read.get("/api-keys"), "admin");
    // A key with write reads too; it does not manage keys, or read them.
    write.get("/wallets").expect(200);
    write.book(&wallet, "t-3", "1").expect(201);
    needs(write.get("/api-keys"), "admin");
    needs(write.get("/api-keys/1"), "admin");
    needs(write.post("/api-keys", json!({"data": {"type": "api-keys", "attributes": {"name": "mine", "scopes": ["admin"]}}})), "admin");
    // The journal names the key of each change; only admin keys may follow it to the key.
    let change = read.get("/balance-changes?sort=-id&page[size]=1");
    let change_id = change.body["data"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(change.body["data"][0]["attributes"]["actorName"], "writer");
    needs(
        read.get(&format!("/balance-changes/{change_id}/actor")),
        "admin",
    );
    needs(read.get("/balance-changes?include=actor"), "admin");
    let actor = app.get(&format!("/balance-changes/{change_id}/actor"));
    actor.expect(200);
    assert_eq!(actor.body["data"]["attributes"]["name"], "writer");
    // Nothing the refused requests asked for was written.
    assert_eq!(app.balance(&wallet), "6.000000000000000000");
    assert_eq!(
        app.get("/wallets").body["data"].as_array().unwrap().len(),
        1
    );
}

/// Two wallets, a key limited to the first (read and write) and what each holds.
struct Limited {
    app: TestApp,
    mine: String,
    theirs: String,
    secret: String,
    my_transaction: String,
    their_transaction: String,
}

fn limited() -> Limited {
    let app = TestApp::spawn();
    let mine = app.create_wallet("mine");
    let theirs = app.create_wallet("theirs");
    let my_transaction = app.book(&mine, "mine-1", "10").body["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let their_transaction = app.book(&theirs, "theirs-1", "20").body["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for n in 2..6 {
        app.book(&mine, &format!("mine-{n}"), "1").expect(201);
        app.book(&theirs, &format!("theirs-{n}"), "1").expect(201);
    }
    let (_, secret) = app.new_key("limited", &["write"], &[&mine]);
    Limited {
        app,
        mine,
        theirs,
        secret,
        my_transaction,
        their_transaction,
    }
}

fn wallet_ids(reply: &Reply) -> Vec<String> {
    reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|object| match object["type"].as_str().unwrap() {
            "wallets" => object["id"].as_str().unwrap().to_string(),
            _ => object["relationships"]["wallet"]["data"]["id"]
                .as_str()
                .unwrap()
                .to_string(),
        })
        .collect()
}

#[test]
fn a_wallet_limited_key_sees_only_its_wallets() {
    let Limited {
        app,
        mine,
        theirs,
        secret,
        my_transaction,
        their_transaction,
    } = limited();
    let key = app.as_key(Some(&secret));
    // Another wallet, and what belongs to it, does not exist.
    for path in [
        format!("/wallets/{theirs}"),
        format!("/wallets/{theirs}?balanceAt=2026-01-01T00:00:00Z"),
        format!("/wallets/{theirs}/transactions"),
        format!("/wallets/{theirs}/balance-changes"),
        format!("/wallets/{theirs}/relationships/transactions"),
    ] {
        key.get(&path).expect_error(404, "wallet-not-found", None);
    }
    for path in [
        format!("/transactions/{their_transaction}"),
        format!("/transactions/{their_transaction}/wallet"),
        format!("/transactions/{their_transaction}/relationships/wallet"),
    ] {
        key.get(&path)
            .expect_error(404, "transaction-not-found", None);
    }
    let their_change = app.get(&format!("/wallets/{theirs}/balance-changes")).body["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    key.get(&format!("/balance-changes/{their_change}"))
        .expect_error(404, "balance-change-not-found", None);
    // Collections, included resources and filters hold only its own.
    for path in [
        "/wallets".to_string(),
        "/transactions".to_string(),
        "/balance-changes".to_string(),
        "/transactions?include=wallet".to_string(),
        format!("/transactions?filter[wallet]={mine},{theirs}"),
        "/transactions?sort=-amount".to_string(),
        "/transactions?page[number]=1&page[size]=100".to_string(),
    ] {
        let reply = key.get(&path);
        reply.expect(200);
        let ids = wallet_ids(&reply);
        assert!(!ids.is_empty(), "{path}");
        assert!(ids.iter().all(|id| *id == mine), "{path}: {ids:?}");
        for included in reply.body["included"].as_array().into_iter().flatten() {
            assert_eq!(included["id"], mine.as_str(), "{path}");
        }
        if let Some(total) = reply.body["meta"]["page"]["total"].as_u64() {
            assert_eq!(total, 5, "{path}: the total counts only what it sees");
        }
    }
    key.get(&format!("/transactions?filter[wallet]={theirs}"))
        .expect(200);
    assert_eq!(
        key.get(&format!("/transactions?filter[wallet]={theirs}"))
            .body["data"],
        json!([])
    );
    // Cursor pages walk its rows only, even from a cursor taken from a full listing.
    let mut seen = Vec::new();
    let mut next = Some("/transactions?page[size]=2".to_string());
    while let Some(path) = next {
        let reply = key.get(&path);
        seen.extend(wallet_ids(&reply));
        next = reply.body["links"]["next"].as_str().map(str::to_string);
    }
    assert_eq!(seen.len(), 5);
    assert!(seen.iter().all(|id| *id == mine));
    let everyone = app.get("/transactions?page[size]=1&sort=-amount");
    let cursor = everyone.body["links"]["next"].as_str().unwrap().to_string();
    let from_their_cursor = key.get(&cursor);
    from_their_cursor.expect(200);
    assert!(wallet_ids(&from_their_cursor).iter().all(|id| *id == mine));
    // Its own transaction, as usual.
    key.get(&format!("/transactions/{my_transaction}"))
        .expect(200);
}

#[test]
fn a_wallet_limited_key_writes_only_its_wallets_and_a_write_beyond_them_writes_nothing() {
    let Limited {
        app,
        mine,
        theirs,
        secret,
        my_transaction,
        their_transaction,
    } = limited();
    let key = app.as_key(Some(&secret));
    let before = (app.balance(&mine), app.balance(&theirs));
    let count = || scalar(&mut app.db.connect(), "SELECT count(*) FROM transactions");
    let transactions = count();

    key.post(
        "/wallets",
        json!({"data": {"type": "wallets", "attributes": {"label": "new"}}}),
    )
    .expect_error(403, "wallet-limited-key", None);
    key.book(&theirs, "into-theirs", "5").expect_error(
        404,
        "wallet-not-found",
        Some(("pointer", "/data/relationships/wallet/data")),
    );
    // Moving its own transaction to another wallet, both ways of asking.
    key.patch(
        &format!("/transactions/{my_transaction}"),
        json!({"data": {"type": "transactions", "id": my_transaction, "relationships":
            {"wallet": {"data": {"type": "wallets", "id": theirs}}}}}),
    )
    .expect_error(
        404,
        "wallet-not-found",
        Some(("pointer", "/data/relationships/wallet/data")),
    );
    key.patch(
        &format!("/transactions/{my_transaction}/relationships/wallet"),
        json!({"data": {"type": "wallets", "id": theirs}}),
    )
    .expect_error(404, "wallet-not-found", Some(("pointer", "/data")));
    key.patch(
        &format!("/transactions/{their_transaction}"),
        json!({"data": {"type": "transactions", "id": their_transaction, "attributes": {"amount": "1"}}}),
    )
    .expect_error(404, "transaction-not-found", None);
    key.delete(&format!("/transactions/{their_transaction}"))
        .expect_error(404, "transaction-not-found", None);
    key.delete(&format!("/wallets/{theirs}"))
        .expect_error(404, "wallet-not-found", None);
    key.patch(
        &format!("/wallets/{theirs}"),
        json!({"data": {"type": "wallets", "id": theirs, "attributes": {"label": "mine now"}}}),
    )
    .expect_error(404, "wallet-not-found", None);
    // Atomic requests: one operation beyond its wallets fails them all.
    let add = |wallet: &str, txid: &str| {
        json!({"op": "add", "data": {"type": "transactions", "attributes": {"txid": txid, "amount": "1"},
            "relationships": {"wallet": {"data": {"type": "wallets", "id": wallet}}}}})
    };
    key.operations(json!([
        add(&mine, "atomic-mine"),
        add(&theirs, "atomic-theirs")
    ]))
    .expect_error(
        404,
        "wallet-not-found",
        Some((
            "pointer",
            "/atomic:operations/1/data/relationships/wallet/data",
        )),
    );
    key.operations(json!([
        add(&mine, "atomic-mine"),
        {"op": "remove", "ref": {"type": "transactions", "id": their_transaction}}
    ]))
    .expect_error(
        404,
        "transaction-not-found",
        Some(("pointer", "/atomic:operations/1/ref")),
    );
    key.operations(json!([
        add(&mine, "atomic-mine"),
        {"op": "add", "data": {"type": "wallets", "attributes": {"label": "new"}}}
    ]))
    .expect_error(
        403,
        "wallet-limited-key",
        Some(("pointer", "/atomic:operations/1/data/type")),
    );
    assert_eq!((app.balance(&mine), app.balance(&theirs)), before);
    assert_eq!(count(), transactions, "nothing was written");

    // Within its wallets, it writes.
    key.book(&mine, "mine-more", "2").expect(201);
    key.operations(json!([add(&mine, "atomic-mine")]))
        .expect(200);
    assert_eq!(app.balance(&mine), "17.000000000000000000");
}

#[test]
fn keys_are_managed_over_the_api_and_their_secret_is_shown_once() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("w");
    let created = app.post(
        "/api-keys?include=wallets",
        json!({"data": {"type": "api-keys", "attributes": {"name": "ci", "scopes": ["read", "write"],
            "expiresAt": "2999-01-01T00:00:00Z"},
            "relationships": {"wallets": {"data": [{"type": "wallets", "id": wallet}]}}}}),
    );
    created.expect(201);
    let secret = created.body["meta"]["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("wk_") && secret.len() == 46, "{secret}");
    let id = created.body["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        created.header("location").unwrap(),
        app.url(&format!("/api-keys/{id}"))
    );
    assert_eq!(created.body["data"]["attributes"]["prefix"], &secret[..11]);
    assert_eq!(created.body["included"][0]["id"], wallet.as_str());
    // Read back, never with the secret.
    let shown = app.get(&format!("/api-keys/{id}"));
    assert!(!shown.text.contains(&secret[11..]));
    assert_eq!(
        shown.body["data"]["attributes"]["scopes"],
        json!(["read", "write"])
    );
    assert_eq!(
        shown.body["data"]["relationships"]["wallets"]["data"],
        json!([{"type": "wallets", "id": wallet}])
    );
    assert!(!app.get("/api-keys").text.contains(&secret[11..]));
    app.wait_for_key(&secret);

    // What a key document may not say.
    for (document, code, pointer) in [
        (
            json!({"data": {"type": "api-keys", "attributes": {"name": "ci", "scopes": ["read"]}}}),
            "duplicate-key-name",
            "/data/attributes/name",
        ),
        (
            json!({"data": {"type": "api-keys", "attributes": {"name": "a", "scopes": ["admin"]},
            "relationships": {"wallets": {"data": [{"type": "wallets", "id": wallet}]}}}}),
            "limited-admin-key",
            "/data/relationships/wallets",
        ),
        (
            json!({"data": {"type": "api-keys", "attributes": {"name": "b", "scopes": ["read"]},
            "relationships": {"wallets": {"data": [{"type": "wallets", "id": "999999"}]}}}}),
            "wallet-not-found",
            "/data/relationships/wallets/data/0",
        ),
        (
            json!({"data": {"type": "api-keys", "attributes": {"name": "c", "scopes": ["root"]}}}),
            "invalid-attribute",
            "/data/attributes/scopes",
        ),
        (
            json!({"data": {"type": "api-keys", "attributes": {"name": "", "scopes": ["read"]}}}),
            "invalid-attribute",
            "/data/attributes/name",
        ),
        (
            json!({"data": {"type": "api-keys", "attributes": {"name": "d", "scopes": ["read"],
            "expiresAt": "2001-01-01T00:00:00Z"}}}),
            "invalid-attribute",
            "/data/attributes/expiresAt",
        ),
        (
            json!({"data": {"type": "api-keys", "attributes": {"name": "e", "scopes": ["read"],
            "prefix": "wk_mine"}}}),
            "read-only-field",
            "/data/attributes/prefix",
        ),
    ] {
        let reply = app.post("/api-keys", document);
        assert_eq!(reply.error()["code"], code, "{:#}", reply.body);
        assert_eq!(
            reply.error()["source"]["pointer"],
            pointer,
            "{:#}",
            reply.body
        );
    }
    // A creation is not replayed (the secret is never stored).
    app.send(
        "POST",
        "/api-keys",
        &[("Content-Type", JSONAPI), ("Idempotency-Key", "k-1")],
        Some(
            json!({"data": {"type": "api-keys", "attributes": {"name": "f", "scopes": ["read"]}}})
                .to_string(),
        ),
    )
    .expect_error(
        400,
        "invalid-idempotency-key",
        Some(("header", "Idempotency-Key")),
    );

    // Revoked by PATCH of revokedAt, or by DELETE; a revocation is final.
    let revoked = app.patch(
        &format!("/api-keys/{id}"),
        json!({"data": {"type": "api-keys", "id": id, "attributes": {"revokedAt": "2026-01-01T00:00:00Z"}}}),
    );
    revoked.expect(200);
    assert_eq!(
        revoked.body["data"]["attributes"]["revokedAt"],
        "2026-01-01T00:00:00.000000Z"
    );
    app.patch(
        &format!("/api-keys/{id}"),
        json!({"data": {"type": "api-keys", "id": id, "attributes": {"revokedAt": "2026-02-01T00:00:00Z"}}}),
    )
    .expect_error(409, "api-key-revoked", Some(("pointer", "/data/attributes/revokedAt")));
    app.delete(&format!("/api-keys/{id}")).expect(204);
    app.delete("/api-keys/999999")
        .expect_error(404, "api-key-not-found", None);
    // Its name may be given again.
    app.post(
        "/api-keys",
        json!({"data": {"type": "api-keys", "attributes": {"name": "ci", "scopes": ["read"]}}}),
    )
    .expect(201);
    // Not through atomic operations.
    app.operations(json!([{"op": "add", "data": {"type": "api-keys",
        "attributes": {"name": "g", "scopes": ["read"]}}}]))
        .expect_error(
            403,
            "not-atomic",
            Some(("pointer", "/atomic:operations/0/data/type")),
        );
}

#[test]
fn a_revoked_key_stops_working_within_a_second() {
    let app = TestApp::spawn();
    let (id, secret) = app.new_key("to-revoke", &["read"], &[]);
    let key = app.as_key(Some(&secret));
    key.get("/wallets").expect(200);
    app.delete(&format!("/api-keys/{id}")).expect(204);
    std::thread::sleep(Duration::from_secs(1));
    key.get("/wallets")
        .expect_error(401, "unauthenticated", None);

    // Revoked from the command line, on another instance of the service, as well.
    let (_, other) = app.new_key("cli-revoked", &["read"], &[]);
    let second = TestApp::spawn_beside(&app);
    second.as_key(Some(&other)).get("/wallets").expect(200);
    let revoked = std::process::Command::new(env!("CARGO_BIN_EXE_wallet-api"))
        .args(["keys", "revoke", "cli-revoked"])
        .env("DATABASE_URL", &app.db.url)
        .output()
        .unwrap();
    assert!(revoked.status.success(), "{revoked:?}");
    std::thread::sleep(Duration::from_secs(1));
    for instance in [&app, &second] {
        instance
            .as_key(Some(&other))
            .get("/wallets")
            .expect_error(401, "unauthenticated", None);
    }
}

#[test]
fn the_command_line_creates_lists_and_revokes_keys() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("w");
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_wallet-api"))
            .args(args)
            .env("DATABASE_URL", &app.db.service_url)
            .output()
            .unwrap()
    };
    let created = run(&[
        "keys",
        "create",
        "--name",
        "batch",
        "--scope",
        "read",
        "--scope",
        "write",
        "--wallet",
        &wallet,
        "--expires",
        "2999-01-01T00:00:00Z",
    ]);
    assert!(created.status.success(), "{created:?}");
    let stdout = String::from_utf8(created.stdout).unwrap();
    let secret = stdout.lines().last().unwrap().to_string();
    assert!(secret.starts_with("wk_") && secret.len() == 46, "{stdout}");
    app.wait_for_key(&secret);
    let key = app.as_key(Some(&secret));
    assert_eq!(wallet_ids(&key.get("/wallets")), vec![wallet.clone()]);

    let listed = String::from_utf8(run(&["keys", "list"]).stdout).unwrap();
    let line = listed
        .lines()
        .find(|line| line.contains("\"batch\""))
        .unwrap();
    assert!(
        line.contains(&secret[..11]) && line.contains("read, write"),
        "{line}"
    );
    assert!(
        line.contains(&format!("wallets {wallet}")) && line.contains("expires 2999"),
        "{line}"
    );
    assert!(!listed.contains(&secret[11..]));

    for (args, says) in [
        (
            vec!["keys", "create", "--name", "batch", "--scope", "read"],
            "a key in use is named",
        ),
        (
            vec!["keys", "create", "--name", "x", "--scope", "root"],
            "is not a scope",
        ),
        (
            vec![
                "keys", "create", "--name", "x", "--scope", "admin", "--wallet", &wallet,
            ],
            "cannot be limited",
        ),
        (
            vec![
                "keys",
                "create",
                "--name",
                "x",
                "--scope",
                "read",
                "--expires",
                "2001-01-01T00:00:00Z",
            ],
            "in the past",
        ),
        (vec!["keys", "revoke", "nobody"], "no key in use is named"),
    ] {
        let refused = run(&args);
        assert!(!refused.status.success(), "{args:?}");
        let stderr = String::from_utf8(refused.stderr).unwrap();
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    let revoked = run(&["keys", "revoke", "batch"]);
    assert!(revoked.status.success(), "{revoked:?}");
    std::thread::sleep(Duration::from_secs(1));
    key.get("/wallets")
        .expect_error(401, "unauthenticated", None);
}

#[test]
fn secrets_are_never_stored_nor_logged() {
    let db = TestDb::new();
    let mut owner = db.connect();
    let (_, admin) = create_key(&mut owner, "admin", &["admin"], &[]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = std::process::Command::new(env!("CARGO_BIN_EXE_wallet-api"))
        .arg("serve")
        .env("DATABASE_URL", &db.service_url)
        .env("MIGRATION_DATABASE_URL", &db.url)
        .env("PORT", port.to_string())
        .env("RUST_LOG", "trace")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::blocking::Client::new();
    let started = Instant::now();
    while client.get(format!("{base}/health")).send().is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let created: Value = client
        .post(format!("{base}/api-keys"))
        .bearer_auth(&admin)
        .header("Content-Type", JSONAPI)
        .body(json!({"data": {"type": "api-keys", "attributes": {"name": "new", "scopes": ["write"]}}}).to_string())
        .send()
        .unwrap()
        .json()
        .unwrap();
    let new = created["meta"]["secret"].as_str().unwrap().to_string();
    std::thread::sleep(Duration::from_millis(1200));
    let mut secrets = vec![admin.clone(), new.clone()];
    // Used well, used wrongly, and one that is no key at all.
    let wrong = format!("{}x", &new[..new.len() - 1]);
    secrets.push(wrong.clone());
    for secret in [&admin, &new, &wrong] {
        for path in ["/wallets", "/api-keys", "/nowhere"] {
            client
                .get(format!("{base}{path}"))
                .bearer_auth(secret)
                .send()
                .unwrap();
        }
        client
            .post(format!("{base}/wallets"))
            .bearer_auth(secret)
            .header("Content-Type", JSONAPI)
            .header("Idempotency-Key", "k")
            .body(json!({"data": {"type": "wallets", "attributes": {"label": "w"}}}).to_string())
            .send()
            .unwrap();
    }
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let output = server.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stderr).to_string()
        + &String::from_utf8_lossy(&output.stdout);
    assert!(
        log.contains("authentication failed"),
        "the log is there: {log}"
    );
    // Everything the database holds, as text.
    let dump = std::process::Command::new(pg_dump())
        .args(["--data-only", &db.url])
        .output()
        .unwrap();
    assert!(dump.status.success(), "{dump:?}");
    let dump = String::from_utf8(dump.stdout).unwrap();
    assert!(
        dump.contains("\"new\"") || dump.contains("new"),
        "the dump holds the keys"
    );
    for secret in &secrets {
        // Its random part: the prefix (the first 11 characters) is shown on purpose.
        let hidden = &secret[11..];
        assert!(!log.contains(hidden), "a secret in the log");
        assert!(!dump.contains(hidden), "a secret in the database");
    }
}

fn pg_dump() -> String {
    let found = std::process::Command::new("sh")
        .args([
            "-c",
            "command -v pg_dump || ls -d /usr/lib/postgresql/*/bin/pg_dump | sort -V | tail -n 1",
        ])
        .output()
        .unwrap();
    String::from_utf8(found.stdout).unwrap().trim().to_string()
}

#[test]
fn an_idempotency_key_belongs_to_the_api_key_that_sent_it() {
    let app = TestApp::spawn();
    let (_, first) = app.new_key("first", &["write"], &[]);
    let (_, second) = app.new_key("second", &["write"], &[]);
    let create = |secret: &str, label: &str| {
        app.send(
            "POST",
            "/wallets",
            &[
                ("Content-Type", JSONAPI),
                ("Authorization", &bearer(secret)),
                ("Idempotency-Key", "shared-key"),
            ],
            Some(json!({"data": {"type": "wallets", "attributes": {"label": label}}}).to_string()),
        )
    };
    let a = create(&first, "same");
    a.expect(201);
    // The same key value from another API key, with the same request: a request of its own.
    let b = create(&second, "same");
    b.expect(201);
    assert_eq!(b.header("idempotent-replayed"), None);
    assert_ne!(a.body["data"]["id"], b.body["data"]["id"]);
    // With another request: not told what the first one was.
    // With another request: the second key's own key value, reused.
    create(&second, "other").expect_error(422, "idempotency-key-reused", None);
    // Each key's retry replays its own response.
    let again = create(&first, "same");
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body["data"]["id"], a.body["data"]["id"]);
    let again = create(&second, "same");
    assert_eq!(again.body["data"]["id"], b.body["data"]["id"]);
    assert_eq!(
        app.get("/wallets").body["data"].as_array().unwrap().len(),
        2
    );
}

/// The actor of the journal row of each transaction, by txid.
fn actors(app: &TestApp) -> Vec<(String, Option<String>, Option<String>)> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        txid: String,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        actor: Option<String>,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        revised_by: Option<String>,
    }
    diesel::sql_query(
        "SELECT t.txid, c.actor_name AS actor, r.actor_name AS revised_by
         FROM transactions t
         JOIN balance_changes c ON c.transaction_id = t.id AND c.operation = 'insert'
         LEFT JOIN transaction_revisions r ON r.transaction_id = t.id
         ORDER BY t.txid",
    )
    .load::<Row>(&mut app.db.connect())
    .unwrap()
    .into_iter()
    .map(|row| (row.txid, row.actor, row.revised_by))
    .collect()
}

#[test]
fn every_write_is_journaled_under_its_own_key_even_in_a_shared_batch() {
    let app = TestApp::spawn_with(|config| {
        config.coalesce = true;
        config.limits.lock_timeout = Duration::from_secs(10);
        config.limits.acquire_timeout = Duration::from_secs(10);
        config.limits.max_waiting = Some(64);
    });
    let wallet = app.create_wallet("hot");
    let (first_id, first) = app.new_key("first", &["write"], &[]);
    let (_, second) = app.new_key("second", &["write"], &[]);
    // Bookings of both keys pile up behind a locked wallet, and are run together.
    let lock = RowLock::wallet(&app, &wallet);
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        drop(lock);
    });
    let replies = all_at_once(
        24,
        |n| {
            if n % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            }
        },
        |n, secret| {
            app.as_key(Some(&secret))
                .book(&wallet, &format!("b{n:02}"), "1")
        },
    );
    release.join().unwrap();
    for reply in &replies {
        reply.expect(201);
    }
    assert!(
        booked_together(&app) > 1,
        "no two bookings shared a transaction"
    );
    for (txid, actor, _) in actors(&app) {
        let n: usize = txid[1..].parse().unwrap();
        let expected = if n.is_multiple_of(2) {
            "first"
        } else {
            "second"
        };
        assert_eq!(actor.as_deref(), Some(expected), "{txid}");
    }
    // An update, a delete and an atomic request; and the filter by key.
    let one = replies[0].body["data"]["id"].as_str().unwrap().to_string();
    app.as_key(Some(&second))
        .patch(
            &format!("/transactions/{one}"),
            json!({"data": {"type": "transactions", "id": one, "attributes": {"amount": "2"}}}),
        )
        .expect(200);
    app.as_key(Some(&second))
        .operations(json!([{"op": "add", "data": {"type": "transactions",
            "attributes": {"txid": "atomic", "amount": "3"},
            "relationships": {"wallet": {"data": {"type": "wallets", "id": wallet}}}}}]))
        .expect(200);
    let journal = app.get("/balance-changes?sort=-id&page[size]=2&include=actor");
    for entry in journal.body["data"].as_array().unwrap() {
        assert_eq!(entry["attributes"]["actorName"], "second");
        assert_eq!(entry["relationships"]["actor"]["data"]["type"], "api-keys");
    }
    assert_eq!(journal.body["included"][0]["attributes"]["name"], "second");
    let revised = actors(&app);
    let (_, _, revised_by) = revised.iter().find(|(txid, _, _)| txid == "b00").unwrap();
    assert_eq!(revised_by.as_deref(), Some("second"));
    let by_first = app.get(&format!(
        "/balance-changes?filter[actor]={first_id}&page[size]=100"
    ));
    assert_eq!(by_first.body["data"].as_array().unwrap().len(), 12);
    // A write in SQL names no key, whatever its session says.
    let clerk = Clerk::new(&app.db);
    let mut clerk = PgConnection::establish(&clerk.url).unwrap();
    exec(
        &mut clerk,
        &format!(
            "SELECT set_config('wallet_api.actor', '{first_id}', false);
                  INSERT INTO transactions (wallet_id, txid, amount) VALUES ({wallet}, 'sql', 1)"
        ),
    );
    let sql = actors(&app);
    let (_, actor, _) = sql.iter().find(|(txid, _, _)| txid == "sql").unwrap();
    assert_eq!(actor, &None);
}

/// A person in psql who may write transactions (a member of wallet_writer), dropped at the
/// end.
struct Clerk {
    name: String,
    url: String,
    owner_url: String,
}

impl Clerk {
    fn new(db: &TestDb) -> Clerk {
        let name = format!("clerk_{}", db.name.trim_start_matches("wallet_api_test_"));
        exec(
            &mut db.connect(),
            &format!("CREATE ROLE {name} LOGIN IN ROLE wallet_writer"),
        );
        Clerk {
            url: with_user(&db.url, &name, "unused"),
            name,
            owner_url: db.url.clone(),
        }
    }
}

impl Drop for Clerk {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(&self.owner_url) {
            let _ = diesel::connection::SimpleConnection::batch_execute(
                &mut conn,
                &format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{0}';
                     DROP OWNED BY {0}; DROP ROLE IF EXISTS {0}",
                    self.name
                ),
            );
        }
    }
}

#[test]
fn past_its_rate_a_key_is_told_to_wait() {
    let app = TestApp::spawn_with(|config| {
        config.rate_limit = 1.0;
        config.rate_limit_burst = 3.0;
    });
    let (_, other) = app.new_key("other", &["read"], &[]);
    let (_, operator) = app.new_key("operator", &["admin"], &[]);
    let mut replies: Vec<Reply> = (0..4).map(|_| app.get("/wallets")).collect();
    let limited = replies.pop().unwrap();
    for (i, reply) in replies.iter().enumerate() {
        reply.expect(200);
        assert_eq!(
            reply.header("ratelimit-policy"),
            Some("\"per-key\";q=3;w=3")
        );
        assert!(
            reply
                .header("ratelimit")
                .unwrap()
                .starts_with(&format!("\"per-key\";r={}", 2 - i)),
            "{:?}",
            reply.header("ratelimit")
        );
    }
    limited.expect_error(429, "rate-limited", None);
    let wait: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=3).contains(&wait));
    assert_eq!(
        limited.header("ratelimit-policy"),
        Some("\"per-key\";q=3;w=3")
    );
    assert!(
        limited
            .header("ratelimit")
            .unwrap()
            .starts_with("\"per-key\";r=0")
    );
    // Another key has a bucket of its own; the first one's refills.
    app.as_key(Some(&other)).get("/wallets").expect(200);
    std::thread::sleep(Duration::from_millis(1100));
    app.get("/wallets").expect(200);
    let metrics = reqwest::blocking::Client::new()
        .get(app.url("/metrics"))
        .bearer_auth(&operator)
        .send()
        .unwrap()
        .text()
        .unwrap();
    let refused: u64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("wallet_api_rate_limited_total "))
        .and_then(|count| count.parse().ok())
        .unwrap_or(0);
    assert!(refused >= 1, "{metrics}");
}

#[test]
fn the_services_database_role_cannot_break_the_rules() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("w");
    app.book(&wallet, "t", "5").expect(201);
    let mut service = PgConnection::establish(&app.db.service_url).unwrap();
    for sql in [
        "ALTER TABLE transactions DISABLE TRIGGER ALL".to_string(),
        "ALTER TABLE transactions DISABLE TRIGGER USER".to_string(),
        format!("UPDATE wallets SET balance = 1000 WHERE id = {wallet}"),
        "DELETE FROM balance_changes".to_string(),
        "UPDATE balance_changes SET delta = 0".to_string(),
        "INSERT INTO balance_changes (wallet_id, delta, balance, operation, transaction_count, changed_at, database_xid, changed_by, application) SELECT wallet_id, 1, 1, 'repair', 0, now(), pg_current_xact_id(), 'x', 'x' FROM balance_changes LIMIT 1".to_string(),
        "DELETE FROM transaction_revisions".to_string(),
        "TRUNCATE transactions".to_string(),
        "ALTER TABLE wallets DISABLE ROW LEVEL SECURITY".to_string(),
        "DROP POLICY wallets_visible ON wallets".to_string(),
        "UPDATE api_keys SET scopes = '{admin}'".to_string(),
        "UPDATE api_keys SET wallet_ids = '{}'".to_string(),
        "SET session_replication_role = replica".to_string(),
        "CREATE TABLE mine (id int)".to_string(),
    ] {
        let error = exec_err(&mut service, &sql).to_string();
        assert!(
            error.contains("permission denied") || error.contains("must be owner") || error.contains("must be superuser"),
            "{sql}: {error}"
        );
    }
    assert_eq!(app.balance(&wallet), "5.000000000000000000");
    // The service's own writes still work.
    app.book(&wallet, "t2", "1").expect(201);
}

#[test]
fn pages_of_allowed_origins_may_call_it_from_a_browser() {
    let app = TestApp::spawn_with(|config| {
        config.cors_origins = vec!["https://app.example".into()];
    });
    let client = reqwest::blocking::Client::new();
    let preflight = client
        .request(reqwest::Method::OPTIONS, app.url("/wallets"))
        .header("Origin", "https://app.example")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type, accept, idempotency-key, traceparent, tracestate, \
             x-request-id",
        )
        .send()
        .unwrap();
    assert!(preflight.status().is_success(), "{preflight:?}");
    let header = |response: &reqwest::blocking::Response, name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_lowercase())
    };
    assert_eq!(
        header(&preflight, "access-control-allow-origin").as_deref(),
        Some("https://app.example")
    );
    let allowed = header(&preflight, "access-control-allow-headers").unwrap();
    for name in [
        "authorization",
        "content-type",
        "accept",
        "idempotency-key",
        "wallet-api-lsn",
        // What instrumented pages add (OpenTelemetry, Sentry).
        "traceparent",
        "tracestate",
        "x-request-id",
    ] {
        assert!(allowed.contains(name), "{allowed}");
    }
    assert!(
        header(&preflight, "access-control-allow-methods")
            .unwrap()
            .contains("post")
    );
    // The request itself, and what a page may read of its answer.
    let real = app.send(
        "POST",
        "/wallets",
        &[("Content-Type", JSONAPI), ("Origin", "https://app.example")],
        Some(
            json!({"data": {"type": "wallets", "attributes": {"label": "from a page"}}})
                .to_string(),
        ),
    );
    real.expect(201);
    assert_eq!(
        real.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    let exposed = real
        .header("access-control-expose-headers")
        .unwrap()
        .to_lowercase();
    for name in [
        "location",
        "retry-after",
        "idempotent-replayed",
        "ratelimit",
        "ratelimit-policy",
        "wallet-api-lsn",
        "x-request-id",
    ] {
        assert!(exposed.contains(name), "{exposed}");
    }
    // Another origin gets no CORS headers at all.
    let other = client
        .request(reqwest::Method::OPTIONS, app.url("/wallets"))
        .header("Origin", "https://evil.example")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .unwrap();
    assert_eq!(header(&other, "access-control-allow-origin"), None);
    let real = app.send(
        "GET",
        "/wallets",
        &[("Accept", JSONAPI), ("Origin", "https://evil.example")],
        None,
    );
    assert_eq!(real.header("access-control-allow-origin"), None);
    // None configured (the default): no CORS at all.
    let plain = TestApp::spawn();
    let reply = plain.send(
        "GET",
        "/wallets",
        &[("Accept", JSONAPI), ("Origin", "https://app.example")],
        None,
    );
    assert_eq!(reply.header("access-control-allow-origin"), None);
}

#[test]
fn authentication_off_is_refused_on_a_public_address_unless_confirmed() {
    let db = TestDb::new();
    let mut config = TestApp::config(&db);
    config.auth = false;
    config.host = "0.0.0.0".into();
    let refused = wallet_api::startup::Application::serving(&config)
        .err()
        .expect("AUTH=off on 0.0.0.0 is refused");
    assert!(
        refused.to_string().contains("AUTH_OFF_BEHIND_GATEWAY=yes"),
        "{refused}"
    );
    config.auth_off_behind_gateway = true;
    let system = actix_web::rt::System::new();
    system.block_on(async {
        let application = wallet_api::startup::Application::serving(&config).unwrap();
        let handle = application.handle();
        let served = actix_web::rt::spawn(application.run_until_stopped());
        handle.stop(false).await;
        served.await.unwrap().unwrap();
    });

    // Off on loopback: no key asked for, no key named in the journal.
    let app = TestApp::spawn_with(|config| config.auth = false);
    let wallet = app.as_key(None).post(
        "/wallets",
        json!({"data": {"type": "wallets", "attributes": {"label": "w"}}}),
    );
    wallet.expect(201);
    let wallet = wallet.body["data"]["id"].as_str().unwrap().to_string();
    app.as_key(None).book(&wallet, "t", "1").expect(201);
    let entry = app.as_key(None).get("/balance-changes");
    assert_eq!(
        entry.body["data"][0]["attributes"]["actorName"],
        Value::Null
    );
    assert_eq!(
        entry.body["data"][0]["relationships"]["actor"]["data"],
        Value::Null
    );
}
