-- Transfers: money moved from one wallet to another as one thing, kept whole on every path.
--
--  * INSERT INTO transfers (one row, or a bulk INSERT ... SELECT): the statement's rows are
--    checked together (both wallets exist, hold one currency; a reversal names a transfer
--    that is not itself a reversal, and goes back the way it came), then both legs of every
--    row are booked as transactions in one statement (transactions.transfer_id names the
--    transfer), so the balance rules, the journal and the revisions are those of any
--    booking: an overdraft or an amount finer than the currency fails the whole statement.
--    A reversal adds its amount to the original's reversed_amount, which never passes the
--    original's amount (transfers_reversed_within; racing reversals queue on the original's
--    row).
--  * A transfer that names an exchange (exchange_id) is written by the exchange's trigger
--    only (36_exchanges.sql), and is not reversed on its own.
--  * UPDATE: only metadata changes (reversed_amount is the reversals' to write).
--  * DELETE, TRUNCATE: never. A leg is never changed nor deleted on its own
--    (30_transactions.sql).


CREATE OR REPLACE FUNCTION transfers_after_insert()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
AS $$
DECLARE
    refused record;
BEGIN
    -- Both wallets exist and hold one currency.
    SELECT t.id, t.source_wallet_id, t.destination_wallet_id,
           s.currency AS source_currency, d.currency AS destination_currency
    INTO refused
    FROM new_transfers AS t
    LEFT JOIN wallets AS s ON s.id = t.source_wallet_id
    LEFT JOIN wallets AS d ON d.id = t.destination_wallet_id
    WHERE s.id IS NULL OR d.id IS NULL OR s.currency <> d.currency
    LIMIT 1;
    IF FOUND THEN
        IF refused.source_currency IS NULL OR refused.destination_currency IS NULL THEN
            RAISE EXCEPTION 'transfer %: there is no wallet %', refused.id,
                    CASE WHEN refused.source_currency IS NULL THEN refused.source_wallet_id
                         ELSE refused.destination_wallet_id END
                USING ERRCODE = 'foreign_key_violation',
                      CONSTRAINT = CASE WHEN refused.source_currency IS NULL
                                        THEN 'transfers_source_exists'
                                        ELSE 'transfers_destination_exists' END,
                      TABLE = 'transfers';
        END IF;
        RAISE EXCEPTION 'transfer %: wallet % holds %, wallet % holds %: money moves within one currency',
                refused.id, refused.source_wallet_id, refused.source_currency,
                refused.destination_wallet_id, refused.destination_currency
            USING ERRCODE = 'check_violation', CONSTRAINT = 'transfers_currency_mismatch',
                  TABLE = 'transfers',
                  DETAIL = format('source_currency=%s destination_currency=%s',
                                  refused.source_currency, refused.destination_currency),
                  HINT = 'Move money between currencies with an exchange.';
    END IF;

    -- Only an exchange books a transfer that names it (36_exchanges.sql, from its trigger).
    IF pg_trigger_depth() < 2 THEN
        SELECT t.id, t.exchange_id INTO refused FROM new_transfers AS t
        WHERE t.exchange_id IS NOT NULL LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'transfer %: a transfer of exchange % is written by INSERT INTO exchanges only',
                    refused.id, refused.exchange_id
                USING ERRCODE = 'check_violation', CONSTRAINT = 'transfers_exchange_leg',
                      TABLE = 'transfers';
        END IF;
    END IF;

    -- A reversal goes back the way its original came, is not itself reversed, and is not a
    -- transfer of an exchange (exchange the money back instead).
    SELECT r.id, r.reverses_id, o.id AS original, o.reverses_id AS original_reverses,
           o.exchange_id AS original_exchange,
           (r.source_wallet_id, r.destination_wallet_id)
               IS DISTINCT FROM (o.destination_wallet_id, o.source_wallet_id) AS other_way
    INTO refused
    FROM new_transfers AS r
    LEFT JOIN transfers AS o ON o.id = r.reverses_id
    WHERE r.reverses_id IS NOT NULL
      AND (o.id IS NULL OR o.reverses_id IS NOT NULL OR o.exchange_id IS NOT NULL
           OR (r.source_wallet_id, r.destination_wallet_id)
              IS DISTINCT FROM (o.destination_wallet_id, o.source_wallet_id))
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'transfer %: %', refused.id,
                CASE WHEN refused.original IS NULL
                         THEN format('there is no transfer %s to reverse', refused.reverses_id)
                     WHEN refused.original_reverses IS NOT NULL
                         THEN format('transfer %s is a reversal, which is not reversed', refused.reverses_id)
                     WHEN refused.original_exchange IS NOT NULL
                         THEN format('transfer %s is a transfer of exchange %s, which is not reversed on its own: exchange the money back',
                                     refused.reverses_id, refused.original_exchange)
                     ELSE format('a reversal of transfer %s moves money from its destination to its source', refused.reverses_id)
                END
            USING ERRCODE = 'check_violation', CONSTRAINT = 'transfers_invalid_reversal',
                  TABLE = 'transfers',
                  DETAIL = format('reverses_id=%s', refused.reverses_id);
    END IF;

    -- What the reversals give back, on their originals, before the legs: racing reversals
    -- queue on the original's row (then on the wallets, as every booking), and a sum past the
    -- original's amount is refused as such (transfers_reversed_within).
    UPDATE transfers AS o
    SET reversed_amount = o.reversed_amount + r.total
    FROM (
        SELECT reverses_id, sum(amount) AS total
        FROM new_transfers
        WHERE reverses_id IS NOT NULL
        GROUP BY reverses_id
        ORDER BY reverses_id
    ) AS r
    WHERE o.id = r.reverses_id;

    -- Both legs of every transfer, in one statement: the booking rules apply to them all.
    INSERT INTO transactions (id, wallet_id, txid, amount, transfer_id)
    OVERRIDING SYSTEM VALUE
    SELECT leg.id, leg.wallet_id, leg.txid, leg.amount, leg.transfer_id
    FROM new_transfers AS t
    CROSS JOIN LATERAL (VALUES
        (t.debit_id, t.source_wallet_id, 'transfer:' || t.id || ':debit', -t.amount, t.id),
        (t.credit_id, t.destination_wallet_id, 'transfer:' || t.id || ':credit', t.amount, t.id)
    ) AS leg (id, wallet_id, txid, amount, transfer_id);
    RETURN NULL;
END;
$$;

COMMENT ON FUNCTION transfers_after_insert() IS
    'Checks a statement''s new transfers together, books both legs of each as transactions in one statement, and adds reversals to their originals.';


-- Only metadata changes: what a transfer moved, between which wallets, is its history.
-- reversed_amount is written by the reversals' inserts only (from within a trigger).
CREATE OR REPLACE FUNCTION transfers_guard()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF (NEW.id, NEW.txid, NEW.source_wallet_id, NEW.destination_wallet_id, NEW.amount,
        NEW.reverses_id, NEW.debit_id, NEW.credit_id, NEW.created_at, NEW.exchange_id)
       IS DISTINCT FROM
       (OLD.id, OLD.txid, OLD.source_wallet_id, OLD.destination_wallet_id, OLD.amount,
        OLD.reverses_id, OLD.debit_id, OLD.credit_id, OLD.created_at, OLD.exchange_id)
       OR (NEW.reversed_amount IS DISTINCT FROM OLD.reversed_amount AND pg_trigger_depth() < 2)
    THEN
        RAISE EXCEPTION 'transfer %: only its metadata changes; reverse it to move money back', OLD.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'transfers_fixed',
                  TABLE = 'transfers';
    END IF;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE FUNCTION transfers_never_deleted()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION 'a transfer is never deleted: reverse it to move the money back'
        USING ERRCODE = 'check_violation', CONSTRAINT = 'transfers_kept',
              TABLE = 'transfers';
END;
$$;


CREATE OR REPLACE TRIGGER transfers_legs
    AFTER INSERT ON transfers
    REFERENCING NEW TABLE AS new_transfers
    FOR EACH STATEMENT EXECUTE FUNCTION transfers_after_insert();
CREATE OR REPLACE TRIGGER transfers_guard
    BEFORE UPDATE ON transfers
    FOR EACH ROW EXECUTE FUNCTION transfers_guard();
CREATE OR REPLACE TRIGGER transfers_never_deleted
    BEFORE DELETE ON transfers
    FOR EACH ROW EXECUTE FUNCTION transfers_never_deleted();
CREATE OR REPLACE TRIGGER transfers_never_truncated
    BEFORE TRUNCATE ON transfers
    FOR EACH STATEMENT EXECUTE FUNCTION transfers_never_deleted();

ALTER TABLE transfers ENABLE ALWAYS TRIGGER transfers_legs;
ALTER TABLE transfers ENABLE ALWAYS TRIGGER transfers_guard;
ALTER TABLE transfers ENABLE ALWAYS TRIGGER transfers_never_deleted;
ALTER TABLE transfers ENABLE ALWAYS TRIGGER transfers_never_truncated;


-- Reading: every transfer with its wallets' currency and scale (looked up per row shown, as
-- transactions_with_currency does).
CREATE OR REPLACE VIEW transfers_with_currency WITH (security_invoker = true) AS
    SELECT t.id, t.txid, t.source_wallet_id, t.destination_wallet_id, t.amount, t.reverses_id,
           t.reversed_amount, t.debit_id, t.credit_id, t.created_at, t.metadata,
           coalesce((SELECT w.currency FROM wallets AS w WHERE w.id = t.source_wallet_id), 'XXX') AS currency,
           coalesce((SELECT w.scale FROM wallets AS w WHERE w.id = t.source_wallet_id), 18::smallint) AS scale,
           t.exchange_id
    FROM transfers AS t;

COMMENT ON VIEW transfers_with_currency IS
    'Every transfer with its wallets'' currency and scale.';


-- The audit of transfers (`wallet-api verify` reads it beside wallet_balance_audit): every
-- transfer whose legs are missing or differ from it, or whose reversed_amount is not the sum
-- of its reversals, and every leg that names no transfer. Only a table owner who disables the
-- triggers, or a superuser, can leave a line here.
CREATE OR REPLACE VIEW transfer_audit AS
    SELECT t.id AS transfer_id,
           concat_ws('; ',
               CASE WHEN d.id IS NULL THEN format('its debit, transaction %s, is missing', t.debit_id)
                    WHEN (d.wallet_id, d.amount, d.transfer_id)
                         IS DISTINCT FROM (t.source_wallet_id, -t.amount, t.id)
                    THEN format('its debit, transaction %s, differs from it', t.debit_id) END,
               CASE WHEN c.id IS NULL THEN format('its credit, transaction %s, is missing', t.credit_id)
                    WHEN (c.wallet_id, c.amount, c.transfer_id)
                         IS DISTINCT FROM (t.destination_wallet_id, t.amount, t.id)
                    THEN format('its credit, transaction %s, differs from it', t.credit_id) END,
               CASE WHEN t.reversed_amount <> coalesce(r.total, 0)
                    THEN format('reversed_amount %s differs from the sum of its reversals %s',
                                t.reversed_amount, coalesce(r.total, 0)) END
           ) AS problem
    FROM transfers AS t
    LEFT JOIN transactions AS d ON d.id = t.debit_id
    LEFT JOIN transactions AS c ON c.id = t.credit_id
    LEFT JOIN (SELECT reverses_id, sum(amount) AS total FROM transfers
               WHERE reverses_id IS NOT NULL GROUP BY reverses_id) AS r ON r.reverses_id = t.id
    WHERE d.id IS NULL OR c.id IS NULL
       OR (d.wallet_id, d.amount, d.transfer_id) IS DISTINCT FROM (t.source_wallet_id, -t.amount, t.id)
       OR (c.wallet_id, c.amount, c.transfer_id) IS DISTINCT FROM (t.destination_wallet_id, t.amount, t.id)
       OR t.reversed_amount <> coalesce(r.total, 0)
    UNION ALL
    SELECT l.transfer_id, format('transaction %s is a leg of transfer %s, which does not exist',
                                 l.id, l.transfer_id)
    FROM transactions AS l
    WHERE l.transfer_id IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM transfers AS t WHERE t.id = l.transfer_id);

COMMENT ON VIEW transfer_audit IS
    'Every transfer whose legs or reversed amount are wrong, and every leg of no transfer: empty when the rules held.';


DO $$
BEGIN
    EXECUTE 'ALTER FUNCTION transfers_after_insert() OWNER TO wallet_ledger';
    EXECUTE 'REVOKE EXECUTE ON FUNCTION transfers_after_insert() FROM PUBLIC';
    EXECUTE format('ALTER FUNCTION transfers_after_insert() SET search_path = %I, pg_temp', current_schema());
    EXECUTE format('ALTER FUNCTION transfers_guard() SET search_path = %I, pg_temp', current_schema());
    EXECUTE format('ALTER FUNCTION transfers_never_deleted() SET search_path = %I, pg_temp', current_schema());
END;
$$;
