#!/usr/bin/env bash
# A walk through the whole wallet-api with curl: wallets, deposits, withdrawals, an overdraft
# refused, filters, sorts, pages, include, sparse fieldsets, a transfer in one request, a hold
# captured in part and one voided, a retried request answered once, the balance journal, keys
# and scopes, and the errors a client meets.
#
#   KEY=$(make -s key) BASE=http://127.0.0.1:8080 examples/curl.sh
#
# KEY is the secret of an admin API key (make -s key prints the local cluster's).
# Every call prints the request and the response and stops the script if the status is not
# the one expected. Needs curl and python3 (to pick ids out of responses). Safe to run again on
# the same database: the labels and txids it writes are unique per run.
set -euo pipefail

BASE=${BASE:-http://127.0.0.1:8080}
: "${KEY:?KEY must hold the secret of an admin API key: KEY=\$(make -s key) $0}"
JSONAPI='application/vnd.api+json'
ATOMIC='application/vnd.api+json; ext="https://jsonapi.org/ext/atomic"'
RUN=${RUN:-$(date +%s)-$$}
BODY_FILE=$(mktemp)
trap 'rm -f "$BODY_FILE"' EXIT

# call STATUS METHOD PATH [BODY [HEADER]]: sends one request with the key AS (default KEY)
# (to /operations, as the Atomic Operations extension); RESPONSE holds the body afterwards.
call() {
    local expected=$1 method=$2 path=$3 body=${4:-} header=${5:-}
    local type=$JSONAPI
    [ "$path" = /operations ] && type=$ATOMIC
    local args=(--silent --show-error --globoff -X "$method" -H "Accept: $type"
        -o "$BODY_FILE" -w '%{http_code}')
    if [ -n "${AS-$KEY}" ]; then
        args+=(-H "Authorization: Bearer ${AS-$KEY}")
    fi
    if [ -n "$body" ]; then
        args+=(-H "Content-Type: $type" --data "$body")
    fi
    if [ -n "$header" ]; then
        args+=(-H "$header")
    fi
    echo
    # The secret shown by its first characters only: a log is no place for secrets.
    local secret=${AS-$KEY} as='(no key)'
    [ ${#secret} -le 20 ] || secret="${secret:0:11}..."
    [ -z "$secret" ] || as="-H 'Authorization: Bearer $secret'"
    echo "\$ curl -X $method '$BASE$path' $as${header:+ -H '$header'}${body:+ -d '$body'}"
    local status
    status=$(curl "${args[@]}" "$BASE$path")
    RESPONSE=$(cat "$BODY_FILE")
    echo "$status ${RESPONSE:0:600}"
    if [ "$status" != "$expected" ]; then
        echo "FAILED: expected HTTP $expected, got $status" >&2
        exit 1
    fi
}

# get EXPRESSION: a value from the last response, e.g. get 'data.attributes.balance'.
get() {
    python3 -c '
import json, sys
value = json.loads(sys.argv[1])
for key in sys.argv[2].split("."):
    value = value[int(key)] if isinstance(value, list) else value[key]
print(value if not isinstance(value, (dict, list)) else json.dumps(value))
' "$RESPONSE" "$1"
}

# expect EXPRESSION VALUE: stops unless the last response holds VALUE there.
expect() {
    local actual
    actual=$(get "$1")
    if [ "$actual" != "$2" ]; then
        echo "FAILED: $1 is $actual, expected $2" >&2
        exit 1
    fi
}

wallet() { echo "{\"data\": {\"type\": \"wallets\", \"attributes\": {\"label\": \"$1\"}}}"; }
transaction() { # WALLET TXID AMOUNT (AMOUNT as JSON: "12.50" or 12.5)
    echo "{\"data\": {\"type\": \"transactions\", \"attributes\": {\"txid\": \"$2\", \"amount\": $3},
      \"relationships\": {\"wallet\": {\"data\": {\"type\": \"wallets\", \"id\": \"$1\"}}}}}"
}

transfer() { # FROM TO AMOUNT REFERENCE: two operations, the debit first
    echo "{\"atomic:operations\": [
      {\"op\": \"add\", \"data\": $(transaction "$1" "$4-out" "\"-$3\"" | sed 's/^{"data": //; s/}$//')},
      {\"op\": \"add\", \"data\": $(transaction "$2" "$4-in" "\"$3\"" | sed 's/^{"data": //; s/}$//')}]}"
}

echo "# The service is up; anyone may ask"
AS='' call 200 GET /health

echo "# Everything else needs an API key"
AS='' call 401 GET /wallets
expect errors.0.code unauthenticated
AS=wk_not-a-key call 401 GET /wallets

echo "# A key that may only read, made by the admin key (its secret is shown this once)"
call 201 POST /api-keys "{\"data\": {\"type\": \"api-keys\", \"attributes\": {\"name\": \"reader-$RUN\", \"scopes\": [\"read\"]}}}"
READER=$(get meta.secret)
READER_ID=$(get data.id)

echo "# Two wallets; a new wallet's balance is 0"
call 201 POST /wallets "$(wallet "alice-$RUN")"
ALICE=$(get data.id)
expect data.attributes.balance 0.000000000000000000
call 201 POST /wallets "$(wallet "bob-$RUN")"
BOB=$(get data.id)

echo "# Deposits (amounts as strings, or as JSON numbers read exactly) and a withdrawal"
call 201 POST /transactions "$(transaction "$ALICE" "deposit-1-$RUN" '"100.50"')"
DEPOSIT=$(get data.id)
call 201 POST /transactions "$(transaction "$BOB" "deposit-2-$RUN" 20)"
call 201 POST /transactions "$(transaction "$ALICE" "withdrawal-1-$RUN" '"-30.25"')"
call 200 GET "/wallets/$ALICE"
expect data.attributes.balance 70.250000000000000000

echo "# An overdraft is refused whole, and the balance is untouched"
call 409 POST /transactions "$(transaction "$ALICE" "withdrawal-2-$RUN" '"-1000"')"
expect errors.0.code insufficient-funds
call 200 GET "/wallets/$ALICE"
expect data.attributes.balance 70.250000000000000000

echo "# A txid books money once"
call 409 POST /transactions "$(transaction "$ALICE" "deposit-1-$RUN" '"100.50"')"
expect errors.0.source.pointer /data/attributes/txid

echo "# Filters, in the style of django-rest-framework-json-api"
call 200 GET "/transactions?filter[wallet]=$ALICE&filter[amount.lt]=0"
expect data.0.attributes.txid "withdrawal-1-$RUN"
call 200 GET "/wallets?filter[label.startswith]=alice-$RUN"
expect data.0.id "$ALICE"

echo "# Sorting: largest amounts first"
call 200 GET "/wallets/$ALICE/transactions?sort=-amount"
expect data.0.attributes.amount 100.500000000000000000

echo "# Cursor pages: follow links.next"
call 200 GET "/transactions?filter[wallet]=$ALICE,$BOB&page[size]=2"
NEXT=$(get links.next)
call 200 GET "${NEXT#"$BASE"}"
expect data.0.attributes.txid "withdrawal-1-$RUN"

echo "# Numbered pages, with counts"
call 200 GET "/transactions?filter[wallet]=$ALICE,$BOB&page[number]=1&page[size]=2"
expect meta.pagination.count 3
expect meta.pagination.pages 2

echo "# A transaction with its wallet included, and only some fields"
call 200 GET "/transactions/$DEPOSIT?include=wallet&fields[wallets]=label,balance&fields[transactions]=amount,wallet"
expect included.0.attributes.balance 70.250000000000000000
call 200 GET "/wallets?fields[wallets]=label&filter[id]=$ALICE"

echo "# Moving a transaction to another wallet moves its money"
call 201 POST /transactions "$(transaction "$ALICE" "gift-$RUN" 5)"
GIFT=$(get data.id)
call 200 PATCH "/transactions/$GIFT/relationships/wallet" "{\"data\": {\"type\": \"wallets\", \"id\": \"$BOB\"}}"
call 200 GET "/wallets/$BOB"
expect data.attributes.balance 25.000000000000000000

echo "# Deleting a transaction takes its money back"
call 204 DELETE "/transactions/$GIFT"
call 200 GET "/wallets/$BOB"
expect data.attributes.balance 20.000000000000000000

echo "# A transfer of 25 from alice to bob: one request, all or nothing (Atomic Operations)"
call 200 POST /operations "$(transfer "$ALICE" "$BOB" 25 "transfer-1-$RUN")"
expect atomic:results.1.data.attributes.amount 25.000000000000000000
call 200 GET "/wallets/$BOB"
expect data.attributes.balance 45.000000000000000000

echo "# A transfer its debit cannot pay writes nothing; the error points at that operation"
call 409 POST /operations "$(transfer "$ALICE" "$BOB" 1000 "transfer-2-$RUN")"
expect errors.0.source.pointer /atomic:operations/0/data/attributes/amount
call 200 GET "/wallets/$ALICE"
expect data.attributes.balance 45.250000000000000000

echo "# A hold reserves 40 of alice's 45.25: her balance stays, her available balance drops"
hold() { # WALLET AMOUNT
    echo "{\"data\": {\"type\": \"holds\", \"attributes\": {\"amount\": \"$2\"},
      \"relationships\": {\"wallet\": {\"data\": {\"type\": \"wallets\", \"id\": \"$1\"}}}}}"
}
resolve() { # HOLD ATTRIBUTES
    echo "{\"data\": {\"type\": \"holds\", \"id\": \"$1\", \"attributes\": $2}}"
}
call 201 POST /holds "$(hold "$ALICE" 40)"
HOLD=$(get data.id)
expect data.attributes.status pending
call 200 GET "/wallets/$ALICE"
expect data.attributes.balance 45.250000000000000000
expect data.attributes.held 40.000000000000000000
expect data.attributes.available 5.250000000000000000

echo "# Held money cannot be spent: the debit is refused, saying what is available"
call 409 POST /transactions "$(transaction "$ALICE" "spend-held-$RUN" '"-10"')"
expect errors.0.code insufficient-funds

echo "# Capturing 30 of the hold books a debit of 30 and releases the other 10"
call 200 PATCH "/holds/$HOLD?include=transaction" "$(resolve "$HOLD" '{"status": "captured", "capturedAmount": "30"}')"
expect data.attributes.status captured
expect included.0.attributes.txid "hold:$HOLD"
expect included.0.attributes.amount -30.000000000000000000
call 200 GET "/wallets/$ALICE"
expect data.attributes.balance 15.250000000000000000
expect data.attributes.available 15.250000000000000000

echo "# A hold is resolved once: voiding it now is a 409 that names its status"
call 409 PATCH "/holds/$HOLD" "$(resolve "$HOLD" '{"status": "voided"}')"
expect errors.0.code hold-not-pending

echo "# A void releases a hold and books nothing"
call 201 POST /holds "$(hold "$ALICE" 5)"
VOID=$(get data.id)
call 200 PATCH "/holds/$VOID" "$(resolve "$VOID" '{"status": "voided"}')"
call 200 GET "/wallets/$ALICE"
expect data.attributes.balance 15.250000000000000000
expect data.attributes.held 0.000000000000000000

echo "# Metadata: a payment tagged with your own ids, found by its invoice, then merged into"
call 201 POST /transactions "{\"data\": {\"type\": \"transactions\", \"attributes\": {\"txid\": \"invoice-$RUN\", \"amount\": \"1\",
      \"metadata\": {\"invoice\": \"INV-$RUN\", \"customer\": \"c-17\"}},
      \"relationships\": {\"wallet\": {\"data\": {\"type\": \"wallets\", \"id\": \"$ALICE\"}}}}}"
PAID=$(get data.id)
expect data.attributes.metadata.invoice "INV-$RUN"
call 200 GET "/transactions?filter[metadata.invoice]=INV-$RUN"
expect data.0.id "$PAID"
call 200 GET "/transactions?filter[metadata.invoice]=INV-$RUN&filter[wallet]=$BOB"
expect data '[]'
echo "# An update merges: a key given a value is set, a key given null removed, the rest kept"
call 200 PATCH "/transactions/$PAID" "{\"data\": {\"type\": \"transactions\", \"id\": \"$PAID\",
      \"attributes\": {\"metadata\": {\"paid\": \"yes\", \"customer\": null}}}}"
expect data.attributes.metadata "{\"invoice\": \"INV-$RUN\", \"paid\": \"yes\"}"
call 200 GET "/transactions?filter[metadata.customer.exists]=false&filter[metadata.paid]=yes&filter[wallet]=$ALICE"
expect data.0.id "$PAID"
echo "# Metadata outside its limits: 422, pointing at it"
call 422 PATCH "/transactions/$PAID" "{\"data\": {\"type\": \"transactions\", \"id\": \"$PAID\",
      \"attributes\": {\"metadata\": {\"amount\": 5}}}}"
expect errors.0.source.pointer /data/attributes/metadata
call 400 GET "/transactions?filter[metadata.paid.exists]=maybe"

echo "# A retry with the same Idempotency-Key gets the first answer and books nothing more"
call 201 POST /transactions "$(transaction "$BOB" "retried-$RUN" 1)" "Idempotency-Key: retry-$RUN"
RETRIED=$(get data.id)
call 201 POST /transactions "$(transaction "$BOB" "retried-$RUN" 1)" "Idempotency-Key: retry-$RUN"
expect data.id "$RETRIED"
call 200 GET "/wallets/$BOB"
expect data.attributes.balance 46.000000000000000000

echo "# Every balance change is on record: bob's journal, newest first, and his balance back then"
call 200 GET "/wallets/$BOB/balance-changes?sort=-id&page[size]=2"
expect data.0.attributes.balance 46.000000000000000000
expect data.1.attributes.operation insert
THEN=$(get data.1.attributes.changedAt)
call 200 GET "/wallets/$BOB?balanceAt=${THEN/+/%2B}"
expect data.meta.balanceAt.balance 45.000000000000000000

echo "# Errors a client meets, each a JSON:API error object"
call 422 POST /transactions "$(transaction "$ALICE" "bad-$RUN" '"12.3.4"')"
call 422 POST /transactions "$(transaction "$ALICE" "zero-$RUN" 0)"
call 403 PATCH "/wallets/$ALICE" "{\"data\": {\"type\": \"wallets\", \"id\": \"$ALICE\", \"attributes\": {\"balance\": \"1000000\"}}}"
call 404 POST /transactions "$(transaction 999999999 "lost-$RUN" 1)"
call 400 GET "/transactions?sort=colour"
call 400 GET "/transactions?page[size]=1000"
call 400 GET "/transactions?colour=red"
call 409 DELETE "/wallets/$ALICE"
call 404 GET /wallets/999999999
call 405 DELETE /wallets
echo
echo "\$ curl -X POST '$BASE/wallets' -H 'Content-Type: application/json' -d '...'"
STATUS=$(curl --silent -o "$BODY_FILE" -w '%{http_code}' -X POST "$BASE/wallets" \
    -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' --data "$(wallet x)")
echo "$STATUS $(cat "$BODY_FILE")"
[ "$STATUS" = 415 ] || { echo "FAILED: expected 415, got $STATUS" >&2; exit 1; }

echo "# The reader key reads, and may not write (403 naming the scope it lacks)"
sleep 1 # the service takes a new key within a second
AS=$READER call 200 GET "/wallets/$ALICE"
AS=$READER call 403 POST /wallets "$(wallet "not-$RUN")"
expect errors.0.meta.requiredScope write

echo "# Every change names the key that made it"
call 200 GET "/wallets/$BOB/balance-changes?sort=-id&page[size]=1"
expect data.0.relationships.actor.data.type api-keys

echo "# A revoked key stops working within a second"
call 204 DELETE "/api-keys/$READER_ID"
sleep 1
AS=$READER call 401 GET "/wallets/$ALICE"

echo "# A wallet in dollars: amounts at its scale, cents and no finer"
call 201 POST /wallets "{\"data\": {\"type\": \"wallets\", \"attributes\": {\"label\": \"usd-$RUN\", \"currency\": \"USD\"}}}"
DOLLARS=$(get data.id)
call 201 POST /transactions "$(transaction "$DOLLARS" "usd-$RUN" '"12.5"')"
expect data.attributes.amount 12.50
call 422 POST /transactions "$(transaction "$DOLLARS" "usd-fine-$RUN" '"0.005"')"
expect errors.0.code amount-precision
call 422 POST /wallets "{\"data\": {\"type\": \"wallets\", \"attributes\": {\"label\": \"x\", \"currency\": \"QQQ\"}}}"
expect errors.0.code unknown-currency
call 200 GET "/wallets/$DOLLARS?include=currencyDetails"
expect included.0.attributes.scale 2

echo "# The catalogue: read by any key, added to by admin keys; a scale in use is frozen"
call 200 GET "/currencies?filter[kind]=crypto&sort=code&page[size]=3"
call 200 GET /currencies/JPY
expect data.attributes.scale 0
CODE="PTS$(printf '%s' "$RUN" | tr -cd '0-9' | tail -c 8)"
call 201 POST /currencies "{\"data\": {\"type\": \"currencies\", \"attributes\": {\"code\": \"$CODE\", \"name\": \"Points\", \"scale\": 2}}}"
expect data.id "$CODE"
call 201 POST /wallets "{\"data\": {\"type\": \"wallets\", \"attributes\": {\"label\": \"points-$RUN\", \"currency\": \"$CODE\"}}}"
call 409 PATCH "/currencies/$CODE" "{\"data\": {\"type\": \"currencies\", \"id\": \"$CODE\", \"attributes\": {\"scale\": 4}}}"
expect errors.0.code currency-in-use

echo "# A transfer: both legs in one write, reversed in part; its legs keep their money"
call 201 POST /wallets "{\"data\": {\"type\": \"wallets\", \"attributes\": {\"label\": \"usd-2-$RUN\", \"currency\": \"USD\"}}}"
DOLLARS_2=$(get data.id)
transfer() { # TXID SOURCE DESTINATION AMOUNT
    echo "{\"data\": {\"type\": \"transfers\", \"attributes\": {\"txid\": \"$1\", \"amount\": \"$4\"},
      \"relationships\": {\"source\": {\"data\": {\"type\": \"wallets\", \"id\": \"$2\"}},
      \"destination\": {\"data\": {\"type\": \"wallets\", \"id\": \"$3\"}}}}}"
}
call 201 POST "/transfers?include=debit,credit" "$(transfer "move-$RUN" "$DOLLARS" "$DOLLARS_2" 10)"
TRANSFER=$(get data.id)
DEBIT=$(get data.relationships.debit.data.id)
expect data.attributes.amount 10.00
call 409 DELETE "/transactions/$DEBIT"
expect errors.0.code transfer-leg
call 422 POST /transfers "$(transfer "self-$RUN" "$DOLLARS" "$DOLLARS" 1)"
expect errors.0.code same-wallet
call 201 POST /transfers "{\"data\": {\"type\": \"transfers\", \"attributes\": {\"txid\": \"back-$RUN\", \"amount\": \"4\"},
  \"relationships\": {\"reverses\": {\"data\": {\"type\": \"transfers\", \"id\": \"$TRANSFER\"}}}}}"
call 200 GET "/transfers/$TRANSFER"
expect data.attributes.reversedAmount 4.00
call 403 DELETE "/transfers/$TRANSFER"

echo "# Buy 0.01 BTC with dollars at a quoted rate, through the house's liquidity wallets"
call 201 POST /wallets "{\"data\": {\"type\": \"wallets\", \"attributes\": {\"label\": \"house-usd-$RUN\", \"currency\": \"USD\", \"creditLimit\": \"1000000\"}}}"
HOUSE_USD=$(get data.id)
call 201 POST /wallets "{\"data\": {\"type\": \"wallets\", \"attributes\": {\"label\": \"house-btc-$RUN\", \"currency\": \"BTC\", \"creditLimit\": \"100\"}}}"
HOUSE_BTC=$(get data.id)
expect data.attributes.available 100.00000000
liquidity() { # CURRENCY WALLET
    echo "{\"data\": {\"type\": \"currencies\", \"id\": \"$1\",
      \"relationships\": {\"liquidityWallet\": {\"data\": {\"type\": \"wallets\", \"id\": \"$2\"}}}}}"
}
call 200 PATCH /currencies/USD "$(liquidity USD "$HOUSE_USD")"
call 200 PATCH /currencies/BTC "$(liquidity BTC "$HOUSE_BTC")"
call 422 PATCH /currencies/BTC "$(liquidity BTC "$HOUSE_USD")"
expect errors.0.code currency-mismatch
call 201 POST /wallets "{\"data\": {\"type\": \"wallets\", \"attributes\": {\"label\": \"btc-$RUN\", \"currency\": \"BTC\"}}}"
BITCOIN=$(get data.id)
call 201 POST /transactions "$(transaction "$DOLLARS" "usd-funds-$RUN" '"1000"')"
exchange() { # TXID SOURCE DESTINATION AMOUNTS RATE
    echo "{\"data\": {\"type\": \"exchanges\", \"attributes\": {\"txid\": \"$1\", $4, \"rate\": \"$5\"},
      \"relationships\": {\"source\": {\"data\": {\"type\": \"wallets\", \"id\": \"$2\"}},
      \"destination\": {\"data\": {\"type\": \"wallets\", \"id\": \"$3\"}}}}}"
}
call 201 POST "/exchanges?include=transfers" "$(exchange "buy-btc-$RUN" "$DOLLARS" "$BITCOIN" '"destinationAmount": "0.01"' 0.0000105)"
expect data.attributes.sourceAmount 952.39
expect data.attributes.destinationAmount 0.01000000
call 200 GET "/wallets/$HOUSE_BTC"
expect data.attributes.balance -0.01000000
call 422 POST /exchanges "$(exchange "same-$RUN" "$DOLLARS" "$DOLLARS_2" '"sourceAmount": "1"' 1)"
expect errors.0.code same-currency
call 409 POST /exchanges "$(exchange "too-much-$RUN" "$DOLLARS" "$BITCOIN" '"sourceAmount": "100000"' 0.0000105)"
expect errors.0.code insufficient-funds

echo "# Events: every change of a wallet in the order it committed; a balance monitor; the stream"
call 200 GET "/events?filter[wallet]=$BITCOIN&page[size]=2"
expect data.0.attributes.eventType wallet.created
call 400 GET "/events?sort=-id"
expect errors.0.source.parameter sort
call 201 POST /balance-monitors "{\"data\": {\"type\": \"balance-monitors\",
  \"attributes\": {\"field\": \"balance\", \"operator\": \"lt\", \"amount\": \"1\"},
  \"relationships\": {\"wallet\": {\"data\": {\"type\": \"wallets\", \"id\": \"$BITCOIN\"}}}}}"
expect data.attributes.state triggered
echo
echo "\$ curl -N --max-time 2 '$BASE/events?filter[wallet]=$BITCOIN&page[after]=...' -H 'Accept: text/event-stream'"
FIRST=$(curl --silent --globoff -H "Authorization: Bearer $KEY" \
    "$BASE/events?filter[wallet]=$BITCOIN&page[size]=1" | python3 -c 'import json, sys; print(json.load(sys.stdin)["data"][0]["meta"]["page"]["cursor"])')
curl --silent --no-buffer --globoff --max-time 2 -H "Authorization: Bearer $KEY" \
    -H 'Accept: text/event-stream' "$BASE/events?filter[wallet]=$BITCOIN&page[after]=$FIRST" \
    >"$BODY_FILE" || true
head -c 300 "$BODY_FILE"; echo
grep -q '^event: monitor.triggered' "$BODY_FILE" || { echo "FAILED: the stream did not replay the wallet's events" >&2; exit 1; }

echo "# A webhook endpoint (admin keys): its signing secret is shown this once; made disabled"
echo "# here, so that nothing is sent to the example address"
call 201 POST /webhook-endpoints "{\"data\": {\"type\": \"webhook-endpoints\", \"attributes\": {
  \"url\": \"https://93.184.215.14/wallet-api\", \"eventTypes\": [\"balance.changed\"],
  \"status\": \"disabled\", \"description\": \"curl-$RUN\"},
  \"relationships\": {\"wallets\": {\"data\": [{\"type\": \"wallets\", \"id\": \"$BITCOIN\"}]}}}}"
HOOK=$(get data.id)
get meta.secret | grep -q '^whsec_' || { echo "FAILED: no whsec_ secret" >&2; exit 1; }
expect data.attributes.disabledReason "disabled by a client"
echo "# A new secret (the old one signs beside it for 24 hours), shown once in meta.secret"
call 200 PATCH "/webhook-endpoints/$HOOK" "{\"data\": {\"type\": \"webhook-endpoints\", \"id\": \"$HOOK\",
  \"meta\": {\"rotateSecret\": true}}}"
get meta.secret | grep -q '^whsec_' || { echo "FAILED: no rotated secret" >&2; exit 1; }
echo "# The delivery log, by endpoint"
call 200 GET "/webhook-deliveries?filter[endpoint]=$HOOK"
call 204 DELETE "/webhook-endpoints/$HOOK"
echo "# A URL that reaches into the service's own network (the cloud metadata address): refused"
echo "# (unless WEBHOOK_ALLOW_PRIVATE=on)"
echo "\$ curl -X POST '$BASE/webhook-endpoints' ... url https://169.254.169.254/latest/meta-data/"
STATUS=$(curl --silent --show-error -o "$BODY_FILE" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $KEY" -H "Content-Type: $JSONAPI" "$BASE/webhook-endpoints" \
    --data '{"data": {"type": "webhook-endpoints", "attributes": {"url": "https://169.254.169.254/latest/meta-data/", "status": "disabled"}}}')
RESPONSE=$(cat "$BODY_FILE")
echo "$STATUS ${RESPONSE:0:600}"
case $STATUS in
    422) expect errors.0.code url-not-allowed ;;
    201) echo "(allowed: this service runs with WEBHOOK_ALLOW_PRIVATE=on)"
         call 204 DELETE "/webhook-endpoints/$(get data.id)" ;;
    *) echo "FAILED: expected HTTP 422 (or 201 with WEBHOOK_ALLOW_PRIVATE=on), got $STATUS" >&2
       exit 1 ;;
esac

echo "# An empty wallet can be deleted"
call 201 POST /wallets "$(wallet "empty-$RUN")"
EMPTY=$(get data.id)
call 204 DELETE "/wallets/$EMPTY"

echo
echo "curl walkthrough: all calls answered as expected"
