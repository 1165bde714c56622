"""Drives the service with a real JSON:API client library, jsonapi-requests (PyPI).

Usage: python jsonapi_requests_client.py BASE_URL API_KEY

The key goes out as the library sends credentials: a requests auth object (its AUTH setting).

Creates a wallet and transactions through the library's ORM (the wallet sent as a
relationship), lists with include and filter, follows `next` links to the end, checks that an
overdraft is refused, and reads the new balance. Exits non-zero on the first surprise.
"""

import sys
from decimal import Decimal

import requests
from jsonapi_requests import orm, request_factory

BASE, KEY = sys.argv[1], sys.argv[2]


class Bearer(requests.auth.AuthBase):
    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {KEY}"
        return request


api = orm.OrmApi.config(
    {"API_ROOT": BASE, "APPEND_SLASH": False, "TIMEOUT": 10, "RETRIES": 1, "AUTH": Bearer()}
)


class Wallet(orm.ApiModel):
    class Meta:
        type = "wallets"
        api = api

    label = orm.AttributeField("label")
    balance = orm.AttributeField("balance")


class Transaction(orm.ApiModel):
    class Meta:
        type = "transactions"
        api = api

    txid = orm.AttributeField("txid")
    amount = orm.AttributeField("amount")
    wallet = orm.RelationField("wallet")


def check(condition, message):
    if not condition:
        print(f"jsonapi-requests client: FAILED: {message}", file=sys.stderr)
        sys.exit(1)


wallet = Wallet()
wallet.label = "client library"
wallet.save()
check(wallet.id, "the new wallet has an id")
check(wallet.balance == "0.000000000000000000", f"a new wallet's balance is 0, got {wallet.balance}")

for i in range(25):
    transaction = Transaction()
    transaction.txid = f"client-{wallet.id}-{i}"
    transaction.amount = "1.5"
    transaction.wallet = wallet
    transaction.save()
    check(transaction.id, "the new transaction has an id")

overdraft = Transaction()
overdraft.txid = f"client-{wallet.id}-overdraft"
overdraft.amount = "-1000"
overdraft.wallet = wallet
try:
    overdraft.save()
    check(False, "an overdraft must be refused")
except request_factory.ApiClientError as error:
    check(error.status_code == 409, f"an overdraft is a 409, got {error.status_code}")

# A list with include and filter: the wallet comes from `included`.
page = Transaction.get_list(params={"include": "wallet", "filter[wallet]": wallet.id, "page[size]": 10})
check(len(page) == 10, f"a page of 10, got {len(page)}")
check(all(t.wallet.id == wallet.id for t in page), "every transaction belongs to the wallet")
check(page[0].wallet.label == "client library", "the included wallet's attributes are there")

# Follow `next` links to the end.
seen = []
response = api.endpoint("transactions").get(params={"filter[wallet]": wallet.id, "page[size]": 10})
pages = 0
while True:
    pages += 1
    seen.extend(item.id for item in response.content.data)
    next_link = response.payload["links"].get("next")
    if not next_link:
        break
    response = api.endpoint(next_link).get()
check(pages == 3, f"25 transactions in pages of 10 make 3 pages, got {pages}")
check(len(seen) == 25 and len(set(seen)) == 25, f"every transaction once, got {len(seen)}")

wallet.refresh()
check(Decimal(wallet.balance) == Decimal("37.5"), f"balance 25 x 1.5 = 37.5, got {wallet.balance}")
print(f"jsonapi-requests client: ok (wallet {wallet.id}, balance {wallet.balance}, {pages} pages)")
