//! A list query, in the terms of a resource's fields: filters, a sort that always ends with
//! the unique id, and a page (by number, or from a cursor position).

use diesel::expression::BoxableExpression;
use diesel::pg::Pg;
use diesel::sql_types::Bool;

use super::fields::Value;

/// A condition on rows of table `T`, built at run time.
pub type Predicate<T> = Box<dyn BoxableExpression<T, Pg, SqlType = Bool>>;

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
    /// Metadata whose `key` holds any of these values (never empty).
    MetadataIn {
        key: String,
        values: Vec<String>,
    },
    /// Metadata that has `key` (`present`) or has it not.
    MetadataHas {
        key: String,
        present: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Filter<F> {
    pub field: F,
    pub condition: Condition,
    /// Fields the condition may hold on instead: the rows where it holds on `field` or on
    /// any of these (a transfer is a wallet's when its source or its destination is).
    pub either: Vec<F>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

impl Direction {
    pub fn reversed(self) -> Direction {
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
