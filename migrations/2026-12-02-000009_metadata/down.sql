-- Back to before metadata: the columns, their indexes and the wallets' revisions go.

DROP FUNCTION metadata_ids(text, jsonb[], text, integer);
DROP TRIGGER wallets_revise ON wallets;
DROP FUNCTION wallets_revise();
DROP TABLE wallet_revisions;

DROP TRIGGER wallets_label_touch ON wallets;
CREATE TRIGGER wallets_label_touch
    BEFORE UPDATE OF label ON wallets
    FOR EACH ROW
    WHEN (NEW.label IS DISTINCT FROM OLD.label)
    EXECUTE FUNCTION wallets_touch_updated_at();
ALTER TABLE wallets ENABLE ALWAYS TRIGGER wallets_label_touch;

DROP VIEW holds_now;
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
GRANT SELECT ON holds_now TO wallet_service, wallet_reader;

-- As in 2026-12-01-000007 (with the rows' metadata gone, the transactions row type is as then).
ALTER TABLE transaction_revisions DROP COLUMN old_metadata, DROP COLUMN new_metadata;
ALTER TABLE wallets DROP COLUMN metadata;
ALTER TABLE transactions DROP COLUMN metadata;
ALTER TABLE holds DROP COLUMN metadata;
DROP FUNCTION metadata_valid(jsonb);

CREATE OR REPLACE FUNCTION ledger_revise(operation text, old transactions[], new transactions[],
                                         journal_wallets bigint[], journal_rows bigint[])
RETURNS void
LANGUAGE sql
AS $$
    INSERT INTO transaction_revisions (transaction_id, operation,
                                       old_wallet_id, old_txid, old_amount, old_created_at,
                                       new_wallet_id, new_txid, new_amount, new_created_at,
                                       old_balance_change_id, new_balance_change_id,
                                       revised_at, database_xid, revised_by, application,
                                       actor_key_id, actor_name)
    SELECT o.id, operation,
           o.wallet_id, o.txid, o.amount, o.created_at,
           n.wallet_id, n.txid, n.amount, n.created_at,
           oj.id, nj.id,
           clock_timestamp(), pg_current_xact_id(), session_user, current_setting('application_name'),
           actor.key_id, actor.key_name
    FROM unnest(old) AS o
    LEFT JOIN unnest(new) AS n ON n.id = o.id
    LEFT JOIN unnest(journal_wallets, journal_rows) AS oj (wallet_id, id) ON oj.wallet_id = o.wallet_id
    LEFT JOIN unnest(journal_wallets, journal_rows) AS nj (wallet_id, id) ON nj.wallet_id = n.wallet_id
    LEFT JOIN ledger_actor() AS actor ON true
    WHERE n.id IS NULL
       OR (o.wallet_id, o.txid, o.amount, o.created_at)
          IS DISTINCT FROM (n.wallet_id, n.txid, n.amount, n.created_at)
    ORDER BY o.id
$$;

-- As in 2026-12-02-000008.
CREATE OR REPLACE FUNCTION holds_state_machine()
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

DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION ledger_revise(text, transactions[], transactions[], bigint[], bigint[]) SET search_path = %I, pg_temp', current_schema());
    EXECUTE format('ALTER FUNCTION holds_state_machine() SET search_path = %I, pg_temp', current_schema());
END;
$$;
