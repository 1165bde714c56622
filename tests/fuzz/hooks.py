"""Schemathesis hooks (make test, make fuzz): what every real client does, and a schema cannot
say, done for the generated requests that should be accepted.

- A request with an Idempotency-Key is a new request: it gets a key of its own. Generated
  keys repeat across unrelated requests, and the server rightly answers the second one
  422 idempotency-key-reused (the key named another request).
- A cursor is opaque: a client sends one the server gave. A generated page[after] or
  page[before] is replaced by a real cursor of the same list and sort (or left out when the
  list is empty), so that the check of valid data still covers cursor pages.
- The run's own API key is never revoked: a PATCH or DELETE of it names another id.
- In an atomic request a lid names what an earlier add of the same request created, once
  per type: a generated lid that no earlier add defines becomes an id, and a lid an earlier
  add already took is dropped from the later add.

- Numbered pages and cursors do not mix (the server refuses page[number] with a cursor, and
  page[after] with page[before], which separate parameters cannot say): a valid request
  keeps page[number], or else page[after].

Requests generated to be refused keep what was generated, but for one leniency: the server
reads an amount sent as a JSON number exactly, from its digits, though the document asks for
a string. A number is then what the case gets wrong only if nothing else is, so a number
the case generated is sent as a one-element array instead, which is refused as it should be.

Runs are authenticated (scripts/e2e.sh passes the key's header, FUZZ_KEY for the requests made
here). With FUZZ_UNAUTHENTICATED=1, a run without credentials: the check only_unauthenticated
then asks that every operation that needs a key answers 401 unauthenticated, whatever was sent.
"""
import os
import uuid
import zlib

import requests
import schemathesis

BASE = os.environ["FUZZ_BASE"]
KEY = os.environ.get("FUZZ_KEY", "")
KEY_ID = os.environ.get("FUZZ_KEY_ID", "")
UNAUTHENTICATED = os.environ.get("FUZZ_UNAUTHENTICATED") == "1"


@schemathesis.check
def only_unauthenticated(ctx, response, case):
    """Without credentials, an operation that needs a key answers 401 unauthenticated."""
    if not UNAUTHENTICATED:
        return None
    if case.operation.definition.raw.get("security") == []:
        return None
    if response.status_code != 401:
        raise AssertionError(
            f"{case.method} {case.formatted_path} without credentials answered "
            f"{response.status_code}, not 401"
        )
    # A HEAD's answer is the GET's without its body: the status and the challenge say it all.
    if case.method.upper() != "HEAD":
        code = response.json()["errors"][0]["code"]
        if code != "unauthenticated":
            raise AssertionError(f"401 with code {code!r}")
    challenge = next(
        (value for name, value in response.headers.items() if name.lower() == "www-authenticate"),
        "",
    )
    if isinstance(challenge, list):
        challenge = challenge[0] if challenge else ""
    if not challenge.startswith('Bearer realm="wallet-api"'):
        raise AssertionError("401 without its Bearer challenge")
    return None


# Refusals that depend on what is stored, not on the document (a schema cannot say which
# currency a wallet holds, or which codes the catalogue has): a schema-valid request may get
# them, as it may get 404 or 409.
DATA_DEPENDENT = {"amount-precision", "unknown-currency", "currency-mismatch", "same-wallet",
                  "invalid-reversal", "same-currency", "no-liquidity-wallet", "liquidity-wallet-side",
                  "exchange-amount-zero", "balance-overflow", "url-not-allowed",
                  "replay-event-not-found",
                  # a rule between two attributes: capturedAmount comes with status captured
                  "capture-without-status"}


def reserved_txid(error):
    """A txid the schema allows that the service keeps for the captures of holds (hold:<id>)."""
    return (error.get("code") == "invalid-attribute"
            and (error.get("source") or {}).get("pointer") == "/data/attributes/txid"
            and '"hold:"' in (error.get("detail") or ""))


def refusal_of_state(error):
    """One error of a document that a schema-valid request may meet: the state it found
    (401, 403, 404, 409, 429), a rule of DATA_DEPENDENT, or a reserved txid."""
    status = str(error.get("status", ""))
    return (status in ("401", "403", "404", "409", "429")
            or (status == "422" and error.get("code") in DATA_DEPENDENT)
            or reserved_txid(error))
# And operations whose times must relate in ways a schema cannot say: a new key's expiresAt
# must be a time to come; a balance history's range must be a range (from before to), of at
# most 1,000 buckets.
TIME_DEPENDENT = {"POST /api-keys", "GET /wallets/{id}/balance-history"}


@schemathesis.check
def schema_valid_accepted(ctx, response, case):
    """A schema-valid request is accepted (schemathesis's positive_data_acceptance, which
    this replaces): 2xx or 3xx, or a refusal of the state it met (401, 403, 404, 409, 429), or
    a 5xx (another check's to judge); a 422 (or a 400 gathering errors of several statuses)
    only when each of its errors is such a refusal or a rule of DATA_DEPENDENT."""
    if UNAUTHENTICATED or not positive(case):
        return None
    status = response.status_code
    if status < 400 or status in (401, 403, 404, 409, 429) or status >= 500:
        return None
    label = f"{case.method.upper()} {case.path}"
    if label in TIME_DEPENDENT and status in (400, 422):
        return None
    try:
        errors = response.json().get("errors", [])
    except ValueError:
        errors = []
    codes = {error.get("code") for error in errors}
    # 422, or 400 when its errors' statuses differ: each error one the request may meet.
    if status in (400, 422) and errors and all(refusal_of_state(error) for error in errors):
        return None
    raise AssertionError(f"{label}: a schema-valid request refused {status} {sorted(codes)}")


def positive(case):
    return case.meta is not None and case.meta.generation.mode.is_positive


@schemathesis.hook
def before_call(context, case, **kwargs):
    # The run's own key is not the fuzzer's to revoke: a request naming it names no key.
    if (
        case.path.startswith("/api-keys/{id}")
        and case.method.upper() in ("PATCH", "DELETE")
        and str((case.path_parameters or {}).get("id")) == KEY_ID
    ):
        case.path_parameters["id"] = "999999999"
    if not positive(case):
        for data in documents(case.body):
            no_number_money(data)
        return
    headers = case.headers or {}
    for name in list(headers):
        if name.lower() == "idempotency-key":
            headers[name] = str(uuid.uuid4())
    query = case.query or {}
    if "page[number]" in query:
        query.pop("page[after]", None)
        query.pop("page[before]", None)
    if "page[after]" in query:
        query.pop("page[before]", None)
    cursors = [name for name in ("page[after]", "page[before]") if name in query]
    if cursors:
        cursor = real_cursor(case, query.get("sort"))
        for name in cursors:
            if cursor is None:
                del query[name]
            else:
                query[name] = cursor
    for data in documents(case.body):
        known_currency(data)
        transfer_sides(data)
        one_exchange_amount(data)
        quiet_webhook_endpoint(data)
    if isinstance(case.body, dict) and isinstance(case.body.get("atomic:operations"), list):
        consistent_lids(case.body["atomic:operations"])
        for operation in case.body["atomic:operations"]:
            if isinstance(operation, dict):
                expiry_to_come(operation.get("data"))
    elif isinstance(case.body, dict) and case.path == "/holds":
        expiry_to_come(case.body.get("data"))


MONEY = ("amount", "capturedAmount", "creditLimit", "sourceAmount", "destinationAmount", "rate")


def documents(body):
    """The resource objects a request body writes (its data, or each operation's)."""
    if not isinstance(body, dict):
        return []
    if isinstance(body.get("atomic:operations"), list):
        return [operation.get("data") for operation in body["atomic:operations"]
                if isinstance(operation, dict)]
    return [body.get("data")]


def no_number_money(data):
    """A money attribute generated as a JSON number, sent as an array (refused)."""
    if not isinstance(data, dict) or not isinstance(data.get("attributes"), dict):
        return
    attributes = data["attributes"]
    for name in MONEY:
        value = attributes.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            attributes[name] = [value]


def quiet_webhook_endpoint(data):
    """A webhook endpoint as a client writes one: a URL (a string the schema admits is seldom
    one), a replay from a time, and disabled, so that the service does not spend the run
    delivering every event to the endpoints the fuzzer makes."""
    if not isinstance(data, dict) or data.get("type") != "webhook-endpoints":
        return
    attributes = data.get("attributes")
    if not isinstance(attributes, dict):
        if "id" in data:
            return
        attributes = data["attributes"] = {}
    if "url" in attributes or "id" not in data:
        attributes["url"] = "http://127.0.0.1:9/hook"
    if "replayFrom" in attributes:
        attributes["replayFrom"] = "2026-01-01T00:00:00Z"
    attributes["status"] = "disabled"


# Currencies of the catalogue at several scales (0, 2, 3, 8, 18): a code the pattern admits
# is almost never one the catalogue has, so most wallets a schema generates would be refused.
CURRENCIES = ("JPY", "USD", "KWD", "BTC", "ETH", "XXX")


def known_currency(data):
    """A wallet's generated currency code, mostly replaced by one of the catalogue (the
    generated one is kept one time in four: unknown codes are answered 422 unknown-currency)."""
    if not isinstance(data, dict) or data.get("type") != "wallets":
        return
    attributes = data.get("attributes")
    if not isinstance(attributes, dict) or not isinstance(attributes.get("currency"), str):
        return
    pick = zlib.crc32(attributes["currency"].encode())  # the same on every run of a seed
    if pick % 4:
        attributes["currency"] = CURRENCIES[pick % len(CURRENCIES)]


def transfer_sides(data):
    """A transfer's wallets as a valid one names them: both sides, unless it reverses another
    (which a schema cannot say: each relationship is optional on its own)."""
    if not isinstance(data, dict) or data.get("type") != "transfers":
        return
    relationships = data.get("relationships")
    if not isinstance(relationships, dict):
        relationships = data["relationships"] = {}
    reverses = relationships.get("reverses")
    if isinstance(reverses, dict) and reverses.get("data") is not None:
        return
    for side, wallet in (("source", "1"), ("destination", "2")):
        if side not in relationships:
            relationships[side] = {"data": {"type": "wallets", "id": wallet}}


def one_exchange_amount(data):
    """An exchange's amounts as a valid one gives them: one of the two (which a schema cannot
    say: each is optional on its own). Both given: the destination's is left out; neither: a
    source amount of 1."""
    if not isinstance(data, dict) or data.get("type") != "exchanges":
        return
    attributes = data.get("attributes")
    if not isinstance(attributes, dict):
        return
    if "sourceAmount" in attributes:
        attributes.pop("destinationAmount", None)
    elif "destinationAmount" not in attributes:
        attributes["sourceAmount"] = "1"


def expiry_to_come(data):
    """A hold's expiresAt as a valid one is: a time to come (which a schema cannot say)."""
    if not isinstance(data, dict) or data.get("type") != "holds":
        return
    attributes = data.get("attributes")
    if isinstance(attributes, dict) and isinstance(attributes.get("expiresAt"), str):
        attributes["expiresAt"] = "2999-01-01T00:00:00Z"


def consistent_lids(operations):
    """Lids as the extension uses them: each defined by an add before it is used."""
    defined = set()

    def resolve(identifier):
        if not isinstance(identifier, dict) or "lid" not in identifier:
            return
        if (identifier.get("type"), identifier["lid"]) not in defined:
            del identifier["lid"]
            identifier["id"] = "1"

    for operation in operations:
        if not isinstance(operation, dict):
            continue
        data = operation.get("data")
        resolve(operation.get("ref"))
        if isinstance(data, dict):
            if operation.get("op") == "update" and "lid" in data:
                resolve(data)
            for relationship in (data.get("relationships") or {}).values():
                if isinstance(relationship, dict):
                    linkage = relationship.get("data")
                    for identifier in linkage if isinstance(linkage, list) else [linkage]:
                        resolve(identifier)
            if operation.get("op") == "add" and "lid" in data:
                key = (data.get("type"), data["lid"])
                if key in defined:
                    del data["lid"]
                else:
                    defined.add(key)


def real_cursor(case, sort):
    """The cursor of the first resource of the list this request reads, in its sort."""
    params = {"page[size]": "1"}
    if sort is not None:
        params["sort"] = sort
    response = requests.get(
        BASE + case.formatted_path,
        params=params,
        headers={"Accept": "application/vnd.api+json", "Authorization": f"Bearer {KEY}"},
        timeout=10,
    )
    if response.status_code != 200:
        return None
    data = response.json().get("data") or []
    if not data or "meta" not in data[0]:
        return None
    return data[0]["meta"]["page"]["cursor"]
