DROP FUNCTION idempotency_claim(text, bigint);
DROP TABLE idempotency_keys;
