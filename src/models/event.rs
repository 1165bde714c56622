//! Events: every change, written by the database's triggers in the transaction that makes it
//! (`sql/55_events.sql`), read-only here, from the view `events_feed`: only the events below
//! the feed's horizon, every one of them final, in (position, id) order.

use chrono::{DateTime, Utc};
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;

use super::declare::resource;
use crate::schema::events_feed;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = events_feed, check_for_backend(Pg))]
pub struct Event {
    pub id: i64,
    pub position: i64,
    pub wallet_id: i64,
    pub wallet_sequence: i64,
    pub event_type: String,
    pub data: serde_json::Value,
    pub occurred_at: DateTime<Utc>,
    pub origin: String,
    pub actor_key_id: Option<i64>,
    pub actor_name: Option<String>,
    pub transaction_id: Option<i64>,
    pub hold_id: Option<i64>,
    pub transfer_id: Option<i64>,
    pub exchange_id: Option<i64>,
    pub balance_change_id: Option<i64>,
    pub monitor_id: Option<i64>,
}

/// The event type names.
pub const EVENT_TYPE_NAMES: &[&str] = &[
    "wallet.created",
    "wallet.updated",
    "wallet.deleted",
    "transaction.created",
    "transaction.updated",
    "transaction.deleted",
    "balance.changed",
    "hold.created",
    "hold.captured",
    "hold.voided",
    "hold.expired",
    "hold.updated",
    "hold.deleted",
    "transfer.created",
    "transfer.updated",
    "exchange.created",
    "exchange.updated",
    "monitor.triggered",
    "monitor.cleared",
];

/// Who made a change: the service (`api`) or anyone else (`sql`).
pub const ORIGINS: &[&str] = &["api", "sql"];

resource! {
    /// The fields of an event.
    Event in events_feed as "events", fields EventField {
        Id "id": id, id, read, sort, filter cmp,
            "The event's id: unique, but not the feed's order (see position).";
        Position "position": position, count, read, sort, filter cmp,
            "Where it is in the feed: events come in (position, id) order. A wallet's events \
             are in walletSequence order in it.";
        EventType "eventType": event_type, choice(EVENT_TYPE_NAMES), read, nosort, filter eq,
            "What happened (see the list of event types).";
        WalletSequence "walletSequence": wallet_sequence, count, read, nosort, filter none,
            "Its number among its wallet's events: 1, 2, 3, ... with no gap, in the order the \
             wallet's changes committed.";
        OccurredAt "occurredAt": occurred_at, time, read, nosort, filter cmp,
            "When it was written (its wallet locked).";
        Data "data": data, json, read, nosort, filter none,
            "The subject as the API renders it after the change (type, id, attributes, \
             relationships); for balance.changed, the journal entry with the wallet's \
             available amount.";
        Origin "origin": origin, choice(ORIGINS), read, nosort, filter eq,
            "api: made through this service; sql: made in SQL by anyone else.";
        ActorName "actorName": actor_name, opt_text, read, nosort, filter none,
            "The name of the API key it was made for; null for SQL or with authentication off.";
        Wallet "wallet": wallet_id, to_one("wallets"), read, nosort, filter cmp,
            "The wallet it belongs to (a transfer's or an exchange's events: one for each of \
             its wallets).";
        Actor "actor": actor_key_id, opt_to_one("api-keys"), read, nosort, filter none,
            "The API key it was made for.";
        Transaction "transaction": transaction_id, opt_to_one("transactions"), read, nosort, filter none,
            "The subject, when a transaction.";
        Hold "hold": hold_id, opt_to_one("holds"), read, nosort, filter none,
            "The subject, when a hold.";
        Transfer "transfer": transfer_id, opt_to_one("transfers"), read, nosort, filter none,
            "The subject, when a transfer.";
        Exchange "exchange": exchange_id, opt_to_one("exchanges"), read, nosort, filter none,
            "The subject, when an exchange.";
        BalanceChange "balanceChange": balance_change_id, opt_to_one("balance-changes"), read, nosort, filter none,
            "The subject of balance.changed: the journal entry.";
        Monitor "monitor": monitor_id, opt_to_one("balance-monitors"), read, nosort, filter none,
            "The subject of monitor.triggered and monitor.cleared.";
    }
    feed "position";
}

/// Where the feed stands now.
#[derive(Debug, Clone, PartialEq, QueryableByName)]
pub struct FeedState {
    /// The horizon: events at or above it are not served yet.
    #[diesel(sql_type = diesel::sql_types::Int8)]
    pub horizon: i64,
    /// How long the oldest event not served yet has waited (seconds), if there is one.
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Double>)]
    pub lag_seconds: Option<f64>,
    /// How far retention went: a cursor at or before it is expired.
    #[diesel(sql_type = diesel::sql_types::Int8)]
    pub pruned_position: i64,
    #[diesel(sql_type = diesel::sql_types::Int8)]
    pub pruned_id: i64,
}

/// The feed's horizon, its lag, and how far retention went.
pub fn feed_state(conn: &mut PgConnection) -> QueryResult<FeedState> {
    diesel::sql_query(
        "SELECT h.horizon, \
                (SELECT extract(epoch FROM clock_timestamp() - e.occurred_at)::float8 \
                 FROM events AS e WHERE e.position >= h.horizon \
                 ORDER BY e.position, e.id LIMIT 1) AS lag_seconds, \
                c.pruned_position, c.pruned_id \
         FROM (SELECT events_horizon() AS horizon) AS h, event_clock AS c",
    )
    .get_result(conn)
}

diesel::define_sql_function! {
    /// `events_prune(before)`: removes the events older than `before` from the front of the
    /// feed; returns how many.
    fn events_prune(before: diesel::sql_types::Timestamptz) -> diesel::sql_types::Int8;
}

/// Retention: removes the events that occurred before `before`.
pub fn prune(conn: &mut PgConnection, before: DateTime<Utc>) -> QueryResult<i64> {
    diesel::select(events_prune(before)).get_result(conn)
}

/// Every row of the `event_audit` view: wallets whose events are not numbered without a gap.
pub fn audit_events(conn: &mut PgConnection) -> QueryResult<Vec<i64>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Int8)]
        wallet_id: i64,
    }
    let rows: Vec<Row> =
        diesel::sql_query("SELECT wallet_id FROM event_audit ORDER BY wallet_id").load(conn)?;
    Ok(rows.into_iter().map(|row| row.wallet_id).collect())
}
