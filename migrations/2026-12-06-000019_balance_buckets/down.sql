-- Balance history forgotten: the rules of sql/62_balance_history.sql, then the table.
DROP VIEW IF EXISTS balance_bucket_audit;
DROP FUNCTION IF EXISTS balance_buckets_refold(bigint[]);
DROP FUNCTION IF EXISTS balance_journal_folded(bigint[]);
DROP FUNCTION IF EXISTS balance_history(bigint, text, timestamptz, timestamptz);
DROP FUNCTION IF EXISTS balance_changes_buckets() CASCADE;
DROP FUNCTION IF EXISTS balance_bucket_start(text, timestamptz);
DROP FUNCTION IF EXISTS balance_bucket_step(text);
DROP TABLE IF EXISTS balance_buckets;
