-- Who a statement runs for: the API key the service names (wallet_api.actor) and the wallets
-- a wallet-limited key may see and touch (wallet_api.wallets). Both are settings the service
-- sets on its connections; nobody else's setting of the actor is believed.
--
-- This file, like every file of sql/, is applied by `wallet-api migrate` after the versioned
-- migrations, in the same transaction, whenever its text changed: each definition is
-- CREATE OR REPLACE (or drops what it replaces), so a file can run any number of times. Edit
-- a rule here, in one place; migrations/ keep what changes tables and data.


-- The key the current statement runs for: the one the service named in wallet_api.actor,
-- when the session is the service's (a member of wallet_service); no row otherwise. The
-- journal and the revisions record it.
CREATE OR REPLACE FUNCTION ledger_actor(OUT key_id bigint, OUT key_name text)
RETURNS record
LANGUAGE sql
STABLE
AS $_$
    SELECT k.id, k.name
    FROM api_keys AS k
    WHERE pg_has_role(session_user, 'wallet_service', 'MEMBER')
      AND k.id = CASE WHEN current_setting('wallet_api.actor', true) ~ '^[0-9]{1,18}$'
                      THEN current_setting('wallet_api.actor', true)::bigint END
$_$;

COMMENT ON FUNCTION ledger_actor(OUT key_id bigint, OUT key_name text) IS
    'The API key the current statement runs for (wallet_api.actor, honoured for the service''s sessions only), or no row.';


-- The wallets the current statement may see, or NULL for every wallet. Row-level security
-- (90_access.sql) reads it in sub-selects, evaluated once per statement.
CREATE OR REPLACE FUNCTION wallet_api_wallets()
RETURNS bigint[]
LANGUAGE sql
STABLE
AS $$
    SELECT nullif(current_setting('wallet_api.wallets', true), '')::bigint[]
$$;

COMMENT ON FUNCTION wallet_api_wallets() IS
    'The wallets the current statement may see (wallet_api.wallets), or NULL for every wallet.';


DO $$
BEGIN
    ALTER FUNCTION ledger_actor() OWNER TO wallet_ledger;
    REVOKE EXECUTE ON FUNCTION ledger_actor() FROM PUBLIC;
    EXECUTE format('ALTER FUNCTION ledger_actor() SET search_path = %I, pg_temp', current_schema());
    EXECUTE format('ALTER FUNCTION wallet_api_wallets() SET search_path = %I, pg_temp', current_schema());
END;
$$;
