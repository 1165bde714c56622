//! `/balance-changes`: the balance journal, read-only. The database writes one entry per
//! wallet per statement that changed its balance; clients read them, by wallet, by time.

use crate::api::handlers;
use crate::api::resource::{Example, Resource};
use crate::api::routes::Routes;
use crate::codes;
use crate::models::BalanceChange;

codes! {
    pub BALANCE_CHANGE_NOT_FOUND = (NOT_FOUND, "balance-change-not-found", "Balance change not found",
        "no balance change has this id");
}

const READ_ONLY: &str = "balance changes are written by the database whenever a balance \
     changes; they cannot be created, changed or deleted";

pub fn routes(routes: &mut Routes) {
    handlers::read_only::<BalanceChange>(routes, READ_ONLY);
}

impl Resource for BalanceChange {
    const NOT_FOUND: &'static crate::jsonapi::error::Code = &BALANCE_CHANGE_NOT_FOUND;
    const SINGULAR: &'static str = "balance change";
    const EXAMPLE: &'static Example = &Example {
        shown: r#"{"id": "5", "delta": "100.50", "currency": "USD",
            "balance": "100.50", "operation": "insert",
            "heldDelta": "0.00", "held": "0.00",
            "holdCount": 0, "transactionCount": 1, "changedAt": "2026-12-01T12:00:00Z",
            "changedBy": "wallet_api", "application": "wallet-api", "actorName": "local-admin",
            "wallet": "1", "transaction": "42", "hold": null, "actor": "1"}"#,
        create: "{}",
        update: "{}",
        created_meta: None,
    };
}
