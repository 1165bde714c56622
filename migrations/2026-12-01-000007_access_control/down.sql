-- Back to before access control. The roles stay (they are shared by every database of the
-- cluster); the keys, the journal's record of them and the stored responses of keys go.

REVOKE ALL ON wallets, transactions, balance_changes, transaction_revisions, idempotency_keys,
              api_keys, __diesel_schema_migrations
    FROM wallet_service, wallet_reader, wallet_writer;
DO $$
BEGIN
    EXECUTE format('REVOKE USAGE ON SCHEMA %I FROM wallet_service, wallet_reader, wallet_writer',
                   current_schema());
END;
$$;
REVOKE wallet_reader FROM wallet_writer;

DROP POLICY wallets_visible ON wallets;
DROP POLICY transactions_visible ON transactions;
DROP POLICY balance_changes_visible ON balance_changes;
ALTER TABLE wallets DISABLE ROW LEVEL SECURITY;
ALTER TABLE transactions DISABLE ROW LEVEL SECURITY;
ALTER TABLE balance_changes DISABLE ROW LEVEL SECURITY;
DROP FUNCTION wallet_api_wallets();

-- The responses of keys cannot be told apart once keys are gone.
DROP FUNCTION idempotency_claim(bigint, text, bigint);
DELETE FROM idempotency_keys WHERE api_key_id <> 0;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys DROP COLUMN api_key_id;
ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_pkey PRIMARY KEY (key);

CREATE FUNCTION idempotency_claim(claimed_key text, ttl_seconds bigint)
RETURNS TABLE (claimed boolean, fingerprint bytea, request text, status smallint,
               content_type text, headers jsonb, body text)
LANGUAGE plpgsql
AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtextextended(claimed_key, 0)) THEN
        RETURN QUERY SELECT false, NULL::bytea, NULL::text, NULL::smallint, NULL::text,
                            NULL::jsonb, NULL::text;
        RETURN;
    END IF;
    RETURN QUERY
        SELECT true, k.fingerprint, k.request, k.status, k.content_type, k.headers, k.body
        FROM (SELECT 1) AS one
        LEFT JOIN idempotency_keys AS k
               ON k.key = claimed_key
              AND k.created_at > now() - make_interval(secs => ttl_seconds);
END;
$$;

-- The functions that wrote the record, as they were.
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
                                      application)
    SELECT a.id, a.delta, a.balance, operation, a.touched, a.transaction_id, changed_at,
           pg_current_xact_id(), session_user, current_setting('application_name')
    FROM applied AS a
    ORDER BY a.id
    RETURNING c.wallet_id, c.id;
END;
$$;

CREATE OR REPLACE FUNCTION ledger_revise(operation text, old transactions[], new transactions[],
                              journal_wallets bigint[], journal_rows bigint[])
RETURNS void
LANGUAGE sql
AS $$
    INSERT INTO transaction_revisions (transaction_id, operation,
                                       old_wallet_id, old_txid, old_amount, old_created_at,
                                       new_wallet_id, new_txid, new_amount, new_created_at,
                                       old_balance_change_id, new_balance_change_id,
                                       revised_at, database_xid, revised_by, application)
    SELECT o.id, operation,
           o.wallet_id, o.txid, o.amount, o.created_at,
           n.wallet_id, n.txid, n.amount, n.created_at,
           oj.id, nj.id,
           clock_timestamp(), pg_current_xact_id(), session_user, current_setting('application_name')
    FROM unnest(old) AS o
    LEFT JOIN unnest(new) AS n ON n.id = o.id
    LEFT JOIN unnest(journal_wallets, journal_rows) AS oj (wallet_id, id) ON oj.wallet_id = o.wallet_id
    LEFT JOIN unnest(journal_wallets, journal_rows) AS nj (wallet_id, id) ON nj.wallet_id = n.wallet_id
    WHERE n.id IS NULL
       OR (o.wallet_id, o.txid, o.amount, o.created_at)
          IS DISTINCT FROM (n.wallet_id, n.txid, n.amount, n.created_at)
    ORDER BY o.id
$$;

DO $$
DECLARE
    definer text;
BEGIN
    FOREACH definer IN ARRAY ARRAY[
        'wallet_apply_deltas(text, bigint[], numeric[], bigint[], bigint[])',
        'ledger_revise(text, transactions[], transactions[], bigint[], bigint[])'
    ] LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', definer, current_schema());
    END LOOP;
END;
$$;

DROP FUNCTION ledger_actor();
ALTER TABLE transaction_revisions DROP COLUMN actor_key_id, DROP COLUMN actor_name;
ALTER TABLE balance_changes DROP COLUMN actor_key_id, DROP COLUMN actor_name;
DROP TABLE api_keys;
