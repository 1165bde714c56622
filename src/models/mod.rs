//! The resources as database rows, with the queries that read and write them.

pub mod balance_change;
pub mod idempotency_key;
pub mod listing;
pub mod transaction;
pub mod wallet;

pub use balance_change::{BalanceChange, BalanceChangeField};
pub use listing::{Listable, Record};
pub use transaction::{NewTransaction, Transaction, TransactionChanges, TransactionField};
pub use wallet::{Wallet, WalletField};
