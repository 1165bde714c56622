-- Access control, down to the database: API keys, who wrote what, least-privilege roles, and
-- wallet-limited keys enforced by row-level security.
--
-- Promise, on top of the previous migrations':
--  * api_keys holds the service's clients: a name, scopes (read, write, admin), the wallets a
--    key is limited to (none: every wallet), an expiry and a revocation. A key's secret is
--    shown once and never stored: only its SHA-256 (a fast hash suffices for a random
--    256-bit secret: nothing short of the secret itself hashes to it) and its first
--    characters, to tell keys apart.
--  * Every balance change and every revision records the key it was made for (actor_key_id,
--    actor_name): the service names the key of each database transaction it runs in the
--    setting wallet_api.actor, and the triggers record it. Only a session of a member of
--    wallet_service (the service's roles) can name a key: anyone else's setting is ignored,
--    and a write made directly in SQL records no key (changed_by names its database user).
--  * A wallet-limited key sees and touches only its wallets, whatever the statement: the
--    service names them in wallet_api.wallets, and row-level security on wallets,
--    transactions and balance_changes keeps every other row out of reads and refuses writes
--    that would put one there. The setting is transaction-local; when it is not set (a key
--    of every wallet, an operator in psql) every row is visible.
--  * Stored responses of Idempotency-Key requests belong to the key that sent them: the same
--    key value from two API keys names two requests. (Responses stored before this
--    migration belong to no key, api_key_id 0, which is also the key of a service run with
--    authentication off.)
--  * Roles, NOLOGIN, for login roles to be members of:
--      wallet_service  what the service needs: reads, and writes of transactions, wallet
--                      labels, stored responses and keys. It cannot write a balance, the
--                      journal or the revisions, disable a trigger or truncate a table.
--      wallet_reader   reads everything but the keys' secrets' hashes.
--      wallet_writer   wallet_reader, and writes of transactions and wallet labels (every
--                      balance rule holds and the journal names the user).
--    Create a login role with `CREATE ROLE wallet_api LOGIN PASSWORD '...' IN ROLE
--    wallet_service;` (docs/operations.md). Migrations keep running as the tables' owner.
--
-- Running it needs the right to create roles (CREATEROLE, or a superuser), like the journal's.


DO $$
DECLARE
    role text;
BEGIN
    FOREACH role IN ARRAY ARRAY['wallet_service', 'wallet_reader', 'wallet_writer'] LOOP
        BEGIN
            EXECUTE format('CREATE ROLE %I NOLOGIN', role);
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END LOOP;
END;
$$;


CREATE TABLE api_keys (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL
                CONSTRAINT api_keys_name_length CHECK (char_length(name) BETWEEN 1 AND 100),
    -- The secret's first 11 characters (wk_ and 8 more): what lists and logs show of it.
    prefix      text NOT NULL,
    -- SHA-256 of the secret.
    secret_hash bytea NOT NULL CONSTRAINT api_keys_secret_hash_key UNIQUE,
    scopes      text[] NOT NULL
                CONSTRAINT api_keys_scopes_known
                CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['read', 'write', 'admin']),
    -- The wallets the key sees and touches; empty: every wallet. A key that manages keys
    -- sees every one of them, so it is never limited.
    wallet_ids  bigint[] NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    revoked_at  timestamptz,
    CONSTRAINT api_keys_admin_not_limited
        CHECK (NOT ('admin' = ANY (scopes) AND cardinality(wallet_ids) > 0))
);

COMMENT ON TABLE api_keys IS
    'The service''s clients: each key''s name, scopes, wallet limits, expiry and revocation. Secrets are never stored, only their SHA-256.';

-- A name names one key in use; a revoked key keeps its name, and the name can be given again.
CREATE UNIQUE INDEX api_keys_name_in_use ON api_keys (name) WHERE revoked_at IS NULL;


-- Who wrote each change: the key, its name as it was then.
ALTER TABLE balance_changes
    ADD COLUMN actor_key_id bigint CONSTRAINT balance_changes_actor_key_id_fkey REFERENCES api_keys (id),
    ADD COLUMN actor_name text;
ALTER TABLE transaction_revisions
    ADD COLUMN actor_key_id bigint CONSTRAINT transaction_revisions_actor_key_id_fkey REFERENCES api_keys (id),
    ADD COLUMN actor_name text;

-- The key the current statement runs for: the one the service named in wallet_api.actor,
-- when the session is the service's (a member of wallet_service); none otherwise.
CREATE FUNCTION ledger_actor(OUT key_id bigint, OUT key_name text)
LANGUAGE sql
STABLE
AS $$
    SELECT k.id, k.name
    FROM api_keys AS k
    WHERE pg_has_role(session_user, 'wallet_service', 'MEMBER')
      AND k.id = CASE WHEN current_setting('wallet_api.actor', true) ~ '^[0-9]{1,18}$'
                      THEN current_setting('wallet_api.actor', true)::bigint END
$$;

COMMENT ON FUNCTION ledger_actor() IS
    'The API key the current statement runs for (wallet_api.actor, honoured for the service''s sessions only), or no row.';


-- As in 2026-11-25-000003, the journal rows now naming their key.
CREATE OR REPLACE FUNCTION wallet_apply_deltas(
    operation text,
    wallet_ids bigint[],
    deltas numeric[],
    counts bigint[],
    transaction_ids bigint[]
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

    -- Lock every affected wallet, lowest id first, and look at the balance it would get.
    -- Under READ COMMITTED a row changed by a concurrent transaction is re-read after that
    -- transaction commits, so the check below sees the committed balance.
    FOR target IN
        SELECT w.id, w.balance + d.delta AS new_balance
        FROM wallets AS w
        JOIN unnest(wallet_ids, deltas) AS d (wallet_id, delta) ON d.wallet_id = w.id
        ORDER BY w.id
        FOR NO KEY UPDATE OF w
    LOOP
        locked := locked + 1;
        IF target.new_balance < 0 THEN
            RAISE EXCEPTION 'insufficient funds: the balance of wallet % would become %',
                    target.id, target.new_balance
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'wallets_balance_nonnegative',
                      TABLE = 'wallets',
                      DETAIL = format('wallet_id=%s', target.id),
                      HINT = 'A statement must leave every wallet balance at zero or above.';
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

    -- The foreign key normally guarantees the wallet exists; this also holds when foreign
    -- keys were skipped (session_replication_role = replica).
    IF locked <> cardinality(wallet_ids) THEN
        RAISE EXCEPTION 'transactions refer to a wallet that does not exist'
            USING ERRCODE = 'foreign_key_violation',
                  CONSTRAINT = 'transactions_wallet_id_fkey',
                  TABLE = 'transactions';
    END IF;

    -- Every wallet is locked: no other writer can come between this time and the commit.
    changed_at := clock_timestamp();
    SELECT * INTO actor FROM ledger_actor();

    RETURN QUERY
    WITH applied AS (
        UPDATE wallets AS w
        SET balance = w.balance + d.delta,
            updated_at = now()
        FROM unnest(wallet_ids, deltas, counts, transaction_ids)
             AS d (wallet_id, delta, touched, transaction_id)
        WHERE w.id = d.wallet_id
        RETURNING w.id, w.balance, d.delta, d.touched, d.transaction_id
    )
    INSERT INTO balance_changes AS c (wallet_id, delta, balance, operation, transaction_count,
                                      transaction_id, changed_at, database_xid, changed_by,
                                      application, actor_key_id, actor_name)
    SELECT a.id, a.delta, a.balance, operation, a.touched, a.transaction_id, changed_at,
           pg_current_xact_id(), session_user, current_setting('application_name'),
           actor.key_id, actor.key_name
    FROM applied AS a
    ORDER BY a.id
    RETURNING c.wallet_id, c.id;
END;
$$;


-- As in 2026-12-01-000006, the revisions now naming their key.
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


-- Wallet-limited keys. A row is visible when wallet_api.wallets is not set (or empty) or
-- names its wallet; the same condition refuses a write that would leave a row outside.
-- The policies read the setting in sub-selects, which PostgreSQL evaluates once per
-- statement (an InitPlan), not once per row: a count over a million rows costs what it
-- costs without the policy, and a limited key's reads use the wallet index.
CREATE FUNCTION wallet_api_wallets()
RETURNS bigint[]
LANGUAGE sql
STABLE
AS $$
    SELECT nullif(current_setting('wallet_api.wallets', true), '')::bigint[]
$$;

COMMENT ON FUNCTION wallet_api_wallets() IS
    'The wallets the current statement may see (wallet_api.wallets), or NULL for every wallet.';

ALTER TABLE wallets ENABLE ROW LEVEL SECURITY;
ALTER TABLE transactions ENABLE ROW LEVEL SECURITY;
ALTER TABLE balance_changes ENABLE ROW LEVEL SECURITY;
CREATE POLICY wallets_visible ON wallets
    USING ((SELECT wallet_api_wallets()) IS NULL OR id = ANY ((SELECT wallet_api_wallets())::bigint[]))
    WITH CHECK ((SELECT wallet_api_wallets()) IS NULL OR id = ANY ((SELECT wallet_api_wallets())::bigint[]));
CREATE POLICY transactions_visible ON transactions
    USING ((SELECT wallet_api_wallets()) IS NULL OR wallet_id = ANY ((SELECT wallet_api_wallets())::bigint[]))
    WITH CHECK ((SELECT wallet_api_wallets()) IS NULL OR wallet_id = ANY ((SELECT wallet_api_wallets())::bigint[]));
CREATE POLICY balance_changes_visible ON balance_changes
    USING ((SELECT wallet_api_wallets()) IS NULL OR wallet_id = ANY ((SELECT wallet_api_wallets())::bigint[]))
    WITH CHECK ((SELECT wallet_api_wallets()) IS NULL OR wallet_id = ANY ((SELECT wallet_api_wallets())::bigint[]));


-- Stored responses, per key.
ALTER TABLE idempotency_keys ADD COLUMN api_key_id bigint NOT NULL DEFAULT 0;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_pkey PRIMARY KEY (api_key_id, key);

DROP FUNCTION idempotency_claim(text, bigint);

-- As in 2026-11-25-000004, a claim of one key's key: its advisory lock, then what it stored.
CREATE FUNCTION idempotency_claim(claimed_by bigint, claimed_key text, ttl_seconds bigint)
RETURNS TABLE (claimed boolean, fingerprint bytea, request text, status smallint,
               content_type text, headers jsonb, body text)
LANGUAGE plpgsql
AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtextextended(claimed_key, claimed_by)) THEN
        RETURN QUERY SELECT false, NULL::bytea, NULL::text, NULL::smallint, NULL::text,
                            NULL::jsonb, NULL::text;
        RETURN;
    END IF;
    RETURN QUERY
        SELECT true, k.fingerprint, k.request, k.status, k.content_type, k.headers, k.body
        FROM (SELECT 1) AS one
        LEFT JOIN idempotency_keys AS k
               ON k.api_key_id = claimed_by
              AND k.key = claimed_key
              AND k.created_at > now() - make_interval(secs => ttl_seconds);
END;
$$;


-- The functions that write the record, as before: wallet_ledger's, pinned search_path.
DO $$
DECLARE
    definer text;
BEGIN
    FOREACH definer IN ARRAY ARRAY[
        'wallet_apply_deltas(text, bigint[], numeric[], bigint[], bigint[])',
        'ledger_revise(text, transactions[], transactions[], bigint[], bigint[])',
        'ledger_actor()'
    ] LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO wallet_ledger', definer);
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', definer);
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', definer, current_schema());
    END LOOP;
    EXECUTE format('ALTER FUNCTION wallet_api_wallets() SET search_path = %I, pg_temp', current_schema());
END;
$$;

GRANT SELECT (id, name) ON api_keys TO wallet_ledger;


-- What each role may do.
DO $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO wallet_service, wallet_reader, wallet_writer',
                   current_schema());
END;
$$;

GRANT SELECT ON __diesel_schema_migrations TO wallet_service;
GRANT SELECT, INSERT, DELETE, UPDATE (label) ON wallets TO wallet_service;
GRANT SELECT, INSERT, DELETE, UPDATE (wallet_id, txid, amount) ON transactions TO wallet_service;
GRANT SELECT ON balance_changes TO wallet_service;
GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO wallet_service;
GRANT SELECT, INSERT, UPDATE (revoked_at) ON api_keys TO wallet_service;

GRANT SELECT ON wallets, transactions, balance_changes, transaction_revisions TO wallet_reader;
GRANT SELECT (id, name, prefix, scopes, wallet_ids, created_at, expires_at, revoked_at)
    ON api_keys TO wallet_reader;

GRANT wallet_reader TO wallet_writer;
GRANT INSERT, DELETE, UPDATE (label) ON wallets TO wallet_writer;
GRANT INSERT, DELETE, UPDATE (wallet_id, txid, amount) ON transactions TO wallet_writer;
