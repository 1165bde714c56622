-- Transfers: money moved from one wallet to another as one thing.
--
-- A transfer is a row of its own, and its two legs are transactions (a debit of the source,
-- a credit of the destination) that name it (transactions.transfer_id): balances, the
-- journal, revisions, filters and the audit treat them as any booking. The rules that keep a
-- transfer whole, on every path, are in sql/35_transfers.sql: an INSERT INTO transfers books
-- both legs in the same statement; a leg's amount and wallet never change and a leg is never
-- deleted on its own; a transfer is never deleted, and only its metadata changes.
--
-- The legs' ids are drawn from the transactions' own sequence when the transfer row is
-- made (debit_id, credit_id): a transfer names its legs without a second write.

CREATE TABLE transfers (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The client's own reference: unique among transfers, so a retry cannot move money twice.
    txid text NOT NULL
        CONSTRAINT transfers_txid_key UNIQUE
        CONSTRAINT transfers_txid_length CHECK (char_length(txid) BETWEEN 1 AND 255),
    -- The wallets exist and hold one currency (checked with the legs, sql/35_transfers.sql;
    -- the legs' foreign keys keep the wallets from being deleted).
    source_wallet_id bigint NOT NULL,
    destination_wallet_id bigint NOT NULL,
    amount numeric(36, 18) NOT NULL
        CONSTRAINT transfers_amount_positive CHECK (amount > 0),
    -- The transfer this one reverses (money back from its destination to its source).
    reverses_id bigint,
    -- The sum of its reversals, kept by the reversals' inserts: never past its amount.
    reversed_amount numeric(36, 18) NOT NULL DEFAULT 0,
    debit_id bigint NOT NULL,
    credit_id bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    metadata jsonb NOT NULL DEFAULT '{}'
        CONSTRAINT transfers_metadata_valid CHECK (metadata_valid(metadata)),
    CONSTRAINT transfers_distinct_wallets CHECK (source_wallet_id <> destination_wallet_id),
    CONSTRAINT transfers_reversed_within CHECK (reversed_amount >= 0 AND reversed_amount <= amount)
);

DO $$
BEGIN
    EXECUTE format('ALTER TABLE transfers ALTER COLUMN debit_id SET DEFAULT nextval(%L::regclass),
                                         ALTER COLUMN credit_id SET DEFAULT nextval(%L::regclass)',
                   pg_get_serial_sequence('transactions', 'id'),
                   pg_get_serial_sequence('transactions', 'id'));
END;
$$;

COMMENT ON TABLE transfers IS
    'Money moved from source_wallet_id to destination_wallet_id as one thing: its legs are the transactions debit_id and credit_id (transactions.transfer_id names it). Never deleted; only metadata changes.';

CREATE INDEX transfers_source_id ON transfers (source_wallet_id, id);
CREATE INDEX transfers_destination_id ON transfers (destination_wallet_id, id);
CREATE INDEX transfers_reverses_id ON transfers (reverses_id) WHERE reverses_id IS NOT NULL;
CREATE INDEX transfers_created_at_id ON transfers (created_at, id);
CREATE INDEX transfers_metadata_idx ON transfers USING gin (metadata);

-- A leg names its transfer; a plain booking names none. (No foreign key: only the transfers
-- trigger writes it, sql/35_transfers.sql, and a transfer is never deleted.)
ALTER TABLE transactions ADD COLUMN transfer_id bigint;
CREATE INDEX transactions_transfer_id ON transactions (transfer_id) WHERE transfer_id IS NOT NULL;

-- Wallet-limited keys see the transfers of their wallets (the policy: sql/90_access.sql).
ALTER TABLE transfers ENABLE ROW LEVEL SECURITY;
