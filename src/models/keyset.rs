//! Reading one page of a list query: at most two SQL statements (the page, and for
//! numbered pages a count), whatever the page size. Cursor pages are keyset pages:
//! `WHERE (sort key) > (cursor)`, so their cost does not grow with depth.

use diesel::pg::PgConnection;
use diesel::prelude::*;

use super::fields::{Model, Value};
use super::query::{
    Condition, Direction, Filter, ListPage, ListQuery, Op, Page, Position, Predicate, SortKey,
};

/// Builds the predicates of `filters`. Filters were checked against the fields' kinds when
/// they were parsed, so a mismatch here is a programming error.
fn predicates<L: Model>(filters: &[Filter<L::Field>]) -> QueryResult<Vec<Predicate<L::Table>>> {
    filters
        .iter()
        .map(|filter| {
            std::iter::once(filter.field)
                .chain(filter.either.iter().copied())
                .map(|field| L::condition(field, &filter.condition))
                .reduce(|a, b| Some(L::or(a?, b?)))
                .flatten()
                .ok_or_else(|| {
                    diesel::result::Error::QueryBuilderError(
                        format!(
                            "filter {filter:?} does not fit its field; the parser should refuse \
                             it"
                        )
                        .into(),
                    )
                })
        })
        .collect()
}

/// The rows strictly beyond `cursor` in the `sort` order (the order as given: reverse it
/// first to get the rows before the cursor). For keys k1..kn and cursor c1..cn:
/// `k1 >= c1 AND (k1 > c1 OR (k1 = c1 AND k2 > c2) OR ...)`, with `<` for descending keys.
fn beyond<L: Model>(sort: &[SortKey<L::Field>], cursor: &[Value]) -> Option<Predicate<L::Table>> {
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
    // The same rows, with the first key's bound stated alone as well (`k1 >= c1 AND (...)`):
    // PostgreSQL starts an index scan at a bound on the index's first column, never at an OR,
    // so without it a page deep in a two-key order (the events feed's (position, id)) would
    // walk the index from its start.
    match (sort.first(), cursor.first(), alternatives) {
        (Some(first), Some(value), Some(alternatives)) if sort.len() > 1 => {
            let op = match first.direction {
                Direction::Asc => Op::Gte,
                Direction::Desc => Op::Lte,
            };
            Some(L::and(compare(first.field, op, value)?, alternatives))
        }
        (_, _, alternatives) => alternatives,
    }
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
    // A pinned field goes the way the first key goes, so that one index walks both the same
    // way (`wallet_id DESC, id DESC` reads the (wallet_id, id) index backward; `wallet_id ASC,
    // id DESC` cannot, and a generic plan, not knowing the range holds one value, sorted
    // the wallet's every row: 390 ms for a newest-first page of a 1,000,000-row wallet).
    let direction = sort.first().map_or(Direction::Asc, |key| key.direction);
    for filter in filters {
        match &filter.condition {
            Condition::Compare(Op::Eq, value)
                if filter.either.is_empty()
                    && !order
                        .iter()
                        .chain(sort)
                        .any(|key| key.field == filter.field) =>
            {
                order.push(SortKey {
                    field: filter.field,
                    direction,
                });
                for op in [Op::Gte, Op::Lte] {
                    sent.push(Filter {
                        field: filter.field,
                        condition: Condition::Compare(op, value.clone()),
                        either: Vec::new(),
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
pub fn cursor_fits<L: Model>(sort: &[SortKey<L::Field>], cursor: &[Value]) -> bool {
    sort.len() == cursor.len()
        && sort
            .iter()
            .zip(cursor)
            .all(|(key, value)| L::spec(key.field).kind.value_kind() == value.kind())
}

/// Reads one page.
pub fn read_page<L: Model>(
    conn: &mut PgConnection,
    query: &ListQuery<L::Field>,
) -> QueryResult<ListPage<L>> {
    debug_assert_eq!(query.sort.last().map(|key| key.field), Some(L::ID));
    let resolved = super::metadata::by_ids::<L>(conn, query)?;
    let query = resolved.as_ref().unwrap_or(query);
    match &query.page {
        Page::Number { number, size } => read_numbered(conn, query, *number, *size),
        Page::Cursor { position, size } => read_cursor(conn, query, position, *size),
    }
}

/// What one page's statement holds: its conditions, its ORDER BY, LIMIT and OFFSET.
type Statement<L> = (
    Vec<Predicate<<L as super::fields::Record>::Table>>,
    Vec<SortKey<<L as Model>::Field>>,
    i64,
    i64,
);

/// The statement of the `number`th page of `size` rows.
fn numbered_statement<L: Model>(
    query: &ListQuery<L::Field>,
    number: u64,
    size: u64,
) -> QueryResult<Statement<L>> {
    let size = size as i64;
    let offset = (number as i64 - 1).saturating_mul(size);
    let (filters, order) = pinned(&query.filters, &query.sort);
    Ok((predicates::<L>(&filters)?, order, size, offset))
}

/// The statement of `size` rows from `position` on, one more to tell whether more lie
/// beyond: the rows past the cursor in the sort order (reversed, from a `Before` cursor).
fn cursor_statement<L: Model>(
    query: &ListQuery<L::Field>,
    position: &Position,
    size: u64,
) -> QueryResult<Statement<L>> {
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
    Ok((filters, pinned_order, size as i64 + 1, 0))
}

/// The SQL (with its binds) of the statement that reads `query`'s page.
pub fn page_sql<L: Model>(query: &ListQuery<L::Field>) -> QueryResult<String> {
    let (filters, order, limit, offset) = match &query.page {
        Page::Number { number, size } => numbered_statement::<L>(query, *number, *size)?,
        Page::Cursor { position, size } => cursor_statement::<L>(query, position, *size)?,
    };
    Ok(L::page_sql(filters, &order, limit, offset))
}

/// The `number`th page of `size` rows and the count of every matching row.
fn read_numbered<L: Model>(
    conn: &mut PgConnection,
    query: &ListQuery<L::Field>,
    number: u64,
    size: u64,
) -> QueryResult<ListPage<L>> {
    let (filters, order, limit, offset) = numbered_statement::<L>(query, number, size)?;
    let rows = L::load(conn, filters, &order, limit, offset)?;
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
fn read_cursor<L: Model>(
    conn: &mut PgConnection,
    query: &ListQuery<L::Field>,
    position: &Position,
    size: u64,
) -> QueryResult<ListPage<L>> {
    let size = size as usize;
    let (filters, order, limit, _) = cursor_statement::<L>(query, position, size as u64)?;
    // One row more than the page tells whether more lie beyond it.
    let mut rows = L::load(conn, filters, &order, limit, 0)?;
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
            either: Vec::new(),
        };
        let key = |field, direction| SortKey { field, direction };
        let sort = [key("amount", Direction::Desc), key("id", Direction::Asc)];
        let range = Filter {
            field: "id",
            condition: Condition::Compare(Op::Gt, Value::Id(1)),
            either: Vec::new(),
        };
        let (filters, order) = pinned(&[eq("wallet"), range.clone(), eq("amount")], &sort);
        // The pinned wallet goes the way the first key (amount) goes.
        assert_eq!(
            order,
            vec![
                key("wallet", Direction::Desc),
                key("amount", Direction::Desc),
                key("id", Direction::Asc)
            ]
        );
        let between = |op| Filter {
            field: "wallet",
            condition: Condition::Compare(op, Value::Id(1)),
            either: Vec::new(),
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

#[cfg(test)]
mod snapshots {
    //! The exact SQL each kind of page sends, pinned (as diesel's own examples pin theirs):
    //! a change to how pages are read must show here, in SQL, before it reaches a database.

    use super::*;
    use crate::models::{Transaction, TransactionField as F};
    use bigdecimal::BigDecimal;

    fn query(filters: Vec<Filter<F>>, sort: Vec<SortKey<F>>, page: Page) -> ListQuery<F> {
        ListQuery {
            filters,
            sort,
            page,
        }
    }

    fn key(field: F, direction: Direction) -> SortKey<F> {
        SortKey { field, direction }
    }

    fn of_wallet(id: i64) -> Filter<F> {
        Filter {
            field: F::Wallet,
            condition: Condition::Compare(Op::Eq, Value::Id(id)),
            either: Vec::new(),
        }
    }

    /// The page's statement after its column list.
    fn sql(q: ListQuery<F>) -> String {
        let sql = page_sql::<Transaction>(&q).unwrap();
        let from = r#" FROM "transactions_with_currency""#;
        let at = sql.find(from).expect("the model's view");
        sql[at + from.len()..].to_string()
    }

    fn five_then_ten() -> Vec<Value> {
        vec![Value::Decimal(BigDecimal::from(5)), Value::Id(10)]
    }

    #[test]
    fn a_wallets_first_page_reads_the_wallet_id_index_in_order() {
        let q = query(
            vec![of_wallet(7)],
            vec![key(F::Id, Direction::Asc)],
            Page::Cursor {
                position: Position::First,
                size: 20,
            },
        );
        assert_eq!(
            sql(q),
            r#" WHERE (("transactions_with_currency"."wallet_id" >= $1) AND ("transactions_with_currency"."wallet_id" <= $2)) ORDER BY "transactions_with_currency"."wallet_id" ASC, "transactions_with_currency"."id" ASC LIMIT $3 -- binds: [7, 7, 21]"#
        );
    }

    #[test]
    fn a_page_after_a_cursor_is_a_keyset_condition() {
        let q = query(
            vec![],
            vec![key(F::Amount, Direction::Desc), key(F::Id, Direction::Asc)],
            Page::Cursor {
                position: Position::After(five_then_ten()),
                size: 20,
            },
        );
        assert_eq!(
            sql(q),
            r#" WHERE (("transactions_with_currency"."amount" <= $1) AND (("transactions_with_currency"."amount" < $2) OR (("transactions_with_currency"."amount" = $3) AND ("transactions_with_currency"."id" > $4)))) ORDER BY "transactions_with_currency"."amount" DESC, "transactions_with_currency"."id" ASC LIMIT $5 -- binds: [BigDecimal(sign=Plus, scale=0, digits=[5]), BigDecimal(sign=Plus, scale=0, digits=[5]), BigDecimal(sign=Plus, scale=0, digits=[5]), 10, 21]"#
        );
    }

    #[test]
    fn a_page_before_a_cursor_reads_the_sort_reversed() {
        let q = query(
            vec![of_wallet(7)],
            vec![key(F::Amount, Direction::Desc), key(F::Id, Direction::Asc)],
            Page::Cursor {
                position: Position::Before(five_then_ten()),
                size: 20,
            },
        );
        assert_eq!(
            sql(q),
            r#" WHERE ((("transactions_with_currency"."wallet_id" >= $1) AND ("transactions_with_currency"."wallet_id" <= $2)) AND (("transactions_with_currency"."amount" >= $3) AND (("transactions_with_currency"."amount" > $4) OR (("transactions_with_currency"."amount" = $5) AND ("transactions_with_currency"."id" < $6))))) ORDER BY "transactions_with_currency"."wallet_id" ASC, "transactions_with_currency"."amount" ASC, "transactions_with_currency"."id" DESC LIMIT $7 -- binds: [7, 7, BigDecimal(sign=Plus, scale=0, digits=[5]), BigDecimal(sign=Plus, scale=0, digits=[5]), BigDecimal(sign=Plus, scale=0, digits=[5]), 10, 21]"#
        );
    }

    #[test]
    fn a_numbered_page_is_an_offset() {
        let q = query(
            vec![of_wallet(7)],
            vec![key(F::Id, Direction::Asc)],
            Page::Number {
                number: 3,
                size: 10,
            },
        );
        assert_eq!(
            sql(q),
            r#" WHERE (("transactions_with_currency"."wallet_id" >= $1) AND ("transactions_with_currency"."wallet_id" <= $2)) ORDER BY "transactions_with_currency"."wallet_id" ASC, "transactions_with_currency"."id" ASC LIMIT $3 OFFSET $4 -- binds: [7, 7, 10, 20]"#
        );
    }
}
