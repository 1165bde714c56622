-- The opening rows stay (the journal is append-only, and they hold the only record of what
-- the wallets held when it was opened); only 'opening' entries are allowed to remain.
ALTER TABLE balance_changes DROP CONSTRAINT balance_changes_operation_known;
ALTER TABLE balance_changes ADD CONSTRAINT balance_changes_operation_known
    CHECK (operation IN ('opening', 'insert', 'update', 'delete', 'truncate', 'repair'));
