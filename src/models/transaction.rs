//! Transactions: each moves `amount` into (positive) or out of (negative) one wallet. The
//! database's triggers apply every insert, update and delete to the wallets' balances.

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;

use diesel::sql_types::{Int8, Numeric, Text};

use super::listing::listable;
use crate::db::prepared::{bind, prepared, statement};
use crate::domain::{Amount, Txid};
use crate::schema::transactions;

#[derive(Debug, Clone, PartialEq, Queryable, QueryableByName, Selectable, Identifiable)]
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

statement!(
    BookTransaction,
    "INSERT INTO transactions (wallet_id, txid, amount) VALUES ($1, $2, $3) \
     ON CONFLICT (txid) DO NOTHING RETURNING id, wallet_id, txid, amount, created_at"
);

/// A transaction to book: every value checked.
#[derive(Debug, Clone)]
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

    /// Books a transaction: one INSERT (prepared once per connection), whose trigger moves
    /// the money or refuses the write. `None` when the txid is taken: the INSERT skips it
    /// (ON CONFLICT DO NOTHING) rather than fail, so that a surrounding database transaction
    /// stays usable.
    pub fn create(
        conn: &mut PgConnection,
        new: &NewTransaction,
    ) -> QueryResult<Option<Transaction>> {
        prepared::<BookTransaction, _>((
            bind::<Int8, _>(&new.wallet_id),
            bind::<Text, _>(&new.txid),
            bind::<Numeric, _>(&new.amount),
        ))
        .get_result(conn)
        .optional()
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
