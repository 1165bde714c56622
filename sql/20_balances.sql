-- The engine: every change of a wallet's balance and held amount goes through wallet_apply,
-- called by the statement-level triggers of transactions (30_transactions.sql) and holds
-- (40_holds.sql) with each statement's net change per wallet.
--
-- The rules it keeps, whoever writes (this service, a person in psql, a batch job):
--  * balance = the sum of the wallet's transactions; held = the sum of its pending holds.
--  * available = balance - held (less what expired holds no longer keep) + credit_limit never
--    goes below zero: a statement that would take any wallet there fails whole (SQLSTATE
--    23514, constraint wallets_balance_nonnegative, DETAIL 'wallet_id=<id> available=<amount>').
--    A wallet without a credit limit (0, the default) never goes below zero.
--  * A credit limit is set by the database's users, or by an admin API key, never by another
--    key (42501, wallets_credit_limit_admin); it is exact at the wallet's scale, and never
--    lowered below what the wallet uses of it (23514, wallets_credit_limit_in_use).
--  * A balance never reaches 10^18 (22003, wallets_balance_max).
--  * Every amount is exact at the scale of its wallet's currency (23514,
--    transactions_amount_scale or holds_amount_scale; 15_currencies.sql).
--  * A statement is judged by its net change per wallet, whatever the order of its rows;
--    statements are judged one at a time, even inside one transaction.
--  * The affected wallets are locked lowest id first (FOR NO KEY UPDATE), so concurrent
--    writers over the same wallets wait for each other instead of deadlocking, and under READ
--    COMMITTED each re-reads what the one before it committed.
--  * Every change is a journal row (balance_changes): the delta, the running balance and
--    held, who (the database user, the application, the API key) and when; and each journal
--    row is its wallet's balance.changed event, written beside it (55_events.sql), after
--    which the wallet's balance monitors are evaluated.


-- The form before currencies, without digits: its callers are the rules of that version,
-- which this file and the others replace.
DROP FUNCTION IF EXISTS wallet_apply(text, bigint[], numeric[], numeric[], bigint[], bigint[], bigint[], bigint[]);

-- Adds deltas[i] to the balance and held_deltas[i] to the held of wallet wallet_ids[i]; the
-- statement touched counts[i] of its transactions (transaction_ids[i] when it was one) and
-- hold_counts[i] of its holds (hold_ids[i] when it was one); the most fractional digits
-- among those rows' amounts is digits[i] (NULL: nothing to check), which the wallet's
-- currency's scale must hold. A wallet whose deltas are both zero is checked and locked, not
-- journaled. Returns each wallet's journal row.
CREATE OR REPLACE FUNCTION wallet_apply(operation text, wallet_ids bigint[], deltas numeric[], held_deltas numeric[], counts bigint[], transaction_ids bigint[], hold_counts bigint[], hold_ids bigint[], digits integer[])
RETURNS TABLE(wallet_id bigint, balance_change_id bigint)
LANGUAGE plpgsql
-- One plan for every call: a custom plan for each call's arrays would be planned again at
-- every booking (the arrays' lengths make the custom plans look cheaper than the generic one,
-- so PostgreSQL never settles), and the generic plan probes wallets by id, for one wallet
-- or ten thousand.
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    target record;
    locked integer := 0;
    changed_at timestamptz;
    actor record;
BEGIN
    IF coalesce(cardinality(wallet_ids), 0) = 0 THEN  -- nothing to do (array_agg of no rows is NULL)
        RETURN;
    END IF;

    -- Lock every affected wallet, lowest id first, and look at the balances it would get.
    -- Under READ COMMITTED a row changed by a concurrent transaction is re-read after that
    -- transaction commits, so the check below sees the committed balances.
    FOR target IN
        SELECT w.id, w.currency, w.scale, d.digits, w.balance + d.delta AS new_balance,
               wallet_available_now(w.id, w.balance, w.held, w.held_expires_at, w.credit_limit) AS available,
               wallet_available_now(w.id, w.balance, w.held, w.held_expires_at, w.credit_limit)
                   + d.delta - d.held_delta AS new_available
        FROM wallets AS w
        JOIN unnest(wallet_ids, deltas, held_deltas, digits) AS d (wallet_id, delta, held_delta, digits)
          ON d.wallet_id = w.id
        ORDER BY w.id
        FOR NO KEY UPDATE OF w
    LOOP
        locked := locked + 1;
        IF target.digits > target.scale THEN
            PERFORM ledger_refuse_precision(
                CASE WHEN operation LIKE 'hold%' THEN 'holds_amount_scale'
                     ELSE 'transactions_amount_scale' END,
                target.id, target.currency, target.scale, target.digits);
        END IF;
        IF target.new_available < 0 THEN
            RAISE EXCEPTION 'insufficient funds: the available balance of wallet % would become % (% available now)',
                    target.id, round(target.new_available, target.scale),
                    round(target.available, target.scale)
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'wallets_balance_nonnegative',
                      TABLE = 'wallets',
                      DETAIL = format('wallet_id=%s available=%s', target.id,
                                      round(target.available, target.scale)),
                      HINT = 'A statement must leave every wallet''s available balance (its balance less its pending holds, plus its credit limit) at zero or above.';
        END IF;
        IF target.new_balance >= 1e18 THEN
            RAISE EXCEPTION 'balance overflow: the balance of wallet % would become %, beyond numeric(36,18)',
                    target.id, target.new_balance
                USING ERRCODE = 'numeric_value_out_of_range',
                      CONSTRAINT = 'wallets_balance_max',
                      TABLE = 'wallets',
                      DETAIL = format('wallet_id=%s', target.id);
        END IF;
    END LOOP;

    -- The foreign keys normally guarantee the wallet exists; this also holds when foreign
    -- keys were skipped (session_replication_role = replica).
    IF locked <> cardinality(wallet_ids) THEN
        RAISE EXCEPTION '% refer to a wallet that does not exist',
                CASE WHEN operation LIKE 'hold%' THEN 'holds' ELSE 'transactions' END
            USING ERRCODE = 'foreign_key_violation',
                  CONSTRAINT = CASE WHEN operation LIKE 'hold%' THEN 'holds_wallet_id_fkey'
                                    ELSE 'transactions_wallet_id_fkey' END,
                  TABLE = CASE WHEN operation LIKE 'hold%' THEN 'holds' ELSE 'transactions' END;
    END IF;

    -- Every wallet is locked: no other writer can come between this time and the commit.
    changed_at := clock_timestamp();
    SELECT * INTO actor FROM ledger_actor();

    RETURN QUERY
    WITH applied AS (
        UPDATE wallets AS w
        SET balance = w.balance + d.delta,
            held = w.held + d.held_delta,
            -- When the statement changed its pending holds: the earliest expiry among them
            -- now (the first entry of a partial index).
            held_expires_at = CASE WHEN d.holds_touched > 0
                                   THEN (SELECT min(h.expires_at) FROM holds AS h
                                         WHERE h.wallet_id = w.id AND h.status = 'pending'
                                           AND h.expires_at IS NOT NULL)
                                   ELSE w.held_expires_at END,
            updated_at = now()
        FROM unnest(wallet_ids, deltas, held_deltas, counts, transaction_ids, hold_counts, hold_ids)
             AS d (wallet_id, delta, held_delta, touched, transaction_id, holds_touched, hold_id)
        WHERE w.id = d.wallet_id AND (d.delta <> 0 OR d.held_delta <> 0)
        RETURNING w.id, w.balance, w.held, d.delta, d.held_delta, d.touched, d.transaction_id,
                  d.holds_touched, d.hold_id, w.currency, w.scale,
                  wallet_available_now(w.id, w.balance, w.held, w.held_expires_at,
                                       w.credit_limit) AS available
    ), journal AS (
        INSERT INTO balance_changes AS c (wallet_id, delta, balance, held_delta, held, operation,
                                          transaction_count, transaction_id, hold_count, hold_id,
                                          changed_at, database_xid, changed_by, application,
                                          actor_key_id, actor_name)
        SELECT a.id, a.delta, a.balance, a.held_delta, a.held, operation,
               a.touched, a.transaction_id, a.holds_touched, a.hold_id,
               changed_at, pg_current_xact_id(), session_user, current_setting('application_name'),
               actor.key_id, actor.key_name
        FROM applied AS a
        ORDER BY a.id
        RETURNING c.id, c.wallet_id, c.delta, c.balance, c.held_delta, c.held, c.transaction_id,
                  c.hold_id
    ), evented AS (
        -- Each entry is its wallet's balance.changed event (55_events.sql), numbered after the
        -- wallet's last event: the wallet is locked, so no other writer numbers in between.
        INSERT INTO events (position, wallet_id, wallet_sequence, event_type, subject_type,
                            subject_id, data, occurred_at, database_xid, origin, changed_by,
                            actor_key_id, actor_name)
        SELECT greatest(l.last_position, pg_current_xact_id()::text::bigint + k.xid_offset),
               j.wallet_id, l.last_sequence + 1, 'balance.changed', 'balance-changes', j.id,
               event_balance_data(j.id, j.wallet_id, j.delta, j.balance, j.held_delta, j.held,
                                  a.available, operation, changed_at, j.transaction_id,
                                  j.hold_id, a.currency, a.scale),
               changed_at, pg_current_xact_id(), events_origin(), session_user,
               actor.key_id, actor.key_name
        FROM journal AS j
        JOIN applied AS a ON a.id = j.wallet_id
        CROSS JOIN LATERAL events_last(j.wallet_id) AS l
        CROSS JOIN event_clock AS k
        ORDER BY j.wallet_id
    )
    SELECT j.wallet_id, j.id FROM journal AS j ORDER BY j.wallet_id;

    -- The wallets' balance monitors, now that their numbers changed.
    PERFORM monitors_evaluate(wallet_ids);
END;
$$;

COMMENT ON FUNCTION wallet_apply(operation text, wallet_ids bigint[], deltas numeric[], held_deltas numeric[], counts bigint[], transaction_ids bigint[], hold_counts bigint[], hold_ids bigint[], digits integer[]) IS
    'Adds deltas[i] to the balance and held_deltas[i] to the held of wallet wallet_ids[i] and journals it: locks in id order, refuses a negative available balance or an overflowing balance. Called by the triggers only.';


-- The transactions triggers' aggregation: the signed rows a statement changed, added up per
-- wallet (a million-row statement is one aggregate and one wallet_apply).
CREATE OR REPLACE FUNCTION ledger_apply(operation text, changes ledger_change[])
RETURNS TABLE(wallet_id bigint, balance_change_id bigint)
LANGUAGE sql
AS $$
    SELECT j.wallet_id, j.balance_change_id
    FROM (
        SELECT array_agg(w.wallet_id) AS ids, array_agg(w.delta) AS deltas,
               array_agg(w.touched) AS counts, array_agg(w.only_id) AS only_ids,
               array_agg(0::numeric) AS no_held, array_agg(0::bigint) AS no_holds,
               array_agg(NULL::bigint) AS no_hold, array_agg(w.digits) AS digits
        FROM (
            SELECT c.wallet_id, sum(c.amount) AS delta,
                   count(DISTINCT c.transaction_id) AS touched,
                   CASE WHEN count(DISTINCT c.transaction_id) = 1
                        THEN min(c.transaction_id) END AS only_id,
                   max(min_scale(c.amount)) AS digits
            FROM unnest(changes) AS c
            GROUP BY c.wallet_id
            -- A wallet the statement leaves as it was is still judged by its rows' digits.
            HAVING sum(c.amount) <> 0 OR max(min_scale(c.amount)) > 0
        ) AS w
    ) AS a
    CROSS JOIN LATERAL wallet_apply(operation, a.ids, a.deltas, a.no_held, a.counts, a.only_ids,
                                    a.no_holds, a.no_hold, a.digits) AS j
$$;

COMMENT ON FUNCTION ledger_apply(operation text, changes ledger_change[]) IS
    'Adds the signed rows a statement changed up per wallet and applies them (wallet_apply); returns each wallet''s journal row. Called by the transactions triggers only.';


-- The holds triggers' aggregation: a pending row holds its amount, so a new pending version
-- adds it and an old pending version takes it back (changes of pending rows net to zero;
-- resolving a hold releases it). changes are (hold_id, wallet_id, signed amount).
CREATE OR REPLACE FUNCTION ledger_hold(operation text, changes ledger_change[])
RETURNS TABLE(wallet_id bigint, balance_change_id bigint)
LANGUAGE sql
AS $$
    SELECT j.wallet_id, j.balance_change_id
    FROM (
        SELECT array_agg(w.wallet_id) AS ids, array_agg(w.held_delta) AS held_deltas,
               array_agg(w.touched) AS counts, array_agg(w.only_id) AS only_ids,
               array_agg(w.digits) AS digits
        FROM (
            SELECT c.wallet_id, sum(c.amount) AS held_delta,
                   count(DISTINCT c.transaction_id) AS touched,
                   CASE WHEN count(DISTINCT c.transaction_id) = 1
                        THEN min(c.transaction_id) END AS only_id,
                   max(min_scale(c.amount)) AS digits
            FROM unnest(changes) AS c
            GROUP BY c.wallet_id
            HAVING sum(c.amount) <> 0 OR max(min_scale(c.amount)) > 0
        ) AS w
    ) AS a
    CROSS JOIN LATERAL wallet_apply(
        operation, a.ids,
        array_fill(0::numeric, ARRAY[coalesce(cardinality(a.ids), 0)]), a.held_deltas,
        array_fill(0::bigint, ARRAY[coalesce(cardinality(a.ids), 0)]),
        array_fill(NULL::bigint, ARRAY[coalesce(cardinality(a.ids), 0)]),
        a.counts, a.only_ids, a.digits) AS j
$$;


-- Expiry needs no timer to be exact. A pending hold whose expires_at has passed no longer
-- holds money, whether or not the sweep (expire_holds) has marked it expired yet: what such
-- holds still add to wallets.held is subtracted at every read.
CREATE OR REPLACE FUNCTION wallet_expired_held(wallet bigint)
RETURNS numeric
LANGUAGE sql
STABLE
AS $$
    SELECT coalesce(sum(h.amount), 0)
    FROM holds AS h
    WHERE h.wallet_id = wallet AND h.status = 'pending' AND h.expires_at <= now()
$$;

COMMENT ON FUNCTION wallet_expired_held(wallet bigint) IS
    'The amounts of the wallet''s pending holds whose expires_at has passed (not yet swept): counted in wallets.held, held by nothing.';


-- What a wallet's holds keep now, from its stored held and the earliest expiry among its
-- pending holds: nothing to look up until that time has come. Inlined by the planner where
-- it is used (a SQL function of one expression).
CREATE OR REPLACE FUNCTION wallet_held_now(wallet bigint, held numeric, held_expires_at timestamp with time zone)
RETURNS numeric
LANGUAGE sql
STABLE
AS $$
    SELECT held - CASE WHEN held = 0 OR held_expires_at IS NULL OR held_expires_at > now() THEN 0
                       ELSE wallet_expired_held(wallet) END
$$;

COMMENT ON FUNCTION wallet_held_now(wallet bigint, held numeric, held_expires_at timestamp with time zone) IS
    'What the wallet''s pending, unexpired holds keep: its stored held less wallet_expired_held.';

CREATE OR REPLACE FUNCTION wallet_available_now(wallet bigint, balance numeric, held numeric, held_expires_at timestamp with time zone, credit_limit numeric)
RETURNS numeric
LANGUAGE sql
STABLE
AS $$
    SELECT balance - wallet_held_now(wallet, held, held_expires_at) + credit_limit
$$;

COMMENT ON FUNCTION wallet_available_now(wallet bigint, balance numeric, held numeric, held_expires_at timestamp with time zone, credit_limit numeric) IS
    'What the wallet can spend or hold: its balance less wallet_held_now, plus its credit limit.';


-- Every wallet's balances as they stand: what psql users should read.
CREATE OR REPLACE VIEW wallet_balances WITH (security_invoker = true) AS
    SELECT w.id AS wallet_id,
           w.balance,
           wallet_held_now(w.id, w.held, w.held_expires_at) AS held,
           wallet_available_now(w.id, w.balance, w.held, w.held_expires_at, w.credit_limit) AS available,
           w.credit_limit
    FROM wallets AS w;

COMMENT ON VIEW wallet_balances IS
    'Each wallet''s balance, held (its pending, unexpired holds), available (balance - held + credit_limit) and credit limit, exact now.';

-- The form before credit limits (no view uses it now).
DROP FUNCTION IF EXISTS wallet_available_now(bigint, numeric, numeric, timestamp with time zone);


-- A credit limit: how far below zero a wallet's balance may go. Set by an admin API key or a
-- database user (a key without the admin scope is refused, on every path: the API's checks
-- are this one); exact at the wallet's scale; never lowered below what the wallet uses of it
-- (its holds and its balance below zero). The row is locked by the UPDATE, so a booking
-- racing a lowering waits for it and is judged by the new limit (or the lowering by the
-- booking's balance).
CREATE OR REPLACE FUNCTION wallets_credit_limit()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    admin boolean;
    in_use numeric;
BEGIN
    SELECT 'admin' = ANY (k.scopes) INTO admin
    FROM ledger_actor() AS a
    JOIN api_keys AS k ON k.id = a.key_id;
    IF NOT admin THEN
        RAISE EXCEPTION 'wallet %: a credit limit is set by an admin key only', coalesce(NEW.id::text, '(new)')
            USING ERRCODE = 'insufficient_privilege', CONSTRAINT = 'wallets_credit_limit_admin',
                  TABLE = 'wallets';
    END IF;
    IF min_scale(NEW.credit_limit) > NEW.scale THEN
        PERFORM ledger_refuse_precision('wallets_credit_limit_scale', NEW.id, NEW.currency,
                                        NEW.scale, min_scale(NEW.credit_limit));
    END IF;
    IF TG_OP = 'UPDATE' THEN
        in_use := wallet_held_now(OLD.id, OLD.held, OLD.held_expires_at) - OLD.balance;
        IF NEW.credit_limit < in_use THEN
            RAISE EXCEPTION 'wallet %: its credit limit cannot go below %, what its balance and holds use of it',
                    OLD.id, round(in_use, OLD.scale)
                USING ERRCODE = 'check_violation', CONSTRAINT = 'wallets_credit_limit_in_use',
                      TABLE = 'wallets',
                      DETAIL = format('wallet_id=%s in_use=%s', OLD.id, round(in_use, OLD.scale)),
                      HINT = 'Credit the wallet, or void its holds, before lowering its limit.';
        END IF;
    END IF;
    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION wallets_credit_limit() IS
    'Refuses a credit limit set by a key without the admin scope, finer than the wallet''s currency, or lowered below what the wallet uses.';

-- After wallets_currency (triggers fire in name order), which gives a new wallet its scale.
CREATE OR REPLACE TRIGGER wallets_limit_insert
    BEFORE INSERT ON wallets
    FOR EACH ROW
    WHEN (NEW.credit_limit <> 0)
    EXECUTE FUNCTION wallets_credit_limit();
CREATE OR REPLACE TRIGGER wallets_limit_update
    BEFORE UPDATE OF credit_limit ON wallets
    FOR EACH ROW
    WHEN (NEW.credit_limit IS DISTINCT FROM OLD.credit_limit)
    EXECUTE FUNCTION wallets_credit_limit();
ALTER TABLE wallets ENABLE ALWAYS TRIGGER wallets_limit_insert;
ALTER TABLE wallets ENABLE ALWAYS TRIGGER wallets_limit_update;

-- The functions that write the record are wallet_ledger's (NOLOGIN: nobody logs in as it),
-- with a pinned search_path, callable by the triggers alone.
DO $$
DECLARE
    definer text;
BEGIN
    FOREACH definer IN ARRAY ARRAY[
        'wallet_apply(text, bigint[], numeric[], numeric[], bigint[], bigint[], bigint[], bigint[], integer[])',
        'ledger_apply(text, ledger_change[])',
        'ledger_hold(text, ledger_change[])',
        'wallets_credit_limit()'
    ] LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO wallet_ledger', definer);
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', definer);
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', definer, current_schema());
    END LOOP;
END;
$$;
