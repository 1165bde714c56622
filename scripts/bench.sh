#!/usr/bin/env bash
# make bench: installs wrk when missing, then runs scripts/bench/bench.py (see its header for
# the settings) against the project-local PostgreSQL cluster, then the webhook and the
# balance-history scenarios (scripts/bench/webhooks.py, history.py: their figures are
# printed, and quoted in BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null 2>&1 || scripts/install.sh wrk
python3 scripts/bench/bench.py
python3 scripts/bench/webhooks.py
python3 scripts/bench/history.py
