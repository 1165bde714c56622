//! wallet-api: wallets and their transactions behind a JSON:API interface, with PostgreSQL
//! keeping every balance.

pub mod api;
pub mod config;
pub mod db;
pub mod docs;
pub mod domain;
pub mod jsonapi;
pub mod keys;
pub mod metrics;
pub mod models;
pub mod parse;
pub mod schema;
pub mod startup;
pub mod trace;
pub mod version;
pub mod webhooks;
