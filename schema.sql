-- The schema the migrations under migrations/ build, every function in its current shape:
-- written by `make schema` (pg_dump of a freshly migrated database). Do not edit: a
-- test fails while it differs from what the migrations build.
--
-- PostgreSQL database dump
--

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: event_draft; Type: TYPE; Schema: public; Owner: CURRENT_USER
--

CREATE TYPE public.event_draft AS (
	wallet_id bigint,
	event_type text,
	subject_type text,
	subject_id bigint,
	data jsonb
);

ALTER TYPE public.event_draft OWNER TO CURRENT_USER;

--
-- Name: ledger_change; Type: TYPE; Schema: public; Owner: CURRENT_USER
--

CREATE TYPE public.ledger_change AS (
	transaction_id bigint,
	wallet_id bigint,
	amount numeric
);

ALTER TYPE public.ledger_change OWNER TO CURRENT_USER;

--
-- Name: api_keys_revocation_final(); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.api_keys_revocation_final() RETURNS trigger
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

ALTER FUNCTION public.api_keys_revocation_final() OWNER TO CURRENT_USER;

--
-- Name: balance_bucket_start(text, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.balance_bucket_start(width text, at timestamp with time zone) RETURNS timestamp with time zone
    LANGUAGE sql IMMUTABLE
    AS $$
    SELECT date_bin(balance_bucket_step(width), at, timestamptz '2000-01-01 00:00:00+00')
$$;

ALTER FUNCTION public.balance_bucket_start(width text, at timestamp with time zone) OWNER TO CURRENT_USER;

--
-- Name: balance_bucket_step(text); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.balance_bucket_step(width text) RETURNS interval
    LANGUAGE sql IMMUTABLE
    AS $$
    SELECT CASE width WHEN '1m' THEN interval '1 minute' WHEN '1h' THEN interval '1 hour'
                      WHEN '1d' THEN interval '1 day' END
$$;

ALTER FUNCTION public.balance_bucket_step(width text) OWNER TO CURRENT_USER;

--
-- Name: balance_buckets_refold(bigint[]); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.balance_buckets_refold(wallets bigint[]) RETURNS void
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
    DELETE FROM balance_buckets WHERE wallet_id = ANY (wallets);
    INSERT INTO balance_buckets (wallet_id, width, start, min_balance, max_balance, balance,
                                 held, last_changed_at, last_change_id)
    SELECT * FROM balance_journal_folded(wallets);
$$;

ALTER FUNCTION public.balance_buckets_refold(wallets bigint[]) OWNER TO wallet_ledger;

--
-- Name: balance_changes_buckets(); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.balance_changes_buckets() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    INSERT INTO balance_buckets AS b (wallet_id, width, start, min_balance, max_balance,
                                      balance, held, last_changed_at, last_change_id)
    SELECT n.wallet_id, w.width, balance_bucket_start(w.width, n.changed_at),
           min(n.balance), max(n.balance),
           (array_agg(n.balance ORDER BY n.changed_at DESC, n.id DESC))[1],
           (array_agg(n.held ORDER BY n.changed_at DESC, n.id DESC))[1],
           max(n.changed_at),
           (array_agg(n.id ORDER BY n.changed_at DESC, n.id DESC))[1]
    FROM new_changes AS n
    CROSS JOIN (VALUES ('1m'), ('1h'), ('1d')) AS w(width)
    GROUP BY n.wallet_id, w.width, 3
    ORDER BY 1, 2, 3
    ON CONFLICT (wallet_id, width, start) DO UPDATE SET
        min_balance = least(b.min_balance, excluded.min_balance),
        max_balance = greatest(b.max_balance, excluded.max_balance),
        balance = CASE WHEN (excluded.last_changed_at, excluded.last_change_id)
                            > (b.last_changed_at, b.last_change_id)
                       THEN excluded.balance ELSE b.balance END,
        held = CASE WHEN (excluded.last_changed_at, excluded.last_change_id)
                         > (b.last_changed_at, b.last_change_id)
                    THEN excluded.held ELSE b.held END,
        last_changed_at = greatest(b.last_changed_at, excluded.last_changed_at),
        last_change_id = CASE WHEN (excluded.last_changed_at, excluded.last_change_id)
                                   > (b.last_changed_at, b.last_change_id)
                              THEN excluded.last_change_id ELSE b.last_change_id END;
    RETURN NULL;
END;
$$;

ALTER FUNCTION public.balance_changes_buckets() OWNER TO wallet_ledger;

--
-- Name: balance_changes_events(); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.balance_changes_events() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM new_changes WHERE operation IN ('repair', 'opening')) THEN
        RETURN NULL;
    END IF;
    PERFORM events_emit(ARRAY(
        SELECT ROW(c.wallet_id, 'balance.changed', 'balance-changes', c.id,
                   event_balance_data(c.id, c.wallet_id, c.delta, c.balance, c.held_delta,
                       c.held, wallet_available_now(w.id, c.balance, c.held, w.held_expires_at,
                                                    w.credit_limit),
                       c.operation, c.changed_at, c.transaction_id, c.hold_id, w.currency,
                       w.scale))::event_draft
        FROM new_changes AS c JOIN wallets AS w ON w.id = c.wallet_id
        WHERE c.operation IN ('repair', 'opening')
        ORDER BY c.wallet_id, c.id));
    PERFORM monitors_evaluate(ARRAY(SELECT DISTINCT wallet_id FROM new_changes
                                    WHERE operation IN ('repair', 'opening')));
    RETURN NULL;
END;
$$;

ALTER FUNCTION public.balance_changes_events() OWNER TO wallet_ledger;

--
-- Name: balance_history(bigint, text, timestamp with time zone, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.balance_history(of_wallet bigint, bucket_width text, from_time timestamp with time zone, to_time timestamp with time zone) RETURNS TABLE(bucket_start timestamp with time zone, bucket_end timestamp with time zone, balance numeric, held numeric, available numeric, min_balance numeric, max_balance numeric)
    LANGUAGE sql STABLE
    AS $$
    WITH starts AS (
        SELECT s
        FROM generate_series(balance_bucket_start(bucket_width, from_time),
                             to_time - interval '1 microsecond',
                             balance_bucket_step(bucket_width)) AS s
    ), prior AS (
        SELECT c.balance, c.held
        FROM balance_changes AS c
        WHERE c.wallet_id = of_wallet
          AND c.changed_at < balance_bucket_start(bucket_width, from_time)
        ORDER BY c.changed_at DESC, c.id DESC
        LIMIT 1
    ), joined AS (
        SELECT s.s AS start, b.balance, b.held, b.min_balance, b.max_balance,
               count(b.balance) OVER (ORDER BY s.s) AS run
        FROM starts AS s
        LEFT JOIN balance_buckets AS b
          ON b.wallet_id = of_wallet AND b.width = bucket_width AND b.start = s.s
    ), ended AS (
        SELECT j.start, j.min_balance, j.max_balance,
               coalesce(first_value(j.balance) OVER run, (SELECT p.balance FROM prior AS p), 0)
                   AS end_balance,
               coalesce(first_value(j.held) OVER run, (SELECT p.held FROM prior AS p), 0)
                   AS end_held
        FROM joined AS j
        WINDOW run AS (PARTITION BY j.run ORDER BY j.start)
    ), carried AS (
        SELECT e.*,
               coalesce(lag(e.end_balance) OVER (ORDER BY e.start),
                        (SELECT p.balance FROM prior AS p), 0) AS start_balance
        FROM ended AS e
    )
    SELECT c.start, c.start + balance_bucket_step(bucket_width), c.end_balance, c.end_held,
           c.end_balance - c.end_held
               + wallet_credit_limit_at(of_wallet, c.start + balance_bucket_step(bucket_width)),
           least(c.start_balance, coalesce(c.min_balance, c.start_balance)),
           greatest(c.start_balance, coalesce(c.max_balance, c.start_balance))
    FROM carried AS c
    ORDER BY c.start
$$;

ALTER FUNCTION public.balance_history(of_wallet bigint, bucket_width text, from_time timestamp with time zone, to_time timestamp with time zone) OWNER TO CURRENT_USER;

--
-- Name: FUNCTION balance_history(of_wallet bigint, bucket_width text, from_time timestamp with time zone, to_time timestamp with time zone); Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON FUNCTION public.balance_history(of_wallet bigint, bucket_width text, from_time timestamp with time zone, to_time timestamp with time zone) IS 'The wallet''s balance per bucket of width 1m, 1h or 1d from from_time to to_time: at each bucket''s end (balance, held, available), and its lowest and highest within it.';

--
-- Name: balance_journal_folded(bigint[]); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.balance_journal_folded(wallets bigint[]) RETURNS TABLE(wallet_id bigint, width text, start timestamp with time zone, min_balance numeric, max_balance numeric, balance numeric, held numeric, last_changed_at timestamp with time zone, last_change_id bigint)
    LANGUAGE sql STABLE
    AS $$
    SELECT c.wallet_id, w.width, balance_bucket_start(w.width, c.changed_at),
           min(c.balance), max(c.balance),
           (array_agg(c.balance ORDER BY c.changed_at DESC, c.id DESC))[1],
           (array_agg(c.held ORDER BY c.changed_at DESC, c.id DESC))[1],
           max(c.changed_at),
           (array_agg(c.id ORDER BY c.changed_at DESC, c.id DESC))[1]
    FROM balance_changes AS c
    CROSS JOIN (VALUES ('1m'), ('1h'), ('1d')) AS w(width)
    WHERE wallets IS NULL OR c.wallet_id = ANY (wallets)
    GROUP BY 1, 2, 3
$$;

ALTER FUNCTION public.balance_journal_folded(wallets bigint[]) OWNER TO CURRENT_USER;

--
-- Name: balance_monitors_events(); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.balance_monitors_events() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    PERFORM events_emit(ARRAY(
        SELECT ROW(NEW.wallet_id, CASE NEW.state WHEN 'triggered' THEN 'monitor.triggered' ELSE 'monitor.cleared' END, 'balance-monitors', NEW.id,
                   event_monitor_data(NEW, w.scale))::event_draft
        FROM wallets AS w WHERE w.id = NEW.wallet_id));
    RETURN NULL;
END;
$$;

ALTER FUNCTION public.balance_monitors_events() OWNER TO wallet_ledger;

--
-- Name: balance_monitors_state(); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.balance_monitors_state() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    w wallets;
    holds_now boolean;
BEGIN
    SELECT * INTO w FROM wallets WHERE id = NEW.wallet_id;
    IF NOT FOUND THEN
        RETURN NEW;  -- the foreign key refuses it
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.wallet_id <> OLD.wallet_id THEN
        RAISE EXCEPTION 'balance monitor %: its wallet never changes', OLD.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'balance_monitors_wallet_fixed',
                  TABLE = 'balance_monitors';
    END IF;
    IF min_scale(NEW.amount) > w.scale THEN
        PERFORM ledger_refuse_precision('balance_monitors_amount_scale', w.id, w.currency,
                                        w.scale, min_scale(NEW.amount));
    END IF;
    holds_now := monitor_holds(NEW.field, NEW.operator, NEW.amount, w.balance,
                               wallet_available_now(w.id, w.balance, w.held, w.held_expires_at,
                                                    w.credit_limit));
    IF TG_OP = 'INSERT' THEN
        NEW.created_at := now();
        NEW.state := 'clear';
        NEW.triggered_at := NULL;
    ELSE
        NEW.created_at := OLD.created_at;
        NEW.state := OLD.state;
        NEW.triggered_at := OLD.triggered_at;
    END IF;
    NEW.updated_at := now();
    IF holds_now AND NEW.state = 'clear' THEN
        NEW.state := 'triggered';
        NEW.triggered_at := clock_timestamp();
    ELSIF NOT holds_now AND NEW.state = 'triggered' THEN
        NEW.state := 'clear';
        NEW.triggered_at := NULL;
    END IF;
    RETURN NEW;
END;
$$;

ALTER FUNCTION public.balance_monitors_state() OWNER TO wallet_ledger;

--
-- Name: capture_hold(bigint, numeric); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.capture_hold(hold bigint, captured numeric DEFAULT NULL::numeric) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    target holds;
    booked bigint;
BEGIN
    SELECT * INTO target FROM holds WHERE id = hold FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'there is no hold %', hold
            USING ERRCODE = 'no_data_found', CONSTRAINT = 'holds_exists', TABLE = 'holds';
    END IF;
    -- Under the lock: what a concurrent capture or void left.
    IF target.status <> 'pending' THEN
        RAISE EXCEPTION 'hold % is %, not pending: a hold is resolved once', hold, target.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'holds_pending', TABLE = 'holds',
                  DETAIL = format('status=%s', target.status);
    END IF;
    UPDATE holds SET status = 'captured', captured_amount = coalesce(captured, target.amount)
    WHERE id = hold;
    INSERT INTO transactions (wallet_id, txid, amount)
    VALUES (target.wallet_id, 'hold:' || hold, -coalesce(captured, target.amount))
    RETURNING id INTO booked;
    UPDATE holds SET transaction_id = booked WHERE id = hold;
    RETURN booked;
END;
$$;

ALTER FUNCTION public.capture_hold(hold bigint, captured numeric) OWNER TO CURRENT_USER;

--
-- Name: FUNCTION capture_hold(hold bigint, captured numeric); Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON FUNCTION public.capture_hold(hold bigint, captured numeric) IS 'Captures a pending hold: releases it and books its debit (txid hold:<id>) in one call; returns the transaction id.';

--
-- Name: currencies_guard(); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.currencies_guard() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'public', 'pg_temp'
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

ALTER FUNCTION public.currencies_guard() OWNER TO CURRENT_USER;

--
-- Name: currencies_keep_default(); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.currencies_keep_default() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'public', 'pg_temp'
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

ALTER FUNCTION public.currencies_keep_default() OWNER TO CURRENT_USER;

--
-- Name: currencies_liquidity(); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.currencies_liquidity() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'public', 'pg_temp'
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

ALTER FUNCTION public.currencies_liquidity() OWNER TO CURRENT_USER;

--
-- Name: event_balance_data(bigint, bigint, numeric, numeric, numeric, numeric, numeric, text, timestamp with time zone, bigint, bigint, text, integer); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.event_balance_data(id bigint, wallet_id bigint, delta numeric, balance numeric, held_delta numeric, held numeric, available numeric, operation text, changed_at timestamp with time zone, transaction_id bigint, hold_id bigint, currency text, scale integer) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
    SELECT event_resource('balance-changes', id, jsonb_build_object(
        'delta', event_money(delta, scale),
        'balance', event_money(balance, scale),
        'heldDelta', event_money(held_delta, scale),
        'held', event_money(held, scale),
        'available', event_money(available, scale),
        'currency', currency,
        'operation', operation,
        'changedAt', event_time(changed_at)), jsonb_build_object(
        'wallet', event_link('wallets', wallet_id),
        'transaction', event_link('transactions', transaction_id),
        'hold', event_link('holds', hold_id)))
$$;

ALTER FUNCTION public.event_balance_data(id bigint, wallet_id bigint, delta numeric, balance numeric, held_delta numeric, held numeric, available numeric, operation text, changed_at timestamp with time zone, transaction_id bigint, hold_id bigint, currency text, scale integer) OWNER TO CURRENT_USER;

--
-- Name: metadata_valid(jsonb); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.metadata_valid(metadata jsonb) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    SET search_path TO 'public', 'pg_temp'
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

ALTER FUNCTION public.metadata_valid(metadata jsonb) OWNER TO CURRENT_USER;

--
-- Name: FUNCTION metadata_valid(metadata jsonb); Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON FUNCTION public.metadata_valid(metadata jsonb) IS 'Whether a metadata object is within the limits: at most 50 keys of 1-40 characters (no control characters, no brackets, not ending .exists), string values of at most 500 characters.';

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: transactions; Type: TABLE; Schema: public; Owner: CURRENT_USER
--

CREATE TABLE public.transactions (
    id bigint NOT NULL,
    wallet_id bigint NOT NULL,
    txid text NOT NULL,
    amount numeric(36,18) NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    transfer_id bigint,
    CONSTRAINT transactions_amount_nonzero CHECK ((amount <> (0)::numeric)),
    CONSTRAINT transactions_metadata_valid CHECK (public.metadata_valid(metadata)),
    CONSTRAINT transactions_txid_length CHECK (((char_length(txid) >= 1) AND (char_length(txid) <= 255)))
);

ALTER TABLE public.transactions OWNER TO CURRENT_USER;

--
-- Name: transactions_id_seq; Type: SEQUENCE; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE public.transactions ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.transactions_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: transfers; Type: TABLE; Schema: public; Owner: CURRENT_USER
--

CREATE TABLE public.transfers (
    id bigint NOT NULL,
    txid text NOT NULL,
    source_wallet_id bigint NOT NULL,
    destination_wallet_id bigint NOT NULL,
    amount numeric(36,18) NOT NULL,
    reverses_id bigint,
    reversed_amount numeric(36,18) DEFAULT 0 NOT NULL,
    debit_id bigint DEFAULT nextval('public.transactions_id_seq'::regclass) NOT NULL,
    credit_id bigint DEFAULT nextval('public.transactions_id_seq'::regclass) NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    exchange_id bigint,
    CONSTRAINT transfers_amount_positive CHECK ((amount > (0)::numeric)),
    CONSTRAINT transfers_distinct_wallets CHECK ((source_wallet_id <> destination_wallet_id)),
    CONSTRAINT transfers_metadata_valid CHECK (public.metadata_valid(metadata)),
    CONSTRAINT transfers_reversed_within CHECK (((reversed_amount >= (0)::numeric) AND (reversed_amount <= amount))),
    CONSTRAINT transfers_txid_length CHECK (((char_length(txid) >= 1) AND (char_length(txid) <= 255)))
);

ALTER TABLE public.transfers OWNER TO CURRENT_USER;

--
-- Name: TABLE transfers; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON TABLE public.transfers IS 'Money moved from source_wallet_id to destination_wallet_id as one thing: its legs are the transactions debit_id and credit_id (transactions.transfer_id names it). Never deleted; only metadata changes.';

--
-- Name: transfers_id_seq; Type: SEQUENCE; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE public.transfers ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.transfers_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: exchanges; Type: TABLE; Schema: public; Owner: CURRENT_USER
--

CREATE TABLE public.exchanges (
    id bigint NOT NULL,
    txid text NOT NULL,
    source_wallet_id bigint NOT NULL,
    destination_wallet_id bigint NOT NULL,
    source_amount numeric(36,18) NOT NULL,
    destination_amount numeric(36,18) NOT NULL,
    rate numeric NOT NULL,
    source_currency text NOT NULL,
    destination_currency text NOT NULL,
    source_liquidity_wallet_id bigint NOT NULL,
    destination_liquidity_wallet_id bigint NOT NULL,
    source_transfer_id bigint DEFAULT nextval('public.transfers_id_seq'::regclass) NOT NULL,
    destination_transfer_id bigint DEFAULT nextval('public.transfers_id_seq'::regclass) NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    CONSTRAINT exchanges_currencies_differ CHECK ((source_currency <> destination_currency)),
    CONSTRAINT exchanges_destination_amount_positive CHECK ((destination_amount > (0)::numeric)),
    CONSTRAINT exchanges_metadata_valid CHECK (public.metadata_valid(metadata)),
    CONSTRAINT exchanges_rate_valid CHECK (((rate > (0)::numeric) AND (rate < '1000000000000000000'::numeric) AND (min_scale(rate) <= 18))),
    CONSTRAINT exchanges_source_amount_positive CHECK ((source_amount > (0)::numeric)),
    CONSTRAINT exchanges_txid_length CHECK (((char_length(txid) >= 1) AND (char_length(txid) <= 255)))
);

ALTER TABLE public.exchanges OWNER TO CURRENT_USER;

--
-- Name: TABLE exchanges; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON TABLE public.exchanges IS 'Money changed from source_wallet_id''s currency into destination_wallet_id''s at rate, through the liquidity wallets: the transfers source_transfer_id and destination_transfer_id (transfers.exchange_id names it). Never deleted; only metadata changes.';

--
-- Name: event_exchange_data(public.exchanges, integer, integer); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.event_exchange_data(e public.exchanges, source_scale integer, destination_scale integer) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
    SELECT event_resource('exchanges', e.id, jsonb_build_object(
        'txid', e.txid,
        'sourceAmount', event_money(e.source_amount, source_scale),
        'destinationAmount', event_money(e.destination_amount, destination_scale),
        'rate', e.rate::text,
        'sourceCurrency', e.source_currency,
        'destinationCurrency', e.destination_currency,
        'createdAt', event_time(e.created_at),
        'metadata', e.metadata), jsonb_build_object(
        'source', event_link('wallets', e.source_wallet_id),
        'destination', event_link('wallets', e.destination_wallet_id)))
$$;

ALTER FUNCTION public.event_exchange_data(e public.exchanges, source_scale integer, destination_scale integer) OWNER TO CURRENT_USER;

--
-- Name: holds; Type: TABLE; Schema: public; Owner: CURRENT_USER
--

CREATE TABLE public.holds (
    id bigint NOT NULL,
    wallet_id bigint NOT NULL,
    amount numeric(36,18) NOT NULL,
    status text DEFAULT 'pending'::text NOT NULL,
    captured_amount numeric(36,18),
    transaction_id bigint,
    expires_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    resolved_at timestamp with time zone,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    CONSTRAINT holds_amount_positive CHECK ((amount > (0)::numeric)),
    CONSTRAINT holds_captured_amount_set CHECK (((status = 'captured'::text) = (captured_amount IS NOT NULL))),
    CONSTRAINT holds_metadata_valid CHECK (public.metadata_valid(metadata)),
    CONSTRAINT holds_status_known CHECK ((status = ANY (ARRAY['pending'::text, 'captured'::text, 'voided'::text, 'expired'::text])))
);

ALTER TABLE public.holds OWNER TO CURRENT_USER;

--
-- Name: TABLE holds; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON TABLE public.holds IS 'Money reserved on a wallet: pending until captured (booked), voided or expired. Pending holds make up wallets.held.';

--
-- Name: event_hold_data(public.holds, text, integer); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.event_hold_data(h public.holds, currency text, scale integer) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
    SELECT event_resource('holds', h.id, jsonb_build_object(
        'amount', event_money(h.amount, scale),
        'currency', currency,
        'status', h.status,
        'capturedAmount', event_money(h.captured_amount, scale),
        'expiresAt', event_time(h.expires_at),
        'createdAt', event_time(h.created_at),
        'updatedAt', event_time(h.updated_at),
        'metadata', h.metadata), jsonb_build_object(
        'wallet', event_link('wallets', h.wallet_id),
        'transaction', event_link('transactions', h.transaction_id)))
$$;

ALTER FUNCTION public.event_hold_data(h public.holds, currency text, scale integer) OWNER TO CURRENT_USER;

--
-- Name: event_link(text, bigint); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.event_link(type text, id bigint) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
    SELECT jsonb_build_object('data', CASE WHEN id IS NULL THEN NULL
                                           ELSE jsonb_build_object('type', type, 'id', id::text) END)
$$;

ALTER FUNCTION public.event_link(type text, id bigint) OWNER TO CURRENT_USER;

--
-- Name: event_money(numeric, integer); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.event_money(amount numeric, scale integer) RETURNS text
    LANGUAGE sql STABLE
    AS $$
    SELECT round(amount, scale)::text
$$;

ALTER FUNCTION public.event_money(amount numeric, scale integer) OWNER TO CURRENT_USER;

--
-- Name: balance_monitors; Type: TABLE; Schema: public; Owner: CURRENT_USER
--

CREATE TABLE public.balance_monitors (
    id bigint NOT NULL,
    wallet_id bigint NOT NULL,
    field text NOT NULL,
    operator text NOT NULL,
    amount numeric(36,18) NOT NULL,
    state text DEFAULT 'clear'::text NOT NULL,
    triggered_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    turns_when text GENERATED ALWAYS AS (
CASE
    WHEN ((operator = ANY (ARRAY['lt'::text, 'lte'::text])) = (state = 'clear'::text)) THEN 'falls'::text
    ELSE 'rises'::text
END) STORED NOT NULL,
    CONSTRAINT balance_monitors_field_known CHECK ((field = ANY (ARRAY['balance'::text, 'available'::text]))),
    CONSTRAINT balance_monitors_metadata_valid CHECK (public.metadata_valid(metadata)),
    CONSTRAINT balance_monitors_operator_known CHECK ((operator = ANY (ARRAY['lt'::text, 'lte'::text, 'gt'::text, 'gte'::text]))),
    CONSTRAINT balance_monitors_state_known CHECK ((state = ANY (ARRAY['clear'::text, 'triggered'::text])))
);

ALTER TABLE public.balance_monitors OWNER TO CURRENT_USER;

--
-- Name: TABLE balance_monitors; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON TABLE public.balance_monitors IS 'A condition on a wallet''s balance or available amount, evaluated by the database at every change of the wallet; its crossings are monitor.triggered and monitor.cleared events.';

--
-- Name: COLUMN balance_monitors.turns_when; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON COLUMN public.balance_monitors.turns_when IS 'falls: the monitor turns when its value falls to its amount (a clear lt or lte, a triggered gt or gte); rises: when it rises to it.';

--
-- Name: event_monitor_data(public.balance_monitors, integer); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.event_monitor_data(m public.balance_monitors, scale integer) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
    SELECT event_resource('balance-monitors', m.id, jsonb_build_object(
        'field', m.field,
        'operator', m.operator,
        'amount', event_money(m.amount, scale),
        'state', m.state,
        'triggeredAt', event_time(m.triggered_at),
        'createdAt', event_time(m.created_at),
        'updatedAt', event_time(m.updated_at),
        'metadata', m.metadata), jsonb_build_object(
        'wallet', event_link('wallets', m.wallet_id)))
$$;

ALTER FUNCTION public.event_monitor_data(m public.balance_monitors, scale integer) OWNER TO CURRENT_USER;

--
-- Name: event_resource(text, bigint, jsonb, jsonb); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.event_resource(type text, id bigint, attributes jsonb, relationships jsonb) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
    SELECT jsonb_build_object('type', type, 'id', id::text, 'attributes', attributes,
                              'relationships', relationships)
$$;

ALTER FUNCTION public.event_resource(type text, id bigint, attributes jsonb, relationships jsonb) OWNER TO CURRENT_USER;

--
-- Name: event_time(timestamp with time zone); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.event_time(at timestamp with time zone) RETURNS text
    LANGUAGE sql STABLE
    AS $$
    SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

ALTER FUNCTION public.event_time(at timestamp with time zone) OWNER TO CURRENT_USER;

--
-- Name: event_transaction_data(public.transactions, text, integer); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.event_transaction_data(t public.transactions, currency text, scale integer) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
    SELECT event_resource('transactions', t.id, jsonb_build_object(
        'txid', t.txid,
        'amount', event_money(t.amount, scale),
        'currency', currency,
        'createdAt', event_time(t.created_at),
        'metadata', t.metadata), jsonb_build_object(
        'wallet', event_link('wallets', t.wallet_id),
        'transfer', event_link('transfers', t.transfer_id)))
$$;

ALTER FUNCTION public.event_transaction_data(t public.transactions, currency text, scale integer) OWNER TO CURRENT_USER;

--
-- Name: event_transfer_data(public.transfers, text, integer); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.event_transfer_data(t public.transfers, currency text, scale integer) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
    SELECT event_resource('transfers', t.id, jsonb_build_object(
        'txid', t.txid,
        'amount', event_money(t.amount, scale),
        'currency', currency,
        'reversedAmount', event_money(t.reversed_amount, scale),
        'createdAt', event_time(t.created_at),
        'metadata', t.metadata), jsonb_build_object(
        'source', event_link('wallets', t.source_wallet_id),
        'destination', event_link('wallets', t.destination_wallet_id),
        'debit', event_link('transactions', t.debit_id),
        'credit', event_link('transactions', t.credit_id),
        'reverses', event_link('transfers', t.reverses_id),
        'exchange', event_link('exchanges', t.exchange_id)))
$$;

ALTER FUNCTION public.event_transfer_data(t public.transfers, currency text, scale integer) OWNER TO CURRENT_USER;

--
-- Name: wallets; Type: TABLE; Schema: public; Owner: CURRENT_USER
--

CREATE TABLE public.wallets (
    id bigint NOT NULL,
    label text NOT NULL,
    balance numeric(36,18) DEFAULT 0 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    held numeric(36,18) DEFAULT 0 NOT NULL,
    held_expires_at timestamp with time zone,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    currency text DEFAULT 'XXX'::text NOT NULL,
    scale smallint DEFAULT 18 NOT NULL,
    credit_limit numeric(36,18) DEFAULT 0 NOT NULL,
    event_sequence bigint DEFAULT 0 NOT NULL,
    event_position bigint DEFAULT 0 NOT NULL,
    CONSTRAINT wallets_balance_nonnegative CHECK (((balance + credit_limit) >= (0)::numeric)),
    CONSTRAINT wallets_credit_limit_nonnegative CHECK (((credit_limit >= (0)::numeric) AND (credit_limit < '1000000000000000000'::numeric))),
    CONSTRAINT wallets_label_length CHECK (((char_length(label) >= 1) AND (char_length(label) <= 255))),
    CONSTRAINT wallets_metadata_valid CHECK (public.metadata_valid(metadata))
);

ALTER TABLE public.wallets OWNER TO CURRENT_USER;

--
-- Name: COLUMN wallets.balance; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON COLUMN public.wallets.balance IS 'Sum of the wallet''s transactions.amount, kept by the transactions triggers; never negative, never written directly.';

--
-- Name: COLUMN wallets.held; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON COLUMN public.wallets.held IS 'Sum of the wallet''s pending holds (status pending), kept by the holds triggers; those past expires_at stop counting at once (wallet_balances).';

--
-- Name: COLUMN wallets.held_expires_at; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON COLUMN public.wallets.held_expires_at IS 'The earliest expires_at of the wallet''s pending holds (NULL: none expires), kept by the holds triggers: until then nothing held has expired.';

--
-- Name: COLUMN wallets.currency; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON COLUMN public.wallets.currency IS 'The currency the wallet holds; never changes.';

--
-- Name: COLUMN wallets.scale; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON COLUMN public.wallets.scale IS 'Its currency''s scale (set from currencies when the wallet is created; the foreign key keeps it equal).';

--
-- Name: COLUMN wallets.credit_limit; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON COLUMN public.wallets.credit_limit IS 'How far below zero the balance may go: available = balance - held + credit_limit never goes below zero.';

--
-- Name: COLUMN wallets.event_sequence; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON COLUMN public.wallets.event_sequence IS 'The walletSequence of the wallet''s last event.';

--
-- Name: COLUMN wallets.event_position; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON COLUMN public.wallets.event_position IS 'The feed position of the wallet''s last event: the next is at or after it.';

--
-- Name: event_wallet_data(public.wallets); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.event_wallet_data(w public.wallets) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
    SELECT event_resource('wallets', w.id, jsonb_build_object(
        'label', w.label,
        'currency', w.currency,
        'balance', event_money(w.balance, w.scale),
        'held', event_money(wallet_held_now(w.id, w.held, w.held_expires_at), w.scale),
        'available', event_money(wallet_available_now(w.id, w.balance, w.held, w.held_expires_at,
                                                      w.credit_limit), w.scale),
        'creditLimit', event_money(w.credit_limit, w.scale),
        'metadata', w.metadata,
        'createdAt', event_time(w.created_at),
        'updatedAt', event_time(w.updated_at)), '{}'::jsonb)
$$;

ALTER FUNCTION public.event_wallet_data(w public.wallets) OWNER TO CURRENT_USER;

--
-- Name: events_emit(public.event_draft[]); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.events_emit(drafts public.event_draft[]) RETURNS void
    LANGUAGE plpgsql
    SET plan_cache_mode TO 'force_generic_plan'
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    actor record;
BEGIN
    IF coalesce(cardinality(drafts), 0) = 0 THEN
        RETURN;
    END IF;
    PERFORM 1 FROM wallets
    WHERE id IN (SELECT d.wallet_id FROM unnest(drafts) AS d)
    ORDER BY id
    FOR NO KEY UPDATE;
    SELECT * INTO actor FROM ledger_actor();
    INSERT INTO events (position, wallet_id, wallet_sequence, event_type, subject_type,
                        subject_id, data, occurred_at, database_xid, origin, changed_by,
                        actor_key_id, actor_name)
    SELECT greatest(l.position, pg_current_xact_id()::text::bigint + c.xid_offset),
           d.wallet_id,
           l.sequence + row_number() OVER (PARTITION BY d.wallet_id ORDER BY d.ord),
           d.event_type, d.subject_type, d.subject_id, d.data, clock_timestamp(),
           pg_current_xact_id(), events_origin(), session_user, actor.key_id, actor.key_name
    FROM unnest(drafts) WITH ORDINALITY AS d (wallet_id, event_type, subject_type, subject_id, data, ord)
    JOIN (
        SELECT x.wallet_id, last.last_sequence AS sequence, last.last_position AS position
        FROM (SELECT DISTINCT u.wallet_id FROM unnest(drafts) AS u) AS x
        CROSS JOIN LATERAL events_last(x.wallet_id) AS last
    ) AS l ON l.wallet_id = d.wallet_id
    CROSS JOIN event_clock AS c
    ORDER BY d.wallet_id, d.ord;
END;
$$;

ALTER FUNCTION public.events_emit(drafts public.event_draft[]) OWNER TO wallet_ledger;

--
-- Name: FUNCTION events_emit(drafts public.event_draft[]); Type: COMMENT; Schema: public; Owner: wallet_ledger
--

COMMENT ON FUNCTION public.events_emit(drafts public.event_draft[]) IS 'Writes one statement''s events: numbers them per wallet under the wallet''s row lock and places them in the feed. Called by the triggers only.';

--
-- Name: events_horizon(); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.events_horizon() RETURNS bigint
    LANGUAGE sql STABLE
    SET search_path TO 'public', 'pg_temp'
    AS $$
    SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint
           + (SELECT xid_offset FROM event_clock)
$$;

ALTER FUNCTION public.events_horizon() OWNER TO CURRENT_USER;

--
-- Name: FUNCTION events_horizon(); Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON FUNCTION public.events_horizon() IS 'The feed''s horizon: the oldest transaction id still running, plus event_clock.xid_offset. Events below it are final.';

--
-- Name: events_last(bigint); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.events_last(wallet bigint) RETURNS TABLE(last_sequence bigint, last_position bigint)
    LANGUAGE sql STABLE
    AS $$
    SELECT coalesce(e.wallet_sequence, w.event_sequence, 0), coalesce(e.position, w.event_position, 0)
    FROM (SELECT 1) AS one
    LEFT JOIN LATERAL (
        SELECT ev.wallet_sequence, ev.position FROM events AS ev
        WHERE ev.wallet_id = wallet ORDER BY ev.wallet_sequence DESC LIMIT 1
    ) AS e ON true
    LEFT JOIN wallets AS w ON w.id = wallet
$$;

ALTER FUNCTION public.events_last(wallet bigint) OWNER TO CURRENT_USER;

--
-- Name: FUNCTION events_last(wallet bigint); Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON FUNCTION public.events_last(wallet bigint) IS 'The walletSequence and feed position of the wallet''s last event (0, 0 before its first).';

--
-- Name: events_origin(); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.events_origin() RETURNS text
    LANGUAGE sql STABLE
    AS $$
    SELECT CASE WHEN current_setting('application_name') LIKE 'wallet-api%'
                     AND pg_has_role(session_user, 'wallet_service', 'MEMBER')
                THEN 'api' ELSE 'sql' END
$$;

ALTER FUNCTION public.events_origin() OWNER TO CURRENT_USER;

--
-- Name: events_position(); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.events_position() RETURNS bigint
    LANGUAGE sql
    SET search_path TO 'public', 'pg_temp'
    AS $$
    SELECT pg_current_xact_id()::text::bigint + (SELECT xid_offset FROM event_clock)
$$;

ALTER FUNCTION public.events_position() OWNER TO wallet_ledger;

--
-- Name: FUNCTION events_position(); Type: COMMENT; Schema: public; Owner: wallet_ledger
--

COMMENT ON FUNCTION public.events_position() IS 'The feed position of this transaction: its id plus event_clock.xid_offset.';

--
-- Name: events_prune(timestamp with time zone); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.events_prune(before timestamp with time zone) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    last record;
    removed bigint;
BEGIN
    -- One pruner at a time; the feed's order is what is removed from the front.
    PERFORM 1 FROM event_clock FOR UPDATE;
    -- The last event written before `before` (by the occurred_at index), and every event
    -- before it in the feed's order (by the feed's index); none past the horizon.
    SELECT e.position, e.id INTO last FROM events AS e
    WHERE e.occurred_at < before AND e.position < events_horizon()
    ORDER BY e.occurred_at DESC LIMIT 1;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    -- Each wallet whose events go keeps the number and position of its last one removed,
    -- so that its numbering goes on (events_last). Locked lowest id first, as writers do.
    PERFORM 1 FROM wallets
    WHERE id IN (SELECT DISTINCT e.wallet_id FROM events AS e
                 WHERE (e.position, e.id) <= (last.position, last.id))
    ORDER BY id
    FOR NO KEY UPDATE;
    UPDATE wallets AS w
    SET event_sequence = gone.sequence, event_position = gone.position
    FROM (
        SELECT DISTINCT ON (e.wallet_id) e.wallet_id, e.wallet_sequence AS sequence, e.position
        FROM events AS e
        WHERE (e.position, e.id) <= (last.position, last.id)
        ORDER BY e.wallet_id, e.wallet_sequence DESC
    ) AS gone
    WHERE w.id = gone.wallet_id;
    DELETE FROM events
    WHERE (position, id) <= (last.position, last.id) AND position < events_horizon();
    GET DIAGNOSTICS removed = ROW_COUNT;
    UPDATE event_clock SET pruned_position = last.position, pruned_id = last.id;
    RETURN removed;
END;
$$;

ALTER FUNCTION public.events_prune(before timestamp with time zone) OWNER TO wallet_ledger;

--
-- Name: FUNCTION events_prune(before timestamp with time zone); Type: COMMENT; Schema: public; Owner: wallet_ledger
--

COMMENT ON FUNCTION public.events_prune(before timestamp with time zone) IS 'Removes the front of the feed up to the last event that occurred before `before`, and remembers where it stopped (cursors before it are expired).';

--
-- Name: events_rebase(); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.events_rebase() RETURNS bigint
    LANGUAGE plpgsql
    AS $$
DECLARE
    stored bigint;
    next bigint;
    added bigint := 0;
BEGIN
    SELECT greatest((SELECT max(position) FROM events), (SELECT max(event_position) FROM wallets))
    INTO stored;
    next := pg_snapshot_xmax(pg_current_snapshot())::text::bigint
            + (SELECT xid_offset FROM event_clock);
    IF stored IS NOT NULL AND stored >= next THEN
        added := stored - next + 1;
        UPDATE event_clock SET xid_offset = xid_offset + added;
        RAISE NOTICE 'events: feed positions were ahead of this cluster''s transaction ids (a restore?); offset raised by %', added;
    END IF;
    RETURN added;
END;
$$;

ALTER FUNCTION public.events_rebase() OWNER TO CURRENT_USER;

--
-- Name: events_refuse_rewrite(); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.events_refuse_rewrite() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only: % refused (retention removes old ones: events_prune)', TG_OP
        USING ERRCODE = 'insufficient_privilege', TABLE = 'events';
END;
$$;

ALTER FUNCTION public.events_refuse_rewrite() OWNER TO CURRENT_USER;

--
-- Name: exchange_destination_amount(numeric, numeric, integer); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.exchange_destination_amount(source_amount numeric, rate numeric, scale integer) RETURNS numeric
    LANGUAGE sql IMMUTABLE STRICT
    AS $$
    SELECT trunc(source_amount * rate, scale)
$$;

ALTER FUNCTION public.exchange_destination_amount(source_amount numeric, rate numeric, scale integer) OWNER TO CURRENT_USER;

--
-- Name: FUNCTION exchange_destination_amount(source_amount numeric, rate numeric, scale integer); Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON FUNCTION public.exchange_destination_amount(source_amount numeric, rate numeric, scale integer) IS 'source_amount * rate truncated to scale fractional digits: what the house gives for source_amount.';

--
-- Name: exchange_source_amount(numeric, numeric, integer); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.exchange_source_amount(destination_amount numeric, rate numeric, scale integer) RETURNS numeric
    LANGUAGE sql IMMUTABLE STRICT
    AS $$
    SELECT (q + CASE WHEN q * rate < n THEN 1 ELSE 0 END) * ('1e-' || scale)::numeric
    FROM (SELECT destination_amount * ('1e' || scale)::numeric AS n) AS scaled
    CROSS JOIN LATERAL (SELECT div(scaled.n, rate) AS q) AS quotient
$$;

ALTER FUNCTION public.exchange_source_amount(destination_amount numeric, rate numeric, scale integer) OWNER TO CURRENT_USER;

--
-- Name: FUNCTION exchange_source_amount(destination_amount numeric, rate numeric, scale integer); Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON FUNCTION public.exchange_source_amount(destination_amount numeric, rate numeric, scale integer) IS 'destination_amount / rate rounded up to scale fractional digits: what the house takes for destination_amount.';

--
-- Name: exchanges_after_insert(); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.exchanges_after_insert() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
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

ALTER FUNCTION public.exchanges_after_insert() OWNER TO wallet_ledger;

--
-- Name: FUNCTION exchanges_after_insert(); Type: COMMENT; Schema: public; Owner: wallet_ledger
--

COMMENT ON FUNCTION public.exchanges_after_insert() IS 'Books the two transfers of each of a statement''s new exchanges, in one INSERT INTO transfers.';

--
-- Name: exchanges_events(); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.exchanges_events() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    PERFORM events_emit(ARRAY(
        SELECT ROW(x.wallet_id,
                   CASE TG_OP WHEN 'INSERT' THEN 'exchange.created' ELSE 'exchange.updated' END,
                   'exchanges', e.id, event_exchange_data(e, s.scale, d.scale))::event_draft
        FROM new_exchanges AS e
        JOIN currencies AS s ON s.code = e.source_currency
        JOIN currencies AS d ON d.code = e.destination_currency
        CROSS JOIN LATERAL (VALUES (e.source_wallet_id), (e.destination_wallet_id)) AS x (wallet_id)
        ORDER BY x.wallet_id, e.id));
    RETURN NULL;
END;
$$;

ALTER FUNCTION public.exchanges_events() OWNER TO wallet_ledger;

--
-- Name: exchanges_guard(); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.exchanges_guard() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'public', 'pg_temp'
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

ALTER FUNCTION public.exchanges_guard() OWNER TO CURRENT_USER;

--
-- Name: exchanges_never_deleted(); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.exchanges_never_deleted() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    RAISE EXCEPTION 'an exchange is never deleted: exchange the money back instead'
        USING ERRCODE = 'check_violation', CONSTRAINT = 'exchanges_kept',
              TABLE = 'exchanges';
END;
$$;

ALTER FUNCTION public.exchanges_never_deleted() OWNER TO CURRENT_USER;

--
-- Name: exchanges_terms(); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.exchanges_terms() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'public', 'pg_temp'
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

ALTER FUNCTION public.exchanges_terms() OWNER TO CURRENT_USER;

--
-- Name: FUNCTION exchanges_terms(); Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON FUNCTION public.exchanges_terms() IS 'Checks a new exchange, copies its currencies and liquidity wallets, and computes the amount not given, rounded toward the house.';

--
-- Name: expire_holds(); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.expire_holds() RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    swept bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtextextended('wallet-api expire_holds', 0)) THEN
        RETURN 0;
    END IF;
    UPDATE holds SET status = 'expired'
    WHERE status = 'pending' AND expires_at <= now();
    GET DIAGNOSTICS swept = ROW_COUNT;
    RETURN swept;
END;
$$;

ALTER FUNCTION public.expire_holds() OWNER TO CURRENT_USER;

--
-- Name: FUNCTION expire_holds(); Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON FUNCTION public.expire_holds() IS 'Marks pending holds past expires_at expired (one sweeper at a time); returns how many.';

--
-- Name: hold_revise(text, public.holds[], public.holds[]); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.hold_revise(operation text, old public.holds[], new public.holds[]) RETURNS void
    LANGUAGE sql
    SET search_path TO 'public', 'pg_temp'
    AS $$
    INSERT INTO hold_revisions (hold_id, operation, old, new, revised_at, database_xid,
                                revised_by, application, actor_key_id, actor_name)
    SELECT o.id, operation, to_jsonb(o), CASE WHEN n.id IS NOT NULL THEN to_jsonb(n) END,
           clock_timestamp(), pg_current_xact_id(), session_user,
           current_setting('application_name'), actor.key_id, actor.key_name
    FROM unnest(old) AS o
    LEFT JOIN unnest(new) AS n ON n.id = o.id
    LEFT JOIN ledger_actor() AS actor ON true
    WHERE n.id IS NULL OR to_jsonb(o) IS DISTINCT FROM to_jsonb(n)
    ORDER BY o.id
$$;

ALTER FUNCTION public.hold_revise(operation text, old public.holds[], new public.holds[]) OWNER TO wallet_ledger;

--
-- Name: holds_after_delete(); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.holds_after_delete() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    PERFORM ledger_hold('hold_delete', ARRAY(
        SELECT ROW(id, wallet_id, -amount)::ledger_change FROM deleted_rows
        WHERE status = 'pending'));
    PERFORM hold_revise('delete', ARRAY(SELECT d::holds FROM deleted_rows AS d), '{}');
    RETURN NULL;
END;
$$;

ALTER FUNCTION public.holds_after_delete() OWNER TO wallet_ledger;

--
-- Name: holds_after_insert(); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.holds_after_insert() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    PERFORM ledger_hold('hold_insert', ARRAY(
        SELECT ROW(id, wallet_id, amount)::ledger_change FROM inserted_rows
        WHERE status = 'pending'));
    RETURN NULL;
END;
$$;

ALTER FUNCTION public.holds_after_insert() OWNER TO wallet_ledger;

--
-- Name: holds_after_update(); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.holds_after_update() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    PERFORM ledger_hold('hold_update', ARRAY(
        SELECT ROW(id, wallet_id, amount)::ledger_change FROM new_rows WHERE status = 'pending'
        UNION ALL
        SELECT ROW(id, wallet_id, -amount)::ledger_change FROM old_rows WHERE status = 'pending'));
    PERFORM hold_revise('update', ARRAY(SELECT o::holds FROM old_rows AS o),
                        ARRAY(SELECT n::holds FROM new_rows AS n));
    RETURN NULL;
END;
$$;

ALTER FUNCTION public.holds_after_update() OWNER TO wallet_ledger;

--
-- Name: holds_before_truncate(); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.holds_before_truncate() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    PERFORM ledger_hold('hold_truncate', ARRAY(
        SELECT ROW(id, wallet_id, -amount)::ledger_change FROM holds WHERE status = 'pending'));
    PERFORM hold_revise('truncate', ARRAY(SELECT h FROM holds AS h), '{}');
    RETURN NULL;
END;
$$;

ALTER FUNCTION public.holds_before_truncate() OWNER TO wallet_ledger;

--
-- Name: holds_check_capture_booked(); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.holds_check_capture_booked() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    current holds;
BEGIN
    SELECT * INTO current FROM holds WHERE id = NEW.id;
    IF current.status = 'captured' AND NOT EXISTS (
        SELECT 1 FROM transactions AS t
        WHERE t.id = current.transaction_id
          AND t.wallet_id = current.wallet_id
          AND t.amount = -current.captured_amount
    ) THEN
        RAISE EXCEPTION 'hold % is captured but names no debit of % on wallet %',
                current.id, current.captured_amount, current.wallet_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'holds_capture_booked',
                  TABLE = 'holds',
                  HINT = 'Capture with SELECT capture_hold(hold_id, amount): it releases the hold and books its debit.';
    END IF;
    RETURN NULL;
END;
$$;

ALTER FUNCTION public.holds_check_capture_booked() OWNER TO CURRENT_USER;

--
-- Name: holds_events_delete(); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.holds_events_delete() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    PERFORM events_emit(ARRAY(
        SELECT ROW(h.wallet_id, 'hold.deleted', 'holds', h.id,
                   event_hold_data(h, w.currency, w.scale))::event_draft
        FROM old_holds AS h JOIN wallets AS w ON w.id = h.wallet_id
        ORDER BY h.wallet_id, h.id));
    RETURN NULL;
END;
$$;

ALTER FUNCTION public.holds_events_delete() OWNER TO wallet_ledger;

--
-- Name: holds_events_insert(); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.holds_events_insert() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    PERFORM events_emit(ARRAY(
        SELECT ROW(h.wallet_id, 'hold.created', 'holds', h.id,
                   event_hold_data(h, w.currency, w.scale))::event_draft
        FROM new_holds AS h JOIN wallets AS w ON w.id = h.wallet_id
        ORDER BY h.wallet_id, h.id));
    RETURN NULL;
END;
$$;

ALTER FUNCTION public.holds_events_insert() OWNER TO wallet_ledger;

--
-- Name: holds_events_truncate(); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.holds_events_truncate() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    PERFORM events_emit(ARRAY(
        SELECT ROW(h.wallet_id, 'hold.deleted', 'holds', h.id,
                   event_hold_data(h, w.currency, w.scale))::event_draft
        FROM holds AS h JOIN wallets AS w ON w.id = h.wallet_id
        ORDER BY h.wallet_id, h.id));
    RETURN NULL;
END;
$$;

ALTER FUNCTION public.holds_events_truncate() OWNER TO wallet_ledger;

--
-- Name: holds_events_update(); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.holds_events_update() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    PERFORM events_emit(ARRAY(
        SELECT ROW(n.wallet_id,
                   CASE WHEN o.status = 'pending' AND n.status <> 'pending'
                        THEN 'hold.' || n.status ELSE 'hold.updated' END,
                   'holds', n.id, event_hold_data(n, w.currency, w.scale))::event_draft
        FROM new_holds AS n
        JOIN old_holds AS o ON o.id = n.id
        JOIN wallets AS w ON w.id = n.wallet_id
        WHERE (o.status, o.captured_amount, o.transaction_id, o.metadata)
              IS DISTINCT FROM (n.status, n.captured_amount, n.transaction_id, n.metadata)
        ORDER BY n.wallet_id, n.id));
    RETURN NULL;
END;
$$;

ALTER FUNCTION public.holds_events_update() OWNER TO wallet_ledger;

--
-- Name: holds_state_machine(); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.holds_state_machine() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    wallet record;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'pending' OR NEW.captured_amount IS NOT NULL
           OR NEW.transaction_id IS NOT NULL OR NEW.resolved_at IS NOT NULL THEN
            RAISE EXCEPTION 'a hold is created pending, with nothing captured'
                USING ERRCODE = 'check_violation', CONSTRAINT = 'holds_created_pending',
                      TABLE = 'holds';
        END IF;
        IF NEW.expires_at <= clock_timestamp() THEN
            RAISE EXCEPTION 'a hold cannot be created expired (expires_at % has passed)', NEW.expires_at
                USING ERRCODE = 'check_violation', CONSTRAINT = 'holds_expiry_future',
                      TABLE = 'holds';
        END IF;
        NEW.created_at := now();
        NEW.updated_at := now();
        RETURN NEW;
    END IF;

    IF (NEW.id, NEW.wallet_id, NEW.amount, NEW.expires_at, NEW.created_at)
       IS DISTINCT FROM (OLD.id, OLD.wallet_id, OLD.amount, OLD.expires_at, OLD.created_at) THEN
        RAISE EXCEPTION 'hold %: its wallet, amount, expiry and creation time never change', OLD.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'holds_terms_fixed', TABLE = 'holds',
                  HINT = 'Void the hold and create another.';
    END IF;

    -- A change of its metadata alone, in any state.
    IF NEW.metadata IS DISTINCT FROM OLD.metadata
       AND (NEW.status, NEW.captured_amount, NEW.transaction_id)
           IS NOT DISTINCT FROM (OLD.status, OLD.captured_amount, OLD.transaction_id) THEN
        NEW.resolved_at := OLD.resolved_at;
        NEW.updated_at := now();
        RETURN NEW;
    END IF;

    IF OLD.status <> 'pending' THEN
        -- The one change a resolved hold takes: a capture naming the transaction it booked.
        IF OLD.status = 'captured' AND OLD.transaction_id IS NULL
           AND NEW.transaction_id IS NOT NULL AND NEW.status = 'captured'
           AND NEW.captured_amount = OLD.captured_amount THEN
            NEW.updated_at := now();
            NEW.resolved_at := OLD.resolved_at;
            RETURN NEW;
        END IF;
        -- Anything else, even a write of the values it has: two voids (or captures) of one
        -- hold racing must not both succeed.
        RAISE EXCEPTION 'hold % is %, not pending: a hold is resolved once', OLD.id, OLD.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'holds_pending', TABLE = 'holds',
                  DETAIL = format('status=%s', OLD.status);
    END IF;

    IF NEW.status = 'pending' THEN
        IF NEW.captured_amount IS NOT NULL OR NEW.transaction_id IS NOT NULL THEN
            RAISE EXCEPTION 'hold %: only a capture sets what was captured', OLD.id
                USING ERRCODE = 'check_violation', CONSTRAINT = 'holds_captured_amount_set',
                      TABLE = 'holds';
        END IF;
        NEW.resolved_at := NULL;
        RETURN NEW;
    END IF;

    IF NEW.status = 'expired' THEN
        IF OLD.expires_at IS NULL OR OLD.expires_at > clock_timestamp() THEN
            RAISE EXCEPTION 'hold % has not expired (expires_at %)', OLD.id, coalesce(OLD.expires_at::text, 'none')
                USING ERRCODE = 'check_violation', CONSTRAINT = 'holds_not_yet_expired',
                      TABLE = 'holds';
        END IF;
    ELSIF OLD.expires_at <= clock_timestamp() THEN
        RAISE EXCEPTION 'hold % expired at %: it can no longer be %', OLD.id, OLD.expires_at, NEW.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'holds_unexpired', TABLE = 'holds',
                  DETAIL = format('expires_at=%s', OLD.expires_at);
    END IF;

    IF NEW.status = 'captured' AND NOT (NEW.captured_amount > 0 AND NEW.captured_amount <= OLD.amount) THEN
        RAISE EXCEPTION 'hold %: the captured amount % must be above 0 and at most the hold''s %',
                OLD.id, NEW.captured_amount, OLD.amount
            USING ERRCODE = 'check_violation', CONSTRAINT = 'holds_capture_within_amount',
                  TABLE = 'holds', DETAIL = format('amount=%s', OLD.amount);
    END IF;
    IF NEW.status = 'captured' THEN
        SELECT w.currency, w.scale INTO wallet FROM wallets AS w WHERE w.id = OLD.wallet_id;
        IF min_scale(NEW.captured_amount) > wallet.scale THEN
            PERFORM ledger_refuse_precision('holds_captured_amount_scale', OLD.wallet_id,
                                            wallet.currency, wallet.scale,
                                            min_scale(NEW.captured_amount));
        END IF;
    END IF;
    IF NEW.status <> 'captured' AND NEW.transaction_id IS NOT NULL THEN
        RAISE EXCEPTION 'hold %: only a capture books a transaction', OLD.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'holds_captured_amount_set',
                  TABLE = 'holds';
    END IF;
    NEW.resolved_at := clock_timestamp();
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

ALTER FUNCTION public.holds_state_machine() OWNER TO CURRENT_USER;

--
-- Name: idempotency_claim(bigint, text); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.idempotency_claim(claimed_by bigint, claimed_key text) RETURNS TABLE(claimed boolean, fingerprint bytea, request text, status smallint, content_type text, headers jsonb, body text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET enable_seqscan TO 'off'
    SET search_path TO 'public', 'pg_temp'
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

ALTER FUNCTION public.idempotency_claim(claimed_by bigint, claimed_key text) OWNER TO wallet_ledger;

--
-- Name: FUNCTION idempotency_claim(claimed_by bigint, claimed_key text); Type: COMMENT; Schema: public; Owner: wallet_ledger
--

COMMENT ON FUNCTION public.idempotency_claim(claimed_by bigint, claimed_key text) IS 'Takes an idempotency key of an API key for this transaction (its advisory lock) and returns its stored response while the response has not expired; removes an expired one.';

--
-- Name: idempotency_keys_written_once(); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.idempotency_keys_written_once() RETURNS trigger
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

ALTER FUNCTION public.idempotency_keys_written_once() OWNER TO CURRENT_USER;

--
-- Name: idempotency_purge(bigint); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.idempotency_purge(batch bigint) RETURNS bigint
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
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

ALTER FUNCTION public.idempotency_purge(batch bigint) OWNER TO wallet_ledger;

--
-- Name: FUNCTION idempotency_purge(batch bigint); Type: COMMENT; Schema: public; Owner: wallet_ledger
--

COMMENT ON FUNCTION public.idempotency_purge(batch bigint) IS 'Removes up to batch expired idempotent responses, oldest expiry first; returns how many.';

--
-- Name: ledger_actor(); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.ledger_actor(OUT key_id bigint, OUT key_name text) RETURNS record
    LANGUAGE sql STABLE
    SET search_path TO 'public', 'pg_temp'
    AS $_$
    SELECT k.id, k.name
    FROM api_keys AS k
    WHERE pg_has_role(session_user, 'wallet_service', 'MEMBER')
      AND k.id = CASE WHEN current_setting('wallet_api.actor', true) ~ '^[0-9]{1,18}$'
                      THEN current_setting('wallet_api.actor', true)::bigint END
$_$;

ALTER FUNCTION public.ledger_actor(OUT key_id bigint, OUT key_name text) OWNER TO wallet_ledger;

--
-- Name: FUNCTION ledger_actor(OUT key_id bigint, OUT key_name text); Type: COMMENT; Schema: public; Owner: wallet_ledger
--

COMMENT ON FUNCTION public.ledger_actor(OUT key_id bigint, OUT key_name text) IS 'The API key the current statement runs for (wallet_api.actor, honoured for the service''s sessions only), or no row.';

--
-- Name: ledger_apply(text, public.ledger_change[]); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.ledger_apply(operation text, changes public.ledger_change[]) RETURNS TABLE(wallet_id bigint, balance_change_id bigint)
    LANGUAGE sql
    SET search_path TO 'public', 'pg_temp'
    AS $$
    SELECT j.wallet_id, j.balance_change_id
    FROM (
        SELECT array_agg(w.wallet_id) AS ids, array_agg(w.delta) AS deltas,
               array_agg(w.touched) AS counts, array_agg(w.only_id) AS only_ids,
               array_agg(0::numeric) AS no_held, array_agg(0::bigint) AS no_holds,
               array_agg(NULL::bigint) AS no_hold, array_agg(w.digits) AS digits
        FROM (
            SELECT c.wallet_id, sum(c.amount) AS delta,
                   count(DISTINCT c.transaction_id) AS touched,
                   CASE WHEN count(DISTINCT c.transaction_id) = 1
                        THEN min(c.transaction_id) END AS only_id,
                   max(min_scale(c.amount)) AS digits
            FROM unnest(changes) AS c
            GROUP BY c.wallet_id
            -- A wallet the statement leaves as it was is still judged by its rows' digits.
            HAVING sum(c.amount) <> 0 OR max(min_scale(c.amount)) > 0
        ) AS w
    ) AS a
    CROSS JOIN LATERAL wallet_apply(operation, a.ids, a.deltas, a.no_held, a.counts, a.only_ids,
                                    a.no_holds, a.no_hold, a.digits) AS j
$$;

ALTER FUNCTION public.ledger_apply(operation text, changes public.ledger_change[]) OWNER TO wallet_ledger;

--
-- Name: FUNCTION ledger_apply(operation text, changes public.ledger_change[]); Type: COMMENT; Schema: public; Owner: wallet_ledger
--

COMMENT ON FUNCTION public.ledger_apply(operation text, changes public.ledger_change[]) IS 'Adds the signed rows a statement changed up per wallet and applies them (wallet_apply); returns each wallet''s journal row. Called by the transactions triggers only.';

--
-- Name: ledger_hold(text, public.ledger_change[]); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.ledger_hold(operation text, changes public.ledger_change[]) RETURNS TABLE(wallet_id bigint, balance_change_id bigint)
    LANGUAGE sql
    SET search_path TO 'public', 'pg_temp'
    AS $$
    SELECT j.wallet_id, j.balance_change_id
    FROM (
        SELECT array_agg(w.wallet_id) AS ids, array_agg(w.held_delta) AS held_deltas,
               array_agg(w.touched) AS counts, array_agg(w.only_id) AS only_ids,
               array_agg(w.digits) AS digits
        FROM (
            SELECT c.wallet_id, sum(c.amount) AS held_delta,
                   count(DISTINCT c.transaction_id) AS touched,
                   CASE WHEN count(DISTINCT c.transaction_id) = 1
                        THEN min(c.transaction_id) END AS only_id,
                   max(min_scale(c.amount)) AS digits
            FROM unnest(changes) AS c
            GROUP BY c.wallet_id
            HAVING sum(c.amount) <> 0 OR max(min_scale(c.amount)) > 0
        ) AS w
    ) AS a
    CROSS JOIN LATERAL wallet_apply(
        operation, a.ids,
        array_fill(0::numeric, ARRAY[coalesce(cardinality(a.ids), 0)]), a.held_deltas,
        array_fill(0::bigint, ARRAY[coalesce(cardinality(a.ids), 0)]),
        array_fill(NULL::bigint, ARRAY[coalesce(cardinality(a.ids), 0)]),
        a.counts, a.only_ids, a.digits) AS j
$$;

ALTER FUNCTION public.ledger_hold(operation text, changes public.ledger_change[]) OWNER TO wallet_ledger;

--
-- Name: ledger_refuse_leg(bigint, bigint, text); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.ledger_refuse_leg(transaction_id bigint, transfer_id bigint, what text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    RAISE EXCEPTION 'a leg of transfer % %', transfer_id, what
        USING ERRCODE = 'check_violation', CONSTRAINT = 'transactions_transfer_leg',
              TABLE = 'transactions',
              DETAIL = format('transaction_id=%s transfer_id=%s', transaction_id, transfer_id),
              HINT = 'Reverse the transfer (a transfer with reverses) to move its money back.';
END;
$$;

ALTER FUNCTION public.ledger_refuse_leg(transaction_id bigint, transfer_id bigint, what text) OWNER TO CURRENT_USER;

--
-- Name: ledger_refuse_precision(text, bigint, text, smallint, integer); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.ledger_refuse_precision(what text, wallet bigint, currency text, scale smallint, digits integer) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'public', 'pg_temp'
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

ALTER FUNCTION public.ledger_refuse_precision(what text, wallet bigint, currency text, scale smallint, digits integer) OWNER TO CURRENT_USER;

--
-- Name: ledger_refuse_rewrite(); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.ledger_refuse_rewrite() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: its rows cannot be changed or removed (% refused)',
            TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              TABLE = TG_TABLE_NAME,
              HINT = 'The journal is the record of every balance change; wallet-api repair appends a repair row when a balance must be put right.';
END;
$$;

ALTER FUNCTION public.ledger_refuse_rewrite() OWNER TO CURRENT_USER;

--
-- Name: ledger_revise(text, public.transactions[], public.transactions[], bigint[], bigint[]); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.ledger_revise(operation text, old public.transactions[], new public.transactions[], journal_wallets bigint[], journal_rows bigint[]) RETURNS void
    LANGUAGE sql
    SET search_path TO 'public', 'pg_temp'
    AS $$
    INSERT INTO transaction_revisions (transaction_id, operation,
                                       old_wallet_id, old_txid, old_amount, old_created_at,
                                       new_wallet_id, new_txid, new_amount, new_created_at,
                                       old_balance_change_id, new_balance_change_id,
                                       revised_at, database_xid, revised_by, application,
                                       actor_key_id, actor_name, old_metadata, new_metadata)
    SELECT o.id, operation,
           o.wallet_id, o.txid, o.amount, o.created_at,
           n.wallet_id, n.txid, n.amount, n.created_at,
           oj.id, nj.id,
           clock_timestamp(), pg_current_xact_id(), session_user, current_setting('application_name'),
           actor.key_id, actor.key_name, o.metadata, n.metadata
    FROM unnest(old) AS o
    LEFT JOIN unnest(new) AS n ON n.id = o.id
    LEFT JOIN unnest(journal_wallets, journal_rows) AS oj (wallet_id, id) ON oj.wallet_id = o.wallet_id
    LEFT JOIN unnest(journal_wallets, journal_rows) AS nj (wallet_id, id) ON nj.wallet_id = n.wallet_id
    LEFT JOIN ledger_actor() AS actor ON true
    WHERE n.id IS NULL
       OR (o.wallet_id, o.txid, o.amount, o.created_at, o.metadata)
          IS DISTINCT FROM (n.wallet_id, n.txid, n.amount, n.created_at, n.metadata)
    ORDER BY o.id
$$;

ALTER FUNCTION public.ledger_revise(operation text, old public.transactions[], new public.transactions[], journal_wallets bigint[], journal_rows bigint[]) OWNER TO wallet_ledger;

--
-- Name: FUNCTION ledger_revise(operation text, old public.transactions[], new public.transactions[], journal_wallets bigint[], journal_rows bigint[]); Type: COMMENT; Schema: public; Owner: wallet_ledger
--

COMMENT ON FUNCTION public.ledger_revise(operation text, old public.transactions[], new public.transactions[], journal_wallets bigint[], journal_rows bigint[]) IS 'Writes the revisions of the rows a statement changed or removed. Called by the transactions triggers only.';

--
-- Name: metadata_ids(text, jsonb[], text, integer); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.metadata_ids(resource text, contains jsonb[], has_key text, cap integer) RETURNS bigint[]
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
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

ALTER FUNCTION public.metadata_ids(resource text, contains jsonb[], has_key text, cap integer) OWNER TO CURRENT_USER;

--
-- Name: FUNCTION metadata_ids(resource text, contains jsonb[], has_key text, cap integer); Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON FUNCTION public.metadata_ids(resource text, contains jsonb[], has_key text, cap integer) IS 'The ids of the visible rows of wallets, transactions, holds or transfers whose metadata holds one of the objects given (or has the key given): at most cap, or NULL when more match.';

--
-- Name: monitor_holds(text, text, numeric, numeric, numeric); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.monitor_holds(field text, operator text, amount numeric, balance numeric, available numeric) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    AS $$
    SELECT CASE operator
               WHEN 'lt' THEN value < amount
               WHEN 'lte' THEN value <= amount
               WHEN 'gt' THEN value > amount
               WHEN 'gte' THEN value >= amount
           END
    FROM (SELECT CASE field WHEN 'balance' THEN balance ELSE available END) AS v (value)
$$;

ALTER FUNCTION public.monitor_holds(field text, operator text, amount numeric, balance numeric, available numeric) OWNER TO CURRENT_USER;

--
-- Name: monitors_evaluate(bigint[]); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.monitors_evaluate(wallet_ids bigint[]) RETURNS void
    LANGUAGE plpgsql
    SET plan_cache_mode TO 'force_generic_plan'
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    turning bigint[];
BEGIN
    -- Most wallets have none: one probe says so.
    IF NOT EXISTS (SELECT 1 FROM balance_monitors WHERE wallet_id = ANY (wallet_ids)) THEN
        RETURN;
    END IF;
    -- Each wallet's near monitors, one index range per field and side (a plan made once for
    -- any wallets: OR-ed ranges or a join on wallet_id alone would scan the table), and of
    -- those the ones whose state no longer fits. Read first: most changes turn none, and an
    -- UPDATE that writes nothing still opens the table and its indexes for writing.
    turning := ARRAY(
        SELECT near.id
        FROM (SELECT w.id, w.balance,
                     wallet_available_now(w.id, w.balance, w.held, w.held_expires_at,
                                          w.credit_limit) AS available
              FROM wallets AS w
              WHERE w.id = ANY (wallet_ids)) AS w
        CROSS JOIN LATERAL (
            SELECT c.id, c.field, c.operator, c.amount, c.state
            FROM balance_monitors AS c
            WHERE c.wallet_id = w.id AND c.field = 'balance' AND c.turns_when = 'falls'
              AND c.amount >= w.balance
            UNION ALL
            SELECT c.id, c.field, c.operator, c.amount, c.state
            FROM balance_monitors AS c
            WHERE c.wallet_id = w.id AND c.field = 'balance' AND c.turns_when = 'rises'
              AND c.amount <= w.balance
            UNION ALL
            SELECT c.id, c.field, c.operator, c.amount, c.state
            FROM balance_monitors AS c
            WHERE c.wallet_id = w.id AND c.field = 'available' AND c.turns_when = 'falls'
              AND c.amount >= w.available
            UNION ALL
            SELECT c.id, c.field, c.operator, c.amount, c.state
            FROM balance_monitors AS c
            WHERE c.wallet_id = w.id AND c.field = 'available' AND c.turns_when = 'rises'
              AND c.amount <= w.available
        ) AS near
        WHERE (near.state = 'triggered') IS DISTINCT FROM monitor_holds(
                  near.field, near.operator, near.amount, w.balance, w.available));
    IF cardinality(turning) > 0 THEN
        UPDATE balance_monitors SET updated_at = now() WHERE id = ANY (turning);
    END IF;
END;
$$;

ALTER FUNCTION public.monitors_evaluate(wallet_ids bigint[]) OWNER TO wallet_ledger;

--
-- Name: transactions_after_delete(); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.transactions_after_delete() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    journal_wallets bigint[];
    journal_rows bigint[];
    leg record;
BEGIN
    SELECT id, transfer_id INTO leg FROM deleted_rows WHERE transfer_id IS NOT NULL LIMIT 1;
    IF FOUND THEN
        PERFORM ledger_refuse_leg(leg.id, leg.transfer_id, 'is never deleted on its own');
    END IF;
    SELECT array_agg(j.wallet_id), array_agg(j.balance_change_id)
    INTO journal_wallets, journal_rows
    FROM ledger_apply('delete', ARRAY(
        SELECT ROW(id, wallet_id, -amount)::ledger_change FROM deleted_rows)) AS j;
    PERFORM ledger_revise('delete', ARRAY(SELECT d::transactions FROM deleted_rows AS d), '{}',
                          journal_wallets, journal_rows);
    RETURN NULL;
END;
$$;

ALTER FUNCTION public.transactions_after_delete() OWNER TO wallet_ledger;

--
-- Name: transactions_after_insert(); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.transactions_after_insert() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    leg record;
BEGIN
    -- A leg is written by its transfer's trigger, one level down: never directly.
    IF pg_trigger_depth() < 2 THEN
        SELECT id, transfer_id INTO leg FROM inserted_rows WHERE transfer_id IS NOT NULL LIMIT 1;
        IF FOUND THEN
            PERFORM ledger_refuse_leg(leg.id, leg.transfer_id,
                                      'is written by INSERT INTO transfers only');
        END IF;
    END IF;
    PERFORM ledger_apply('insert', ARRAY(
        SELECT ROW(id, wallet_id, amount)::ledger_change FROM inserted_rows));
    RETURN NULL;
END;
$$;

ALTER FUNCTION public.transactions_after_insert() OWNER TO wallet_ledger;

--
-- Name: transactions_after_update(); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.transactions_after_update() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    journal_wallets bigint[];
    journal_rows bigint[];
    moved record;
    leg record;
BEGIN
    -- A leg keeps its amount, its wallet and its transfer; a plain booking never becomes one.
    SELECT o.id, coalesce(o.transfer_id, n.transfer_id) AS transfer_id INTO leg
    FROM old_rows AS o
    JOIN new_rows AS n ON n.id = o.id
    WHERE o.transfer_id IS DISTINCT FROM n.transfer_id
       OR (o.transfer_id IS NOT NULL AND (o.amount <> n.amount OR o.wallet_id <> n.wallet_id))
    LIMIT 1;
    IF FOUND THEN
        PERFORM ledger_refuse_leg(leg.id, leg.transfer_id,
                                  'keeps its amount, its wallet and its transfer');
    END IF;
    -- Money stays in its currency: a transaction moves only to a wallet of the same one.
    SELECT n.id, o.wallet_id AS old_wallet, ow.currency AS old_currency,
           n.wallet_id AS new_wallet, nw.currency AS new_currency
    INTO moved
    FROM new_rows AS n
    JOIN old_rows AS o ON o.id = n.id AND o.wallet_id <> n.wallet_id
    JOIN wallets AS ow ON ow.id = o.wallet_id
    JOIN wallets AS nw ON nw.id = n.wallet_id
    WHERE ow.currency <> nw.currency
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'a transaction cannot move from wallet % (%) to wallet % (%): a transaction stays in its currency',
                moved.old_wallet, moved.old_currency, moved.new_wallet, moved.new_currency
            USING ERRCODE = 'check_violation', CONSTRAINT = 'transactions_currency_fixed',
                  TABLE = 'transactions',
                  DETAIL = format('transaction_id=%s currency=%s wallet_currency=%s',
                                  moved.id, moved.old_currency, moved.new_currency),
                  HINT = 'Book a debit here and a credit in a wallet of the other currency.';
    END IF;
    SELECT array_agg(j.wallet_id), array_agg(j.balance_change_id)
    INTO journal_wallets, journal_rows
    FROM ledger_apply('update', ARRAY(
        SELECT ROW(id, wallet_id, amount)::ledger_change FROM new_rows
        UNION ALL
        SELECT ROW(id, wallet_id, -amount)::ledger_change FROM old_rows)) AS j;
    PERFORM ledger_revise('update', ARRAY(SELECT o::transactions FROM old_rows AS o),
                          ARRAY(SELECT n::transactions FROM new_rows AS n), journal_wallets, journal_rows);
    RETURN NULL;
END;
$$;

ALTER FUNCTION public.transactions_after_update() OWNER TO wallet_ledger;

--
-- Name: transactions_before_truncate(); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.transactions_before_truncate() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    journal_wallets bigint[];
    journal_rows bigint[];
    leg record;
BEGIN
    SELECT id, transfer_id INTO leg FROM transactions WHERE transfer_id IS NOT NULL LIMIT 1;
    IF FOUND THEN
        PERFORM ledger_refuse_leg(leg.id, leg.transfer_id, 'is never deleted: TRUNCATE would delete it');
    END IF;
    PERFORM 1 FROM wallets WHERE balance <> 0 ORDER BY id FOR NO KEY UPDATE;

    SELECT array_agg(j.wallet_id), array_agg(j.balance_change_id)
    INTO journal_wallets, journal_rows
    FROM (
        SELECT array_agg(w.id ORDER BY w.id) AS ids,
               array_agg(-w.balance ORDER BY w.id) AS deltas,
               array_agg(coalesce(t.touched, 0) ORDER BY w.id) AS counts,
               array_agg(t.only_id ORDER BY w.id) AS only_ids
        FROM wallets AS w
        LEFT JOIN (
            SELECT wallet_id, count(*) AS touched,
                   CASE WHEN count(*) = 1 THEN min(id) END AS only_id
            FROM transactions
            GROUP BY wallet_id
        ) AS t ON t.wallet_id = w.id
        WHERE w.balance <> 0
    ) AS a
    CROSS JOIN LATERAL wallet_apply(
        'truncate', a.ids, a.deltas,
        array_fill(0::numeric, ARRAY[coalesce(cardinality(a.ids), 0)]), a.counts, a.only_ids,
        array_fill(0::bigint, ARRAY[coalesce(cardinality(a.ids), 0)]),
        array_fill(NULL::bigint, ARRAY[coalesce(cardinality(a.ids), 0)]),
        array_fill(NULL::integer, ARRAY[coalesce(cardinality(a.ids), 0)])) AS j;

    PERFORM ledger_revise('truncate', ARRAY(SELECT t FROM transactions AS t), '{}',
                          journal_wallets, journal_rows);
    RETURN NULL;
END;
$$;

ALTER FUNCTION public.transactions_before_truncate() OWNER TO wallet_ledger;

--
-- Name: transactions_events_delete(); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.transactions_events_delete() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    PERFORM events_emit(ARRAY(
        SELECT ROW(t.wallet_id, 'transaction.deleted', 'transactions', t.id,
                   event_transaction_data(t, w.currency, w.scale))::event_draft
        FROM old_transactions AS t JOIN wallets AS w ON w.id = t.wallet_id
        ORDER BY t.wallet_id, t.id));
    RETURN NULL;
END;
$$;

ALTER FUNCTION public.transactions_events_delete() OWNER TO wallet_ledger;

--
-- Name: transactions_events_insert(); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.transactions_events_insert() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    PERFORM events_emit(ARRAY(
        SELECT ROW(t.wallet_id, 'transaction.created', 'transactions', t.id,
                   event_transaction_data(t, w.currency, w.scale))::event_draft
        FROM new_transactions AS t JOIN wallets AS w ON w.id = t.wallet_id
        ORDER BY t.wallet_id, t.id));
    RETURN NULL;
END;
$$;

ALTER FUNCTION public.transactions_events_insert() OWNER TO wallet_ledger;

--
-- Name: transactions_events_truncate(); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.transactions_events_truncate() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    PERFORM events_emit(ARRAY(
        SELECT ROW(t.wallet_id, 'transaction.deleted', 'transactions', t.id,
                   event_transaction_data(t, w.currency, w.scale))::event_draft
        FROM transactions AS t JOIN wallets AS w ON w.id = t.wallet_id
        ORDER BY t.wallet_id, t.id));
    RETURN NULL;
END;
$$;

ALTER FUNCTION public.transactions_events_truncate() OWNER TO wallet_ledger;

--
-- Name: transactions_events_update(); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.transactions_events_update() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    PERFORM events_emit(ARRAY(
        SELECT ROW(x.wallet_id, 'transaction.updated', 'transactions', n.id,
                   event_transaction_data(n, w.currency, w.scale))::event_draft
        FROM new_transactions AS n
        JOIN old_transactions AS o ON o.id = n.id
        JOIN wallets AS w ON w.id = n.wallet_id
        CROSS JOIN LATERAL (SELECT n.wallet_id UNION SELECT o.wallet_id) AS x (wallet_id)
        WHERE (o.wallet_id, o.txid, o.amount, o.created_at, o.metadata)
              IS DISTINCT FROM (n.wallet_id, n.txid, n.amount, n.created_at, n.metadata)
        ORDER BY x.wallet_id, n.id));
    RETURN NULL;
END;
$$;

ALTER FUNCTION public.transactions_events_update() OWNER TO wallet_ledger;

--
-- Name: transfers_after_insert(); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.transfers_after_insert() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
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

ALTER FUNCTION public.transfers_after_insert() OWNER TO wallet_ledger;

--
-- Name: FUNCTION transfers_after_insert(); Type: COMMENT; Schema: public; Owner: wallet_ledger
--

COMMENT ON FUNCTION public.transfers_after_insert() IS 'Checks a statement''s new transfers together, books both legs of each as transactions in one statement, and adds reversals to their originals.';

--
-- Name: transfers_events(); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.transfers_events() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    PERFORM events_emit(ARRAY(
        SELECT ROW(x.wallet_id,
                   CASE TG_OP WHEN 'INSERT' THEN 'transfer.created' ELSE 'transfer.updated' END,
                   'transfers', t.id, event_transfer_data(t, w.currency, w.scale))::event_draft
        FROM new_transfers AS t
        JOIN wallets AS w ON w.id = t.source_wallet_id
        CROSS JOIN LATERAL (VALUES (t.source_wallet_id), (t.destination_wallet_id)) AS x (wallet_id)
        ORDER BY x.wallet_id, t.id));
    RETURN NULL;
END;
$$;

ALTER FUNCTION public.transfers_events() OWNER TO wallet_ledger;

--
-- Name: transfers_guard(); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.transfers_guard() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'public', 'pg_temp'
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

ALTER FUNCTION public.transfers_guard() OWNER TO CURRENT_USER;

--
-- Name: transfers_never_deleted(); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.transfers_never_deleted() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    RAISE EXCEPTION 'a transfer is never deleted: reverse it to move the money back'
        USING ERRCODE = 'check_violation', CONSTRAINT = 'transfers_kept',
              TABLE = 'transfers';
END;
$$;

ALTER FUNCTION public.transfers_never_deleted() OWNER TO CURRENT_USER;

--
-- Name: wallet_api_wallets(); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.wallet_api_wallets() RETURNS bigint[]
    LANGUAGE sql STABLE
    SET search_path TO 'public', 'pg_temp'
    AS $$
    SELECT nullif(current_setting('wallet_api.wallets', true), '')::bigint[]
$$;

ALTER FUNCTION public.wallet_api_wallets() OWNER TO CURRENT_USER;

--
-- Name: FUNCTION wallet_api_wallets(); Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON FUNCTION public.wallet_api_wallets() IS 'The wallets the current statement may see (wallet_api.wallets), or NULL for every wallet.';

--
-- Name: wallet_apply(text, bigint[], numeric[], numeric[], bigint[], bigint[], bigint[], bigint[], integer[]); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.wallet_apply(operation text, wallet_ids bigint[], deltas numeric[], held_deltas numeric[], counts bigint[], transaction_ids bigint[], hold_counts bigint[], hold_ids bigint[], digits integer[]) RETURNS TABLE(wallet_id bigint, balance_change_id bigint)
    LANGUAGE plpgsql
    SET plan_cache_mode TO 'force_generic_plan'
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    target record;
    locked integer := 0;
    changed_at timestamptz;
    actor record;
BEGIN
    IF coalesce(cardinality(wallet_ids), 0) = 0 THEN  -- nothing to do (array_agg of no rows is NULL)
        RETURN;
    END IF;

    -- Lock every affected wallet, lowest id first, and look at the balances it would get.
    -- Under READ COMMITTED a row changed by a concurrent transaction is re-read after that
    -- transaction commits, so the check below sees the committed balances.
    FOR target IN
        SELECT w.id, w.currency, w.scale, d.digits, w.balance + d.delta AS new_balance,
               wallet_available_now(w.id, w.balance, w.held, w.held_expires_at, w.credit_limit) AS available,
               wallet_available_now(w.id, w.balance, w.held, w.held_expires_at, w.credit_limit)
                   + d.delta - d.held_delta AS new_available
        FROM wallets AS w
        JOIN unnest(wallet_ids, deltas, held_deltas, digits) AS d (wallet_id, delta, held_delta, digits)
          ON d.wallet_id = w.id
        ORDER BY w.id
        FOR NO KEY UPDATE OF w
    LOOP
        locked := locked + 1;
        IF target.digits > target.scale THEN
            PERFORM ledger_refuse_precision(
                CASE WHEN operation LIKE 'hold%' THEN 'holds_amount_scale'
                     ELSE 'transactions_amount_scale' END,
                target.id, target.currency, target.scale, target.digits);
        END IF;
        IF target.new_available < 0 THEN
            RAISE EXCEPTION 'insufficient funds: the available balance of wallet % would become % (% available now)',
                    target.id, round(target.new_available, target.scale),
                    round(target.available, target.scale)
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'wallets_balance_nonnegative',
                      TABLE = 'wallets',
                      DETAIL = format('wallet_id=%s available=%s', target.id,
                                      round(target.available, target.scale)),
                      HINT = 'A statement must leave every wallet''s available balance (its balance less its pending holds, plus its credit limit) at zero or above.';
        END IF;
        IF target.new_balance >= 1e18 THEN
            RAISE EXCEPTION 'balance overflow: the balance of wallet % would become %, beyond numeric(36,18)',
                    target.id, target.new_balance
                USING ERRCODE = 'numeric_value_out_of_range',
                      CONSTRAINT = 'wallets_balance_max',
                      TABLE = 'wallets',
                      DETAIL = format('wallet_id=%s', target.id);
        END IF;
    END LOOP;

    -- The foreign keys normally guarantee the wallet exists; this also holds when foreign
    -- keys were skipped (session_replication_role = replica).
    IF locked <> cardinality(wallet_ids) THEN
        RAISE EXCEPTION '% refer to a wallet that does not exist',
                CASE WHEN operation LIKE 'hold%' THEN 'holds' ELSE 'transactions' END
            USING ERRCODE = 'foreign_key_violation',
                  CONSTRAINT = CASE WHEN operation LIKE 'hold%' THEN 'holds_wallet_id_fkey'
                                    ELSE 'transactions_wallet_id_fkey' END,
                  TABLE = CASE WHEN operation LIKE 'hold%' THEN 'holds' ELSE 'transactions' END;
    END IF;

    -- Every wallet is locked: no other writer can come between this time and the commit.
    changed_at := clock_timestamp();
    SELECT * INTO actor FROM ledger_actor();

    RETURN QUERY
    WITH applied AS (
        UPDATE wallets AS w
        SET balance = w.balance + d.delta,
            held = w.held + d.held_delta,
            -- When the statement changed its pending holds: the earliest expiry among them
            -- now (the first entry of a partial index).
            held_expires_at = CASE WHEN d.holds_touched > 0
                                   THEN (SELECT min(h.expires_at) FROM holds AS h
                                         WHERE h.wallet_id = w.id AND h.status = 'pending'
                                           AND h.expires_at IS NOT NULL)
                                   ELSE w.held_expires_at END,
            updated_at = now()
        FROM unnest(wallet_ids, deltas, held_deltas, counts, transaction_ids, hold_counts, hold_ids)
             AS d (wallet_id, delta, held_delta, touched, transaction_id, holds_touched, hold_id)
        WHERE w.id = d.wallet_id AND (d.delta <> 0 OR d.held_delta <> 0)
        RETURNING w.id, w.balance, w.held, d.delta, d.held_delta, d.touched, d.transaction_id,
                  d.holds_touched, d.hold_id, w.currency, w.scale,
                  wallet_available_now(w.id, w.balance, w.held, w.held_expires_at,
                                       w.credit_limit) AS available
    ), journal AS (
        INSERT INTO balance_changes AS c (wallet_id, delta, balance, held_delta, held, operation,
                                          transaction_count, transaction_id, hold_count, hold_id,
                                          changed_at, database_xid, changed_by, application,
                                          actor_key_id, actor_name)
        SELECT a.id, a.delta, a.balance, a.held_delta, a.held, operation,
               a.touched, a.transaction_id, a.holds_touched, a.hold_id,
               changed_at, pg_current_xact_id(), session_user, current_setting('application_name'),
               actor.key_id, actor.key_name
        FROM applied AS a
        ORDER BY a.id
        RETURNING c.id, c.wallet_id, c.delta, c.balance, c.held_delta, c.held, c.transaction_id,
                  c.hold_id
    ), evented AS (
        -- Each entry is its wallet's balance.changed event (55_events.sql), numbered after the
        -- wallet's last event: the wallet is locked, so no other writer numbers in between.
        INSERT INTO events (position, wallet_id, wallet_sequence, event_type, subject_type,
                            subject_id, data, occurred_at, database_xid, origin, changed_by,
                            actor_key_id, actor_name)
        SELECT greatest(l.last_position, pg_current_xact_id()::text::bigint + k.xid_offset),
               j.wallet_id, l.last_sequence + 1, 'balance.changed', 'balance-changes', j.id,
               event_balance_data(j.id, j.wallet_id, j.delta, j.balance, j.held_delta, j.held,
                                  a.available, operation, changed_at, j.transaction_id,
                                  j.hold_id, a.currency, a.scale),
               changed_at, pg_current_xact_id(), events_origin(), session_user,
               actor.key_id, actor.key_name
        FROM journal AS j
        JOIN applied AS a ON a.id = j.wallet_id
        CROSS JOIN LATERAL events_last(j.wallet_id) AS l
        CROSS JOIN event_clock AS k
        ORDER BY j.wallet_id
    )
    SELECT j.wallet_id, j.id FROM journal AS j ORDER BY j.wallet_id;

    -- The wallets' balance monitors, now that their numbers changed.
    PERFORM monitors_evaluate(wallet_ids);
END;
$$;

ALTER FUNCTION public.wallet_apply(operation text, wallet_ids bigint[], deltas numeric[], held_deltas numeric[], counts bigint[], transaction_ids bigint[], hold_counts bigint[], hold_ids bigint[], digits integer[]) OWNER TO wallet_ledger;

--
-- Name: FUNCTION wallet_apply(operation text, wallet_ids bigint[], deltas numeric[], held_deltas numeric[], counts bigint[], transaction_ids bigint[], hold_counts bigint[], hold_ids bigint[], digits integer[]); Type: COMMENT; Schema: public; Owner: wallet_ledger
--

COMMENT ON FUNCTION public.wallet_apply(operation text, wallet_ids bigint[], deltas numeric[], held_deltas numeric[], counts bigint[], transaction_ids bigint[], hold_counts bigint[], hold_ids bigint[], digits integer[]) IS 'Adds deltas[i] to the balance and held_deltas[i] to the held of wallet wallet_ids[i] and journals it: locks in id order, refuses a negative available balance or an overflowing balance. Called by the triggers only.';

--
-- Name: wallet_available_now(bigint, numeric, numeric, timestamp with time zone, numeric); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.wallet_available_now(wallet bigint, balance numeric, held numeric, held_expires_at timestamp with time zone, credit_limit numeric) RETURNS numeric
    LANGUAGE sql STABLE
    AS $$
    SELECT balance - wallet_held_now(wallet, held, held_expires_at) + credit_limit
$$;

ALTER FUNCTION public.wallet_available_now(wallet bigint, balance numeric, held numeric, held_expires_at timestamp with time zone, credit_limit numeric) OWNER TO CURRENT_USER;

--
-- Name: FUNCTION wallet_available_now(wallet bigint, balance numeric, held numeric, held_expires_at timestamp with time zone, credit_limit numeric); Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON FUNCTION public.wallet_available_now(wallet bigint, balance numeric, held numeric, held_expires_at timestamp with time zone, credit_limit numeric) IS 'What the wallet can spend or hold: its balance less wallet_held_now, plus its credit limit.';

--
-- Name: wallet_balance_at(bigint, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.wallet_balance_at(wallet bigint, at timestamp with time zone) RETURNS numeric
    LANGUAGE plpgsql STABLE
    AS $$
BEGIN
    RETURN coalesce((
        SELECT balance
        FROM balance_changes
        WHERE wallet_id = wallet AND changed_at <= at
        ORDER BY changed_at DESC, id DESC
        LIMIT 1
    ), 0::numeric);
END;
$$;

ALTER FUNCTION public.wallet_balance_at(wallet bigint, at timestamp with time zone) OWNER TO CURRENT_USER;

--
-- Name: wallet_credit_limit_at(bigint, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.wallet_credit_limit_at(wallet bigint, at timestamp with time zone) RETURNS numeric
    LANGUAGE plpgsql STABLE
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    RETURN coalesce((
        SELECT r.old_credit_limit
        FROM wallet_revisions AS r
        WHERE r.wallet_id = wallet AND r.revised_at > at
          AND r.old_credit_limit IS DISTINCT FROM r.new_credit_limit
        ORDER BY r.revised_at, r.id
        LIMIT 1
    ), (SELECT w.credit_limit FROM wallets AS w WHERE w.id = wallet), 0::numeric);
END;
$$;

ALTER FUNCTION public.wallet_credit_limit_at(wallet bigint, at timestamp with time zone) OWNER TO CURRENT_USER;

--
-- Name: wallet_expired_held(bigint); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.wallet_expired_held(wallet bigint) RETURNS numeric
    LANGUAGE sql STABLE
    AS $$
    SELECT coalesce(sum(h.amount), 0)
    FROM holds AS h
    WHERE h.wallet_id = wallet AND h.status = 'pending' AND h.expires_at <= now()
$$;

ALTER FUNCTION public.wallet_expired_held(wallet bigint) OWNER TO CURRENT_USER;

--
-- Name: FUNCTION wallet_expired_held(wallet bigint); Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON FUNCTION public.wallet_expired_held(wallet bigint) IS 'The amounts of the wallet''s pending holds whose expires_at has passed (not yet swept): counted in wallets.held, held by nothing.';

--
-- Name: wallet_held_at(bigint, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.wallet_held_at(wallet bigint, at timestamp with time zone) RETURNS numeric
    LANGUAGE plpgsql STABLE
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    -- PL/pgSQL, so that its two lookups are planned once per session (a SQL function with
    -- sub-selects is planned at every call).
    RETURN coalesce((
        SELECT c.held
        FROM balance_changes AS c
        WHERE c.wallet_id = wallet AND c.changed_at <= at
        ORDER BY c.changed_at DESC, c.id DESC
        LIMIT 1
    ), 0::numeric) - coalesce((
        SELECT sum(h.amount)
        FROM holds AS h
        WHERE h.wallet_id = wallet AND h.expires_at <= at AND h.created_at <= at
          AND h.status IN ('pending', 'expired')
          AND (h.resolved_at IS NULL OR h.resolved_at > at)
    ), 0::numeric);
END;
$$;

ALTER FUNCTION public.wallet_held_at(wallet bigint, at timestamp with time zone) OWNER TO CURRENT_USER;

--
-- Name: wallet_held_now(bigint, numeric, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.wallet_held_now(wallet bigint, held numeric, held_expires_at timestamp with time zone) RETURNS numeric
    LANGUAGE sql STABLE
    AS $$
    SELECT held - CASE WHEN held = 0 OR held_expires_at IS NULL OR held_expires_at > now() THEN 0
                       ELSE wallet_expired_held(wallet) END
$$;

ALTER FUNCTION public.wallet_held_now(wallet bigint, held numeric, held_expires_at timestamp with time zone) OWNER TO CURRENT_USER;

--
-- Name: FUNCTION wallet_held_now(wallet bigint, held numeric, held_expires_at timestamp with time zone); Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON FUNCTION public.wallet_held_now(wallet bigint, held numeric, held_expires_at timestamp with time zone) IS 'What the wallet''s pending, unexpired holds keep: its stored held less wallet_expired_held.';

--
-- Name: wallet_repair(boolean); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.wallet_repair(apply boolean DEFAULT false) RETURNS TABLE(wallet_id bigint, stored_balance numeric, repaired_balance numeric, journal_balance numeric, balance_change_id bigint, stored_held numeric, repaired_held numeric)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    flagged bigint[];
    fix record;
    journal_id bigint;
BEGIN
    -- Balance history that disagrees with the journal is folded again
    -- (62_balance_history.sql): it holds no money, only a summary of the journal.
    IF apply THEN
        PERFORM balance_buckets_refold(ARRAY(SELECT DISTINCT b.wallet_id FROM balance_bucket_audit AS b));
    END IF;
    SELECT array_agg(a.wallet_id ORDER BY a.wallet_id) INTO flagged
    FROM wallet_balance_audit AS a
    WHERE a.stored_balance IS NOT NULL;
    IF flagged IS NULL THEN
        RETURN;
    END IF;
    IF apply THEN
        PERFORM 1 FROM wallets AS w WHERE w.id = ANY (flagged) ORDER BY w.id FOR NO KEY UPDATE;
    END IF;

    -- Recomputed now, under the locks: this query sees what the writers waited for committed.
    FOR fix IN
        SELECT w.id, w.balance AS stored, w.held AS stored_held, w.credit_limit,
               coalesce((SELECT sum(t.amount) FROM transactions AS t WHERE t.wallet_id = w.id), 0) AS correct,
               coalesce((SELECT sum(h.amount) FROM holds AS h
                         WHERE h.wallet_id = w.id AND h.status = 'pending'), 0) AS correct_held,
               coalesce(j.balance, 0) AS journaled,
               coalesce(j.held, 0) AS journaled_held
        FROM wallets AS w
        LEFT JOIN LATERAL (
            SELECT c.balance, c.held FROM balance_changes AS c WHERE c.wallet_id = w.id
            ORDER BY c.id DESC LIMIT 1
        ) AS j ON true
        WHERE w.id = ANY (flagged)
        ORDER BY w.id
    LOOP
        journal_id := NULL;
        IF apply THEN
            IF fix.correct < -fix.credit_limit THEN
                RAISE EXCEPTION 'wallet %: its transactions add up to %, below minus its credit limit %; repair its transactions first',
                        fix.id, fix.correct, fix.credit_limit
                    USING ERRCODE = 'check_violation',
                          CONSTRAINT = 'wallets_balance_nonnegative',
                          DETAIL = format('wallet_id=%s', fix.id);
            END IF;
            UPDATE wallets AS w
            SET balance = fix.correct, held = fix.correct_held,
                held_expires_at = (SELECT min(h.expires_at) FROM holds AS h
                                   WHERE h.wallet_id = w.id AND h.status = 'pending'),
                updated_at = now()
            WHERE w.id = fix.id;
            INSERT INTO balance_changes AS c (wallet_id, delta, balance, held_delta, held, operation,
                                              transaction_count, transaction_id, changed_at,
                                              database_xid, changed_by, application,
                                              repaired_from)
            VALUES (fix.id, fix.correct - fix.journaled, fix.correct,
                    fix.correct_held - fix.journaled_held, fix.correct_held, 'repair', 0, NULL,
                    clock_timestamp(), pg_current_xact_id(), session_user,
                    current_setting('application_name'), fix.stored)
            RETURNING c.id INTO journal_id;
        END IF;
        wallet_id := fix.id;
        stored_balance := fix.stored;
        repaired_balance := fix.correct;
        journal_balance := fix.journaled;
        balance_change_id := journal_id;
        stored_held := fix.stored_held;
        repaired_held := fix.correct_held;
        RETURN NEXT;
    END LOOP;
END;
$$;

ALTER FUNCTION public.wallet_repair(apply boolean) OWNER TO wallet_ledger;

--
-- Name: wallets_credit_limit(); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.wallets_credit_limit() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    admin boolean;
    in_use numeric;
BEGIN
    SELECT 'admin' = ANY (k.scopes) INTO admin
    FROM ledger_actor() AS a
    JOIN api_keys AS k ON k.id = a.key_id;
    IF NOT admin THEN
        RAISE EXCEPTION 'wallet %: a credit limit is set by an admin key only', coalesce(NEW.id::text, '(new)')
            USING ERRCODE = 'insufficient_privilege', CONSTRAINT = 'wallets_credit_limit_admin',
                  TABLE = 'wallets';
    END IF;
    IF min_scale(NEW.credit_limit) > NEW.scale THEN
        PERFORM ledger_refuse_precision('wallets_credit_limit_scale', NEW.id, NEW.currency,
                                        NEW.scale, min_scale(NEW.credit_limit));
    END IF;
    IF TG_OP = 'UPDATE' THEN
        in_use := wallet_held_now(OLD.id, OLD.held, OLD.held_expires_at) - OLD.balance;
        IF NEW.credit_limit < in_use THEN
            RAISE EXCEPTION 'wallet %: its credit limit cannot go below %, what its balance and holds use of it',
                    OLD.id, round(in_use, OLD.scale)
                USING ERRCODE = 'check_violation', CONSTRAINT = 'wallets_credit_limit_in_use',
                      TABLE = 'wallets',
                      DETAIL = format('wallet_id=%s in_use=%s', OLD.id, round(in_use, OLD.scale)),
                      HINT = 'Credit the wallet, or void its holds, before lowering its limit.';
        END IF;
    END IF;
    RETURN NEW;
END;
$$;

ALTER FUNCTION public.wallets_credit_limit() OWNER TO wallet_ledger;

--
-- Name: FUNCTION wallets_credit_limit(); Type: COMMENT; Schema: public; Owner: wallet_ledger
--

COMMENT ON FUNCTION public.wallets_credit_limit() IS 'Refuses a credit limit set by a key without the admin scope, finer than the wallet''s currency, or lowered below what the wallet uses.';

--
-- Name: wallets_currency(); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.wallets_currency() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'public', 'pg_temp'
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

ALTER FUNCTION public.wallets_currency() OWNER TO CURRENT_USER;

--
-- Name: FUNCTION wallets_currency(); Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON FUNCTION public.wallets_currency() IS 'Sets a new wallet''s scale from its currency; refuses any change of a wallet''s currency or scale.';

--
-- Name: wallets_events_delete(); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.wallets_events_delete() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
DECLARE
    here bigint := events_position();
BEGIN
    INSERT INTO events (position, wallet_id, wallet_sequence, event_type, subject_type,
                        subject_id, data, occurred_at, database_xid, origin, changed_by,
                        actor_key_id, actor_name)
    SELECT greatest(coalesce(e.position, w.event_position), here), w.id,
           coalesce(e.wallet_sequence, w.event_sequence) + 1, 'wallet.deleted',
           'wallets', w.id, event_wallet_data(w), clock_timestamp(), pg_current_xact_id(),
           events_origin(), session_user, actor.key_id, actor.key_name
    FROM old_wallets AS w
    LEFT JOIN LATERAL (
        SELECT ev.wallet_sequence, ev.position FROM events AS ev
        WHERE ev.wallet_id = w.id ORDER BY ev.wallet_sequence DESC LIMIT 1
    ) AS e ON true
    LEFT JOIN ledger_actor() AS actor ON true
    ORDER BY w.id;
    RETURN NULL;
END;
$$;

ALTER FUNCTION public.wallets_events_delete() OWNER TO wallet_ledger;

--
-- Name: wallets_events_insert(); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.wallets_events_insert() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    PERFORM events_emit(ARRAY(
        SELECT ROW(w.id, 'wallet.created', 'wallets', w.id, event_wallet_data(w))::event_draft
        FROM new_wallets AS w ORDER BY w.id));
    RETURN NULL;
END;
$$;

ALTER FUNCTION public.wallets_events_insert() OWNER TO wallet_ledger;

--
-- Name: wallets_events_update(); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.wallets_events_update() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    PERFORM events_emit(ARRAY[ROW(NEW.id, 'wallet.updated', 'wallets', NEW.id,
                                  event_wallet_data(NEW))::event_draft]);
    IF NEW.credit_limit IS DISTINCT FROM OLD.credit_limit THEN
        PERFORM monitors_evaluate(ARRAY[NEW.id]);
    END IF;
    RETURN NULL;
END;
$$;

ALTER FUNCTION public.wallets_events_update() OWNER TO wallet_ledger;

--
-- Name: wallets_refuse_balance_write(); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.wallets_refuse_balance_write() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'wallets.balance and wallets.held cannot be written directly (wallet %)',
            coalesce(NEW.id::text, 'new')
        USING ERRCODE = 'insufficient_privilege',
              TABLE = 'wallets',
              HINT = 'The balance is the sum of the wallet''s transactions, held the sum of its pending holds: write rows in transactions or holds instead.';
END;
$$;

ALTER FUNCTION public.wallets_refuse_balance_write() OWNER TO CURRENT_USER;

--
-- Name: wallets_revise(); Type: FUNCTION; Schema: public; Owner: wallet_ledger
--

CREATE FUNCTION public.wallets_revise() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'public', 'pg_temp'
    AS $$
BEGIN
    INSERT INTO wallet_revisions (wallet_id, old_label, new_label, old_metadata, new_metadata,
                                  revised_at, database_xid, revised_by, application,
                                  actor_key_id, actor_name, old_credit_limit, new_credit_limit)
    SELECT OLD.id, OLD.label, NEW.label, OLD.metadata, NEW.metadata,
           clock_timestamp(), pg_current_xact_id(), session_user,
           current_setting('application_name'), actor.key_id, actor.key_name,
           OLD.credit_limit, NEW.credit_limit
    FROM (SELECT 1) AS one
    LEFT JOIN ledger_actor() AS actor ON true;
    RETURN NULL;
END;
$$;

ALTER FUNCTION public.wallets_revise() OWNER TO wallet_ledger;

--
-- Name: wallets_touch_updated_at(); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.wallets_touch_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

ALTER FUNCTION public.wallets_touch_updated_at() OWNER TO CURRENT_USER;

--
-- Name: webhook_endpoints_start(); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.webhook_endpoints_start() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.queued_position := events_horizon() - 1;
    NEW.queued_id := 9223372036854775807;
    RETURN NEW;
END;
$$;

ALTER FUNCTION public.webhook_endpoints_start() OWNER TO CURRENT_USER;

--
-- Name: webhook_lock(bigint); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.webhook_lock(endpoint bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE
    AS $$
    SELECT hashtextextended('wallet-api webhook-endpoint', endpoint)
$$;

ALTER FUNCTION public.webhook_lock(endpoint bigint) OWNER TO CURRENT_USER;

--
-- Name: FUNCTION webhook_lock(endpoint bigint); Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON FUNCTION public.webhook_lock(endpoint bigint) IS 'The key of the session advisory lock an instance holds while it delivers the endpoint.';

--
-- Name: webhook_queue(bigint, integer); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.webhook_queue(endpoint bigint, most integer) RETURNS integer
    LANGUAGE plpgsql
    AS $$
DECLARE
    e webhook_endpoints;
    read_position bigint;
    read_id bigint;
    read_count integer;
BEGIN
    SELECT * INTO e FROM webhook_endpoints WHERE id = endpoint AND status = 'enabled' FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    WITH next AS (
        SELECT f.id, f.position, f.wallet_id, f.event_type
        FROM events_feed AS f
        WHERE (f.position, f.id) > (e.queued_position, e.queued_id)
        ORDER BY f.position, f.id
        LIMIT most
    ), queued AS (
        INSERT INTO webhook_deliveries (endpoint_id, event_id, wallet_id, event_type, next_attempt_at)
        SELECT endpoint, n.id, n.wallet_id, n.event_type, clock_timestamp()
        FROM next AS n
        WHERE webhook_wants(e.event_types, e.wallet_ids, n.event_type, n.wallet_id)
        ORDER BY n.position, n.id
        RETURNING 1
    ), last AS (
        SELECT n.position, n.id FROM next AS n ORDER BY n.position DESC, n.id DESC LIMIT 1
    )
    SELECT (SELECT count(*) FROM next), l.position, l.id
    INTO read_count, read_position, read_id
    FROM (SELECT count(*) FROM queued) AS q(n) LEFT JOIN last AS l ON true;
    IF read_count > 0 THEN
        UPDATE webhook_endpoints
        SET queued_position = read_position, queued_id = read_id
        WHERE id = endpoint;
    END IF;
    RETURN read_count;
END;
$$;

ALTER FUNCTION public.webhook_queue(endpoint bigint, most integer) OWNER TO CURRENT_USER;

--
-- Name: FUNCTION webhook_queue(endpoint bigint, most integer); Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON FUNCTION public.webhook_queue(endpoint bigint, most integer) IS 'Reads at most `most` events of the feed after the endpoint''s cursor, queues those it wants as pending deliveries and moves the cursor past all it read; returns how many it read.';

--
-- Name: webhook_replay(bigint, timestamp with time zone, bigint); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.webhook_replay(endpoint bigint, at timestamp with time zone, event bigint) RETURNS boolean
    LANGUAGE plpgsql
    AS $$
DECLARE
    start_position bigint;
    start_id bigint;
BEGIN
    IF event IS NOT NULL THEN
        SELECT f.position, f.id INTO start_position, start_id FROM events_feed AS f WHERE f.id = event;
    ELSE
        SELECT f.position, f.id INTO start_position, start_id
        FROM events_feed AS f
        WHERE f.occurred_at >= at
        ORDER BY f.position, f.id
        LIMIT 1;
        IF NOT FOUND THEN
            -- Nothing occurred since: the cursor goes to the end of the feed.
            start_position := events_horizon();
            start_id := 1;
        END IF;
    END IF;
    IF start_position IS NULL THEN
        RETURN false;
    END IF;
    UPDATE webhook_endpoints
    SET queued_position = start_position, queued_id = start_id - 1
    WHERE id = endpoint;
    RETURN true;
END;
$$;

ALTER FUNCTION public.webhook_replay(endpoint bigint, at timestamp with time zone, event bigint) OWNER TO CURRENT_USER;

--
-- Name: FUNCTION webhook_replay(endpoint bigint, at timestamp with time zone, event bigint); Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON FUNCTION public.webhook_replay(endpoint bigint, at timestamp with time zone, event bigint) IS 'Puts the endpoint''s cursor before event `event`, or before the first event that occurred at or after `at`; false when there is no such event.';

--
-- Name: webhook_wants(text[], bigint[], text, bigint); Type: FUNCTION; Schema: public; Owner: CURRENT_USER
--

CREATE FUNCTION public.webhook_wants(event_types text[], wallet_ids bigint[], event_type text, wallet_id bigint) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    AS $$
    SELECT (cardinality(event_types) = 0 OR event_type = ANY (event_types))
       AND (cardinality(wallet_ids) = 0 OR wallet_id = ANY (wallet_ids))
$$;

ALTER FUNCTION public.webhook_wants(event_types text[], wallet_ids bigint[], event_type text, wallet_id bigint) OWNER TO CURRENT_USER;

--
-- Name: api_keys; Type: TABLE; Schema: public; Owner: CURRENT_USER
--

CREATE TABLE public.api_keys (
    id bigint NOT NULL,
    name text NOT NULL,
    prefix text NOT NULL,
    secret_hash bytea NOT NULL,
    scopes text[] NOT NULL,
    wallet_ids bigint[] DEFAULT '{}'::bigint[] NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone,
    revoked_at timestamp with time zone,
    CONSTRAINT api_keys_admin_not_limited CHECK ((NOT (('admin'::text = ANY (scopes)) AND (cardinality(wallet_ids) > 0)))),
    CONSTRAINT api_keys_name_length CHECK (((char_length(name) >= 1) AND (char_length(name) <= 100))),
    CONSTRAINT api_keys_scopes_known CHECK (((cardinality(scopes) > 0) AND (scopes <@ ARRAY['read'::text, 'write'::text, 'admin'::text])))
);

ALTER TABLE public.api_keys OWNER TO CURRENT_USER;

--
-- Name: TABLE api_keys; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON TABLE public.api_keys IS 'The service''s clients: each key''s name, scopes, wallet limits, expiry and revocation. Secrets are never stored, only their SHA-256.';

--
-- Name: api_keys_id_seq; Type: SEQUENCE; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE public.api_keys ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.api_keys_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: balance_buckets; Type: TABLE; Schema: public; Owner: CURRENT_USER
--

CREATE TABLE public.balance_buckets (
    wallet_id bigint NOT NULL,
    width text NOT NULL,
    start timestamp with time zone NOT NULL,
    min_balance numeric(36,18) NOT NULL,
    max_balance numeric(36,18) NOT NULL,
    balance numeric(36,18) NOT NULL,
    held numeric(36,18) NOT NULL,
    last_changed_at timestamp with time zone NOT NULL,
    last_change_id bigint NOT NULL,
    CONSTRAINT balance_buckets_width_known CHECK ((width = ANY (ARRAY['1m'::text, '1h'::text, '1d'::text])))
);

ALTER TABLE public.balance_buckets OWNER TO CURRENT_USER;

--
-- Name: TABLE balance_buckets; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON TABLE public.balance_buckets IS 'The journal summarised per wallet and minute, hour and day: the lowest and highest balance its changes left, and what its last change left. Kept by balance_changes_buckets().';

--
-- Name: balance_bucket_audit; Type: VIEW; Schema: public; Owner: CURRENT_USER
--

CREATE VIEW public.balance_bucket_audit AS
 SELECT COALESCE(f.wallet_id, b.wallet_id) AS wallet_id,
    COALESCE(f.width, b.width) AS width,
    COALESCE(f.start, b.start) AS start
   FROM (public.balance_journal_folded(NULL::bigint[]) f(wallet_id, width, start, min_balance, max_balance, balance, held, last_changed_at, last_change_id)
     FULL JOIN public.balance_buckets b ON (((b.wallet_id = f.wallet_id) AND (b.width = f.width) AND (b.start = f.start))))
  WHERE ((f.wallet_id IS NULL) OR (b.wallet_id IS NULL) OR ((((f.min_balance IS DISTINCT FROM b.min_balance) OR (f.max_balance IS DISTINCT FROM b.max_balance)) OR (f.balance IS DISTINCT FROM b.balance)) OR (f.held IS DISTINCT FROM b.held)));

ALTER TABLE public.balance_bucket_audit OWNER TO CURRENT_USER;

--
-- Name: VIEW balance_bucket_audit; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON VIEW public.balance_bucket_audit IS 'Buckets of balance_buckets that disagree with the journal (empty when all is well); wallet-api repair folds their wallets again.';

--
-- Name: balance_changes; Type: TABLE; Schema: public; Owner: CURRENT_USER
--

CREATE TABLE public.balance_changes (
    id bigint NOT NULL,
    wallet_id bigint NOT NULL,
    delta numeric(37,18) NOT NULL,
    balance numeric(36,18) NOT NULL,
    operation text NOT NULL,
    transaction_count bigint NOT NULL,
    transaction_id bigint,
    changed_at timestamp with time zone NOT NULL,
    database_xid xid8 NOT NULL,
    changed_by text NOT NULL,
    application text NOT NULL,
    repaired_from numeric(36,18),
    actor_key_id bigint,
    actor_name text,
    held_delta numeric(37,18) DEFAULT 0 NOT NULL,
    held numeric(36,18) DEFAULT 0 NOT NULL,
    hold_count bigint DEFAULT 0 NOT NULL,
    hold_id bigint,
    CONSTRAINT balance_changes_operation_known CHECK ((operation = ANY (ARRAY['opening'::text, 'insert'::text, 'update'::text, 'delete'::text, 'truncate'::text, 'repair'::text, 'hold_insert'::text, 'hold_update'::text, 'hold_delete'::text, 'hold_truncate'::text])))
);

ALTER TABLE public.balance_changes OWNER TO CURRENT_USER;

--
-- Name: TABLE balance_changes; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON TABLE public.balance_changes IS 'Append-only journal: one row per wallet per statement that changed its balance; balance is a running total per wallet.';

--
-- Name: balance_changes_id_seq; Type: SEQUENCE; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE public.balance_changes ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.balance_changes_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: balance_changes_with_currency; Type: VIEW; Schema: public; Owner: CURRENT_USER
--

CREATE VIEW public.balance_changes_with_currency WITH (security_invoker='true') AS
 SELECT c.id,
    c.wallet_id,
    c.delta,
    c.balance,
    c.operation,
    c.transaction_count,
    c.transaction_id,
    c.changed_at,
    c.database_xid,
    c.changed_by,
    c.application,
    c.repaired_from,
    c.actor_key_id,
    c.actor_name,
    c.held_delta,
    c.held,
    c.hold_count,
    c.hold_id,
    COALESCE(( SELECT w.currency
           FROM public.wallets w
          WHERE (w.id = c.wallet_id)), 'XXX'::text) AS currency,
    COALESCE(( SELECT w.scale
           FROM public.wallets w
          WHERE (w.id = c.wallet_id)), (18)::smallint) AS scale
   FROM public.balance_changes c;

ALTER TABLE public.balance_changes_with_currency OWNER TO CURRENT_USER;

--
-- Name: VIEW balance_changes_with_currency; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON VIEW public.balance_changes_with_currency IS 'Every journal row with its wallet''s currency and scale.';

--
-- Name: balance_monitors_id_seq; Type: SEQUENCE; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE public.balance_monitors ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.balance_monitors_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: balance_monitors_with_scale; Type: VIEW; Schema: public; Owner: CURRENT_USER
--

CREATE VIEW public.balance_monitors_with_scale WITH (security_invoker='true') AS
 SELECT m.id,
    m.wallet_id,
    m.field,
    m.operator,
    m.amount,
    m.state,
    m.triggered_at,
    m.created_at,
    m.updated_at,
    m.metadata,
    w.scale,
    w.currency
   FROM (public.balance_monitors m
     JOIN public.wallets w ON ((w.id = m.wallet_id)));

ALTER TABLE public.balance_monitors_with_scale OWNER TO CURRENT_USER;

--
-- Name: currencies; Type: TABLE; Schema: public; Owner: CURRENT_USER
--

CREATE TABLE public.currencies (
    code text NOT NULL,
    name text NOT NULL,
    scale smallint NOT NULL,
    kind text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    liquidity_wallet_id bigint,
    CONSTRAINT currencies_code_format CHECK ((code ~ '^[A-Z][A-Z0-9]{1,15}$'::text)),
    CONSTRAINT currencies_kind CHECK ((kind = ANY (ARRAY['iso'::text, 'crypto'::text, 'custom'::text]))),
    CONSTRAINT currencies_name_length CHECK (((length(name) >= 1) AND (length(name) <= 255))),
    CONSTRAINT currencies_scale_range CHECK (((scale >= 0) AND (scale <= 18)))
);

ALTER TABLE public.currencies OWNER TO CURRENT_USER;

--
-- Name: TABLE currencies; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON TABLE public.currencies IS 'The currencies wallets may hold: code (ISO 4217 or a code of your own), name, scale (fractional digits of every amount), kind.';

--
-- Name: COLUMN currencies.liquidity_wallet_id; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON COLUMN public.currencies.liquidity_wallet_id IS 'The house''s wallet of this currency that takes and gives it in exchanges (usually with a credit limit).';

--
-- Name: events; Type: TABLE; Schema: public; Owner: CURRENT_USER
--

CREATE TABLE public.events (
    id bigint NOT NULL,
    "position" bigint NOT NULL,
    wallet_id bigint NOT NULL,
    wallet_sequence bigint NOT NULL,
    event_type text NOT NULL,
    subject_type text NOT NULL,
    subject_id bigint NOT NULL,
    data jsonb NOT NULL,
    occurred_at timestamp with time zone NOT NULL,
    database_xid xid8 NOT NULL,
    origin text NOT NULL,
    changed_by text NOT NULL,
    actor_key_id bigint,
    actor_name text,
    CONSTRAINT events_origin_known CHECK ((origin = ANY (ARRAY['api'::text, 'sql'::text]))),
    CONSTRAINT events_type_format CHECK ((event_type ~ '^[a-z]+\.[a-z]+$'::text))
);

ALTER TABLE public.events OWNER TO CURRENT_USER;

--
-- Name: TABLE events; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON TABLE public.events IS 'Append-only record of every change (wallets, transactions, holds, transfers, exchanges, balances, monitors), written by triggers; read in (position, id) order below events_horizon().';

--
-- Name: event_audit; Type: VIEW; Schema: public; Owner: CURRENT_USER
--

CREATE VIEW public.event_audit AS
 SELECT w.id AS wallet_id,
    w.event_sequence,
    e.first,
    e.last,
    e.count
   FROM (public.wallets w
     LEFT JOIN LATERAL ( SELECT min(events.wallet_sequence) AS first,
            max(events.wallet_sequence) AS last,
            count(*) AS count
           FROM public.events
          WHERE (events.wallet_id = w.id)) e ON (true))
  WHERE ((e.count > 0) AND ((e.first <> (w.event_sequence + 1)) OR (e.count <> ((e.last - e.first) + 1))));

ALTER TABLE public.event_audit OWNER TO CURRENT_USER;

--
-- Name: VIEW event_audit; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON VIEW public.event_audit IS 'Wallets whose events are not numbered without a gap from 1 (or from the last one retention removed, wallets.event_sequence) (empty when all is well).';

--
-- Name: event_clock; Type: TABLE; Schema: public; Owner: CURRENT_USER
--

CREATE TABLE public.event_clock (
    only_row boolean DEFAULT true NOT NULL,
    xid_offset bigint DEFAULT 0 NOT NULL,
    pruned_position bigint DEFAULT 0 NOT NULL,
    pruned_id bigint DEFAULT 0 NOT NULL,
    CONSTRAINT event_clock_one_row CHECK (only_row)
);

ALTER TABLE public.event_clock OWNER TO CURRENT_USER;

--
-- Name: TABLE event_clock; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON TABLE public.event_clock IS 'One row: the offset of feed positions over transaction ids, and the last (position, id) retention removed.';

--
-- Name: events_feed; Type: VIEW; Schema: public; Owner: CURRENT_USER
--

CREATE VIEW public.events_feed WITH (security_invoker='true') AS
 SELECT e.id,
    e."position",
    e.wallet_id,
    e.wallet_sequence,
    e.event_type,
    e.subject_type,
    e.subject_id,
    e.data,
    e.occurred_at,
    e.origin,
    e.actor_key_id,
    e.actor_name,
        CASE e.subject_type
            WHEN 'transactions'::text THEN e.subject_id
            ELSE NULL::bigint
        END AS transaction_id,
        CASE e.subject_type
            WHEN 'holds'::text THEN e.subject_id
            ELSE NULL::bigint
        END AS hold_id,
        CASE e.subject_type
            WHEN 'transfers'::text THEN e.subject_id
            ELSE NULL::bigint
        END AS transfer_id,
        CASE e.subject_type
            WHEN 'exchanges'::text THEN e.subject_id
            ELSE NULL::bigint
        END AS exchange_id,
        CASE e.subject_type
            WHEN 'balance-changes'::text THEN e.subject_id
            ELSE NULL::bigint
        END AS balance_change_id,
        CASE e.subject_type
            WHEN 'balance-monitors'::text THEN e.subject_id
            ELSE NULL::bigint
        END AS monitor_id
   FROM public.events e
  WHERE (e."position" < public.events_horizon());

ALTER TABLE public.events_feed OWNER TO CURRENT_USER;

--
-- Name: VIEW events_feed; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON VIEW public.events_feed IS 'The events a reader may be served: those below events_horizon(), all final. Page by (position, id).';

--
-- Name: events_id_seq; Type: SEQUENCE; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE public.events ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.events_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: exchange_audit; Type: VIEW; Schema: public; Owner: CURRENT_USER
--

CREATE VIEW public.exchange_audit AS
 SELECT e.id AS exchange_id,
    concat_ws('; '::text,
        CASE
            WHEN (i.id IS NULL) THEN format('its transfer in, %s, is missing'::text, e.source_transfer_id)
            WHEN ((((i.source_wallet_id IS DISTINCT FROM e.source_wallet_id) OR (i.destination_wallet_id IS DISTINCT FROM e.source_liquidity_wallet_id)) OR (i.amount IS DISTINCT FROM e.source_amount)) OR (i.exchange_id IS DISTINCT FROM e.id)) THEN format('its transfer in, %s, differs from it'::text, e.source_transfer_id)
            ELSE NULL::text
        END,
        CASE
            WHEN (o.id IS NULL) THEN format('its transfer out, %s, is missing'::text, e.destination_transfer_id)
            WHEN ((((o.source_wallet_id IS DISTINCT FROM e.destination_liquidity_wallet_id) OR (o.destination_wallet_id IS DISTINCT FROM e.destination_wallet_id)) OR (o.amount IS DISTINCT FROM e.destination_amount)) OR (o.exchange_id IS DISTINCT FROM e.id)) THEN format('its transfer out, %s, differs from it'::text, e.destination_transfer_id)
            ELSE NULL::text
        END,
        CASE
            WHEN (e.destination_amount > (e.source_amount * e.rate)) THEN 'it gives more than its rate buys'::text
            ELSE NULL::text
        END) AS problem
   FROM ((public.exchanges e
     LEFT JOIN public.transfers i ON ((i.id = e.source_transfer_id)))
     LEFT JOIN public.transfers o ON ((o.id = e.destination_transfer_id)))
  WHERE ((i.id IS NULL) OR (o.id IS NULL) OR ((((i.source_wallet_id IS DISTINCT FROM e.source_wallet_id) OR (i.destination_wallet_id IS DISTINCT FROM e.source_liquidity_wallet_id)) OR (i.amount IS DISTINCT FROM e.source_amount)) OR (i.exchange_id IS DISTINCT FROM e.id)) OR ((((o.source_wallet_id IS DISTINCT FROM e.destination_liquidity_wallet_id) OR (o.destination_wallet_id IS DISTINCT FROM e.destination_wallet_id)) OR (o.amount IS DISTINCT FROM e.destination_amount)) OR (o.exchange_id IS DISTINCT FROM e.id)) OR (e.destination_amount > (e.source_amount * e.rate)))
UNION ALL
 SELECT t.exchange_id,
    format('transfer %s names exchange %s, which does not exist'::text, t.id, t.exchange_id) AS problem
   FROM public.transfers t
  WHERE ((t.exchange_id IS NOT NULL) AND (NOT (EXISTS ( SELECT 1
           FROM public.exchanges e
          WHERE (e.id = t.exchange_id)))));

ALTER TABLE public.exchange_audit OWNER TO CURRENT_USER;

--
-- Name: VIEW exchange_audit; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON VIEW public.exchange_audit IS 'Every exchange whose transfers are wrong or that gives more than its rate buys, and every transfer of no exchange: empty when the rules held.';

--
-- Name: exchanges_id_seq; Type: SEQUENCE; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE public.exchanges ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.exchanges_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: exchanges_with_scale; Type: VIEW; Schema: public; Owner: CURRENT_USER
--

CREATE VIEW public.exchanges_with_scale WITH (security_invoker='true') AS
 SELECT e.id,
    e.txid,
    e.source_wallet_id,
    e.destination_wallet_id,
    e.source_amount,
    e.destination_amount,
    e.rate,
    e.source_currency,
    e.destination_currency,
    e.source_liquidity_wallet_id,
    e.destination_liquidity_wallet_id,
    ARRAY[e.source_transfer_id, e.destination_transfer_id] AS transfer_ids,
    e.created_at,
    e.metadata,
    COALESCE(( SELECT c.scale
           FROM public.currencies c
          WHERE (c.code = e.source_currency)), (18)::smallint) AS source_scale,
    COALESCE(( SELECT c.scale
           FROM public.currencies c
          WHERE (c.code = e.destination_currency)), (18)::smallint) AS destination_scale
   FROM public.exchanges e;

ALTER TABLE public.exchanges_with_scale OWNER TO CURRENT_USER;

--
-- Name: VIEW exchanges_with_scale; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON VIEW public.exchanges_with_scale IS 'Every exchange with the scales of its currencies and the ids of its two transfers.';

--
-- Name: hold_revisions; Type: TABLE; Schema: public; Owner: CURRENT_USER
--

CREATE TABLE public.hold_revisions (
    id bigint NOT NULL,
    hold_id bigint NOT NULL,
    operation text NOT NULL,
    old jsonb NOT NULL,
    new jsonb,
    revised_at timestamp with time zone NOT NULL,
    database_xid xid8 NOT NULL,
    revised_by text NOT NULL,
    application text NOT NULL,
    actor_key_id bigint,
    actor_name text,
    CONSTRAINT hold_revisions_operation_known CHECK ((operation = ANY (ARRAY['update'::text, 'delete'::text, 'truncate'::text])))
);

ALTER TABLE public.hold_revisions OWNER TO CURRENT_USER;

--
-- Name: TABLE hold_revisions; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON TABLE public.hold_revisions IS 'Append-only before-images (and after-images) of every hold changed by UPDATE, DELETE or TRUNCATE.';

--
-- Name: hold_revisions_id_seq; Type: SEQUENCE; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE public.hold_revisions ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.hold_revisions_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: holds_id_seq; Type: SEQUENCE; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE public.holds ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.holds_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: holds_now; Type: VIEW; Schema: public; Owner: CURRENT_USER
--

CREATE VIEW public.holds_now WITH (security_invoker='true') AS
 SELECT h.id,
    h.wallet_id,
    h.amount,
        CASE
            WHEN ((h.status = 'pending'::text) AND (h.expires_at <= now())) THEN 'expired'::text
            ELSE h.status
        END AS status,
    h.captured_amount,
    h.transaction_id,
    h.expires_at,
    h.created_at,
    h.updated_at,
        CASE
            WHEN ((h.status = 'pending'::text) AND (h.expires_at <= now())) THEN h.expires_at
            ELSE h.resolved_at
        END AS resolved_at,
    h.metadata,
    COALESCE(( SELECT w.currency
           FROM public.wallets w
          WHERE (w.id = h.wallet_id)), 'XXX'::text) AS currency,
    COALESCE(( SELECT w.scale
           FROM public.wallets w
          WHERE (w.id = h.wallet_id)), (18)::smallint) AS scale
   FROM public.holds h;

ALTER TABLE public.holds_now OWNER TO CURRENT_USER;

--
-- Name: VIEW holds_now; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON VIEW public.holds_now IS 'Every hold with its status now (a pending hold past expires_at is expired), and its wallet''s currency and scale.';

--
-- Name: idempotency_keys; Type: TABLE; Schema: public; Owner: CURRENT_USER
--

CREATE TABLE public.idempotency_keys (
    key text NOT NULL,
    fingerprint bytea NOT NULL,
    request text NOT NULL,
    status smallint NOT NULL,
    content_type text NOT NULL,
    headers jsonb NOT NULL,
    body text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    api_key_id bigint DEFAULT 0 NOT NULL,
    expires_at timestamp with time zone DEFAULT (now() + '24:00:00'::interval) NOT NULL,
    CONSTRAINT idempotency_keys_key_length CHECK (((char_length(key) >= 1) AND (char_length(key) <= 255)))
);

ALTER TABLE public.idempotency_keys OWNER TO CURRENT_USER;

--
-- Name: transaction_revisions; Type: TABLE; Schema: public; Owner: CURRENT_USER
--

CREATE TABLE public.transaction_revisions (
    id bigint NOT NULL,
    transaction_id bigint NOT NULL,
    operation text NOT NULL,
    old_wallet_id bigint NOT NULL,
    old_txid text NOT NULL,
    old_amount numeric(36,18) NOT NULL,
    old_created_at timestamp with time zone NOT NULL,
    new_wallet_id bigint,
    new_txid text,
    new_amount numeric(36,18),
    new_created_at timestamp with time zone,
    old_balance_change_id bigint,
    new_balance_change_id bigint,
    revised_at timestamp with time zone NOT NULL,
    database_xid xid8 NOT NULL,
    revised_by text NOT NULL,
    application text NOT NULL,
    actor_key_id bigint,
    actor_name text,
    old_metadata jsonb,
    new_metadata jsonb,
    CONSTRAINT transaction_revisions_operation_known CHECK ((operation = ANY (ARRAY['update'::text, 'delete'::text, 'truncate'::text])))
);

ALTER TABLE public.transaction_revisions OWNER TO CURRENT_USER;

--
-- Name: TABLE transaction_revisions; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON TABLE public.transaction_revisions IS 'Append-only before-images (and after-images) of every transaction changed by UPDATE, DELETE or TRUNCATE.';

--
-- Name: transaction_revisions_id_seq; Type: SEQUENCE; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE public.transaction_revisions ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.transaction_revisions_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: transactions_with_currency; Type: VIEW; Schema: public; Owner: CURRENT_USER
--

CREATE VIEW public.transactions_with_currency WITH (security_invoker='true') AS
 SELECT t.id,
    t.wallet_id,
    t.txid,
    t.amount,
    t.created_at,
    t.metadata,
    COALESCE(( SELECT w.currency
           FROM public.wallets w
          WHERE (w.id = t.wallet_id)), 'XXX'::text) AS currency,
    COALESCE(( SELECT w.scale
           FROM public.wallets w
          WHERE (w.id = t.wallet_id)), (18)::smallint) AS scale,
    t.transfer_id
   FROM public.transactions t;

ALTER TABLE public.transactions_with_currency OWNER TO CURRENT_USER;

--
-- Name: VIEW transactions_with_currency; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON VIEW public.transactions_with_currency IS 'Every transaction with its wallet''s currency and scale.';

--
-- Name: transfer_audit; Type: VIEW; Schema: public; Owner: CURRENT_USER
--

CREATE VIEW public.transfer_audit AS
 SELECT t.id AS transfer_id,
    concat_ws('; '::text,
        CASE
            WHEN (d.id IS NULL) THEN format('its debit, transaction %s, is missing'::text, t.debit_id)
            WHEN (((d.wallet_id IS DISTINCT FROM t.source_wallet_id) OR (d.amount IS DISTINCT FROM (- t.amount))) OR (d.transfer_id IS DISTINCT FROM t.id)) THEN format('its debit, transaction %s, differs from it'::text, t.debit_id)
            ELSE NULL::text
        END,
        CASE
            WHEN (c.id IS NULL) THEN format('its credit, transaction %s, is missing'::text, t.credit_id)
            WHEN (((c.wallet_id IS DISTINCT FROM t.destination_wallet_id) OR (c.amount IS DISTINCT FROM t.amount)) OR (c.transfer_id IS DISTINCT FROM t.id)) THEN format('its credit, transaction %s, differs from it'::text, t.credit_id)
            ELSE NULL::text
        END,
        CASE
            WHEN (t.reversed_amount <> COALESCE(r.total, (0)::numeric)) THEN format('reversed_amount %s differs from the sum of its reversals %s'::text, t.reversed_amount, COALESCE(r.total, (0)::numeric))
            ELSE NULL::text
        END) AS problem
   FROM (((public.transfers t
     LEFT JOIN public.transactions d ON ((d.id = t.debit_id)))
     LEFT JOIN public.transactions c ON ((c.id = t.credit_id)))
     LEFT JOIN ( SELECT transfers.reverses_id,
            sum(transfers.amount) AS total
           FROM public.transfers
          WHERE (transfers.reverses_id IS NOT NULL)
          GROUP BY transfers.reverses_id) r ON ((r.reverses_id = t.id)))
  WHERE ((d.id IS NULL) OR (c.id IS NULL) OR (((d.wallet_id IS DISTINCT FROM t.source_wallet_id) OR (d.amount IS DISTINCT FROM (- t.amount))) OR (d.transfer_id IS DISTINCT FROM t.id)) OR (((c.wallet_id IS DISTINCT FROM t.destination_wallet_id) OR (c.amount IS DISTINCT FROM t.amount)) OR (c.transfer_id IS DISTINCT FROM t.id)) OR (t.reversed_amount <> COALESCE(r.total, (0)::numeric)))
UNION ALL
 SELECT l.transfer_id,
    format('transaction %s is a leg of transfer %s, which does not exist'::text, l.id, l.transfer_id) AS problem
   FROM public.transactions l
  WHERE ((l.transfer_id IS NOT NULL) AND (NOT (EXISTS ( SELECT 1
           FROM public.transfers t
          WHERE (t.id = l.transfer_id)))));

ALTER TABLE public.transfer_audit OWNER TO CURRENT_USER;

--
-- Name: VIEW transfer_audit; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON VIEW public.transfer_audit IS 'Every transfer whose legs or reversed amount are wrong, and every leg of no transfer: empty when the rules held.';

--
-- Name: transfers_with_currency; Type: VIEW; Schema: public; Owner: CURRENT_USER
--

CREATE VIEW public.transfers_with_currency WITH (security_invoker='true') AS
 SELECT t.id,
    t.txid,
    t.source_wallet_id,
    t.destination_wallet_id,
    t.amount,
    t.reverses_id,
    t.reversed_amount,
    t.debit_id,
    t.credit_id,
    t.created_at,
    t.metadata,
    COALESCE(( SELECT w.currency
           FROM public.wallets w
          WHERE (w.id = t.source_wallet_id)), 'XXX'::text) AS currency,
    COALESCE(( SELECT w.scale
           FROM public.wallets w
          WHERE (w.id = t.source_wallet_id)), (18)::smallint) AS scale,
    t.exchange_id
   FROM public.transfers t;

ALTER TABLE public.transfers_with_currency OWNER TO CURRENT_USER;

--
-- Name: VIEW transfers_with_currency; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON VIEW public.transfers_with_currency IS 'Every transfer with its wallets'' currency and scale.';

--
-- Name: wallet_balance_audit; Type: VIEW; Schema: public; Owner: CURRENT_USER
--

CREATE VIEW public.wallet_balance_audit AS
 WITH sums AS (
         SELECT transactions.wallet_id,
            sum(transactions.amount) AS total
           FROM public.transactions
          GROUP BY transactions.wallet_id
        ), pending AS (
         SELECT holds.wallet_id,
            sum(holds.amount) AS total,
            min(holds.expires_at) AS first_expiry
           FROM public.holds
          WHERE (holds.status = 'pending'::text)
          GROUP BY holds.wallet_id
        ), journal AS (
         SELECT balance_changes.wallet_id,
            balance_changes.id,
            balance_changes.balance,
            balance_changes.delta,
            balance_changes.held,
            balance_changes.held_delta,
            balance_changes.operation,
            lag(balance_changes.balance, 1, (0)::numeric) OVER per_wallet AS previous,
            lag(balance_changes.held, 1, (0)::numeric) OVER per_wallet AS previous_held,
            row_number() OVER (PARTITION BY balance_changes.wallet_id ORDER BY balance_changes.id DESC) AS from_end,
            max(balance_changes.id) FILTER (WHERE (balance_changes.operation = 'repair'::text)) OVER per_wallet AS last_repair
           FROM public.balance_changes
          WINDOW per_wallet AS (PARTITION BY balance_changes.wallet_id ORDER BY balance_changes.id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
        ), last_rows AS (
         SELECT journal.wallet_id,
            journal.balance,
            journal.held
           FROM journal
          WHERE (journal.from_end = 1)
        ), breaks AS (
         SELECT journal.wallet_id,
            min(journal.id) AS first_break
           FROM journal
          WHERE (((journal.balance <> (journal.previous + journal.delta)) OR (journal.held <> (journal.previous_held + journal.held_delta))) AND (journal.id > COALESCE(journal.last_repair, (0)::bigint)))
          GROUP BY journal.wallet_id
        )
 SELECT w.id AS wallet_id,
    w.balance AS stored_balance,
    COALESCE(s.total, (0)::numeric) AS transactions_sum,
    COALESCE(l.balance, (0)::numeric) AS journal_balance,
    b.first_break AS journal_break_id,
    concat_ws('; '::text,
        CASE
            WHEN (w.balance < (- w.credit_limit)) THEN 'balance below its credit limit'::text
            ELSE NULL::text
        END,
        CASE
            WHEN (w.balance <> COALESCE(s.total, (0)::numeric)) THEN 'balance differs from the sum of its transactions'::text
            ELSE NULL::text
        END,
        CASE
            WHEN (w.balance <> COALESCE(l.balance, (0)::numeric)) THEN 'balance differs from its journal'::text
            ELSE NULL::text
        END,
        CASE
            WHEN (w.held <> COALESCE(p.total, (0)::numeric)) THEN format('held %s differs from the sum of its pending holds %s'::text, w.held, COALESCE(p.total, (0)::numeric))
            ELSE NULL::text
        END,
        CASE
            WHEN (w.held <> COALESCE(l.held, (0)::numeric)) THEN format('held %s differs from its journal''s %s'::text, w.held, COALESCE(l.held, (0)::numeric))
            ELSE NULL::text
        END,
        CASE
            WHEN (((w.balance - COALESCE(p.total, (0)::numeric)) + w.credit_limit) < (0)::numeric) THEN 'negative available balance'::text
            ELSE NULL::text
        END,
        CASE
            WHEN (w.held_expires_at IS DISTINCT FROM p.first_expiry) THEN 'held_expires_at differs from its pending holds'' first expiry'::text
            ELSE NULL::text
        END,
        CASE
            WHEN (b.first_break IS NOT NULL) THEN format('journal running total breaks at balance change %s'::text, b.first_break)
            ELSE NULL::text
        END) AS problem,
    w.held AS stored_held,
    COALESCE(p.total, (0)::numeric) AS holds_sum
   FROM ((((public.wallets w
     LEFT JOIN sums s ON ((s.wallet_id = w.id)))
     LEFT JOIN pending p ON ((p.wallet_id = w.id)))
     LEFT JOIN last_rows l ON ((l.wallet_id = w.id)))
     LEFT JOIN breaks b ON ((b.wallet_id = w.id)))
  WHERE ((w.balance < (- w.credit_limit)) OR (w.balance <> COALESCE(s.total, (0)::numeric)) OR (w.balance <> COALESCE(l.balance, (0)::numeric)) OR (w.held <> COALESCE(p.total, (0)::numeric)) OR (w.held <> COALESCE(l.held, (0)::numeric)) OR (((w.balance - COALESCE(p.total, (0)::numeric)) + w.credit_limit) < (0)::numeric) OR (w.held_expires_at IS DISTINCT FROM p.first_expiry) OR (b.first_break IS NOT NULL))
UNION ALL
 SELECT t.wallet_id,
    NULL::numeric AS stored_balance,
    sum(t.amount) AS transactions_sum,
    NULL::numeric AS journal_balance,
    NULL::bigint AS journal_break_id,
    'transactions refer to a wallet that does not exist'::text AS problem,
    NULL::numeric AS stored_held,
    NULL::numeric AS holds_sum
   FROM public.transactions t
  WHERE (NOT (EXISTS ( SELECT 1
           FROM public.wallets w
          WHERE (w.id = t.wallet_id))))
  GROUP BY t.wallet_id;

ALTER TABLE public.wallet_balance_audit OWNER TO CURRENT_USER;

--
-- Name: wallet_balances; Type: VIEW; Schema: public; Owner: CURRENT_USER
--

CREATE VIEW public.wallet_balances WITH (security_invoker='true') AS
 SELECT w.id AS wallet_id,
    w.balance,
    public.wallet_held_now(w.id, w.held, w.held_expires_at) AS held,
    public.wallet_available_now(w.id, w.balance, w.held, w.held_expires_at, w.credit_limit) AS available,
    w.credit_limit
   FROM public.wallets w;

ALTER TABLE public.wallet_balances OWNER TO CURRENT_USER;

--
-- Name: VIEW wallet_balances; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON VIEW public.wallet_balances IS 'Each wallet''s balance, held (its pending, unexpired holds), available (balance - held + credit_limit) and credit limit, exact now.';

--
-- Name: wallet_revisions; Type: TABLE; Schema: public; Owner: CURRENT_USER
--

CREATE TABLE public.wallet_revisions (
    id bigint NOT NULL,
    wallet_id bigint NOT NULL,
    old_label text NOT NULL,
    new_label text NOT NULL,
    old_metadata jsonb NOT NULL,
    new_metadata jsonb NOT NULL,
    revised_at timestamp with time zone NOT NULL,
    database_xid xid8 NOT NULL,
    revised_by text NOT NULL,
    application text NOT NULL,
    actor_key_id bigint,
    actor_name text,
    old_credit_limit numeric(36,18),
    new_credit_limit numeric(36,18)
);

ALTER TABLE public.wallet_revisions OWNER TO CURRENT_USER;

--
-- Name: TABLE wallet_revisions; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON TABLE public.wallet_revisions IS 'Append-only before-images (and after-images) of every change of a wallet''s label or metadata.';

--
-- Name: wallet_revisions_id_seq; Type: SEQUENCE; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE public.wallet_revisions ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.wallet_revisions_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: wallets_id_seq; Type: SEQUENCE; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE public.wallets ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.wallets_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: webhook_deliveries; Type: TABLE; Schema: public; Owner: CURRENT_USER
--

CREATE TABLE public.webhook_deliveries (
    id bigint NOT NULL,
    endpoint_id bigint NOT NULL,
    event_id bigint NOT NULL,
    wallet_id bigint NOT NULL,
    event_type text NOT NULL,
    status text DEFAULT 'pending'::text NOT NULL,
    attempts bigint DEFAULT 0 NOT NULL,
    response_status bigint,
    response_body text,
    error text,
    latency_ms bigint,
    next_attempt_at timestamp with time zone,
    last_attempt_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT webhook_deliveries_status_known CHECK ((status = ANY (ARRAY['pending'::text, 'succeeded'::text, 'failed'::text])))
);

ALTER TABLE public.webhook_deliveries OWNER TO CURRENT_USER;

--
-- Name: TABLE webhook_deliveries; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON TABLE public.webhook_deliveries IS 'One row per event queued for an endpoint: pending until a 2xx (succeeded) or the retry schedule is spent (failed).';

--
-- Name: webhook_deliveries_id_seq; Type: SEQUENCE; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE public.webhook_deliveries ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.webhook_deliveries_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: webhook_endpoints; Type: TABLE; Schema: public; Owner: CURRENT_USER
--

CREATE TABLE public.webhook_endpoints (
    id bigint NOT NULL,
    url text NOT NULL,
    event_types text[] DEFAULT '{}'::text[] NOT NULL,
    wallet_ids bigint[] DEFAULT '{}'::bigint[] NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    status text DEFAULT 'enabled'::text NOT NULL,
    disabled_reason text,
    secret text NOT NULL,
    previous_secret text,
    previous_secret_until timestamp with time zone,
    queued_position bigint NOT NULL,
    queued_id bigint NOT NULL,
    failing_since timestamp with time zone,
    replay_from text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    CONSTRAINT webhook_endpoints_description_length CHECK ((length(description) <= 1000)),
    CONSTRAINT webhook_endpoints_status_known CHECK ((status = ANY (ARRAY['enabled'::text, 'disabled'::text]))),
    CONSTRAINT webhook_endpoints_url_length CHECK ((length(url) <= 2048))
);

ALTER TABLE public.webhook_endpoints OWNER TO CURRENT_USER;

--
-- Name: TABLE webhook_endpoints; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON TABLE public.webhook_endpoints IS 'Where the events feed is delivered; each endpoint reads the feed with its own cursor (queued_position, queued_id).';

--
-- Name: webhook_endpoint_lag; Type: VIEW; Schema: public; Owner: CURRENT_USER
--

CREATE VIEW public.webhook_endpoint_lag AS
 SELECT e.id AS endpoint_id,
    (COALESCE(EXTRACT(epoch FROM (clock_timestamp() - LEAST(( SELECT min(ev.occurred_at) AS min
           FROM (public.webhook_deliveries d
             JOIN public.events ev ON ((ev.id = d.event_id)))
          WHERE ((d.endpoint_id = e.id) AND (d.status = 'pending'::text))), ( SELECT f.occurred_at
           FROM public.events_feed f
          WHERE ((ROW(f."position", f.id) > ROW(e.queued_position, e.queued_id)) AND public.webhook_wants(e.event_types, e.wallet_ids, f.event_type, f.wallet_id))
          ORDER BY f."position", f.id
         LIMIT 1)))), (0)::numeric))::double precision AS lag_seconds
   FROM public.webhook_endpoints e
  WHERE (e.status = 'enabled'::text);

ALTER TABLE public.webhook_endpoint_lag OWNER TO CURRENT_USER;

--
-- Name: VIEW webhook_endpoint_lag; Type: COMMENT; Schema: public; Owner: CURRENT_USER
--

COMMENT ON VIEW public.webhook_endpoint_lag IS 'Each enabled endpoint''s lag: the age in seconds of the oldest event not delivered to it yet (0: caught up).';

--
-- Name: webhook_endpoints_id_seq; Type: SEQUENCE; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE public.webhook_endpoints ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.webhook_endpoints_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: api_keys api_keys_pkey; Type: CONSTRAINT; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_pkey PRIMARY KEY (id);

--
-- Name: api_keys api_keys_secret_hash_key; Type: CONSTRAINT; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_secret_hash_key UNIQUE (secret_hash);

--
-- Name: balance_buckets balance_buckets_pkey; Type: CONSTRAINT; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE ONLY public.balance_buckets
    ADD CONSTRAINT balance_buckets_pkey PRIMARY KEY (wallet_id, width, start);

--
-- Name: balance_changes balance_changes_pkey; Type: CONSTRAINT; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE ONLY public.balance_changes
    ADD CONSTRAINT balance_changes_pkey PRIMARY KEY (id);

--
-- Name: balance_monitors balance_monitors_pkey; Type: CONSTRAINT; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE ONLY public.balance_monitors
    ADD CONSTRAINT balance_monitors_pkey PRIMARY KEY (id);

--
-- Name: currencies currencies_code_scale; Type: CONSTRAINT; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE ONLY public.currencies
    ADD CONSTRAINT currencies_code_scale UNIQUE (code, scale);

--
-- Name: currencies currencies_pkey; Type: CONSTRAINT; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE ONLY public.currencies
    ADD CONSTRAINT currencies_pkey PRIMARY KEY (code);

--
-- Name: event_clock event_clock_pkey; Type: CONSTRAINT; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE ONLY public.event_clock
    ADD CONSTRAINT event_clock_pkey PRIMARY KEY (only_row);

--
-- Name: events events_pkey; Type: CONSTRAINT; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE ONLY public.events
    ADD CONSTRAINT events_pkey PRIMARY KEY (id);

--
-- Name: exchanges exchanges_pkey; Type: CONSTRAINT; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE ONLY public.exchanges
    ADD CONSTRAINT exchanges_pkey PRIMARY KEY (id);

--
-- Name: exchanges exchanges_txid_key; Type: CONSTRAINT; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE ONLY public.exchanges
    ADD CONSTRAINT exchanges_txid_key UNIQUE (txid);

--
-- Name: hold_revisions hold_revisions_pkey; Type: CONSTRAINT; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE ONLY public.hold_revisions
    ADD CONSTRAINT hold_revisions_pkey PRIMARY KEY (id);

--
-- Name: holds holds_pkey; Type: CONSTRAINT; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE ONLY public.holds
    ADD CONSTRAINT holds_pkey PRIMARY KEY (id);

--
-- Name: idempotency_keys idempotency_keys_pkey; Type: CONSTRAINT; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE ONLY public.idempotency_keys
    ADD CONSTRAINT idempotency_keys_pkey PRIMARY KEY (api_key_id, key);

--
-- Name: transaction_revisions transaction_revisions_pkey; Type: CONSTRAINT; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE ONLY public.transaction_revisions
    ADD CONSTRAINT transaction_revisions_pkey PRIMARY KEY (id);

--
-- Name: transactions transactions_pkey; Type: CONSTRAINT; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE ONLY public.transactions
    ADD CONSTRAINT transactions_pkey PRIMARY KEY (id);

--
-- Name: transactions transactions_txid_key; Type: CONSTRAINT; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE ONLY public.transactions
    ADD CONSTRAINT transactions_txid_key UNIQUE (txid);

--
-- Name: transfers transfers_pkey; Type: CONSTRAINT; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE ONLY public.transfers
    ADD CONSTRAINT transfers_pkey PRIMARY KEY (id);

--
-- Name: transfers transfers_txid_key; Type: CONSTRAINT; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE ONLY public.transfers
    ADD CONSTRAINT transfers_txid_key UNIQUE (txid);

--
-- Name: wallet_revisions wallet_revisions_pkey; Type: CONSTRAINT; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE ONLY public.wallet_revisions
    ADD CONSTRAINT wallet_revisions_pkey PRIMARY KEY (id);

--
-- Name: wallets wallets_pkey; Type: CONSTRAINT; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE ONLY public.wallets
    ADD CONSTRAINT wallets_pkey PRIMARY KEY (id);

--
-- Name: webhook_deliveries webhook_deliveries_pkey; Type: CONSTRAINT; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE ONLY public.webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (id);

--
-- Name: webhook_endpoints webhook_endpoints_pkey; Type: CONSTRAINT; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE ONLY public.webhook_endpoints
    ADD CONSTRAINT webhook_endpoints_pkey PRIMARY KEY (id);

--
-- Name: api_keys_name_in_use; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE UNIQUE INDEX api_keys_name_in_use ON public.api_keys USING btree (name) WHERE (revoked_at IS NULL);

--
-- Name: balance_changes_wallet_id_id_idx; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE INDEX balance_changes_wallet_id_id_idx ON public.balance_changes USING btree (wallet_id, id);

--
-- Name: balance_changes_wallet_time_idx; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE INDEX balance_changes_wallet_time_idx ON public.balance_changes USING btree (wallet_id, changed_at, id);

--
-- Name: balance_monitors_threshold; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE INDEX balance_monitors_threshold ON public.balance_monitors USING btree (wallet_id, field, turns_when, amount);

--
-- Name: balance_monitors_wallet; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE INDEX balance_monitors_wallet ON public.balance_monitors USING btree (wallet_id, id);

--
-- Name: currencies_liquidity_wallet_id; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE INDEX currencies_liquidity_wallet_id ON public.currencies USING btree (liquidity_wallet_id) WHERE (liquidity_wallet_id IS NOT NULL);

--
-- Name: events_feed_order; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE UNIQUE INDEX events_feed_order ON public.events USING btree ("position", id);

--
-- Name: events_occurred_at; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE INDEX events_occurred_at ON public.events USING btree (occurred_at);

--
-- Name: events_wallet_sequence; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE UNIQUE INDEX events_wallet_sequence ON public.events USING btree (wallet_id, wallet_sequence);

--
-- Name: exchanges_created_at_id; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE INDEX exchanges_created_at_id ON public.exchanges USING btree (created_at, id);

--
-- Name: exchanges_destination_id; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE INDEX exchanges_destination_id ON public.exchanges USING btree (destination_wallet_id, id);

--
-- Name: exchanges_metadata_idx; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE INDEX exchanges_metadata_idx ON public.exchanges USING gin (metadata);

--
-- Name: exchanges_source_id; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE INDEX exchanges_source_id ON public.exchanges USING btree (source_wallet_id, id);

--
-- Name: hold_revisions_hold_id_idx; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE INDEX hold_revisions_hold_id_idx ON public.hold_revisions USING btree (hold_id, id);

--
-- Name: holds_metadata_idx; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE INDEX holds_metadata_idx ON public.holds USING gin (metadata);

--
-- Name: holds_pending_expiry_idx; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE INDEX holds_pending_expiry_idx ON public.holds USING btree (wallet_id, expires_at) WHERE ((status = 'pending'::text) AND (expires_at IS NOT NULL));

--
-- Name: holds_wallet_expiry_idx; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE INDEX holds_wallet_expiry_idx ON public.holds USING btree (wallet_id, expires_at) WHERE (expires_at IS NOT NULL);

--
-- Name: holds_wallet_id_id_idx; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE INDEX holds_wallet_id_id_idx ON public.holds USING btree (wallet_id, id);

--
-- Name: idempotency_keys_expires_at_idx; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE INDEX idempotency_keys_expires_at_idx ON public.idempotency_keys USING btree (expires_at);

--
-- Name: transaction_revisions_transaction_id_idx; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE INDEX transaction_revisions_transaction_id_idx ON public.transaction_revisions USING btree (transaction_id, id);

--
-- Name: transactions_metadata_idx; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE INDEX transactions_metadata_idx ON public.transactions USING gin (metadata);

--
-- Name: transactions_transfer_id; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE INDEX transactions_transfer_id ON public.transactions USING btree (transfer_id) WHERE (transfer_id IS NOT NULL);

--
-- Name: transactions_wallet_id_id_idx; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE INDEX transactions_wallet_id_id_idx ON public.transactions USING btree (wallet_id, id);

--
-- Name: transfers_created_at_id; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE INDEX transfers_created_at_id ON public.transfers USING btree (created_at, id);

--
-- Name: transfers_destination_id; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE INDEX transfers_destination_id ON public.transfers USING btree (destination_wallet_id, id);

--
-- Name: transfers_exchange_id; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE INDEX transfers_exchange_id ON public.transfers USING btree (exchange_id) WHERE (exchange_id IS NOT NULL);

--
-- Name: transfers_metadata_idx; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE INDEX transfers_metadata_idx ON public.transfers USING gin (metadata);

--
-- Name: transfers_reverses_id; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE INDEX transfers_reverses_id ON public.transfers USING btree (reverses_id) WHERE (reverses_id IS NOT NULL);

--
-- Name: transfers_source_id; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE INDEX transfers_source_id ON public.transfers USING btree (source_wallet_id, id);

--
-- Name: wallet_revisions_credit_limit; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE INDEX wallet_revisions_credit_limit ON public.wallet_revisions USING btree (wallet_id, revised_at, id) WHERE (old_credit_limit IS DISTINCT FROM new_credit_limit);

--
-- Name: wallet_revisions_wallet_id_idx; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE INDEX wallet_revisions_wallet_id_idx ON public.wallet_revisions USING btree (wallet_id, id);

--
-- Name: wallets_currency_id; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE INDEX wallets_currency_id ON public.wallets USING btree (currency, id);

--
-- Name: wallets_metadata_idx; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE INDEX wallets_metadata_idx ON public.wallets USING gin (metadata);

--
-- Name: webhook_deliveries_created_at; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE INDEX webhook_deliveries_created_at ON public.webhook_deliveries USING btree (created_at);

--
-- Name: webhook_deliveries_of_endpoint; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE INDEX webhook_deliveries_of_endpoint ON public.webhook_deliveries USING btree (endpoint_id, id);

--
-- Name: webhook_deliveries_of_event; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE INDEX webhook_deliveries_of_event ON public.webhook_deliveries USING btree (event_id);

--
-- Name: webhook_deliveries_pending; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE INDEX webhook_deliveries_pending ON public.webhook_deliveries USING btree (endpoint_id, wallet_id, id) WHERE (status = 'pending'::text);

--
-- Name: webhook_endpoints_metadata_idx; Type: INDEX; Schema: public; Owner: CURRENT_USER
--

CREATE INDEX webhook_endpoints_metadata_idx ON public.webhook_endpoints USING gin (metadata);

--
-- Name: api_keys api_keys_revocation_final; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER api_keys_revocation_final BEFORE INSERT OR UPDATE OF revoked_at ON public.api_keys FOR EACH ROW EXECUTE FUNCTION public.api_keys_revocation_final();

ALTER TABLE public.api_keys ENABLE ALWAYS TRIGGER api_keys_revocation_final;

--
-- Name: balance_changes balance_changes_append_only; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER balance_changes_append_only BEFORE DELETE OR UPDATE ON public.balance_changes FOR EACH STATEMENT EXECUTE FUNCTION public.ledger_refuse_rewrite();

ALTER TABLE public.balance_changes ENABLE ALWAYS TRIGGER balance_changes_append_only;

--
-- Name: balance_changes balance_changes_buckets; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER balance_changes_buckets AFTER INSERT ON public.balance_changes REFERENCING NEW TABLE AS new_changes FOR EACH STATEMENT EXECUTE FUNCTION public.balance_changes_buckets();

ALTER TABLE public.balance_changes ENABLE ALWAYS TRIGGER balance_changes_buckets;

--
-- Name: balance_changes balance_changes_no_truncate; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER balance_changes_no_truncate BEFORE TRUNCATE ON public.balance_changes FOR EACH STATEMENT EXECUTE FUNCTION public.ledger_refuse_rewrite();

ALTER TABLE public.balance_changes ENABLE ALWAYS TRIGGER balance_changes_no_truncate;

--
-- Name: balance_changes balance_changes_z_events; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER balance_changes_z_events AFTER INSERT ON public.balance_changes REFERENCING NEW TABLE AS new_changes FOR EACH STATEMENT EXECUTE FUNCTION public.balance_changes_events();

ALTER TABLE public.balance_changes ENABLE ALWAYS TRIGGER balance_changes_z_events;

--
-- Name: balance_monitors balance_monitors_state; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER balance_monitors_state BEFORE INSERT OR UPDATE ON public.balance_monitors FOR EACH ROW EXECUTE FUNCTION public.balance_monitors_state();

ALTER TABLE public.balance_monitors ENABLE ALWAYS TRIGGER balance_monitors_state;

--
-- Name: balance_monitors balance_monitors_z_events_insert; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER balance_monitors_z_events_insert AFTER INSERT ON public.balance_monitors FOR EACH ROW WHEN ((new.state = 'triggered'::text)) EXECUTE FUNCTION public.balance_monitors_events();

ALTER TABLE public.balance_monitors ENABLE ALWAYS TRIGGER balance_monitors_z_events_insert;

--
-- Name: balance_monitors balance_monitors_z_events_update; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER balance_monitors_z_events_update AFTER UPDATE ON public.balance_monitors FOR EACH ROW WHEN ((new.state IS DISTINCT FROM old.state)) EXECUTE FUNCTION public.balance_monitors_events();

ALTER TABLE public.balance_monitors ENABLE ALWAYS TRIGGER balance_monitors_z_events_update;

--
-- Name: currencies currencies_guard; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER currencies_guard BEFORE UPDATE ON public.currencies FOR EACH ROW EXECUTE FUNCTION public.currencies_guard();

ALTER TABLE public.currencies ENABLE ALWAYS TRIGGER currencies_guard;

--
-- Name: currencies currencies_keep_default; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER currencies_keep_default BEFORE DELETE ON public.currencies FOR EACH ROW EXECUTE FUNCTION public.currencies_keep_default();

--
-- Name: currencies currencies_liquidity; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER currencies_liquidity BEFORE INSERT OR UPDATE OF liquidity_wallet_id ON public.currencies FOR EACH ROW WHEN ((new.liquidity_wallet_id IS NOT NULL)) EXECUTE FUNCTION public.currencies_liquidity();

ALTER TABLE public.currencies ENABLE ALWAYS TRIGGER currencies_liquidity;

--
-- Name: events events_append_only; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER events_append_only BEFORE UPDATE ON public.events FOR EACH STATEMENT EXECUTE FUNCTION public.events_refuse_rewrite();

ALTER TABLE public.events ENABLE ALWAYS TRIGGER events_append_only;

--
-- Name: events events_delete_by_retention; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER events_delete_by_retention BEFORE DELETE ON public.events FOR EACH STATEMENT WHEN ((CURRENT_USER <> 'wallet_ledger'::name)) EXECUTE FUNCTION public.events_refuse_rewrite();

ALTER TABLE public.events ENABLE ALWAYS TRIGGER events_delete_by_retention;

--
-- Name: events events_no_truncate; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON public.events FOR EACH STATEMENT EXECUTE FUNCTION public.events_refuse_rewrite();

ALTER TABLE public.events ENABLE ALWAYS TRIGGER events_no_truncate;

--
-- Name: exchanges exchanges_guard; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER exchanges_guard BEFORE UPDATE ON public.exchanges FOR EACH ROW EXECUTE FUNCTION public.exchanges_guard();

ALTER TABLE public.exchanges ENABLE ALWAYS TRIGGER exchanges_guard;

--
-- Name: exchanges exchanges_never_deleted; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER exchanges_never_deleted BEFORE DELETE ON public.exchanges FOR EACH ROW EXECUTE FUNCTION public.exchanges_never_deleted();

ALTER TABLE public.exchanges ENABLE ALWAYS TRIGGER exchanges_never_deleted;

--
-- Name: exchanges exchanges_never_truncated; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER exchanges_never_truncated BEFORE TRUNCATE ON public.exchanges FOR EACH STATEMENT EXECUTE FUNCTION public.exchanges_never_deleted();

ALTER TABLE public.exchanges ENABLE ALWAYS TRIGGER exchanges_never_truncated;

--
-- Name: exchanges exchanges_terms; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER exchanges_terms BEFORE INSERT ON public.exchanges FOR EACH ROW EXECUTE FUNCTION public.exchanges_terms();

ALTER TABLE public.exchanges ENABLE ALWAYS TRIGGER exchanges_terms;

--
-- Name: exchanges exchanges_transfers; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER exchanges_transfers AFTER INSERT ON public.exchanges REFERENCING NEW TABLE AS new_exchanges FOR EACH STATEMENT EXECUTE FUNCTION public.exchanges_after_insert();

ALTER TABLE public.exchanges ENABLE ALWAYS TRIGGER exchanges_transfers;

--
-- Name: exchanges exchanges_z_events_insert; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER exchanges_z_events_insert AFTER INSERT ON public.exchanges REFERENCING NEW TABLE AS new_exchanges FOR EACH STATEMENT EXECUTE FUNCTION public.exchanges_events();

ALTER TABLE public.exchanges ENABLE ALWAYS TRIGGER exchanges_z_events_insert;

--
-- Name: exchanges exchanges_z_events_update; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER exchanges_z_events_update AFTER UPDATE ON public.exchanges REFERENCING NEW TABLE AS new_exchanges FOR EACH STATEMENT EXECUTE FUNCTION public.exchanges_events();

ALTER TABLE public.exchanges ENABLE ALWAYS TRIGGER exchanges_z_events_update;

--
-- Name: hold_revisions hold_revisions_append_only; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER hold_revisions_append_only BEFORE DELETE OR UPDATE ON public.hold_revisions FOR EACH STATEMENT EXECUTE FUNCTION public.ledger_refuse_rewrite();

ALTER TABLE public.hold_revisions ENABLE ALWAYS TRIGGER hold_revisions_append_only;

--
-- Name: hold_revisions hold_revisions_no_truncate; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER hold_revisions_no_truncate BEFORE TRUNCATE ON public.hold_revisions FOR EACH STATEMENT EXECUTE FUNCTION public.ledger_refuse_rewrite();

ALTER TABLE public.hold_revisions ENABLE ALWAYS TRIGGER hold_revisions_no_truncate;

--
-- Name: holds holds_capture_booked; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE CONSTRAINT TRIGGER holds_capture_booked AFTER UPDATE ON public.holds DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN ((new.status = 'captured'::text)) EXECUTE FUNCTION public.holds_check_capture_booked();

ALTER TABLE public.holds ENABLE ALWAYS TRIGGER holds_capture_booked;

--
-- Name: holds holds_held_delete; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER holds_held_delete AFTER DELETE ON public.holds REFERENCING OLD TABLE AS deleted_rows FOR EACH STATEMENT EXECUTE FUNCTION public.holds_after_delete();

ALTER TABLE public.holds ENABLE ALWAYS TRIGGER holds_held_delete;

--
-- Name: holds holds_held_insert; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER holds_held_insert AFTER INSERT ON public.holds REFERENCING NEW TABLE AS inserted_rows FOR EACH STATEMENT EXECUTE FUNCTION public.holds_after_insert();

ALTER TABLE public.holds ENABLE ALWAYS TRIGGER holds_held_insert;

--
-- Name: holds holds_held_truncate; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER holds_held_truncate BEFORE TRUNCATE ON public.holds FOR EACH STATEMENT EXECUTE FUNCTION public.holds_before_truncate();

ALTER TABLE public.holds ENABLE ALWAYS TRIGGER holds_held_truncate;

--
-- Name: holds holds_held_update; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER holds_held_update AFTER UPDATE ON public.holds REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.holds_after_update();

ALTER TABLE public.holds ENABLE ALWAYS TRIGGER holds_held_update;

--
-- Name: holds holds_state_machine; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER holds_state_machine BEFORE INSERT OR UPDATE ON public.holds FOR EACH ROW EXECUTE FUNCTION public.holds_state_machine();

ALTER TABLE public.holds ENABLE ALWAYS TRIGGER holds_state_machine;

--
-- Name: holds holds_z_events_delete; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER holds_z_events_delete AFTER DELETE ON public.holds REFERENCING OLD TABLE AS old_holds FOR EACH STATEMENT EXECUTE FUNCTION public.holds_events_delete();

ALTER TABLE public.holds ENABLE ALWAYS TRIGGER holds_z_events_delete;

--
-- Name: holds holds_z_events_insert; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER holds_z_events_insert AFTER INSERT ON public.holds REFERENCING NEW TABLE AS new_holds FOR EACH STATEMENT EXECUTE FUNCTION public.holds_events_insert();

ALTER TABLE public.holds ENABLE ALWAYS TRIGGER holds_z_events_insert;

--
-- Name: holds holds_z_events_truncate; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER holds_z_events_truncate BEFORE TRUNCATE ON public.holds FOR EACH STATEMENT EXECUTE FUNCTION public.holds_events_truncate();

ALTER TABLE public.holds ENABLE ALWAYS TRIGGER holds_z_events_truncate;

--
-- Name: holds holds_z_events_update; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER holds_z_events_update AFTER UPDATE ON public.holds REFERENCING OLD TABLE AS old_holds NEW TABLE AS new_holds FOR EACH STATEMENT EXECUTE FUNCTION public.holds_events_update();

ALTER TABLE public.holds ENABLE ALWAYS TRIGGER holds_z_events_update;

--
-- Name: idempotency_keys idempotency_keys_written_once; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER idempotency_keys_written_once BEFORE DELETE OR UPDATE ON public.idempotency_keys FOR EACH ROW EXECUTE FUNCTION public.idempotency_keys_written_once();

ALTER TABLE public.idempotency_keys ENABLE ALWAYS TRIGGER idempotency_keys_written_once;

--
-- Name: transaction_revisions transaction_revisions_append_only; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER transaction_revisions_append_only BEFORE DELETE OR UPDATE ON public.transaction_revisions FOR EACH STATEMENT EXECUTE FUNCTION public.ledger_refuse_rewrite();

ALTER TABLE public.transaction_revisions ENABLE ALWAYS TRIGGER transaction_revisions_append_only;

--
-- Name: transaction_revisions transaction_revisions_no_truncate; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER transaction_revisions_no_truncate BEFORE TRUNCATE ON public.transaction_revisions FOR EACH STATEMENT EXECUTE FUNCTION public.ledger_refuse_rewrite();

ALTER TABLE public.transaction_revisions ENABLE ALWAYS TRIGGER transaction_revisions_no_truncate;

--
-- Name: transactions transactions_balance_delete; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER transactions_balance_delete AFTER DELETE ON public.transactions REFERENCING OLD TABLE AS deleted_rows FOR EACH STATEMENT EXECUTE FUNCTION public.transactions_after_delete();

ALTER TABLE public.transactions ENABLE ALWAYS TRIGGER transactions_balance_delete;

--
-- Name: transactions transactions_balance_insert; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER transactions_balance_insert AFTER INSERT ON public.transactions REFERENCING NEW TABLE AS inserted_rows FOR EACH STATEMENT EXECUTE FUNCTION public.transactions_after_insert();

ALTER TABLE public.transactions ENABLE ALWAYS TRIGGER transactions_balance_insert;

--
-- Name: transactions transactions_balance_truncate; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER transactions_balance_truncate BEFORE TRUNCATE ON public.transactions FOR EACH STATEMENT EXECUTE FUNCTION public.transactions_before_truncate();

ALTER TABLE public.transactions ENABLE ALWAYS TRIGGER transactions_balance_truncate;

--
-- Name: transactions transactions_balance_update; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER transactions_balance_update AFTER UPDATE ON public.transactions REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.transactions_after_update();

ALTER TABLE public.transactions ENABLE ALWAYS TRIGGER transactions_balance_update;

--
-- Name: transactions transactions_z_events_delete; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER transactions_z_events_delete AFTER DELETE ON public.transactions REFERENCING OLD TABLE AS old_transactions FOR EACH STATEMENT EXECUTE FUNCTION public.transactions_events_delete();

ALTER TABLE public.transactions ENABLE ALWAYS TRIGGER transactions_z_events_delete;

--
-- Name: transactions transactions_z_events_insert; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER transactions_z_events_insert AFTER INSERT ON public.transactions REFERENCING NEW TABLE AS new_transactions FOR EACH STATEMENT EXECUTE FUNCTION public.transactions_events_insert();

ALTER TABLE public.transactions ENABLE ALWAYS TRIGGER transactions_z_events_insert;

--
-- Name: transactions transactions_z_events_truncate; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER transactions_z_events_truncate BEFORE TRUNCATE ON public.transactions FOR EACH STATEMENT EXECUTE FUNCTION public.transactions_events_truncate();

ALTER TABLE public.transactions ENABLE ALWAYS TRIGGER transactions_z_events_truncate;

--
-- Name: transactions transactions_z_events_update; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER transactions_z_events_update AFTER UPDATE ON public.transactions REFERENCING OLD TABLE AS old_transactions NEW TABLE AS new_transactions FOR EACH STATEMENT EXECUTE FUNCTION public.transactions_events_update();

ALTER TABLE public.transactions ENABLE ALWAYS TRIGGER transactions_z_events_update;

--
-- Name: transfers transfers_guard; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER transfers_guard BEFORE UPDATE ON public.transfers FOR EACH ROW EXECUTE FUNCTION public.transfers_guard();

ALTER TABLE public.transfers ENABLE ALWAYS TRIGGER transfers_guard;

--
-- Name: transfers transfers_legs; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER transfers_legs AFTER INSERT ON public.transfers REFERENCING NEW TABLE AS new_transfers FOR EACH STATEMENT EXECUTE FUNCTION public.transfers_after_insert();

ALTER TABLE public.transfers ENABLE ALWAYS TRIGGER transfers_legs;

--
-- Name: transfers transfers_never_deleted; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER transfers_never_deleted BEFORE DELETE ON public.transfers FOR EACH ROW EXECUTE FUNCTION public.transfers_never_deleted();

ALTER TABLE public.transfers ENABLE ALWAYS TRIGGER transfers_never_deleted;

--
-- Name: transfers transfers_never_truncated; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER transfers_never_truncated BEFORE TRUNCATE ON public.transfers FOR EACH STATEMENT EXECUTE FUNCTION public.transfers_never_deleted();

ALTER TABLE public.transfers ENABLE ALWAYS TRIGGER transfers_never_truncated;

--
-- Name: transfers transfers_z_events_insert; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER transfers_z_events_insert AFTER INSERT ON public.transfers REFERENCING NEW TABLE AS new_transfers FOR EACH STATEMENT EXECUTE FUNCTION public.transfers_events();

ALTER TABLE public.transfers ENABLE ALWAYS TRIGGER transfers_z_events_insert;

--
-- Name: transfers transfers_z_events_update; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER transfers_z_events_update AFTER UPDATE ON public.transfers REFERENCING NEW TABLE AS new_transfers FOR EACH STATEMENT EXECUTE FUNCTION public.transfers_events();

ALTER TABLE public.transfers ENABLE ALWAYS TRIGGER transfers_z_events_update;

--
-- Name: wallet_revisions wallet_revisions_append_only; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER wallet_revisions_append_only BEFORE DELETE OR UPDATE ON public.wallet_revisions FOR EACH STATEMENT EXECUTE FUNCTION public.ledger_refuse_rewrite();

ALTER TABLE public.wallet_revisions ENABLE ALWAYS TRIGGER wallet_revisions_append_only;

--
-- Name: wallet_revisions wallet_revisions_no_truncate; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER wallet_revisions_no_truncate BEFORE TRUNCATE ON public.wallet_revisions FOR EACH STATEMENT EXECUTE FUNCTION public.ledger_refuse_rewrite();

ALTER TABLE public.wallet_revisions ENABLE ALWAYS TRIGGER wallet_revisions_no_truncate;

--
-- Name: wallets wallets_balance_guard_insert; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER wallets_balance_guard_insert BEFORE INSERT ON public.wallets FOR EACH ROW WHEN (((new.balance <> (0)::numeric) OR (new.held <> (0)::numeric) OR (new.held_expires_at IS NOT NULL))) EXECUTE FUNCTION public.wallets_refuse_balance_write();

ALTER TABLE public.wallets ENABLE ALWAYS TRIGGER wallets_balance_guard_insert;

--
-- Name: wallets wallets_balance_guard_update; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER wallets_balance_guard_update BEFORE UPDATE OF balance, held, held_expires_at ON public.wallets FOR EACH ROW WHEN (((((new.balance IS DISTINCT FROM old.balance) OR (new.held IS DISTINCT FROM old.held)) OR (new.held_expires_at IS DISTINCT FROM old.held_expires_at)) AND (CURRENT_USER <> 'wallet_ledger'::name))) EXECUTE FUNCTION public.wallets_refuse_balance_write();

ALTER TABLE public.wallets ENABLE ALWAYS TRIGGER wallets_balance_guard_update;

--
-- Name: wallets wallets_currency; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER wallets_currency BEFORE INSERT ON public.wallets FOR EACH ROW EXECUTE FUNCTION public.wallets_currency();

ALTER TABLE public.wallets ENABLE ALWAYS TRIGGER wallets_currency;

--
-- Name: wallets wallets_currency_fixed; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER wallets_currency_fixed BEFORE UPDATE OF currency, scale ON public.wallets FOR EACH ROW WHEN (((new.currency IS DISTINCT FROM old.currency) OR (new.scale IS DISTINCT FROM old.scale))) EXECUTE FUNCTION public.wallets_currency();

ALTER TABLE public.wallets ENABLE ALWAYS TRIGGER wallets_currency_fixed;

--
-- Name: wallets wallets_label_touch; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER wallets_label_touch BEFORE UPDATE OF label, metadata, credit_limit ON public.wallets FOR EACH ROW WHEN ((((new.label IS DISTINCT FROM old.label) OR (new.metadata IS DISTINCT FROM old.metadata)) OR (new.credit_limit IS DISTINCT FROM old.credit_limit))) EXECUTE FUNCTION public.wallets_touch_updated_at();

ALTER TABLE public.wallets ENABLE ALWAYS TRIGGER wallets_label_touch;

--
-- Name: wallets wallets_limit_insert; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER wallets_limit_insert BEFORE INSERT ON public.wallets FOR EACH ROW WHEN ((new.credit_limit <> (0)::numeric)) EXECUTE FUNCTION public.wallets_credit_limit();

ALTER TABLE public.wallets ENABLE ALWAYS TRIGGER wallets_limit_insert;

--
-- Name: wallets wallets_limit_update; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER wallets_limit_update BEFORE UPDATE OF credit_limit ON public.wallets FOR EACH ROW WHEN ((new.credit_limit IS DISTINCT FROM old.credit_limit)) EXECUTE FUNCTION public.wallets_credit_limit();

ALTER TABLE public.wallets ENABLE ALWAYS TRIGGER wallets_limit_update;

--
-- Name: wallets wallets_revise; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER wallets_revise AFTER UPDATE OF label, metadata, credit_limit ON public.wallets FOR EACH ROW WHEN ((((old.label IS DISTINCT FROM new.label) OR (old.metadata IS DISTINCT FROM new.metadata)) OR (old.credit_limit IS DISTINCT FROM new.credit_limit))) EXECUTE FUNCTION public.wallets_revise();

ALTER TABLE public.wallets ENABLE ALWAYS TRIGGER wallets_revise;

--
-- Name: wallets wallets_z_events_delete; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER wallets_z_events_delete AFTER DELETE ON public.wallets REFERENCING OLD TABLE AS old_wallets FOR EACH STATEMENT EXECUTE FUNCTION public.wallets_events_delete();

ALTER TABLE public.wallets ENABLE ALWAYS TRIGGER wallets_z_events_delete;

--
-- Name: wallets wallets_z_events_insert; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER wallets_z_events_insert AFTER INSERT ON public.wallets REFERENCING NEW TABLE AS new_wallets FOR EACH STATEMENT EXECUTE FUNCTION public.wallets_events_insert();

ALTER TABLE public.wallets ENABLE ALWAYS TRIGGER wallets_z_events_insert;

--
-- Name: wallets wallets_z_events_update; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER wallets_z_events_update AFTER UPDATE OF label, metadata, credit_limit ON public.wallets FOR EACH ROW WHEN ((((old.label IS DISTINCT FROM new.label) OR (old.metadata IS DISTINCT FROM new.metadata)) OR (old.credit_limit IS DISTINCT FROM new.credit_limit))) EXECUTE FUNCTION public.wallets_events_update();

ALTER TABLE public.wallets ENABLE ALWAYS TRIGGER wallets_z_events_update;

--
-- Name: webhook_endpoints webhook_endpoints_start; Type: TRIGGER; Schema: public; Owner: CURRENT_USER
--

CREATE TRIGGER webhook_endpoints_start BEFORE INSERT ON public.webhook_endpoints FOR EACH ROW EXECUTE FUNCTION public.webhook_endpoints_start();

--
-- Name: balance_changes balance_changes_actor_key_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE ONLY public.balance_changes
    ADD CONSTRAINT balance_changes_actor_key_id_fkey FOREIGN KEY (actor_key_id) REFERENCES public.api_keys(id);

--
-- Name: balance_changes balance_changes_wallet_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE ONLY public.balance_changes
    ADD CONSTRAINT balance_changes_wallet_id_fkey FOREIGN KEY (wallet_id) REFERENCES public.wallets(id) ON DELETE RESTRICT;

--
-- Name: balance_monitors balance_monitors_wallet_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE ONLY public.balance_monitors
    ADD CONSTRAINT balance_monitors_wallet_id_fkey FOREIGN KEY (wallet_id) REFERENCES public.wallets(id) ON DELETE CASCADE;

--
-- Name: currencies currencies_liquidity_wallet_fkey; Type: FK CONSTRAINT; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE ONLY public.currencies
    ADD CONSTRAINT currencies_liquidity_wallet_fkey FOREIGN KEY (liquidity_wallet_id) REFERENCES public.wallets(id);

--
-- Name: hold_revisions hold_revisions_actor_key_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE ONLY public.hold_revisions
    ADD CONSTRAINT hold_revisions_actor_key_id_fkey FOREIGN KEY (actor_key_id) REFERENCES public.api_keys(id);

--
-- Name: holds holds_wallet_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE ONLY public.holds
    ADD CONSTRAINT holds_wallet_id_fkey FOREIGN KEY (wallet_id) REFERENCES public.wallets(id) ON DELETE RESTRICT;

--
-- Name: transaction_revisions transaction_revisions_actor_key_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE ONLY public.transaction_revisions
    ADD CONSTRAINT transaction_revisions_actor_key_id_fkey FOREIGN KEY (actor_key_id) REFERENCES public.api_keys(id);

--
-- Name: transactions transactions_wallet_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE ONLY public.transactions
    ADD CONSTRAINT transactions_wallet_id_fkey FOREIGN KEY (wallet_id) REFERENCES public.wallets(id) ON DELETE RESTRICT;

--
-- Name: wallet_revisions wallet_revisions_actor_key_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE ONLY public.wallet_revisions
    ADD CONSTRAINT wallet_revisions_actor_key_id_fkey FOREIGN KEY (actor_key_id) REFERENCES public.api_keys(id);

--
-- Name: wallets wallets_currency_fkey; Type: FK CONSTRAINT; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE ONLY public.wallets
    ADD CONSTRAINT wallets_currency_fkey FOREIGN KEY (currency, scale) REFERENCES public.currencies(code, scale) ON UPDATE RESTRICT ON DELETE RESTRICT;

--
-- Name: webhook_deliveries webhook_deliveries_endpoint_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE ONLY public.webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_endpoint_id_fkey FOREIGN KEY (endpoint_id) REFERENCES public.webhook_endpoints(id) ON DELETE CASCADE;

--
-- Name: balance_buckets; Type: ROW SECURITY; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE public.balance_buckets ENABLE ROW LEVEL SECURITY;

--
-- Name: balance_buckets balance_buckets_visible; Type: POLICY; Schema: public; Owner: CURRENT_USER
--

CREATE POLICY balance_buckets_visible ON public.balance_buckets USING (((( SELECT public.wallet_api_wallets() AS wallet_api_wallets) IS NULL) OR (wallet_id = ANY (( SELECT public.wallet_api_wallets() AS wallet_api_wallets)::bigint[])))) WITH CHECK (((( SELECT public.wallet_api_wallets() AS wallet_api_wallets) IS NULL) OR (wallet_id = ANY (( SELECT public.wallet_api_wallets() AS wallet_api_wallets)::bigint[]))));

--
-- Name: balance_changes; Type: ROW SECURITY; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE public.balance_changes ENABLE ROW LEVEL SECURITY;

--
-- Name: balance_changes balance_changes_visible; Type: POLICY; Schema: public; Owner: CURRENT_USER
--

CREATE POLICY balance_changes_visible ON public.balance_changes USING (((( SELECT public.wallet_api_wallets() AS wallet_api_wallets) IS NULL) OR (wallet_id = ANY (( SELECT public.wallet_api_wallets() AS wallet_api_wallets)::bigint[])))) WITH CHECK (((( SELECT public.wallet_api_wallets() AS wallet_api_wallets) IS NULL) OR (wallet_id = ANY (( SELECT public.wallet_api_wallets() AS wallet_api_wallets)::bigint[]))));

--
-- Name: balance_monitors; Type: ROW SECURITY; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE public.balance_monitors ENABLE ROW LEVEL SECURITY;

--
-- Name: balance_monitors balance_monitors_visible; Type: POLICY; Schema: public; Owner: CURRENT_USER
--

CREATE POLICY balance_monitors_visible ON public.balance_monitors USING (((( SELECT public.wallet_api_wallets() AS wallet_api_wallets) IS NULL) OR (wallet_id = ANY (( SELECT public.wallet_api_wallets() AS wallet_api_wallets)::bigint[])))) WITH CHECK (((( SELECT public.wallet_api_wallets() AS wallet_api_wallets) IS NULL) OR (wallet_id = ANY (( SELECT public.wallet_api_wallets() AS wallet_api_wallets)::bigint[]))));

--
-- Name: events; Type: ROW SECURITY; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE public.events ENABLE ROW LEVEL SECURITY;

--
-- Name: events events_visible; Type: POLICY; Schema: public; Owner: CURRENT_USER
--

CREATE POLICY events_visible ON public.events USING (((( SELECT public.wallet_api_wallets() AS wallet_api_wallets) IS NULL) OR (wallet_id = ANY (( SELECT public.wallet_api_wallets() AS wallet_api_wallets)::bigint[])))) WITH CHECK (((( SELECT public.wallet_api_wallets() AS wallet_api_wallets) IS NULL) OR (wallet_id = ANY (( SELECT public.wallet_api_wallets() AS wallet_api_wallets)::bigint[]))));

--
-- Name: exchanges; Type: ROW SECURITY; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE public.exchanges ENABLE ROW LEVEL SECURITY;

--
-- Name: exchanges exchanges_visible; Type: POLICY; Schema: public; Owner: CURRENT_USER
--

CREATE POLICY exchanges_visible ON public.exchanges USING (((( SELECT public.wallet_api_wallets() AS wallet_api_wallets) IS NULL) OR (source_wallet_id = ANY (( SELECT public.wallet_api_wallets() AS wallet_api_wallets)::bigint[])) OR (destination_wallet_id = ANY (( SELECT public.wallet_api_wallets() AS wallet_api_wallets)::bigint[])))) WITH CHECK (((( SELECT public.wallet_api_wallets() AS wallet_api_wallets) IS NULL) OR ((source_wallet_id = ANY (( SELECT public.wallet_api_wallets() AS wallet_api_wallets)::bigint[])) AND (destination_wallet_id = ANY (( SELECT public.wallet_api_wallets() AS wallet_api_wallets)::bigint[])))));

--
-- Name: holds; Type: ROW SECURITY; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE public.holds ENABLE ROW LEVEL SECURITY;

--
-- Name: holds holds_visible; Type: POLICY; Schema: public; Owner: CURRENT_USER
--

CREATE POLICY holds_visible ON public.holds USING (((( SELECT public.wallet_api_wallets() AS wallet_api_wallets) IS NULL) OR (wallet_id = ANY (( SELECT public.wallet_api_wallets() AS wallet_api_wallets)::bigint[])))) WITH CHECK (((( SELECT public.wallet_api_wallets() AS wallet_api_wallets) IS NULL) OR (wallet_id = ANY (( SELECT public.wallet_api_wallets() AS wallet_api_wallets)::bigint[]))));

--
-- Name: transactions; Type: ROW SECURITY; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE public.transactions ENABLE ROW LEVEL SECURITY;

--
-- Name: transactions transactions_visible; Type: POLICY; Schema: public; Owner: CURRENT_USER
--

CREATE POLICY transactions_visible ON public.transactions USING (((( SELECT public.wallet_api_wallets() AS wallet_api_wallets) IS NULL) OR (wallet_id = ANY (( SELECT public.wallet_api_wallets() AS wallet_api_wallets)::bigint[])))) WITH CHECK (((( SELECT public.wallet_api_wallets() AS wallet_api_wallets) IS NULL) OR (wallet_id = ANY (( SELECT public.wallet_api_wallets() AS wallet_api_wallets)::bigint[]))));

--
-- Name: transfers; Type: ROW SECURITY; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE public.transfers ENABLE ROW LEVEL SECURITY;

--
-- Name: transfers transfers_visible; Type: POLICY; Schema: public; Owner: CURRENT_USER
--

CREATE POLICY transfers_visible ON public.transfers USING (((( SELECT public.wallet_api_wallets() AS wallet_api_wallets) IS NULL) OR (source_wallet_id = ANY (( SELECT public.wallet_api_wallets() AS wallet_api_wallets)::bigint[])) OR (destination_wallet_id = ANY (( SELECT public.wallet_api_wallets() AS wallet_api_wallets)::bigint[])))) WITH CHECK (((( SELECT public.wallet_api_wallets() AS wallet_api_wallets) IS NULL) OR ((source_wallet_id = ANY (( SELECT public.wallet_api_wallets() AS wallet_api_wallets)::bigint[])) AND (destination_wallet_id = ANY (( SELECT public.wallet_api_wallets() AS wallet_api_wallets)::bigint[])))));

--
-- Name: wallets; Type: ROW SECURITY; Schema: public; Owner: CURRENT_USER
--

ALTER TABLE public.wallets ENABLE ROW LEVEL SECURITY;

--
-- Name: wallets wallets_visible; Type: POLICY; Schema: public; Owner: CURRENT_USER
--

CREATE POLICY wallets_visible ON public.wallets USING (((( SELECT public.wallet_api_wallets() AS wallet_api_wallets) IS NULL) OR (id = ANY (( SELECT public.wallet_api_wallets() AS wallet_api_wallets)::bigint[])))) WITH CHECK (((( SELECT public.wallet_api_wallets() AS wallet_api_wallets) IS NULL) OR (id = ANY (( SELECT public.wallet_api_wallets() AS wallet_api_wallets)::bigint[]))));

--
-- Name: SCHEMA public; Type: ACL; Schema: -; Owner: pg_database_owner
--

GRANT ALL ON SCHEMA public TO wallet_ledger;
GRANT USAGE ON SCHEMA public TO wallet_service;
GRANT USAGE ON SCHEMA public TO wallet_reader;
GRANT USAGE ON SCHEMA public TO wallet_writer;

--
-- Name: FUNCTION balance_buckets_refold(wallets bigint[]); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.balance_buckets_refold(wallets bigint[]) FROM PUBLIC;

--
-- Name: FUNCTION balance_changes_buckets(); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.balance_changes_buckets() FROM PUBLIC;

--
-- Name: FUNCTION balance_changes_events(); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.balance_changes_events() FROM PUBLIC;

--
-- Name: FUNCTION balance_monitors_events(); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.balance_monitors_events() FROM PUBLIC;

--
-- Name: FUNCTION balance_monitors_state(); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.balance_monitors_state() FROM PUBLIC;

--
-- Name: TABLE transactions; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT,INSERT ON TABLE public.transactions TO wallet_ledger;
GRANT SELECT,INSERT,DELETE ON TABLE public.transactions TO wallet_service;
GRANT SELECT ON TABLE public.transactions TO wallet_reader;
GRANT INSERT,DELETE ON TABLE public.transactions TO wallet_writer;

--
-- Name: COLUMN transactions.wallet_id; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(wallet_id) ON TABLE public.transactions TO wallet_service;
GRANT UPDATE(wallet_id) ON TABLE public.transactions TO wallet_writer;

--
-- Name: COLUMN transactions.txid; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(txid) ON TABLE public.transactions TO wallet_service;
GRANT UPDATE(txid) ON TABLE public.transactions TO wallet_writer;

--
-- Name: COLUMN transactions.amount; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(amount) ON TABLE public.transactions TO wallet_service;
GRANT UPDATE(amount) ON TABLE public.transactions TO wallet_writer;

--
-- Name: COLUMN transactions.metadata; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(metadata) ON TABLE public.transactions TO wallet_service;
GRANT UPDATE(metadata) ON TABLE public.transactions TO wallet_writer;

--
-- Name: SEQUENCE transactions_id_seq; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT USAGE ON SEQUENCE public.transactions_id_seq TO wallet_service;
GRANT USAGE ON SEQUENCE public.transactions_id_seq TO wallet_writer;
GRANT USAGE ON SEQUENCE public.transactions_id_seq TO wallet_ledger;

--
-- Name: TABLE transfers; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT,INSERT ON TABLE public.transfers TO wallet_ledger;
GRANT SELECT,INSERT ON TABLE public.transfers TO wallet_service;
GRANT SELECT ON TABLE public.transfers TO wallet_reader;
GRANT INSERT ON TABLE public.transfers TO wallet_writer;

--
-- Name: COLUMN transfers.reversed_amount; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(reversed_amount) ON TABLE public.transfers TO wallet_ledger;

--
-- Name: COLUMN transfers.metadata; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(metadata) ON TABLE public.transfers TO wallet_service;
GRANT UPDATE(metadata) ON TABLE public.transfers TO wallet_writer;

--
-- Name: SEQUENCE transfers_id_seq; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT USAGE ON SEQUENCE public.transfers_id_seq TO wallet_service;
GRANT USAGE ON SEQUENCE public.transfers_id_seq TO wallet_writer;

--
-- Name: TABLE exchanges; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT,INSERT ON TABLE public.exchanges TO wallet_service;
GRANT SELECT ON TABLE public.exchanges TO wallet_reader;
GRANT INSERT ON TABLE public.exchanges TO wallet_writer;

--
-- Name: COLUMN exchanges.metadata; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(metadata) ON TABLE public.exchanges TO wallet_service;
GRANT UPDATE(metadata) ON TABLE public.exchanges TO wallet_writer;

--
-- Name: TABLE holds; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT ON TABLE public.holds TO wallet_ledger;
GRANT SELECT,INSERT ON TABLE public.holds TO wallet_service;
GRANT SELECT,INSERT ON TABLE public.holds TO wallet_writer;
GRANT SELECT ON TABLE public.holds TO wallet_reader;

--
-- Name: COLUMN holds.status; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(status) ON TABLE public.holds TO wallet_service;
GRANT UPDATE(status) ON TABLE public.holds TO wallet_writer;

--
-- Name: COLUMN holds.captured_amount; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(captured_amount) ON TABLE public.holds TO wallet_service;
GRANT UPDATE(captured_amount) ON TABLE public.holds TO wallet_writer;

--
-- Name: COLUMN holds.transaction_id; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(transaction_id) ON TABLE public.holds TO wallet_service;
GRANT UPDATE(transaction_id) ON TABLE public.holds TO wallet_writer;

--
-- Name: COLUMN holds.metadata; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(metadata) ON TABLE public.holds TO wallet_service;
GRANT UPDATE(metadata) ON TABLE public.holds TO wallet_writer;

--
-- Name: TABLE balance_monitors; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT ON TABLE public.balance_monitors TO wallet_ledger;
GRANT SELECT,INSERT,DELETE ON TABLE public.balance_monitors TO wallet_service;
GRANT SELECT ON TABLE public.balance_monitors TO wallet_reader;
GRANT INSERT,DELETE ON TABLE public.balance_monitors TO wallet_writer;

--
-- Name: COLUMN balance_monitors.field; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(field) ON TABLE public.balance_monitors TO wallet_service;
GRANT UPDATE(field) ON TABLE public.balance_monitors TO wallet_writer;

--
-- Name: COLUMN balance_monitors.operator; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(operator) ON TABLE public.balance_monitors TO wallet_service;
GRANT UPDATE(operator) ON TABLE public.balance_monitors TO wallet_writer;

--
-- Name: COLUMN balance_monitors.amount; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(amount) ON TABLE public.balance_monitors TO wallet_service;
GRANT UPDATE(amount) ON TABLE public.balance_monitors TO wallet_writer;

--
-- Name: COLUMN balance_monitors.updated_at; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(updated_at) ON TABLE public.balance_monitors TO wallet_ledger;

--
-- Name: COLUMN balance_monitors.metadata; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(metadata) ON TABLE public.balance_monitors TO wallet_service;
GRANT UPDATE(metadata) ON TABLE public.balance_monitors TO wallet_writer;

--
-- Name: TABLE wallets; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT ON TABLE public.wallets TO wallet_ledger;
GRANT SELECT,INSERT,DELETE ON TABLE public.wallets TO wallet_service;
GRANT SELECT ON TABLE public.wallets TO wallet_reader;
GRANT INSERT,DELETE ON TABLE public.wallets TO wallet_writer;

--
-- Name: COLUMN wallets.label; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(label) ON TABLE public.wallets TO wallet_service;
GRANT UPDATE(label) ON TABLE public.wallets TO wallet_writer;

--
-- Name: COLUMN wallets.balance; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(balance) ON TABLE public.wallets TO wallet_ledger;

--
-- Name: COLUMN wallets.updated_at; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(updated_at) ON TABLE public.wallets TO wallet_ledger;

--
-- Name: COLUMN wallets.held; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(held) ON TABLE public.wallets TO wallet_ledger;

--
-- Name: COLUMN wallets.held_expires_at; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(held_expires_at) ON TABLE public.wallets TO wallet_ledger;

--
-- Name: COLUMN wallets.metadata; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(metadata) ON TABLE public.wallets TO wallet_service;
GRANT UPDATE(metadata) ON TABLE public.wallets TO wallet_writer;

--
-- Name: COLUMN wallets.credit_limit; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(credit_limit) ON TABLE public.wallets TO wallet_service;
GRANT UPDATE(credit_limit) ON TABLE public.wallets TO wallet_writer;

--
-- Name: COLUMN wallets.event_sequence; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(event_sequence) ON TABLE public.wallets TO wallet_ledger;

--
-- Name: COLUMN wallets.event_position; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(event_position) ON TABLE public.wallets TO wallet_ledger;

--
-- Name: FUNCTION events_emit(drafts public.event_draft[]); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.events_emit(drafts public.event_draft[]) FROM PUBLIC;

--
-- Name: FUNCTION events_position(); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.events_position() FROM PUBLIC;

--
-- Name: FUNCTION events_prune(before timestamp with time zone); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.events_prune(before timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION public.events_prune(before timestamp with time zone) TO wallet_service;

--
-- Name: FUNCTION exchanges_after_insert(); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.exchanges_after_insert() FROM PUBLIC;

--
-- Name: FUNCTION exchanges_events(); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.exchanges_events() FROM PUBLIC;

--
-- Name: FUNCTION hold_revise(operation text, old public.holds[], new public.holds[]); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.hold_revise(operation text, old public.holds[], new public.holds[]) FROM PUBLIC;

--
-- Name: FUNCTION holds_after_delete(); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.holds_after_delete() FROM PUBLIC;

--
-- Name: FUNCTION holds_after_insert(); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.holds_after_insert() FROM PUBLIC;

--
-- Name: FUNCTION holds_after_update(); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.holds_after_update() FROM PUBLIC;

--
-- Name: FUNCTION holds_before_truncate(); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.holds_before_truncate() FROM PUBLIC;

--
-- Name: FUNCTION holds_events_delete(); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.holds_events_delete() FROM PUBLIC;

--
-- Name: FUNCTION holds_events_insert(); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.holds_events_insert() FROM PUBLIC;

--
-- Name: FUNCTION holds_events_truncate(); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.holds_events_truncate() FROM PUBLIC;

--
-- Name: FUNCTION holds_events_update(); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.holds_events_update() FROM PUBLIC;

--
-- Name: FUNCTION idempotency_claim(claimed_by bigint, claimed_key text); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.idempotency_claim(claimed_by bigint, claimed_key text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.idempotency_claim(claimed_by bigint, claimed_key text) TO wallet_service;

--
-- Name: FUNCTION idempotency_purge(batch bigint); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.idempotency_purge(batch bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION public.idempotency_purge(batch bigint) TO wallet_service;

--
-- Name: FUNCTION ledger_actor(OUT key_id bigint, OUT key_name text); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.ledger_actor(OUT key_id bigint, OUT key_name text) FROM PUBLIC;

--
-- Name: FUNCTION ledger_apply(operation text, changes public.ledger_change[]); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.ledger_apply(operation text, changes public.ledger_change[]) FROM PUBLIC;

--
-- Name: FUNCTION ledger_hold(operation text, changes public.ledger_change[]); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.ledger_hold(operation text, changes public.ledger_change[]) FROM PUBLIC;

--
-- Name: FUNCTION ledger_revise(operation text, old public.transactions[], new public.transactions[], journal_wallets bigint[], journal_rows bigint[]); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.ledger_revise(operation text, old public.transactions[], new public.transactions[], journal_wallets bigint[], journal_rows bigint[]) FROM PUBLIC;

--
-- Name: FUNCTION metadata_ids(resource text, contains jsonb[], has_key text, cap integer); Type: ACL; Schema: public; Owner: CURRENT_USER
--

REVOKE ALL ON FUNCTION public.metadata_ids(resource text, contains jsonb[], has_key text, cap integer) FROM PUBLIC;
GRANT ALL ON FUNCTION public.metadata_ids(resource text, contains jsonb[], has_key text, cap integer) TO wallet_service;
GRANT ALL ON FUNCTION public.metadata_ids(resource text, contains jsonb[], has_key text, cap integer) TO wallet_reader;

--
-- Name: FUNCTION monitors_evaluate(wallet_ids bigint[]); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.monitors_evaluate(wallet_ids bigint[]) FROM PUBLIC;

--
-- Name: FUNCTION transactions_after_delete(); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.transactions_after_delete() FROM PUBLIC;

--
-- Name: FUNCTION transactions_after_insert(); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.transactions_after_insert() FROM PUBLIC;

--
-- Name: FUNCTION transactions_after_update(); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.transactions_after_update() FROM PUBLIC;

--
-- Name: FUNCTION transactions_before_truncate(); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.transactions_before_truncate() FROM PUBLIC;

--
-- Name: FUNCTION transactions_events_delete(); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.transactions_events_delete() FROM PUBLIC;

--
-- Name: FUNCTION transactions_events_insert(); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.transactions_events_insert() FROM PUBLIC;

--
-- Name: FUNCTION transactions_events_truncate(); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.transactions_events_truncate() FROM PUBLIC;

--
-- Name: FUNCTION transactions_events_update(); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.transactions_events_update() FROM PUBLIC;

--
-- Name: FUNCTION transfers_after_insert(); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.transfers_after_insert() FROM PUBLIC;

--
-- Name: FUNCTION transfers_events(); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.transfers_events() FROM PUBLIC;

--
-- Name: FUNCTION wallet_apply(operation text, wallet_ids bigint[], deltas numeric[], held_deltas numeric[], counts bigint[], transaction_ids bigint[], hold_counts bigint[], hold_ids bigint[], digits integer[]); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.wallet_apply(operation text, wallet_ids bigint[], deltas numeric[], held_deltas numeric[], counts bigint[], transaction_ids bigint[], hold_counts bigint[], hold_ids bigint[], digits integer[]) FROM PUBLIC;

--
-- Name: FUNCTION wallet_repair(apply boolean); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.wallet_repair(apply boolean) FROM PUBLIC;

--
-- Name: FUNCTION wallets_credit_limit(); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.wallets_credit_limit() FROM PUBLIC;

--
-- Name: FUNCTION wallets_events_delete(); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.wallets_events_delete() FROM PUBLIC;

--
-- Name: FUNCTION wallets_events_insert(); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.wallets_events_insert() FROM PUBLIC;

--
-- Name: FUNCTION wallets_events_update(); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.wallets_events_update() FROM PUBLIC;

--
-- Name: FUNCTION wallets_revise(); Type: ACL; Schema: public; Owner: wallet_ledger
--

REVOKE ALL ON FUNCTION public.wallets_revise() FROM PUBLIC;

--
-- Name: TABLE api_keys; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT,INSERT ON TABLE public.api_keys TO wallet_service;

--
-- Name: COLUMN api_keys.id; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT(id) ON TABLE public.api_keys TO wallet_ledger;
GRANT SELECT(id) ON TABLE public.api_keys TO wallet_reader;

--
-- Name: COLUMN api_keys.name; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT(name) ON TABLE public.api_keys TO wallet_ledger;
GRANT SELECT(name) ON TABLE public.api_keys TO wallet_reader;

--
-- Name: COLUMN api_keys.prefix; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT(prefix) ON TABLE public.api_keys TO wallet_reader;

--
-- Name: COLUMN api_keys.scopes; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT(scopes) ON TABLE public.api_keys TO wallet_reader;
GRANT SELECT(scopes) ON TABLE public.api_keys TO wallet_ledger;

--
-- Name: COLUMN api_keys.wallet_ids; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT(wallet_ids) ON TABLE public.api_keys TO wallet_reader;

--
-- Name: COLUMN api_keys.created_at; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT(created_at) ON TABLE public.api_keys TO wallet_reader;

--
-- Name: COLUMN api_keys.expires_at; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT(expires_at) ON TABLE public.api_keys TO wallet_reader;

--
-- Name: COLUMN api_keys.revoked_at; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(revoked_at) ON TABLE public.api_keys TO wallet_service;
GRANT SELECT(revoked_at) ON TABLE public.api_keys TO wallet_reader;

--
-- Name: TABLE balance_buckets; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.balance_buckets TO wallet_ledger;
GRANT SELECT ON TABLE public.balance_buckets TO wallet_service;
GRANT SELECT ON TABLE public.balance_buckets TO wallet_reader;

--
-- Name: TABLE balance_bucket_audit; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT ON TABLE public.balance_bucket_audit TO wallet_ledger;
GRANT SELECT ON TABLE public.balance_bucket_audit TO wallet_service;
GRANT SELECT ON TABLE public.balance_bucket_audit TO wallet_reader;

--
-- Name: TABLE balance_changes; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT,INSERT ON TABLE public.balance_changes TO wallet_ledger;
GRANT SELECT ON TABLE public.balance_changes TO wallet_service;
GRANT SELECT ON TABLE public.balance_changes TO wallet_reader;

--
-- Name: TABLE balance_changes_with_currency; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT ON TABLE public.balance_changes_with_currency TO wallet_service;
GRANT SELECT ON TABLE public.balance_changes_with_currency TO wallet_reader;

--
-- Name: TABLE balance_monitors_with_scale; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT ON TABLE public.balance_monitors_with_scale TO wallet_service;
GRANT SELECT ON TABLE public.balance_monitors_with_scale TO wallet_reader;

--
-- Name: TABLE currencies; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT ON TABLE public.currencies TO PUBLIC;
GRANT SELECT ON TABLE public.currencies TO wallet_ledger;
GRANT SELECT,INSERT,DELETE ON TABLE public.currencies TO wallet_service;
GRANT SELECT ON TABLE public.currencies TO wallet_reader;

--
-- Name: COLUMN currencies.name; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(name) ON TABLE public.currencies TO wallet_service;

--
-- Name: COLUMN currencies.scale; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(scale) ON TABLE public.currencies TO wallet_service;

--
-- Name: COLUMN currencies.liquidity_wallet_id; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(liquidity_wallet_id) ON TABLE public.currencies TO wallet_service;

--
-- Name: TABLE events; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT,INSERT,DELETE ON TABLE public.events TO wallet_ledger;
GRANT SELECT ON TABLE public.events TO wallet_service;
GRANT SELECT ON TABLE public.events TO wallet_reader;

--
-- Name: TABLE event_audit; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT ON TABLE public.event_audit TO wallet_reader;

--
-- Name: TABLE event_clock; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT,UPDATE ON TABLE public.event_clock TO wallet_ledger;
GRANT SELECT ON TABLE public.event_clock TO wallet_service;
GRANT SELECT ON TABLE public.event_clock TO wallet_reader;

--
-- Name: TABLE events_feed; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT ON TABLE public.events_feed TO wallet_service;
GRANT SELECT ON TABLE public.events_feed TO wallet_reader;

--
-- Name: TABLE exchange_audit; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT ON TABLE public.exchange_audit TO wallet_reader;

--
-- Name: TABLE exchanges_with_scale; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT ON TABLE public.exchanges_with_scale TO wallet_service;
GRANT SELECT ON TABLE public.exchanges_with_scale TO wallet_reader;

--
-- Name: TABLE hold_revisions; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT INSERT ON TABLE public.hold_revisions TO wallet_ledger;
GRANT SELECT ON TABLE public.hold_revisions TO wallet_reader;

--
-- Name: TABLE holds_now; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT ON TABLE public.holds_now TO wallet_service;
GRANT SELECT ON TABLE public.holds_now TO wallet_reader;

--
-- Name: TABLE idempotency_keys; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT,INSERT ON TABLE public.idempotency_keys TO wallet_service;
GRANT SELECT,DELETE ON TABLE public.idempotency_keys TO wallet_ledger;

--
-- Name: TABLE transaction_revisions; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT INSERT ON TABLE public.transaction_revisions TO wallet_ledger;
GRANT SELECT ON TABLE public.transaction_revisions TO wallet_reader;

--
-- Name: TABLE transactions_with_currency; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT ON TABLE public.transactions_with_currency TO wallet_service;
GRANT SELECT ON TABLE public.transactions_with_currency TO wallet_reader;

--
-- Name: TABLE transfer_audit; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT ON TABLE public.transfer_audit TO wallet_reader;

--
-- Name: TABLE transfers_with_currency; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT ON TABLE public.transfers_with_currency TO wallet_service;
GRANT SELECT ON TABLE public.transfers_with_currency TO wallet_reader;

--
-- Name: TABLE wallet_balance_audit; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT ON TABLE public.wallet_balance_audit TO wallet_ledger;

--
-- Name: TABLE wallet_balances; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT ON TABLE public.wallet_balances TO wallet_service;
GRANT SELECT ON TABLE public.wallet_balances TO wallet_reader;

--
-- Name: TABLE wallet_revisions; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT INSERT ON TABLE public.wallet_revisions TO wallet_ledger;
GRANT SELECT ON TABLE public.wallet_revisions TO wallet_reader;

--
-- Name: COLUMN wallet_revisions.id; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT(id) ON TABLE public.wallet_revisions TO wallet_service;

--
-- Name: COLUMN wallet_revisions.wallet_id; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT(wallet_id) ON TABLE public.wallet_revisions TO wallet_service;

--
-- Name: COLUMN wallet_revisions.revised_at; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT(revised_at) ON TABLE public.wallet_revisions TO wallet_service;

--
-- Name: COLUMN wallet_revisions.old_credit_limit; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT(old_credit_limit) ON TABLE public.wallet_revisions TO wallet_service;

--
-- Name: COLUMN wallet_revisions.new_credit_limit; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT(new_credit_limit) ON TABLE public.wallet_revisions TO wallet_service;

--
-- Name: TABLE webhook_deliveries; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT,INSERT,DELETE ON TABLE public.webhook_deliveries TO wallet_service;
GRANT SELECT ON TABLE public.webhook_deliveries TO wallet_reader;

--
-- Name: COLUMN webhook_deliveries.status; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(status) ON TABLE public.webhook_deliveries TO wallet_service;

--
-- Name: COLUMN webhook_deliveries.attempts; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(attempts) ON TABLE public.webhook_deliveries TO wallet_service;

--
-- Name: COLUMN webhook_deliveries.response_status; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(response_status) ON TABLE public.webhook_deliveries TO wallet_service;

--
-- Name: COLUMN webhook_deliveries.response_body; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(response_body) ON TABLE public.webhook_deliveries TO wallet_service;

--
-- Name: COLUMN webhook_deliveries.error; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(error) ON TABLE public.webhook_deliveries TO wallet_service;

--
-- Name: COLUMN webhook_deliveries.latency_ms; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(latency_ms) ON TABLE public.webhook_deliveries TO wallet_service;

--
-- Name: COLUMN webhook_deliveries.next_attempt_at; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(next_attempt_at) ON TABLE public.webhook_deliveries TO wallet_service;

--
-- Name: COLUMN webhook_deliveries.last_attempt_at; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(last_attempt_at) ON TABLE public.webhook_deliveries TO wallet_service;

--
-- Name: TABLE webhook_endpoints; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT,INSERT,DELETE ON TABLE public.webhook_endpoints TO wallet_service;

--
-- Name: COLUMN webhook_endpoints.id; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT(id) ON TABLE public.webhook_endpoints TO wallet_reader;

--
-- Name: COLUMN webhook_endpoints.url; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(url) ON TABLE public.webhook_endpoints TO wallet_service;
GRANT SELECT(url) ON TABLE public.webhook_endpoints TO wallet_reader;

--
-- Name: COLUMN webhook_endpoints.event_types; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(event_types) ON TABLE public.webhook_endpoints TO wallet_service;
GRANT SELECT(event_types) ON TABLE public.webhook_endpoints TO wallet_reader;

--
-- Name: COLUMN webhook_endpoints.wallet_ids; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(wallet_ids) ON TABLE public.webhook_endpoints TO wallet_service;
GRANT SELECT(wallet_ids) ON TABLE public.webhook_endpoints TO wallet_reader;

--
-- Name: COLUMN webhook_endpoints.description; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(description) ON TABLE public.webhook_endpoints TO wallet_service;
GRANT SELECT(description) ON TABLE public.webhook_endpoints TO wallet_reader;

--
-- Name: COLUMN webhook_endpoints.status; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(status) ON TABLE public.webhook_endpoints TO wallet_service;
GRANT SELECT(status) ON TABLE public.webhook_endpoints TO wallet_reader;

--
-- Name: COLUMN webhook_endpoints.disabled_reason; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(disabled_reason) ON TABLE public.webhook_endpoints TO wallet_service;
GRANT SELECT(disabled_reason) ON TABLE public.webhook_endpoints TO wallet_reader;

--
-- Name: COLUMN webhook_endpoints.secret; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(secret) ON TABLE public.webhook_endpoints TO wallet_service;

--
-- Name: COLUMN webhook_endpoints.previous_secret; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(previous_secret) ON TABLE public.webhook_endpoints TO wallet_service;

--
-- Name: COLUMN webhook_endpoints.previous_secret_until; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(previous_secret_until) ON TABLE public.webhook_endpoints TO wallet_service;

--
-- Name: COLUMN webhook_endpoints.queued_position; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(queued_position) ON TABLE public.webhook_endpoints TO wallet_service;
GRANT SELECT(queued_position) ON TABLE public.webhook_endpoints TO wallet_reader;

--
-- Name: COLUMN webhook_endpoints.queued_id; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(queued_id) ON TABLE public.webhook_endpoints TO wallet_service;
GRANT SELECT(queued_id) ON TABLE public.webhook_endpoints TO wallet_reader;

--
-- Name: COLUMN webhook_endpoints.failing_since; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(failing_since) ON TABLE public.webhook_endpoints TO wallet_service;
GRANT SELECT(failing_since) ON TABLE public.webhook_endpoints TO wallet_reader;

--
-- Name: COLUMN webhook_endpoints.replay_from; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(replay_from) ON TABLE public.webhook_endpoints TO wallet_service;
GRANT SELECT(replay_from) ON TABLE public.webhook_endpoints TO wallet_reader;

--
-- Name: COLUMN webhook_endpoints.created_at; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT(created_at) ON TABLE public.webhook_endpoints TO wallet_reader;

--
-- Name: COLUMN webhook_endpoints.updated_at; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(updated_at) ON TABLE public.webhook_endpoints TO wallet_service;
GRANT SELECT(updated_at) ON TABLE public.webhook_endpoints TO wallet_reader;

--
-- Name: COLUMN webhook_endpoints.metadata; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT UPDATE(metadata) ON TABLE public.webhook_endpoints TO wallet_service;
GRANT SELECT(metadata) ON TABLE public.webhook_endpoints TO wallet_reader;

--
-- Name: TABLE webhook_endpoint_lag; Type: ACL; Schema: public; Owner: CURRENT_USER
--

GRANT SELECT ON TABLE public.webhook_endpoint_lag TO wallet_reader;
GRANT SELECT ON TABLE public.webhook_endpoint_lag TO wallet_service;

--
-- PostgreSQL database dump complete
--

