-- The claim as 2026-12-01-000007_access_control wrote it.
CREATE OR REPLACE FUNCTION idempotency_claim(claimed_by bigint, claimed_key text, ttl_seconds bigint)
RETURNS TABLE (claimed boolean, fingerprint bytea, request text, status smallint,
               content_type text, headers jsonb, body text)
LANGUAGE plpgsql
AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtextextended(claimed_key, claimed_by)) THEN
        RETURN QUERY SELECT false, NULL::bytea, NULL::text, NULL::smallint, NULL::text,
                            NULL::jsonb, NULL::text;
        RETURN;
    END IF;
    RETURN QUERY
        SELECT true, k.fingerprint, k.request, k.status, k.content_type, k.headers, k.body
        FROM (SELECT 1) AS one
        LEFT JOIN idempotency_keys AS k
               ON k.api_key_id = claimed_by
              AND k.key = claimed_key
              AND k.created_at > now() - make_interval(secs => ttl_seconds);
END;
$$;
