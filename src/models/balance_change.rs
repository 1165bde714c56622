//! The balance journal: one row per wallet per statement that changed its balance, written
//! by the database's triggers only (see `sql/`). Read-only here, from the view
//! `balance_changes_with_currency` (each row with its wallet's currency and scale).

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;
use diesel::sql_types::{Int8, Numeric, Timestamptz};

use super::currency::at_scale;
use super::declare::resource;
use crate::schema::balance_changes_with_currency;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = balance_changes_with_currency, check_for_backend(Pg))]
pub struct BalanceChange {
    pub id: i64,
    pub wallet_id: i64,
    #[diesel(select_expression = at_scale(
        balance_changes_with_currency::delta,
        balance_changes_with_currency::scale
    ))]
    pub delta: BigDecimal,
    #[diesel(select_expression = at_scale(
        balance_changes_with_currency::balance,
        balance_changes_with_currency::scale
    ))]
    pub balance: BigDecimal,
    pub operation: String,
    pub transaction_count: i64,
    pub transaction_id: Option<i64>,
    pub changed_at: DateTime<Utc>,
    pub changed_by: String,
    pub application: String,
    pub actor_key_id: Option<i64>,
    pub actor_name: Option<String>,
    #[diesel(select_expression = at_scale(
        balance_changes_with_currency::held_delta,
        balance_changes_with_currency::scale
    ))]
    pub held_delta: BigDecimal,
    #[diesel(select_expression = at_scale(
        balance_changes_with_currency::held,
        balance_changes_with_currency::scale
    ))]
    pub held: BigDecimal,
    pub hold_count: i64,
    pub hold_id: Option<i64>,
    pub currency: String,
}

/// What changed a balance.
pub const OPERATIONS: &[&str] = &[
    "opening",
    "insert",
    "update",
    "delete",
    "truncate",
    "repair",
    "hold_insert",
    "hold_update",
    "hold_delete",
    "hold_truncate",
];

resource! {
    /// The fields of a balance change.
    BalanceChange in balance_changes_with_currency as "balance-changes", fields BalanceChangeField {
        Id "id": id, id, read, sort, filter cmp, "The entry's id: entries of one wallet are in id order.";
        Delta "delta": delta, money, read, nosort, filter none, "The change of the balance.";
        Currency "currency": currency, text, read, nosort, filter eq,
            "Its wallet's currency (its code): every amount of the entry is at its scale.";
        Balance "balance": balance, money, read, nosort, filter none,
            "The balance right after the change: the previous entry's balance plus this delta.";
        Operation "operation": operation, choice(OPERATIONS), read, nosort, filter eq,
            "What changed it: an insert, update, delete or truncate of transactions (insert, \
             update, delete, truncate) or of holds (hold_insert, hold_update, hold_delete, \
             hold_truncate), the opening of the journal, or a repair.";
        HeldDelta "heldDelta": held_delta, money, read, nosort, filter none,
            "The change of the held amount (a hold made adds its amount, one captured, voided \
             or expired takes it back).";
        Held "held": held, money, read, nosort, filter none,
            "The held amount right after the change: the previous entry's held plus this \
             heldDelta (an expired hold counts until it is swept; see expiresAt).";
        HoldCount "holdCount": hold_count, count, read, nosort, filter none,
            "How many of the wallet's holds the statement touched.";
        TransactionCount "transactionCount": transaction_count, count, read, nosort, filter none,
            "How many of the wallet's transactions the statement touched.";
        ChangedAt "changedAt": changed_at, time, read, sort, filter cmp,
            "When the balance changed (its wallet locked).";
        ChangedBy "changedBy": changed_by, text, read, nosort, filter none,
            "The database user of the session that changed it.";
        Application "application": application, text, read, nosort, filter none,
            "The program that changed it (its application_name: wallet-api for this service).";
        ActorName "actorName": actor_name, opt_text, read, nosort, filter none,
            "The name the API key had when it made the change; null for a change made in SQL \
             or with authentication off.";
        Wallet "wallet": wallet_id, to_one("wallets"), read, nosort, filter cmp,
            "The wallet whose balance changed.";
        Transaction "transaction": transaction_id, opt_to_one("transactions"), read, nosort, filter none,
            "The transaction that changed it, when exactly one did (it may have been deleted since).";
        Hold "hold": hold_id, opt_to_one("holds"), read, nosort, filter none,
            "The hold that changed it, when exactly one did.";
        Actor "actor": actor_key_id, opt_to_one("api-keys"), read, nosort, filter eq,
            "The API key the change was made for; null for a change made in SQL or with \
             authentication off.";
    }
}

diesel::define_sql_function! {
    /// `wallet_balance_at(wallet, at)`: the balance of the wallet's last journal row at or
    /// before `at`, 0 before the first.
    fn wallet_balance_at(wallet: Int8, at: Timestamptz) -> Numeric;
}

diesel::define_sql_function! {
    /// `wallet_held_at(wallet, at)`: what the wallet's holds kept at `at`.
    fn wallet_held_at(wallet: Int8, at: Timestamptz) -> Numeric;
}

diesel::define_sql_function! {
    /// `wallet_credit_limit_at(wallet, at)`: the credit limit in force at `at`.
    fn wallet_credit_limit_at(wallet: Int8, at: Timestamptz) -> Numeric;
}

/// A wallet's numbers at a past time.
pub struct PastBalance {
    pub balance: BigDecimal,
    pub held: BigDecimal,
    pub credit_limit: BigDecimal,
}

impl PastBalance {
    /// What could be spent or held then: balance - held + credit limit.
    pub fn available(&self) -> BigDecimal {
        &self.balance - &self.held + &self.credit_limit
    }
}

/// The balance `wallet` had at `at`, what its holds kept then (from its journal, and the holds
/// that had expired by then) and the credit limit in force then (from its revisions).
pub fn balance_at(
    conn: &mut PgConnection,
    wallet: i64,
    at: DateTime<Utc>,
) -> QueryResult<PastBalance> {
    let (balance, held, credit_limit) = diesel::select((
        wallet_balance_at(wallet, at),
        wallet_held_at(wallet, at),
        wallet_credit_limit_at(wallet, at),
    ))
    .get_result(conn)?;
    Ok(PastBalance {
        balance,
        held,
        credit_limit,
    })
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
