#!/usr/bin/env bash
# make bench: installs wrk when missing, then runs scripts/bench/bench.py (see its header for
# the settings) against the project-local PostgreSQL cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "bench: installing wrk with apt" >&2
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk >&2
fi
exec python3 scripts/bench/bench.py
