//! The integration tests, one binary: each test gets a database of its own (copied from a
//! migrated template) and, for the HTTP tests, the service started on it; every database is
//! audited when its test ends.
//!
//! Needs `DATABASE_URL` (set by `make test`).

mod helpers;

mod access;
mod balance_history;

mod cli;
mod coalescing;
mod collections;
mod console;
mod contract;
mod credit;
mod currencies;
mod docs;
mod events;
mod exchanges;
mod fuzz;
mod holds;
mod idempotency;
mod journal;
mod journal_api;
mod ledger_sql;
mod limits;
mod metadata;
mod operations;
mod operator;
mod protocol;
mod schema;
mod security;
mod standby;
mod transactions;
mod transfers;
mod upgrade;
mod wallets;
mod webhooks;
