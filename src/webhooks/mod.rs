//! Webhooks: the events feed delivered to the endpoints clients register, signed as Standard
//! Webhooks v1 prescribes (`signing`), retried on its schedule (`schedule`), never into the
//! service's own network (`address`).
//!
//! Every instance runs one deliverer (`deliver`). Each endpoint is delivered by one instance
//! at a time: the one holding its session advisory lock. A deliverer that dies takes its
//! connection and so its locks with it; another instance claims the endpoint at its next poll.
//! Progress lives in the database alone (`sql/57_webhooks.sql`): an endpoint's cursor in the
//! feed moves in the transaction that queues the events it read as pending deliveries, and a
//! delivery turns succeeded only after a 2xx. A crash, a restart of PostgreSQL or a failover
//! loses nothing; a delivery cut off between its 2xx and its record is sent again, with the
//! same `webhook-id`.

pub mod address;
pub mod deliver;
pub mod schedule;
pub mod signing;

pub use deliver::Settings;
