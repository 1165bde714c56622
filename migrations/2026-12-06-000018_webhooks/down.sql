DROP FUNCTION IF EXISTS webhook_queue(bigint, integer);
DROP FUNCTION IF EXISTS webhook_replay(bigint, timestamptz, bigint);
DROP TABLE IF EXISTS webhook_deliveries;
DROP TABLE IF EXISTS webhook_endpoints;
