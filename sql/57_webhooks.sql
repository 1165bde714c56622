-- Webhooks: each endpoint reads the events feed (55_events.sql) with a cursor of its own and
-- queues what it wants as pending deliveries, in the transaction that moves the cursor; the
-- service sends them and marks them succeeded only after a 2xx.
--
--  * webhook_queue(endpoint, most) reads at most `most` events after the endpoint's cursor
--    (only events below the feed's horizon: none is missed when transactions commit out of
--    order), queues those of its types and wallets, and moves the cursor past every event it
--    read, queued or not: a poll costs at most `most` rows however rarely the endpoint's
--    types occur. A disabled endpoint queues nothing; its cursor waits where it stopped, and
--    re-enabled, it goes on from there (while retention keeps the events).
--  * webhook_replay(endpoint, at, event) puts the cursor back before the first event that
--    occurred at or after `at`, or before event `event`: those events are queued again (a
--    receiver drops the ones it had by their webhook-id, the event's id).
--  * Each wallet's deliveries to an endpoint go in feed order: only the oldest pending one of
--    a wallet (its head) is sent (webhook_deliveries_pending), so a failing event holds back
--    its own wallet's later events, never another wallet's.


-- The key of an endpoint's session advisory lock: the instance holding it delivers it.
CREATE OR REPLACE FUNCTION webhook_lock(endpoint bigint)
RETURNS bigint
LANGUAGE sql
IMMUTABLE
AS $$
    SELECT hashtextextended('wallet-api webhook-endpoint', endpoint)
$$;

COMMENT ON FUNCTION webhook_lock(bigint) IS
    'The key of the session advisory lock an instance holds while it delivers the endpoint.';


-- Whether an endpoint wants an event: its types (none: all) and its wallets (none: all).
-- One expression, inlined where it is used (webhook_queue, webhook_endpoint_lag).
CREATE OR REPLACE FUNCTION webhook_wants(event_types text[], wallet_ids bigint[], event_type text, wallet_id bigint)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
AS $$
    SELECT (cardinality(event_types) = 0 OR event_type = ANY (event_types))
       AND (cardinality(wallet_ids) = 0 OR wallet_id = ANY (wallet_ids))
$$;


CREATE OR REPLACE FUNCTION webhook_queue(endpoint bigint, most integer)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    e webhook_endpoints;
    read_position bigint;
    read_id bigint;
    read_count integer;
BEGIN
    SELECT * INTO e FROM webhook_endpoints WHERE id = endpoint AND status = 'enabled' FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    WITH next AS (
        SELECT f.id, f.position, f.wallet_id, f.event_type
        FROM events_feed AS f
        WHERE (f.position, f.id) > (e.queued_position, e.queued_id)
        ORDER BY f.position, f.id
        LIMIT most
    ), queued AS (
        INSERT INTO webhook_deliveries (endpoint_id, event_id, wallet_id, event_type, next_attempt_at)
        SELECT endpoint, n.id, n.wallet_id, n.event_type, clock_timestamp()
        FROM next AS n
        WHERE webhook_wants(e.event_types, e.wallet_ids, n.event_type, n.wallet_id)
        ORDER BY n.position, n.id
        RETURNING 1
    ), last AS (
        SELECT n.position, n.id FROM next AS n ORDER BY n.position DESC, n.id DESC LIMIT 1
    )
    SELECT (SELECT count(*) FROM next), l.position, l.id
    INTO read_count, read_position, read_id
    FROM (SELECT count(*) FROM queued) AS q(n) LEFT JOIN last AS l ON true;
    IF read_count > 0 THEN
        UPDATE webhook_endpoints
        SET queued_position = read_position, queued_id = read_id
        WHERE id = endpoint;
    END IF;
    RETURN read_count;
END;
$$;

COMMENT ON FUNCTION webhook_queue(bigint, integer) IS
    'Reads at most `most` events of the feed after the endpoint''s cursor, queues those it wants as pending deliveries and moves the cursor past all it read; returns how many it read.';


-- Where a new endpoint's cursor starts: after every event served so far, so it receives
-- what happens from its creation on.
CREATE OR REPLACE FUNCTION webhook_endpoints_start()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    NEW.queued_position := events_horizon() - 1;
    NEW.queued_id := 9223372036854775807;
    RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS webhook_endpoints_start ON webhook_endpoints;
CREATE TRIGGER webhook_endpoints_start
    BEFORE INSERT ON webhook_endpoints
    FOR EACH ROW EXECUTE FUNCTION webhook_endpoints_start();


CREATE OR REPLACE FUNCTION webhook_replay(endpoint bigint, at timestamptz, event bigint)
RETURNS boolean
LANGUAGE plpgsql
AS $$
DECLARE
    start_position bigint;
    start_id bigint;
BEGIN
    IF event IS NOT NULL THEN
        SELECT f.position, f.id INTO start_position, start_id FROM events_feed AS f WHERE f.id = event;
    ELSE
        SELECT f.position, f.id INTO start_position, start_id
        FROM events_feed AS f
        WHERE f.occurred_at >= at
        ORDER BY f.position, f.id
        LIMIT 1;
        IF NOT FOUND THEN
            -- Nothing occurred since: the cursor goes to the end of the feed.
            start_position := events_horizon();
            start_id := 1;
        END IF;
    END IF;
    IF start_position IS NULL THEN
        RETURN false;
    END IF;
    UPDATE webhook_endpoints
    SET queued_position = start_position, queued_id = start_id - 1
    WHERE id = endpoint;
    RETURN true;
END;
$$;

COMMENT ON FUNCTION webhook_replay(bigint, timestamptz, bigint) IS
    'Puts the endpoint''s cursor before event `event`, or before the first event that occurred at or after `at`; false when there is no such event.';


-- How far each enabled endpoint trails: the age of the oldest event it has not been
-- delivered yet (pending, or not read from the feed yet); 0 when it is caught up.
CREATE OR REPLACE VIEW webhook_endpoint_lag AS
    SELECT e.id AS endpoint_id,
           coalesce(extract(epoch FROM clock_timestamp() - least(
               (SELECT min(ev.occurred_at)
                FROM webhook_deliveries AS d JOIN events AS ev ON ev.id = d.event_id
                WHERE d.endpoint_id = e.id AND d.status = 'pending'),
               (SELECT f.occurred_at
                FROM events_feed AS f
                WHERE (f.position, f.id) > (e.queued_position, e.queued_id)
                  AND webhook_wants(e.event_types, e.wallet_ids, f.event_type, f.wallet_id)
                ORDER BY f.position, f.id
                LIMIT 1))), 0)::float8 AS lag_seconds
    FROM webhook_endpoints AS e
    WHERE e.status = 'enabled';

COMMENT ON VIEW webhook_endpoint_lag IS
    'Each enabled endpoint''s lag: the age in seconds of the oldest event not delivered to it yet (0: caught up).';
