#!/usr/bin/env bash
# End-to-end: starts the service on a fresh database and drives it from outside with
# examples/curl.sh and with a JSON:API client library (jsonapi-requests, in .venv); then
# checks every balance with `wallet-api verify`. Needs DATABASE_URL (make test sets it) on a
# server where the user may create databases.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${DATABASE_URL:?DATABASE_URL must be set; run make e2e}"
E2E_DB=wallet_api_e2e
# The same server, another database.
E2E_URL=$(sed -E "s#^([a-z]+://[^/?]*)/[^?]*#\1/$E2E_DB#" <<<"$DATABASE_URL")
ADMIN_URL=$(sed -E "s#^([a-z]+://[^/?]*)/[^?]*#\1/postgres#" <<<"$DATABASE_URL")

PSQL=$(command -v psql || ls -d /usr/lib/postgresql/*/bin/psql | sort -V | tail -n 1)
PGOPTIONS="--client-min-messages=warning" "$PSQL" "$ADMIN_URL" -qX -v ON_ERROR_STOP=1 \
    -c "DROP DATABASE IF EXISTS $E2E_DB WITH (FORCE)" -c "CREATE DATABASE $E2E_DB" >/dev/null

cargo build --quiet
BIN=target/debug/wallet-api
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
LOG=$(mktemp)
DATABASE_URL=$E2E_URL PORT=$PORT RUST_LOG=warn,actix_web::middleware::logger=info "$BIN" serve >"$LOG" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -f "$LOG"' EXIT
BASE=http://127.0.0.1:$PORT
for _ in $(seq 1 100); do
    curl --silent --fail "$BASE/health" >/dev/null && break
    kill -0 $SERVER 2>/dev/null || { cat "$LOG"; exit 1; }
    sleep 0.1
done

echo "== examples/curl.sh"
BASE=$BASE examples/curl.sh >"$LOG.curl" 2>&1 || { cat "$LOG.curl"; exit 1; }
tail -n 1 "$LOG.curl"
rm -f "$LOG.curl"

# The Python tools, pinned, in .venv.
TOOLS=('jsonapi-requests==0.8.0' 'schemathesis==4.32.5' 'openapi-spec-validator==0.9.0')
if [ ! -x .venv/bin/python ] || ! .venv/bin/pip freeze 2>/dev/null | grep -qx "${TOOLS[1]}"; then
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check "${TOOLS[@]}"
fi

echo "== a JSON:API client library: jsonapi-requests"
.venv/bin/python tests/clients/jsonapi_requests_client.py "$BASE"

echo "== openapi.json: a valid OpenAPI 3.1 document (cargo test keeps it equal to the code's)"
.venv/bin/openapi-spec-validator openapi.json

# Every check schemathesis has, in every phase (coverage, fuzzing, and the stateful phase
# over the document's links), with the hooks of tests/fuzz/hooks.py (what real clients do
# that a schema cannot say: fresh Idempotency-Keys, cursors the server gave, lids defined
# before use). FUZZ_EXAMPLES cases per operation and phase (make fuzz raises it); a fixed
# seed in make test so that a failure reproduces, FUZZ_SEED=random for a new one.
echo "== schemathesis --checks all: generated requests against every operation of openapi.json"
SEED=${FUZZ_SEED:-1}
[ "$SEED" = random ] && SEED=$RANDOM$RANDOM
(cd tests/fuzz && FUZZ_BASE=$BASE SCHEMATHESIS_HOOKS=hooks PYTHONPATH=. \
    ../../.venv/bin/schemathesis --config-file schemathesis.toml run ../../openapi.json \
    --url "$BASE" --no-color --workers 1 --checks all \
    --max-examples "${FUZZ_EXAMPLES:-20}" --seed "$SEED" --generation-database none \
    --report junit --report-dir ../../target/schemathesis) >"$LOG.fuzz" 2>&1 \
    || { cat "$LOG.fuzz"; exit 1; }
grep -E "generated|Seed" "$LOG.fuzz"
rm -f "$LOG.fuzz"
if grep -qE '" 5[0-9]{2} ' "$LOG"; then
    echo "the server answered 5xx:" >&2
    grep -E '" 5[0-9]{2} ' "$LOG" >&2
    exit 1
fi

echo "== wallet-api verify"
DATABASE_URL=$E2E_URL "$BIN" verify
