//! Test support, one module per concern: a fresh database per test, copied from a migrated
//! template (`db`); SQL as a psql user writes it (`sql`); the service started on its own
//! database with a client that checks every response (`http`); the JSON:API schema checks
//! and the documents tests send (`documents`); named case tables for refusal tests (`cases`).
//!
//! Needs `DATABASE_URL` (set by `make test`) naming a database on a server where the user
//! may create databases. Every test database is audited when the test ends: a test whose
//! balances do not add up fails even if its own assertions passed.

mod cases;
mod db;
mod documents;
mod http;
mod sql;

pub use cases::each;
pub use db::{TestDb, with_user};
pub use documents::{ATOMIC, ATOMIC_URI, JSONAPI, transaction_document};
pub use http::{As, Reply, RowLock, TestApp, booked_together, create_key};
pub use sql::{all_at_once, balance, book, exec, exec_err, scalar, wallet, wallets};
