DROP TABLE transactions;
DROP TABLE wallets;
