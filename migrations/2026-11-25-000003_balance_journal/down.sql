-- Back to the previous migration: the balance functions without the journal, the guard by
-- trigger depth, the audit without the journal. The journal and the revisions are dropped
-- with everything they hold. The role wallet_ledger stays: other databases of the cluster
-- may use it.

DROP VIEW wallet_balance_audit;
DROP FUNCTION wallet_repair(boolean);
DROP FUNCTION wallet_balance_at(bigint, timestamptz);

DROP TRIGGER transactions_balance_truncate ON transactions;
DROP FUNCTION transactions_before_truncate();
DROP TRIGGER wallets_balance_guard_update ON wallets;

-- The trigger functions go back to their old bodies (and owner) before the function they
-- call changes.
CREATE OR REPLACE FUNCTION transactions_after_insert()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM wallet_apply_deltas(array_agg(wallet_id), array_agg(delta))
    FROM (
        SELECT wallet_id, sum(amount) AS delta
        FROM inserted_rows
        GROUP BY wallet_id
        HAVING sum(amount) <> 0
    ) AS per_wallet;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION transactions_after_update()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM wallet_apply_deltas(array_agg(wallet_id), array_agg(delta))
    FROM (
        SELECT wallet_id, sum(amount) AS delta
        FROM (
            SELECT wallet_id, amount FROM new_rows
            UNION ALL
            SELECT wallet_id, -amount FROM old_rows
        ) AS changes
        GROUP BY wallet_id
        HAVING sum(amount) <> 0
    ) AS per_wallet;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION transactions_after_delete()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM wallet_apply_deltas(array_agg(wallet_id), array_agg(delta))
    FROM (
        SELECT wallet_id, -sum(amount) AS delta
        FROM deleted_rows
        GROUP BY wallet_id
        HAVING sum(amount) <> 0
    ) AS per_wallet;
    RETURN NULL;
END;
$$;

DROP FUNCTION wallet_apply_deltas(text, bigint[], numeric[], bigint[], bigint[]);
CREATE FUNCTION wallet_apply_deltas(wallet_ids bigint[], deltas numeric[])
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    target record;
    locked integer := 0;
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

    UPDATE wallets AS w
    SET balance = w.balance + d.delta,
        updated_at = now()
    FROM unnest(wallet_ids, deltas) AS d (wallet_id, delta)
    WHERE w.id = d.wallet_id;
END;
$$;

COMMENT ON FUNCTION wallet_apply_deltas(bigint[], numeric[]) IS
    'Adds deltas[i] to the balance of wallet wallet_ids[i]: locks in id order, refuses negative or overflowing results. Called by the transactions triggers only.';

DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['transactions_after_insert()', 'transactions_after_update()',
                             'transactions_after_delete()'] LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO %I', f, current_user);
        EXECUTE format('ALTER FUNCTION %s SECURITY INVOKER', f);
        EXECUTE format('ALTER FUNCTION %s RESET search_path', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO PUBLIC', f);
    END LOOP;
    EXECUTE format('REVOKE ALL ON SCHEMA %I FROM wallet_ledger', current_schema());
END;
$$;
REVOKE ALL ON wallets, transactions FROM wallet_ledger;

CREATE FUNCTION transactions_after_truncate()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM 1 FROM wallets WHERE balance <> 0 ORDER BY id FOR NO KEY UPDATE;
    UPDATE wallets SET balance = 0, updated_at = now() WHERE balance <> 0;
    RETURN NULL;
END;
$$;

CREATE TRIGGER transactions_balance_truncate
    AFTER TRUNCATE ON transactions
    FOR EACH STATEMENT
    EXECUTE FUNCTION transactions_after_truncate();

CREATE TRIGGER wallets_balance_guard_update
    BEFORE UPDATE OF balance ON wallets
    FOR EACH ROW
    WHEN (pg_trigger_depth() = 0 AND NEW.balance IS DISTINCT FROM OLD.balance)
    EXECUTE FUNCTION wallets_refuse_balance_write();

ALTER TABLE transactions ENABLE ALWAYS TRIGGER transactions_balance_truncate;
ALTER TABLE wallets ENABLE ALWAYS TRIGGER wallets_balance_guard_update;

DROP TABLE transaction_revisions;
DROP TABLE balance_changes;
DROP FUNCTION ledger_refuse_rewrite();

CREATE VIEW wallet_balance_audit AS
    SELECT w.id AS wallet_id,
           w.balance AS stored_balance,
           coalesce(t.total, 0) AS transactions_sum,
           CASE WHEN w.balance < 0 THEN 'negative balance'
                ELSE 'balance differs from the sum of its transactions'
           END AS problem
    FROM wallets AS w
    LEFT JOIN (
        SELECT wallet_id, sum(amount) AS total FROM transactions GROUP BY wallet_id
    ) AS t ON t.wallet_id = w.id
    WHERE w.balance <> coalesce(t.total, 0) OR w.balance < 0
  UNION ALL
    SELECT t.wallet_id,
           NULL,
           sum(t.amount),
           'transactions refer to a wallet that does not exist'
    FROM transactions AS t
    WHERE NOT EXISTS (SELECT 1 FROM wallets AS w WHERE w.id = t.wallet_id)
    GROUP BY t.wallet_id;
