-- One aggregation for every write path.
--
-- The balance triggers of 2026-11-25-000003 each added their statement's rows up per wallet
-- and wrote the before-images of the rows they changed, four times over (insert, update,
-- delete, truncate). Here each trigger only says which rows its statement changed, signed (a
-- row's old version takes its amount back), and two functions do the rest, once:
--
--  * ledger_apply(operation, changes) adds the changes up per wallet (the net delta, how
--    many transactions of the wallet the statement touched, which one when it was one) and
--    hands them to wallet_apply_deltas, which locks, checks, applies and journals them.
--  * ledger_revise(operation, old, new, journal) writes a revision for every row the
--    statement changed or removed, linked to the journal rows of its old and new wallet.
--
-- TRUNCATE keeps an aggregation of its own: it sets every balance to 0 (delta = -balance,
-- whatever the rows add up to), which is not a sum of the rows.
--
-- Nothing else changes: the same checks, locks, journal rows and revisions, in the same
-- order. The functions run as wallet_ledger with a pinned search_path, as before.

-- One row a statement changed, signed: a new version adds its amount to its wallet, an old
-- version takes it back.
CREATE TYPE ledger_change AS (transaction_id bigint, wallet_id bigint, amount numeric);

CREATE FUNCTION ledger_apply(operation text, changes ledger_change[])
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

COMMENT ON FUNCTION ledger_apply(text, ledger_change[]) IS
    'Adds the signed rows a statement changed up per wallet and applies them (wallet_apply_deltas); returns each wallet''s journal row. Called by the transactions triggers only.';

-- The before-images (and after-images) of the rows a statement changed or removed: `old`
-- are the rows as they were, `new` as they are (none for a delete), `journal` the journal
-- row of each wallet the statement wrote (wallet_ids[i] -> balance_change_ids[i]). A row an
-- UPDATE left as it was gets no revision.
CREATE FUNCTION ledger_revise(operation text, old transactions[], new transactions[],
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

COMMENT ON FUNCTION ledger_revise(text, transactions[], transactions[], bigint[], bigint[]) IS
    'Writes the revisions of the rows a statement changed or removed. Called by the transactions triggers only.';


-- INSERT: every new row adds its amount to its wallet.
CREATE OR REPLACE FUNCTION transactions_after_insert()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM ledger_apply('insert', ARRAY(
        SELECT ROW(id, wallet_id, amount)::ledger_change FROM inserted_rows));
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
    FROM ledger_apply('update', ARRAY(
        SELECT ROW(id, wallet_id, amount)::ledger_change FROM new_rows
        UNION ALL
        SELECT ROW(id, wallet_id, -amount)::ledger_change FROM old_rows)) AS j;
    PERFORM ledger_revise('update', ARRAY(SELECT o::transactions FROM old_rows AS o),
                          ARRAY(SELECT n::transactions FROM new_rows AS n), journal_wallets, journal_rows);
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
    FROM ledger_apply('delete', ARRAY(
        SELECT ROW(id, wallet_id, -amount)::ledger_change FROM deleted_rows)) AS j;
    PERFORM ledger_revise('delete', ARRAY(SELECT d::transactions FROM deleted_rows AS d), '{}',
                          journal_wallets, journal_rows);
    RETURN NULL;
END;
$$;


-- TRUNCATE (before it, while the rows are there): every balance becomes 0, journaled with
-- delta = -balance, and every row leaves its before-image, as a DELETE of every row would.
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

    PERFORM ledger_revise('truncate', ARRAY(SELECT t FROM transactions AS t), '{}',
                          journal_wallets, journal_rows);
    RETURN NULL;
END;
$$;


-- As before: owned by wallet_ledger, not callable by others, a pinned search_path; the
-- trigger functions run as their owner (CREATE OR REPLACE reset those attributes).
DO $$
DECLARE
    definer text;
BEGIN
    FOREACH definer IN ARRAY ARRAY[
        'ledger_apply(text, ledger_change[])',
        'ledger_revise(text, transactions[], transactions[], bigint[], bigint[])',
        'transactions_after_insert()',
        'transactions_after_update()',
        'transactions_after_delete()',
        'transactions_before_truncate()'
    ] LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO wallet_ledger', definer);
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', definer);
        IF definer LIKE 'transactions\_%' THEN
            EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER', definer);
        END IF;
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', definer, current_schema());
    END LOOP;
END;
$$;
