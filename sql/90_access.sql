-- Who may do what. Roles (NOLOGIN; created by the migrations), for login roles to be members
-- of:
--   wallet_service  the service: reads, writes of transactions, wallet labels and metadata,
--                   holds' status; adds stored responses and keys, revokes keys. Not a
--                   balance, the journal, the revisions, a trigger, a truncate, the schema.
--   wallet_reader   reads everything but the keys' secrets' hashes: people and reports.
--   wallet_writer   wallet_reader, and writes of transactions, wallet labels and metadata,
--                   and holds (every rule holds and the journal names the user).
--   wallet_ledger   owns the functions that write balances, the journal and the revisions;
--                   nobody logs in as it.
--
-- And wallet-limited keys, by row-level security: a row is visible when wallet_api.wallets
-- is not set (or empty) or names its wallet; the same condition refuses a write that would
-- put a row outside. The policies read the setting in sub-selects, evaluated once per
-- statement (an InitPlan), not once per row.


ALTER TABLE wallets ENABLE ROW LEVEL SECURITY;
ALTER TABLE transactions ENABLE ROW LEVEL SECURITY;
ALTER TABLE balance_changes ENABLE ROW LEVEL SECURITY;
ALTER TABLE holds ENABLE ROW LEVEL SECURITY;
ALTER TABLE transfers ENABLE ROW LEVEL SECURITY;
ALTER TABLE exchanges ENABLE ROW LEVEL SECURITY;
ALTER TABLE events ENABLE ROW LEVEL SECURITY;
ALTER TABLE balance_monitors ENABLE ROW LEVEL SECURITY;
ALTER TABLE balance_buckets ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS wallets_visible ON wallets;
CREATE POLICY wallets_visible ON wallets
    USING ((SELECT wallet_api_wallets()) IS NULL OR id = ANY ((SELECT wallet_api_wallets())::bigint[]))
    WITH CHECK ((SELECT wallet_api_wallets()) IS NULL OR id = ANY ((SELECT wallet_api_wallets())::bigint[]));
DROP POLICY IF EXISTS transactions_visible ON transactions;
CREATE POLICY transactions_visible ON transactions
    USING ((SELECT wallet_api_wallets()) IS NULL OR wallet_id = ANY ((SELECT wallet_api_wallets())::bigint[]))
    WITH CHECK ((SELECT wallet_api_wallets()) IS NULL OR wallet_id = ANY ((SELECT wallet_api_wallets())::bigint[]));
DROP POLICY IF EXISTS balance_changes_visible ON balance_changes;
CREATE POLICY balance_changes_visible ON balance_changes
    USING ((SELECT wallet_api_wallets()) IS NULL OR wallet_id = ANY ((SELECT wallet_api_wallets())::bigint[]))
    WITH CHECK ((SELECT wallet_api_wallets()) IS NULL OR wallet_id = ANY ((SELECT wallet_api_wallets())::bigint[]));
DROP POLICY IF EXISTS holds_visible ON holds;
CREATE POLICY holds_visible ON holds
    USING ((SELECT wallet_api_wallets()) IS NULL OR wallet_id = ANY ((SELECT wallet_api_wallets())::bigint[]))
    WITH CHECK ((SELECT wallet_api_wallets()) IS NULL OR wallet_id = ANY ((SELECT wallet_api_wallets())::bigint[]));
DROP POLICY IF EXISTS events_visible ON events;
CREATE POLICY events_visible ON events
    USING ((SELECT wallet_api_wallets()) IS NULL OR wallet_id = ANY ((SELECT wallet_api_wallets())::bigint[]))
    WITH CHECK ((SELECT wallet_api_wallets()) IS NULL OR wallet_id = ANY ((SELECT wallet_api_wallets())::bigint[]));
DROP POLICY IF EXISTS balance_buckets_visible ON balance_buckets;
CREATE POLICY balance_buckets_visible ON balance_buckets
    USING ((SELECT wallet_api_wallets()) IS NULL OR wallet_id = ANY ((SELECT wallet_api_wallets())::bigint[]))
    WITH CHECK ((SELECT wallet_api_wallets()) IS NULL OR wallet_id = ANY ((SELECT wallet_api_wallets())::bigint[]));
DROP POLICY IF EXISTS balance_monitors_visible ON balance_monitors;
CREATE POLICY balance_monitors_visible ON balance_monitors
    USING ((SELECT wallet_api_wallets()) IS NULL OR wallet_id = ANY ((SELECT wallet_api_wallets())::bigint[]))
    WITH CHECK ((SELECT wallet_api_wallets()) IS NULL OR wallet_id = ANY ((SELECT wallet_api_wallets())::bigint[]));

-- A transfer is seen by a key limited to either of its wallets, and written only by one
-- limited to both.
DROP POLICY IF EXISTS transfers_visible ON transfers;
CREATE POLICY transfers_visible ON transfers
    USING ((SELECT wallet_api_wallets()) IS NULL
           OR source_wallet_id = ANY ((SELECT wallet_api_wallets())::bigint[])
           OR destination_wallet_id = ANY ((SELECT wallet_api_wallets())::bigint[]))
    WITH CHECK ((SELECT wallet_api_wallets()) IS NULL
                OR (source_wallet_id = ANY ((SELECT wallet_api_wallets())::bigint[])
                    AND destination_wallet_id = ANY ((SELECT wallet_api_wallets())::bigint[])));

-- An exchange likewise (its liquidity wallets are the house's: 36_exchanges.sql books them).
DROP POLICY IF EXISTS exchanges_visible ON exchanges;
CREATE POLICY exchanges_visible ON exchanges
    USING ((SELECT wallet_api_wallets()) IS NULL
           OR source_wallet_id = ANY ((SELECT wallet_api_wallets())::bigint[])
           OR destination_wallet_id = ANY ((SELECT wallet_api_wallets())::bigint[]))
    WITH CHECK ((SELECT wallet_api_wallets()) IS NULL
                OR (source_wallet_id = ANY ((SELECT wallet_api_wallets())::bigint[])
                    AND destination_wallet_id = ANY ((SELECT wallet_api_wallets())::bigint[])));


DO $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO wallet_service, wallet_reader, wallet_writer',
                   current_schema());
    EXECUTE format('GRANT USAGE, CREATE ON SCHEMA %I TO wallet_ledger', current_schema());
END;
$$;

-- The engine's role: what its functions read and write.
GRANT SELECT, UPDATE (balance, held, held_expires_at, updated_at) ON wallets TO wallet_ledger;
-- The catalogue is reference data: anyone who may write a wallet may read it.
GRANT SELECT ON currencies TO PUBLIC;
GRANT SELECT ON transactions, holds, wallet_balance_audit TO wallet_ledger;
-- A transfer's legs, and its reversals' sum.
GRANT INSERT ON transactions TO wallet_ledger;
GRANT SELECT, UPDATE (reversed_amount) ON transfers TO wallet_ledger;
-- An exchange's transfers.
GRANT INSERT ON transfers TO wallet_ledger;
-- A new transfer draws its legs' ids from the transactions' sequence.
DO $$
BEGIN
    EXECUTE format('GRANT USAGE ON SEQUENCE %s TO wallet_service, wallet_writer, wallet_ledger',
                   pg_get_serial_sequence('transactions', 'id'));
    -- A new exchange draws its transfers' ids from the transfers' sequence.
    EXECUTE format('GRANT USAGE ON SEQUENCE %s TO wallet_service, wallet_writer',
                   pg_get_serial_sequence('transfers', 'id'));
END;
$$;
GRANT SELECT, INSERT ON balance_changes TO wallet_ledger;
GRANT INSERT ON transaction_revisions, hold_revisions, wallet_revisions TO wallet_ledger;
-- Who the actor is, and whether it may set a credit limit.
GRANT SELECT (id, name, scopes) ON api_keys TO wallet_ledger;
GRANT SELECT, DELETE ON idempotency_keys TO wallet_ledger;
-- The events (55_events.sql): numbered per wallet, pruned by retention; monitors turned.
GRANT SELECT, INSERT, DELETE ON events TO wallet_ledger;
GRANT UPDATE (event_sequence, event_position) ON wallets TO wallet_ledger;
GRANT SELECT, UPDATE ON event_clock TO wallet_ledger;
GRANT SELECT, UPDATE (updated_at) ON balance_monitors TO wallet_ledger;
GRANT SELECT ON currencies TO wallet_ledger;
-- The journal folded per minute, hour and day (62_balance_history.sql).
GRANT SELECT, INSERT, UPDATE, DELETE ON balance_buckets TO wallet_ledger;
GRANT SELECT ON balance_bucket_audit TO wallet_ledger;

-- The service.
GRANT SELECT ON __diesel_schema_migrations TO wallet_service;
GRANT SELECT, INSERT, DELETE, UPDATE (label, metadata, credit_limit) ON wallets TO wallet_service;
GRANT SELECT, INSERT, DELETE, UPDATE (wallet_id, txid, amount, metadata) ON transactions TO wallet_service;
GRANT SELECT, INSERT, UPDATE (status, captured_amount, transaction_id, metadata) ON holds TO wallet_service;
GRANT SELECT, INSERT, UPDATE (metadata) ON transfers TO wallet_service;
GRANT SELECT, INSERT, UPDATE (metadata) ON exchanges TO wallet_service;
GRANT SELECT ON balance_changes, holds_now, wallet_balances, transactions_with_currency,
                balance_changes_with_currency, transfers_with_currency, exchanges_with_scale
    TO wallet_service;
GRANT SELECT, INSERT, DELETE, UPDATE (name, scale, liquidity_wallet_id) ON currencies TO wallet_service;
GRANT SELECT, INSERT ON idempotency_keys TO wallet_service;
-- The credit limit in force at a past time (wallet_credit_limit_at, for ?balanceAt).
GRANT SELECT (id, wallet_id, revised_at, old_credit_limit, new_credit_limit)
    ON wallet_revisions TO wallet_service;
GRANT SELECT, INSERT, UPDATE (revoked_at) ON api_keys TO wallet_service;
-- The feed, its clock (the horizon's offset, how far retention went) and retention itself.
GRANT SELECT ON events, events_feed, event_clock TO wallet_service;
GRANT EXECUTE ON FUNCTION events_prune(timestamptz) TO wallet_service;
GRANT SELECT, INSERT, DELETE, UPDATE (field, operator, amount, metadata) ON balance_monitors
    TO wallet_service;
GRANT SELECT ON balance_monitors_with_scale TO wallet_service;
GRANT SELECT ON balance_buckets, balance_bucket_audit TO wallet_service;

-- People and reports.
GRANT SELECT ON wallets, transactions, balance_changes, transaction_revisions, holds,
                hold_revisions, wallet_revisions, holds_now, wallet_balances, currencies,
                transactions_with_currency, balance_changes_with_currency, transfers,
                transfers_with_currency, transfer_audit, exchanges, exchanges_with_scale,
                exchange_audit, events, events_feed, event_clock, event_audit,
                balance_monitors, balance_monitors_with_scale, balance_buckets,
                balance_bucket_audit TO wallet_reader;
GRANT SELECT (id, name, prefix, scopes, wallet_ids, created_at, expires_at, revoked_at)
    ON api_keys TO wallet_reader;

GRANT wallet_reader TO wallet_writer;
GRANT INSERT, DELETE, UPDATE (label, metadata, credit_limit) ON wallets TO wallet_writer;
GRANT INSERT, DELETE, UPDATE (wallet_id, txid, amount, metadata) ON transactions TO wallet_writer;
GRANT INSERT, UPDATE (status, captured_amount, transaction_id, metadata) ON holds TO wallet_writer;
GRANT INSERT, UPDATE (metadata) ON transfers TO wallet_writer;
GRANT INSERT, UPDATE (metadata) ON exchanges TO wallet_writer;
GRANT INSERT, DELETE, UPDATE (field, operator, amount, metadata) ON balance_monitors TO wallet_writer;

-- Webhooks (57_webhooks.sql): endpoints and their deliveries, for admin keys only (the
-- service checks the scope); people read them without the signing secrets.
GRANT SELECT, INSERT, DELETE,
      UPDATE (url, event_types, wallet_ids, description, status, disabled_reason, secret,
              previous_secret, previous_secret_until, queued_position, queued_id,
              failing_since, replay_from, updated_at, metadata)
    ON webhook_endpoints TO wallet_service;
GRANT SELECT, INSERT, DELETE,
      UPDATE (status, attempts, response_status, response_body, error, latency_ms,
              next_attempt_at, last_attempt_at)
    ON webhook_deliveries TO wallet_service;
GRANT SELECT (id, url, event_types, wallet_ids, description, status, disabled_reason,
              queued_position, queued_id, failing_since, replay_from, created_at, updated_at,
              metadata)
    ON webhook_endpoints TO wallet_reader;
GRANT SELECT ON webhook_deliveries, webhook_endpoint_lag TO wallet_reader;
GRANT SELECT ON webhook_endpoint_lag TO wallet_service;
