-- Back to before holds: the holds, their revisions and the held amounts go.

DROP POLICY holds_visible ON holds;
DROP VIEW wallet_balance_audit;
DROP FUNCTION expire_holds();
DROP FUNCTION capture_hold(bigint, numeric);
DROP FUNCTION wallet_held_at(bigint, timestamptz);
CREATE OR REPLACE FUNCTION wallet_balance_at(wallet bigint, at timestamptz)
RETURNS numeric
LANGUAGE sql
STABLE
AS $$
    SELECT coalesce((
        SELECT balance
        FROM balance_changes
        WHERE wallet_id = wallet AND changed_at <= at
        ORDER BY changed_at DESC, id DESC
        LIMIT 1
    ), 0::numeric)
$$;
DROP VIEW holds_now;
DROP VIEW wallet_balances;
DROP FUNCTION hold_revise(text, holds[], holds[]);
DROP TABLE holds;
DROP TABLE hold_revisions;
DROP FUNCTION holds_after_insert();
DROP FUNCTION holds_after_update();
DROP FUNCTION holds_after_delete();
DROP FUNCTION holds_before_truncate();
DROP FUNCTION holds_state_machine();
DROP FUNCTION holds_check_capture_booked();
DROP FUNCTION ledger_hold(text, ledger_change[]);

-- The balance rule of 2026-12-01-000007: the balance, not the available balance.
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

-- The aggregation of 2026-12-01-000006, through wallet_apply_deltas.
CREATE OR REPLACE FUNCTION ledger_apply(operation text, changes ledger_change[])
RETURNS TABLE (wallet_id bigint, balance_change_id bigint)
LANGUAGE sql
AS $$
    SELECT j.wallet_id, j.balance_change_id
    FROM (
        SELECT array_agg(w.wallet_id) AS ids, array_agg(w.delta) AS deltas,
               array_agg(w.touched) AS counts, array_agg(w.only_id) AS only_ids
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
    CROSS JOIN LATERAL wallet_apply_deltas(operation, a.ids, a.deltas, a.counts, a.only_ids) AS j
$$;
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION ledger_apply(text, ledger_change[]) SET search_path = %I, pg_temp', current_schema());
END;
$$;
DROP FUNCTION wallet_apply(text, bigint[], numeric[], numeric[], bigint[], bigint[], bigint[], bigint[]);
DROP FUNCTION wallet_available_now(bigint, numeric, numeric, timestamptz);
DROP FUNCTION wallet_held_now(bigint, numeric, timestamptz);
DROP FUNCTION wallet_expired_held(bigint);

CREATE OR REPLACE FUNCTION wallets_refuse_balance_write()
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
DROP TRIGGER wallets_balance_guard_update ON wallets;
CREATE TRIGGER wallets_balance_guard_update
    BEFORE UPDATE OF balance ON wallets
    FOR EACH ROW
    WHEN (NEW.balance IS DISTINCT FROM OLD.balance AND current_user <> 'wallet_ledger')
    EXECUTE FUNCTION wallets_refuse_balance_write();
DROP TRIGGER wallets_balance_guard_insert ON wallets;
CREATE TRIGGER wallets_balance_guard_insert
    BEFORE INSERT ON wallets
    FOR EACH ROW
    WHEN (NEW.balance <> 0)
    EXECUTE FUNCTION wallets_refuse_balance_write();
ALTER TABLE wallets ENABLE ALWAYS TRIGGER wallets_balance_guard_update;
ALTER TABLE wallets ENABLE ALWAYS TRIGGER wallets_balance_guard_insert;

-- The audit and the repair of 2026-11-25-000003.
CREATE VIEW wallet_balance_audit AS
    WITH sums AS (
        SELECT wallet_id, sum(amount) AS total FROM transactions GROUP BY wallet_id
    ),
    journal AS (
        SELECT wallet_id, id, balance, delta, operation,
               lag(balance, 1, 0::numeric) OVER per_wallet AS previous,
               row_number() OVER (PARTITION BY wallet_id ORDER BY id DESC) AS from_end,
               max(id) FILTER (WHERE operation = 'repair') OVER per_wallet AS last_repair
        FROM balance_changes
        WINDOW per_wallet AS (PARTITION BY wallet_id ORDER BY id
                              ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
    ),
    last_rows AS (
        SELECT wallet_id, balance FROM journal WHERE from_end = 1
    ),
    breaks AS (
        SELECT wallet_id, min(id) AS first_break
        FROM journal
        WHERE balance <> previous + delta AND id > coalesce(last_repair, 0)
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
               CASE WHEN b.first_break IS NOT NULL
                    THEN format('journal running total breaks at balance change %s', b.first_break) END
           ) AS problem
    FROM wallets AS w
    LEFT JOIN sums AS s ON s.wallet_id = w.id
    LEFT JOIN last_rows AS l ON l.wallet_id = w.id
    LEFT JOIN breaks AS b ON b.wallet_id = w.id
    WHERE w.balance < 0
       OR w.balance <> coalesce(s.total, 0)
       OR w.balance <> coalesce(l.balance, 0)
       OR b.first_break IS NOT NULL
  UNION ALL
    SELECT t.wallet_id, NULL, sum(t.amount), NULL, NULL,
           'transactions refer to a wallet that does not exist'
    FROM transactions AS t
    WHERE NOT EXISTS (SELECT 1 FROM wallets AS w WHERE w.id = t.wallet_id)
    GROUP BY t.wallet_id;

GRANT SELECT ON wallet_balance_audit TO wallet_ledger;

DROP FUNCTION wallet_repair(boolean);
CREATE FUNCTION wallet_repair(apply boolean DEFAULT false)
RETURNS TABLE (wallet_id bigint, stored_balance numeric, repaired_balance numeric,
               journal_balance numeric, balance_change_id bigint)
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
        SELECT w.id, w.balance AS stored,
               coalesce((SELECT sum(t.amount) FROM transactions AS t WHERE t.wallet_id = w.id), 0) AS correct,
               coalesce((SELECT c.balance FROM balance_changes AS c WHERE c.wallet_id = w.id
                         ORDER BY c.id DESC LIMIT 1), 0) AS journaled
        FROM wallets AS w
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
            UPDATE wallets AS w SET balance = fix.correct, updated_at = now()
            WHERE w.id = fix.id AND w.balance <> fix.correct;
            INSERT INTO balance_changes AS c (wallet_id, delta, balance, operation,
                                              transaction_count, transaction_id, changed_at,
                                              database_xid, changed_by, application,
                                              repaired_from)
            VALUES (fix.id, fix.correct - fix.journaled, fix.correct, 'repair', 0, NULL,
                    clock_timestamp(), pg_current_xact_id(), session_user,
                    current_setting('application_name'), fix.stored)
            RETURNING c.id INTO journal_id;
        END IF;
        wallet_id := fix.id;
        stored_balance := fix.stored;
        repaired_balance := fix.correct;
        journal_balance := fix.journaled;
        balance_change_id := journal_id;
        RETURN NEXT;
    END LOOP;
END;
$$;

DO $$
BEGIN
    ALTER FUNCTION wallet_repair(boolean) OWNER TO wallet_ledger;
    REVOKE EXECUTE ON FUNCTION wallet_repair(boolean) FROM PUBLIC;
    ALTER FUNCTION wallet_repair(boolean) SECURITY DEFINER;
    EXECUTE format('ALTER FUNCTION wallet_repair(boolean) SET search_path = %I, pg_temp', current_schema());
    EXECUTE format('ALTER FUNCTION wallet_apply_deltas(text, bigint[], numeric[], bigint[], bigint[]) SET search_path = %I, pg_temp', current_schema());
END;
$$;

-- The journal is append-only: the rows of hold statements stay (their balance deltas are 0,
-- so the running totals hold), and so does the operation check that admits them.
ALTER TABLE balance_changes
    DROP COLUMN held_delta, DROP COLUMN held, DROP COLUMN hold_count, DROP COLUMN hold_id;
ALTER TABLE wallets DROP COLUMN held, DROP COLUMN held_expires_at;
