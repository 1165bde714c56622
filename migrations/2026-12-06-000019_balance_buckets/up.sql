-- Balance history: each wallet's balance summarised per minute, hour and day
-- (sql/62_balance_history.sql keeps it), so that a chart of any range reads one row per
-- bucket, however many journal entries the range holds.

CREATE TABLE balance_buckets (
    wallet_id bigint NOT NULL,
    width text NOT NULL CONSTRAINT balance_buckets_width_known CHECK (width IN ('1m', '1h', '1d')),
    start timestamptz NOT NULL,
    -- The lowest and highest balance a change in the bucket left.
    min_balance numeric(36,18) NOT NULL,
    max_balance numeric(36,18) NOT NULL,
    -- What the bucket's last change (by changed_at, then id) left.
    balance numeric(36,18) NOT NULL,
    held numeric(36,18) NOT NULL,
    last_changed_at timestamptz NOT NULL,
    last_change_id bigint NOT NULL,
    PRIMARY KEY (wallet_id, width, start)
);

COMMENT ON TABLE balance_buckets IS
    'The journal summarised per wallet and minute, hour and day: the lowest and highest balance its changes left, and what its last change left. Kept by balance_changes_buckets().';

-- The journal so far is folded by sql/62_balance_history.sql (balance_journal_folded), when
-- the rules are applied right after this migration.
