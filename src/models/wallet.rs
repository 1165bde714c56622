//! Wallets: a label and a balance that only the database's triggers write.

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;
use diesel::{PgTextExpressionMethods, sql_query};

use super::listing::{
    Condition, FromValue, Kind, Listable, Op, Predicate, SortKey, Value, compare_column,
    like_literal, order_by_column,
};
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

#[derive(Insertable)]
#[diesel(table_name = wallets)]
struct NewWallet {
    label: String,
}

impl Wallet {
    pub fn find(conn: &mut PgConnection, id: i64) -> QueryResult<Option<Wallet>> {
        wallets::table
            .find(id)
            .select(Wallet::as_select())
            .first(conn)
            .optional()
    }

    /// The wallets with these ids (those that exist), in id order.
    pub fn find_many(conn: &mut PgConnection, ids: &[i64]) -> QueryResult<Vec<Wallet>> {
        wallets::table
            .filter(wallets::id.eq_any(ids))
            .order(wallets::id)
            .select(Wallet::as_select())
            .load(conn)
    }

    /// A new wallet; its balance starts at 0.
    pub fn create(conn: &mut PgConnection, label: Label) -> QueryResult<Wallet> {
        diesel::insert_into(wallets::table)
            .values(NewWallet {
                label: label.into_inner(),
            })
            .returning(Wallet::as_returning())
            .get_result(conn)
    }

    /// Changes the label (the database refreshes `updated_at`); `None` when there is no such
    /// wallet.
    pub fn relabel(conn: &mut PgConnection, id: i64, label: Label) -> QueryResult<Option<Wallet>> {
        diesel::update(wallets::table.find(id))
            .set(wallets::label.eq(label.into_inner()))
            .returning(Wallet::as_returning())
            .get_result(conn)
            .optional()
    }

    /// Deletes the wallet; `false` when there was none. A wallet with transactions cannot be
    /// deleted: the foreign key refuses it (`DbError::WalletReference`).
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

/// The fields of a wallet that lists filter and sort on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalletField {
    Id,
    Label,
    Balance,
    CreatedAt,
}

impl Listable for Wallet {
    type Table = wallets::table;
    type Field = WalletField;
    const ID: WalletField = WalletField::Id;

    fn kind(field: WalletField) -> Kind {
        match field {
            WalletField::Id => Kind::Id,
            WalletField::Label => Kind::Text,
            WalletField::Balance => Kind::Decimal,
            WalletField::CreatedAt => Kind::Time,
        }
    }

    fn compare(field: WalletField, op: Op, value: &Value) -> Option<Predicate<wallets::table>> {
        Some(match (field, value) {
            (WalletField::Id, Value::Id(v)) => compare_column!(wallets::id, op, *v),
            (WalletField::Label, Value::Text(v)) => compare_column!(wallets::label, op, v.clone()),
            (WalletField::Balance, Value::Decimal(v)) => {
                compare_column!(wallets::balance, op, v.clone())
            }
            (WalletField::CreatedAt, Value::Time(v)) => {
                compare_column!(wallets::created_at, op, *v)
            }
            _ => return None,
        })
    }

    fn condition(field: WalletField, condition: &Condition) -> Option<Predicate<wallets::table>> {
        Some(match (condition, field) {
            (Condition::Compare(op, value), _) => return Self::compare(field, *op, value),
            (Condition::In(values), WalletField::Id) => {
                Box::new(wallets::id.eq_any(i64::all(values)?))
            }
            (Condition::In(values), WalletField::Label) => {
                Box::new(wallets::label.eq_any(String::all(values)?))
            }
            (Condition::In(values), WalletField::Balance) => {
                Box::new(wallets::balance.eq_any(BigDecimal::all(values)?))
            }
            (Condition::In(values), WalletField::CreatedAt) => {
                Box::new(wallets::created_at.eq_any(DateTime::<Utc>::all(values)?))
            }
            (Condition::StartsWith(prefix), WalletField::Label) => Box::new(
                wallets::label
                    .like(format!("{}%", like_literal(prefix)))
                    .escape('\\'),
            ),
            (Condition::IContains(text), WalletField::Label) => Box::new(
                wallets::label
                    .ilike(format!("%{}%", like_literal(text)))
                    .escape('\\'),
            ),
            _ => return None,
        })
    }

    fn and(
        a: Predicate<wallets::table>,
        b: Predicate<wallets::table>,
    ) -> Predicate<wallets::table> {
        Box::new(a.and(b))
    }

    fn or(a: Predicate<wallets::table>, b: Predicate<wallets::table>) -> Predicate<wallets::table> {
        Box::new(a.or(b))
    }

    fn value_of(&self, field: WalletField) -> Value {
        match field {
            WalletField::Id => Value::Id(self.id),
            WalletField::Label => Value::Text(self.label.clone()),
            WalletField::Balance => Value::Decimal(self.balance.clone()),
            WalletField::CreatedAt => Value::Time(self.created_at),
        }
    }

    fn load(
        conn: &mut PgConnection,
        filters: Vec<Predicate<wallets::table>>,
        sort: &[SortKey<WalletField>],
        limit: i64,
        offset: i64,
    ) -> QueryResult<Vec<Wallet>> {
        let mut query = wallets::table.select(Wallet::as_select()).into_boxed();
        for filter in filters {
            query = query.filter(filter);
        }
        for key in sort {
            query = match key.field {
                WalletField::Id => order_by_column!(query, wallets::id, key.direction),
                WalletField::Label => order_by_column!(query, wallets::label, key.direction),
                WalletField::Balance => order_by_column!(query, wallets::balance, key.direction),
                WalletField::CreatedAt => {
                    order_by_column!(query, wallets::created_at, key.direction)
                }
            };
        }
        query = query.limit(limit);
        if offset > 0 {
            query = query.offset(offset);
        }
        query.load(conn)
    }

    fn count(conn: &mut PgConnection, filters: Vec<Predicate<wallets::table>>) -> QueryResult<i64> {
        let mut query = wallets::table.count().into_boxed();
        for filter in filters {
            query = query.filter(filter);
        }
        query.get_result(conn)
    }
}
