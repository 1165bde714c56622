//! The balance journal: one row per wallet per statement that changed its balance, written
//! by the database's triggers only (see `migrations/`). Read-only here.

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;
use diesel::sql_types::{Int8, Numeric, Timestamptz};

use super::listing::listable;
use crate::schema::balance_changes;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = balance_changes, check_for_backend(Pg))]
pub struct BalanceChange {
    pub id: i64,
    pub wallet_id: i64,
    pub delta: BigDecimal,
    pub balance: BigDecimal,
    pub operation: String,
    pub transaction_count: i64,
    pub transaction_id: Option<i64>,
    pub changed_at: DateTime<Utc>,
    pub changed_by: String,
    pub application: String,
}

listable! {
    BalanceChange in balance_changes, fields BalanceChangeField {
        Id = "id": id as id, sort: true, filter: cmp;
        Wallet = "wallet": wallet_id as id, sort: false, filter: cmp;
        Operation = "operation": operation as text, sort: false, filter: eq;
        ChangedAt = "changedAt": changed_at as time, sort: true, filter: cmp;
    }
}

diesel::define_sql_function! {
    /// `wallet_balance_at(wallet, at)`: the balance of the wallet's last journal row at or
    /// before `at`, 0 before the first.
    fn wallet_balance_at(wallet: Int8, at: Timestamptz) -> Numeric;
}

/// The balance `wallet` had at `at`, from its journal: one index probe.
pub fn balance_at(
    conn: &mut PgConnection,
    wallet: i64,
    at: DateTime<Utc>,
) -> QueryResult<BigDecimal> {
    diesel::select(wallet_balance_at(wallet, at)).get_result(conn)
}

/// What `wallet_repair` did (or, in a dry run, would do) to one wallet.
#[derive(Debug, Clone, PartialEq, QueryableByName)]
pub struct Repair {
    #[diesel(sql_type = Int8)]
    pub wallet_id: i64,
    #[diesel(sql_type = Numeric)]
    pub stored_balance: BigDecimal,
    #[diesel(sql_type = Numeric)]
    pub repaired_balance: BigDecimal,
    #[diesel(sql_type = Numeric)]
    pub journal_balance: BigDecimal,
    #[diesel(sql_type = diesel::sql_types::Nullable<Int8>)]
    pub balance_change_id: Option<i64>,
}

/// Repairs every wallet the audit flags (`apply`), or says what it would do: one statement,
/// one database transaction (see `wallet_repair` in `migrations/`).
pub fn repair(conn: &mut PgConnection, apply: bool) -> QueryResult<Vec<Repair>> {
    diesel::sql_query(
        "SELECT wallet_id, stored_balance, repaired_balance, journal_balance, balance_change_id \
         FROM wallet_repair($1)",
    )
    .bind::<diesel::sql_types::Bool, _>(apply)
    .load(conn)
}
