//! `/balance-changes`: the balance journal, read-only. The database writes one entry per
//! wallet per statement that changed its balance; clients read them, by wallet, by time.

use actix_web::web;

use super::context::Context;
use super::handlers;
use super::listing::timestamp;
use super::resource::{Include, Resource, ToOne};
use crate::codes;
use crate::domain::format_money;
use crate::jsonapi::ApiError;
use crate::jsonapi::document::ResourceObject;
use crate::models::{BalanceChange, Transaction, Wallet};

/// The wallet whose balance changed.
pub static WALLET: ToOne<BalanceChange, Wallet> =
    ToOne::new("wallet", |change| Some(change.wallet_id));
/// The transaction that changed it, when exactly one did (it may have been deleted since).
pub static TRANSACTION: ToOne<BalanceChange, Transaction> =
    ToOne::new("transaction", |change| change.transaction_id);

codes! {
    pub BALANCE_CHANGE_NOT_FOUND = (NOT_FOUND, "balance-change-not-found", "Balance change not found",
        "no balance change has this id");
}

const READ_ONLY: &str = "balance changes are written by the database whenever a balance \
     changes; they cannot be created, changed or deleted";

pub fn routes(config: &mut web::ServiceConfig) {
    handlers::read_only_routes::<BalanceChange>(config, READ_ONLY);
    handlers::to_one_routes(config, &WALLET);
    handlers::to_one_routes(config, &TRANSACTION);
}

impl Resource for BalanceChange {
    const TYPE: &'static str = "balance-changes";
    const FIELDS: &'static [&'static str] = &[
        "delta",
        "balance",
        "operation",
        "transactionCount",
        "changedAt",
        "changedBy",
        "application",
        "wallet",
        "transaction",
    ];
    const INCLUDES: &'static [&'static dyn Include<Self>] = &[&WALLET, &TRANSACTION];

    fn not_found(id: &str) -> ApiError {
        ApiError::new(
            &BALANCE_CHANGE_NOT_FOUND,
            format!("there is no balance change with id {id:?}"),
        )
    }

    fn fill<'c>(&self, object: ResourceObject<'c>, context: &Context) -> ResourceObject<'c> {
        object
            .attribute("delta", format_money(&self.delta))
            .attribute("balance", format_money(&self.balance))
            .attribute("operation", self.operation.clone())
            .attribute("transactionCount", self.transaction_count)
            .attribute("changedAt", timestamp(&self.changed_at))
            .attribute("changedBy", self.changed_by.clone())
            .attribute("application", self.application.clone())
            .relationship("wallet", WALLET.object(self, context))
            .relationship("transaction", TRANSACTION.object(self, context))
    }
}
