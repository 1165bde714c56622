//! The resources as database rows, with the queries that read and write them; each model
//! declares its fields once ([`declare::resource`]).

pub mod api_key;
pub mod balance_bucket;
pub mod balance_change;
pub mod currency;
pub mod declare;
pub mod event;
pub mod exchange;
pub mod fields;
pub mod hold;
pub mod idempotency_key;
pub mod keyset;
pub mod metadata;
pub mod monitor;
pub mod query;
pub mod transaction;
pub mod transfer;
pub mod wallet;
pub mod webhook_delivery;
pub mod webhook_endpoint;

pub use api_key::{ApiKey, ApiKeyChanges, ApiKeyField, NewApiKey};
pub use balance_change::{BalanceChange, BalanceChangeField};
pub use currency::{Currency, CurrencyChanges, CurrencyField, NewCurrency};
pub use event::{Event, EventField};
pub use exchange::{Exchange, ExchangeChanges, ExchangeField, NewExchange};
pub use fields::{Inputs, Model, Record};
pub use hold::{Hold, HoldChanges, HoldField, NewHold};
pub use monitor::{BalanceMonitor, BalanceMonitorChanges, BalanceMonitorField, NewBalanceMonitor};
pub use transaction::{NewTransaction, Transaction, TransactionChanges, TransactionField};
pub use transfer::{NewTransfer, Transfer, TransferChanges, TransferField};
pub use wallet::{NewWallet, Wallet, WalletChanges, WalletField};
pub use webhook_delivery::{WebhookDelivery, WebhookDeliveryField};
pub use webhook_endpoint::{
    NewWebhookEndpoint, WebhookEndpoint, WebhookEndpointChanges, WebhookEndpointField,
};
