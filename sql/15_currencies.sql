-- Currencies: every wallet holds one, and every amount is exact at its scale.
--
--  * currencies is the catalogue: code, name, scale (the fractional digits of every amount
--    of it, 0 to 18), kind. Its code never changes; its scale is fixed once a wallet uses it
--    (the foreign key wallets (currency, scale) -> currencies (code, scale) refuses the
--    UPDATE, and the DELETE of a currency in use).
--  * A wallet names its currency when it is created (XXX, scale 18, when it names none) and
--    never changes it (wallets_currency_fixed); its scale is copied from the catalogue.
--  * An amount is exact at its wallet's scale: wallet_apply (20_balances.sql) refuses a
--    statement with any transaction or hold amount of more fractional digits
--    (transactions_amount_scale, holds_amount_scale), a capture of such an amount is
--    refused (holds_captured_amount_scale, 40_holds.sql), and a transaction cannot move to
--    a wallet of another currency (transactions_currency_fixed, 30_transactions.sql).
--  * The views transactions_with_currency and balance_changes_with_currency (and holds_now,
--    60_history.sql) give every row its wallet's currency and scale, for reading.


-- A new wallet takes its currency's scale; a wallet's currency never changes afterwards.
CREATE OR REPLACE FUNCTION wallets_currency()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'wallet %: its currency never changes (it holds %)', OLD.id, OLD.currency
            USING ERRCODE = 'check_violation', CONSTRAINT = 'wallets_currency_fixed',
                  TABLE = 'wallets',
                  HINT = 'Open a wallet in the other currency and move the money with transactions.';
    END IF;
    SELECT c.scale INTO NEW.scale FROM currencies AS c WHERE c.code = NEW.currency;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'there is no currency %', coalesce(quote_literal(NEW.currency), 'NULL')
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'wallets_currency_fkey',
                  TABLE = 'wallets', DETAIL = format('currency=%s', NEW.currency),
                  HINT = 'Name a currency of the catalogue (SELECT code FROM currencies), or add one.';
    END IF;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER wallets_currency
    BEFORE INSERT ON wallets
    FOR EACH ROW EXECUTE FUNCTION wallets_currency();
CREATE OR REPLACE TRIGGER wallets_currency_fixed
    BEFORE UPDATE OF currency, scale ON wallets
    FOR EACH ROW
    WHEN ((NEW.currency, NEW.scale) IS DISTINCT FROM (OLD.currency, OLD.scale))
    EXECUTE FUNCTION wallets_currency();

COMMENT ON FUNCTION wallets_currency() IS
    'Sets a new wallet''s scale from its currency; refuses any change of a wallet''s currency or scale.';


-- A currency's code never changes (wallets name it); its updated_at follows its changes.
CREATE OR REPLACE FUNCTION currencies_guard()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NEW.code IS DISTINCT FROM OLD.code THEN
        RAISE EXCEPTION 'currency %: its code never changes', OLD.code
            USING ERRCODE = 'check_violation', CONSTRAINT = 'currencies_code_fixed',
                  TABLE = 'currencies';
    END IF;
    NEW.created_at := OLD.created_at;
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER currencies_guard
    BEFORE UPDATE ON currencies
    FOR EACH ROW EXECUTE FUNCTION currencies_guard();


-- XXX stays in the catalogue: it is the currency of every wallet created without one. (A
-- currency a wallet holds is kept by the foreign key wallets_currency_fkey.)
CREATE OR REPLACE FUNCTION currencies_keep_default()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF OLD.code = 'XXX' THEN
        RAISE EXCEPTION 'currency XXX is never deleted: it is the currency of every wallet created without one'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'currencies_default_kept',
                  TABLE = 'currencies';
    END IF;
    RETURN OLD;
END;
$$;

CREATE OR REPLACE TRIGGER currencies_keep_default
    BEFORE DELETE ON currencies
    FOR EACH ROW EXECUTE FUNCTION currencies_keep_default();


-- A currency's liquidity wallet (the house's wallet that takes and gives it in exchanges,
-- 36_exchanges.sql) holds that currency. (A wallet's currency never changes, and the
-- foreign key keeps the wallet from being deleted while it is named.)
CREATE OR REPLACE FUNCTION currencies_liquidity()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    held text;
BEGIN
    SELECT w.currency INTO held FROM wallets AS w WHERE w.id = NEW.liquidity_wallet_id;
    IF FOUND AND held <> NEW.code THEN
        RAISE EXCEPTION 'currency %: its liquidity wallet % holds %', NEW.code, NEW.liquidity_wallet_id, held
            USING ERRCODE = 'check_violation', CONSTRAINT = 'currencies_liquidity_currency',
                  TABLE = 'currencies',
                  DETAIL = format('wallet_id=%s currency=%s', NEW.liquidity_wallet_id, held),
                  HINT = 'Name a wallet of this currency.';
    END IF;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER currencies_liquidity
    BEFORE INSERT OR UPDATE OF liquidity_wallet_id ON currencies
    FOR EACH ROW
    WHEN (NEW.liquidity_wallet_id IS NOT NULL)
    EXECUTE FUNCTION currencies_liquidity();


-- The refusal of an amount with more fractional digits than its wallet's currency has, in
-- one place: wallet_apply and the capture check raise it.
CREATE OR REPLACE FUNCTION ledger_refuse_precision(what text, wallet bigint, currency text, scale smallint, digits integer)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION 'amount precision: wallet % holds %, whose amounts have at most % fractional digit(s); % has %',
            wallet, currency, scale,
            CASE what WHEN 'holds_captured_amount_scale' THEN 'a captured amount'
                      WHEN 'holds_amount_scale' THEN 'a hold amount'
                      WHEN 'wallets_credit_limit_scale' THEN 'its credit limit'
                      WHEN 'exchanges_source_amount_scale' THEN 'the exchange''s source amount'
                      WHEN 'exchanges_destination_amount_scale' THEN 'the exchange''s destination amount'
                      ELSE 'an amount' END,
            digits
        USING ERRCODE = 'check_violation', CONSTRAINT = what,
              TABLE = CASE WHEN what LIKE 'holds%' THEN 'holds'
                           WHEN what LIKE 'wallets%' THEN 'wallets'
                           WHEN what LIKE 'exchanges%' THEN 'exchanges' ELSE 'transactions' END,
              DETAIL = format('wallet_id=%s currency=%s scale=%s', wallet, currency, scale),
              HINT = format('Round the amount to %s fractional digit(s): amounts of %s are exact at its scale.',
                            scale, currency);
END;
$$;


-- Reading: every transaction and journal row with its wallet's currency and scale (the API
-- renders amounts at that scale). Looked up per row shown, not joined: a page's plan stays
-- the plan of its own table (the lookups run for the rows of the page only, after its sort
-- and limit). A row whose wallet is gone (possible only with the triggers and foreign keys
-- off, and flagged by the audit) reads as XXX. Run with the reader's rights: row-level
-- security applies.
CREATE OR REPLACE VIEW transactions_with_currency WITH (security_invoker = true) AS
    SELECT t.id, t.wallet_id, t.txid, t.amount, t.created_at, t.metadata,
           coalesce((SELECT w.currency FROM wallets AS w WHERE w.id = t.wallet_id), 'XXX') AS currency,
           coalesce((SELECT w.scale FROM wallets AS w WHERE w.id = t.wallet_id), 18::smallint) AS scale,
           t.transfer_id
    FROM transactions AS t;

COMMENT ON VIEW transactions_with_currency IS
    'Every transaction with its wallet''s currency and scale.';

CREATE OR REPLACE VIEW balance_changes_with_currency WITH (security_invoker = true) AS
    SELECT c.*,
           coalesce((SELECT w.currency FROM wallets AS w WHERE w.id = c.wallet_id), 'XXX') AS currency,
           coalesce((SELECT w.scale FROM wallets AS w WHERE w.id = c.wallet_id), 18::smallint) AS scale
    FROM balance_changes AS c;

COMMENT ON VIEW balance_changes_with_currency IS
    'Every journal row with its wallet''s currency and scale.';

DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION wallets_currency() SET search_path = %I, pg_temp', current_schema());
    EXECUTE format('ALTER FUNCTION currencies_guard() SET search_path = %I, pg_temp', current_schema());
    EXECUTE format('ALTER FUNCTION currencies_keep_default() SET search_path = %I, pg_temp', current_schema());
    EXECUTE format('ALTER FUNCTION currencies_liquidity() SET search_path = %I, pg_temp', current_schema());
    EXECUTE format('ALTER FUNCTION ledger_refuse_precision(text, bigint, text, smallint, integer) SET search_path = %I, pg_temp', current_schema());
END;
$$;

ALTER TABLE wallets ENABLE ALWAYS TRIGGER wallets_currency;
ALTER TABLE wallets ENABLE ALWAYS TRIGGER wallets_currency_fixed;
ALTER TABLE currencies ENABLE ALWAYS TRIGGER currencies_guard;
ALTER TABLE currencies ENABLE ALWAYS TRIGGER currencies_liquidity;
