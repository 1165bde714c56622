-- Exchanges: money changed from one currency into another at a quoted rate, kept whole on
-- every path.
--
--  * INSERT INTO exchanges (one row, or many): each row gives its wallets, its rate, and one
--    amount (or both, when they agree); the database copies the currencies and the
--    liquidity wallets, computes the other amount toward the house (exchange_source_amount,
--    exchange_destination_amount), and refuses, before anything is written: one currency on
--    both sides, a currency without a liquidity wallet, a liquidity wallet as a side, an
--    amount finer than its currency, amounts that disagree, an amount that computes to zero.
--  * Then the statement's exchanges book their transfers in one INSERT INTO transfers (two
--    per exchange: source -> the source currency's liquidity wallet, and the destination
--    currency's liquidity wallet -> destination), whose trigger books the four legs in one
--    statement (35_transfers.sql): the balance rules judge every wallet at once, locked in id
--    order, so a source or a liquidity wallet without the money fails the whole statement.
--  * The liquidity wallets are the house's: their transfers are booked whatever wallets the
--    writer's key is limited to (the exchange row itself is checked against them).
--  * UPDATE: only metadata changes. DELETE, TRUNCATE: never. The transfers an exchange booked
--    are not reversed on their own (35_transfers.sql): exchange the money back instead.
--
-- Rounding favours the house (the liquidity wallets): a computed destination amount is
-- source_amount * rate truncated to the destination's scale; a computed source amount is
-- destination_amount / rate rounded up to the source's scale. Both are exact: no division
-- is rounded on the way.


-- What source_amount buys at rate: truncated to scale digits (never more than the rate gives).
CREATE OR REPLACE FUNCTION exchange_destination_amount(source_amount numeric, rate numeric, scale integer)
RETURNS numeric
LANGUAGE sql
IMMUTABLE STRICT
AS $$
    SELECT trunc(source_amount * rate, scale)
$$;

COMMENT ON FUNCTION exchange_destination_amount(numeric, numeric, integer) IS
    'source_amount * rate truncated to scale fractional digits: what the house gives for source_amount.';

-- What buys destination_amount at rate: the fewest units of the source's scale whose value at
-- rate is at least destination_amount (an exact integer division, rounded up).
CREATE OR REPLACE FUNCTION exchange_source_amount(destination_amount numeric, rate numeric, scale integer)
RETURNS numeric
LANGUAGE sql
IMMUTABLE STRICT
AS $$
    SELECT (q + CASE WHEN q * rate < n THEN 1 ELSE 0 END) * ('1e-' || scale)::numeric
    FROM (SELECT destination_amount * ('1e' || scale)::numeric AS n) AS scaled
    CROSS JOIN LATERAL (SELECT div(scaled.n, rate) AS q) AS quotient
$$;

COMMENT ON FUNCTION exchange_source_amount(numeric, numeric, integer) IS
    'destination_amount / rate rounded up to scale fractional digits: what the house takes for destination_amount.';


-- Each new exchange's terms, before it is written (run with the writer's rights: a wallet
-- its key may not see does not exist).
CREATE OR REPLACE FUNCTION exchanges_terms()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    source record;
    destination record;
    computed numeric;
BEGIN
    SELECT w.id, w.currency, w.scale, c.liquidity_wallet_id INTO source
    FROM wallets AS w JOIN currencies AS c ON c.code = w.currency
    WHERE w.id = NEW.source_wallet_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'exchange: there is no wallet %', NEW.source_wallet_id
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'exchanges_source_exists',
                  TABLE = 'exchanges';
    END IF;
    SELECT w.id, w.currency, w.scale, c.liquidity_wallet_id INTO destination
    FROM wallets AS w JOIN currencies AS c ON c.code = w.currency
    WHERE w.id = NEW.destination_wallet_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'exchange: there is no wallet %', NEW.destination_wallet_id
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'exchanges_destination_exists',
                  TABLE = 'exchanges';
    END IF;
    IF source.currency = destination.currency THEN
        RAISE EXCEPTION 'exchange: wallets % and % both hold %: money moves within one currency by a transfer',
                source.id, destination.id, source.currency
            USING ERRCODE = 'check_violation', CONSTRAINT = 'exchanges_currencies_differ',
                  TABLE = 'exchanges', DETAIL = format('currency=%s', source.currency);
    END IF;
    IF source.liquidity_wallet_id IS NULL OR destination.liquidity_wallet_id IS NULL THEN
        RAISE EXCEPTION 'exchange: currency % has no liquidity wallet',
                CASE WHEN source.liquidity_wallet_id IS NULL THEN source.currency ELSE destination.currency END
            USING ERRCODE = 'check_violation', CONSTRAINT = 'exchanges_liquidity_wallet',
                  TABLE = 'exchanges',
                  DETAIL = format('currency=%s',
                                  CASE WHEN source.liquidity_wallet_id IS NULL
                                       THEN source.currency ELSE destination.currency END),
                  HINT = 'Name the house''s wallet of the currency: UPDATE currencies SET liquidity_wallet_id = ...';
    END IF;
    IF source.id = source.liquidity_wallet_id OR destination.id = destination.liquidity_wallet_id THEN
        RAISE EXCEPTION 'exchange: wallet % is the liquidity wallet of %, the house''s side of every exchange of it',
                CASE WHEN source.id = source.liquidity_wallet_id THEN source.id ELSE destination.id END,
                CASE WHEN source.id = source.liquidity_wallet_id THEN source.currency ELSE destination.currency END
            USING ERRCODE = 'check_violation', CONSTRAINT = 'exchanges_liquidity_side',
                  TABLE = 'exchanges';
    END IF;
    IF NEW.rate IS NULL OR NEW.rate <= 0 THEN
        RAISE EXCEPTION 'exchange: the rate is above zero (units of % one unit of % buys)',
                destination.currency, source.currency
            USING ERRCODE = 'check_violation', CONSTRAINT = 'exchanges_rate_valid',
                  TABLE = 'exchanges';
    END IF;
    IF NEW.source_amount <= 0 OR NEW.destination_amount <= 0 THEN
        RAISE EXCEPTION 'exchange: its amounts are above zero'
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = CASE WHEN NEW.source_amount <= 0 THEN 'exchanges_source_amount_positive'
                                    ELSE 'exchanges_destination_amount_positive' END,
                  TABLE = 'exchanges';
    END IF;
    IF min_scale(NEW.source_amount) > source.scale THEN
        PERFORM ledger_refuse_precision('exchanges_source_amount_scale', source.id,
                                        source.currency, source.scale, min_scale(NEW.source_amount));
    END IF;
    IF min_scale(NEW.destination_amount) > destination.scale THEN
        PERFORM ledger_refuse_precision('exchanges_destination_amount_scale', destination.id,
                                        destination.currency, destination.scale,
                                        min_scale(NEW.destination_amount));
    END IF;

    IF NEW.source_amount IS NULL AND NEW.destination_amount IS NULL THEN
        RAISE EXCEPTION 'exchange: give source_amount or destination_amount (the other is computed)'
            USING ERRCODE = 'not_null_violation', CONSTRAINT = 'exchanges_amount_given',
                  TABLE = 'exchanges';
    END IF;
    -- The amount not given, computed before it is stored (numeric(36,18) would refuse one of
    -- 10^18 or more with no name to answer by).
    computed := CASE
        WHEN NEW.destination_amount IS NULL
            THEN exchange_destination_amount(NEW.source_amount, NEW.rate, destination.scale)
        WHEN NEW.source_amount IS NULL
            THEN exchange_source_amount(NEW.destination_amount, NEW.rate, source.scale)
    END;
    IF computed >= 1e18 THEN
        RAISE EXCEPTION 'exchange: at rate % the other amount would be %, 10^18 or more', NEW.rate, computed
            USING ERRCODE = 'numeric_value_out_of_range', CONSTRAINT = 'exchanges_amount_max',
                  TABLE = 'exchanges';
    ELSIF NEW.destination_amount IS NULL THEN
        NEW.destination_amount := computed;
    ELSIF NEW.source_amount IS NULL THEN
        NEW.source_amount := computed;
    ELSE
        -- Both given: they agree by either rule.
        computed := exchange_destination_amount(NEW.source_amount, NEW.rate, destination.scale);
        IF NEW.destination_amount <> computed
           AND NEW.source_amount <> exchange_source_amount(NEW.destination_amount, NEW.rate, source.scale) THEN
            RAISE EXCEPTION 'exchange: % % at rate % buys % %, not %', round(NEW.source_amount, source.scale),
                    source.currency, NEW.rate, round(computed, destination.scale), destination.currency,
                    round(NEW.destination_amount, destination.scale)
                USING ERRCODE = 'check_violation', CONSTRAINT = 'exchanges_amounts_agree',
                      TABLE = 'exchanges',
                      DETAIL = format('destination_amount=%s', round(computed, destination.scale)),
                      HINT = 'Give one amount: the database computes the other.';
        END IF;
    END IF;
    IF NEW.destination_amount = 0 OR NEW.source_amount = 0 THEN
        RAISE EXCEPTION 'exchange: % % at rate % buys nothing (less than one unit of %''s scale, %)',
                round(NEW.source_amount, source.scale), source.currency, NEW.rate,
                destination.currency, destination.scale
            USING ERRCODE = 'check_violation', CONSTRAINT = 'exchanges_amount_zero',
                  TABLE = 'exchanges';
    END IF;

    NEW.source_currency := source.currency;
    NEW.destination_currency := destination.currency;
    NEW.source_liquidity_wallet_id := source.liquidity_wallet_id;
    NEW.destination_liquidity_wallet_id := destination.liquidity_wallet_id;
    NEW.created_at := now();
    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION exchanges_terms() IS
    'Checks a new exchange, copies its currencies and liquidity wallets, and computes the amount not given, rounded toward the house.';


-- The statement's exchanges book their transfers, all in one INSERT. The house's side is
-- written whatever wallets the writer's key is limited to: the setting that limits it is
-- lifted for this statement and put back.
CREATE OR REPLACE FUNCTION exchanges_after_insert()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    limited text := coalesce(current_setting('wallet_api.wallets', true), '');
BEGIN
    PERFORM set_config('wallet_api.wallets', '', true);
    INSERT INTO transfers (id, txid, source_wallet_id, destination_wallet_id, amount, exchange_id)
    OVERRIDING SYSTEM VALUE
    SELECT t.id, t.txid, t.source_wallet_id, t.destination_wallet_id, t.amount, t.exchange_id
    FROM new_exchanges AS e
    CROSS JOIN LATERAL (VALUES
        (e.source_transfer_id, 'exchange:' || e.id || ':in', e.source_wallet_id,
         e.source_liquidity_wallet_id, e.source_amount, e.id),
        (e.destination_transfer_id, 'exchange:' || e.id || ':out', e.destination_liquidity_wallet_id,
         e.destination_wallet_id, e.destination_amount, e.id)
    ) AS t (id, txid, source_wallet_id, destination_wallet_id, amount, exchange_id);
    PERFORM set_config('wallet_api.wallets', limited, true);
    RETURN NULL;
END;
$$;

COMMENT ON FUNCTION exchanges_after_insert() IS
    'Books the two transfers of each of a statement''s new exchanges, in one INSERT INTO transfers.';


-- Only metadata changes: what an exchange changed, at what rate, is its history.
CREATE OR REPLACE FUNCTION exchanges_guard()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF (NEW.id, NEW.txid, NEW.source_wallet_id, NEW.destination_wallet_id, NEW.source_amount,
        NEW.destination_amount, NEW.rate, NEW.source_currency, NEW.destination_currency,
        NEW.source_liquidity_wallet_id, NEW.destination_liquidity_wallet_id,
        NEW.source_transfer_id, NEW.destination_transfer_id, NEW.created_at)
       IS DISTINCT FROM
       (OLD.id, OLD.txid, OLD.source_wallet_id, OLD.destination_wallet_id, OLD.source_amount,
        OLD.destination_amount, OLD.rate, OLD.source_currency, OLD.destination_currency,
        OLD.source_liquidity_wallet_id, OLD.destination_liquidity_wallet_id,
        OLD.source_transfer_id, OLD.destination_transfer_id, OLD.created_at)
    THEN
        RAISE EXCEPTION 'exchange %: only its metadata changes; exchange the money back instead', OLD.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'exchanges_fixed',
                  TABLE = 'exchanges';
    END IF;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE FUNCTION exchanges_never_deleted()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION 'an exchange is never deleted: exchange the money back instead'
        USING ERRCODE = 'check_violation', CONSTRAINT = 'exchanges_kept',
              TABLE = 'exchanges';
END;
$$;


CREATE OR REPLACE TRIGGER exchanges_terms
    BEFORE INSERT ON exchanges
    FOR EACH ROW EXECUTE FUNCTION exchanges_terms();
CREATE OR REPLACE TRIGGER exchanges_transfers
    AFTER INSERT ON exchanges
    REFERENCING NEW TABLE AS new_exchanges
    FOR EACH STATEMENT EXECUTE FUNCTION exchanges_after_insert();
CREATE OR REPLACE TRIGGER exchanges_guard
    BEFORE UPDATE ON exchanges
    FOR EACH ROW EXECUTE FUNCTION exchanges_guard();
CREATE OR REPLACE TRIGGER exchanges_never_deleted
    BEFORE DELETE ON exchanges
    FOR EACH ROW EXECUTE FUNCTION exchanges_never_deleted();
CREATE OR REPLACE TRIGGER exchanges_never_truncated
    BEFORE TRUNCATE ON exchanges
    FOR EACH STATEMENT EXECUTE FUNCTION exchanges_never_deleted();

ALTER TABLE exchanges ENABLE ALWAYS TRIGGER exchanges_terms;
ALTER TABLE exchanges ENABLE ALWAYS TRIGGER exchanges_transfers;
ALTER TABLE exchanges ENABLE ALWAYS TRIGGER exchanges_guard;
ALTER TABLE exchanges ENABLE ALWAYS TRIGGER exchanges_never_deleted;
ALTER TABLE exchanges ENABLE ALWAYS TRIGGER exchanges_never_truncated;


-- Reading: every exchange with its amounts' scales (from the catalogue: a currency's scale
-- is fixed once a wallet holds it) and its transfers as one array.
CREATE OR REPLACE VIEW exchanges_with_scale WITH (security_invoker = true) AS
    SELECT e.id, e.txid, e.source_wallet_id, e.destination_wallet_id, e.source_amount,
           e.destination_amount, e.rate, e.source_currency, e.destination_currency,
           e.source_liquidity_wallet_id, e.destination_liquidity_wallet_id,
           ARRAY[e.source_transfer_id, e.destination_transfer_id] AS transfer_ids,
           e.created_at, e.metadata,
           coalesce((SELECT c.scale FROM currencies AS c WHERE c.code = e.source_currency), 18::smallint) AS source_scale,
           coalesce((SELECT c.scale FROM currencies AS c WHERE c.code = e.destination_currency), 18::smallint) AS destination_scale
    FROM exchanges AS e;

COMMENT ON VIEW exchanges_with_scale IS
    'Every exchange with the scales of its currencies and the ids of its two transfers.';


-- The audit of exchanges (`wallet-api verify` reads it): every exchange whose transfers are
-- missing or differ from it, or whose amounts break the rounding rule, and every transfer
-- that names an exchange that does not exist.
CREATE OR REPLACE VIEW exchange_audit AS
    SELECT e.id AS exchange_id,
           concat_ws('; ',
               CASE WHEN i.id IS NULL THEN format('its transfer in, %s, is missing', e.source_transfer_id)
                    WHEN (i.source_wallet_id, i.destination_wallet_id, i.amount, i.exchange_id)
                         IS DISTINCT FROM (e.source_wallet_id, e.source_liquidity_wallet_id, e.source_amount, e.id)
                    THEN format('its transfer in, %s, differs from it', e.source_transfer_id) END,
               CASE WHEN o.id IS NULL THEN format('its transfer out, %s, is missing', e.destination_transfer_id)
                    WHEN (o.source_wallet_id, o.destination_wallet_id, o.amount, o.exchange_id)
                         IS DISTINCT FROM (e.destination_liquidity_wallet_id, e.destination_wallet_id, e.destination_amount, e.id)
                    THEN format('its transfer out, %s, differs from it', e.destination_transfer_id) END,
               CASE WHEN e.destination_amount > e.source_amount * e.rate
                    THEN 'it gives more than its rate buys' END
           ) AS problem
    FROM exchanges AS e
    LEFT JOIN transfers AS i ON i.id = e.source_transfer_id
    LEFT JOIN transfers AS o ON o.id = e.destination_transfer_id
    WHERE i.id IS NULL OR o.id IS NULL
       OR (i.source_wallet_id, i.destination_wallet_id, i.amount, i.exchange_id)
          IS DISTINCT FROM (e.source_wallet_id, e.source_liquidity_wallet_id, e.source_amount, e.id)
       OR (o.source_wallet_id, o.destination_wallet_id, o.amount, o.exchange_id)
          IS DISTINCT FROM (e.destination_liquidity_wallet_id, e.destination_wallet_id, e.destination_amount, e.id)
       OR e.destination_amount > e.source_amount * e.rate
    UNION ALL
    SELECT t.exchange_id, format('transfer %s names exchange %s, which does not exist', t.id, t.exchange_id)
    FROM transfers AS t
    WHERE t.exchange_id IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM exchanges AS e WHERE e.id = t.exchange_id);

COMMENT ON VIEW exchange_audit IS
    'Every exchange whose transfers are wrong or that gives more than its rate buys, and every transfer of no exchange: empty when the rules held.';


DO $$
BEGIN
    EXECUTE 'ALTER FUNCTION exchanges_after_insert() OWNER TO wallet_ledger';
    EXECUTE 'REVOKE EXECUTE ON FUNCTION exchanges_after_insert() FROM PUBLIC';
    EXECUTE format('ALTER FUNCTION exchanges_after_insert() SET search_path = %I, pg_temp', current_schema());
    EXECUTE format('ALTER FUNCTION exchanges_terms() SET search_path = %I, pg_temp', current_schema());
    EXECUTE format('ALTER FUNCTION exchanges_guard() SET search_path = %I, pg_temp', current_schema());
    EXECUTE format('ALTER FUNCTION exchanges_never_deleted() SET search_path = %I, pg_temp', current_schema());
END;
$$;
