//! Junk the OpenAPI document does not describe, from a seeded generator: query strings
//! made of JSON:API parameter names and hostile values, and every header variant. No answer
//! may be a 5xx, and each one is checked like any other (JSON:API schema, openapi.json).

use crate::helpers::*;

/// A small deterministic generator (xorshift64), so that a failure names its seed.
struct Junk(u64);

impl Junk {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const NAMES: &[&str] = &[
    "filter[label]",
    "filter[label.startswith]",
    "filter[label.icontains]",
    "filter[balance]",
    "filter[balance.gt]",
    "filter[createdAt.lte]",
    "filter[id]",
    "filter[id.in]",
    "filter[wallet]",
    "filter[amount.lt]",
    "filter[txid]",
    "filter[nope]",
    "filter[]",
    "filter",
    "filter[label][x]",
    "page[size]",
    "page[number]",
    "page[after]",
    "page[before]",
    "page[cursor]",
    "page",
    "sort",
    "fields[wallets]",
    "fields[transactions]",
    "fields[]",
    "fields",
    "include",
    "balanceAt",
    "unknown",
    "Filter[label]",
    "%5Bx%5D",
];

const VALUES: &[&str] = &[
    "",
    "%00",
    "a%00b",
    "%FF%FE",
    "-1",
    "0",
    "1",
    "18446744073709551616",
    "1e400",
    "1e-99999",
    "NaN",
    "-Infinity",
    "0x10",
    "1,2,,3",
    ",",
    "%2C%2C",
    "label,-label",
    "--label",
    "-",
    "wallet,wallet.wallet",
    "transactions.wallet",
    "%20",
    "+",
    "'%3B DROP TABLE wallets%3B--",
    "%25",
    "%",
    "%zz",
    "-4713-11-23",
    "262144-01-01",
    "2026-13-45",
    "2026-11-24T25:00:00Z",
    "eyJzIjoiIiwidiI6W119",
    "!!!",
    "\u{1F4B8}",
    "a[b]",
    "[]",
    "%5B%5D",
];

const PATHS: &[&str] = &[
    "/wallets",
    "/transactions",
    "/balance-changes",
    "/wallets/1",
    "/wallets/1/transactions",
    "/wallets/1/relationships/transactions",
    "/transactions/1/wallet",
    "/balance-changes/1/wallet",
];

#[test]
fn query_string_junk_never_gets_a_server_error() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("w");
    app.book(&wallet, "t1", "1").expect(201);
    let seed = 0x5eed_u64;
    let mut junk = Junk(seed);
    for _ in 0..400 {
        let pairs = 1 + junk.next() % 4;
        let query: Vec<String> = (0..pairs)
            .map(|_| format!("{}={}", junk.pick(NAMES), junk.pick(VALUES)))
            .collect();
        let path = format!("{}?{}", junk.pick(PATHS), query.join("&"));
        let reply = app.get(&path);
        assert!(
            reply.status < 500,
            "seed {seed}: GET {path} answered {}: {:#}",
            reply.status,
            reply.body
        );
    }
}

#[test]
fn header_variants_never_get_a_server_error() {
    let app = TestApp::spawn();
    let wallet = app.create_wallet("w");
    let body = transaction_document(&wallet, "t", "1").to_string();
    let media = [
        "application/vnd.api+json",
        "application/vnd.api+json; charset=utf-8",
        "application/vnd.api+json; ext=\"https://jsonapi.org/ext/atomic\"",
        "application/vnd.api+json; profile=\"x\"",
        "application/vnd.api+json;ext=",
        "application/vnd.api+json; ext=\"\t\"",
        "application/json",
        "*/*",
        "application/*",
        "text/html, application/vnd.api+json; q=0.1",
        "application/vnd.api+json; ext=\"a\", application/vnd.api+json",
        "",
        ";;;",
        "application/vnd.api+json; q=0",
    ];
    let keys = ["k", "\"k\"", "", "\"unterminated", "k\tk", &"x".repeat(300)];
    let mut n = 0;
    for content_type in media {
        for accept in media {
            for key in keys {
                n += 1;
                let txid = format!("t{n}");
                let mut headers = vec![("Idempotency-Key", key)];
                if !content_type.is_empty() {
                    headers.push(("Content-Type", content_type));
                }
                if !accept.is_empty() {
                    headers.push(("Accept", accept));
                }
                let reply = app.send(
                    "POST",
                    "/transactions",
                    &headers,
                    Some(body.replace("\"t\"", &format!("\"{txid}\""))),
                );
                assert!(
                    reply.status < 500,
                    "Content-Type {content_type:?}, Accept {accept:?}, key {key:?}: {:#}",
                    reply.body
                );
            }
        }
    }
}
