-- What nobody writes directly: a wallet's balance and held amount (the engine's alone), and
-- the journal and the revisions (append-only). A wallet's label and metadata changes are on
-- record (wallet_revisions), and so are its credit limit's; each touches its updated_at.


-- A balance and a held amount are written by wallet_ledger's functions only (the guard's
-- WHEN admits that role; anyone else's write of them is refused, SQLSTATE 42501).
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


CREATE OR REPLACE TRIGGER wallets_balance_guard_update
    BEFORE UPDATE OF balance, held, held_expires_at ON wallets
    FOR EACH ROW
    WHEN ((NEW.balance, NEW.held, NEW.held_expires_at)
          IS DISTINCT FROM (OLD.balance, OLD.held, OLD.held_expires_at)
          AND current_user <> 'wallet_ledger')
    EXECUTE FUNCTION wallets_refuse_balance_write();
CREATE OR REPLACE TRIGGER wallets_balance_guard_insert
    BEFORE INSERT ON wallets
    FOR EACH ROW
    WHEN (NEW.balance <> 0 OR NEW.held <> 0 OR NEW.held_expires_at IS NOT NULL)
    EXECUTE FUNCTION wallets_refuse_balance_write();

-- A wallet's label or metadata changed, in SQL or by the API: a fresh updated_at, and a
-- revision. Row triggers whose WHEN is false for the engine's balance writes: a booking pays
-- nothing for them.
CREATE OR REPLACE FUNCTION wallets_touch_updated_at()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE OR REPLACE FUNCTION wallets_revise()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
BEGIN
    INSERT INTO wallet_revisions (wallet_id, old_label, new_label, old_metadata, new_metadata,
                                  revised_at, database_xid, revised_by, application,
                                  actor_key_id, actor_name, old_credit_limit, new_credit_limit)
    SELECT OLD.id, OLD.label, NEW.label, OLD.metadata, NEW.metadata,
           clock_timestamp(), pg_current_xact_id(), session_user,
           current_setting('application_name'), actor.key_id, actor.key_name,
           OLD.credit_limit, NEW.credit_limit
    FROM (SELECT 1) AS one
    LEFT JOIN ledger_actor() AS actor ON true;
    RETURN NULL;
END;
$$;


CREATE OR REPLACE TRIGGER wallets_label_touch
    BEFORE UPDATE OF label, metadata, credit_limit ON wallets
    FOR EACH ROW
    WHEN ((NEW.label, NEW.metadata, NEW.credit_limit) IS DISTINCT FROM (OLD.label, OLD.metadata, OLD.credit_limit))
    EXECUTE FUNCTION wallets_touch_updated_at();
CREATE OR REPLACE TRIGGER wallets_revise
    AFTER UPDATE OF label, metadata, credit_limit ON wallets
    FOR EACH ROW
    WHEN ((OLD.label, OLD.metadata, OLD.credit_limit) IS DISTINCT FROM (NEW.label, NEW.metadata, NEW.credit_limit))
    EXECUTE FUNCTION wallets_revise();

-- The journal and the revisions are append-only.
CREATE OR REPLACE FUNCTION ledger_refuse_rewrite()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: its rows cannot be changed or removed (% refused)',
            TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              TABLE = TG_TABLE_NAME,
              HINT = 'The journal is the record of every balance change; wallet-api repair appends a repair row when a balance must be put right.';
END;
$$;


CREATE OR REPLACE TRIGGER balance_changes_append_only
    BEFORE UPDATE OR DELETE ON balance_changes
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_rewrite();
CREATE OR REPLACE TRIGGER balance_changes_no_truncate
    BEFORE TRUNCATE ON balance_changes
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_rewrite();
CREATE OR REPLACE TRIGGER transaction_revisions_append_only
    BEFORE UPDATE OR DELETE ON transaction_revisions
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_rewrite();
CREATE OR REPLACE TRIGGER transaction_revisions_no_truncate
    BEFORE TRUNCATE ON transaction_revisions
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_rewrite();
CREATE OR REPLACE TRIGGER hold_revisions_append_only
    BEFORE UPDATE OR DELETE ON hold_revisions
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_rewrite();
CREATE OR REPLACE TRIGGER hold_revisions_no_truncate
    BEFORE TRUNCATE ON hold_revisions
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_rewrite();
CREATE OR REPLACE TRIGGER wallet_revisions_append_only
    BEFORE UPDATE OR DELETE ON wallet_revisions
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_rewrite();
CREATE OR REPLACE TRIGGER wallet_revisions_no_truncate
    BEFORE TRUNCATE ON wallet_revisions
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_rewrite();

ALTER TABLE wallets ENABLE ALWAYS TRIGGER wallets_balance_guard_update;
ALTER TABLE wallets ENABLE ALWAYS TRIGGER wallets_balance_guard_insert;
ALTER TABLE wallets ENABLE ALWAYS TRIGGER wallets_label_touch;
ALTER TABLE wallets ENABLE ALWAYS TRIGGER wallets_revise;
ALTER TABLE balance_changes ENABLE ALWAYS TRIGGER balance_changes_append_only;
ALTER TABLE balance_changes ENABLE ALWAYS TRIGGER balance_changes_no_truncate;
ALTER TABLE transaction_revisions ENABLE ALWAYS TRIGGER transaction_revisions_append_only;
ALTER TABLE transaction_revisions ENABLE ALWAYS TRIGGER transaction_revisions_no_truncate;
ALTER TABLE hold_revisions ENABLE ALWAYS TRIGGER hold_revisions_append_only;
ALTER TABLE hold_revisions ENABLE ALWAYS TRIGGER hold_revisions_no_truncate;
ALTER TABLE wallet_revisions ENABLE ALWAYS TRIGGER wallet_revisions_append_only;
ALTER TABLE wallet_revisions ENABLE ALWAYS TRIGGER wallet_revisions_no_truncate;

DO $$
BEGIN
    ALTER FUNCTION wallets_revise() OWNER TO wallet_ledger;
    REVOKE EXECUTE ON FUNCTION wallets_revise() FROM PUBLIC;
    EXECUTE format('ALTER FUNCTION wallets_revise() SET search_path = %I, pg_temp', current_schema());
END;
$$;
