-- Webhooks forgotten: the rules of sql/57_webhooks.sql first, then the tables.
DROP VIEW IF EXISTS webhook_endpoint_lag;
DROP FUNCTION IF EXISTS webhook_queue(bigint, integer);
DROP FUNCTION IF EXISTS webhook_wants(text[], bigint[], text, bigint);
DROP FUNCTION IF EXISTS webhook_replay(bigint, timestamptz, bigint);
DROP FUNCTION IF EXISTS webhook_lock(bigint);
DROP TABLE IF EXISTS webhook_deliveries;
DROP TABLE IF EXISTS webhook_endpoints;
DROP FUNCTION IF EXISTS webhook_endpoints_start();
