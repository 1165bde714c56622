//! `/balance-changes`: the balance journal, read-only. The database writes one entry per
//! wallet per statement that changed its balance; clients read them, by wallet, by time.

use crate::api::handlers;
use crate::api::resource::Resource;
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
}
