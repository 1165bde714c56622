-- Exchanges forgotten: their transfers stay, as plain transfers (their money stays booked).
DROP VIEW IF EXISTS exchanges_with_scale;
DROP VIEW IF EXISTS exchange_audit;
-- Gained exchange_id: the files of the version before define it again without it.
DROP VIEW IF EXISTS transfers_with_currency;
DROP TABLE exchanges;
DROP FUNCTION IF EXISTS exchanges_terms();
DROP FUNCTION IF EXISTS exchanges_after_insert();
DROP FUNCTION IF EXISTS exchanges_guard();
DROP FUNCTION IF EXISTS exchanges_never_deleted();
DROP FUNCTION IF EXISTS exchange_destination_amount(numeric, numeric, integer);
DROP FUNCTION IF EXISTS exchange_source_amount(numeric, numeric, integer);
DROP INDEX transfers_exchange_id;
ALTER TABLE transfers DROP COLUMN exchange_id;
