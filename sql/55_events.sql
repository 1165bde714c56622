-- Events: every change, written by triggers in the transaction that makes it, whoever makes
-- it (this service, psql, a batch job; bulk statements and TRUNCATE included), and read as a
-- feed that never skips or repeats one (GET /events).
--
--  * One event per changed row of wallets, transactions, holds, transfers and exchanges
--    (a transfer's or an exchange's for each of its two wallets), one balance.changed per
--    journal row (one per wallet per statement: a million-row statement is summarised there,
--    its rows' own events are all written), and monitor.triggered / monitor.cleared when a
--    balance monitor's condition starts or stops holding.
--  * Every event belongs to one wallet and is numbered in it (wallet_sequence, no gaps): the
--    writer reads the wallet's last number from its events while it holds the wallet's row
--    lock, so a wallet's events are numbered in the order its changes commit.
--  * The feed's order is (position, id). position is the writing transaction's id (plus
--    event_clock.xid_offset), raised to the wallet's previous event's position when that is
--    higher: a wallet's events are in sequence order in the feed
--    even when a transaction that started earlier (a lower id) commits after a later one.
--  * Readers see only events below events_horizon(), the oldest transaction id still running:
--    every event below it is committed (or rolled back) and every event written from now on
--    is at or above it. So a reader that pages by (position, id) never misses an event that
--    commits late, and never sees one twice; a long transaction delays the feed, and loses
--    nothing.
--  * A logical dump restored into another cluster carries positions above that cluster's
--    transaction ids: events_rebase() (run by `wallet-api migrate`) raises the offset above
--    every stored position, so nothing stays hidden and new events still come after.
--  * Events are append-only; retention (events_prune) removes the oldest and remembers how
--    far it went, so that a cursor before that is answered 410 (cursor-expired).


-- Where a new event of this transaction goes in the feed, at the least.
CREATE OR REPLACE FUNCTION events_position()
RETURNS bigint
LANGUAGE sql
VOLATILE
AS $$
    SELECT pg_current_xact_id()::text::bigint + (SELECT xid_offset FROM event_clock)
$$;

COMMENT ON FUNCTION events_position() IS
    'The feed position of this transaction: its id plus event_clock.xid_offset.';

-- Below it, every event is committed or gone: the oldest transaction still running.
CREATE OR REPLACE FUNCTION events_horizon()
RETURNS bigint
LANGUAGE sql
STABLE
AS $$
    SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint
           + (SELECT xid_offset FROM event_clock)
$$;

COMMENT ON FUNCTION events_horizon() IS
    'The feed''s horizon: the oldest transaction id still running, plus event_clock.xid_offset. Events below it are final.';


-- Who and how: 'api' for the service's own sessions, 'sql' for everyone else. (No settings
-- of its own: inlined into the statements that write events.)
CREATE OR REPLACE FUNCTION events_origin()
RETURNS text
LANGUAGE sql
STABLE
AS $$
    SELECT CASE WHEN current_setting('application_name') LIKE 'wallet-api%'
                     AND pg_has_role(session_user, 'wallet_service', 'MEMBER')
                THEN 'api' ELSE 'sql' END
$$;


-- How an event's data is written: the subject as the API renders it. STABLE (to_char is),
-- one expression each, no settings: the planner inlines them into the trigger's query.
CREATE OR REPLACE FUNCTION event_money(amount numeric, scale integer)
RETURNS text
LANGUAGE sql
STABLE
AS $$
    SELECT round(amount, scale)::text
$$;

CREATE OR REPLACE FUNCTION event_time(at timestamptz)
RETURNS text
LANGUAGE sql
STABLE
AS $$
    SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

CREATE OR REPLACE FUNCTION event_link(type text, id bigint)
RETURNS jsonb
LANGUAGE sql
STABLE
AS $$
    SELECT jsonb_build_object('data', CASE WHEN id IS NULL THEN NULL
                                           ELSE jsonb_build_object('type', type, 'id', id::text) END)
$$;

CREATE OR REPLACE FUNCTION event_resource(type text, id bigint, attributes jsonb, relationships jsonb)
RETURNS jsonb
LANGUAGE sql
STABLE
AS $$
    SELECT jsonb_build_object('type', type, 'id', id::text, 'attributes', attributes,
                              'relationships', relationships)
$$;

CREATE OR REPLACE FUNCTION event_wallet_data(w wallets)
RETURNS jsonb
LANGUAGE sql
STABLE
AS $$
    SELECT event_resource('wallets', w.id, jsonb_build_object(
        'label', w.label,
        'currency', w.currency,
        'balance', event_money(w.balance, w.scale),
        'held', event_money(wallet_held_now(w.id, w.held, w.held_expires_at), w.scale),
        'available', event_money(wallet_available_now(w.id, w.balance, w.held, w.held_expires_at,
                                                      w.credit_limit), w.scale),
        'creditLimit', event_money(w.credit_limit, w.scale),
        'metadata', w.metadata,
        'createdAt', event_time(w.created_at),
        'updatedAt', event_time(w.updated_at)), '{}'::jsonb)
$$;

CREATE OR REPLACE FUNCTION event_transaction_data(t transactions, currency text, scale integer)
RETURNS jsonb
LANGUAGE sql
STABLE
AS $$
    SELECT event_resource('transactions', t.id, jsonb_build_object(
        'txid', t.txid,
        'amount', event_money(t.amount, scale),
        'currency', currency,
        'createdAt', event_time(t.created_at),
        'metadata', t.metadata), jsonb_build_object(
        'wallet', event_link('wallets', t.wallet_id),
        'transfer', event_link('transfers', t.transfer_id)))
$$;

CREATE OR REPLACE FUNCTION event_hold_data(h holds, currency text, scale integer)
RETURNS jsonb
LANGUAGE sql
STABLE
AS $$
    SELECT event_resource('holds', h.id, jsonb_build_object(
        'amount', event_money(h.amount, scale),
        'currency', currency,
        'status', h.status,
        'capturedAmount', event_money(h.captured_amount, scale),
        'expiresAt', event_time(h.expires_at),
        'createdAt', event_time(h.created_at),
        'updatedAt', event_time(h.updated_at),
        'metadata', h.metadata), jsonb_build_object(
        'wallet', event_link('wallets', h.wallet_id),
        'transaction', event_link('transactions', h.transaction_id)))
$$;

CREATE OR REPLACE FUNCTION event_transfer_data(t transfers, currency text, scale integer)
RETURNS jsonb
LANGUAGE sql
STABLE
AS $$
    SELECT event_resource('transfers', t.id, jsonb_build_object(
        'txid', t.txid,
        'amount', event_money(t.amount, scale),
        'currency', currency,
        'reversedAmount', event_money(t.reversed_amount, scale),
        'createdAt', event_time(t.created_at),
        'metadata', t.metadata), jsonb_build_object(
        'source', event_link('wallets', t.source_wallet_id),
        'destination', event_link('wallets', t.destination_wallet_id),
        'debit', event_link('transactions', t.debit_id),
        'credit', event_link('transactions', t.credit_id),
        'reverses', event_link('transfers', t.reverses_id),
        'exchange', event_link('exchanges', t.exchange_id)))
$$;

CREATE OR REPLACE FUNCTION event_exchange_data(e exchanges, source_scale integer, destination_scale integer)
RETURNS jsonb
LANGUAGE sql
STABLE
AS $$
    SELECT event_resource('exchanges', e.id, jsonb_build_object(
        'txid', e.txid,
        'sourceAmount', event_money(e.source_amount, source_scale),
        'destinationAmount', event_money(e.destination_amount, destination_scale),
        'rate', e.rate::text,
        'sourceCurrency', e.source_currency,
        'destinationCurrency', e.destination_currency,
        'createdAt', event_time(e.created_at),
        'metadata', e.metadata), jsonb_build_object(
        'source', event_link('wallets', e.source_wallet_id),
        'destination', event_link('wallets', e.destination_wallet_id)))
$$;

CREATE OR REPLACE FUNCTION event_monitor_data(m balance_monitors, scale integer)
RETURNS jsonb
LANGUAGE sql
STABLE
AS $$
    SELECT event_resource('balance-monitors', m.id, jsonb_build_object(
        'field', m.field,
        'operator', m.operator,
        'amount', event_money(m.amount, scale),
        'state', m.state,
        'triggeredAt', event_time(m.triggered_at),
        'createdAt', event_time(m.created_at),
        'updatedAt', event_time(m.updated_at),
        'metadata', m.metadata), jsonb_build_object(
        'wallet', event_link('wallets', m.wallet_id)))
$$;


-- The number and the feed position of a wallet's last event: its events hold them (the
-- (wallet_id, wallet_sequence) index, one probe), or, when retention removed them all, the
-- wallet row (events_prune keeps them there). Read under the wallet's row lock.
CREATE OR REPLACE FUNCTION events_last(wallet bigint)
RETURNS TABLE (last_sequence bigint, last_position bigint)
LANGUAGE sql
STABLE
AS $$
    SELECT coalesce(e.wallet_sequence, w.event_sequence, 0), coalesce(e.position, w.event_position, 0)
    FROM (SELECT 1) AS one
    LEFT JOIN LATERAL (
        SELECT ev.wallet_sequence, ev.position FROM events AS ev
        WHERE ev.wallet_id = wallet ORDER BY ev.wallet_sequence DESC LIMIT 1
    ) AS e ON true
    LEFT JOIN wallets AS w ON w.id = wallet
$$;

COMMENT ON FUNCTION events_last(wallet bigint) IS
    'The walletSequence and feed position of the wallet''s last event (0, 0 before its first).';


-- Writes the events of one statement's changes, in the order given: locks their wallets
-- (lowest id first; a no-op for those the statement locked already), numbers each wallet's
-- events after its last, and places them at this transaction's position or after the
-- wallet's last event. No wallet row is written: a booking's balance.changed is written by
-- wallet_apply (20_balances.sql) in the statement that changes the balance, and the rest
-- here, each wallet's number read from its events under its lock. (Under READ COMMITTED each
-- statement here sees what the lock's previous holder committed; under REPEATABLE READ a
-- writer racing another fails on events_wallet_sequence instead, and is retried.)
CREATE OR REPLACE FUNCTION events_emit(drafts event_draft[])
RETURNS void
LANGUAGE plpgsql
-- One plan for every call (see wallet_apply).
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    actor record;
BEGIN
    IF coalesce(cardinality(drafts), 0) = 0 THEN
        RETURN;
    END IF;
    PERFORM 1 FROM wallets
    WHERE id IN (SELECT d.wallet_id FROM unnest(drafts) AS d)
    ORDER BY id
    FOR NO KEY UPDATE;
    SELECT * INTO actor FROM ledger_actor();
    INSERT INTO events (position, wallet_id, wallet_sequence, event_type, subject_type,
                        subject_id, data, occurred_at, database_xid, origin, changed_by,
                        actor_key_id, actor_name)
    SELECT greatest(l.position, pg_current_xact_id()::text::bigint + c.xid_offset),
           d.wallet_id,
           l.sequence + row_number() OVER (PARTITION BY d.wallet_id ORDER BY d.ord),
           d.event_type, d.subject_type, d.subject_id, d.data, clock_timestamp(),
           pg_current_xact_id(), events_origin(), session_user, actor.key_id, actor.key_name
    FROM unnest(drafts) WITH ORDINALITY AS d (wallet_id, event_type, subject_type, subject_id, data, ord)
    JOIN (
        SELECT x.wallet_id, last.last_sequence AS sequence, last.last_position AS position
        FROM (SELECT DISTINCT u.wallet_id FROM unnest(drafts) AS u) AS x
        CROSS JOIN LATERAL events_last(x.wallet_id) AS last
    ) AS l ON l.wallet_id = d.wallet_id
    CROSS JOIN event_clock AS c
    ORDER BY d.wallet_id, d.ord;
END;
$$;

COMMENT ON FUNCTION events_emit(drafts event_draft[]) IS
    'Writes one statement''s events: numbers them per wallet under the wallet''s row lock and places them in the feed. Called by the triggers only.';


-- Wallets.
CREATE OR REPLACE FUNCTION wallets_events_insert()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
BEGIN
    PERFORM events_emit(ARRAY(
        SELECT ROW(w.id, 'wallet.created', 'wallets', w.id, event_wallet_data(w))::event_draft
        FROM new_wallets AS w ORDER BY w.id));
    RETURN NULL;
END;
$$;

-- A row trigger (a statement trigger with transition tables cannot name columns): only
-- label, metadata and credit-limit changes are the wallet's own; its balances' changes are
-- balance.changed events.
CREATE OR REPLACE FUNCTION wallets_events_update()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
BEGIN
    PERFORM events_emit(ARRAY[ROW(NEW.id, 'wallet.updated', 'wallets', NEW.id,
                                  event_wallet_data(NEW))::event_draft]);
    IF NEW.credit_limit IS DISTINCT FROM OLD.credit_limit THEN
        PERFORM monitors_evaluate(ARRAY[NEW.id]);
    END IF;
    RETURN NULL;
END;
$$;

-- A deleted wallet's row is gone: its last event follows the numbers the deleted row had
-- (the DELETE holds its lock).
CREATE OR REPLACE FUNCTION wallets_events_delete()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    here bigint := events_position();
BEGIN
    INSERT INTO events (position, wallet_id, wallet_sequence, event_type, subject_type,
                        subject_id, data, occurred_at, database_xid, origin, changed_by,
                        actor_key_id, actor_name)
    SELECT greatest(coalesce(e.position, w.event_position), here), w.id,
           coalesce(e.wallet_sequence, w.event_sequence) + 1, 'wallet.deleted',
           'wallets', w.id, event_wallet_data(w), clock_timestamp(), pg_current_xact_id(),
           events_origin(), session_user, actor.key_id, actor.key_name
    FROM old_wallets AS w
    LEFT JOIN LATERAL (
        SELECT ev.wallet_sequence, ev.position FROM events AS ev
        WHERE ev.wallet_id = w.id ORDER BY ev.wallet_sequence DESC LIMIT 1
    ) AS e ON true
    LEFT JOIN ledger_actor() AS actor ON true
    ORDER BY w.id;
    RETURN NULL;
END;
$$;


-- Transactions.
CREATE OR REPLACE FUNCTION transactions_events_insert()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
BEGIN
    PERFORM events_emit(ARRAY(
        SELECT ROW(t.wallet_id, 'transaction.created', 'transactions', t.id,
                   event_transaction_data(t, w.currency, w.scale))::event_draft
        FROM new_transactions AS t JOIN wallets AS w ON w.id = t.wallet_id
        ORDER BY t.wallet_id, t.id));
    RETURN NULL;
END;
$$;

-- A changed row is an event of its wallet, and of the wallet it left when it moved.
CREATE OR REPLACE FUNCTION transactions_events_update()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
BEGIN
    PERFORM events_emit(ARRAY(
        SELECT ROW(x.wallet_id, 'transaction.updated', 'transactions', n.id,
                   event_transaction_data(n, w.currency, w.scale))::event_draft
        FROM new_transactions AS n
        JOIN old_transactions AS o ON o.id = n.id
        JOIN wallets AS w ON w.id = n.wallet_id
        CROSS JOIN LATERAL (SELECT n.wallet_id UNION SELECT o.wallet_id) AS x (wallet_id)
        WHERE (o.wallet_id, o.txid, o.amount, o.created_at, o.metadata)
              IS DISTINCT FROM (n.wallet_id, n.txid, n.amount, n.created_at, n.metadata)
        ORDER BY x.wallet_id, n.id));
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION transactions_events_delete()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
BEGIN
    PERFORM events_emit(ARRAY(
        SELECT ROW(t.wallet_id, 'transaction.deleted', 'transactions', t.id,
                   event_transaction_data(t, w.currency, w.scale))::event_draft
        FROM old_transactions AS t JOIN wallets AS w ON w.id = t.wallet_id
        ORDER BY t.wallet_id, t.id));
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION transactions_events_truncate()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
BEGIN
    PERFORM events_emit(ARRAY(
        SELECT ROW(t.wallet_id, 'transaction.deleted', 'transactions', t.id,
                   event_transaction_data(t, w.currency, w.scale))::event_draft
        FROM transactions AS t JOIN wallets AS w ON w.id = t.wallet_id
        ORDER BY t.wallet_id, t.id));
    RETURN NULL;
END;
$$;


-- Holds: a pending hold that is resolved is hold.captured, hold.voided or hold.expired;
-- any other change (its metadata) hold.updated.
CREATE OR REPLACE FUNCTION holds_events_insert()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
BEGIN
    PERFORM events_emit(ARRAY(
        SELECT ROW(h.wallet_id, 'hold.created', 'holds', h.id,
                   event_hold_data(h, w.currency, w.scale))::event_draft
        FROM new_holds AS h JOIN wallets AS w ON w.id = h.wallet_id
        ORDER BY h.wallet_id, h.id));
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION holds_events_update()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
BEGIN
    PERFORM events_emit(ARRAY(
        SELECT ROW(n.wallet_id,
                   CASE WHEN o.status = 'pending' AND n.status <> 'pending'
                        THEN 'hold.' || n.status ELSE 'hold.updated' END,
                   'holds', n.id, event_hold_data(n, w.currency, w.scale))::event_draft
        FROM new_holds AS n
        JOIN old_holds AS o ON o.id = n.id
        JOIN wallets AS w ON w.id = n.wallet_id
        WHERE (o.status, o.captured_amount, o.transaction_id, o.metadata)
              IS DISTINCT FROM (n.status, n.captured_amount, n.transaction_id, n.metadata)
        ORDER BY n.wallet_id, n.id));
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION holds_events_delete()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
BEGIN
    PERFORM events_emit(ARRAY(
        SELECT ROW(h.wallet_id, 'hold.deleted', 'holds', h.id,
                   event_hold_data(h, w.currency, w.scale))::event_draft
        FROM old_holds AS h JOIN wallets AS w ON w.id = h.wallet_id
        ORDER BY h.wallet_id, h.id));
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION holds_events_truncate()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
BEGIN
    PERFORM events_emit(ARRAY(
        SELECT ROW(h.wallet_id, 'hold.deleted', 'holds', h.id,
                   event_hold_data(h, w.currency, w.scale))::event_draft
        FROM holds AS h JOIN wallets AS w ON w.id = h.wallet_id
        ORDER BY h.wallet_id, h.id));
    RETURN NULL;
END;
$$;


-- Transfers and exchanges: an event for each of their two wallets.
CREATE OR REPLACE FUNCTION transfers_events()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
BEGIN
    PERFORM events_emit(ARRAY(
        SELECT ROW(x.wallet_id,
                   CASE TG_OP WHEN 'INSERT' THEN 'transfer.created' ELSE 'transfer.updated' END,
                   'transfers', t.id, event_transfer_data(t, w.currency, w.scale))::event_draft
        FROM new_transfers AS t
        JOIN wallets AS w ON w.id = t.source_wallet_id
        CROSS JOIN LATERAL (VALUES (t.source_wallet_id), (t.destination_wallet_id)) AS x (wallet_id)
        ORDER BY x.wallet_id, t.id));
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION exchanges_events()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
BEGIN
    PERFORM events_emit(ARRAY(
        SELECT ROW(x.wallet_id,
                   CASE TG_OP WHEN 'INSERT' THEN 'exchange.created' ELSE 'exchange.updated' END,
                   'exchanges', e.id, event_exchange_data(e, s.scale, d.scale))::event_draft
        FROM new_exchanges AS e
        JOIN currencies AS s ON s.code = e.source_currency
        JOIN currencies AS d ON d.code = e.destination_currency
        CROSS JOIN LATERAL (VALUES (e.source_wallet_id), (e.destination_wallet_id)) AS x (wallet_id)
        ORDER BY x.wallet_id, e.id));
    RETURN NULL;
END;
$$;


-- The journal: each entry is a balance.changed event, and the moment to look at the
-- wallet's monitors. wallet_apply writes those of the entries it makes itself, in the same
-- statement (20_balances.sql); this trigger writes those of the others (repair, opening).
CREATE OR REPLACE FUNCTION event_balance_data(id bigint, wallet_id bigint, delta numeric, balance numeric, held_delta numeric, held numeric, available numeric, operation text, changed_at timestamptz, transaction_id bigint, hold_id bigint, currency text, scale integer)
RETURNS jsonb
LANGUAGE sql
STABLE
AS $$
    SELECT event_resource('balance-changes', id, jsonb_build_object(
        'delta', event_money(delta, scale),
        'balance', event_money(balance, scale),
        'heldDelta', event_money(held_delta, scale),
        'held', event_money(held, scale),
        'available', event_money(available, scale),
        'currency', currency,
        'operation', operation,
        'changedAt', event_time(changed_at)), jsonb_build_object(
        'wallet', event_link('wallets', wallet_id),
        'transaction', event_link('transactions', transaction_id),
        'hold', event_link('holds', hold_id)))
$$;

CREATE OR REPLACE FUNCTION balance_changes_events()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM new_changes WHERE operation IN ('repair', 'opening')) THEN
        RETURN NULL;
    END IF;
    PERFORM events_emit(ARRAY(
        SELECT ROW(c.wallet_id, 'balance.changed', 'balance-changes', c.id,
                   event_balance_data(c.id, c.wallet_id, c.delta, c.balance, c.held_delta,
                       c.held, wallet_available_now(w.id, c.balance, c.held, w.held_expires_at,
                                                    w.credit_limit),
                       c.operation, c.changed_at, c.transaction_id, c.hold_id, w.currency,
                       w.scale))::event_draft
        FROM new_changes AS c JOIN wallets AS w ON w.id = c.wallet_id
        WHERE c.operation IN ('repair', 'opening')
        ORDER BY c.wallet_id, c.id));
    PERFORM monitors_evaluate(ARRAY(SELECT DISTINCT wallet_id FROM new_changes
                                    WHERE operation IN ('repair', 'opening')));
    RETURN NULL;
END;
$$;


-- Balance monitors. Whether a monitor's condition holds for these numbers:
CREATE OR REPLACE FUNCTION monitor_holds(field text, operator text, amount numeric, balance numeric, available numeric)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
AS $$
    SELECT CASE operator
               WHEN 'lt' THEN value < amount
               WHEN 'lte' THEN value <= amount
               WHEN 'gt' THEN value > amount
               WHEN 'gte' THEN value >= amount
           END
    FROM (SELECT CASE field WHEN 'balance' THEN balance ELSE available END) AS v (value)
$$;

-- Touches the monitors of these wallets whose state no longer fits their wallet's numbers:
-- the row triggers below turn each, and write its event. A monitor that stays as it was is
-- neither written nor, mostly, read: every monitor's state fits the numbers its wallet had
-- after its last change, so only those whose amount the value has now reached or passed can
-- turn, and the index on (wallet_id, field, turns_when, amount) finds them (the migration
-- 000020 says how). A wallet with 100 monitors reads the few near its balance, not 100.
-- (PL/pgSQL: its plan is kept for the session; a SQL function's is made at every call.)
CREATE OR REPLACE FUNCTION monitors_evaluate(wallet_ids bigint[])
RETURNS void
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    turning bigint[];
BEGIN
    -- Most wallets have none: one probe says so.
    IF NOT EXISTS (SELECT 1 FROM balance_monitors WHERE wallet_id = ANY (wallet_ids)) THEN
        RETURN;
    END IF;
    -- Each wallet's near monitors, one index range per field and side (a plan made once for
    -- any wallets: OR-ed ranges or a join on wallet_id alone would scan the table), and of
    -- those the ones whose state no longer fits. Read first: most changes turn none, and an
    -- UPDATE that writes nothing still opens the table and its indexes for writing.
    turning := ARRAY(
        SELECT near.id
        FROM (SELECT w.id, w.balance,
                     wallet_available_now(w.id, w.balance, w.held, w.held_expires_at,
                                          w.credit_limit) AS available
              FROM wallets AS w
              WHERE w.id = ANY (wallet_ids)) AS w
        CROSS JOIN LATERAL (
            SELECT c.id, c.field, c.operator, c.amount, c.state
            FROM balance_monitors AS c
            WHERE c.wallet_id = w.id AND c.field = 'balance' AND c.turns_when = 'falls'
              AND c.amount >= w.balance
            UNION ALL
            SELECT c.id, c.field, c.operator, c.amount, c.state
            FROM balance_monitors AS c
            WHERE c.wallet_id = w.id AND c.field = 'balance' AND c.turns_when = 'rises'
              AND c.amount <= w.balance
            UNION ALL
            SELECT c.id, c.field, c.operator, c.amount, c.state
            FROM balance_monitors AS c
            WHERE c.wallet_id = w.id AND c.field = 'available' AND c.turns_when = 'falls'
              AND c.amount >= w.available
            UNION ALL
            SELECT c.id, c.field, c.operator, c.amount, c.state
            FROM balance_monitors AS c
            WHERE c.wallet_id = w.id AND c.field = 'available' AND c.turns_when = 'rises'
              AND c.amount <= w.available
        ) AS near
        WHERE (near.state = 'triggered') IS DISTINCT FROM monitor_holds(
                  near.field, near.operator, near.amount, w.balance, w.available));
    IF cardinality(turning) > 0 THEN
        UPDATE balance_monitors SET updated_at = now() WHERE id = ANY (turning);
    END IF;
END;
$$;

-- Before a monitor is written: its amount is exact at its wallet's scale, and its state is
-- what its condition says of the wallet now (created triggered when it already holds).
CREATE OR REPLACE FUNCTION balance_monitors_state()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    w wallets;
    holds_now boolean;
BEGIN
    SELECT * INTO w FROM wallets WHERE id = NEW.wallet_id;
    IF NOT FOUND THEN
        RETURN NEW;  -- the foreign key refuses it
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.wallet_id <> OLD.wallet_id THEN
        RAISE EXCEPTION 'balance monitor %: its wallet never changes', OLD.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'balance_monitors_wallet_fixed',
                  TABLE = 'balance_monitors';
    END IF;
    IF min_scale(NEW.amount) > w.scale THEN
        PERFORM ledger_refuse_precision('balance_monitors_amount_scale', w.id, w.currency,
                                        w.scale, min_scale(NEW.amount));
    END IF;
    holds_now := monitor_holds(NEW.field, NEW.operator, NEW.amount, w.balance,
                               wallet_available_now(w.id, w.balance, w.held, w.held_expires_at,
                                                    w.credit_limit));
    IF TG_OP = 'INSERT' THEN
        NEW.created_at := now();
        NEW.state := 'clear';
        NEW.triggered_at := NULL;
    ELSE
        NEW.created_at := OLD.created_at;
        NEW.state := OLD.state;
        NEW.triggered_at := OLD.triggered_at;
    END IF;
    NEW.updated_at := now();
    IF holds_now AND NEW.state = 'clear' THEN
        NEW.state := 'triggered';
        NEW.triggered_at := clock_timestamp();
    ELSIF NOT holds_now AND NEW.state = 'triggered' THEN
        NEW.state := 'clear';
        NEW.triggered_at := NULL;
    END IF;
    RETURN NEW;
END;
$$;

-- After: a monitor whose state turned (or that was created triggered) is an event.
CREATE OR REPLACE FUNCTION balance_monitors_events()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
BEGIN
    PERFORM events_emit(ARRAY(
        SELECT ROW(NEW.wallet_id, CASE NEW.state WHEN 'triggered' THEN 'monitor.triggered' ELSE 'monitor.cleared' END, 'balance-monitors', NEW.id,
                   event_monitor_data(NEW, w.scale))::event_draft
        FROM wallets AS w WHERE w.id = NEW.wallet_id));
    RETURN NULL;
END;
$$;


-- Retention: removes the events that occurred before `before`, and remembers the last one
-- removed (a cursor at or before it is expired). Returns how many were removed.
CREATE OR REPLACE FUNCTION events_prune(before timestamptz)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    last record;
    removed bigint;
BEGIN
    -- One pruner at a time; the feed's order is what is removed from the front.
    PERFORM 1 FROM event_clock FOR UPDATE;
    -- The last event written before `before` (by the occurred_at index), and every event
    -- before it in the feed's order (by the feed's index); none past the horizon.
    SELECT e.position, e.id INTO last FROM events AS e
    WHERE e.occurred_at < before AND e.position < events_horizon()
    ORDER BY e.occurred_at DESC LIMIT 1;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    -- Each wallet whose events go keeps the number and position of its last one removed,
    -- so that its numbering goes on (events_last). Locked lowest id first, as writers do.
    PERFORM 1 FROM wallets
    WHERE id IN (SELECT DISTINCT e.wallet_id FROM events AS e
                 WHERE (e.position, e.id) <= (last.position, last.id))
    ORDER BY id
    FOR NO KEY UPDATE;
    UPDATE wallets AS w
    SET event_sequence = gone.sequence, event_position = gone.position
    FROM (
        SELECT DISTINCT ON (e.wallet_id) e.wallet_id, e.wallet_sequence AS sequence, e.position
        FROM events AS e
        WHERE (e.position, e.id) <= (last.position, last.id)
        ORDER BY e.wallet_id, e.wallet_sequence DESC
    ) AS gone
    WHERE w.id = gone.wallet_id;
    DELETE FROM events
    WHERE (position, id) <= (last.position, last.id) AND position < events_horizon();
    GET DIAGNOSTICS removed = ROW_COUNT;
    UPDATE event_clock SET pruned_position = last.position, pruned_id = last.id;
    RETURN removed;
END;
$$;

COMMENT ON FUNCTION events_prune(before timestamptz) IS
    'Removes the front of the feed up to the last event that occurred before `before`, and remembers where it stopped (cursors before it are expired).';


-- After a restore into another cluster: stored positions at or above this cluster's next
-- transaction id would stay hidden (and new events would sort among them). Raises the
-- offset so every stored position is below the horizon. Returns the offset added.
CREATE OR REPLACE FUNCTION events_rebase()
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    stored bigint;
    next bigint;
    added bigint := 0;
BEGIN
    SELECT greatest((SELECT max(position) FROM events), (SELECT max(event_position) FROM wallets))
    INTO stored;
    next := pg_snapshot_xmax(pg_current_snapshot())::text::bigint
            + (SELECT xid_offset FROM event_clock);
    IF stored IS NOT NULL AND stored >= next THEN
        added := stored - next + 1;
        UPDATE event_clock SET xid_offset = xid_offset + added;
        RAISE NOTICE 'events: feed positions were ahead of this cluster''s transaction ids (a restore?); offset raised by %', added;
    END IF;
    RETURN added;
END;
$$;


-- The feed as readers see it: the events below the horizon.
CREATE OR REPLACE VIEW events_feed WITH (security_invoker = true) AS
    SELECT e.id, e.position, e.wallet_id, e.wallet_sequence, e.event_type, e.subject_type,
           e.subject_id, e.data, e.occurred_at, e.origin, e.actor_key_id, e.actor_name,
           -- The subject, as a relationship of its own type.
           CASE e.subject_type WHEN 'transactions' THEN e.subject_id END AS transaction_id,
           CASE e.subject_type WHEN 'holds' THEN e.subject_id END AS hold_id,
           CASE e.subject_type WHEN 'transfers' THEN e.subject_id END AS transfer_id,
           CASE e.subject_type WHEN 'exchanges' THEN e.subject_id END AS exchange_id,
           CASE e.subject_type WHEN 'balance-changes' THEN e.subject_id END AS balance_change_id,
           CASE e.subject_type WHEN 'balance-monitors' THEN e.subject_id END AS monitor_id
    FROM events AS e
    WHERE e.position < events_horizon();

COMMENT ON VIEW events_feed IS
    'The events a reader may be served: those below events_horizon(), all final. Page by (position, id).';

-- The check every wallet's events pass: numbered 1, 2, ... with no gap (after the last one
-- retention removed, whose number the wallet keeps). Part of `wallet-api verify`.
CREATE OR REPLACE VIEW event_audit AS
    SELECT w.id AS wallet_id, w.event_sequence, e.first, e.last, e.count
    FROM wallets AS w
    LEFT JOIN LATERAL (
        SELECT min(wallet_sequence) AS first, max(wallet_sequence) AS last, count(*) AS count
        FROM events WHERE wallet_id = w.id
    ) AS e ON true
    WHERE e.count > 0
      AND (e.first <> w.event_sequence + 1 OR e.count <> e.last - e.first + 1);

COMMENT ON VIEW event_audit IS
    'Wallets whose events are not numbered without a gap from 1 (or from the last one retention removed, wallets.event_sequence) (empty when all is well).';

-- Monitors with their wallet's scale and currency (the API renders amounts at it).
CREATE OR REPLACE VIEW balance_monitors_with_scale WITH (security_invoker = true) AS
    SELECT m.id, m.wallet_id, m.field, m.operator, m.amount, m.state, m.triggered_at,
           m.created_at, m.updated_at, m.metadata, w.scale, w.currency
    FROM balance_monitors AS m
    JOIN wallets AS w ON w.id = m.wallet_id;


-- Append-only, but for retention.
CREATE OR REPLACE FUNCTION events_refuse_rewrite()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only: % refused (retention removes old ones: events_prune)', TG_OP
        USING ERRCODE = 'insufficient_privilege', TABLE = 'events';
END;
$$;

CREATE OR REPLACE TRIGGER events_append_only
    BEFORE UPDATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_rewrite();
CREATE OR REPLACE TRIGGER events_delete_by_retention
    BEFORE DELETE ON events
    FOR EACH STATEMENT
    WHEN (current_user <> 'wallet_ledger')
    EXECUTE FUNCTION events_refuse_rewrite();
CREATE OR REPLACE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_rewrite();


-- The triggers: named z_events so that each fires after its table's other triggers (the
-- ones that book money and take the locks: triggers fire in name order).
CREATE OR REPLACE TRIGGER wallets_z_events_insert
    AFTER INSERT ON wallets REFERENCING NEW TABLE AS new_wallets
    FOR EACH STATEMENT EXECUTE FUNCTION wallets_events_insert();
CREATE OR REPLACE TRIGGER wallets_z_events_update
    AFTER UPDATE OF label, metadata, credit_limit ON wallets
    FOR EACH ROW
    WHEN ((OLD.label, OLD.metadata, OLD.credit_limit) IS DISTINCT FROM (NEW.label, NEW.metadata, NEW.credit_limit))
    EXECUTE FUNCTION wallets_events_update();
CREATE OR REPLACE TRIGGER wallets_z_events_delete
    AFTER DELETE ON wallets REFERENCING OLD TABLE AS old_wallets
    FOR EACH STATEMENT EXECUTE FUNCTION wallets_events_delete();

CREATE OR REPLACE TRIGGER transactions_z_events_insert
    AFTER INSERT ON transactions REFERENCING NEW TABLE AS new_transactions
    FOR EACH STATEMENT EXECUTE FUNCTION transactions_events_insert();
CREATE OR REPLACE TRIGGER transactions_z_events_update
    AFTER UPDATE ON transactions REFERENCING OLD TABLE AS old_transactions NEW TABLE AS new_transactions
    FOR EACH STATEMENT EXECUTE FUNCTION transactions_events_update();
CREATE OR REPLACE TRIGGER transactions_z_events_delete
    AFTER DELETE ON transactions REFERENCING OLD TABLE AS old_transactions
    FOR EACH STATEMENT EXECUTE FUNCTION transactions_events_delete();
CREATE OR REPLACE TRIGGER transactions_z_events_truncate
    BEFORE TRUNCATE ON transactions
    FOR EACH STATEMENT EXECUTE FUNCTION transactions_events_truncate();

CREATE OR REPLACE TRIGGER holds_z_events_insert
    AFTER INSERT ON holds REFERENCING NEW TABLE AS new_holds
    FOR EACH STATEMENT EXECUTE FUNCTION holds_events_insert();
CREATE OR REPLACE TRIGGER holds_z_events_update
    AFTER UPDATE ON holds REFERENCING OLD TABLE AS old_holds NEW TABLE AS new_holds
    FOR EACH STATEMENT EXECUTE FUNCTION holds_events_update();
CREATE OR REPLACE TRIGGER holds_z_events_delete
    AFTER DELETE ON holds REFERENCING OLD TABLE AS old_holds
    FOR EACH STATEMENT EXECUTE FUNCTION holds_events_delete();
CREATE OR REPLACE TRIGGER holds_z_events_truncate
    BEFORE TRUNCATE ON holds
    FOR EACH STATEMENT EXECUTE FUNCTION holds_events_truncate();

CREATE OR REPLACE TRIGGER transfers_z_events_insert
    AFTER INSERT ON transfers REFERENCING NEW TABLE AS new_transfers
    FOR EACH STATEMENT EXECUTE FUNCTION transfers_events();
CREATE OR REPLACE TRIGGER transfers_z_events_update
    AFTER UPDATE ON transfers REFERENCING NEW TABLE AS new_transfers
    FOR EACH STATEMENT EXECUTE FUNCTION transfers_events();

CREATE OR REPLACE TRIGGER exchanges_z_events_insert
    AFTER INSERT ON exchanges REFERENCING NEW TABLE AS new_exchanges
    FOR EACH STATEMENT EXECUTE FUNCTION exchanges_events();
CREATE OR REPLACE TRIGGER exchanges_z_events_update
    AFTER UPDATE ON exchanges REFERENCING NEW TABLE AS new_exchanges
    FOR EACH STATEMENT EXECUTE FUNCTION exchanges_events();

CREATE OR REPLACE TRIGGER balance_changes_z_events
    AFTER INSERT ON balance_changes REFERENCING NEW TABLE AS new_changes
    FOR EACH STATEMENT EXECUTE FUNCTION balance_changes_events();

CREATE OR REPLACE TRIGGER balance_monitors_state
    BEFORE INSERT OR UPDATE ON balance_monitors
    FOR EACH ROW EXECUTE FUNCTION balance_monitors_state();
CREATE OR REPLACE TRIGGER balance_monitors_z_events_insert
    AFTER INSERT ON balance_monitors
    FOR EACH ROW WHEN (NEW.state = 'triggered')
    EXECUTE FUNCTION balance_monitors_events();
CREATE OR REPLACE TRIGGER balance_monitors_z_events_update
    AFTER UPDATE ON balance_monitors
    FOR EACH ROW WHEN (NEW.state IS DISTINCT FROM OLD.state)
    EXECUTE FUNCTION balance_monitors_events();

DO $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY[
        'wallets.wallets_z_events_insert', 'wallets.wallets_z_events_update',
        'wallets.wallets_z_events_delete',
        'transactions.transactions_z_events_insert', 'transactions.transactions_z_events_update',
        'transactions.transactions_z_events_delete', 'transactions.transactions_z_events_truncate',
        'holds.holds_z_events_insert', 'holds.holds_z_events_update',
        'holds.holds_z_events_delete', 'holds.holds_z_events_truncate',
        'transfers.transfers_z_events_insert', 'transfers.transfers_z_events_update',
        'exchanges.exchanges_z_events_insert', 'exchanges.exchanges_z_events_update',
        'balance_changes.balance_changes_z_events',
        'balance_monitors.balance_monitors_state', 'balance_monitors.balance_monitors_z_events_insert',
        'balance_monitors.balance_monitors_z_events_update',
        'events.events_append_only', 'events.events_delete_by_retention', 'events.events_no_truncate'
    ] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ALWAYS TRIGGER %I',
                       split_part(name, '.', 1), split_part(name, '.', 2));
    END LOOP;
END;
$$;

-- The functions that write events are wallet_ledger's, with a pinned search_path.
DO $$
DECLARE
    definer text;
BEGIN
    FOREACH definer IN ARRAY ARRAY[
        'events_emit(event_draft[])', 'events_position()',
        'wallets_events_insert()', 'wallets_events_update()', 'wallets_events_delete()',
        'transactions_events_insert()', 'transactions_events_update()',
        'transactions_events_delete()', 'transactions_events_truncate()',
        'holds_events_insert()', 'holds_events_update()', 'holds_events_delete()',
        'holds_events_truncate()', 'transfers_events()', 'exchanges_events()',
        'balance_changes_events()', 'monitors_evaluate(bigint[])',
        'balance_monitors_state()', 'balance_monitors_events()', 'events_prune(timestamptz)'
    ] LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO wallet_ledger', definer);
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', definer);
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', definer, current_schema());
    END LOOP;
    -- The data builders and monitor_holds keep no search_path of their own: SQL functions of
    -- one expression are inlined into their callers (the functions above, whose path is
    -- pinned) only without one, and a SET costs each of a million rows a GUC change.
    FOREACH definer IN ARRAY ARRAY['events_horizon()'] LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', definer, current_schema());
    END LOOP;
END;
$$;
