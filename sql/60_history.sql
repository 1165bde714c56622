-- Reading the record: a wallet's balance and held amount at any past time, every hold as it
-- stands now, the audit that compares every copy of every balance, and the one sanctioned
-- repair.


-- The balance at a time: the balance of the last journal row at or before it, one backward
-- probe of the (wallet_id, changed_at, id) index however long the history. PL/pgSQL, so
-- that its lookup is planned once per session (a SQL function with a sub-select is planned
-- at every call).
CREATE OR REPLACE FUNCTION wallet_balance_at(wallet bigint, at timestamp with time zone)
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


-- The held amount at a time: the journal's held then, less the holds that had expired by
-- then but were swept later (or not yet). available = balance - held.
CREATE OR REPLACE FUNCTION wallet_held_at(wallet bigint, at timestamp with time zone)
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


-- The credit limit in force at a time: what the first limit change after it changed (its
-- old value), or the limit now when none came after. available at T = balance - held +
-- this.
CREATE OR REPLACE FUNCTION wallet_credit_limit_at(wallet bigint, at timestamp with time zone)
RETURNS numeric
LANGUAGE plpgsql
STABLE
AS $$
BEGIN
    RETURN coalesce((
        SELECT r.old_credit_limit
        FROM wallet_revisions AS r
        WHERE r.wallet_id = wallet AND r.revised_at > at
          AND r.old_credit_limit IS DISTINCT FROM r.new_credit_limit
        ORDER BY r.revised_at, r.id
        LIMIT 1
    ), (SELECT w.credit_limit FROM wallets AS w WHERE w.id = wallet), 0::numeric);
END;
$$;


-- Every hold as it stands: a pending hold past its expires_at reads as expired. With its
-- wallet's currency and scale (15_currencies.sql).
CREATE OR REPLACE VIEW holds_now WITH (security_invoker = true) AS
    SELECT h.id, h.wallet_id, h.amount,
           CASE WHEN h.status = 'pending' AND h.expires_at <= now() THEN 'expired'
                ELSE h.status END AS status,
           h.captured_amount, h.transaction_id, h.expires_at, h.created_at, h.updated_at,
           CASE WHEN h.status = 'pending' AND h.expires_at <= now() THEN h.expires_at
                ELSE h.resolved_at END AS resolved_at,
           h.metadata,
           coalesce((SELECT w.currency FROM wallets AS w WHERE w.id = h.wallet_id), 'XXX') AS currency,
           coalesce((SELECT w.scale FROM wallets AS w WHERE w.id = h.wallet_id), 18::smallint) AS scale
    FROM holds AS h;

COMMENT ON VIEW holds_now IS
    'Every hold with its status now (a pending hold past expires_at is expired), and its wallet''s currency and scale.';

-- The audit (`wallet-api verify` reads it): every wallet whose stored balance differs from
-- the sum of its transactions or from its journal, whose held differs from its pending holds
-- or from its journal, whose journal's running totals break, whose balance is below minus
-- its credit limit, or whose available balance (balance - held + credit limit) is negative;
-- and transactions of a wallet that does not exist. A table owner who disables the triggers,
-- a superuser who writes a balance: each leaves a line here.
CREATE OR REPLACE VIEW wallet_balance_audit AS
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
               CASE WHEN w.balance < -w.credit_limit THEN 'balance below its credit limit' END,
               CASE WHEN w.balance <> coalesce(s.total, 0)
                    THEN 'balance differs from the sum of its transactions' END,
               CASE WHEN w.balance <> coalesce(l.balance, 0)
                    THEN 'balance differs from its journal' END,
               CASE WHEN w.held <> coalesce(p.total, 0)
                    THEN format('held %s differs from the sum of its pending holds %s',
                                w.held, coalesce(p.total, 0)) END,
               CASE WHEN w.held <> coalesce(l.held, 0)
                    THEN format('held %s differs from its journal''s %s', w.held, coalesce(l.held, 0)) END,
               CASE WHEN w.balance - coalesce(p.total, 0) + w.credit_limit < 0
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
    WHERE w.balance < -w.credit_limit
       OR w.balance <> coalesce(s.total, 0)
       OR w.balance <> coalesce(l.balance, 0)
       OR w.held <> coalesce(p.total, 0)
       OR w.held <> coalesce(l.held, 0)
       OR w.balance - coalesce(p.total, 0) + w.credit_limit < 0
       OR w.held_expires_at IS DISTINCT FROM p.first_expiry
       OR b.first_break IS NOT NULL
  UNION ALL
    SELECT t.wallet_id, NULL, sum(t.amount), NULL, NULL,
           'transactions refer to a wallet that does not exist', NULL, NULL
    FROM transactions AS t
    WHERE NOT EXISTS (SELECT 1 FROM wallets AS w WHERE w.id = t.wallet_id)
    GROUP BY t.wallet_id;

-- Repair (`wallet-api repair`): for every wallet the audit flags, the balance its
-- transactions add up to and the held its pending holds add up to, written with one journal
-- row whose deltas continue the journal's running totals to the repaired values. The only
-- function that writes a balance other than by a delta, and only that balance; EXECUTE is
-- revoked from PUBLIC.
CREATE OR REPLACE FUNCTION wallet_repair(apply boolean DEFAULT false)
RETURNS TABLE(wallet_id bigint, stored_balance numeric, repaired_balance numeric, journal_balance numeric, balance_change_id bigint, stored_held numeric, repaired_held numeric)
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    flagged bigint[];
    fix record;
    journal_id bigint;
BEGIN
    -- Balance history that disagrees with the journal is folded again
    -- (62_balance_history.sql): it holds no money, only a summary of the journal.
    IF apply THEN
        PERFORM balance_buckets_refold(ARRAY(SELECT DISTINCT b.wallet_id FROM balance_bucket_audit AS b));
    END IF;
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
        SELECT w.id, w.balance AS stored, w.held AS stored_held, w.credit_limit,
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
            IF fix.correct < -fix.credit_limit THEN
                RAISE EXCEPTION 'wallet %: its transactions add up to %, below minus its credit limit %; repair its transactions first',
                        fix.id, fix.correct, fix.credit_limit
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


DO $$
BEGIN
    ALTER FUNCTION wallet_repair(boolean) OWNER TO wallet_ledger;
    REVOKE EXECUTE ON FUNCTION wallet_repair(boolean) FROM PUBLIC;
    EXECUTE format('ALTER FUNCTION wallet_repair(boolean) SET search_path = %I, pg_temp', current_schema());
    EXECUTE format('ALTER FUNCTION wallet_held_at(bigint, timestamptz) SET search_path = %I, pg_temp', current_schema());
    EXECUTE format('ALTER FUNCTION wallet_credit_limit_at(bigint, timestamptz) SET search_path = %I, pg_temp', current_schema());
END;
$$;
