-- Credit limits and liquidity wallets.
--
-- A wallet may lend itself up to its credit_limit: available = balance - held + credit_limit
-- never goes below zero, so its balance may go down to -credit_limit. 0 (the default) keeps
-- every wallet as it was. The rules (who sets a limit, a limit is never lowered below what
-- the wallet uses of it, its changes on record) are in sql/20_balances.sql and
-- sql/50_records.sql.
--
-- A currency may name its liquidity wallet: the house's wallet of that currency that takes
-- and gives it in exchanges (sql/15_currencies.sql checks that it holds the currency).

ALTER TABLE wallets ADD COLUMN credit_limit numeric(36, 18) NOT NULL DEFAULT 0
    CONSTRAINT wallets_credit_limit_nonnegative CHECK (credit_limit >= 0 AND credit_limit < 1e18);

-- The backstop of the engine's check keeps its name (clients and the service know it): a
-- balance is never below minus its credit limit.
ALTER TABLE wallets DROP CONSTRAINT wallets_balance_nonnegative;
ALTER TABLE wallets ADD CONSTRAINT wallets_balance_nonnegative CHECK (balance + credit_limit >= 0);

COMMENT ON COLUMN wallets.credit_limit IS
    'How far below zero the balance may go: available = balance - held + credit_limit never goes below zero.';

-- A limit's changes are on record beside the label's and the metadata's (NULL in the rows
-- written before limits existed, and where the limit did not change).
ALTER TABLE wallet_revisions ADD COLUMN old_credit_limit numeric(36, 18),
                             ADD COLUMN new_credit_limit numeric(36, 18);
-- The limit in force at a past time: the first change after it (wallet_credit_limit_at).
CREATE INDEX wallet_revisions_credit_limit ON wallet_revisions (wallet_id, revised_at, id)
    WHERE old_credit_limit IS DISTINCT FROM new_credit_limit;

ALTER TABLE currencies ADD COLUMN liquidity_wallet_id bigint
    CONSTRAINT currencies_liquidity_wallet_fkey REFERENCES wallets (id);
CREATE INDEX currencies_liquidity_wallet_id ON currencies (liquidity_wallet_id)
    WHERE liquidity_wallet_id IS NOT NULL;

COMMENT ON COLUMN currencies.liquidity_wallet_id IS
    'The house''s wallet of this currency that takes and gives it in exchanges (usually with a credit limit).';
