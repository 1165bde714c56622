-- Limits forgotten: refused when a wallet uses credit (its balance is below zero).
DROP VIEW IF EXISTS wallet_balances;
DROP FUNCTION IF EXISTS wallet_available_now(bigint, numeric, numeric, timestamptz, numeric);
DROP FUNCTION IF EXISTS wallet_credit_limit_at(bigint, timestamptz);
DROP TRIGGER IF EXISTS wallets_limit_insert ON wallets;
DROP TRIGGER IF EXISTS wallets_limit_update ON wallets;
-- Their WHEN names the limit: the files of the version before define them again without it.
DROP TRIGGER IF EXISTS wallets_label_touch ON wallets;
DROP TRIGGER IF EXISTS wallets_revise ON wallets;
DROP FUNCTION IF EXISTS wallets_credit_limit();
DROP TRIGGER IF EXISTS currencies_liquidity ON currencies;
DROP FUNCTION IF EXISTS currencies_liquidity();
ALTER TABLE currencies DROP COLUMN liquidity_wallet_id;
ALTER TABLE wallet_revisions DROP COLUMN old_credit_limit, DROP COLUMN new_credit_limit;
ALTER TABLE wallets DROP CONSTRAINT wallets_balance_nonnegative;
ALTER TABLE wallets ADD CONSTRAINT wallets_balance_nonnegative CHECK (balance >= 0);
ALTER TABLE wallets DROP COLUMN credit_limit;
