-- The money rules, all in one place.
--
-- Promise: for every wallet, wallets.balance = sum(transactions.amount) of its transactions,
-- and wallets.balance >= 0, whoever writes (this API, a person in psql, a batch job).
--
-- How it is kept:
--  * Statement-level AFTER INSERT / UPDATE / DELETE triggers on transactions read the rows a
--    statement changed from its transition tables, add them up per wallet, and hand the net
--    change per wallet to wallet_apply_deltas(). A statement of a million rows costs one
--    aggregate and one UPDATE of the wallets it touched, not a million UPDATEs.
--  * wallet_apply_deltas() locks the affected wallets in id order, checks the balances they
--    would get, and applies all changes in one UPDATE. Locking in one global order means two
--    statements touching the same wallets wait for each other instead of deadlocking.
--  * Each statement is judged by its net effect per wallet: (+100, -150) in one statement on a
--    balance of 100 leaves 50 and is accepted, whatever order the rows were written in.
--    Separate statements are judged one by one, even inside one transaction: every statement
--    must leave every balance >= 0.
--  * A statement that would leave any balance negative fails as a whole (SQLSTATE 23514,
--    constraint wallets_balance_nonnegative, the same as the CHECK constraint that backs it
--    up); one that would push a balance beyond numeric(36,18) fails with SQLSTATE 22003 and
--    constraint wallets_balance_max. Both name the wallet in DETAIL as 'wallet_id=<id>'.
--    A failed statement changes nothing.
--  * TRUNCATE transactions sets every balance to 0: the sum of no transactions.
--  * Direct writes of wallets.balance are refused (SQLSTATE 42501).
--  * Every trigger here is ENABLE ALWAYS, so session_replication_role = replica (which
--    silently skips ordinary triggers) cannot skip them.
--
-- What can still bypass them: a table owner or superuser can disable or drop these triggers,
-- or write the balance from inside a trigger of their own. The view wallet_balance_audit
-- (and `wallet-api verify`, which reads it) lists every wallet whose stored balance is wrong.


-- Apply net balance changes: wallet_ids[i] changes by deltas[i].
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


-- INSERT: every new row adds its amount to its wallet.
CREATE FUNCTION transactions_after_insert()
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

CREATE TRIGGER transactions_balance_insert
    AFTER INSERT ON transactions
    REFERENCING NEW TABLE AS inserted_rows
    FOR EACH STATEMENT
    EXECUTE FUNCTION transactions_after_insert();


-- UPDATE: the old version of each row takes its amount back from its old wallet, the new
-- version adds its amount to its (possibly different) wallet. Changing only txid nets to zero
-- and touches no wallet.
CREATE FUNCTION transactions_after_update()
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

CREATE TRIGGER transactions_balance_update
    AFTER UPDATE ON transactions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT
    EXECUTE FUNCTION transactions_after_update();


-- DELETE: every deleted row takes its amount back from its wallet.
CREATE FUNCTION transactions_after_delete()
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

CREATE TRIGGER transactions_balance_delete
    AFTER DELETE ON transactions
    REFERENCING OLD TABLE AS deleted_rows
    FOR EACH STATEMENT
    EXECUTE FUNCTION transactions_after_delete();


-- TRUNCATE fires no DELETE trigger. Emptying the table leaves every wallet with no
-- transactions, so every balance becomes 0, the same result a DELETE of every row gives.
-- (Refusing TRUNCATE was the alternative; it would make TRUNCATE and DELETE disagree.)
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


-- Guards on wallets: the balance is written by the functions above only. A direct UPDATE
-- runs at trigger depth 0; the balance functions run inside a trigger (depth >= 1). The WHEN
-- clauses keep the guard free for every write that passes.
CREATE FUNCTION wallets_refuse_balance_write()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION 'wallets.balance cannot be written directly (wallet %)', coalesce(NEW.id::text, 'new')
        USING ERRCODE = 'insufficient_privilege',
              TABLE = 'wallets',
              COLUMN = 'balance',
              HINT = 'The balance is the sum of the wallet''s transactions: insert, update or delete rows in transactions instead.';
END;
$$;

CREATE TRIGGER wallets_balance_guard_insert
    BEFORE INSERT ON wallets
    FOR EACH ROW
    WHEN (NEW.balance <> 0)
    EXECUTE FUNCTION wallets_refuse_balance_write();

CREATE TRIGGER wallets_balance_guard_update
    BEFORE UPDATE OF balance ON wallets
    FOR EACH ROW
    WHEN (pg_trigger_depth() = 0 AND NEW.balance IS DISTINCT FROM OLD.balance)
    EXECUTE FUNCTION wallets_refuse_balance_write();


-- A label changed in SQL gets a fresh updated_at too.
CREATE FUNCTION wallets_touch_updated_at()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE TRIGGER wallets_label_touch
    BEFORE UPDATE OF label ON wallets
    FOR EACH ROW
    WHEN (NEW.label IS DISTINCT FROM OLD.label)
    EXECUTE FUNCTION wallets_touch_updated_at();


-- Fire even under session_replication_role = replica (bulk loads, logical replication).
ALTER TABLE transactions ENABLE ALWAYS TRIGGER transactions_balance_insert;
ALTER TABLE transactions ENABLE ALWAYS TRIGGER transactions_balance_update;
ALTER TABLE transactions ENABLE ALWAYS TRIGGER transactions_balance_delete;
ALTER TABLE transactions ENABLE ALWAYS TRIGGER transactions_balance_truncate;
ALTER TABLE wallets ENABLE ALWAYS TRIGGER wallets_balance_guard_insert;
ALTER TABLE wallets ENABLE ALWAYS TRIGGER wallets_balance_guard_update;
ALTER TABLE wallets ENABLE ALWAYS TRIGGER wallets_label_touch;


-- The audit: every wallet whose stored balance is not the sum of its transactions or is
-- negative, and every group of transactions whose wallet no longer exists. Empty when the
-- rules above held. `wallet-api verify` prints it and fails when it is not empty.
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
