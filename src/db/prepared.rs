//! Statements of fixed SQL that diesel prepares once per connection and reuses.
//!
//! Diesel prepares and caches its query-builder SELECTs, but never an INSERT, an UPDATE or a
//! `sql_query`: those are parsed and planned by PostgreSQL on every call. The hot statements
//! of this service are declared here instead, each with its own type (diesel's statement
//! cache is keyed by type), as SQL text with `$1`, `$2`, ... placeholders in order, each once:
//!
//! ```ignore
//! statement!(BookTransaction, "INSERT INTO transactions ... VALUES ($1, $2, $3) RETURNING ...");
//! prepared::<BookTransaction, _>((bind::<Int8, _>(&wallet_id), ...)).get_result::<Row>(conn)
//! ```

use std::marker::PhantomData;

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Untyped};
use diesel::{QueryResult, RunQueryDsl};

/// A statement's SQL, named by a type of its own.
pub trait Statement: 'static {
    const SQL: &'static str;
}

/// Declares a [`Statement`] type.
macro_rules! statement {
    ($(#[$meta:meta])* $vis:vis $name:ident, $sql:expr) => {
        $(#[$meta])*
        $vis struct $name;
        impl $crate::db::prepared::Statement for $name {
            const SQL: &'static str = $sql;
        }
    };
}
pub(crate) use statement;

/// One bind parameter of SQL type `ST`.
pub struct Bind<'a, ST, T: ?Sized>(&'a T, PhantomData<ST>);

pub fn bind<ST, T: ?Sized>(value: &T) -> Bind<'_, ST, T> {
    Bind(value, PhantomData)
}

/// The bind parameters of a statement, in placeholder order.
pub trait Binds {
    /// Pushes the `n`th parameter (from 0).
    fn push<'b>(&'b self, n: usize, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()>;
}

macro_rules! binds {
    ($($index:tt $param:ident $type:ident),+) => {
        impl<'a, $($param, $type: ?Sized),+> Binds for ($(Bind<'a, $param, $type>,)+)
        where
            Pg: $(HasSqlType<$param> +)+,
            $($type: ToSql<$param, Pg>,)+
        {
            fn push<'b>(&'b self, n: usize, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
                match n {
                    $($index => out.push_bind_param::<$param, $type>(self.$index.0),)+
                    _ => Err(diesel::result::Error::QueryBuilderError(
                        format!("no bind parameter ${}", n + 1).into(),
                    )),
                }
            }
        }
    };
}
binds!(0 S0 T0);
binds!(0 S0 T0, 1 S1 T1);
binds!(0 S0 T0, 1 S1 T1, 2 S2 T2);
binds!(0 S0 T0, 1 S1 T1, 2 S2 T2, 3 S3 T3);
binds!(0 S0 T0, 1 S1 T1, 2 S2 T2, 3 S3 T3, 4 S4 T4);
binds!(0 S0 T0, 1 S1 T1, 2 S2 T2, 3 S3 T3, 4 S4 T4, 5 S5 T5);
binds!(0 S0 T0, 1 S1 T1, 2 S2 T2, 3 S3 T3, 4 S4 T4, 5 S5 T5, 6 S6 T6);
binds!(0 S0 T0, 1 S1 T1, 2 S2 T2, 3 S3 T3, 4 S4 T4, 5 S5 T5, 6 S6 T6, 7 S7 T7);
binds!(0 S0 T0, 1 S1 T1, 2 S2 T2, 3 S3 T3, 4 S4 T4, 5 S5 T5, 6 S6 T6, 7 S7 T7, 8 S8 T8);

/// A [`Statement`] with its parameters: load rows into `QueryableByName` types, or execute.
pub struct Prepared<S, B> {
    binds: B,
    statement: PhantomData<S>,
}

pub fn prepared<S: Statement, B: Binds>(binds: B) -> Prepared<S, B> {
    Prepared {
        binds,
        statement: PhantomData,
    }
}

impl<S: Statement, B> QueryId for Prepared<S, B> {
    type QueryId = S;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<S: Statement, B: Binds> QueryFragment<Pg> for Prepared<S, B> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let mut expected = 1;
        for piece in pieces(S::SQL) {
            match piece {
                Piece::Sql(sql) => out.push_sql(sql),
                Piece::Placeholder(n) if n == expected => {
                    self.binds.push(n - 1, &mut out)?;
                    expected += 1;
                }
                Piece::Placeholder(n) => {
                    return Err(diesel::result::Error::QueryBuilderError(
                        format!("placeholder ${n} out of order in {:?}", S::SQL).into(),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl<S: Statement, B> Query for Prepared<S, B> {
    type SqlType = Untyped;
}

impl<S: Statement, B, Conn> RunQueryDsl<Conn> for Prepared<S, B> {}

enum Piece<'a> {
    Sql(&'a str),
    Placeholder(usize),
}

/// SQL text cut at its `$N` placeholders.
fn pieces(sql: &str) -> impl Iterator<Item = Piece<'_>> {
    let mut rest = sql;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.find('$') {
            Some(0) => {
                let digits = rest[1..].bytes().take_while(u8::is_ascii_digit).count();
                match rest[1..=digits].parse() {
                    Ok(n) if digits > 0 => {
                        rest = &rest[1 + digits..];
                        Some(Piece::Placeholder(n))
                    }
                    _ => {
                        let (sql, tail) = rest.split_at(1);
                        rest = tail;
                        Some(Piece::Sql(sql))
                    }
                }
            }
            Some(at) => {
                let (sql, tail) = rest.split_at(at);
                rest = tail;
                Some(Piece::Sql(sql))
            }
            None => Some(Piece::Sql(std::mem::take(&mut rest))),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_is_cut_at_its_placeholders() {
        let cut: Vec<String> = pieces("SELECT $1, 'a$b', $2::text, $$x$$ $10")
            .map(|piece| match piece {
                Piece::Sql(sql) => sql.to_string(),
                Piece::Placeholder(n) => format!("<{n}>"),
            })
            .collect();
        assert_eq!(cut.concat(), "SELECT <1>, 'a$b', <2>::text, $$x$$ <10>");
    }
}
