-- Opening the record of balances on a database that held money before it had a journal.
--
-- The journal (2026-11-25-000003) records every balance change from the moment it exists.
-- A database that already held money when it was migrated got an empty journal: verify then
-- reported every such wallet ("balance differs from its journal ... journal 0"), and
-- wallet_balance_at answered 0 for a wallet holding money.
--
-- Here every wallet that holds money and has no journal row yet gets one opening row
-- (operation 'opening'), at this migration's time: its delta and balance are the balance it
-- holds, transaction_count the transactions it has. What happened before the opening row is
-- not known: wallet_balance_at answers 0 before it. A wallet that was written after the
-- journal existed already has its rows and gets none.
--
-- A database migrated to the journal while holding money and written since (its wallets'
-- first rows then break the running total) is put right by `wallet-api repair --apply`,
-- which appends a repair row that acknowledges the break.

ALTER TABLE balance_changes DROP CONSTRAINT balance_changes_operation_known;
ALTER TABLE balance_changes ADD CONSTRAINT balance_changes_operation_known
    CHECK (operation IN ('opening', 'insert', 'update', 'delete', 'truncate', 'repair'));

INSERT INTO balance_changes (wallet_id, delta, balance, operation, transaction_count,
                             transaction_id, changed_at, database_xid, changed_by, application)
SELECT w.id, w.balance, w.balance, 'opening',
       (SELECT count(*) FROM transactions AS t WHERE t.wallet_id = w.id),
       NULL, now(), pg_current_xact_id(), session_user, current_setting('application_name')
FROM wallets AS w
WHERE w.balance <> 0
  AND NOT EXISTS (SELECT 1 FROM balance_changes AS c WHERE c.wallet_id = w.id)
ORDER BY w.id;
