//! One file per resource: its error codes, its `Resource` impl (its not-found answer), its
//! `Writable` impl when clients write it (how a write is made, what its constraints mean,
//! its lock keys and, for bookings, its multi-row form), and its `routes`. Its fields,
//! relationships and inputs are its model's declaration (`models/`).

pub mod api_keys;
pub mod balance_changes;
pub mod balance_history;
pub mod balance_monitors;
pub mod currencies;
pub mod events;
pub mod exchanges;
pub mod holds;
pub mod transactions;
pub mod transfers;
pub mod wallets;
pub mod webhook_deliveries;
pub mod webhook_endpoints;
