#!/usr/bin/env bash
# What a backup and a restore cost: on a throw-away cluster (.pg-restore-bench/, socket 54389)
# filled by `pgbench -i -s SCALE` (70: about 1 GiB), the time of a full backup, then of a
# restore into a new data directory to a time after 20 s of pgbench updates (so that the
# restore replays their WAL). Prints the figures docs/operations.md quotes; removes the
# cluster after.
#
#   scripts/bench/restore.sh [SCALE]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SCALE=${1:-70}
export WALLET_PG_DIR=$ROOT/.pg-restore-bench WALLET_PG_PORT=54389 WALLET_PG_DB=restore_bench
BIN=/usr/lib/postgresql/15/bin
URL=$("$ROOT/scripts/pg-local.sh" url)
cleanup() {
    "$ROOT/scripts/backup.sh" stop-restored >/dev/null 2>&1 || true
    "$ROOT/scripts/pg-local.sh" stop >/dev/null 2>&1 || true
    rm -rf "$WALLET_PG_DIR"
}
trap cleanup EXIT
"$BIN/pgbench" -q -i -s "$SCALE" "$URL" >/dev/null 2>&1
size=$("$BIN/psql" "$URL" -qtAX -c "SELECT pg_database_size(current_database())")
began=$(date +%s.%N)
"$ROOT/scripts/backup.sh" backup >/dev/null 2>&1
backup=$(echo "$(date +%s.%N) - $began" | bc)
# WAL to replay: updates for 20 s.
before=$("$BIN/psql" "$URL" -qtAX -c "SELECT pg_current_wal_lsn()")
"$BIN/pgbench" -n -T 20 -c 4 -j 2 "$URL" >/dev/null 2>&1
wal=$("$BIN/psql" "$URL" -qtAX -c "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$before')")
target=$("$BIN/psql" "$URL" -qtAX -c "SELECT now()")
"$BIN/psql" "$URL" -qtAX -c "SELECT txid_current()" >/dev/null
began=$(date +%s.%N)
"$ROOT/scripts/backup.sh" restore "$target" >/dev/null 2>&1
restore=$(echo "$(date +%s.%N) - $began" | bc)
gib() { echo "scale=2; $1 / 1073741824" | bc; }
printf 'database %s GiB: full backup %.1f s; restore into a new directory, replaying %s GiB of WAL, %.1f s\n' \
    "$(gib "$size")" "$backup" "$(gib "$wal")" "$restore"
