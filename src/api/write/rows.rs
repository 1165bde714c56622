//! The multi-row form of a write: what a coalesced batch may fold, with the writes of the
//! same kind beside it, into one statement (a wave, `waves`). A resource whose creates can be
//! written that way implements [`RowWriter`] for its new rows, beside its lock declaration,
//! and its create hands the batch a [`Rows`]; nothing generic names it.

use std::any::Any;
use std::sync::Arc;

use diesel::QueryResult;
use diesel::pg::PgConnection;

use crate::jsonapi::ApiError;
use crate::jsonapi::document::Reply;

/// New rows of one kind that one statement writes together. The statement is the one the
/// resource writes a single row with too: one statement per resource, alone or in a wave.
pub trait RowWriter: Send + Sync + 'static {
    /// What the statement returns of each row it wrote.
    type Row: Send + 'static;
    /// The statement's name: writes of one kind share it.
    const KIND: &'static str;
    /// The key no two rows of a statement share (a booking's txid): a row whose key is taken
    /// is skipped by the statement and answered by its write's own work.
    fn unique(&self) -> &str;
    fn unique_of(row: &Self::Row) -> &str;
    /// Writes all of `items` in one statement, skipping those whose unique key is taken; the
    /// rows it wrote. On an error, it wrote none.
    fn write_all(conn: &mut PgConnection, items: &[&Self]) -> QueryResult<Vec<Self::Row>>;
}

type Erased = Box<dyn Any + Send + Sync>;
type ErasedRow = Box<dyn Any + Send>;
/// Writes rows of one kind in one statement: each written one's unique key and row.
type WriteAll = fn(&mut PgConnection, &[&Rows]) -> QueryResult<Vec<(String, ErasedRow)>>;
/// Answers the write whose row was written.
type Finish = Arc<dyn Fn(&mut PgConnection, ErasedRow) -> Result<Reply, ApiError> + Send + Sync>;

/// A write's multi-row form, its type erased: its row for the statement, and how the row the
/// statement wrote becomes its answer.
pub struct Rows {
    kind: &'static str,
    unique: String,
    item: Erased,
    write_all: WriteAll,
    finish: Finish,
}

impl Rows {
    /// `item`, written by `W`'s statement; `finish` answers the write once its row is
    /// written.
    pub fn of<W: RowWriter>(
        item: W,
        finish: impl Fn(&mut PgConnection, W::Row) -> Result<Reply, ApiError> + Send + Sync + 'static,
    ) -> Rows {
        Rows {
            kind: W::KIND,
            unique: item.unique().to_string(),
            item: Box::new(item),
            write_all: write_all::<W>,
            finish: Arc::new(move |conn, row: ErasedRow| {
                let row = row
                    .downcast::<W::Row>()
                    .expect("a statement's row is of its kind");
                finish(conn, *row)
            }),
        }
    }

    /// The statement that writes it.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    pub fn unique(&self) -> &str {
        &self.unique
    }

    /// Writes `rows` (all of one kind) in one statement: each written one's unique key and
    /// row.
    pub fn write_all(
        conn: &mut PgConnection,
        rows: &[&Rows],
    ) -> QueryResult<Vec<(String, ErasedRow)>> {
        match rows.first() {
            Some(first) => (first.write_all)(conn, rows),
            None => Ok(Vec::new()),
        }
    }

    /// The answer of the write whose row this is.
    pub fn finish(
        &self,
        conn: &mut PgConnection,
        row: Box<dyn Any + Send>,
    ) -> Result<Reply, ApiError> {
        (self.finish)(conn, row)
    }
}

fn write_all<W: RowWriter>(
    conn: &mut PgConnection,
    rows: &[&Rows],
) -> QueryResult<Vec<(String, ErasedRow)>> {
    let items: Vec<&W> = rows
        .iter()
        .map(|rows| {
            rows.item
                .downcast_ref::<W>()
                .expect("the rows of one statement are of its kind")
        })
        .collect();
    Ok(W::write_all(conn, &items)?
        .into_iter()
        .map(|row| (W::unique_of(&row).to_string(), Box::new(row) as ErasedRow))
        .collect())
}
