//! Wallets: a label and a balance that only the database's triggers write.

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;
use diesel::sql_query;

use super::listing::listable;
use crate::domain::Label;
use crate::schema::wallets;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = wallets, check_for_backend(Pg))]
pub struct Wallet {
    pub id: i64,
    pub label: String,
    pub balance: BigDecimal,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

listable! {
    Wallet in wallets, fields WalletField {
        Id = "id": id as id, sort: true, filter: cmp;
        Label = "label": label as text, sort: true, filter: text;
        Balance = "balance": balance as decimal, sort: true, filter: cmp;
        CreatedAt = "createdAt": created_at as time, sort: true, filter: cmp;
    }
}

#[derive(Insertable)]
#[diesel(table_name = wallets)]
struct NewWallet<'a> {
    label: &'a Label,
}

impl Wallet {
    /// A new wallet; its balance starts at 0.
    pub fn create(conn: &mut PgConnection, label: &Label) -> QueryResult<Wallet> {
        diesel::insert_into(wallets::table)
            .values(NewWallet { label })
            .returning(Wallet::as_returning())
            .get_result(conn)
    }

    /// Changes the label (the database refreshes `updated_at`); `None` when there is no such
    /// wallet.
    pub fn relabel(conn: &mut PgConnection, id: i64, label: &Label) -> QueryResult<Option<Wallet>> {
        diesel::update(wallets::table.find(id))
            .set(wallets::label.eq(label))
            .returning(Wallet::as_returning())
            .get_result(conn)
            .optional()
    }

    /// Deletes the wallet; `false` when there was none. A wallet with transactions cannot be
    /// deleted: the foreign key `transactions_wallet_id_fkey` refuses it.
    pub fn delete(conn: &mut PgConnection, id: i64) -> QueryResult<bool> {
        diesel::delete(wallets::table.find(id))
            .execute(conn)
            .map(|deleted| deleted > 0)
    }
}

/// A problem `wallet-api verify` found: a wallet whose stored balance is not the sum of its
/// transactions, or is negative, or transactions whose wallet is gone.
#[derive(Debug, Clone, PartialEq, QueryableByName)]
pub struct BalanceProblem {
    #[diesel(sql_type = diesel::sql_types::Int8)]
    pub wallet_id: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Numeric>)]
    pub stored_balance: Option<BigDecimal>,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    pub transactions_sum: BigDecimal,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub problem: String,
}

/// Every row of the `wallet_balance_audit` view: empty when every balance is right.
pub fn audit_balances(conn: &mut PgConnection) -> QueryResult<Vec<BalanceProblem>> {
    sql_query(
        "SELECT wallet_id, stored_balance, transactions_sum, problem \
         FROM wallet_balance_audit ORDER BY wallet_id",
    )
    .load(conn)
}
