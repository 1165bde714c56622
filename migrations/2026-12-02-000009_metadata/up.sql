-- Metadata: the client's own keys and values on wallets, transactions and holds.
--
-- Promise, on top of the previous migrations':
--  * Each of them has `metadata`, a JSON object of at most 50 keys, each 1 to 40 characters
--    (no control characters, U+0001-U+001F and U+007F-U+009F; no brackets; not ending
--    ".exists"), each value a string of at most 500 characters. metadata_valid() says so,
--    as a CHECK constraint: every writer meets the same limits.
--  * A GIN index on each (jsonb_ops: containment and key existence) serves the filters
--    `metadata @> '{"key": "value"}'` and `metadata ? 'key'`.
--  * A metadata change never touches a balance or the journal. A transaction's is a revision
--    (old_metadata, new_metadata in transaction_revisions), a hold's is in hold_revisions (its
--    whole row, as before), a wallet's is a row of wallet_revisions (with its label), whoever
--    makes it.

CREATE FUNCTION metadata_valid(metadata jsonb)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
AS $$
    SELECT jsonb_typeof(metadata) = 'object'
       AND (SELECT count(*) FROM jsonb_each(metadata)) <= 50
       AND NOT EXISTS (
           SELECT 1 FROM jsonb_each(metadata) AS e
           WHERE char_length(e.key) NOT BETWEEN 1 AND 40
              OR e.key ~ '[\u0001-\u001f\u007f-\u009f\[\]]'
              OR e.key LIKE '%.exists'
              OR jsonb_typeof(e.value) <> 'string'
              OR char_length(e.value #>> '{}') > 500
       )
$$;

COMMENT ON FUNCTION metadata_valid(jsonb) IS
    'Whether a metadata object is within the limits: at most 50 keys of 1-40 characters (no control characters, no brackets, not ending .exists), string values of at most 500 characters.';

ALTER TABLE wallets ADD COLUMN metadata jsonb NOT NULL DEFAULT '{}'
    CONSTRAINT wallets_metadata_valid CHECK (metadata_valid(metadata));
ALTER TABLE transactions ADD COLUMN metadata jsonb NOT NULL DEFAULT '{}'
    CONSTRAINT transactions_metadata_valid CHECK (metadata_valid(metadata));
ALTER TABLE holds ADD COLUMN metadata jsonb NOT NULL DEFAULT '{}'
    CONSTRAINT holds_metadata_valid CHECK (metadata_valid(metadata));

CREATE INDEX wallets_metadata_idx ON wallets USING gin (metadata);
CREATE INDEX transactions_metadata_idx ON transactions USING gin (metadata);
CREATE INDEX holds_metadata_idx ON holds USING gin (metadata);

-- holds_now, with the new column.
CREATE OR REPLACE VIEW holds_now WITH (security_invoker = true) AS
    SELECT h.id, h.wallet_id, h.amount,
           CASE WHEN h.status = 'pending' AND h.expires_at <= now() THEN 'expired'
                ELSE h.status END AS status,
           h.captured_amount, h.transaction_id, h.expires_at, h.created_at, h.updated_at,
           CASE WHEN h.status = 'pending' AND h.expires_at <= now() THEN h.expires_at
                ELSE h.resolved_at END AS resolved_at,
           h.metadata
    FROM holds AS h;


-- The ids of the rows of `resource` the current statement may see (as the policies of
-- 2026-12-01-000007 say) whose metadata holds one of the objects in `contains`, or has the key
-- `has_key`: at most `cap` of them, or NULL when more match. The service reads a filtered page
-- by these ids. Its role is subject to row-level security, under which PostgreSQL never uses
-- an index for an operator that is not leakproof, and neither @> nor ? is: the page would
-- filter every row of the table. This function belongs to the tables' owner, whom the
-- policies do not bind, so its query reads the GIN index, and it applies their condition
-- itself. Beyond `cap` matches the page is read as it stands (a common value fills a page
-- soon, in any order).
CREATE FUNCTION metadata_ids(resource text, contains jsonb[], has_key text, cap integer)
RETURNS bigint[]
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
AS $$
DECLARE
    owner_column text;
    matches text;
    ids bigint[];
BEGIN
    owner_column := CASE resource WHEN 'wallets' THEN 'id'
                                  WHEN 'transactions' THEN 'wallet_id'
                                  WHEN 'holds' THEN 'wallet_id' END;
    IF owner_column IS NULL THEN
        RAISE EXCEPTION 'metadata_ids: % has no metadata', resource USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF has_key IS NOT NULL THEN
        matches := 'metadata ? $2';
    ELSIF cardinality(contains) > 0 THEN
        SELECT string_agg(format('metadata @> $1[%s]', i), ' OR ')
        INTO matches
        FROM generate_subscripts(contains, 1) AS i;
    ELSE
        RETURN '{}';
    END IF;
    -- Planned with the values each time (EXECUTE), so that the planner weighs them.
    EXECUTE format(
        'SELECT array_agg(id) FROM (SELECT id FROM %I WHERE (%s) '
        'AND (wallet_api_wallets() IS NULL OR %I = ANY (wallet_api_wallets())) LIMIT $3 + 1) AS m',
        resource, matches, owner_column)
    INTO ids
    USING contains, has_key, cap;
    IF cardinality(ids) > cap THEN
        RETURN NULL;
    END IF;
    RETURN coalesce(ids, '{}');
END;
$$;

COMMENT ON FUNCTION metadata_ids(text, jsonb[], text, integer) IS
    'The ids of the visible rows of wallets, transactions or holds whose metadata holds one of the objects given (or has the key given): at most cap, or NULL when more match.';


-- A transaction's metadata, before and after, in its revisions.
ALTER TABLE transaction_revisions ADD COLUMN old_metadata jsonb, ADD COLUMN new_metadata jsonb;

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
                                       actor_key_id, actor_name, old_metadata, new_metadata)
    SELECT o.id, operation,
           o.wallet_id, o.txid, o.amount, o.created_at,
           n.wallet_id, n.txid, n.amount, n.created_at,
           oj.id, nj.id,
           clock_timestamp(), pg_current_xact_id(), session_user, current_setting('application_name'),
           actor.key_id, actor.key_name, o.metadata, n.metadata
    FROM unnest(old) AS o
    LEFT JOIN unnest(new) AS n ON n.id = o.id
    LEFT JOIN unnest(journal_wallets, journal_rows) AS oj (wallet_id, id) ON oj.wallet_id = o.wallet_id
    LEFT JOIN unnest(journal_wallets, journal_rows) AS nj (wallet_id, id) ON nj.wallet_id = n.wallet_id
    LEFT JOIN ledger_actor() AS actor ON true
    WHERE n.id IS NULL
       OR (o.wallet_id, o.txid, o.amount, o.created_at, o.metadata)
          IS DISTINCT FROM (n.wallet_id, n.txid, n.amount, n.created_at, n.metadata)
    ORDER BY o.id
$$;


-- A wallet's label and metadata changes. A row trigger whose WHEN is false for the balance
-- writes: a booking pays nothing for it.
CREATE TABLE wallet_revisions (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    wallet_id    bigint NOT NULL,
    old_label    text NOT NULL,
    new_label    text NOT NULL,
    old_metadata jsonb NOT NULL,
    new_metadata jsonb NOT NULL,
    revised_at   timestamptz NOT NULL,
    database_xid xid8 NOT NULL,
    revised_by   text NOT NULL,
    application  text NOT NULL,
    actor_key_id bigint CONSTRAINT wallet_revisions_actor_key_id_fkey REFERENCES api_keys (id),
    actor_name   text
);

COMMENT ON TABLE wallet_revisions IS
    'Append-only before-images (and after-images) of every change of a wallet''s label or metadata.';

CREATE INDEX wallet_revisions_wallet_id_idx ON wallet_revisions (wallet_id, id);

CREATE TRIGGER wallet_revisions_append_only
    BEFORE UPDATE OR DELETE ON wallet_revisions
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_rewrite();
CREATE TRIGGER wallet_revisions_no_truncate
    BEFORE TRUNCATE ON wallet_revisions
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_rewrite();

CREATE FUNCTION wallets_revise()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO wallet_revisions (wallet_id, old_label, new_label, old_metadata, new_metadata,
                                  revised_at, database_xid, revised_by, application,
                                  actor_key_id, actor_name)
    SELECT OLD.id, OLD.label, NEW.label, OLD.metadata, NEW.metadata,
           clock_timestamp(), pg_current_xact_id(), session_user,
           current_setting('application_name'), actor.key_id, actor.key_name
    FROM (SELECT 1) AS one
    LEFT JOIN ledger_actor() AS actor ON true;
    RETURN NULL;
END;
$$;

CREATE TRIGGER wallets_revise
    AFTER UPDATE OF label, metadata ON wallets
    FOR EACH ROW
    WHEN ((OLD.label, OLD.metadata) IS DISTINCT FROM (NEW.label, NEW.metadata))
    EXECUTE FUNCTION wallets_revise();


-- A wallet's metadata changed, in SQL or by the API, gets a fresh updated_at too, as its label
-- does.
DROP TRIGGER wallets_label_touch ON wallets;
CREATE TRIGGER wallets_label_touch
    BEFORE UPDATE OF label, metadata ON wallets
    FOR EACH ROW
    WHEN ((NEW.label, NEW.metadata) IS DISTINCT FROM (OLD.label, OLD.metadata))
    EXECUTE FUNCTION wallets_touch_updated_at();
ALTER TABLE wallets ENABLE ALWAYS TRIGGER wallets_label_touch;


-- A hold's metadata may change in any state: only it, with the rest as it is.
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
    ALTER FUNCTION ledger_revise(text, transactions[], transactions[], bigint[], bigint[]) OWNER TO wallet_ledger;
    REVOKE EXECUTE ON FUNCTION ledger_revise(text, transactions[], transactions[], bigint[], bigint[]) FROM PUBLIC;
    EXECUTE format('ALTER FUNCTION ledger_revise(text, transactions[], transactions[], bigint[], bigint[]) SET search_path = %I, pg_temp', current_schema());
    ALTER FUNCTION wallets_revise() OWNER TO wallet_ledger;
    REVOKE EXECUTE ON FUNCTION wallets_revise() FROM PUBLIC;
    ALTER FUNCTION wallets_revise() SECURITY DEFINER;
    EXECUTE format('ALTER FUNCTION wallets_revise() SET search_path = %I, pg_temp', current_schema());
    EXECUTE format('ALTER FUNCTION holds_state_machine() SET search_path = %I, pg_temp', current_schema());
    EXECUTE format('ALTER FUNCTION metadata_valid(jsonb) SET search_path = %I, pg_temp', current_schema());
    EXECUTE format('ALTER FUNCTION metadata_ids(text, jsonb[], text, integer) SET search_path = %I, pg_temp', current_schema());
END;
$$;

GRANT INSERT ON wallet_revisions TO wallet_ledger;
ALTER TABLE wallets ENABLE ALWAYS TRIGGER wallets_revise;
ALTER TABLE wallet_revisions ENABLE ALWAYS TRIGGER wallet_revisions_append_only;
ALTER TABLE wallet_revisions ENABLE ALWAYS TRIGGER wallet_revisions_no_truncate;

GRANT UPDATE (metadata) ON wallets, transactions, holds TO wallet_service, wallet_writer;
GRANT SELECT ON wallet_revisions TO wallet_reader;
REVOKE EXECUTE ON FUNCTION metadata_ids(text, jsonb[], text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION metadata_ids(text, jsonb[], text, integer) TO wallet_service, wallet_reader;
