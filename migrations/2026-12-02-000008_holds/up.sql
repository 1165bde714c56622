-- Holds: money reserved on a wallet now, captured (booked, all or part of it) or released
-- later, with the wallet's held and available balances kept by the database.
--
-- Promise, on top of the previous migrations':
--  * holds has one row per reservation: its wallet, a positive amount, a status (pending,
--    captured, voided, expired) and, once captured, the amount booked and the transaction
--    that booked it. Its wallet and amount never change; a hold leaves `pending` once and
--    for all. A row trigger (holds_state_machine) enforces that on every write, whoever
--    makes it: a capture or a void of a hold that is not pending is refused
--    (holds_pending), as is one of a hold whose expires_at has passed (holds_unexpired);
--    a hold is marked expired only once its time has passed.
--  * wallets.held is the sum of the wallet's rows in holds with status 'pending', kept by
--    statement-level triggers on holds exactly as the balance is kept by those on
--    transactions: per statement, per wallet, locking wallets lowest id first, bulk
--    statements and TRUNCATE included, journaled in balance_changes (held_delta, held). It is
--    written by wallet_ledger's functions only, like the balance.
--  * Expiry needs no timer to be exact. A pending hold whose expires_at has passed no longer
--    holds money, whether or not anything has marked it expired yet:
--    wallet_expired_held(wallet) is what such holds still add to wallets.held (an index probe
--    over the wallet's pending holds past their time, none once swept), so
--      held now      = wallets.held - wallet_expired_held(id)   (wallet_held_now)
--      available now = wallets.balance - held now
--    as the view wallet_balances shows and the service reads. expire_holds() marks them
--    expired (the service runs it every second; pg_cron can instead); each such release is
--    journaled when it is swept, and wallet_held_at() accounts for holds that had expired at a
--    time but were swept after it.
--  * The rule that kept every balance at zero or above now keeps every available balance
--    there: a statement on transactions or holds that would leave any wallet's available
--    balance below zero fails as a whole (wallets_balance_nonnegative). A hold larger than
--    the available money is refused; a debit cannot spend held money.
--  * capture_hold(hold, amount) captures in one call: it releases the hold and books the debit
--    (txid 'hold:<id>', amount -captured) in the caller's transaction, so the available balance
--    never dips and the debit is judged as any other. A captured hold names its transaction:
--    a deferred check (holds_capture_booked) refuses, at commit, a hold marked captured
--    without the debit that matches it.
--  * hold_revisions keeps the before-image (and after-image) of every hold an UPDATE changed,
--    a DELETE removed or a TRUNCATE emptied, as transaction_revisions does for transactions.
--  * A wallet with holds cannot be deleted (foreign key, RESTRICT).
--  * Row-level security keeps a wallet-limited key's statements to its wallets' holds.


-- The holds.
CREATE TABLE holds (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    wallet_id       bigint NOT NULL
                    CONSTRAINT holds_wallet_id_fkey REFERENCES wallets (id) ON DELETE RESTRICT,
    amount          numeric(36, 18) NOT NULL CONSTRAINT holds_amount_positive CHECK (amount > 0),
    status          text NOT NULL DEFAULT 'pending'
                    CONSTRAINT holds_status_known
                    CHECK (status IN ('pending', 'captured', 'voided', 'expired')),
    -- Set by a capture: what it booked, 0 < captured_amount <= amount.
    captured_amount numeric(36, 18),
    -- The transaction the capture booked. No foreign key, as in balance_changes: that
    -- transaction may be edited or deleted later like any other (its revisions say so).
    transaction_id  bigint,
    -- NULL: the hold lasts until it is captured or voided.
    expires_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- When it left pending (captured, voided, or swept as expired).
    resolved_at     timestamptz,
    CONSTRAINT holds_captured_amount_set
        CHECK ((status = 'captured') = (captured_amount IS NOT NULL))
);

COMMENT ON TABLE holds IS
    'Money reserved on a wallet: pending until captured (booked), voided or expired. Pending holds make up wallets.held.';

-- (wallet_id, id): a wallet's holds in order (/wallets/{id}/holds), and the foreign key
--   check of DELETE FROM wallets.
-- (wallet_id, expires_at) of pending holds: what has expired but is still counted, one
--   probe per wallet read however many holds are pending; also the sweep.
-- (wallet_id, expires_at): the holds that had expired at a past time (wallet_held_at).
CREATE INDEX holds_wallet_id_id_idx ON holds (wallet_id, id);
CREATE INDEX holds_pending_expiry_idx ON holds (wallet_id, expires_at)
    WHERE status = 'pending' AND expires_at IS NOT NULL;
CREATE INDEX holds_wallet_expiry_idx ON holds (wallet_id, expires_at)
    WHERE expires_at IS NOT NULL;

-- The money a wallet's holds keep, the journal's record of it.
ALTER TABLE wallets
    ADD COLUMN held numeric(36, 18) NOT NULL DEFAULT 0,
    ADD COLUMN held_expires_at timestamptz;
COMMENT ON COLUMN wallets.held IS
    'Sum of the wallet''s pending holds (status pending), kept by the holds triggers; those past expires_at stop counting at once (wallet_balances).';
COMMENT ON COLUMN wallets.held_expires_at IS
    'The earliest expires_at of the wallet''s pending holds (NULL: none expires), kept by the holds triggers: until then nothing held has expired.';

ALTER TABLE balance_changes
    ADD COLUMN held_delta numeric(37, 18) NOT NULL DEFAULT 0,
    ADD COLUMN held       numeric(36, 18) NOT NULL DEFAULT 0,
    -- How many holds of this wallet the statement touched, and which when it was one.
    ADD COLUMN hold_count bigint NOT NULL DEFAULT 0,
    ADD COLUMN hold_id    bigint;
ALTER TABLE balance_changes DROP CONSTRAINT balance_changes_operation_known;
ALTER TABLE balance_changes ADD CONSTRAINT balance_changes_operation_known
    CHECK (operation IN ('opening', 'insert', 'update', 'delete', 'truncate', 'repair',
                         'hold_insert', 'hold_update', 'hold_delete', 'hold_truncate'));

CREATE TABLE hold_revisions (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hold_id      bigint NOT NULL,
    operation    text NOT NULL
                 CONSTRAINT hold_revisions_operation_known
                 CHECK (operation IN ('update', 'delete', 'truncate')),
    -- The row as it was and as it became (NULL for a delete or a truncate), as JSON: the
    -- columns of holds, whatever later migrations add.
    old          jsonb NOT NULL,
    new          jsonb,
    revised_at   timestamptz NOT NULL,
    database_xid xid8 NOT NULL,
    revised_by   text NOT NULL,
    application  text NOT NULL,
    actor_key_id bigint CONSTRAINT hold_revisions_actor_key_id_fkey REFERENCES api_keys (id),
    actor_name   text
);

COMMENT ON TABLE hold_revisions IS
    'Append-only before-images (and after-images) of every hold changed by UPDATE, DELETE or TRUNCATE.';

CREATE INDEX hold_revisions_hold_id_idx ON hold_revisions (hold_id, id);

CREATE TRIGGER hold_revisions_append_only
    BEFORE UPDATE OR DELETE ON hold_revisions
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_rewrite();
CREATE TRIGGER hold_revisions_no_truncate
    BEFORE TRUNCATE ON hold_revisions
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_rewrite();


-- What the wallet's pending holds past their expires_at still add to wallets.held: money
-- they no longer hold.
CREATE FUNCTION wallet_expired_held(wallet bigint)
RETURNS numeric
LANGUAGE sql
STABLE
AS $$
    SELECT coalesce(sum(h.amount), 0)
    FROM holds AS h
    WHERE h.wallet_id = wallet AND h.status = 'pending' AND h.expires_at <= now()
$$;

COMMENT ON FUNCTION wallet_expired_held(bigint) IS
    'The amounts of the wallet''s pending holds whose expires_at has passed (not yet swept): counted in wallets.held, held by nothing.';

-- What a wallet's holds keep now, from its stored held and the earliest expiry among its
-- pending holds: nothing to look up until that time has come (no pending hold, none that
-- expires, or none expired yet: every read but those in the moment between an expiry and
-- its sweep). Inlined by the planner where it is used (a SQL function of one expression).
CREATE FUNCTION wallet_held_now(wallet bigint, held numeric, held_expires_at timestamptz)
RETURNS numeric
LANGUAGE sql
STABLE
AS $$
    SELECT held - CASE WHEN held = 0 OR held_expires_at IS NULL OR held_expires_at > now() THEN 0
                       ELSE wallet_expired_held(wallet) END
$$;

COMMENT ON FUNCTION wallet_held_now(bigint, numeric, timestamptz) IS
    'What the wallet''s pending, unexpired holds keep: its stored held less wallet_expired_held.';

CREATE FUNCTION wallet_available_now(wallet bigint, balance numeric, held numeric,
                                     held_expires_at timestamptz)
RETURNS numeric
LANGUAGE sql
STABLE
AS $$
    SELECT balance - wallet_held_now(wallet, held, held_expires_at)
$$;

COMMENT ON FUNCTION wallet_available_now(bigint, numeric, numeric, timestamptz) IS
    'What the wallet can spend or hold: its balance less wallet_held_now.';

-- Every wallet's balances as they stand: what psql users should read.
CREATE VIEW wallet_balances WITH (security_invoker = true) AS
    SELECT w.id AS wallet_id,
           w.balance,
           wallet_held_now(w.id, w.held, w.held_expires_at) AS held,
           wallet_available_now(w.id, w.balance, w.held, w.held_expires_at) AS available
    FROM wallets AS w;

COMMENT ON VIEW wallet_balances IS
    'Each wallet''s balance, held (its pending, unexpired holds) and available (balance - held), exact now.';

-- Every hold as it stands: a pending hold past its expires_at reads as expired.
CREATE VIEW holds_now WITH (security_invoker = true) AS
    SELECT h.id, h.wallet_id, h.amount,
           CASE WHEN h.status = 'pending' AND h.expires_at <= now() THEN 'expired'
                ELSE h.status END AS status,
           h.captured_amount, h.transaction_id, h.expires_at, h.created_at, h.updated_at,
           CASE WHEN h.status = 'pending' AND h.expires_at <= now() THEN h.expires_at
                ELSE h.resolved_at END AS resolved_at
    FROM holds AS h;

COMMENT ON VIEW holds_now IS
    'Every hold with its status now: a pending hold past expires_at is expired.';


-- Apply net balance and held changes and journal them: wallet_ids[i] changes its balance by
-- deltas[i] and its held by held_deltas[i]; the statement touched counts[i] of its
-- transactions (transaction_ids[i] when it was one) and hold_counts[i] of its holds
-- (hold_ids[i] when it was one). Returns each wallet's journal row. It replaces the checks
-- of wallet_apply_deltas, which now calls it: what must stay at zero or above is the
-- available balance.
CREATE FUNCTION wallet_apply(
    operation text,
    wallet_ids bigint[],
    deltas numeric[],
    held_deltas numeric[],
    counts bigint[],
    transaction_ids bigint[],
    hold_counts bigint[],
    hold_ids bigint[]
)
RETURNS TABLE (wallet_id bigint, balance_change_id bigint)
LANGUAGE plpgsql
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
        SELECT w.id, w.balance + d.delta AS new_balance,
               wallet_available_now(w.id, w.balance, w.held, w.held_expires_at) AS available,
               wallet_available_now(w.id, w.balance, w.held, w.held_expires_at)
                   + d.delta - d.held_delta AS new_available
        FROM wallets AS w
        JOIN unnest(wallet_ids, deltas, held_deltas) AS d (wallet_id, delta, held_delta)
          ON d.wallet_id = w.id
        ORDER BY w.id
        FOR NO KEY UPDATE OF w
    LOOP
        locked := locked + 1;
        IF target.new_available < 0 THEN
            RAISE EXCEPTION 'insufficient funds: the available balance of wallet % would become % (% available now)',
                    target.id, target.new_available, target.available
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'wallets_balance_nonnegative',
                      TABLE = 'wallets',
                      DETAIL = format('wallet_id=%s available=%s', target.id, target.available),
                      HINT = 'A statement must leave every wallet''s available balance (its balance less its pending holds) at zero or above.';
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
        WHERE w.id = d.wallet_id
        RETURNING w.id, w.balance, w.held, d.delta, d.held_delta, d.touched, d.transaction_id,
                  d.holds_touched, d.hold_id
    )
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
    RETURNING c.wallet_id, c.id;
END;
$$;

COMMENT ON FUNCTION wallet_apply(text, bigint[], numeric[], numeric[], bigint[], bigint[], bigint[], bigint[]) IS
    'Adds deltas[i] to the balance and held_deltas[i] to the held of wallet wallet_ids[i] and journals it: locks in id order, refuses a negative available balance or an overflowing balance. Called by the triggers only.';

-- The transactions triggers' entry point, as before: balance changes only.
CREATE OR REPLACE FUNCTION wallet_apply_deltas(
    operation text,
    wallet_ids bigint[],
    deltas numeric[],
    counts bigint[],
    transaction_ids bigint[]
)
RETURNS TABLE (wallet_id bigint, balance_change_id bigint)
LANGUAGE sql
AS $$
    SELECT * FROM wallet_apply(operation, wallet_ids, deltas,
                               array_fill(0::numeric, ARRAY[coalesce(cardinality(wallet_ids), 0)]),
                               counts, transaction_ids,
                               array_fill(0::bigint, ARRAY[coalesce(cardinality(wallet_ids), 0)]),
                               array_fill(NULL::bigint, ARRAY[coalesce(cardinality(wallet_ids), 0)]))
$$;


-- The transactions triggers' aggregation, as in 2026-12-01-000006, calling wallet_apply
-- itself (one function call less per statement than through wallet_apply_deltas).
CREATE OR REPLACE FUNCTION ledger_apply(operation text, changes ledger_change[])
RETURNS TABLE (wallet_id bigint, balance_change_id bigint)
LANGUAGE sql
AS $$
    SELECT j.wallet_id, j.balance_change_id
    FROM (
        SELECT array_agg(w.wallet_id) AS ids, array_agg(w.delta) AS deltas,
               array_agg(w.touched) AS counts, array_agg(w.only_id) AS only_ids,
               array_agg(0::numeric) AS no_held, array_agg(0::bigint) AS no_holds,
               array_agg(NULL::bigint) AS no_hold
        FROM (
            SELECT c.wallet_id, sum(c.amount) AS delta,
                   count(DISTINCT c.transaction_id) AS touched,
                   CASE WHEN count(DISTINCT c.transaction_id) = 1
                        THEN min(c.transaction_id) END AS only_id
            FROM unnest(changes) AS c
            GROUP BY c.wallet_id
            HAVING sum(c.amount) <> 0
        ) AS w
    ) AS a
    CROSS JOIN LATERAL wallet_apply(operation, a.ids, a.deltas, a.no_held, a.counts, a.only_ids,
                                    a.no_holds, a.no_hold) AS j
$$;


-- The holds' state machine, per row, for every writer. A hold is created pending; its
-- wallet, amount, expiry and creation time never change; it leaves pending once.
CREATE FUNCTION holds_state_machine()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'pending' OR NEW.captured_amount IS NOT NULL
           OR NEW.transaction_id IS NOT NULL OR NEW.resolved_at IS NOT NULL THEN
            RAISE EXCEPTION 'a hold is created pending, with nothing captured'
                USING ERRCODE = 'check_violation', CONSTRAINT = 'holds_created_pending',
                      TABLE = 'holds';
        END IF;
        IF NEW.expires_at <= clock_timestamp() THEN
            RAISE EXCEPTION 'a hold cannot be created expired (expires_at % has passed)', NEW.expires_at
                USING ERRCODE = 'check_violation', CONSTRAINT = 'holds_expiry_future',
                      TABLE = 'holds';
        END IF;
        NEW.created_at := now();
        NEW.updated_at := now();
        RETURN NEW;
    END IF;

    IF (NEW.id, NEW.wallet_id, NEW.amount, NEW.expires_at, NEW.created_at)
       IS DISTINCT FROM (OLD.id, OLD.wallet_id, OLD.amount, OLD.expires_at, OLD.created_at) THEN
        RAISE EXCEPTION 'hold %: its wallet, amount, expiry and creation time never change', OLD.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'holds_terms_fixed', TABLE = 'holds',
                  HINT = 'Void the hold and create another.';
    END IF;

    IF OLD.status <> 'pending' THEN
        -- The one change a resolved hold takes: a capture naming the transaction it booked.
        IF OLD.status = 'captured' AND OLD.transaction_id IS NULL
           AND NEW.transaction_id IS NOT NULL AND NEW.status = 'captured'
           AND NEW.captured_amount = OLD.captured_amount THEN
            NEW.updated_at := now();
            NEW.resolved_at := OLD.resolved_at;
            RETURN NEW;
        END IF;
        -- Anything else, even a write of the values it has: two voids (or captures) of one
        -- hold racing must not both succeed.
        RAISE EXCEPTION 'hold % is %, not pending: a hold is resolved once', OLD.id, OLD.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'holds_pending', TABLE = 'holds',
                  DETAIL = format('status=%s', OLD.status);
    END IF;

    IF NEW.status = 'pending' THEN
        IF NEW.captured_amount IS NOT NULL OR NEW.transaction_id IS NOT NULL THEN
            RAISE EXCEPTION 'hold %: only a capture sets what was captured', OLD.id
                USING ERRCODE = 'check_violation', CONSTRAINT = 'holds_captured_amount_set',
                      TABLE = 'holds';
        END IF;
        NEW.resolved_at := NULL;
        RETURN NEW;
    END IF;

    IF NEW.status = 'expired' THEN
        IF OLD.expires_at IS NULL OR OLD.expires_at > clock_timestamp() THEN
            RAISE EXCEPTION 'hold % has not expired (expires_at %)', OLD.id, coalesce(OLD.expires_at::text, 'none')
                USING ERRCODE = 'check_violation', CONSTRAINT = 'holds_not_yet_expired',
                      TABLE = 'holds';
        END IF;
    ELSIF OLD.expires_at <= clock_timestamp() THEN
        RAISE EXCEPTION 'hold % expired at %: it can no longer be %', OLD.id, OLD.expires_at, NEW.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'holds_unexpired', TABLE = 'holds',
                  DETAIL = format('expires_at=%s', OLD.expires_at);
    END IF;

    IF NEW.status = 'captured' AND NOT (NEW.captured_amount > 0 AND NEW.captured_amount <= OLD.amount) THEN
        RAISE EXCEPTION 'hold %: the captured amount % must be above 0 and at most the hold''s %',
                OLD.id, NEW.captured_amount, OLD.amount
            USING ERRCODE = 'check_violation', CONSTRAINT = 'holds_capture_within_amount',
                  TABLE = 'holds', DETAIL = format('amount=%s', OLD.amount);
    END IF;
    IF NEW.status <> 'captured' AND NEW.transaction_id IS NOT NULL THEN
        RAISE EXCEPTION 'hold %: only a capture books a transaction', OLD.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'holds_captured_amount_set',
                  TABLE = 'holds';
    END IF;
    NEW.resolved_at := clock_timestamp();
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE TRIGGER holds_state_machine
    BEFORE INSERT OR UPDATE ON holds
    FOR EACH ROW EXECUTE FUNCTION holds_state_machine();

-- At commit: a captured hold names the debit that booked it, of its wallet and amount.
CREATE FUNCTION holds_check_capture_booked()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    current holds;
BEGIN
    SELECT * INTO current FROM holds WHERE id = NEW.id;
    IF current.status = 'captured' AND NOT EXISTS (
        SELECT 1 FROM transactions AS t
        WHERE t.id = current.transaction_id
          AND t.wallet_id = current.wallet_id
          AND t.amount = -current.captured_amount
    ) THEN
        RAISE EXCEPTION 'hold % is captured but names no debit of % on wallet %',
                current.id, current.captured_amount, current.wallet_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'holds_capture_booked',
                  TABLE = 'holds',
                  HINT = 'Capture with SELECT capture_hold(hold_id, amount): it releases the hold and books its debit.';
    END IF;
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER holds_capture_booked
    AFTER UPDATE ON holds
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN (NEW.status = 'captured')
    EXECUTE FUNCTION holds_check_capture_booked();


-- The held amounts, per statement: a pending row holds its amount, so a new pending version
-- adds it and an old pending version takes it back. (Changes of pending rows net to zero;
-- resolving a hold releases it.) changes are (hold_id, wallet_id, signed amount).
CREATE FUNCTION ledger_hold(operation text, changes ledger_change[])
RETURNS TABLE (wallet_id bigint, balance_change_id bigint)
LANGUAGE sql
AS $$
    SELECT j.wallet_id, j.balance_change_id
    FROM (
        SELECT array_agg(w.wallet_id) AS ids, array_agg(w.held_delta) AS held_deltas,
               array_agg(w.touched) AS counts, array_agg(w.only_id) AS only_ids
        FROM (
            SELECT c.wallet_id, sum(c.amount) AS held_delta,
                   count(DISTINCT c.transaction_id) AS touched,
                   CASE WHEN count(DISTINCT c.transaction_id) = 1
                        THEN min(c.transaction_id) END AS only_id
            FROM unnest(changes) AS c
            GROUP BY c.wallet_id
            HAVING sum(c.amount) <> 0
        ) AS w
    ) AS a
    CROSS JOIN LATERAL wallet_apply(
        operation, a.ids,
        array_fill(0::numeric, ARRAY[coalesce(cardinality(a.ids), 0)]), a.held_deltas,
        array_fill(0::bigint, ARRAY[coalesce(cardinality(a.ids), 0)]),
        array_fill(NULL::bigint, ARRAY[coalesce(cardinality(a.ids), 0)]),
        a.counts, a.only_ids) AS j
$$;

-- The before-images of the holds a statement changed or removed.
CREATE FUNCTION hold_revise(operation text, old holds[], new holds[])
RETURNS void
LANGUAGE sql
AS $$
    INSERT INTO hold_revisions (hold_id, operation, old, new, revised_at, database_xid,
                                revised_by, application, actor_key_id, actor_name)
    SELECT o.id, operation, to_jsonb(o), CASE WHEN n.id IS NOT NULL THEN to_jsonb(n) END,
           clock_timestamp(), pg_current_xact_id(), session_user,
           current_setting('application_name'), actor.key_id, actor.key_name
    FROM unnest(old) AS o
    LEFT JOIN unnest(new) AS n ON n.id = o.id
    LEFT JOIN ledger_actor() AS actor ON true
    WHERE n.id IS NULL OR to_jsonb(o) IS DISTINCT FROM to_jsonb(n)
    ORDER BY o.id
$$;

CREATE FUNCTION holds_after_insert()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM ledger_hold('hold_insert', ARRAY(
        SELECT ROW(id, wallet_id, amount)::ledger_change FROM inserted_rows
        WHERE status = 'pending'));
    RETURN NULL;
END;
$$;

CREATE FUNCTION holds_after_update()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM ledger_hold('hold_update', ARRAY(
        SELECT ROW(id, wallet_id, amount)::ledger_change FROM new_rows WHERE status = 'pending'
        UNION ALL
        SELECT ROW(id, wallet_id, -amount)::ledger_change FROM old_rows WHERE status = 'pending'));
    PERFORM hold_revise('update', ARRAY(SELECT o::holds FROM old_rows AS o),
                        ARRAY(SELECT n::holds FROM new_rows AS n));
    RETURN NULL;
END;
$$;

CREATE FUNCTION holds_after_delete()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM ledger_hold('hold_delete', ARRAY(
        SELECT ROW(id, wallet_id, -amount)::ledger_change FROM deleted_rows
        WHERE status = 'pending'));
    PERFORM hold_revise('delete', ARRAY(SELECT d::holds FROM deleted_rows AS d), '{}');
    RETURN NULL;
END;
$$;

-- TRUNCATE (before it, while the rows are there): every pending hold is released, as a
-- DELETE of every row would.
CREATE FUNCTION holds_before_truncate()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM ledger_hold('hold_truncate', ARRAY(
        SELECT ROW(id, wallet_id, -amount)::ledger_change FROM holds WHERE status = 'pending'));
    PERFORM hold_revise('truncate', ARRAY(SELECT h FROM holds AS h), '{}');
    RETURN NULL;
END;
$$;

CREATE TRIGGER holds_held_insert
    AFTER INSERT ON holds
    REFERENCING NEW TABLE AS inserted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION holds_after_insert();
CREATE TRIGGER holds_held_update
    AFTER UPDATE ON holds
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION holds_after_update();
CREATE TRIGGER holds_held_delete
    AFTER DELETE ON holds
    REFERENCING OLD TABLE AS deleted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION holds_after_delete();
CREATE TRIGGER holds_held_truncate
    BEFORE TRUNCATE ON holds
    FOR EACH STATEMENT EXECUTE FUNCTION holds_before_truncate();


-- A capture, in one call: release the hold, book its debit (txid 'hold:<id>', amount
-- -captured, all of it when captured is NULL), name the debit on the hold. Runs as the
-- caller, in the caller's transaction: the triggers judge each step as any other write.
-- Returns the debit's transaction id. The hold is locked first, so of concurrent captures
-- and voids of one hold exactly one goes through; the others see it resolved.
CREATE FUNCTION capture_hold(hold bigint, captured numeric DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    target holds;
    booked bigint;
BEGIN
    SELECT * INTO target FROM holds WHERE id = hold FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'there is no hold %', hold
            USING ERRCODE = 'no_data_found', CONSTRAINT = 'holds_exists', TABLE = 'holds';
    END IF;
    -- Under the lock: what a concurrent capture or void left.
    IF target.status <> 'pending' THEN
        RAISE EXCEPTION 'hold % is %, not pending: a hold is resolved once', hold, target.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'holds_pending', TABLE = 'holds',
                  DETAIL = format('status=%s', target.status);
    END IF;
    UPDATE holds SET status = 'captured', captured_amount = coalesce(captured, target.amount)
    WHERE id = hold;
    INSERT INTO transactions (wallet_id, txid, amount)
    VALUES (target.wallet_id, 'hold:' || hold, -coalesce(captured, target.amount))
    RETURNING id INTO booked;
    UPDATE holds SET transaction_id = booked WHERE id = hold;
    RETURN booked;
END;
$$;

COMMENT ON FUNCTION capture_hold(bigint, numeric) IS
    'Captures a pending hold: releases it and books its debit (txid hold:<id>) in one call; returns the transaction id.';

-- The sweep: marks every pending hold past its time expired (releasing it, journaled now),
-- once at a time across every session (an advisory lock; a second sweeper skips). Returns
-- how many it marked.
CREATE FUNCTION expire_holds()
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    swept bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtextextended('wallet-api expire_holds', 0)) THEN
        RETURN 0;
    END IF;
    UPDATE holds SET status = 'expired'
    WHERE status = 'pending' AND expires_at <= now();
    GET DIAGNOSTICS swept = ROW_COUNT;
    RETURN swept;
END;
$$;

COMMENT ON FUNCTION expire_holds() IS
    'Marks pending holds past expires_at expired (one sweeper at a time); returns how many.';


-- The held amount of a wallet at a time: the journal's held then, less the holds that had
-- expired by then but were swept later (or not yet). available = balance - held.
CREATE FUNCTION wallet_held_at(wallet bigint, at timestamptz)
RETURNS numeric
LANGUAGE plpgsql
STABLE
AS $$
BEGIN
    -- PL/pgSQL, so that its two lookups are planned once per session (a SQL function with
    -- sub-selects is planned at every call).
    RETURN coalesce((
        SELECT c.held
        FROM balance_changes AS c
        WHERE c.wallet_id = wallet AND c.changed_at <= at
        ORDER BY c.changed_at DESC, c.id DESC
        LIMIT 1
    ), 0::numeric) - coalesce((
        SELECT sum(h.amount)
        FROM holds AS h
        WHERE h.wallet_id = wallet AND h.expires_at <= at AND h.created_at <= at
          AND h.status IN ('pending', 'expired')
          AND (h.resolved_at IS NULL OR h.resolved_at > at)
    ), 0::numeric);
END;
$$;

-- The balance at a time, as in 2026-11-25-000003, in PL/pgSQL for the same reason.
CREATE OR REPLACE FUNCTION wallet_balance_at(wallet bigint, at timestamptz)
RETURNS numeric
LANGUAGE plpgsql
STABLE
AS $$
BEGIN
    RETURN coalesce((
        SELECT balance
        FROM balance_changes
        WHERE wallet_id = wallet AND changed_at <= at
        ORDER BY changed_at DESC, id DESC
        LIMIT 1
    ), 0::numeric);
END;
$$;


-- A balance and a held amount are written by wallet_ledger's functions only.
CREATE OR REPLACE FUNCTION wallets_refuse_balance_write()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION 'wallets.balance and wallets.held cannot be written directly (wallet %)',
            coalesce(NEW.id::text, 'new')
        USING ERRCODE = 'insufficient_privilege',
              TABLE = 'wallets',
              HINT = 'The balance is the sum of the wallet''s transactions, held the sum of its pending holds: write rows in transactions or holds instead.';
END;
$$;

DROP TRIGGER wallets_balance_guard_update ON wallets;
CREATE TRIGGER wallets_balance_guard_update
    BEFORE UPDATE OF balance, held, held_expires_at ON wallets
    FOR EACH ROW
    WHEN ((NEW.balance, NEW.held, NEW.held_expires_at)
          IS DISTINCT FROM (OLD.balance, OLD.held, OLD.held_expires_at)
          AND current_user <> 'wallet_ledger')
    EXECUTE FUNCTION wallets_refuse_balance_write();
DROP TRIGGER wallets_balance_guard_insert ON wallets;
CREATE TRIGGER wallets_balance_guard_insert
    BEFORE INSERT ON wallets
    FOR EACH ROW
    WHEN (NEW.balance <> 0 OR NEW.held <> 0 OR NEW.held_expires_at IS NOT NULL)
    EXECUTE FUNCTION wallets_refuse_balance_write();


-- The audit, now also of held: the stored held against the sum of the wallet's pending
-- holds and against its journal, the journal's running total of held, and the available
-- balance.
DROP VIEW wallet_balance_audit;
CREATE VIEW wallet_balance_audit AS
    WITH sums AS (
        SELECT wallet_id, sum(amount) AS total FROM transactions GROUP BY wallet_id
    ),
    pending AS (
        SELECT wallet_id, sum(amount) AS total, min(expires_at) AS first_expiry
        FROM holds WHERE status = 'pending' GROUP BY wallet_id
    ),
    journal AS (
        SELECT wallet_id, id, balance, delta, held, held_delta, operation,
               lag(balance, 1, 0::numeric) OVER per_wallet AS previous,
               lag(held, 1, 0::numeric) OVER per_wallet AS previous_held,
               row_number() OVER (PARTITION BY wallet_id ORDER BY id DESC) AS from_end,
               max(id) FILTER (WHERE operation = 'repair') OVER per_wallet AS last_repair
        FROM balance_changes
        WINDOW per_wallet AS (PARTITION BY wallet_id ORDER BY id
                              ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
    ),
    last_rows AS (
        SELECT wallet_id, balance, held FROM journal WHERE from_end = 1
    ),
    breaks AS (
        SELECT wallet_id, min(id) AS first_break
        FROM journal
        WHERE (balance <> previous + delta OR held <> previous_held + held_delta)
          AND id > coalesce(last_repair, 0)
        GROUP BY wallet_id
    )
    SELECT w.id AS wallet_id,
           w.balance AS stored_balance,
           coalesce(s.total, 0) AS transactions_sum,
           coalesce(l.balance, 0) AS journal_balance,
           b.first_break AS journal_break_id,
           concat_ws('; ',
               CASE WHEN w.balance < 0 THEN 'negative balance' END,
               CASE WHEN w.balance <> coalesce(s.total, 0)
                    THEN 'balance differs from the sum of its transactions' END,
               CASE WHEN w.balance <> coalesce(l.balance, 0)
                    THEN 'balance differs from its journal' END,
               CASE WHEN w.held <> coalesce(p.total, 0)
                    THEN format('held %s differs from the sum of its pending holds %s',
                                w.held, coalesce(p.total, 0)) END,
               CASE WHEN w.held <> coalesce(l.held, 0)
                    THEN format('held %s differs from its journal''s %s', w.held, coalesce(l.held, 0)) END,
               CASE WHEN w.balance - coalesce(p.total, 0) < 0
                    THEN 'negative available balance' END,
               CASE WHEN w.held_expires_at IS DISTINCT FROM p.first_expiry
                    THEN 'held_expires_at differs from its pending holds'' first expiry' END,
               CASE WHEN b.first_break IS NOT NULL
                    THEN format('journal running total breaks at balance change %s', b.first_break) END
           ) AS problem,
           w.held AS stored_held,
           coalesce(p.total, 0) AS holds_sum
    FROM wallets AS w
    LEFT JOIN sums AS s ON s.wallet_id = w.id
    LEFT JOIN pending AS p ON p.wallet_id = w.id
    LEFT JOIN last_rows AS l ON l.wallet_id = w.id
    LEFT JOIN breaks AS b ON b.wallet_id = w.id
    WHERE w.balance < 0
       OR w.balance <> coalesce(s.total, 0)
       OR w.balance <> coalesce(l.balance, 0)
       OR w.held <> coalesce(p.total, 0)
       OR w.held <> coalesce(l.held, 0)
       OR w.balance - coalesce(p.total, 0) < 0
       OR w.held_expires_at IS DISTINCT FROM p.first_expiry
       OR b.first_break IS NOT NULL
  UNION ALL
    SELECT t.wallet_id, NULL, sum(t.amount), NULL, NULL,
           'transactions refer to a wallet that does not exist', NULL, NULL
    FROM transactions AS t
    WHERE NOT EXISTS (SELECT 1 FROM wallets AS w WHERE w.id = t.wallet_id)
    GROUP BY t.wallet_id;


-- Repair, now also of held: for every wallet the audit flags, the balance its transactions
-- add up to and the held its pending holds add up to, written with one journal row whose
-- deltas continue the journal's running totals to the repaired values.
DROP FUNCTION wallet_repair(boolean);
CREATE FUNCTION wallet_repair(apply boolean DEFAULT false)
RETURNS TABLE (wallet_id bigint, stored_balance numeric, repaired_balance numeric,
               journal_balance numeric, balance_change_id bigint,
               stored_held numeric, repaired_held numeric)
LANGUAGE plpgsql
AS $$
DECLARE
    flagged bigint[];
    fix record;
    journal_id bigint;
BEGIN
    SELECT array_agg(a.wallet_id ORDER BY a.wallet_id) INTO flagged
    FROM wallet_balance_audit AS a
    WHERE a.stored_balance IS NOT NULL;
    IF flagged IS NULL THEN
        RETURN;
    END IF;
    IF apply THEN
        PERFORM 1 FROM wallets AS w WHERE w.id = ANY (flagged) ORDER BY w.id FOR NO KEY UPDATE;
    END IF;

    -- Recomputed now, under the locks: this query sees what the writers waited for committed.
    FOR fix IN
        SELECT w.id, w.balance AS stored, w.held AS stored_held,
               coalesce((SELECT sum(t.amount) FROM transactions AS t WHERE t.wallet_id = w.id), 0) AS correct,
               coalesce((SELECT sum(h.amount) FROM holds AS h
                         WHERE h.wallet_id = w.id AND h.status = 'pending'), 0) AS correct_held,
               coalesce(j.balance, 0) AS journaled,
               coalesce(j.held, 0) AS journaled_held
        FROM wallets AS w
        LEFT JOIN LATERAL (
            SELECT c.balance, c.held FROM balance_changes AS c WHERE c.wallet_id = w.id
            ORDER BY c.id DESC LIMIT 1
        ) AS j ON true
        WHERE w.id = ANY (flagged)
        ORDER BY w.id
    LOOP
        journal_id := NULL;
        IF apply THEN
            IF fix.correct < 0 THEN
                RAISE EXCEPTION 'wallet %: its transactions add up to %, below zero; repair its transactions first',
                        fix.id, fix.correct
                    USING ERRCODE = 'check_violation',
                          CONSTRAINT = 'wallets_balance_nonnegative',
                          DETAIL = format('wallet_id=%s', fix.id);
            END IF;
            UPDATE wallets AS w
            SET balance = fix.correct, held = fix.correct_held,
                held_expires_at = (SELECT min(h.expires_at) FROM holds AS h
                                   WHERE h.wallet_id = w.id AND h.status = 'pending'),
                updated_at = now()
            WHERE w.id = fix.id;
            INSERT INTO balance_changes AS c (wallet_id, delta, balance, held_delta, held, operation,
                                              transaction_count, transaction_id, changed_at,
                                              database_xid, changed_by, application,
                                              repaired_from)
            VALUES (fix.id, fix.correct - fix.journaled, fix.correct,
                    fix.correct_held - fix.journaled_held, fix.correct_held, 'repair', 0, NULL,
                    clock_timestamp(), pg_current_xact_id(), session_user,
                    current_setting('application_name'), fix.stored)
            RETURNING c.id INTO journal_id;
        END IF;
        wallet_id := fix.id;
        stored_balance := fix.stored;
        repaired_balance := fix.correct;
        journal_balance := fix.journaled;
        balance_change_id := journal_id;
        stored_held := fix.stored_held;
        repaired_held := fix.correct_held;
        RETURN NEXT;
    END LOOP;
END;
$$;


-- Ownership and privileges, as for the balance: the functions that write held, the journal
-- and the revisions are wallet_ledger's, with a pinned search_path; the trigger functions
-- run as their owner.
GRANT SELECT ON holds TO wallet_ledger;
GRANT SELECT ON wallet_balance_audit TO wallet_ledger;
GRANT UPDATE (held, held_expires_at) ON wallets TO wallet_ledger;
GRANT INSERT ON hold_revisions TO wallet_ledger;

DO $$
DECLARE
    definer text;
BEGIN
    FOREACH definer IN ARRAY ARRAY[
        'wallet_apply(text, bigint[], numeric[], numeric[], bigint[], bigint[], bigint[], bigint[])',
        'wallet_apply_deltas(text, bigint[], numeric[], bigint[], bigint[])',
        'ledger_apply(text, ledger_change[])',
        'ledger_hold(text, ledger_change[])',
        'hold_revise(text, holds[], holds[])',
        'holds_after_insert()',
        'holds_after_update()',
        'holds_after_delete()',
        'holds_before_truncate()',
        'wallet_repair(boolean)'
    ] LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO wallet_ledger', definer);
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', definer);
        IF definer LIKE 'holds\_%' OR definer = 'wallet_repair(boolean)' THEN
            EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER', definer);
        END IF;
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', definer, current_schema());
    END LOOP;
    -- Run as the caller (the caller's rights and row-level security apply), a pinned
    -- search_path all the same. (Not the SQL functions reads call: a pinned search_path
    -- would keep the planner from inlining them, and they run as their caller anyway.)
    FOREACH definer IN ARRAY ARRAY[
        'holds_state_machine()',
        'holds_check_capture_booked()',
        'capture_hold(bigint, numeric)',
        'expire_holds()',
        'wallet_held_at(bigint, timestamptz)'
    ] LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', definer, current_schema());
    END LOOP;
END;
$$;

-- Fire even under session_replication_role = replica.
ALTER TABLE holds ENABLE ALWAYS TRIGGER holds_state_machine;
ALTER TABLE holds ENABLE ALWAYS TRIGGER holds_capture_booked;
ALTER TABLE holds ENABLE ALWAYS TRIGGER holds_held_insert;
ALTER TABLE holds ENABLE ALWAYS TRIGGER holds_held_update;
ALTER TABLE holds ENABLE ALWAYS TRIGGER holds_held_delete;
ALTER TABLE holds ENABLE ALWAYS TRIGGER holds_held_truncate;
ALTER TABLE wallets ENABLE ALWAYS TRIGGER wallets_balance_guard_update;
ALTER TABLE wallets ENABLE ALWAYS TRIGGER wallets_balance_guard_insert;
ALTER TABLE hold_revisions ENABLE ALWAYS TRIGGER hold_revisions_append_only;
ALTER TABLE hold_revisions ENABLE ALWAYS TRIGGER hold_revisions_no_truncate;


-- Wallet-limited keys see and touch their wallets' holds only, as their transactions.
ALTER TABLE holds ENABLE ROW LEVEL SECURITY;
CREATE POLICY holds_visible ON holds
    USING ((SELECT wallet_api_wallets()) IS NULL OR wallet_id = ANY ((SELECT wallet_api_wallets())::bigint[]))
    WITH CHECK ((SELECT wallet_api_wallets()) IS NULL OR wallet_id = ANY ((SELECT wallet_api_wallets())::bigint[]));

-- What each role may do with holds. The service and writers create holds and resolve them
-- (capture_hold, or status voided); they cannot delete one, or change its terms.
GRANT SELECT, INSERT, UPDATE (status, captured_amount, transaction_id) ON holds TO wallet_service, wallet_writer;
GRANT SELECT ON holds_now, wallet_balances TO wallet_service, wallet_reader;
GRANT SELECT ON holds, hold_revisions TO wallet_reader;
