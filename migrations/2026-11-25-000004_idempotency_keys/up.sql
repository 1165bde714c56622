-- Responses kept for retries: a request sent with an `Idempotency-Key` header stores its
-- response here, in the same database transaction as its write, so that a crash can never
-- keep a key without its write or a write without its key. A retry with the same key and the
-- same request (method, URL, body: `fingerprint`, a SHA-256) gets this response again, byte
-- for byte; the same key with another request is refused.
--
-- Keys are kept for the service's IDEMPOTENCY_TTL (24 hours by default) from `created_at`.
-- An expired key is as good as absent: the next request with it runs, and replaces the row.
-- The service removes expired rows in the background, oldest first, through the created_at
-- index (never a scan of the table on a request's path).

CREATE TABLE idempotency_keys (
    key          text PRIMARY KEY
                 CONSTRAINT idempotency_keys_key_length CHECK (char_length(key) BETWEEN 1 AND 255),
    fingerprint  bytea NOT NULL,
    -- What the key was first used for ("POST /transactions"), for the error a reuse gets.
    request      text NOT NULL,
    status       smallint NOT NULL,
    content_type text NOT NULL,
    -- Response headers beyond Content-Type: [[name, value], ...] (Location).
    headers      jsonb NOT NULL,
    body         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);


-- Claims a key for the calling database transaction and reads what it stored, in one round
-- trip: takes the key's transaction-level advisory lock, or answers at once that another
-- request holds it (claimed = false); then, in a statement of its own, reads the response
-- stored for the key within the last ttl_seconds (all NULL when there is none). The read must
-- come after the lock, in a later statement: one statement's snapshot, taken before it got the
-- lock, would miss a response committed by a request that held the lock a moment before, and
-- the request would run twice.
CREATE FUNCTION idempotency_claim(claimed_key text, ttl_seconds bigint)
RETURNS TABLE (claimed boolean, fingerprint bytea, request text, status smallint,
               content_type text, headers jsonb, body text)
LANGUAGE plpgsql
AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtextextended(claimed_key, 0)) THEN
        RETURN QUERY SELECT false, NULL::bytea, NULL::text, NULL::smallint, NULL::text,
                            NULL::jsonb, NULL::text;
        RETURN;
    END IF;
    RETURN QUERY
        SELECT true, k.fingerprint, k.request, k.status, k.content_type, k.headers, k.body
        FROM (SELECT 1) AS one
        LEFT JOIN idempotency_keys AS k
               ON k.key = claimed_key
              AND k.created_at > now() - make_interval(secs => ttl_seconds);
END;
$$;
