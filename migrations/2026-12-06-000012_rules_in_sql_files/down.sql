-- Back to 2026-12-06-000011: wallet_apply_deltas again, owned by wallet_ledger. (The rules in
-- force are those of the sql/ files of the version that applies them.)

CREATE FUNCTION wallet_apply_deltas(
    operation text,
    wallet_ids bigint[],
    deltas numeric[],
    counts bigint[],
    transaction_ids bigint[]
)
RETURNS TABLE (wallet_id bigint, balance_change_id bigint)
LANGUAGE sql
AS $$
    SELECT * FROM wallet_apply(operation, wallet_ids, deltas,
                               array_fill(0::numeric, ARRAY[coalesce(cardinality(wallet_ids), 0)]),
                               counts, transaction_ids,
                               array_fill(0::bigint, ARRAY[coalesce(cardinality(wallet_ids), 0)]),
                               array_fill(NULL::bigint, ARRAY[coalesce(cardinality(wallet_ids), 0)]))
$$;


COMMENT ON FUNCTION wallet_apply_deltas(text, bigint[], numeric[], bigint[], bigint[]) IS
    'Adds deltas[i] to the balance of wallet wallet_ids[i] and journals it: locks in id order, refuses negative or overflowing results. Called by the transactions triggers only.';

DO $$
BEGIN
    ALTER FUNCTION wallet_apply_deltas(text, bigint[], numeric[], bigint[], bigint[]) OWNER TO wallet_ledger;
    REVOKE EXECUTE ON FUNCTION wallet_apply_deltas(text, bigint[], numeric[], bigint[], bigint[]) FROM PUBLIC;
    EXECUTE format('ALTER FUNCTION wallet_apply_deltas(text, bigint[], numeric[], bigint[], bigint[]) SET search_path = %I, pg_temp', current_schema());
END;
$$;
