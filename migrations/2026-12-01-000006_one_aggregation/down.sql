-- Back to the trigger functions of 2026-11-25-000003, each with its own aggregation, as they
-- were there.

-- The net change per wallet of a set of (wallet, transaction, amount) rows, as the arrays
-- wallet_apply_deltas takes. Used by each trigger on its transition tables.
-- INSERT: every new row adds its amount to its wallet.
CREATE OR REPLACE FUNCTION transactions_after_insert()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM wallet_apply_deltas('insert', array_agg(wallet_id), array_agg(delta),
                                array_agg(touched), array_agg(only_id))
    FROM (
        SELECT wallet_id, sum(amount) AS delta, count(*) AS touched,
               CASE WHEN count(*) = 1 THEN min(id) END AS only_id
        FROM inserted_rows
        GROUP BY wallet_id
        HAVING sum(amount) <> 0
    ) AS per_wallet;
    RETURN NULL;
END;
$$;


-- UPDATE: the old version of each row takes its amount back from its old wallet, the new
-- version adds its amount to its (possibly different) wallet. Changing only txid nets to zero
-- and touches no wallet. Every row whose values changed gets a revision.
CREATE OR REPLACE FUNCTION transactions_after_update()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    journal_wallets bigint[];
    journal_rows bigint[];
BEGIN
    SELECT array_agg(j.wallet_id), array_agg(j.balance_change_id)
    INTO journal_wallets, journal_rows
    FROM (
        SELECT array_agg(wallet_id) AS ids, array_agg(delta) AS deltas,
               array_agg(touched) AS counts, array_agg(only_id) AS only_ids
        FROM (
            SELECT wallet_id, sum(amount) AS delta, count(DISTINCT id) AS touched,
                   CASE WHEN count(DISTINCT id) = 1 THEN min(id) END AS only_id
            FROM (
                SELECT id, wallet_id, amount FROM new_rows
                UNION ALL
                SELECT id, wallet_id, -amount FROM old_rows
            ) AS changes
            GROUP BY wallet_id
            HAVING sum(amount) <> 0
        ) AS per_wallet
    ) AS a
    CROSS JOIN LATERAL wallet_apply_deltas('update', a.ids, a.deltas, a.counts, a.only_ids) AS j;

    INSERT INTO transaction_revisions (transaction_id, operation,
                                       old_wallet_id, old_txid, old_amount, old_created_at,
                                       new_wallet_id, new_txid, new_amount, new_created_at,
                                       old_balance_change_id, new_balance_change_id,
                                       revised_at, database_xid, revised_by, application)
    SELECT o.id, 'update',
           o.wallet_id, o.txid, o.amount, o.created_at,
           n.wallet_id, n.txid, n.amount, n.created_at,
           oj.id, nj.id,
           clock_timestamp(), pg_current_xact_id(), session_user, current_setting('application_name')
    FROM old_rows AS o
    JOIN new_rows AS n ON n.id = o.id
    LEFT JOIN unnest(journal_wallets, journal_rows) AS oj (wallet_id, id) ON oj.wallet_id = o.wallet_id
    LEFT JOIN unnest(journal_wallets, journal_rows) AS nj (wallet_id, id) ON nj.wallet_id = n.wallet_id
    WHERE (o.wallet_id, o.txid, o.amount, o.created_at)
          IS DISTINCT FROM (n.wallet_id, n.txid, n.amount, n.created_at)
    ORDER BY o.id;
    RETURN NULL;
END;
$$;


-- DELETE: every deleted row takes its amount back from its wallet, and leaves its
-- before-image.
CREATE OR REPLACE FUNCTION transactions_after_delete()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    journal_wallets bigint[];
    journal_rows bigint[];
BEGIN
    SELECT array_agg(j.wallet_id), array_agg(j.balance_change_id)
    INTO journal_wallets, journal_rows
    FROM (
        SELECT array_agg(wallet_id) AS ids, array_agg(delta) AS deltas,
               array_agg(touched) AS counts, array_agg(only_id) AS only_ids
        FROM (
            SELECT wallet_id, -sum(amount) AS delta, count(*) AS touched,
                   CASE WHEN count(*) = 1 THEN min(id) END AS only_id
            FROM deleted_rows
            GROUP BY wallet_id
            HAVING sum(amount) <> 0
        ) AS per_wallet
    ) AS a
    CROSS JOIN LATERAL wallet_apply_deltas('delete', a.ids, a.deltas, a.counts, a.only_ids) AS j;

    INSERT INTO transaction_revisions (transaction_id, operation,
                                       old_wallet_id, old_txid, old_amount, old_created_at,
                                       old_balance_change_id,
                                       revised_at, database_xid, revised_by, application)
    SELECT d.id, 'delete', d.wallet_id, d.txid, d.amount, d.created_at, j.id,
           clock_timestamp(), pg_current_xact_id(), session_user, current_setting('application_name')
    FROM deleted_rows AS d
    LEFT JOIN unnest(journal_wallets, journal_rows) AS j (wallet_id, id) ON j.wallet_id = d.wallet_id
    ORDER BY d.id;
    RETURN NULL;
END;
$$;


-- TRUNCATE fires no DELETE trigger, and after it the rows are gone: so this runs BEFORE it.
-- Emptying the table leaves every wallet with no transactions, so every balance becomes 0
-- (journaled, delta = -balance), and every row leaves its before-image, as a DELETE of every
-- row would. (This makes TRUNCATE cost a copy of the table; refusing TRUNCATE was the
-- alternative, and would make TRUNCATE and DELETE disagree.)
CREATE OR REPLACE FUNCTION transactions_before_truncate()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    journal_wallets bigint[];
    journal_rows bigint[];
BEGIN
    PERFORM 1 FROM wallets WHERE balance <> 0 ORDER BY id FOR NO KEY UPDATE;

    SELECT array_agg(j.wallet_id), array_agg(j.balance_change_id)
    INTO journal_wallets, journal_rows
    FROM (
        SELECT array_agg(w.id ORDER BY w.id) AS ids,
               array_agg(-w.balance ORDER BY w.id) AS deltas,
               array_agg(coalesce(t.touched, 0) ORDER BY w.id) AS counts,
               array_agg(t.only_id ORDER BY w.id) AS only_ids
        FROM wallets AS w
        LEFT JOIN (
            SELECT wallet_id, count(*) AS touched,
                   CASE WHEN count(*) = 1 THEN min(id) END AS only_id
            FROM transactions
            GROUP BY wallet_id
        ) AS t ON t.wallet_id = w.id
        WHERE w.balance <> 0
    ) AS a
    CROSS JOIN LATERAL wallet_apply_deltas('truncate', a.ids, a.deltas, a.counts, a.only_ids) AS j;

    INSERT INTO transaction_revisions (transaction_id, operation,
                                       old_wallet_id, old_txid, old_amount, old_created_at,
                                       old_balance_change_id,
                                       revised_at, database_xid, revised_by, application)
    SELECT t.id, 'truncate', t.wallet_id, t.txid, t.amount, t.created_at, j.id,
           clock_timestamp(), pg_current_xact_id(), session_user, current_setting('application_name')
    FROM transactions AS t
    LEFT JOIN unnest(journal_wallets, journal_rows) AS j (wallet_id, id) ON j.wallet_id = t.wallet_id
    ORDER BY t.id;
    RETURN NULL;
END;
$$;

DO $$
DECLARE
    definer text;
BEGIN
    FOREACH definer IN ARRAY ARRAY[
        'transactions_after_insert()',
        'transactions_after_update()',
        'transactions_after_delete()',
        'transactions_before_truncate()'
    ] LOOP
        EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER', definer);
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', definer, current_schema());
    END LOOP;
END;
$$;

DROP FUNCTION ledger_revise(text, transactions[], transactions[], bigint[], bigint[]);
DROP FUNCTION ledger_apply(text, ledger_change[]);
DROP TYPE ledger_change;
