-- Back to one unnamed unit: the wallets forget their currency. Amounts stay as they are
-- (numeric(36,18)). sql/ of the version before this one defines wallet_apply again.

DROP VIEW IF EXISTS transactions_with_currency;
DROP VIEW IF EXISTS balance_changes_with_currency;
-- Gained currency and scale: the files of the version before define it again without them.
DROP VIEW IF EXISTS holds_now;
DROP TRIGGER IF EXISTS wallets_currency ON wallets;
DROP TRIGGER IF EXISTS wallets_currency_fixed ON wallets;
DROP TRIGGER IF EXISTS currencies_guard ON currencies;
DROP FUNCTION IF EXISTS wallets_currency();
DROP FUNCTION IF EXISTS currencies_guard();
DROP FUNCTION IF EXISTS ledger_refuse_precision(text, bigint, text, smallint, integer);
DROP FUNCTION IF EXISTS wallet_apply(text, bigint[], numeric[], numeric[], bigint[], bigint[], bigint[], bigint[], integer[]);
DROP INDEX wallets_currency_id;
ALTER TABLE wallets DROP CONSTRAINT wallets_currency_fkey;
ALTER TABLE wallets DROP COLUMN scale, DROP COLUMN currency;
DROP TABLE currencies;
