-- The money rules move to sql/: from this version on, every function, trigger, view, policy
-- and grant is defined once, in a repeatable file that `wallet-api migrate` applies after the
-- versioned migrations, in the same transaction (src/db/rules.rs). The migrations before this
-- one keep the definitions they made, as history; the files hold what is in force.
--
-- What the files no longer define goes here: wallet_apply_deltas, the transactions triggers'
-- entry point before holds, kept since then as a wrapper of wallet_apply for the TRUNCATE
-- trigger, which now calls wallet_apply itself (sql/30_transactions.sql). Until the files are
-- applied, a moment later in the same transaction, nothing may truncate transactions.

DROP FUNCTION wallet_apply_deltas(text, bigint[], numeric[], bigint[], bigint[]);
