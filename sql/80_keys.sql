-- API keys and stored idempotent responses: records the service's own role cannot rewrite.
--
--  * A key's revocation is set once, now or in the past, never cleared or moved (a key that
--    should stop later has an expiry).
--  * A stored response is written once, with its own expiry, and removed only once expired:
--    by the claim of its key (which replaces it) or by the purge, both as wallet_ledger; the
--    service's role only reads and adds responses.


CREATE OR REPLACE FUNCTION api_keys_revocation_final()
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


CREATE OR REPLACE TRIGGER api_keys_revocation_final
    BEFORE INSERT OR UPDATE OF revoked_at ON api_keys
    FOR EACH ROW EXECUTE FUNCTION api_keys_revocation_final();
ALTER TABLE api_keys ENABLE ALWAYS TRIGGER api_keys_revocation_final;

CREATE OR REPLACE FUNCTION idempotency_keys_written_once()
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


CREATE OR REPLACE TRIGGER idempotency_keys_written_once
    BEFORE UPDATE OR DELETE ON idempotency_keys
    FOR EACH ROW EXECUTE FUNCTION idempotency_keys_written_once();
ALTER TABLE idempotency_keys ENABLE ALWAYS TRIGGER idempotency_keys_written_once;

-- Claims a key for the calling database transaction and reads what it stored, in one round
-- trip: takes the key's transaction-level advisory lock, or answers at once that another
-- request holds it (claimed = false); then reads the response stored for the key, through
-- the primary key only (planned without sequential scans: no table size or statistics can
-- make it read more than the one row of its key), replayed while it has not expired. The read
-- comes after the lock, in a statement of its own: a snapshot taken before the lock would
-- miss a response committed by a request that held the lock a moment before.
CREATE OR REPLACE FUNCTION idempotency_claim(claimed_by bigint, claimed_key text)
RETURNS TABLE(claimed boolean, fingerprint bytea, request text, status smallint, content_type text, headers jsonb, body text)
LANGUAGE plpgsql
SECURITY DEFINER
SET enable_seqscan TO 'off'
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

COMMENT ON FUNCTION idempotency_claim(claimed_by bigint, claimed_key text) IS
    'Takes an idempotency key of an API key for this transaction (its advisory lock) and returns its stored response while the response has not expired; removes an expired one.';

CREATE OR REPLACE FUNCTION idempotency_purge(batch bigint)
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

COMMENT ON FUNCTION idempotency_purge(batch bigint) IS
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
