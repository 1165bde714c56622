-- Records the service cannot rewrite: a key's revocation and a stored idempotent response.
--
-- Promise, on top of the previous migrations':
--  * A key's revocation is final for every role but the tables' owner (who can disable these
--    triggers, and whom `verify` does not audit): revoked_at is set once, never cleared or
--    moved, and never to a time to come (a key that should stop later has an expiry).
--  * A stored idempotent response is written once and never changed: no UPDATE of
--    idempotency_keys succeeds, and a row is removed only once it has expired. Each row
--    carries its own expires_at, set when it is written (the service's IDEMPOTENCY_TTL at
--    that moment), so what a retry replays and for how long is decided by the row, not by
--    whoever reads it. A changed IDEMPOTENCY_TTL applies to the responses stored after it.
--  * The service's role keeps SELECT and INSERT on idempotency_keys, nothing more: the claim
--    (which removes its own key's expired row before a new one is written) and the purge of
--    expired rows run as wallet_ledger. On api_keys it keeps SELECT, INSERT and UPDATE of
--    revoked_at alone, which the trigger below holds to a single revocation.


-- Revocations: once, now or in the past, never undone.
CREATE FUNCTION api_keys_revocation_final()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.revoked_at IS NOT NULL
       AND NEW.revoked_at IS DISTINCT FROM OLD.revoked_at THEN
        RAISE EXCEPTION 'API key % was revoked at %: a revocation is final', OLD.id, OLD.revoked_at
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'api_keys_revocation_final',
                  TABLE = 'api_keys';
    END IF;
    IF NEW.revoked_at > clock_timestamp()
       AND (TG_OP = 'INSERT' OR NEW.revoked_at IS DISTINCT FROM OLD.revoked_at) THEN
        RAISE EXCEPTION 'API key % cannot be revoked at %, a time to come: revoke it now, or give it an expires_at',
                NEW.id, NEW.revoked_at
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'api_keys_revocation_not_future',
                  TABLE = 'api_keys';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER api_keys_revocation_final
    BEFORE INSERT OR UPDATE OF revoked_at ON api_keys
    FOR EACH ROW EXECUTE FUNCTION api_keys_revocation_final();
ALTER TABLE api_keys ENABLE ALWAYS TRIGGER api_keys_revocation_final;


-- Stored responses: each with its own expiry. Rows stored before this migration keep the
-- default time to live, 24 hours from when they were stored.
ALTER TABLE idempotency_keys
    ADD COLUMN expires_at timestamptz NOT NULL DEFAULT now() + interval '24 hours';
UPDATE idempotency_keys SET expires_at = created_at + interval '24 hours';
DROP INDEX idempotency_keys_created_at_idx;
CREATE INDEX idempotency_keys_expires_at_idx ON idempotency_keys (expires_at);

CREATE FUNCTION idempotency_keys_written_once()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'the stored response of idempotency key % is written once and never changed',
                OLD.key
            USING ERRCODE = 'insufficient_privilege',
                  TABLE = 'idempotency_keys';
    END IF;
    IF OLD.expires_at > now() THEN
        RAISE EXCEPTION 'the stored response of idempotency key % is replayed until %: it cannot be removed before',
                OLD.key, OLD.expires_at
            USING ERRCODE = 'insufficient_privilege',
                  TABLE = 'idempotency_keys';
    END IF;
    RETURN OLD;
END;
$$;

CREATE TRIGGER idempotency_keys_written_once
    BEFORE UPDATE OR DELETE ON idempotency_keys
    FOR EACH ROW EXECUTE FUNCTION idempotency_keys_written_once();
ALTER TABLE idempotency_keys ENABLE ALWAYS TRIGGER idempotency_keys_written_once;


-- The claim, as in 2026-12-03-000010, but the row decides whether it is still replayed, and
-- an expired row of the key is removed here, under the key's advisory lock, so that the
-- response written after it is a plain INSERT.
DROP FUNCTION idempotency_claim(bigint, text, bigint);

CREATE FUNCTION idempotency_claim(claimed_by bigint, claimed_key text)
RETURNS TABLE (claimed boolean, fingerprint bytea, request text, status smallint,
               content_type text, headers jsonb, body text)
LANGUAGE plpgsql
SECURITY DEFINER
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
    IF FOUND AND found_row.expires_at > now() THEN
        RETURN QUERY SELECT true, found_row.fingerprint, found_row.request, found_row.status,
                            found_row.content_type, found_row.headers, found_row.body;
        RETURN;
    END IF;
    IF FOUND THEN
        DELETE FROM idempotency_keys AS k WHERE k.api_key_id = claimed_by AND k.key = claimed_key;
    END IF;
    RETURN QUERY SELECT true, NULL::bytea, NULL::text, NULL::smallint, NULL::text,
                        NULL::jsonb, NULL::text;
END;
$$;

COMMENT ON FUNCTION idempotency_claim(bigint, text) IS
    'Takes an idempotency key of an API key for this transaction (its advisory lock) and returns its stored response while the response has not expired; removes an expired one.';

-- Removes up to `batch` expired responses, those that expired first first; how many.
CREATE FUNCTION idempotency_purge(batch bigint)
RETURNS bigint
LANGUAGE sql
SECURITY DEFINER
AS $$
    WITH removed AS (
        DELETE FROM idempotency_keys
        WHERE (api_key_id, key) IN (
            SELECT api_key_id, key FROM idempotency_keys
            WHERE expires_at <= now()
            ORDER BY expires_at
            LIMIT batch)
        RETURNING 1
    )
    SELECT count(*) FROM removed
$$;

COMMENT ON FUNCTION idempotency_purge(bigint) IS
    'Removes up to batch expired idempotent responses, oldest expiry first; returns how many.';

DO $$
DECLARE
    definer text;
BEGIN
    FOREACH definer IN ARRAY ARRAY['idempotency_claim(bigint, text)', 'idempotency_purge(bigint)'] LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO wallet_ledger', definer);
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', definer);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO wallet_service', definer);
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', definer, current_schema());
    END LOOP;
END;
$$;

GRANT SELECT, DELETE ON idempotency_keys TO wallet_ledger;
REVOKE UPDATE, DELETE ON idempotency_keys FROM wallet_service;
