-- Wallets and their transactions.
--
-- A wallet's balance is stored beside it (not recomputed on every read) so that reading it
-- costs the same with ten transactions or ten million. The next migration installs the
-- triggers that keep it equal to the sum of the wallet's transactions; nothing else may write
-- it. Money is numeric(36,18): 18 integer and 18 fractional digits, exact, never a float.

CREATE TABLE wallets (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    label      text NOT NULL
               CONSTRAINT wallets_label_length CHECK (char_length(label) BETWEEN 1 AND 255),
    balance    numeric(36, 18) NOT NULL DEFAULT 0
               CONSTRAINT wallets_balance_nonnegative CHECK (balance >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON COLUMN wallets.balance IS
    'Sum of the wallet''s transactions.amount, kept by the transactions triggers; never negative, never written directly.';

CREATE TABLE transactions (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- RESTRICT: a wallet with history cannot be deleted; its history is never destroyed as a
    -- side effect.
    wallet_id  bigint NOT NULL
               CONSTRAINT transactions_wallet_id_fkey REFERENCES wallets (id) ON DELETE RESTRICT,
    -- The client's own reference. Unique, so a retried request cannot book the money twice.
    txid       text NOT NULL
               CONSTRAINT transactions_txid_key UNIQUE
               CONSTRAINT transactions_txid_length CHECK (char_length(txid) BETWEEN 1 AND 255),
    -- Positive credits the wallet, negative debits it. Zero moves nothing and is refused.
    amount     numeric(36, 18) NOT NULL
               CONSTRAINT transactions_amount_nonzero CHECK (amount <> 0),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Why each index exists (every index is paid for on every insert, so there are few):
--
-- transactions_pkey (id): lookups by id, and the default order of /transactions with its
--   keyset pagination (WHERE id > $cursor ORDER BY id LIMIT n).
-- transactions_txid_key (txid): the uniqueness rule itself; also serves filter[txid] and
--   filter[txid.in] (equality), filter[txid.startswith] (a prefix range; the database uses
--   the C collation, so a plain btree serves LIKE 'prefix%') and sort=txid.
-- transactions_wallet_id_id_idx (wallet_id, id): the most common query, a wallet's
--   transactions (/wallets/{id}/transactions, filter[wallet]) in id order with keyset
--   pagination, without sorting; also makes the foreign key check on DELETE FROM wallets an
--   index probe instead of a scan.
CREATE INDEX transactions_wallet_id_id_idx ON transactions (wallet_id, id);

-- Sorting or range-filtering transactions by amount or createdAt, and wallets by anything
-- but id, uses the primary key or a sequential scan with a top-N sort. Add an index here when
-- a real workload needs one; each costs every insert.
