-- Transfers forgotten: their legs stay, as plain transactions (their money stays booked).
DROP VIEW IF EXISTS transfers_with_currency;
DROP VIEW IF EXISTS transfer_audit;
-- Gained transfer_id: the files of the version before define it again without it.
DROP VIEW IF EXISTS transactions_with_currency;
DROP TABLE transfers;
DROP FUNCTION IF EXISTS transfers_after_insert();
DROP FUNCTION IF EXISTS transfers_guard();
DROP FUNCTION IF EXISTS transfers_never_deleted();
DROP INDEX transactions_transfer_id;
ALTER TABLE transactions DROP COLUMN transfer_id;
