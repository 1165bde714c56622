//! Transactions: each moves `amount` into (positive) or out of (negative) one wallet. The
//! database's triggers apply every insert, update and delete to the wallets' balances.

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;

use super::listing::{
    Condition, FromValue, Kind, Listable, Op, Predicate, SortKey, Value, compare_column,
    like_literal, order_by_column,
};
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

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = transactions)]
pub struct NewTransaction {
    pub wallet_id: i64,
    pub txid: String,
    pub amount: BigDecimal,
}

impl NewTransaction {
    pub fn new(wallet_id: i64, txid: Txid, amount: Amount) -> NewTransaction {
        NewTransaction {
            wallet_id,
            txid: txid.into_inner(),
            amount: amount.into_inner(),
        }
    }
}

/// The parts of a transaction to change; `None` leaves a column as it is.
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = transactions)]
pub struct TransactionChanges {
    pub wallet_id: Option<i64>,
    pub txid: Option<String>,
    pub amount: Option<BigDecimal>,
}

impl TransactionChanges {
    fn is_empty(&self) -> bool {
        self.wallet_id.is_none() && self.txid.is_none() && self.amount.is_none()
    }
}

impl Transaction {
    pub fn find(conn: &mut PgConnection, id: i64) -> QueryResult<Option<Transaction>> {
        transactions::table
            .find(id)
            .select(Transaction::as_select())
            .first(conn)
            .optional()
    }

    pub fn find_by_txid(conn: &mut PgConnection, txid: &str) -> QueryResult<Option<Transaction>> {
        transactions::table
            .filter(transactions::txid.eq(txid))
            .select(Transaction::as_select())
            .first(conn)
            .optional()
    }

    /// Books a transaction: one INSERT, whose trigger moves the money. Fails with
    /// `DbError::InsufficientFunds` when the wallet cannot afford it.
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
            return Transaction::find(conn, id);
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

/// The fields of a transaction that lists filter and sort on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionField {
    Id,
    Wallet,
    Txid,
    Amount,
    CreatedAt,
}

impl Listable for Transaction {
    type Table = transactions::table;
    type Field = TransactionField;
    const ID: TransactionField = TransactionField::Id;

    fn kind(field: TransactionField) -> Kind {
        match field {
            TransactionField::Id | TransactionField::Wallet => Kind::Id,
            TransactionField::Txid => Kind::Text,
            TransactionField::Amount => Kind::Decimal,
            TransactionField::CreatedAt => Kind::Time,
        }
    }

    fn compare(
        field: TransactionField,
        op: Op,
        value: &Value,
    ) -> Option<Predicate<transactions::table>> {
        Some(match (field, value) {
            (TransactionField::Id, Value::Id(v)) => compare_column!(transactions::id, op, *v),
            (TransactionField::Wallet, Value::Id(v)) => {
                compare_column!(transactions::wallet_id, op, *v)
            }
            (TransactionField::Txid, Value::Text(v)) => {
                compare_column!(transactions::txid, op, v.clone())
            }
            (TransactionField::Amount, Value::Decimal(v)) => {
                compare_column!(transactions::amount, op, v.clone())
            }
            (TransactionField::CreatedAt, Value::Time(v)) => {
                compare_column!(transactions::created_at, op, *v)
            }
            _ => return None,
        })
    }

    fn condition(
        field: TransactionField,
        condition: &Condition,
    ) -> Option<Predicate<transactions::table>> {
        Some(match (condition, field) {
            (Condition::Compare(op, value), _) => return Self::compare(field, *op, value),
            (Condition::In(values), TransactionField::Id) => {
                Box::new(transactions::id.eq_any(i64::all(values)?))
            }
            (Condition::In(values), TransactionField::Wallet) => {
                Box::new(transactions::wallet_id.eq_any(i64::all(values)?))
            }
            (Condition::In(values), TransactionField::Txid) => {
                Box::new(transactions::txid.eq_any(String::all(values)?))
            }
            (Condition::In(values), TransactionField::Amount) => {
                Box::new(transactions::amount.eq_any(BigDecimal::all(values)?))
            }
            (Condition::In(values), TransactionField::CreatedAt) => {
                Box::new(transactions::created_at.eq_any(DateTime::<Utc>::all(values)?))
            }
            (Condition::StartsWith(prefix), TransactionField::Txid) => Box::new(
                transactions::txid
                    .like(format!("{}%", like_literal(prefix)))
                    .escape('\\'),
            ),
            (Condition::IContains(text), TransactionField::Txid) => Box::new(
                transactions::txid
                    .ilike(format!("%{}%", like_literal(text)))
                    .escape('\\'),
            ),
            _ => return None,
        })
    }

    fn and(
        a: Predicate<transactions::table>,
        b: Predicate<transactions::table>,
    ) -> Predicate<transactions::table> {
        Box::new(a.and(b))
    }

    fn or(
        a: Predicate<transactions::table>,
        b: Predicate<transactions::table>,
    ) -> Predicate<transactions::table> {
        Box::new(a.or(b))
    }

    fn value_of(&self, field: TransactionField) -> Value {
        match field {
            TransactionField::Id => Value::Id(self.id),
            TransactionField::Wallet => Value::Id(self.wallet_id),
            TransactionField::Txid => Value::Text(self.txid.clone()),
            TransactionField::Amount => Value::Decimal(self.amount.clone()),
            TransactionField::CreatedAt => Value::Time(self.created_at),
        }
    }

    fn load(
        conn: &mut PgConnection,
        filters: Vec<Predicate<transactions::table>>,
        sort: &[SortKey<TransactionField>],
        limit: i64,
        offset: i64,
    ) -> QueryResult<Vec<Transaction>> {
        let mut query = transactions::table
            .select(Transaction::as_select())
            .into_boxed();
        for filter in filters {
            query = query.filter(filter);
        }
        for key in sort {
            query = match key.field {
                TransactionField::Id => order_by_column!(query, transactions::id, key.direction),
                TransactionField::Wallet => {
                    order_by_column!(query, transactions::wallet_id, key.direction)
                }
                TransactionField::Txid => {
                    order_by_column!(query, transactions::txid, key.direction)
                }
                TransactionField::Amount => {
                    order_by_column!(query, transactions::amount, key.direction)
                }
                TransactionField::CreatedAt => {
                    order_by_column!(query, transactions::created_at, key.direction)
                }
            };
        }
        query = query.limit(limit);
        if offset > 0 {
            query = query.offset(offset);
        }
        query.load(conn)
    }

    fn count(
        conn: &mut PgConnection,
        filters: Vec<Predicate<transactions::table>>,
    ) -> QueryResult<i64> {
        let mut query = transactions::table.count().into_boxed();
        for filter in filters {
            query = query.filter(filter);
        }
        query.get_result(conn)
    }
}
