//! `/balance-monitors`: a condition on a wallet's balance or available amount. The database
//! evaluates it at every change of the wallet and writes `monitor.triggered` and
//! `monitor.cleared` events when it starts and stops holding (`sql/55_events.sql`); these
//! handlers say what to write and what its refusals mean.

use diesel::pg::PgConnection;

use super::wallets::{WALLET_NOT_FOUND, no_such_wallet};
use crate::api::errors::{AMOUNT_PRECISION, currency_refusal};
use crate::api::handlers;
use crate::api::resource::{Example, Resource, Writable, find_existing};
use crate::api::routes::Routes;
use crate::api::write::Statements;
use crate::codes;
use crate::db::DbError;
use crate::jsonapi::ApiError;
use crate::jsonapi::error::Code;
use crate::models::Record;
use crate::models::monitor::{BalanceMonitor, BalanceMonitorChanges, NewBalanceMonitor};

codes! {
    pub MONITOR_NOT_FOUND = (NOT_FOUND, "balance-monitor-not-found", "Balance monitor not found",
        "no balance monitor has this id");
}

const WALLET_EXISTS: &str = "balance_monitors_wallet_id_fkey";

pub fn routes(routes: &mut Routes) {
    handlers::writable::<BalanceMonitor>(routes);
}

impl Resource for BalanceMonitor {
    const NOT_FOUND: &'static Code = &MONITOR_NOT_FOUND;
    const SINGULAR: &'static str = "balance monitor";
    const EXAMPLE: &'static Example = &Example {
        shown: r#"{"id": "1", "field": "available", "operator": "lt", "amount": "100.00",
            "currency": "USD", "state": "clear", "triggeredAt": null,
            "createdAt": "2026-12-01T12:00:00Z", "updatedAt": "2026-12-01T12:00:00Z",
            "metadata": {"notify": "treasury"}, "wallet": "1"}"#,
        create: r#"{"field": "available", "operator": "lt", "amount": "100",
            "metadata": {"notify": "treasury"}, "wallet": "1"}"#,
        update: r#"{"amount": "50"}"#,
        created_meta: None,
    };
}

impl Writable for BalanceMonitor {
    const CREATE_STATEMENTS: Statements = Statements::Several;
    const CREATE_ERRORS: &'static [&'static Code] = &[&AMOUNT_PRECISION, &WALLET_NOT_FOUND];
    const UPDATE_ERRORS: &'static [&'static Code] = &[&AMOUNT_PRECISION];

    /// One INSERT: the database gives the monitor its state (and its event, when it holds
    /// already).
    fn insert(
        conn: &mut PgConnection,
        new: &NewBalanceMonitor,
    ) -> Result<BalanceMonitor, ApiError> {
        let id =
            BalanceMonitor::create(conn, new).map_err(|error| refusal(DbError::from(error)))?;
        find_existing::<BalanceMonitor>(conn, &id)
    }

    fn apply(
        conn: &mut PgConnection,
        &id: &i64,
        changes: &BalanceMonitorChanges,
    ) -> Result<Option<BalanceMonitor>, ApiError> {
        if !BalanceMonitor::update(conn, id, changes)
            .map_err(|error| refusal(DbError::from(error)))?
        {
            return Ok(None);
        }
        Ok(BalanceMonitor::find(conn, &id)?)
    }

    fn remove(conn: &mut PgConnection, &id: &i64) -> Result<bool, ApiError> {
        Ok(BalanceMonitor::delete(conn, id)?)
    }
}

/// What the database's refusal of a monitor means.
fn refusal(error: DbError) -> ApiError {
    match error {
        DbError::OutOfReach => no_such_wallet(),
        error if error.constraint() == Some(WALLET_EXISTS) => no_such_wallet(),
        error => currency_refusal(error),
    }
}
