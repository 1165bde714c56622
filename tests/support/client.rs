//! The clients of the fault tests (`tests/faults.rs`, `tests/cluster.rs`, `tests/backup.rs`):
//! an HTTP client with a key, a wallet, one booking, and the answers kept.

use std::time::Duration;

use serde_json::{Value, json};

pub const JSONAPI: &str = "application/vnd.api+json";

/// One answered request: what it booked, its status and code, how long it took, and when
/// it was sent (from the start of the run).
pub struct Answer {
    pub txid: String,
    pub status: u16,
    pub code: String,
    pub took: Duration,
    pub sent: Duration,
}

/// Books 1 on `wallet` under `txid`: the status (0 when no answer came) and the first
/// error's code.
pub fn book(
    client: &reqwest::blocking::Client,
    base: &str,
    wallet: &str,
    txid: &str,
) -> (u16, String) {
    let document = json!({"data": {"type": "transactions",
        "attributes": {"txid": txid, "amount": "1"},
        "relationships": {"wallet": {"data": {"type": "wallets", "id": wallet}}}}});
    match client
        .post(format!("{base}/transactions"))
        .header("Content-Type", JSONAPI)
        .header("Accept", JSONAPI)
        .body(document.to_string())
        .send()
    {
        Ok(response) => {
            let status = response.status().as_u16();
            let body: Value = response.json().unwrap_or(Value::Null);
            (
                status,
                body["errors"][0]["code"].as_str().unwrap_or("").to_string(),
            )
        }
        Err(error) => (0, error.to_string()),
    }
}

/// A client sending API requests with `secret`, each allowed `timeout`.
pub fn client(secret: &str, timeout: Duration) -> reqwest::blocking::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {secret}").parse().unwrap(),
    );
    reqwest::blocking::Client::builder()
        .timeout(timeout)
        .default_headers(headers)
        .build()
        .unwrap()
}

/// A new wallet's id.
pub fn create_wallet(client: &reqwest::blocking::Client, base: &str) -> String {
    client
        .post(format!("{base}/wallets"))
        .header("Content-Type", JSONAPI)
        .body(json!({"data": {"type": "wallets", "attributes": {"label": "w"}}}).to_string())
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap()["data"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A prefix unique to this run, for txids: the clusters are kept between runs.
pub fn run_id() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}
