-- Webhooks: endpoints that receive the events feed (sql/57_webhooks.sql), and the log of
-- every delivery to them.
--
-- An endpoint reads the feed with a cursor of its own, (queued_position, queued_id): the
-- events up to it are queued as pending deliveries, in the transaction that moves it. A
-- delivery turns succeeded only after the endpoint answered 2xx, so nothing between the feed
-- and the endpoint is held in memory alone.

CREATE TABLE webhook_endpoints (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url text NOT NULL CONSTRAINT webhook_endpoints_url_length CHECK (length(url) <= 2048),
    -- The event types it wants; empty: all.
    event_types text[] NOT NULL DEFAULT '{}',
    -- The wallets whose events it wants; empty: every wallet's.
    wallet_ids bigint[] NOT NULL DEFAULT '{}',
    description text NOT NULL DEFAULT ''
        CONSTRAINT webhook_endpoints_description_length CHECK (length(description) <= 1000),
    status text NOT NULL DEFAULT 'enabled'
        CONSTRAINT webhook_endpoints_status_known CHECK (status IN ('enabled', 'disabled')),
    disabled_reason text,
    -- The signing secret (whsec_ and base64), and the one it replaced while both sign.
    secret text NOT NULL,
    previous_secret text,
    previous_secret_until timestamptz,
    -- Where its cursor stands in the feed (position, id): every event up to it is queued.
    queued_position bigint NOT NULL,
    queued_id bigint NOT NULL,
    -- Since when every attempt failed (null after a success): past a limit, it is disabled.
    failing_since timestamptz,
    -- The last replay asked (an RFC 3339 time or an event id), if any.
    replay_from text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    metadata jsonb NOT NULL DEFAULT '{}'
);

CREATE INDEX webhook_endpoints_metadata_idx ON webhook_endpoints USING gin (metadata);

COMMENT ON TABLE webhook_endpoints IS
    'Where the events feed is delivered; each endpoint reads the feed with its own cursor (queued_position, queued_id).';

CREATE TABLE webhook_deliveries (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    endpoint_id bigint NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id bigint NOT NULL,
    wallet_id bigint NOT NULL,
    event_type text NOT NULL,
    status text NOT NULL DEFAULT 'pending'
        CONSTRAINT webhook_deliveries_status_known CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts bigint NOT NULL DEFAULT 0,
    response_status bigint,
    response_body text,
    -- What went wrong short of a response (a timeout, a refused connection, a refused address).
    error text,
    latency_ms bigint,
    next_attempt_at timestamptz,
    last_attempt_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE webhook_deliveries IS
    'One row per event queued for an endpoint: pending until a 2xx (succeeded) or the retry schedule is spent (failed).';

-- The heads of each wallet's queue for an endpoint: its pending deliveries, in feed order.
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (endpoint_id, wallet_id, id)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_of_endpoint ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_of_event ON webhook_deliveries (event_id);
CREATE INDEX webhook_deliveries_created_at ON webhook_deliveries (created_at);
