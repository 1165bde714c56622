#!/usr/bin/env bash
# Two builds of the service side by side on one database, in alternating wrk rounds, so that
# the machine's drift falls on both alike: what a before-and-after comparison needs on a
# shared machine, where two `make bench` runs an hour apart differ by more than most changes.
#
#   scripts/bench/ab.sh BEFORE_BINARY AFTER_BINARY [ROUNDS]
#
# e.g. git worktree add /tmp/before <commit> && (cd /tmp/before && cargo build --release)
#      scripts/bench/ab.sh /tmp/before/target/release/wallet-api target/release/wallet-api
#
# Makes the database wallet_api_ab in the project-local cluster (migrated by AFTER_BINARY,
# 10,000 funded wallets, an admin key), serves it with both binaries (2 workers, 4
# connections, RUST_LOG=warn), and runs read-wallet (GET /wallets/{random}), list-page (GET
# /transactions?filter[wallet]={random}&page[size]=20) and create-spread (POST /transactions
# to a random wallet) at 16 connections for ROUNDS rounds of 8 s per
# binary (default 4), alternating which goes first. Prints each round and the means.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 2 ] || { echo "usage: $0 BEFORE_BINARY AFTER_BINARY [ROUNDS]" >&2; exit 2; }
BEFORE=$1 AFTER=$2 ROUNDS=${3:-4}
command -v wrk >/dev/null || scripts/install.sh wrk
URL=$(env -u DATABASE_URL scripts/pg-local.sh url)
DB=wallet_api_ab
AB_URL=$(sed -E "s#/[^/?]*\?#/$DB?#" <<<"$URL")
ADMIN_URL=$(sed -E "s#/[^/?]*\?#/postgres?#" <<<"$URL")
psql "$ADMIN_URL" -qX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" \
    -c "CREATE DATABASE $DB" >/dev/null 2>&1
"$AFTER" migrate --database-url "$AB_URL" >/dev/null
psql "$AB_URL" -qX -v ON_ERROR_STOP=1 \
    -c "INSERT INTO wallets (label) SELECT 'w' || g FROM generate_series(1, 10000) AS g" \
    -c "INSERT INTO transactions (wallet_id, txid, amount) SELECT id, 'seed-' || id, 1000000 FROM wallets" \
    >/dev/null
export BENCH_KEY=$("$AFTER" keys --database-url "$AB_URL" create --name ab --scope admin | tail -n 1)
export BENCH_LUA_DIR=$PWD/scripts/bench
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
serve() { # BINARY PORT
    DATABASE_URL=$AB_URL PORT=$2 WORKERS=2 DB_POOL_SIZE=4 RUST_LOG=warn RATE_LIMIT=10000000 \
        DB_ACQUIRE_TIMEOUT=30s "$1" serve >/dev/null 2>&1 &
    echo $!
}
PORTS=("$(free_port)" "$(free_port)")
NAMES=(before after)
PIDS=("$(serve "$BEFORE" "${PORTS[0]}")" "$(serve "$AFTER" "${PORTS[1]}")")
trap 'kill "${PIDS[@]}" 2>/dev/null || true' EXIT
for port in "${PORTS[@]}"; do
    until curl -sf "http://127.0.0.1:$port/health/live" >/dev/null; do sleep 0.2; done
done
rate() { # PORT SCRIPT ARGS...: "req/s p50_ms p99_ms"
    local port=$1 script=$2
    shift 2
    wrk -t2 -c16 -d8s -s "scripts/bench/$script" "http://127.0.0.1:$port" -- "$@" 2>/dev/null \
        | sed -nE 's/^RESULT requests=([0-9]+) duration_us=([0-9]+) p50_us=([0-9]+) p99_us=([0-9]+).*/\1 \2 \3 \4/p' \
        | awk '{printf "%.0f %.2f %.2f\n", $1 / ($2 / 1e6), $3 / 1000, $4 / 1000}'
}
for scenario in read-wallet list-page create-spread; do
    sums=(0 0)
    for round in $(seq 1 "$ROUNDS"); do
        order=(0 1)
        [ $((round % 2)) = 0 ] && order=(1 0)
        for i in "${order[@]}"; do
            case $scenario in
                read-wallet) result=$(rate "${PORTS[$i]}" get.lua "/wallets/{w}" 1 10000) ;;
                list-page) result=$(rate "${PORTS[$i]}" get.lua \
                    "/transactions?filter[wallet]={w}&page[size]=20" 1 10000) ;;
                create-spread) result=$(rate "${PORTS[$i]}" create.lua "ab$i-$round" 1 10000) ;;
            esac
            read -r per_second p50 p99 <<<"$result"
            echo "$scenario round $round ${NAMES[$i]}: $per_second/s p50 $p50 ms p99 $p99 ms"
            sums[$i]=$((sums[$i] + per_second))
        done
    done
    awk -v s="$scenario" -v b="${sums[0]}" -v a="${sums[1]}" -v n="$ROUNDS" \
        'BEGIN { printf "%s: before %.0f/s, after %.0f/s (after / before %.2f)\n", s, b / n, a / n, a / b }'
done
