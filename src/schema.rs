// @generated automatically by Diesel CLI.

pub mod sql_types {
    #[derive(diesel::query_builder::QueryId, Clone, diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "xid8", schema = "pg_catalog"))]
    pub struct Xid8;
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::Xid8;

    balance_changes (id) {
        id -> Int8,
        wallet_id -> Int8,
        delta -> Numeric,
        balance -> Numeric,
        operation -> Text,
        transaction_count -> Int8,
        transaction_id -> Nullable<Int8>,
        changed_at -> Timestamptz,
        database_xid -> Xid8,
        changed_by -> Text,
        application -> Text,
        repaired_from -> Nullable<Numeric>,
        actor_key_id -> Nullable<Int8>,
        actor_name -> Nullable<Text>,
        held_delta -> Numeric,
        held -> Numeric,
        hold_count -> Int8,
        hold_id -> Nullable<Int8>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Int8,
        name -> Text,
        prefix -> Text,
        secret_hash -> Bytea,
        scopes -> Array<Text>,
        wallet_ids -> Array<Int8>,
        created_at -> Timestamptz,
        expires_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    currencies (code) {
        code -> Text,
        name -> Text,
        scale -> Int2,
        kind -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        liquidity_wallet_id -> Nullable<Int8>,
    }
}

diesel::table! {
    holds (id) {
        id -> Int8,
        wallet_id -> Int8,
        amount -> Numeric,
        status -> Text,
        captured_amount -> Nullable<Numeric>,
        transaction_id -> Nullable<Int8>,
        expires_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        resolved_at -> Nullable<Timestamptz>,
        metadata -> Jsonb,
    }
}

// The view `holds_now`: every hold as it stands, a pending one past its expiry expired.
diesel::table! {
    holds_now (id) {
        id -> Int8,
        wallet_id -> Int8,
        amount -> Numeric,
        status -> Text,
        captured_amount -> Nullable<Numeric>,
        transaction_id -> Nullable<Int8>,
        expires_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        resolved_at -> Nullable<Timestamptz>,
        metadata -> Jsonb,
        currency -> Text,
        scale -> Int2,
    }
}

diesel::table! {
    idempotency_keys (api_key_id, key) {
        key -> Text,
        fingerprint -> Bytea,
        request -> Text,
        status -> Int2,
        content_type -> Text,
        headers -> Jsonb,
        body -> Text,
        created_at -> Timestamptz,
        api_key_id -> Int8,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    transactions (id) {
        id -> Int8,
        wallet_id -> Int8,
        txid -> Text,
        amount -> Numeric,
        created_at -> Timestamptz,
        metadata -> Jsonb,
        transfer_id -> Nullable<Int8>,
    }
}

diesel::table! {
    transfers (id) {
        id -> Int8,
        txid -> Text,
        source_wallet_id -> Int8,
        destination_wallet_id -> Int8,
        amount -> Numeric,
        reverses_id -> Nullable<Int8>,
        reversed_amount -> Numeric,
        debit_id -> Int8,
        credit_id -> Int8,
        created_at -> Timestamptz,
        metadata -> Jsonb,
        exchange_id -> Nullable<Int8>,
    }
}

diesel::table! {
    wallets (id) {
        id -> Int8,
        label -> Text,
        balance -> Numeric,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        held -> Numeric,
        held_expires_at -> Nullable<Timestamptz>,
        metadata -> Jsonb,
        currency -> Text,
        scale -> Int2,
        credit_limit -> Numeric,
        event_sequence -> Int8,
        event_position -> Int8,
    }
}

diesel::table! {
    balance_monitors (id) {
        id -> Int8,
        wallet_id -> Int8,
        field -> Text,
        operator -> Text,
        amount -> Numeric,
        state -> Text,
        triggered_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        metadata -> Jsonb,
        turns_when -> Text,
    }
}

// The view `balance_monitors_with_scale`: every monitor with its wallet's scale and currency.
diesel::table! {
    balance_monitors_with_scale (id) {
        id -> Int8,
        wallet_id -> Int8,
        field -> Text,
        operator -> Text,
        amount -> Numeric,
        state -> Text,
        triggered_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        metadata -> Jsonb,
        scale -> Int2,
        currency -> Text,
    }
}

// The view `events_feed`: the events below the feed's horizon (sql/55_events.sql).
diesel::table! {
    events_feed (id) {
        id -> Int8,
        position -> Int8,
        wallet_id -> Int8,
        wallet_sequence -> Int8,
        event_type -> Text,
        subject_type -> Text,
        subject_id -> Int8,
        data -> Jsonb,
        occurred_at -> Timestamptz,
        origin -> Text,
        actor_key_id -> Nullable<Int8>,
        actor_name -> Nullable<Text>,
        transaction_id -> Nullable<Int8>,
        hold_id -> Nullable<Int8>,
        transfer_id -> Nullable<Int8>,
        exchange_id -> Nullable<Int8>,
        balance_change_id -> Nullable<Int8>,
        monitor_id -> Nullable<Int8>,
    }
}

// The view `transactions_with_currency`: every transaction with its wallet's currency and
// scale.
diesel::table! {
    transactions_with_currency (id) {
        id -> Int8,
        wallet_id -> Int8,
        txid -> Text,
        amount -> Numeric,
        created_at -> Timestamptz,
        metadata -> Jsonb,
        currency -> Text,
        scale -> Int2,
        transfer_id -> Nullable<Int8>,
    }
}

// The view `transfers_with_currency`: every transfer with its wallets' currency and scale.
diesel::table! {
    transfers_with_currency (id) {
        id -> Int8,
        txid -> Text,
        source_wallet_id -> Int8,
        destination_wallet_id -> Int8,
        amount -> Numeric,
        reverses_id -> Nullable<Int8>,
        reversed_amount -> Numeric,
        debit_id -> Int8,
        credit_id -> Int8,
        created_at -> Timestamptz,
        metadata -> Jsonb,
        currency -> Text,
        scale -> Int2,
        exchange_id -> Nullable<Int8>,
    }
}

diesel::table! {
    exchanges (id) {
        id -> Int8,
        txid -> Text,
        source_wallet_id -> Int8,
        destination_wallet_id -> Int8,
        source_amount -> Numeric,
        destination_amount -> Numeric,
        rate -> Numeric,
        source_currency -> Text,
        destination_currency -> Text,
        source_liquidity_wallet_id -> Int8,
        destination_liquidity_wallet_id -> Int8,
        source_transfer_id -> Int8,
        destination_transfer_id -> Int8,
        created_at -> Timestamptz,
        metadata -> Jsonb,
    }
}

// The view `exchanges_with_scale`: every exchange with its currencies' scales and its two
// transfers.
diesel::table! {
    exchanges_with_scale (id) {
        id -> Int8,
        txid -> Text,
        source_wallet_id -> Int8,
        destination_wallet_id -> Int8,
        source_amount -> Numeric,
        destination_amount -> Numeric,
        rate -> Numeric,
        source_currency -> Text,
        destination_currency -> Text,
        source_liquidity_wallet_id -> Int8,
        destination_liquidity_wallet_id -> Int8,
        transfer_ids -> Array<Int8>,
        created_at -> Timestamptz,
        metadata -> Jsonb,
        source_scale -> Int2,
        destination_scale -> Int2,
    }
}

// The view `balance_changes_with_currency`: every journal row with its wallet's currency and
// scale.
diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::Xid8;

    balance_changes_with_currency (id) {
        id -> Int8,
        wallet_id -> Int8,
        delta -> Numeric,
        balance -> Numeric,
        operation -> Text,
        transaction_count -> Int8,
        transaction_id -> Nullable<Int8>,
        changed_at -> Timestamptz,
        database_xid -> Xid8,
        changed_by -> Text,
        application -> Text,
        repaired_from -> Nullable<Numeric>,
        actor_key_id -> Nullable<Int8>,
        actor_name -> Nullable<Text>,
        held_delta -> Numeric,
        held -> Numeric,
        hold_count -> Int8,
        hold_id -> Nullable<Int8>,
        currency -> Text,
        scale -> Int2,
    }
}

diesel::joinable!(balance_changes -> api_keys (actor_key_id));
diesel::joinable!(balance_changes -> wallets (wallet_id));
diesel::joinable!(holds -> wallets (wallet_id));
diesel::joinable!(transactions -> wallets (wallet_id));

diesel::joinable!(wallets -> currencies (currency));

diesel::allow_tables_to_appear_in_same_query!(
    balance_monitors,
    balance_monitors_with_scale,
    events_feed,
    exchanges,
    exchanges_with_scale,
    api_keys,
    balance_changes,
    balance_changes_with_currency,
    currencies,
    holds,
    holds_now,
    idempotency_keys,
    transactions,
    transactions_with_currency,
    transfers,
    transfers_with_currency,
    wallets,
    webhook_deliveries,
    webhook_endpoints,
);

diesel::table! {
    webhook_endpoints (id) {
        id -> Int8,
        url -> Text,
        event_types -> Array<Text>,
        wallet_ids -> Array<Int8>,
        description -> Text,
        status -> Text,
        disabled_reason -> Nullable<Text>,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_until -> Nullable<Timestamptz>,
        queued_position -> Int8,
        queued_id -> Int8,
        failing_since -> Nullable<Timestamptz>,
        replay_from -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        metadata -> Jsonb,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Int8,
        endpoint_id -> Int8,
        event_id -> Int8,
        wallet_id -> Int8,
        event_type -> Text,
        status -> Text,
        attempts -> Int8,
        response_status -> Nullable<Int8>,
        response_body -> Nullable<Text>,
        error -> Nullable<Text>,
        latency_ms -> Nullable<Int8>,
        next_attempt_at -> Nullable<Timestamptz>,
        last_attempt_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}
