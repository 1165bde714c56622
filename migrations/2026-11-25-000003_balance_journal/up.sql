-- Every balance change on record: the journal, the before-images of edited and deleted
-- transactions, balances at any past time, and the one sanctioned path to repair a balance.
--
-- Promise, on top of the previous migration's:
--  * balance_changes holds one row per wallet per statement that changed its balance, written
--    by the same statement-level triggers that keep the balance, from the rows they already
--    aggregate (a million-row INSERT over 10,000 wallets adds 10,000 journal rows). For each
--    wallet, ordered by id, `balance` is a running total: each row's balance is the previous
--    row's balance (0 before the first) plus its delta, and the last one equals
--    wallets.balance. Writers to one wallet are serialised by its row lock, so they cannot
--    interleave; changed_at is taken once the wallet is locked, so it grows with id.
--  * transaction_revisions keeps the old values (and the new ones) of every transaction an
--    UPDATE changed, a DELETE removed or a TRUNCATE emptied, with the journal rows its change
--    belongs to. An INSERT needs no revision: the row itself is the record.
--  * Both tables are append-only: UPDATE, DELETE and TRUNCATE of them are refused.
--  * A wallet with journal rows cannot be deleted (foreign key, RESTRICT): its history stays.
--  * wallet_balance_at(wallet, time) is the balance of the last journal row at or before that
--    time: one index probe, however long the history.
--  * wallet_balance_audit (and `wallet-api verify`) compares three copies of every balance:
--    the stored one, the sum of the transactions, and the journal's last row; and checks the
--    running total. wallet_repair() (`wallet-api repair`) puts flagged wallets right.
--
-- Who may write a balance. The previous migration let any trigger write wallets.balance
-- (trigger depth > 0), so a user's own trigger could. Now the balance, the journal and the
-- revisions are written by functions owned by the role wallet_ledger (NOLOGIN: nobody logs in
-- as it) and run as that role (SECURITY DEFINER, search_path pinned), and the guard on
-- wallets admits a balance write only from that role. A user who can write transactions
-- gets right balances through the triggers and nothing else: no direct write of a balance,
-- journal or revision, whatever trigger of their own they add. wallet_repair() is the only
-- function that writes a balance to something other than a sum of deltas, and it can only
-- write the balance the wallet's transactions add up to; EXECUTE on it is revoked from
-- PUBLIC (grant it to the operators who may run `wallet-api repair`).
--
-- What can still bypass it, and how verify sees it: a superuser (who can become any role), a
-- member of wallet_ledger, or a table owner who disables these triggers. Editing a
-- transaction with the triggers disabled leaves the stored balance and the journal apart from
-- the transactions; writing a balance leaves it apart from both; editing or deleting journal
-- rows breaks the running total or leaves the last row apart from the stored balance. Each is
-- a line of wallet_balance_audit naming the wallet and which copy disagrees.
--
-- Running this migration needs the right to create a role (CREATEROLE, or a superuser).


-- The role that owns the money functions. Roles are shared by every database of a cluster:
-- another database of this service may have created it already.
DO $$
BEGIN
    CREATE ROLE wallet_ledger NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END;
$$;


CREATE TABLE balance_changes (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    wallet_id         bigint NOT NULL
                      CONSTRAINT balance_changes_wallet_id_fkey
                      REFERENCES wallets (id) ON DELETE RESTRICT,
    -- The change to the running total. |delta| < 10^18 for every trigger-written row (both
    -- balances fit numeric(36,18)); a repair may mend a balance corrupted to anything, hence
    -- one more integer digit.
    delta             numeric(37, 18) NOT NULL,
    balance           numeric(36, 18) NOT NULL,
    operation         text NOT NULL
                      CONSTRAINT balance_changes_operation_known
                      CHECK (operation IN ('insert', 'update', 'delete', 'truncate', 'repair')),
    -- How many transactions rows of this wallet the statement touched.
    transaction_count bigint NOT NULL,
    -- The transactions row, when exactly one was involved (every API write). No foreign key:
    -- the transaction may be deleted later; its before-image is in transaction_revisions.
    transaction_id    bigint,
    changed_at        timestamptz NOT NULL,
    database_xid      xid8 NOT NULL,
    changed_by        text NOT NULL,
    application       text NOT NULL,
    -- Repairs only: the stored balance the repair replaced.
    repaired_from     numeric(36, 18)
);

COMMENT ON TABLE balance_changes IS
    'Append-only journal: one row per wallet per statement that changed its balance; balance is a running total per wallet.';

-- (wallet_id, id): a wallet's journal in order (/wallets/{id}/balance-changes, the running
--   total check); also makes the foreign key check on DELETE FROM wallets an index probe.
-- (wallet_id, changed_at, id): the balance at a time, one backward index probe.
CREATE INDEX balance_changes_wallet_id_id_idx ON balance_changes (wallet_id, id);
CREATE INDEX balance_changes_wallet_time_idx ON balance_changes (wallet_id, changed_at, id);


CREATE TABLE transaction_revisions (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id        bigint NOT NULL,
    operation             text NOT NULL
                          CONSTRAINT transaction_revisions_operation_known
                          CHECK (operation IN ('update', 'delete', 'truncate')),
    old_wallet_id         bigint NOT NULL,
    old_txid              text NOT NULL,
    old_amount            numeric(36, 18) NOT NULL,
    old_created_at        timestamptz NOT NULL,
    -- NULL for a delete or a truncate.
    new_wallet_id         bigint,
    new_txid              text,
    new_amount            numeric(36, 18),
    new_created_at        timestamptz,
    -- The journal rows of the old and the new wallet written by the same statement (NULL
    -- when that wallet's balance did not change, as for a txid-only edit).
    old_balance_change_id bigint,
    new_balance_change_id bigint,
    revised_at            timestamptz NOT NULL,
    database_xid          xid8 NOT NULL,
    revised_by            text NOT NULL,
    application           text NOT NULL
);

COMMENT ON TABLE transaction_revisions IS
    'Append-only before-images (and after-images) of every transaction changed by UPDATE, DELETE or TRUNCATE.';

CREATE INDEX transaction_revisions_transaction_id_idx ON transaction_revisions (transaction_id, id);


-- Append-only: refuse UPDATE, DELETE and TRUNCATE of the journal and the revisions.
CREATE FUNCTION ledger_refuse_rewrite()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: its rows cannot be changed or removed (% refused)',
            TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              TABLE = TG_TABLE_NAME,
              HINT = 'The journal is the record of every balance change; wallet-api repair appends a repair row when a balance must be put right.';
END;
$$;

CREATE TRIGGER balance_changes_append_only
    BEFORE UPDATE OR DELETE ON balance_changes
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_rewrite();
CREATE TRIGGER balance_changes_no_truncate
    BEFORE TRUNCATE ON balance_changes
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_rewrite();
CREATE TRIGGER transaction_revisions_append_only
    BEFORE UPDATE OR DELETE ON transaction_revisions
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_rewrite();
CREATE TRIGGER transaction_revisions_no_truncate
    BEFORE TRUNCATE ON transaction_revisions
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_rewrite();


-- Apply net balance changes and journal them: wallet_ids[i] changes by deltas[i], the
-- statement touched counts[i] of its transactions, transaction_ids[i] when it was one.
-- Returns the journal row of each wallet.
DROP FUNCTION wallet_apply_deltas(bigint[], numeric[]);

CREATE FUNCTION wallet_apply_deltas(
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

COMMENT ON FUNCTION wallet_apply_deltas(text, bigint[], numeric[], bigint[], bigint[]) IS
    'Adds deltas[i] to the balance of wallet wallet_ids[i] and journals it: locks in id order, refuses negative or overflowing results. Called by the transactions triggers only.';


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
DROP TRIGGER transactions_balance_truncate ON transactions;
DROP FUNCTION transactions_after_truncate();

CREATE FUNCTION transactions_before_truncate()
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

CREATE TRIGGER transactions_balance_truncate
    BEFORE TRUNCATE ON transactions
    FOR EACH STATEMENT
    EXECUTE FUNCTION transactions_before_truncate();


-- The guard: a balance is written by wallet_ledger's functions only.
DROP TRIGGER wallets_balance_guard_update ON wallets;
CREATE TRIGGER wallets_balance_guard_update
    BEFORE UPDATE OF balance ON wallets
    FOR EACH ROW
    WHEN (NEW.balance IS DISTINCT FROM OLD.balance AND current_user <> 'wallet_ledger')
    EXECUTE FUNCTION wallets_refuse_balance_write();


-- The audit: one row per wallet whose copies of its balance disagree, naming each
-- disagreement, plus every group of transactions whose wallet no longer exists. A break in
-- the running total is reported from the last repair on: a repair row acknowledges what came
-- before it (the rows stay, as evidence).
DROP VIEW wallet_balance_audit;
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


-- The balance of a wallet at a time: that of its last journal row at or before it, 0 before
-- the first. (A change is journaled when it is made; it is visible to others from its
-- commit, a moment later.)
CREATE FUNCTION wallet_balance_at(wallet bigint, at timestamptz)
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


-- Repair: for every wallet the audit flags, the balance its transactions add up to, written
-- with a journal row (operation 'repair'): its delta continues the journal's running total
-- from its last row to the repaired balance, repaired_from holds the stored balance it
-- replaced. Without `apply` it only says what it would do. It locks the wallets it repairs in
-- id order (as the balance triggers do, so it cannot deadlock with them) and recomputes each
-- sum under that lock: a writer that was about to change such a wallet waits, then applies
-- its delta to the repaired balance. Everything in one statement: one transaction.
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


-- Ownership and privileges: the functions that write balances, journal rows and revisions
-- run as wallet_ledger, which may do exactly that and read what it needs.
GRANT SELECT, UPDATE (balance, updated_at) ON wallets TO wallet_ledger;
GRANT SELECT ON transactions TO wallet_ledger;
GRANT SELECT, INSERT ON balance_changes TO wallet_ledger;
GRANT INSERT ON transaction_revisions TO wallet_ledger;
GRANT SELECT ON wallet_balance_audit TO wallet_ledger;

DO $$
DECLARE
    definer text;
BEGIN
    -- Owning functions needs CREATE on their schema; reading the tables, USAGE.
    EXECUTE format('GRANT USAGE, CREATE ON SCHEMA %I TO wallet_ledger', current_schema());
    FOREACH definer IN ARRAY ARRAY[
        'wallet_apply_deltas(text, bigint[], numeric[], bigint[], bigint[])',
        'transactions_after_insert()',
        'transactions_after_update()',
        'transactions_after_delete()',
        'transactions_before_truncate()',
        'wallet_repair(boolean)'
    ] LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO wallet_ledger', definer);
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', definer);
        -- Run as their owner, with a search path nobody else can put objects in front of.
        IF definer <> 'wallet_apply_deltas(text, bigint[], numeric[], bigint[], bigint[])' THEN
            EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER', definer);
        END IF;
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', definer, current_schema());
    END LOOP;
END;
$$;


-- Fire even under session_replication_role = replica.
ALTER TABLE transactions ENABLE ALWAYS TRIGGER transactions_balance_truncate;
ALTER TABLE wallets ENABLE ALWAYS TRIGGER wallets_balance_guard_update;
ALTER TABLE balance_changes ENABLE ALWAYS TRIGGER balance_changes_append_only;
ALTER TABLE balance_changes ENABLE ALWAYS TRIGGER balance_changes_no_truncate;
ALTER TABLE transaction_revisions ENABLE ALWAYS TRIGGER transaction_revisions_append_only;
ALTER TABLE transaction_revisions ENABLE ALWAYS TRIGGER transaction_revisions_no_truncate;
