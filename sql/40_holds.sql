-- Holds reserve money: pending until captured (booked, all or part), voided, or expired.
--
--  * A row trigger (holds_state_machine) keeps every writer to the state machine: a hold is
--    created pending; its wallet, amount, expiry and creation time never change; it leaves
--    pending once (holds_pending), never after its expires_at (holds_unexpired), and is
--    marked expired only once its time has passed; what it captures is exact at its
--    wallet's scale (holds_captured_amount_scale). Its metadata may change in any state.
--  * Statement-level triggers hand the pending amounts to the engine (20_balances.sql): a
--    hold larger than the available money is refused, and a debit cannot spend held money.
--  * capture_hold(hold, amount) releases the hold and books its debit (txid 'hold:<id>') in
--    one call; a deferred check refuses, at commit, a hold marked captured without the debit
--    that matches it.
--  * hold_revisions keeps the before-image of every hold an UPDATE changed, a DELETE removed
--    or a TRUNCATE emptied.


CREATE OR REPLACE FUNCTION holds_state_machine()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    wallet record;
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

    -- A change of its metadata alone, in any state.
    IF NEW.metadata IS DISTINCT FROM OLD.metadata
       AND (NEW.status, NEW.captured_amount, NEW.transaction_id)
           IS NOT DISTINCT FROM (OLD.status, OLD.captured_amount, OLD.transaction_id) THEN
        NEW.resolved_at := OLD.resolved_at;
        NEW.updated_at := now();
        RETURN NEW;
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
    IF NEW.status = 'captured' THEN
        SELECT w.currency, w.scale INTO wallet FROM wallets AS w WHERE w.id = OLD.wallet_id;
        IF min_scale(NEW.captured_amount) > wallet.scale THEN
            PERFORM ledger_refuse_precision('holds_captured_amount_scale', OLD.wallet_id,
                                            wallet.currency, wallet.scale,
                                            min_scale(NEW.captured_amount));
        END IF;
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


-- At commit: a captured hold names the debit that booked it, of its wallet and amount.
CREATE OR REPLACE FUNCTION holds_check_capture_booked()
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


-- The before-images of the holds a statement changed or removed.
CREATE OR REPLACE FUNCTION hold_revise(operation text, old holds[], new holds[])
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

CREATE OR REPLACE FUNCTION holds_after_insert()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
BEGIN
    PERFORM ledger_hold('hold_insert', ARRAY(
        SELECT ROW(id, wallet_id, amount)::ledger_change FROM inserted_rows
        WHERE status = 'pending'));
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION holds_after_update()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
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

CREATE OR REPLACE FUNCTION holds_after_delete()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
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
CREATE OR REPLACE FUNCTION holds_before_truncate()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
BEGIN
    PERFORM ledger_hold('hold_truncate', ARRAY(
        SELECT ROW(id, wallet_id, -amount)::ledger_change FROM holds WHERE status = 'pending'));
    PERFORM hold_revise('truncate', ARRAY(SELECT h FROM holds AS h), '{}');
    RETURN NULL;
END;
$$;


-- A capture, in one call: release the hold, book its debit (txid 'hold:<id>', amount
-- -captured, all of it when captured is NULL), name the debit on the hold. Runs as the
-- caller, in the caller's transaction: the triggers judge each step as any other write.
-- The hold is locked first, so of concurrent captures and voids of one hold exactly one goes
-- through; the others see it resolved.
CREATE OR REPLACE FUNCTION capture_hold(hold bigint, captured numeric DEFAULT NULL::numeric)
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

COMMENT ON FUNCTION capture_hold(hold bigint, captured numeric) IS
    'Captures a pending hold: releases it and books its debit (txid hold:<id>) in one call; returns the transaction id.';


-- The sweep: marks every pending hold past its time expired (releasing it, journaled now),
-- one sweeper at a time across every session (an advisory lock; a second one skips).
CREATE OR REPLACE FUNCTION expire_holds()
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


CREATE OR REPLACE TRIGGER holds_state_machine
    BEFORE INSERT OR UPDATE ON holds
    FOR EACH ROW EXECUTE FUNCTION holds_state_machine();
-- (A constraint trigger cannot be replaced in place.)
DROP TRIGGER IF EXISTS holds_capture_booked ON holds;
CREATE CONSTRAINT TRIGGER holds_capture_booked
    AFTER UPDATE ON holds
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN (NEW.status = 'captured')
    EXECUTE FUNCTION holds_check_capture_booked();
CREATE OR REPLACE TRIGGER holds_held_insert
    AFTER INSERT ON holds
    REFERENCING NEW TABLE AS inserted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION holds_after_insert();
CREATE OR REPLACE TRIGGER holds_held_update
    AFTER UPDATE ON holds
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION holds_after_update();
CREATE OR REPLACE TRIGGER holds_held_delete
    AFTER DELETE ON holds
    REFERENCING OLD TABLE AS deleted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION holds_after_delete();
CREATE OR REPLACE TRIGGER holds_held_truncate
    BEFORE TRUNCATE ON holds
    FOR EACH STATEMENT EXECUTE FUNCTION holds_before_truncate();

ALTER TABLE holds ENABLE ALWAYS TRIGGER holds_state_machine;
ALTER TABLE holds ENABLE ALWAYS TRIGGER holds_capture_booked;
ALTER TABLE holds ENABLE ALWAYS TRIGGER holds_held_insert;
ALTER TABLE holds ENABLE ALWAYS TRIGGER holds_held_update;
ALTER TABLE holds ENABLE ALWAYS TRIGGER holds_held_delete;
ALTER TABLE holds ENABLE ALWAYS TRIGGER holds_held_truncate;

DO $$
DECLARE
    definer text;
BEGIN
    -- Written by wallet_ledger: the held amounts, the journal, the revisions.
    FOREACH definer IN ARRAY ARRAY[
        'hold_revise(text, holds[], holds[])',
        'holds_after_insert()',
        'holds_after_update()',
        'holds_after_delete()',
        'holds_before_truncate()'
    ] LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO wallet_ledger', definer);
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', definer);
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', definer, current_schema());
    END LOOP;
    -- Run as the caller (the caller's rights and row-level security apply), a pinned
    -- search_path all the same.
    FOREACH definer IN ARRAY ARRAY[
        'holds_state_machine()',
        'holds_check_capture_booked()',
        'capture_hold(bigint, numeric)',
        'expire_holds()'
    ] LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', definer, current_schema());
    END LOOP;
END;
$$;
