-- Metadata: the client's own keys and values on wallets, transactions, holds, transfers,
-- exchanges and balance monitors, held to their limits by a CHECK constraint on each table
-- (metadata_valid), whoever writes.


CREATE OR REPLACE FUNCTION metadata_valid(metadata jsonb)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
AS $$
    SELECT jsonb_typeof(metadata) = 'object'
       AND (SELECT count(*) FROM jsonb_each(metadata)) <= 50
       AND NOT EXISTS (
           SELECT 1 FROM jsonb_each(metadata) AS e
           WHERE char_length(e.key) NOT BETWEEN 1 AND 40
              OR e.key ~ '[\u0001-\u001f\u007f-\u009f\[\]]'
              OR e.key LIKE '%.exists'
              OR jsonb_typeof(e.value) <> 'string'
              OR char_length(e.value #>> '{}') > 500
       )
$$;

COMMENT ON FUNCTION metadata_valid(metadata jsonb) IS
    'Whether a metadata object is within the limits: at most 50 keys of 1-40 characters (no control characters, no brackets, not ending .exists), string values of at most 500 characters.';


-- The ids of the rows of `resource` the current statement may see (as the policies of
-- 90_access.sql say) whose metadata holds one of the objects in `contains`, or has the key
-- `has_key`: at most `cap` of them, or NULL when more match. The service reads a filtered page
-- by these ids. Its role is subject to row-level security, under which PostgreSQL never uses
-- an index for an operator that is not leakproof, and neither @> nor ? is: the page would
-- filter every row of the table. This function belongs to the tables' owner, whom the
-- policies do not bind, so its query reads the GIN index, and it applies their condition
-- itself. Beyond `cap` matches the page is read as it stands (a common value fills a page
-- soon, in any order).
CREATE OR REPLACE FUNCTION metadata_ids(resource text, contains jsonb[], has_key text, cap integer)
RETURNS bigint[]
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
AS $_$
DECLARE
    visible text;
    matches text;
    ids bigint[];
BEGIN
    -- The policy's condition: the rows of the wallets the key is limited to.
    visible := CASE resource
        WHEN 'wallets' THEN 'id = ANY (wallet_api_wallets())'
        WHEN 'transactions' THEN 'wallet_id = ANY (wallet_api_wallets())'
        WHEN 'holds' THEN 'wallet_id = ANY (wallet_api_wallets())'
        WHEN 'transfers' THEN 'source_wallet_id = ANY (wallet_api_wallets()) '
                              'OR destination_wallet_id = ANY (wallet_api_wallets())'
        WHEN 'exchanges' THEN 'source_wallet_id = ANY (wallet_api_wallets()) '
                              'OR destination_wallet_id = ANY (wallet_api_wallets())'
        WHEN 'balance-monitors' THEN 'wallet_id = ANY (wallet_api_wallets())'
        -- Admin keys only, and those are never limited.
        WHEN 'webhook-endpoints' THEN 'false'
    END;
    IF visible IS NULL THEN
        RAISE EXCEPTION 'metadata_ids: % has no metadata', resource USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF has_key IS NOT NULL THEN
        matches := 'metadata ? $2';
    ELSIF cardinality(contains) > 0 THEN
        SELECT string_agg(format('metadata @> $1[%s]', i), ' OR ')
        INTO matches
        FROM generate_subscripts(contains, 1) AS i;
    ELSE
        RETURN '{}';
    END IF;
    -- Planned with the values each time (EXECUTE), so that the planner weighs them.
    EXECUTE format(
        'SELECT array_agg(id) FROM (SELECT id FROM %I WHERE (%s) '
        'AND (wallet_api_wallets() IS NULL OR %s) LIMIT $3 + 1) AS m',
        replace(resource, '-', '_'), matches, visible)
    INTO ids
    USING contains, has_key, cap;
    IF cardinality(ids) > cap THEN
        RETURN NULL;
    END IF;
    RETURN coalesce(ids, '{}');
END;
$_$;

COMMENT ON FUNCTION metadata_ids(resource text, contains jsonb[], has_key text, cap integer) IS
    'The ids of the visible rows of wallets, transactions, holds or transfers whose metadata holds one of the objects given (or has the key given): at most cap, or NULL when more match.';


DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION metadata_valid(jsonb) SET search_path = %I, pg_temp', current_schema());
    EXECUTE format('ALTER FUNCTION metadata_ids(text, jsonb[], text, integer) SET search_path = %I, pg_temp', current_schema());
    REVOKE EXECUTE ON FUNCTION metadata_ids(text, jsonb[], text, integer) FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION metadata_ids(text, jsonb[], text, integer) TO wallet_service, wallet_reader;
END;
$$;
