#!/usr/bin/env bash
# Tuning aid: the service alone under three loads for one setting of the knobs.
#
#   scripts/bench/knobs.sh WORKERS POOL_SIZE RUST_LOG
#
# Needs the database `make bench` leaves behind (wallet_api_bench) and a release build.
# Prints one line: read-wallet, create-spread and create-hot rates with p50/p99, 16 connections,
# 5 s each after a 2 s warm-up. BENCHMARKS.md ("Tuning") records what each knob changed.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -eq 3 ] || { echo "usage: $0 WORKERS POOL_SIZE RUST_LOG" >&2; exit 2; }
URL=$(scripts/pg-local.sh url | sed -E 's#^([a-z]+://[^/?]*)/[^?]*#\1/wallet_api_bench#')
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
DATABASE_URL=$URL PORT=$PORT WORKERS=$1 DB_POOL_SIZE=$2 RUST_LOG=$3 target/release/wallet-api serve >/dev/null 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl --silent --fail "$BASE/health" >/dev/null && break; sleep 0.1; done
HOT=$(psql "$URL" -XAtc "SELECT id FROM wallets WHERE label = 'hot'")
export BENCH_LUA_DIR=scripts/bench
load() { wrk -t2 -c16 -d"$1"s -s "scripts/bench/$2" "$BASE" -- "${@:3}" | grep '^RESULT'; }
rate() {
    python3 -c '
import sys
d = {k: int(v) for k, v in (x.split("=") for x in sys.argv[1].split()[1:])}
rate = d["requests"] / (d["duration_us"] / 1e6)
print("%7.0f/s p50 %.2f p99 %.2f" % (rate, d["p50_us"] / 1000, d["p99_us"] / 1000))
' "$1"
}
load 2 get.lua '/wallets/{w}' 1 10000 >/dev/null
read=$(load 5 get.lua '/wallets/{w}' 1 10000)
spread=$(load 5 create.lua "knob$RANDOM$$" 1 10000)
hot=$(load 5 create.lua "knobhot$RANDOM$$" "$HOT" "$HOT")
echo "workers=$1 pool=$2 log=$3 | read-wallet $(rate "$read") | create-spread $(rate "$spread") | create-hot $(rate "$hot")"
