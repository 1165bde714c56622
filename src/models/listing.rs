//! Filtered, sorted, paginated listing, shared by wallets and transactions.
//!
//! A resource says how its fields map to columns ([`Listable`]); this module turns a
//! [`ListQuery`] into at most two SQL statements (the page, and for numbered pages a count),
//! whatever the page size. Cursor pages are keyset pages: `WHERE (sort key) > (cursor)`,
//! so their cost does not grow with depth.

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

/// Typed extraction of a [`Value`], used to bind `IN` lists to a column's own type.
pub trait FromValue: Sized {
    fn from_value(value: &Value) -> Option<Self>;
    fn all(values: &[Value]) -> Option<Vec<Self>> {
        values.iter().map(Self::from_value).collect()
    }
}

impl FromValue for i64 {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Id(v) => Some(*v),
            _ => None,
        }
    }
}
impl FromValue for BigDecimal {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Decimal(v) => Some(v.clone()),
            _ => None,
        }
    }
}
impl FromValue for String {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Text(v) => Some(v.clone()),
            _ => None,
        }
    }
}
impl FromValue for DateTime<Utc> {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Time(v) => Some(*v),
            _ => None,
        }
    }
}

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

/// A listable resource: its fields, and how each maps to SQL.
pub trait Listable: Sized {
    type Table: 'static;
    type Field: Copy + Eq + std::fmt::Debug + 'static;

    /// The unique field that ends every sort.
    const ID: Self::Field;

    /// The kind of value the field holds.
    fn kind(field: Self::Field) -> Kind;
    /// `field op value`, or `None` when the value is not of the field's kind.
    fn compare(field: Self::Field, op: Op, value: &Value) -> Option<Predicate<Self::Table>>;
    /// `field IN values`, `field LIKE prefix%` and `field ILIKE %text%`, or `None` when the
    /// condition does not apply to the field's kind.
    fn condition(field: Self::Field, condition: &Condition) -> Option<Predicate<Self::Table>>;
    /// `a AND b`, `a OR b` (written per table: diesel's operators need the concrete table).
    fn and(a: Predicate<Self::Table>, b: Predicate<Self::Table>) -> Predicate<Self::Table>;
    fn or(a: Predicate<Self::Table>, b: Predicate<Self::Table>) -> Predicate<Self::Table>;
    /// The value of `field` in this row (for cursors).
    fn value_of(&self, field: Self::Field) -> Value;

    /// Rows matching all `filters` and `extra`, in `sort` order, `limit` rows after skipping
    /// `offset`.
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

/// Builds the predicates of `filters`. Filters were checked against the fields' kinds when
/// they were parsed, so a mismatch here is a programming error.
fn predicates<L: Listable>(filters: &[Filter<L::Field>]) -> Vec<Predicate<L::Table>> {
    filters
        .iter()
        .map(|filter| {
            L::condition(filter.field, &filter.condition).unwrap_or_else(|| {
                panic!("filter {filter:?} does not fit its field; the parser should refuse it")
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
    let mut alternatives: Option<Predicate<L::Table>> = None;
    for (i, (key, value)) in sort.iter().zip(cursor).enumerate() {
        let op = match key.direction {
            Direction::Asc => Op::Gt,
            Direction::Desc => Op::Lt,
        };
        let mut term = L::compare(key.field, op, value)?;
        for (earlier, earlier_value) in sort[..i].iter().zip(cursor) {
            term = L::and(L::compare(earlier.field, Op::Eq, earlier_value)?, term);
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
        Page::Number { number, size } => {
            let size = *size as i64;
            let offset = (*number as i64 - 1).saturating_mul(size);
            let (filters, order) = pinned(&query.filters, &query.sort);
            let rows = L::load(conn, predicates::<L>(&filters), &order, size, offset)?;
            let total = L::count(conn, predicates::<L>(&query.filters))?;
            Ok(ListPage {
                more_after: offset + (rows.len() as i64) < total,
                more_before: *number > 1,
                rows,
                total: Some(total),
            })
        }
        Page::Cursor { position, size } => {
            let size = *size as usize;
            let reversed: Vec<SortKey<L::Field>> = query
                .sort
                .iter()
                .map(|key| SortKey {
                    field: key.field,
                    direction: key.direction.reversed(),
                })
                .collect();
            // Reading backwards from a `Before` cursor reads the sort reversed, then turns
            // the page around.
            let (order, cursor) = match position {
                Position::First => (&query.sort, None),
                Position::After(cursor) => (&query.sort, Some(cursor)),
                Position::Before(cursor) => (&reversed, Some(cursor)),
            };
            let (sent, pinned_order) = pinned(&query.filters, order);
            let mut filters = predicates::<L>(&sent);
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
    }
}

/// Boxes `column op value` as a [`Predicate`]; used by each resource's
/// [`Listable::compare`].
macro_rules! compare_column {
    ($column:expr, $op:expr, $value:expr) => {{
        use $crate::models::listing::{Op, Predicate};
        let predicate: Predicate<_> = match $op {
            Op::Eq => Box::new($column.eq($value)),
            Op::Gt => Box::new($column.gt($value)),
            Op::Gte => Box::new($column.ge($value)),
            Op::Lt => Box::new($column.lt($value)),
            Op::Lte => Box::new($column.le($value)),
        };
        predicate
    }};
}
pub(crate) use compare_column;

/// Adds `column ASC|DESC` to the ORDER BY of a boxed query.
macro_rules! order_by_column {
    ($query:expr, $column:expr, $direction:expr) => {
        match $direction {
            $crate::models::listing::Direction::Asc => $query.then_order_by($column.asc()),
            $crate::models::listing::Direction::Desc => $query.then_order_by($column.desc()),
        }
    };
}
pub(crate) use order_by_column;

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
