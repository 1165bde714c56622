#!/usr/bin/env bash
# End-to-end: starts the service on a fresh database as a deployment runs it (migrated by the
# tables' owner, serving as the least-privilege role wallet_api, every client with an API key)
# and drives it from outside with examples/curl.sh, a JSON:API client library
# (jsonapi-requests, in .venv), clients generated from openapi.json (openapi-python-client;
# openapi-typescript with openapi-fetch), the console in headless Chromium (selenium) and
# schemathesis, authenticated and without credentials; runs the README's curl walkthrough as written on the embedded default
# (scripts/local.sh), then its psql session on the same database; then checks every balance
# with `wallet-api verify`. Needs DATABASE_URL (make test sets it) on a
# server where the user may create databases and roles.
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
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
LOG=$(mktemp)

# Migrated by the owner; served by the service's login role (a member of wallet_service); an
# admin key for the clients below.
DATABASE_URL=$E2E_URL "$BIN" migrate >/dev/null
"$PSQL" "$ADMIN_URL" -qX -v ON_ERROR_STOP=1 -c "DO \$\$ BEGIN
    CREATE ROLE wallet_api LOGIN IN ROLE wallet_service;
    EXCEPTION WHEN duplicate_object THEN NULL; END \$\$" >/dev/null
SERVICE_URL=$(sed -E 's#^([a-z]+://)([^@/]*@)?#\1wallet_api@#' <<<"$E2E_URL")
CREATED=$(DATABASE_URL=$E2E_URL "$BIN" keys create --name e2e --scope admin)
KEY=$(tail -n 1 <<<"$CREATED")
KEY_ID=$(sed -nE '1s/^created API key ([0-9]+) .*/\1/p' <<<"$CREATED")

# No rate limits here: the fuzzer sends as fast as it can, and its run without credentials
# sends made-up secrets by the thousand (the integration tests cover both limits).
# Webhooks may reach loopback here, for the receiver of examples/.
DATABASE_URL=$SERVICE_URL RATE_LIMIT=0 AUTH_FAILURE_LIMIT=0 PORT=$PORT \
    WEBHOOK_ALLOW_PRIVATE=on WEBHOOK_ALLOW_HTTP=on WEBHOOK_SCHEDULE=0s,500ms,1s,2s,5s,10s \
    RUST_LOG=warn,wallet_api::access=info "$BIN" serve >"$LOG" 2>&1 &
SERVER=$!
README_SERVER=
RECEIVER=
trap 'kill $SERVER $README_SERVER $RECEIVER 2>/dev/null || true; rm -f "$LOG" "$LOG".*' EXIT
BASE=http://127.0.0.1:$PORT
for _ in $(seq 1 100); do
    curl --silent --fail "$BASE/health" >/dev/null && break
    kill -0 $SERVER 2>/dev/null || { cat "$LOG"; exit 1; }
    sleep 0.1
done

if grep -q "could disable the triggers" "$LOG"; then
    echo "the service connects with a privileged role:" >&2
    cat "$LOG" >&2
    exit 1
fi

echo "== examples/curl.sh"
KEY=$KEY BASE=$BASE examples/curl.sh >"$LOG.curl" 2>&1 || { cat "$LOG.curl"; exit 1; }
tail -n 1 "$LOG.curl"
rm -f "$LOG.curl"

# examples/webhook_receiver.py, as a user runs it: an endpoint for every event type, a
# workload through the API and in psql (a bulk insert among it), and the receiver must get
# every event once (a redelivery is dropped by its webhook-id, and counted), each signature
# verified, each wallet's events with no gap.
echo "== examples/webhook_receiver.py: every event, verified, in each wallet's order"
RECEIVER_PORT=$(free_port)
ENDPOINT=$(curl --silent --fail -X POST "$BASE/webhook-endpoints" -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/vnd.api+json' \
    --data "{\"data\": {\"type\": \"webhook-endpoints\", \"attributes\": {
        \"url\": \"http://127.0.0.1:$RECEIVER_PORT/hook\", \"description\": \"e2e\"}}}")
ENDPOINT_ID=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["id"])' <<<"$ENDPOINT")
WEBHOOK_SECRET=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["meta"]["secret"])' <<<"$ENDPOINT") \
    python3 examples/webhook_receiver.py --port "$RECEIVER_PORT" --types-all >"$LOG.receiver" 2>&1 &
RECEIVER=$!
for i in 1 2 3; do
    WALLET=$(curl --silent --fail -X POST "$BASE/wallets" -H "Authorization: Bearer $KEY" \
        -H 'Content-Type: application/vnd.api+json' \
        --data "{\"data\": {\"type\": \"wallets\", \"attributes\": {\"label\": \"hooked-$i\"}}}" \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["id"])')
    for n in $(seq 1 10); do
        curl --silent --fail -o /dev/null -X POST "$BASE/transactions" -H "Authorization: Bearer $KEY" \
            -H 'Content-Type: application/vnd.api+json' \
            --data "{\"data\": {\"type\": \"transactions\", \"attributes\": {\"txid\": \"hook-$i-$n\",
                \"amount\": \"10.00\"}, \"relationships\": {\"wallet\": {\"data\": {\"type\": \"wallets\",
                \"id\": \"$WALLET\"}}}}}"
    done
    "$PSQL" "$E2E_URL" -qX -v ON_ERROR_STOP=1 -c "INSERT INTO transactions (wallet_id, txid, amount)
        SELECT $WALLET, 'hook-sql-$i-' || g, -1 FROM generate_series(1, 50) AS g" >/dev/null
done
# Done when nothing is left pending and the feed holds nothing the endpoint has not read.
delivered() {
    "$PSQL" "$E2E_URL" -qtAX -c "SELECT count(*) FILTER (WHERE status = 'succeeded') || ' '
        || count(*) FILTER (WHERE status <> 'succeeded') || ' '
        || (SELECT lag_seconds FROM webhook_endpoint_lag WHERE endpoint_id = $ENDPOINT_ID)
        FROM webhook_deliveries WHERE endpoint_id = $ENDPOINT_ID"
}
for _ in $(seq 1 300); do
    read -r SUCCEEDED PENDING LAG <<<"$(delivered)"
    [ "$PENDING" = 0 ] && [ "$LAG" = 0 ] && [ "$SUCCEEDED" -ge 216 ] && break
    sleep 0.2
done
STATS=$(curl --silent --fail "http://127.0.0.1:$RECEIVER_PORT/stats")
echo "delivered $SUCCEEDED, pending $PENDING; the receiver: $STATS"
python3 - "$STATS" "$SUCCEEDED" <<'PY' || { cat "$LOG.receiver"; exit 1; }
import json, sys
stats, succeeded = json.loads(sys.argv[1]), int(sys.argv[2])
assert stats["received"] == succeeded >= 216, stats
assert stats["gaps"] == [] and stats["refused"] == 0, stats
PY
curl --silent --fail -o /dev/null -X DELETE "$BASE/webhook-endpoints/$ENDPOINT_ID" \
    -H "Authorization: Bearer $KEY"
kill $RECEIVER 2>/dev/null || true
RECEIVER=
rm -f "$LOG.receiver"

# The Python tools, pinned, in .venv.
TOOLS=('jsonapi-requests==0.8.0' 'schemathesis==4.32.5' 'openapi-spec-validator==0.9.0'
       'openapi-python-client==0.29.1' 'selenium==4.27.1')
[ -x .venv/bin/python ] || python3 -m venv .venv
FROZEN=$(.venv/bin/pip freeze 2>/dev/null)
for tool in "${TOOLS[@]}"; do
    if ! grep -qx "$tool" <<<"$FROZEN"; then
        .venv/bin/pip install --quiet --disable-pip-version-check "${TOOLS[@]}"
        break
    fi
done

echo "== a JSON:API client library: jsonapi-requests"
.venv/bin/python tests/clients/jsonapi_requests_client.py "$BASE" "$KEY"

# Clients generated from openapi.json, as their users make them, each driven by a program
# that books a Decimal, pages by cursor, filters by metadata and transfers atomically.
echo "== a client generated from openapi.json: openapi-python-client"
rm -rf target/clients/python
mkdir -p target/clients/python
.venv/bin/openapi-python-client generate --path openapi.json --meta none \
    --output-path target/clients/python/wallet_api_client >"$LOG.generated" 2>&1 \
    || { cat "$LOG.generated"; exit 1; }
.venv/bin/python tests/clients/generated.py target/clients/python "$BASE" "$KEY"

echo "== a client generated from openapi.json: openapi-typescript and openapi-fetch"
command -v npm >/dev/null || scripts/install.sh nodejs npm
rm -rf target/clients/typescript
mkdir -p target/clients
cp -r tests/clients/typescript target/clients/typescript
(
    cd target/clients/typescript
    npm install --silent --no-audit --no-fund >"$LOG.npm" 2>&1 || { cat "$LOG.npm"; exit 1; }
    npx openapi-typescript ../../../openapi.json -o schema.d.ts >"$LOG.npm" 2>&1 \
        || { cat "$LOG.npm"; exit 1; }
    npx tsc -p . || exit 1
    node build/generated.js "$BASE" "$KEY"
)

# The console in headless Chromium (Debian's chromium and its WebDriver), driven by selenium:
# what an operator sees and does, checked against the API (tests/console/console_test.py).
# Its screenshots go to target/console/.
echo "== the console in a browser: headless Chromium"
scripts/install.sh chromium chromium-driver
.venv/bin/python tests/console/console_test.py "$BASE" "$KEY" --screenshots target/console

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
fuzz() { # REPORT_DIR [ARGS...]
    local report=$1
    shift
    (cd tests/fuzz && FUZZ_BASE=$BASE FUZZ_KEY=$KEY FUZZ_KEY_ID=$KEY_ID SCHEMATHESIS_HOOKS=hooks \
        PYTHONPATH=. ../../.venv/bin/schemathesis --config-file schemathesis.toml run \
        ../../openapi.json --url "$BASE" --no-color --workers 1 --seed "$SEED" \
        --generation-database none --report junit --report-dir "../../target/$report" "$@")
}
# HEAD is the GET without its body (tests/integration/protocol.rs holds every HEAD to its
# GET); its operations are fuzzed in the run without credentials below.
fuzz schemathesis -H "Authorization: Bearer $KEY" --checks all \
    --exclude-checks positive_data_acceptance --exclude-method HEAD \
    --max-examples "${FUZZ_EXAMPLES:-8}" >"$LOG.fuzz" 2>&1 || { cat "$LOG.fuzz"; exit 1; }
grep -E "generated|Seed|Examples|Coverage|Fuzzing|Stateful|Tested" "$LOG.fuzz"

echo "== schemathesis without credentials: every operation that needs a key answers 401"
FUZZ_UNAUTHENTICATED=1 fuzz schemathesis-unauthenticated \
    --checks not_a_server_error,content_type_conformance,only_unauthenticated \
    --phases fuzzing --max-examples 2 >"$LOG.fuzz" 2>&1 || { cat "$LOG.fuzz"; exit 1; }
grep -E "generated|Seed|Examples|Coverage|Fuzzing|Stateful|Tested" "$LOG.fuzz"
rm -f "$LOG.fuzz"
if grep -qE '" 5[0-9]{2} ' "$LOG"; then
    echo "the server answered 5xx:" >&2
    grep -E '" 5[0-9]{2} ' "$LOG" >&2
    exit 1
fi

echo "== wallet-api verify"
DATABASE_URL=$E2E_URL "$BIN" verify

# The README's walkthrough, as written (but for the port), on the embedded default: a fresh
# database of the local cluster, served by scripts/local.sh as make run serves, the key from
# make -s key. Every request must be answered as the README says: nothing refused 401 (the key
# works), no 5xx, and the overdraft it shows refused 409.
echo "== the README's curl walkthrough"
README_DB=wallet_api_readme
README_PORT=$(free_port)
env -u DATABASE_URL WALLET_PG_DB=$README_DB scripts/pg-local.sh url >/dev/null
PGOPTIONS="--client-min-messages=warning" "$PSQL" "$(env -u DATABASE_URL scripts/pg-local.sh url \
    | sed -E "s#/[^/?]*\?#/postgres?#")" -qX -v ON_ERROR_STOP=1 \
    -c "DROP DATABASE IF EXISTS $README_DB WITH (FORCE)" -c "CREATE DATABASE $README_DB" >/dev/null
rm -f ".pg/local-admin.$README_DB.key"
env -u DATABASE_URL WALLET_BIN=$BIN WALLET_PG_DB=$README_DB PORT=$README_PORT \
    RUST_LOG=warn,wallet_api::access=info scripts/local.sh serve >"$LOG.readme" 2>&1 &
README_SERVER=$!
for _ in $(seq 1 200); do
    curl --silent --fail "http://127.0.0.1:$README_PORT/health" >/dev/null && break
    kill -0 $README_SERVER 2>/dev/null || { cat "$LOG.readme"; exit 1; }
    sleep 0.1
done
awk '/^## A walk through the API with curl/ { section = 1 }
     section && /^```sh$/ { block = 1; next }
     block && /^```$/ { exit }
     block { print }' README.md | sed "s#127.0.0.1:8080#127.0.0.1:$README_PORT#g" >"$LOG.walk"
grep -q 'KEY=$(make -s key)' "$LOG.walk" || { echo "the walkthrough does not start with its key" >&2; exit 1; }
env -u DATABASE_URL WALLET_BIN=$BIN WALLET_PG_DB=$README_DB bash -euo pipefail "$LOG.walk" \
    >"$LOG.walked" 2>&1 || { cat "$LOG.walked"; exit 1; }
kill $README_SERVER
wait $README_SERVER 2>/dev/null || true
statuses=$(grep -oE '" [0-9]{3} ' "$LOG.readme" | tr -d '" ' | sort | uniq -c | tr '\n' ' ')
echo "answered: $statuses"
if grep -qE '" (401|5[0-9]{2}) ' "$LOG.readme" || ! grep -qE '" 409 ' "$LOG.readme"; then
    echo "the README's walkthrough was not answered as it says:" >&2
    cat "$LOG.walked" "$LOG.readme" >&2
    exit 1
fi
# Then its psql session, on the same database, in the README's order: every result and
# error it shows, as psql gives them.
echo "== the README's psql session"
PSQL=$PSQL python3 scripts/readme_sql.py "$(env -u DATABASE_URL WALLET_PG_DB=$README_DB scripts/pg-local.sh url)"
