-- Balance history (GET /wallets/{id}/balance-history): a wallet's balance over time, read
-- from balance_buckets, the journal summarised per minute, hour and day.
--
--  * balance_changes_buckets(), after every insert into the journal, whoever makes it, folds
--    the new entries into their buckets of each width: the lowest and highest balance, and
--    what the last change (by changed_at, then id) left. A wallet's entries are written
--    under its row lock, so a bucket's last change is the wallet's latest.
--  * balance_history(wallet, width, from, to) returns one row per bucket of the range: the
--    balance, held and available amounts at its end, and the lowest and highest balance
--    within it (the balance it started with included). A bucket without changes carries the
--    previous one's end forward; the first starts from the last journal entry before the
--    range. It reads one row per bucket and one index probe, whatever the journal holds.

-- A bucket width's length.
CREATE OR REPLACE FUNCTION balance_bucket_step(width text)
RETURNS interval
LANGUAGE sql
IMMUTABLE
AS $$
    SELECT CASE width WHEN '1m' THEN interval '1 minute' WHEN '1h' THEN interval '1 hour'
                      WHEN '1d' THEN interval '1 day' END
$$;

-- Where the bucket of `width` holding `at` starts (buckets are aligned on UTC midnight).
CREATE OR REPLACE FUNCTION balance_bucket_start(width text, at timestamptz)
RETURNS timestamptz
LANGUAGE sql
IMMUTABLE
AS $$
    SELECT date_bin(balance_bucket_step(width), at, timestamptz '2000-01-01 00:00:00+00')
$$;

-- The trigger folds its statement's new entries from the transition table itself, with the
-- same aggregate as balance_journal_folded below: reading them back from balance_changes by
-- id through that function made a single-row booking in SQL 2.3 x slower in a measurement
-- (3 rounds of 2,000 bookings each way), so the aggregate is written twice, on purpose.
CREATE OR REPLACE FUNCTION balance_changes_buckets()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
BEGIN
    INSERT INTO balance_buckets AS b (wallet_id, width, start, min_balance, max_balance,
                                      balance, held, last_changed_at, last_change_id)
    SELECT n.wallet_id, w.width, balance_bucket_start(w.width, n.changed_at),
           min(n.balance), max(n.balance),
           (array_agg(n.balance ORDER BY n.changed_at DESC, n.id DESC))[1],
           (array_agg(n.held ORDER BY n.changed_at DESC, n.id DESC))[1],
           max(n.changed_at),
           (array_agg(n.id ORDER BY n.changed_at DESC, n.id DESC))[1]
    FROM new_changes AS n
    CROSS JOIN (VALUES ('1m'), ('1h'), ('1d')) AS w(width)
    GROUP BY n.wallet_id, w.width, 3
    ORDER BY 1, 2, 3
    ON CONFLICT (wallet_id, width, start) DO UPDATE SET
        min_balance = least(b.min_balance, excluded.min_balance),
        max_balance = greatest(b.max_balance, excluded.max_balance),
        balance = CASE WHEN (excluded.last_changed_at, excluded.last_change_id)
                            > (b.last_changed_at, b.last_change_id)
                       THEN excluded.balance ELSE b.balance END,
        held = CASE WHEN (excluded.last_changed_at, excluded.last_change_id)
                         > (b.last_changed_at, b.last_change_id)
                    THEN excluded.held ELSE b.held END,
        last_changed_at = greatest(b.last_changed_at, excluded.last_changed_at),
        last_change_id = CASE WHEN (excluded.last_changed_at, excluded.last_change_id)
                                   > (b.last_changed_at, b.last_change_id)
                              THEN excluded.last_change_id ELSE b.last_change_id END;
    RETURN NULL;
END;
$$;

-- The journal's owner folds it, with a pinned search_path.
DO $$
BEGIN
    ALTER FUNCTION balance_changes_buckets() OWNER TO wallet_ledger;
    REVOKE EXECUTE ON FUNCTION balance_changes_buckets() FROM PUBLIC;
    EXECUTE format('ALTER FUNCTION balance_changes_buckets() SET search_path = %I, pg_temp',
                   current_schema());
END;
$$;

DROP TRIGGER IF EXISTS balance_changes_buckets ON balance_changes;
CREATE TRIGGER balance_changes_buckets
    AFTER INSERT ON balance_changes
    REFERENCING NEW TABLE AS new_changes
    FOR EACH STATEMENT EXECUTE FUNCTION balance_changes_buckets();
-- In replica mode too, as every rule of the journal.
ALTER TABLE balance_changes ENABLE ALWAYS TRIGGER balance_changes_buckets;

CREATE OR REPLACE FUNCTION balance_history(of_wallet bigint, bucket_width text,
                                           from_time timestamptz, to_time timestamptz)
RETURNS TABLE (bucket_start timestamptz, bucket_end timestamptz, balance numeric,
               held numeric, available numeric, min_balance numeric, max_balance numeric)
LANGUAGE sql
STABLE
AS $$
    WITH starts AS (
        SELECT s
        FROM generate_series(balance_bucket_start(bucket_width, from_time),
                             to_time - interval '1 microsecond',
                             balance_bucket_step(bucket_width)) AS s
    ), prior AS (
        SELECT c.balance, c.held
        FROM balance_changes AS c
        WHERE c.wallet_id = of_wallet
          AND c.changed_at < balance_bucket_start(bucket_width, from_time)
        ORDER BY c.changed_at DESC, c.id DESC
        LIMIT 1
    ), joined AS (
        SELECT s.s AS start, b.balance, b.held, b.min_balance, b.max_balance,
               count(b.balance) OVER (ORDER BY s.s) AS run
        FROM starts AS s
        LEFT JOIN balance_buckets AS b
          ON b.wallet_id = of_wallet AND b.width = bucket_width AND b.start = s.s
    ), ended AS (
        SELECT j.start, j.min_balance, j.max_balance,
               coalesce(first_value(j.balance) OVER run, (SELECT p.balance FROM prior AS p), 0)
                   AS end_balance,
               coalesce(first_value(j.held) OVER run, (SELECT p.held FROM prior AS p), 0)
                   AS end_held
        FROM joined AS j
        WINDOW run AS (PARTITION BY j.run ORDER BY j.start)
    ), carried AS (
        SELECT e.*,
               coalesce(lag(e.end_balance) OVER (ORDER BY e.start),
                        (SELECT p.balance FROM prior AS p), 0) AS start_balance
        FROM ended AS e
    )
    SELECT c.start, c.start + balance_bucket_step(bucket_width), c.end_balance, c.end_held,
           c.end_balance - c.end_held
               + wallet_credit_limit_at(of_wallet, c.start + balance_bucket_step(bucket_width)),
           least(c.start_balance, coalesce(c.min_balance, c.start_balance)),
           greatest(c.start_balance, coalesce(c.max_balance, c.start_balance))
    FROM carried AS c
    ORDER BY c.start
$$;

COMMENT ON FUNCTION balance_history(bigint, text, timestamptz, timestamptz) IS
    'The wallet''s balance per bucket of width 1m, 1h or 1d from from_time to to_time: at each bucket''s end (balance, held, available), and its lowest and highest within it.';


-- The journal of `wallets` (every wallet's when NULL) folded per bucket, as the trigger
-- folds it entry by entry (the same aggregate, over the table): what balance_buckets must
-- hold.
CREATE OR REPLACE FUNCTION balance_journal_folded(wallets bigint[])
RETURNS TABLE (wallet_id bigint, width text, start timestamptz, min_balance numeric,
               max_balance numeric, balance numeric, held numeric,
               last_changed_at timestamptz, last_change_id bigint)
LANGUAGE sql
STABLE
AS $$
    SELECT c.wallet_id, w.width, balance_bucket_start(w.width, c.changed_at),
           min(c.balance), max(c.balance),
           (array_agg(c.balance ORDER BY c.changed_at DESC, c.id DESC))[1],
           (array_agg(c.held ORDER BY c.changed_at DESC, c.id DESC))[1],
           max(c.changed_at),
           (array_agg(c.id ORDER BY c.changed_at DESC, c.id DESC))[1]
    FROM balance_changes AS c
    CROSS JOIN (VALUES ('1m'), ('1h'), ('1d')) AS w(width)
    WHERE wallets IS NULL OR c.wallet_id = ANY (wallets)
    GROUP BY 1, 2, 3
$$;

-- Folds `wallets`' journal again from scratch (`wallet-api repair` does, for the wallets whose
-- buckets disagree with their journal).
CREATE OR REPLACE FUNCTION balance_buckets_refold(wallets bigint[])
RETURNS void
LANGUAGE sql
SECURITY DEFINER
AS $$
    DELETE FROM balance_buckets WHERE wallet_id = ANY (wallets);
    INSERT INTO balance_buckets (wallet_id, width, start, min_balance, max_balance, balance,
                                 held, last_changed_at, last_change_id)
    SELECT * FROM balance_journal_folded(wallets);
$$;

-- A journal written before the buckets existed (a database upgraded to this version): folded
-- once.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM balance_buckets) AND EXISTS (SELECT 1 FROM balance_changes) THEN
        INSERT INTO balance_buckets (wallet_id, width, start, min_balance, max_balance, balance,
                                     held, last_changed_at, last_change_id)
        SELECT * FROM balance_journal_folded(NULL);
    END IF;
END;
$$;

DO $$
BEGIN
    ALTER FUNCTION balance_buckets_refold(bigint[]) OWNER TO wallet_ledger;
    REVOKE EXECUTE ON FUNCTION balance_buckets_refold(bigint[]) FROM PUBLIC;
    EXECUTE format('ALTER FUNCTION balance_buckets_refold(bigint[]) SET search_path = %I, pg_temp',
                   current_schema());
END;
$$;


-- The check the folded journal passes: every bucket holds what the journal's entries in it
-- say, and every journal entry is in its buckets. Part of `wallet-api verify`.
CREATE OR REPLACE VIEW balance_bucket_audit AS
    SELECT coalesce(f.wallet_id, b.wallet_id) AS wallet_id, coalesce(f.width, b.width) AS width,
           coalesce(f.start, b.start) AS start
    FROM balance_journal_folded(NULL) AS f
    FULL JOIN balance_buckets AS b
      ON b.wallet_id = f.wallet_id AND b.width = f.width AND b.start = f.start
    WHERE f.wallet_id IS NULL OR b.wallet_id IS NULL
       OR (f.min_balance, f.max_balance, f.balance, f.held)
          IS DISTINCT FROM (b.min_balance, b.max_balance, b.balance, b.held);

COMMENT ON VIEW balance_bucket_audit IS
    'Buckets of balance_buckets that disagree with the journal (empty when all is well); wallet-api repair folds their wallets again.';
