// Drives the service with a TypeScript client generated from openapi.json: the types by
// openapi-typescript (schema.d.ts, written by scripts/e2e.sh), the calls by openapi-fetch.
// What a user of it does, each step checked: two wallets; an amount booked as the string of a
// decimal computed without floats; a wallet's transactions paged by the cursor each `next`
// link carries; a transaction found by its metadata through `metadataFilters`; an atomic
// transfer. The compiler checks every call against the generated types first.
//
//   node generated.js BASE_URL API_KEY
import createClient from "openapi-fetch";
import type { paths } from "./schema.js";

const [base, key] = process.argv.slice(2);
// Bodies as JSON:API (openapi-fetch sends application/json unless told), and objects in the
// query as the document describes them (form style, exploded): each property of
// metadataFilters is a query parameter of its own.
const client = createClient<paths>({
  baseUrl: base,
  headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/vnd.api+json" },
  querySerializer: { object: { style: "form", explode: true } },
});

function check(condition: boolean, what: string): void {
  if (!condition) {
    console.error(`typescript client: ${what}`);
    process.exit(1);
  }
}

async function wallet(label: string): Promise<string> {
  const { data, response } = await client.POST("/wallets", {
    body: { data: { type: "wallets", attributes: { label } } },
  });
  check(response.status === 201 && data !== undefined, `wallet ${label}: ${response.status}`);
  return data!.data.id;
}

async function book(walletId: string, txid: string, amount: string, invoice?: string) {
  const { data, response } = await client.POST("/transactions", {
    body: {
      data: {
        type: "transactions",
        attributes: invoice ? { txid, amount, metadata: { invoice } } : { txid, amount },
        relationships: { wallet: { data: { type: "wallets", id: walletId } } },
      },
    },
  });
  check(response.status === 201 && data !== undefined, `booking ${txid}: ${response.status}`);
  return data!.data;
}

async function balance(walletId: string): Promise<string> {
  const { data } = await client.GET("/wallets/{id}", { params: { path: { id: walletId } } });
  return data!.data.attributes!.balance!;
}

async function main(): Promise<void> {
  const alice = await wallet("ts-alice");
  const bob = await wallet("ts-bob");
  // 0.1 + 0.2 in hundredths, as integers, then written as a decimal string.
  const cents = 10n + 20n;
  const booked = await book(alice, "ts-decimal", `0.${cents.toString().padStart(2, "0")}`);
  check(booked.attributes!.amount === "0.300000000000000000", `booked ${booked.attributes!.amount}`);
  for (let n = 0; n < 7; n++) {
    await book(alice, `ts-${n}`, "10", `TS-INV-${n}`);
  }
  check((await balance(alice)) === "70.300000000000000000", `alice holds ${await balance(alice)}`);

  const seen: string[] = [];
  let after: string | undefined;
  let pages = 0;
  for (;;) {
    const { data, response } = await client.GET("/transactions", {
      params: {
        query: {
          "filter[wallet]": alice,
          "page[size]": 3,
          sort: "id",
          ...(after === undefined ? {} : { "page[after]": after }),
        },
      },
    });
    check(response.status === 200 && data !== undefined, `page ${pages + 1}: ${response.status}`);
    pages += 1;
    seen.push(...data!.data.map((resource) => resource.id));
    const next = data!.links.next;
    if (!next) break;
    after = new URL(next).searchParams.get("page[after]") ?? undefined;
  }
  check(pages === 3 && new Set(seen).size === 8, `${pages} pages: ${seen}`);

  const tagged = async (value: string) => {
    const { data, response } = await client.GET("/transactions", {
      params: { query: { metadataFilters: { "filter[metadata.invoice]": value } } },
    });
    check(response.status === 200, `metadata filter: ${response.status}`);
    return data!.data.map((resource) => resource.attributes!.txid);
  };
  const found = await tagged("TS-INV-4");
  check(found.length === 1 && found[0] === "ts-4", `TS-INV-4 finds ${found}`);
  check((await tagged("TS-INV-none")).length === 0, "TS-INV-none finds something");

  const { data, response } = await client.POST("/operations", {
    headers: { "Content-Type": 'application/vnd.api+json; ext="https://jsonapi.org/ext/atomic"' },
    body: {
      "atomic:operations": [
        {
          op: "add",
          data: {
            type: "transactions",
            attributes: { txid: "ts-out", amount: "-25.5" },
            relationships: { wallet: { data: { type: "wallets", id: alice } } },
          },
        },
        {
          op: "add",
          data: {
            type: "transactions",
            attributes: { txid: "ts-in", amount: "25.5" },
            relationships: { wallet: { data: { type: "wallets", id: bob } } },
          },
        },
      ],
    },
  });
  check(response.status === 200 && data !== undefined, `transfer: ${response.status}`);
  check(
    (await balance(alice)) === "44.800000000000000000" &&
      (await balance(bob)) === "25.500000000000000000",
    "the transfer's balances",
  );
  console.log(
    `typescript client: decimal booked exactly, ${pages} pages by cursor, metadata filter, atomic transfer`,
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
