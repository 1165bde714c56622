"""Writes openapi.json, the OpenAPI 3.1 description of the API (python3 scripts/openapi.py >
openapi.json). The integration tests check every response they get against the document, and
`make test` validates it and fuzzes the service from it with schemathesis."""
import json
J = "application/vnd.api+json"
ATOMIC = 'application/vnd.api+json; ext="https://jsonapi.org/ext/atomic"'
def ref(name, kind="schemas"): return {"$ref": f"#/components/{kind}/{name}"}
def content(schema, media=J): return {media: {"schema": schema}}

schemas = {
  "Money": {"type": "string", "pattern": r"^-?[0-9]{1,19}\.[0-9]{18}$",
            "description": "An exact decimal with 18 fractional digits, as a string (never a float)."},
  "MoneyInput": {"description": "An exact decimal: a string (\"12.50\") or a JSON number, read from its digits; at most 18 digits before and 18 after the point.",
                 "oneOf": [{"type": "string", "pattern": r"^-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,4})?$"}, {"type": "number"}]},
  "Timestamp": {"type": "string", "format": "date-time"},
  "Jsonapi": {"type": "object", "required": ["version"], "properties": {"version": {"const": "1.1"}, "ext": {"type": "array", "items": {"type": "string"}}}, "additionalProperties": False},
  "Link": {"type": "string"},
  "Links": {"type": "object", "required": ["self"], "additionalProperties": ref("Link")},
  "Identifier": {"type": "object", "required": ["type", "id"], "properties": {"type": {"type": "string"}, "id": {"type": "string"}}, "additionalProperties": False},
  "CursorMeta": {"type": "object", "properties": {"page": {"type": "object", "required": ["cursor"], "properties": {"cursor": {"type": "string"}}}}},
  "RelationshipLinks": {"type": "object", "required": ["links"], "properties": {"links": {"type": "object", "required": ["self", "related"], "properties": {"self": ref("Link"), "related": ref("Link")}, "additionalProperties": False}}, "additionalProperties": False},
  "ToOne": {"type": "object", "required": ["links", "data"], "properties": {
      "links": {"type": "object", "required": ["self", "related"], "properties": {"self": ref("Link"), "related": ref("Link")}, "additionalProperties": False},
      "data": {"oneOf": [ref("Identifier"), {"type": "null"}]}}, "additionalProperties": False},
  "Wallet": {"type": "object", "required": ["type", "id", "links"], "additionalProperties": False, "properties": {
      "type": {"const": "wallets"}, "id": {"type": "string"},
      "attributes": {"type": "object", "additionalProperties": False, "properties": {
          "label": {"type": "string", "minLength": 1}, "balance": ref("Money"),
          "createdAt": ref("Timestamp"), "updatedAt": ref("Timestamp")}},
      "relationships": {"type": "object", "additionalProperties": False, "properties": {
          "transactions": ref("RelationshipLinks"), "balance-changes": ref("RelationshipLinks")}},
      "links": ref("Links"),
      "meta": {"type": "object", "properties": {
          "page": {"type": "object", "properties": {"cursor": {"type": "string"}}},
          "balanceAt": {"type": "object", "required": ["time", "balance"], "properties": {"time": ref("Timestamp"), "balance": ref("Money")}, "additionalProperties": False}}}}},
  "Transaction": {"type": "object", "required": ["type", "id", "links"], "additionalProperties": False, "properties": {
      "type": {"const": "transactions"}, "id": {"type": "string"},
      "attributes": {"type": "object", "additionalProperties": False, "properties": {
          "txid": {"type": "string", "minLength": 1}, "amount": ref("Money"), "createdAt": ref("Timestamp")}},
      "relationships": {"type": "object", "additionalProperties": False, "properties": {"wallet": ref("ToOne")}},
      "links": ref("Links"), "meta": ref("CursorMeta")}},
  "BalanceChange": {"type": "object", "required": ["type", "id", "links"], "additionalProperties": False, "properties": {
      "type": {"const": "balance-changes"}, "id": {"type": "string"},
      "attributes": {"type": "object", "additionalProperties": False, "properties": {
          "delta": ref("Money"), "balance": ref("Money"),
          "operation": {"enum": ["insert", "update", "delete", "truncate", "repair"]},
          "transactionCount": {"type": "integer", "minimum": 0},
          "changedAt": ref("Timestamp"), "changedBy": {"type": "string"}, "application": {"type": "string"}}},
      "relationships": {"type": "object", "additionalProperties": False, "properties": {"wallet": ref("ToOne"), "transaction": ref("ToOne")}},
      "links": ref("Links"), "meta": ref("CursorMeta")}},
  "Resource": {"oneOf": [ref("Wallet"), ref("Transaction"), ref("BalanceChange")]},
  "PageMeta": {"type": "object", "properties": {"pagination": {"type": "object", "required": ["page", "pages", "count"], "properties": {
      "page": {"type": "integer", "minimum": 1}, "pages": {"type": "integer", "minimum": 1}, "count": {"type": "integer", "minimum": 0}}}}},
  "ErrorObject": {"type": "object", "required": ["status", "code", "title", "detail"], "additionalProperties": False, "properties": {
      "id": {"type": "string"}, "status": {"type": "string", "pattern": "^[45][0-9]{2}$"}, "code": {"type": "string"},
      "title": {"type": "string"}, "detail": {"type": "string"},
      "source": {"type": "object", "minProperties": 1, "maxProperties": 1, "properties": {
          "pointer": {"type": "string"}, "parameter": {"type": "string"}, "header": {"type": "string"}}, "additionalProperties": False},
      "links": {"type": "object"}, "meta": {"type": "object"}}},
  "ErrorDocument": {"type": "object", "required": ["errors", "jsonapi"], "additionalProperties": False, "properties": {
      "errors": {"type": "array", "minItems": 1, "items": ref("ErrorObject")}, "links": ref("Links"), "jsonapi": ref("Jsonapi")}},
  "HealthDocument": {"type": "object", "required": ["meta", "jsonapi"], "additionalProperties": False, "properties": {
      "meta": {"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}, "database": {"const": "ok"}}},
      "jsonapi": ref("Jsonapi")}},
}
def single_doc(name, nullable=False):
    data = ref(name) if not nullable else {"oneOf": [ref(name), {"type": "null"}]}
    return {"type": "object", "required": ["data", "links", "jsonapi"], "additionalProperties": False, "properties": {
        "data": data, "included": {"type": "array", "items": ref("Resource")}, "links": ref("Links"), "jsonapi": ref("Jsonapi")}}
def collection_doc(name):
    return {"type": "object", "required": ["data", "links", "jsonapi"], "additionalProperties": False, "properties": {
        "data": {"type": "array", "items": ref(name)}, "included": {"type": "array", "items": ref("Resource")},
        "links": ref("Links"), "meta": ref("PageMeta"), "jsonapi": ref("Jsonapi")}}
for name in ["Wallet", "Transaction", "BalanceChange"]:
    schemas[name + "Document"] = single_doc(name)
    schemas[name + "Collection"] = collection_doc(name)
schemas["WalletOrNullDocument"] = single_doc("Wallet", nullable=True)
schemas["TransactionOrNullDocument"] = single_doc("Transaction", nullable=True)
schemas["ToOneLinkageDocument"] = {"type": "object", "required": ["data", "links", "jsonapi"], "additionalProperties": False, "properties": {
    "data": {"oneOf": [ref("Identifier"), {"type": "null"}]}, "links": ref("Links"), "jsonapi": ref("Jsonapi")}}
schemas["ToManyLinkageDocument"] = {"type": "object", "required": ["data", "links", "jsonapi"], "additionalProperties": False, "properties": {
    "data": {"type": "array", "items": ref("Identifier")}, "links": ref("Links"), "meta": ref("PageMeta"), "jsonapi": ref("Jsonapi")}}
# request bodies
wallet_attrs = {"type": "object", "properties": {"label": {"type": "string", "minLength": 1, "maxLength": 255}}, "additionalProperties": False}
tx_attrs = {"type": "object", "properties": {"txid": {"type": "string", "minLength": 1, "maxLength": 255}, "amount": ref("MoneyInput")}, "additionalProperties": False}
wallet_linkage = {"type": "object", "required": ["data"], "properties": {"data": {"type": "object", "required": ["type", "id"], "properties": {"type": {"const": "wallets"}, "id": {"type": "string"}}, "additionalProperties": False}}, "additionalProperties": False}
schemas["WalletLinkageInput"] = wallet_linkage
schemas["WalletCreate"] = {"type": "object", "required": ["data"], "additionalProperties": False, "properties": {"data": {"type": "object", "required": ["type", "attributes"], "additionalProperties": False, "properties": {
    "type": {"const": "wallets"}, "attributes": {**wallet_attrs, "required": ["label"]}}}}}
schemas["WalletUpdate"] = {"type": "object", "required": ["data"], "additionalProperties": False, "properties": {"data": {"type": "object", "required": ["type", "id"], "additionalProperties": False, "properties": {
    "type": {"const": "wallets"}, "id": {"type": "string"}, "attributes": wallet_attrs}}}}
schemas["TransactionCreate"] = {"type": "object", "required": ["data"], "additionalProperties": False, "properties": {"data": {"type": "object", "required": ["type", "attributes", "relationships"], "additionalProperties": False, "properties": {
    "type": {"const": "transactions"}, "attributes": {**tx_attrs, "required": ["txid", "amount"]},
    "relationships": {"type": "object", "required": ["wallet"], "properties": {"wallet": ref("WalletLinkageInput")}, "additionalProperties": False}}}}}
schemas["TransactionUpdate"] = {"type": "object", "required": ["data"], "additionalProperties": False, "properties": {"data": {"type": "object", "required": ["type", "id"], "additionalProperties": False, "properties": {
    "type": {"const": "transactions"}, "id": {"type": "string"}, "attributes": tx_attrs,
    "relationships": {"type": "object", "properties": {"wallet": ref("WalletLinkageInput")}, "additionalProperties": False}}}}}
schemas["Ref"] = {"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}, "id": {"type": "string"}, "lid": {"type": "string"}, "relationship": {"type": "string"}}, "additionalProperties": False}
schemas["Operation"] = {"type": "object", "required": ["op"], "additionalProperties": False, "properties": {
    "op": {"enum": ["add", "update", "remove"]}, "ref": ref("Ref"), "href": {"type": "string"},
    "data": {"description": "A resource object (add, update), or a linkage (relationship operations)."}, "meta": {"type": "object"}}}
schemas["OperationsDocument"] = {"type": "object", "required": ["atomic:operations"], "additionalProperties": False, "properties": {
    "atomic:operations": {"type": "array", "minItems": 1, "maxItems": 1000, "items": ref("Operation")}, "meta": {"type": "object"}}}
schemas["ResultsDocument"] = {"type": "object", "required": ["atomic:results", "jsonapi"], "additionalProperties": False, "properties": {
    "atomic:results": {"type": "array", "items": {"type": "object", "additionalProperties": False, "properties": {
        "data": {"oneOf": [ref("Resource"), ref("Identifier"), {"type": "null"}]}, "meta": {"type": "object"}}}},
    "links": ref("Links"), "jsonapi": ref("Jsonapi")}}

headers = {
  "Location": {"description": "The URL of the created resource.", "schema": {"type": "string"}, "required": True},
  "RetryAfter": {"description": "Seconds to wait before retrying.", "schema": {"type": "string", "pattern": "^[0-9]+$"}},
  "IdempotentReplayed": {"description": "\"true\" when this is the stored response of an earlier request with the same Idempotency-Key.", "schema": {"const": "true"}},
}
def err(desc, retry=False):
    r = {"description": desc, "content": content(ref("ErrorDocument"))}
    if retry: r["headers"] = {"Retry-After": ref("RetryAfter", "headers")}
    return r
responses = {
  "BadRequest": err("A malformed request: JSON, document shape, query parameter or header (source names it)."),
  "Forbidden": err("A member or resource clients may not write."),
  "NotFound": err("No such resource (or one named in a relationship)."),
  "NotAcceptable": err("Accept asks only for JSON:API with unsupported parameters or extensions."),
  "RequestTimeout": err("The request body did not arrive in time; the connection is closed."),
  "Conflict": err("Insufficient funds, a duplicate txid, a type or id that does not match, a wallet with history, an Idempotency-Key in use.", retry=True),
  "PayloadTooLarge": err("A body over 1 MiB, or more than 1,000 operations."),
  "UnsupportedMediaType": err("A body not sent as application/vnd.api+json (or the atomic extension at /operations)."),
  "Unprocessable": err("A value that cannot be accepted: an invalid attribute, a missing or unknown member, a balance overflow, a reused Idempotency-Key."),
  "Unavailable": err("The database does not answer, or the service sheds load: `code` says whether a write may have happened.", retry=True),
  "InternalError": err("A bug: the error carries an id the server's log repeats."),
}
def replayed(r):
    if "$ref" in r: r = responses[r["$ref"].split("/")[-1]]
    r = dict(r); r["headers"] = {**r.get("headers", {}), "Idempotent-Replayed": ref("IdempotentReplayed", "headers")}; return r
def ok(schema, desc="OK", status_media=J): return {"description": desc, "content": content(ref(schema), status_media)}

params = {
  "id": {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}, "description": "The resource's id."},
  "include": {"name": "include", "in": "query", "schema": {"type": "string"}, "description": "Relationships to include, comma-separated."},
  "fieldsWallets": {"name": "fields[wallets]", "in": "query", "schema": {"type": "string"}},
  "fieldsTransactions": {"name": "fields[transactions]", "in": "query", "schema": {"type": "string"}},
  "fieldsBalanceChanges": {"name": "fields[balance-changes]", "in": "query", "schema": {"type": "string"}},
  "sort": {"name": "sort", "in": "query", "schema": {"type": "string"}, "description": "Sort fields, comma-separated, - for descending; id always ends the sort."},
  "pageSize": {"name": "page[size]", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
  "pageNumber": {"name": "page[number]", "in": "query", "schema": {"type": "integer", "minimum": 1}},
  "pageAfter": {"name": "page[after]", "in": "query", "schema": {"type": "string"}},
  "pageBefore": {"name": "page[before]", "in": "query", "schema": {"type": "string"}},
  "balanceAt": {"name": "balanceAt", "in": "query", "schema": {"type": "string", "format": "date-time"}, "description": "The time of a past balance, reported in the resource's meta.balanceAt."},
  "idempotencyKey": {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"}, "description": "Makes the write safe to retry: the same key with the same request replays the first response."},
}
fields_params = [ref("fieldsWallets", "parameters"), ref("fieldsTransactions", "parameters"), ref("fieldsBalanceChanges", "parameters")]
page_params = [ref(n, "parameters") for n in ["pageSize", "pageNumber", "pageAfter", "pageBefore"]]
FILTERS = {
  "wallets": [("id", "cmp"), ("label", "text"), ("balance", "cmp"), ("createdAt", "cmp")],
  "transactions": [("id", "cmp"), ("wallet", "cmp"), ("txid", "text"), ("amount", "cmp"), ("createdAt", "cmp")],
  "balance-changes": [("id", "cmp"), ("wallet", "cmp"), ("operation", "eq"), ("changedAt", "cmp")],
}
OPS = {"cmp": ["in", "gt", "gte", "lt", "lte"], "text": ["in", "startswith", "icontains"], "eq": ["in"]}
def filter_params(type_):
    out = []
    for field, ops in FILTERS[type_]:
        for op in [None] + OPS[ops]:
            name = f"filter[{field}]" if op is None else f"filter[{field}.{op}]"
            key = "filter-" + type_ + "-" + field + ("" if op is None else "-" + op)
            params[key] = {"name": name, "in": "query", "schema": {"type": "string"},
                           "description": f"{type_}: {field} " + ("equal to one of a comma list" if op in (None, "in") else op)}
            out.append(ref(key, "parameters"))
    return out
def error_responses(*codes):
    names = {400: "BadRequest", 403: "Forbidden", 404: "NotFound", 406: "NotAcceptable", 408: "RequestTimeout", 409: "Conflict", 413: "PayloadTooLarge", 415: "UnsupportedMediaType", 422: "Unprocessable", 500: "InternalError", 503: "Unavailable"}
    return {str(c): ref(names[c], "responses") for c in codes}
READ = (400, 404, 406, 500, 503)
WRITE = (400, 403, 404, 406, 408, 409, 413, 415, 422, 500, 503)
COLLECTION_TYPES = {"wallets": "Wallet", "transactions": "Transaction", "balance-changes": "BalanceChange"}
def list_op(type_, summary, extra=()):
    return {"summary": summary, "operationId": None,
            "parameters": [ref("include", "parameters"), *fields_params, ref("sort", "parameters"), *page_params, *filter_params(type_), *extra],
            "responses": {"200": ok(COLLECTION_TYPES[type_] + "Collection"), **error_responses(*READ)}}
def show_op(name, summary, extra=()):
    return {"summary": summary, "parameters": [ref("include", "parameters"), *fields_params, *extra],
            "responses": {"200": ok(name + "Document"), **error_responses(*READ)}}
def body(schema, media=J): return {"required": True, "content": content(ref(schema), media)}
def write_op(summary, req, status, doc, with_location=False, extra_params=()):
    r = ok(doc) if doc else {"description": "Deleted."}
    if with_location: r["headers"] = {"Location": ref("Location", "headers")}
    out = {"summary": summary, "parameters": [ref("idempotencyKey", "parameters"), *extra_params],
           "responses": {str(status): replayed(r), **{k: replayed(v) for k, v in error_responses(*WRITE).items()}}}
    if req: out["requestBody"] = body(req)
    return out
def refused(summary, req=True):
    out = {"summary": summary, "parameters": [], "responses": {"403": ref("Forbidden", "responses"), **error_responses(400, 404, 406, 413, 415, 500)}}
    if req: out["requestBody"] = {"required": False, "content": content({})}
    return out

idp = [ref("id", "parameters")]
paths = {}
paths["/health"] = {"get": {"summary": "Whether the service and its database answer (503 within about a second when the database does not).", "responses": {"200": ok("HealthDocument"), "503": ref("Unavailable", "responses")}}}
paths["/health/live"] = {"get": {"summary": "Whether the process is up (never touches the database).", "responses": {"200": ok("HealthDocument")}}}
paths["/metrics"] = {"get": {"summary": "Prometheus metrics (text format 0.0.4).", "responses": {"200": {"description": "Metrics.", "content": {"text/plain; version=0.0.4": {"schema": {"type": "string"}}}}}}}
paths["/openapi.json"] = {"get": {"summary": "This document.", "responses": {"200": {"description": "The OpenAPI document.", "content": {"application/json": {"schema": {"type": "object"}}}}}}}
# wallets
paths["/wallets"] = {"get": list_op("wallets", "List wallets."),
                     "post": write_op("Create a wallet (its balance starts at 0).", "WalletCreate", 201, "WalletDocument", True, [ref("include", "parameters"), *fields_params])}
paths["/wallets/{id}"] = {"parameters": idp,
    "get": show_op("Wallet", "A wallet; with balanceAt, also its balance at that time.", [ref("balanceAt", "parameters")]),
    "patch": write_op("Relabel a wallet.", "WalletUpdate", 200, "WalletDocument", extra_params=[ref("include", "parameters"), *fields_params]),
    "delete": write_op("Delete a wallet that never held money.", None, 204, None)}
for rel, type_ in [("transactions", "transactions"), ("balance-changes", "balance-changes")]:
    paths[f"/wallets/{{id}}/{rel}"] = {"parameters": idp, "get": list_op(type_, f"The wallet's {rel}, a full collection.")}
    paths[f"/wallets/{{id}}/relationships/{rel}"] = {"parameters": idp,
        "get": {"summary": f"The wallet's {rel} as linkage, paginated.", "parameters": [ref("sort", "parameters"), *page_params, *filter_params(type_)],
                "responses": {"200": ok("ToManyLinkageDocument"), **error_responses(*READ)}},
        "post": refused(f"Refused: the wallet's {rel} are not written here."), "patch": refused(f"Refused: the wallet's {rel} are not written here."),
        "delete": refused(f"Refused: the wallet's {rel} are not written here.")}
# transactions
paths["/transactions"] = {"get": list_op("transactions", "List transactions."),
                          "post": write_op("Book a transaction: the database moves the money, or refuses the whole write.", "TransactionCreate", 201, "TransactionDocument", True, [ref("include", "parameters"), *fields_params])}
paths["/transactions/{id}"] = {"parameters": idp, "get": show_op("Transaction", "A transaction."),
    "patch": write_op("Change a transaction's txid, amount or wallet: its money moves with it.", "TransactionUpdate", 200, "TransactionDocument", extra_params=[ref("include", "parameters"), *fields_params]),
    "delete": write_op("Delete a transaction: its amount leaves its wallet.", None, 204, None)}
paths["/transactions/{id}/wallet"] = {"parameters": idp, "get": {"summary": "The transaction's wallet.", "responses": {"200": ok("WalletOrNullDocument"), **error_responses(*READ)}}}
paths["/transactions/{id}/relationships/wallet"] = {"parameters": idp,
    "get": {"summary": "The transaction's wallet, as linkage.", "responses": {"200": ok("ToOneLinkageDocument"), **error_responses(*READ)}},
    "patch": write_op("Move the transaction, and its money, to another wallet.", "WalletLinkageInput", 200, "ToOneLinkageDocument")}
# balance changes
paths["/balance-changes"] = {"get": list_op("balance-changes", "The journal of every balance change."), "post": refused("Refused: the journal is written by the database.")}
paths["/balance-changes/{id}"] = {"parameters": idp, "get": show_op("BalanceChange", "One journal entry."),
    "patch": refused("Refused: the journal is append-only."), "delete": refused("Refused: the journal is append-only.", req=False)}
for rel, doc in [("wallet", "WalletOrNullDocument"), ("transaction", "TransactionOrNullDocument")]:
    paths[f"/balance-changes/{{id}}/{rel}"] = {"parameters": idp, "get": {"summary": f"The entry's {rel} (null when none; 404 when deleted since).", "responses": {"200": ok(doc), **error_responses(*READ)}}}
    paths[f"/balance-changes/{{id}}/relationships/{rel}"] = {"parameters": idp,
        "get": {"summary": f"The entry's {rel}, as linkage.", "responses": {"200": ok("ToOneLinkageDocument"), **error_responses(*READ)}},
        "patch": refused("Refused: the journal is append-only.")}
# operations
op_resp = {"200": {"description": "The results, one per operation, in order.", "content": content(ref("ResultsDocument"), ATOMIC)},
           "204": {"description": "No operation has a result with data (all removes)."}}
for c, v in error_responses(*WRITE).items():
    op_resp[c] = {"description": v["$ref"].split("/")[-1], "content": content(ref("ErrorDocument"), ATOMIC)} if c not in ("406", "415") else v
paths["/operations"] = {"post": {"summary": "Atomic Operations: several writes in one all-or-nothing request (jsonapi.org/ext/atomic).",
    "parameters": [ref("idempotencyKey", "parameters"), *fields_params],
    "requestBody": body("OperationsDocument", ATOMIC), "responses": {k: replayed(v) for k, v in op_resp.items()}}}

# operation ids
for path, item in paths.items():
    for method, op in item.items():
        if method == "parameters": continue
        slug = path.strip("/").replace("/", "-").replace("{", "").replace("}", "").replace(".", "-") or "root"
        op["operationId"] = f"{method}-{slug}"
        if op.get("operationId") is None: del op["operationId"]

doc = {"openapi": "3.1.0",
       "info": {"title": "wallet-api", "version": "0.1.0",
                "description": "Wallets and their transactions behind a JSON:API 1.1 interface; PostgreSQL keeps every balance. See README.md."},
       "paths": paths,
       "components": {"schemas": schemas, "responses": responses, "parameters": params, "headers": headers}}
print(json.dumps(doc, indent=2))
