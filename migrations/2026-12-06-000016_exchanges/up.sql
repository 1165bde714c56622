-- Exchanges: money changed from one currency into another at a quoted rate, as one thing.
--
-- An exchange books two transfers through the house (sql/36_exchanges.sql): the source
-- wallet pays source_amount to its currency's liquidity wallet, and the destination
-- currency's liquidity wallet pays destination_amount to the destination wallet. Each
-- transfer is two legs, so an exchange is four transactions, all in the statement that
-- writes it. The client gives one amount and the rate; the database computes the other,
-- rounded toward the house.
--
-- The transfers' ids are drawn from the transfers' own sequence when the exchange row is
-- made (source_transfer_id, destination_transfer_id), as a transfer draws its legs' ids.

CREATE TABLE exchanges (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The client's own reference: unique among exchanges, so a retry cannot exchange twice.
    txid text NOT NULL
        CONSTRAINT exchanges_txid_key UNIQUE
        CONSTRAINT exchanges_txid_length CHECK (char_length(txid) BETWEEN 1 AND 255),
    source_wallet_id bigint NOT NULL,
    destination_wallet_id bigint NOT NULL,
    -- One given, the other computed (both may be given when they agree).
    source_amount numeric(36, 18) NOT NULL
        CONSTRAINT exchanges_source_amount_positive CHECK (source_amount > 0),
    destination_amount numeric(36, 18) NOT NULL
        CONSTRAINT exchanges_destination_amount_positive CHECK (destination_amount > 0),
    -- Units of the destination's currency one unit of the source's buys: kept exactly as
    -- given (numeric without a typmod rounds nothing), at most 18 digits either side.
    rate numeric NOT NULL
        CONSTRAINT exchanges_rate_valid CHECK (rate > 0 AND rate < 1e18 AND min_scale(rate) <= 18),
    -- Copied by the database when the row is made (never given).
    source_currency text NOT NULL,
    destination_currency text NOT NULL,
    source_liquidity_wallet_id bigint NOT NULL,
    destination_liquidity_wallet_id bigint NOT NULL,
    source_transfer_id bigint NOT NULL,
    destination_transfer_id bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    metadata jsonb NOT NULL DEFAULT '{}'
        CONSTRAINT exchanges_metadata_valid CHECK (metadata_valid(metadata)),
    CONSTRAINT exchanges_currencies_differ CHECK (source_currency <> destination_currency)
);

DO $$
BEGIN
    EXECUTE format('ALTER TABLE exchanges ALTER COLUMN source_transfer_id SET DEFAULT nextval(%L::regclass),
                                         ALTER COLUMN destination_transfer_id SET DEFAULT nextval(%L::regclass)',
                   pg_get_serial_sequence('transfers', 'id'),
                   pg_get_serial_sequence('transfers', 'id'));
END;
$$;

COMMENT ON TABLE exchanges IS
    'Money changed from source_wallet_id''s currency into destination_wallet_id''s at rate, through the liquidity wallets: the transfers source_transfer_id and destination_transfer_id (transfers.exchange_id names it). Never deleted; only metadata changes.';

CREATE INDEX exchanges_source_id ON exchanges (source_wallet_id, id);
CREATE INDEX exchanges_destination_id ON exchanges (destination_wallet_id, id);
CREATE INDEX exchanges_created_at_id ON exchanges (created_at, id);
CREATE INDEX exchanges_metadata_idx ON exchanges USING gin (metadata);

-- A transfer an exchange booked names it; any other names none. (No foreign key: only the
-- exchanges trigger writes it, and an exchange is never deleted.)
ALTER TABLE transfers ADD COLUMN exchange_id bigint;
CREATE INDEX transfers_exchange_id ON transfers (exchange_id) WHERE exchange_id IS NOT NULL;

-- Wallet-limited keys see the exchanges of their wallets (the policy: sql/90_access.sql).
ALTER TABLE exchanges ENABLE ROW LEVEL SECURITY;
