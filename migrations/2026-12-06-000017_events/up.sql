-- Events: a record of every change, written by the database in the transaction that makes
-- it (sql/55_events.sql), read as a gap-free feed (GET /events), and balance monitors, whose
-- crossings are events too.
--
-- Each wallet numbers its events (wallets.event_sequence, no gaps) and remembers the feed
-- position of its last one (wallets.event_position): a writer bumps both while it holds the
-- wallet's row lock, so a wallet's events are numbered in the order its changes commit, and
-- each event's position is at least its predecessor's.

CREATE TABLE events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The feed's order is (position, id); see events_position() in sql/55_events.sql.
    position bigint NOT NULL,
    wallet_id bigint NOT NULL,
    wallet_sequence bigint NOT NULL,
    event_type text NOT NULL
        CONSTRAINT events_type_format CHECK (event_type ~ '^[a-z]+\.[a-z]+$'),
    -- What changed: its JSON:API type and id, and how the API renders it after the change.
    subject_type text NOT NULL,
    subject_id bigint NOT NULL,
    data jsonb NOT NULL,
    occurred_at timestamptz NOT NULL,
    database_xid xid8 NOT NULL,
    origin text NOT NULL CONSTRAINT events_origin_known CHECK (origin IN ('api', 'sql')),
    changed_by text NOT NULL,
    actor_key_id bigint,
    actor_name text
);

COMMENT ON TABLE events IS
    'Append-only record of every change (wallets, transactions, holds, transfers, exchanges, balances, monitors), written by triggers; read in (position, id) order below events_horizon().';

CREATE UNIQUE INDEX events_feed_order ON events (position, id);
CREATE UNIQUE INDEX events_wallet_sequence ON events (wallet_id, wallet_sequence);
CREATE INDEX events_occurred_at ON events (occurred_at);

ALTER TABLE wallets
    ADD COLUMN event_sequence bigint NOT NULL DEFAULT 0,
    ADD COLUMN event_position bigint NOT NULL DEFAULT 0;

COMMENT ON COLUMN wallets.event_sequence IS 'The walletSequence of the wallet''s last event.';
COMMENT ON COLUMN wallets.event_position IS 'The feed position of the wallet''s last event: the next is at or after it.';

-- The feed's clock: an offset added to transaction ids, raised when the database was
-- restored into a cluster whose transaction ids are lower (events_rebase), and how far
-- retention has pruned the feed.
CREATE TABLE event_clock (
    only_row boolean PRIMARY KEY DEFAULT true CONSTRAINT event_clock_one_row CHECK (only_row),
    xid_offset bigint NOT NULL DEFAULT 0,
    pruned_position bigint NOT NULL DEFAULT 0,
    pruned_id bigint NOT NULL DEFAULT 0
);
INSERT INTO event_clock DEFAULT VALUES;

COMMENT ON TABLE event_clock IS
    'One row: the offset of feed positions over transaction ids, and the last (position, id) retention removed.';

-- What a trigger hands events_emit: one event to write, before it is numbered and placed.
CREATE TYPE event_draft AS (wallet_id bigint, event_type text, subject_type text,
                            subject_id bigint, data jsonb);

CREATE TABLE balance_monitors (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    wallet_id bigint NOT NULL
        CONSTRAINT balance_monitors_wallet_id_fkey REFERENCES wallets (id) ON DELETE CASCADE,
    field text NOT NULL CONSTRAINT balance_monitors_field_known CHECK (field IN ('balance', 'available')),
    operator text NOT NULL
        CONSTRAINT balance_monitors_operator_known CHECK (operator IN ('lt', 'lte', 'gt', 'gte')),
    amount numeric(36, 18) NOT NULL,
    state text NOT NULL DEFAULT 'clear'
        CONSTRAINT balance_monitors_state_known CHECK (state IN ('clear', 'triggered')),
    triggered_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    metadata jsonb NOT NULL DEFAULT '{}'
        CONSTRAINT balance_monitors_metadata_valid CHECK (metadata_valid(metadata))
);

COMMENT ON TABLE balance_monitors IS
    'A condition on a wallet''s balance or available amount, evaluated by the database at every change of the wallet; its crossings are monitor.triggered and monitor.cleared events.';

CREATE INDEX balance_monitors_wallet ON balance_monitors (wallet_id, id);
