//! Filtered, sorted, paginated listing, shared by every resource.
//!
//! A model declares its fields once with [`listable!`]: the name clients use, the column,
//! the kind of value, whether it sorts and which filter operators it takes. The macro writes
//! the field enum and every per-field `match` (conditions, ORDER BY, cursor values), so a
//! field cannot be half-declared: the compiler sees every arm. This module then turns a
//! [`ListQuery`] into at most two SQL statements (the page, and for numbered pages a count),
//! whatever the page size. Cursor pages are keyset pages: `WHERE (sort key) > (cursor)`, so
//! their cost does not grow with depth.

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::expression::BoxableExpression;
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;
use diesel::sql_types::Bool;

/// A condition on rows of table `T`, built at run time.
pub type Predicate<T> = Box<dyn BoxableExpression<T, Pg, SqlType = Bool>>;

/// What kind of value a field holds, which decides how its filter values and cursors parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A bigint id.
    Id,
    Decimal,
    Text,
    Time,
}

/// A typed value of a field: a filter operand or a cursor component.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Id(i64),
    Decimal(BigDecimal),
    Text(String),
    Time(DateTime<Utc>),
}

impl Value {
    pub fn kind(&self) -> Kind {
        match self {
            Value::Id(_) => Kind::Id,
            Value::Decimal(_) => Kind::Decimal,
            Value::Text(_) => Kind::Text,
            Value::Time(_) => Kind::Time,
        }
    }
}

/// Typed extraction of a [`Value`], used to bind operands to a column's own type.
pub trait FromValue: Sized {
    fn from_value(value: &Value) -> Option<Self>;
    fn all(values: &[Value]) -> Option<Vec<Self>> {
        values.iter().map(Self::from_value).collect()
    }
}

macro_rules! from_value {
    ($type:ty, $variant:ident) => {
        impl FromValue for $type {
            fn from_value(value: &Value) -> Option<Self> {
                match value {
                    Value::$variant(v) => Some(v.clone()),
                    _ => None,
                }
            }
        }
    };
}
from_value!(i64, Id);
from_value!(BigDecimal, Decimal);
from_value!(String, Text);
from_value!(DateTime<Utc>, Time);

/// A comparison of a field with one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Gt,
    Gte,
    Lt,
    Lte,
}

/// One filter condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Compare(Op, Value),
    /// Equal to any of these (never empty).
    In(Vec<Value>),
    /// Text starting with this prefix (case-sensitive).
    StartsWith(String),
    /// Text containing this, ignoring case.
    IContains(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Filter<F> {
    pub field: F,
    pub condition: Condition,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

impl Direction {
    fn reversed(self) -> Direction {
        match self {
            Direction::Asc => Direction::Desc,
            Direction::Desc => Direction::Asc,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortKey<F> {
    pub field: F,
    pub direction: Direction,
}

/// Which page to read.
#[derive(Debug, Clone, PartialEq)]
pub enum Page {
    /// The `number`th page (from 1) of `size` rows, with a total count.
    Number { number: u64, size: u64 },
    /// `size` rows from `position` on, in the sort order.
    Cursor { position: Position, size: u64 },
}

/// Where a cursor page starts. Cursors hold the sort key values of one row, in the order of
/// the sort keys.
#[derive(Debug, Clone, PartialEq)]
pub enum Position {
    First,
    /// The rows strictly after this one.
    After(Vec<Value>),
    /// The rows strictly before this one (the page still reads in the sort order).
    Before(Vec<Value>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery<F> {
    pub filters: Vec<Filter<F>>,
    /// The sort, always ending with the unique id so that the order is total.
    pub sort: Vec<SortKey<F>>,
    pub page: Page,
}

#[derive(Debug)]
pub struct ListPage<R> {
    pub rows: Vec<R>,
    /// Rows exist after the last one of this page (cursor pages; numbered pages use `total`).
    pub more_after: bool,
    /// Rows exist before the first one of this page.
    pub more_before: bool,
    /// Rows matching the filters, for numbered pages.
    pub total: Option<i64>,
}

/// One field of a listable resource, as [`listable!`] declares it.
#[derive(Debug)]
pub struct FieldSpec<F: 'static> {
    /// The name clients use in `filter[...]` and `sort`.
    pub name: &'static str,
    pub field: F,
    pub kind: Kind,
    pub sortable: bool,
    /// The operators of `filter[name.OP]`; `None` when the field cannot be filtered.
    /// Plain `filter[name]=a,b` (equal to any of) goes with every filterable field.
    pub operators: Option<&'static [&'static str]>,
}

/// A row type with an `id`, read by id.
pub trait Record: Sized + Send + 'static {
    type Table: 'static;
    fn id(&self) -> i64;
    fn find(conn: &mut PgConnection, id: i64) -> QueryResult<Option<Self>>;
    /// The rows with these ids (those that exist), in id order.
    fn find_many(conn: &mut PgConnection, ids: &[i64]) -> QueryResult<Vec<Self>>;
}

/// A listable resource: its fields, and how each maps to SQL. Implemented by [`listable!`].
pub trait Listable: Record {
    type Field: Copy + Eq + std::fmt::Debug + Send + Sync + 'static;

    /// The unique field that ends every sort.
    const ID: Self::Field;
    /// Every field that sorts or filters.
    const FIELDS: &'static [FieldSpec<Self::Field>];

    /// The kind of value the field holds.
    fn kind(field: Self::Field) -> Kind;
    /// The SQL of `condition` on `field`, or `None` when the condition does not fit the
    /// field's kind (the parser refuses those first).
    fn condition(field: Self::Field, condition: &Condition) -> Option<Predicate<Self::Table>>;
    /// `a AND b`, `a OR b` (diesel's operators need the concrete table).
    fn and(a: Predicate<Self::Table>, b: Predicate<Self::Table>) -> Predicate<Self::Table>;
    fn or(a: Predicate<Self::Table>, b: Predicate<Self::Table>) -> Predicate<Self::Table>;
    /// The value of `field` in this row (for cursors).
    fn value_of(&self, field: Self::Field) -> Value;

    /// Rows matching all `filters`, in `sort` order, `limit` rows after skipping `offset`.
    fn load(
        conn: &mut PgConnection,
        filters: Vec<Predicate<Self::Table>>,
        sort: &[SortKey<Self::Field>],
        limit: i64,
        offset: i64,
    ) -> QueryResult<Vec<Self>>;
    /// How many rows match all `filters`.
    fn count(conn: &mut PgConnection, filters: Vec<Predicate<Self::Table>>) -> QueryResult<i64>;
}

/// Declares a model's listable fields and writes its [`Record`] and [`Listable`] impls and
/// its field enum. Each field line:
///
/// ```text
/// Variant = "jsonName": column as KIND, sort: true|false, filter: OPERATORS;
/// ```
///
/// KIND is `id`, `decimal`, `text` or `time` (the column's Rust type is `i64`, `BigDecimal`,
/// `String`, `DateTime<Utc>`, and the model's struct field has the column's name).
/// OPERATORS is `cmp` (`in`, `gt`, `gte`, `lt`, `lte`), `text` (`in`, `startswith`,
/// `icontains`; text columns only), `eq` (`in`) or `none` (not filterable). A variant named
/// `Id`, on the primary key, is required: it ends every sort.
macro_rules! listable {
    (
        $model:ident in $table:ident, fields $field:ident {
            $( $variant:ident = $name:literal: $column:ident as $kind:ident,
               sort: $sort:literal, filter: $ops:ident; )+
        }
    ) => {
        /// The fields of this resource that lists filter and sort on.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $field {
            $( $variant ),+
        }

        impl $crate::models::listing::Record for $model {
            type Table = $table::table;

            fn id(&self) -> i64 {
                self.id
            }

            fn find(
                conn: &mut diesel::pg::PgConnection,
                id: i64,
            ) -> diesel::QueryResult<Option<$model>> {
                use diesel::prelude::*;
                $table::table
                    .find(id)
                    .select($model::as_select())
                    .first(conn)
                    .optional()
            }

            fn find_many(
                conn: &mut diesel::pg::PgConnection,
                ids: &[i64],
            ) -> diesel::QueryResult<Vec<$model>> {
                use diesel::prelude::*;
                $table::table
                    .filter($table::id.eq_any(ids))
                    .order($table::id)
                    .select($model::as_select())
                    .load(conn)
            }
        }

        impl $crate::models::listing::Listable for $model {
            type Field = $field;
            const ID: $field = $field::Id;
            const FIELDS: &'static [$crate::models::listing::FieldSpec<$field>] = &[
                $( $crate::models::listing::FieldSpec {
                    name: $name,
                    field: $field::$variant,
                    kind: listable!(@kind $kind),
                    sortable: $sort,
                    operators: listable!(@ops $kind $ops),
                } ),+
            ];

            fn kind(field: $field) -> $crate::models::listing::Kind {
                match field {
                    $( $field::$variant => listable!(@kind $kind) ),+
                }
            }

            fn condition(
                field: $field,
                condition: &$crate::models::listing::Condition,
            ) -> Option<$crate::models::listing::Predicate<$table::table>> {
                #[allow(unused_imports)]
                use diesel::prelude::*;
                match field {
                    $( $field::$variant => listable!(@condition $kind, $table::$column, condition) ),+
                }
            }

            fn and(
                a: $crate::models::listing::Predicate<$table::table>,
                b: $crate::models::listing::Predicate<$table::table>,
            ) -> $crate::models::listing::Predicate<$table::table> {
                use diesel::prelude::*;
                Box::new(a.and(b))
            }

            fn or(
                a: $crate::models::listing::Predicate<$table::table>,
                b: $crate::models::listing::Predicate<$table::table>,
            ) -> $crate::models::listing::Predicate<$table::table> {
                use diesel::prelude::*;
                Box::new(a.or(b))
            }

            fn value_of(&self, field: $field) -> $crate::models::listing::Value {
                match field {
                    $( $field::$variant => listable!(@value $kind, self.$column) ),+
                }
            }

            fn load(
                conn: &mut diesel::pg::PgConnection,
                filters: Vec<$crate::models::listing::Predicate<$table::table>>,
                sort: &[$crate::models::listing::SortKey<$field>],
                limit: i64,
                offset: i64,
            ) -> diesel::QueryResult<Vec<$model>> {
                use diesel::prelude::*;
                use $crate::models::listing::Direction;
                let mut query = $table::table.select($model::as_select()).into_boxed();
                for filter in filters {
                    query = query.filter(filter);
                }
                for key in sort {
                    query = match (key.field, key.direction) {
                        $(
                            ($field::$variant, Direction::Asc) => {
                                query.then_order_by($table::$column.asc())
                            }
                            ($field::$variant, Direction::Desc) => {
                                query.then_order_by($table::$column.desc())
                            }
                        )+
                    };
                }
                query = query.limit(limit);
                if offset > 0 {
                    query = query.offset(offset);
                }
                query.load(conn)
            }

            fn count(
                conn: &mut diesel::pg::PgConnection,
                filters: Vec<$crate::models::listing::Predicate<$table::table>>,
            ) -> diesel::QueryResult<i64> {
                use diesel::prelude::*;
                let mut query = $table::table.count().into_boxed();
                for filter in filters {
                    query = query.filter(filter);
                }
                query.get_result(conn)
            }
        }
    };

    (@kind id) => { $crate::models::listing::Kind::Id };
    (@kind decimal) => { $crate::models::listing::Kind::Decimal };
    (@kind text) => { $crate::models::listing::Kind::Text };
    (@kind time) => { $crate::models::listing::Kind::Time };

    (@rust id) => { i64 };
    (@rust decimal) => { bigdecimal::BigDecimal };
    (@rust text) => { String };
    (@rust time) => { chrono::DateTime<chrono::Utc> };

    (@ops text text) => { Some(&["in", "startswith", "icontains"]) };
    (@ops $kind:ident text) => {
        compile_error!("filter: text needs a text column")
    };
    (@ops $kind:ident cmp) => { Some(&["in", "gt", "gte", "lt", "lte"]) };
    (@ops $kind:ident eq) => { Some(&["in"]) };
    (@ops $kind:ident none) => { None };

    (@value id, $e:expr) => { $crate::models::listing::Value::Id($e) };
    (@value decimal, $e:expr) => { $crate::models::listing::Value::Decimal($e.clone()) };
    (@value text, $e:expr) => { $crate::models::listing::Value::Text($e.clone()) };
    (@value time, $e:expr) => { $crate::models::listing::Value::Time($e) };

    (@condition text, $column:expr, $condition:expr) => {{
        use $crate::models::listing::{like_literal, Condition};
        match $condition {
            Condition::StartsWith(prefix) => Some(Box::new(
                $column.like(format!("{}%", like_literal(prefix))).escape('\\'),
            ) as $crate::models::listing::Predicate<_>),
            Condition::IContains(text) => Some(Box::new(
                $column.ilike(format!("%{}%", like_literal(text))).escape('\\'),
            ) as $crate::models::listing::Predicate<_>),
            other => listable!(@compare text, $column, other),
        }
    }};
    (@condition $kind:ident, $column:expr, $condition:expr) => {
        listable!(@compare $kind, $column, $condition)
    };

    (@compare $kind:ident, $column:expr, $condition:expr) => {{
        use $crate::models::listing::{Condition, FromValue, Op, Predicate};
        type Rust = listable!(@rust $kind);
        match $condition {
            Condition::Compare(op, value) => {
                let value = Rust::from_value(value)?;
                let predicate: Predicate<_> = match op {
                    Op::Eq => Box::new($column.eq(value)),
                    Op::Gt => Box::new($column.gt(value)),
                    Op::Gte => Box::new($column.ge(value)),
                    Op::Lt => Box::new($column.lt(value)),
                    Op::Lte => Box::new($column.le(value)),
                };
                Some(predicate)
            }
            Condition::In(values) => {
                Some(Box::new($column.eq_any(Rust::all(values)?)) as Predicate<_>)
            }
            _ => None,
        }
    }};
}
pub(crate) use listable;

/// Builds the predicates of `filters`. Filters were checked against the fields' kinds when
/// they were parsed, so a mismatch here is a programming error.
fn predicates<L: Listable>(filters: &[Filter<L::Field>]) -> QueryResult<Vec<Predicate<L::Table>>> {
    filters
        .iter()
        .map(|filter| {
            L::condition(filter.field, &filter.condition).ok_or_else(|| {
                diesel::result::Error::QueryBuilderError(
                    format!(
                        "filter {filter:?} does not fit its field; the parser should refuse it"
                    )
                    .into(),
                )
            })
        })
        .collect()
}

/// The rows strictly beyond `cursor` in the `sort` order (the order as given: reverse it
/// first to get the rows before the cursor). For keys k1..kn and cursor c1..cn:
/// `k1 > c1 OR (k1 = c1 AND k2 > c2) OR ...`, with `<` for descending keys.
fn beyond<L: Listable>(
    sort: &[SortKey<L::Field>],
    cursor: &[Value],
) -> Option<Predicate<L::Table>> {
    if sort.len() != cursor.len() {
        return None;
    }
    let compare =
        |field, op, value: &Value| L::condition(field, &Condition::Compare(op, value.clone()));
    let mut alternatives: Option<Predicate<L::Table>> = None;
    for (i, (key, value)) in sort.iter().zip(cursor).enumerate() {
        let op = match key.direction {
            Direction::Asc => Op::Gt,
            Direction::Desc => Op::Lt,
        };
        let mut term = compare(key.field, op, value)?;
        for (earlier, earlier_value) in sort[..i].iter().zip(cursor) {
            term = L::and(compare(earlier.field, Op::Eq, earlier_value)?, term);
        }
        alternatives = Some(match alternatives {
            None => term,
            Some(previous) => L::or(previous, term),
        });
    }
    alternatives
}

/// The filters and ORDER BY to send for a query. Each field an equality filter holds
/// constant leads the ORDER BY (changing no order), and its filter is sent as the closed
/// range `field >= v AND field <= v` (the same rows). Sent as `=`, PostgreSQL would treat
/// the field as a constant and drop it from the ORDER BY; sent this way, only an index led by
/// that field gives the order, so `WHERE wallet_id = $1 ORDER BY id LIMIT 21` reads 21 entries
/// of the (wallet_id, id) index. Otherwise the planner, told that one wallet holds most rows,
/// may walk the primary key past every other wallet's rows first (1.07 ms against 0.13 ms for
/// a first page of a 1,000,000-transaction wallet behind 10,000 older rows; see BENCHMARKS.md).
fn pinned<F: Copy + PartialEq>(
    filters: &[Filter<F>],
    sort: &[SortKey<F>],
) -> (Vec<Filter<F>>, Vec<SortKey<F>>) {
    let mut order: Vec<SortKey<F>> = Vec::with_capacity(sort.len() + 1);
    let mut sent = Vec::with_capacity(filters.len() + 1);
    for filter in filters {
        match &filter.condition {
            Condition::Compare(Op::Eq, value)
                if !order
                    .iter()
                    .chain(sort)
                    .any(|key| key.field == filter.field) =>
            {
                order.push(SortKey {
                    field: filter.field,
                    direction: Direction::Asc,
                });
                for op in [Op::Gte, Op::Lte] {
                    sent.push(Filter {
                        field: filter.field,
                        condition: Condition::Compare(op, value.clone()),
                    });
                }
            }
            _ => sent.push(filter.clone()),
        }
    }
    order.extend_from_slice(sort);
    (sent, order)
}

/// Does `cursor` fit `sort`: one value of the right kind per key?
pub fn cursor_fits<L: Listable>(sort: &[SortKey<L::Field>], cursor: &[Value]) -> bool {
    sort.len() == cursor.len()
        && sort
            .iter()
            .zip(cursor)
            .all(|(key, value)| L::kind(key.field) == value.kind())
}

/// Reads one page.
pub fn read_page<L: Listable>(
    conn: &mut PgConnection,
    query: &ListQuery<L::Field>,
) -> QueryResult<ListPage<L>> {
    debug_assert_eq!(query.sort.last().map(|key| key.field), Some(L::ID));
    match &query.page {
        Page::Number { number, size } => read_numbered(conn, query, *number, *size),
        Page::Cursor { position, size } => read_cursor(conn, query, position, *size),
    }
}

/// The `number`th page of `size` rows and the count of every matching row.
fn read_numbered<L: Listable>(
    conn: &mut PgConnection,
    query: &ListQuery<L::Field>,
    number: u64,
    size: u64,
) -> QueryResult<ListPage<L>> {
    let size = size as i64;
    let offset = (number as i64 - 1).saturating_mul(size);
    let (filters, order) = pinned(&query.filters, &query.sort);
    let rows = L::load(conn, predicates::<L>(&filters)?, &order, size, offset)?;
    let total = L::count(conn, predicates::<L>(&query.filters)?)?;
    Ok(ListPage {
        more_after: offset + (rows.len() as i64) < total,
        more_before: number > 1,
        rows,
        total: Some(total),
    })
}

/// `size` rows from `position` on. Reading backwards from a `Before` cursor reads the sort
/// reversed, then turns the page around.
fn read_cursor<L: Listable>(
    conn: &mut PgConnection,
    query: &ListQuery<L::Field>,
    position: &Position,
    size: u64,
) -> QueryResult<ListPage<L>> {
    let size = size as usize;
    let reversed: Vec<SortKey<L::Field>>;
    let (order, cursor) = match position {
        Position::First => (&query.sort, None),
        Position::After(cursor) => (&query.sort, Some(cursor)),
        Position::Before(cursor) => {
            reversed = query
                .sort
                .iter()
                .map(|key| SortKey {
                    field: key.field,
                    direction: key.direction.reversed(),
                })
                .collect();
            (&reversed, Some(cursor))
        }
    };
    let (sent, pinned_order) = pinned(&query.filters, order);
    let mut filters = predicates::<L>(&sent)?;
    if let Some(cursor) = cursor {
        filters.push(beyond::<L>(order, cursor).ok_or_else(|| {
            diesel::result::Error::QueryBuilderError(
                "the cursor does not fit the sort; the parser should refuse it".into(),
            )
        })?);
    }
    // One row more than the page tells whether more lie beyond it.
    let mut rows = L::load(conn, filters, &pinned_order, size as i64 + 1, 0)?;
    let more = rows.len() > size;
    rows.truncate(size);
    Ok(match position {
        Position::Before(_) => {
            rows.reverse();
            // The cursor's own row lies after this page.
            ListPage {
                rows,
                more_after: true,
                more_before: more,
                total: None,
            }
        }
        _ => ListPage {
            rows,
            more_after: more,
            more_before: matches!(position, Position::After(_)),
            total: None,
        },
    })
}

/// A LIKE pattern matching `text` literally, for use with `ESCAPE '\'`.
pub fn like_literal(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equality_filtered_fields_lead_the_order() {
        let eq = |field| Filter {
            field,
            condition: Condition::Compare(Op::Eq, Value::Id(1)),
        };
        let key = |field, direction| SortKey { field, direction };
        let sort = [key("amount", Direction::Desc), key("id", Direction::Asc)];
        let range = Filter {
            field: "id",
            condition: Condition::Compare(Op::Gt, Value::Id(1)),
        };
        let (filters, order) = pinned(&[eq("wallet"), range.clone(), eq("amount")], &sort);
        assert_eq!(
            order,
            vec![
                key("wallet", Direction::Asc),
                key("amount", Direction::Desc),
                key("id", Direction::Asc)
            ]
        );
        let between = |op| Filter {
            field: "wallet",
            condition: Condition::Compare(op, Value::Id(1)),
        };
        assert_eq!(
            filters,
            vec![between(Op::Gte), between(Op::Lte), range, eq("amount")]
        );
        assert_eq!(pinned::<&str>(&[], &sort), (vec![], sort.to_vec()));
    }

    #[test]
    fn like_patterns_match_literally() {
        assert_eq!(like_literal("50%_off\\"), "50\\%\\_off\\\\");
        assert_eq!(like_literal("plain"), "plain");
    }
}
