-- Transactions move money: statement-level triggers hand every INSERT, UPDATE and DELETE,
-- bulk statements and COPY included, to the engine (20_balances.sql) as signed rows per
-- wallet, and keep a revision of every row an UPDATE changed or a DELETE or TRUNCATE removed.
-- (PostgreSQL allows transition tables on triggers of one event only: one trigger each.)
--
--  * INSERT: each new row adds its amount to its wallet.
--  * UPDATE: the new rows add, the old rows take back: a changed amount moves the
--    difference, a moved transaction moves its money, a txid-only edit touches no wallet.
--    A transaction moves only between wallets of one currency (transactions_currency_fixed).
--  * DELETE: each removed row takes its amount back.
--  * TRUNCATE (which fires no DELETE triggers): every balance goes to 0, the sum of no
--    transactions, journaled, with every row's before-image kept.
--  * A leg of a transfer (transfer_id set) is written by its transfer only
--    (35_transfers.sql): its amount, wallet and transfer never change, and it is never
--    deleted on its own (transactions_transfer_leg); nor truncated while it stands.


-- The refusal of a write to a transfer's leg, in one place.
CREATE OR REPLACE FUNCTION ledger_refuse_leg(transaction_id bigint, transfer_id bigint, what text)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION 'a leg of transfer % %', transfer_id, what
        USING ERRCODE = 'check_violation', CONSTRAINT = 'transactions_transfer_leg',
              TABLE = 'transactions',
              DETAIL = format('transaction_id=%s transfer_id=%s', transaction_id, transfer_id),
              HINT = 'Reverse the transfer (a transfer with reverses) to move its money back.';
END;
$$;


-- The before-images (and after-images) of the transactions a statement changed or removed,
-- each with the journal rows its statement wrote for the old and the new wallet.
CREATE OR REPLACE FUNCTION ledger_revise(operation text, old transactions[], new transactions[], journal_wallets bigint[], journal_rows bigint[])
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

COMMENT ON FUNCTION ledger_revise(operation text, old transactions[], new transactions[], journal_wallets bigint[], journal_rows bigint[]) IS
    'Writes the revisions of the rows a statement changed or removed. Called by the transactions triggers only.';

CREATE OR REPLACE FUNCTION transactions_after_insert()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    leg record;
BEGIN
    -- A leg is written by its transfer's trigger, one level down: never directly.
    IF pg_trigger_depth() < 2 THEN
        SELECT id, transfer_id INTO leg FROM inserted_rows WHERE transfer_id IS NOT NULL LIMIT 1;
        IF FOUND THEN
            PERFORM ledger_refuse_leg(leg.id, leg.transfer_id,
                                      'is written by INSERT INTO transfers only');
        END IF;
    END IF;
    PERFORM ledger_apply('insert', ARRAY(
        SELECT ROW(id, wallet_id, amount)::ledger_change FROM inserted_rows));
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION transactions_after_update()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    journal_wallets bigint[];
    journal_rows bigint[];
    moved record;
    leg record;
BEGIN
    -- A leg keeps its amount, its wallet and its transfer; a plain booking never becomes one.
    SELECT o.id, coalesce(o.transfer_id, n.transfer_id) AS transfer_id INTO leg
    FROM old_rows AS o
    JOIN new_rows AS n ON n.id = o.id
    WHERE o.transfer_id IS DISTINCT FROM n.transfer_id
       OR (o.transfer_id IS NOT NULL AND (o.amount <> n.amount OR o.wallet_id <> n.wallet_id))
    LIMIT 1;
    IF FOUND THEN
        PERFORM ledger_refuse_leg(leg.id, leg.transfer_id,
                                  'keeps its amount, its wallet and its transfer');
    END IF;
    -- Money stays in its currency: a transaction moves only to a wallet of the same one.
    SELECT n.id, o.wallet_id AS old_wallet, ow.currency AS old_currency,
           n.wallet_id AS new_wallet, nw.currency AS new_currency
    INTO moved
    FROM new_rows AS n
    JOIN old_rows AS o ON o.id = n.id AND o.wallet_id <> n.wallet_id
    JOIN wallets AS ow ON ow.id = o.wallet_id
    JOIN wallets AS nw ON nw.id = n.wallet_id
    WHERE ow.currency <> nw.currency
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'a transaction cannot move from wallet % (%) to wallet % (%): a transaction stays in its currency',
                moved.old_wallet, moved.old_currency, moved.new_wallet, moved.new_currency
            USING ERRCODE = 'check_violation', CONSTRAINT = 'transactions_currency_fixed',
                  TABLE = 'transactions',
                  DETAIL = format('transaction_id=%s currency=%s wallet_currency=%s',
                                  moved.id, moved.old_currency, moved.new_currency),
                  HINT = 'Book a debit here and a credit in a wallet of the other currency.';
    END IF;
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

CREATE OR REPLACE FUNCTION transactions_after_delete()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    journal_wallets bigint[];
    journal_rows bigint[];
    leg record;
BEGIN
    SELECT id, transfer_id INTO leg FROM deleted_rows WHERE transfer_id IS NOT NULL LIMIT 1;
    IF FOUND THEN
        PERFORM ledger_refuse_leg(leg.id, leg.transfer_id, 'is never deleted on its own');
    END IF;
    SELECT array_agg(j.wallet_id), array_agg(j.balance_change_id)
    INTO journal_wallets, journal_rows
    FROM ledger_apply('delete', ARRAY(
        SELECT ROW(id, wallet_id, -amount)::ledger_change FROM deleted_rows)) AS j;
    PERFORM ledger_revise('delete', ARRAY(SELECT d::transactions FROM deleted_rows AS d), '{}',
                          journal_wallets, journal_rows);
    RETURN NULL;
END;
$$;


-- TRUNCATE, before it, while the rows are there: every wallet with a balance gives it all
-- back, as a DELETE of every row would.
CREATE OR REPLACE FUNCTION transactions_before_truncate()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    journal_wallets bigint[];
    journal_rows bigint[];
    leg record;
BEGIN
    SELECT id, transfer_id INTO leg FROM transactions WHERE transfer_id IS NOT NULL LIMIT 1;
    IF FOUND THEN
        PERFORM ledger_refuse_leg(leg.id, leg.transfer_id, 'is never deleted: TRUNCATE would delete it');
    END IF;
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
    CROSS JOIN LATERAL wallet_apply(
        'truncate', a.ids, a.deltas,
        array_fill(0::numeric, ARRAY[coalesce(cardinality(a.ids), 0)]), a.counts, a.only_ids,
        array_fill(0::bigint, ARRAY[coalesce(cardinality(a.ids), 0)]),
        array_fill(NULL::bigint, ARRAY[coalesce(cardinality(a.ids), 0)]),
        array_fill(NULL::integer, ARRAY[coalesce(cardinality(a.ids), 0)])) AS j;

    PERFORM ledger_revise('truncate', ARRAY(SELECT t FROM transactions AS t), '{}',
                          journal_wallets, journal_rows);
    RETURN NULL;
END;
$$;


CREATE OR REPLACE TRIGGER transactions_balance_insert
    AFTER INSERT ON transactions
    REFERENCING NEW TABLE AS inserted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION transactions_after_insert();
CREATE OR REPLACE TRIGGER transactions_balance_update
    AFTER UPDATE ON transactions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION transactions_after_update();
CREATE OR REPLACE TRIGGER transactions_balance_delete
    AFTER DELETE ON transactions
    REFERENCING OLD TABLE AS deleted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION transactions_after_delete();
CREATE OR REPLACE TRIGGER transactions_balance_truncate
    BEFORE TRUNCATE ON transactions
    FOR EACH STATEMENT EXECUTE FUNCTION transactions_before_truncate();

-- Fire even under session_replication_role = replica, which skips ordinary triggers.
ALTER TABLE transactions ENABLE ALWAYS TRIGGER transactions_balance_insert;
ALTER TABLE transactions ENABLE ALWAYS TRIGGER transactions_balance_update;
ALTER TABLE transactions ENABLE ALWAYS TRIGGER transactions_balance_delete;
ALTER TABLE transactions ENABLE ALWAYS TRIGGER transactions_balance_truncate;

-- The trigger functions run as wallet_ledger (SECURITY DEFINER): whoever may write a
-- transaction gets right balances, and cannot write one.
DO $$
DECLARE
    definer text;
BEGIN
    FOREACH definer IN ARRAY ARRAY[
        'ledger_revise(text, transactions[], transactions[], bigint[], bigint[])',
        'transactions_after_insert()',
        'transactions_after_update()',
        'transactions_after_delete()',
        'transactions_before_truncate()'
    ] LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO wallet_ledger', definer);
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', definer);
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', definer, current_schema());
    END LOOP;
END;
$$;

DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION ledger_refuse_leg(bigint, bigint, text) SET search_path = %I, pg_temp', current_schema());
END;
$$;
