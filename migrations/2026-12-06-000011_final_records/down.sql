-- Back to 2026-12-03-000010: the claim and the purge by the service's TTL, rows rewritable.
REVOKE SELECT, DELETE ON idempotency_keys FROM wallet_ledger;
GRANT UPDATE, DELETE ON idempotency_keys TO wallet_service;

DROP FUNCTION idempotency_purge(bigint);
DROP FUNCTION idempotency_claim(bigint, text);

CREATE FUNCTION idempotency_claim(claimed_by bigint, claimed_key text, ttl_seconds bigint)
RETURNS TABLE (claimed boolean, fingerprint bytea, request text, status smallint,
               content_type text, headers jsonb, body text)
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
DECLARE
    found_row idempotency_keys%ROWTYPE;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtextextended(claimed_key, claimed_by)) THEN
        RETURN QUERY SELECT false, NULL::bytea, NULL::text, NULL::smallint, NULL::text,
                            NULL::jsonb, NULL::text;
        RETURN;
    END IF;
    SELECT * INTO found_row FROM idempotency_keys AS k
    WHERE k.api_key_id = claimed_by AND k.key = claimed_key;
    IF FOUND AND found_row.created_at > now() - make_interval(secs => ttl_seconds) THEN
        RETURN QUERY SELECT true, found_row.fingerprint, found_row.request, found_row.status,
                            found_row.content_type, found_row.headers, found_row.body;
    ELSE
        RETURN QUERY SELECT true, NULL::bytea, NULL::text, NULL::smallint, NULL::text,
                            NULL::jsonb, NULL::text;
    END IF;
END;
$$;

DROP TRIGGER idempotency_keys_written_once ON idempotency_keys;
DROP FUNCTION idempotency_keys_written_once();
DROP INDEX idempotency_keys_expires_at_idx;
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);
ALTER TABLE idempotency_keys DROP COLUMN expires_at;

DROP TRIGGER api_keys_revocation_final ON api_keys;
DROP FUNCTION api_keys_revocation_final();
