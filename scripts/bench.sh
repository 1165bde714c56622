#!/usr/bin/env bash
# make bench: installs wrk when missing, then runs scripts/bench/bench.py (see its header for
# the settings) against the project-local PostgreSQL cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null 2>&1 || scripts/install.sh wrk
exec python3 scripts/bench/bench.py
