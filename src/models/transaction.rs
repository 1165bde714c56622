//! Transactions: each moves `amount` into (positive) or out of (negative) one wallet. The
//! database's triggers apply every insert, update and delete to the wallets' balances.

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;

use super::listing::listable;
use crate::domain::{Amount, Txid};
use crate::schema::transactions;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = transactions, check_for_backend(Pg))]
pub struct Transaction {
    pub id: i64,
    pub wallet_id: i64,
    pub txid: String,
    pub amount: BigDecimal,
    pub created_at: DateTime<Utc>,
}

listable! {
    Transaction in transactions, fields TransactionField {
        Id = "id": id as id, sort: true, filter: cmp;
        Wallet = "wallet": wallet_id as id, sort: false, filter: cmp;
        Txid = "txid": txid as text, sort: true, filter: text;
        Amount = "amount": amount as decimal, sort: true, filter: cmp;
        CreatedAt = "createdAt": created_at as time, sort: true, filter: cmp;
    }
}

/// A transaction to book: every value checked.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = transactions)]
pub struct NewTransaction {
    pub wallet_id: i64,
    pub txid: Txid,
    pub amount: Amount,
}

/// The parts of a transaction to change; `None` leaves a column as it is.
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = transactions)]
pub struct TransactionChanges {
    pub wallet_id: Option<i64>,
    pub txid: Option<Txid>,
    pub amount: Option<Amount>,
}

impl TransactionChanges {
    fn is_empty(&self) -> bool {
        self.wallet_id.is_none() && self.txid.is_none() && self.amount.is_none()
    }
}

impl Transaction {
    pub fn find_by_txid(conn: &mut PgConnection, txid: &Txid) -> QueryResult<Option<Transaction>> {
        transactions::table
            .filter(transactions::txid.eq(txid))
            .select(Transaction::as_select())
            .first(conn)
            .optional()
    }

    /// Books a transaction: one INSERT, whose trigger moves the money or refuses the write.
    pub fn create(conn: &mut PgConnection, new: &NewTransaction) -> QueryResult<Transaction> {
        diesel::insert_into(transactions::table)
            .values(new)
            .returning(Transaction::as_returning())
            .get_result(conn)
    }

    /// Changes a transaction (one UPDATE; the trigger moves the money between wallets or by
    /// the difference in amount); `None` when there is no such transaction.
    pub fn update(
        conn: &mut PgConnection,
        id: i64,
        changes: &TransactionChanges,
    ) -> QueryResult<Option<Transaction>> {
        if changes.is_empty() {
            return <Transaction as super::listing::Record>::find(conn, id);
        }
        diesel::update(transactions::table.find(id))
            .set(changes)
            .returning(Transaction::as_returning())
            .get_result(conn)
            .optional()
    }

    /// Deletes a transaction (its amount leaves the wallet's balance); `false` when there was
    /// none.
    pub fn delete(conn: &mut PgConnection, id: i64) -> QueryResult<bool> {
        diesel::delete(transactions::table.find(id))
            .execute(conn)
            .map(|deleted| deleted > 0)
    }
}
