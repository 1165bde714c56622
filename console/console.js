// The operator console: one page that reads the public JSON:API with the key the operator
// pastes (kept in this tab's session storage, sent as the bearer header, never in a URL).
//
// Every value from the API reaches the page through text nodes and attributes set one by one
// (`h` below), never as markup. The view is named by the URL's query (`?wallet=7`,
// `?view=events`), so links, the back button and a shared link all work.
"use strict";

const KEY = "wallet-api.key";
const JSONAPI = "application/vnd.api+json";

// ---------------------------------------------------------------------------------------
// Elements
// ---------------------------------------------------------------------------------------

// h("a", {href: "/console"}, "text", child, ...): an element; strings become text nodes,
// null and false are skipped. Attributes starting "on" are refused: handlers are attached
// with addEventListener by the code that made the element.
function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) throw new Error("no inline handlers: " + name);
    element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

function clear(element) {
  while (element.firstChild) element.firstChild.remove();
  return element;
}

const main = () => document.getElementById("main");

// ---------------------------------------------------------------------------------------
// The API
// ---------------------------------------------------------------------------------------

class ApiFailure extends Error {
  constructor(status, document) {
    const errors = (document && Array.isArray(document.errors)) ? document.errors : [];
    const said = errors.map((e) => [e.title, e.detail].filter(Boolean).join(": "));
    super(said.length ? said.join("; ") : `the API answered ${status}`);
    this.status = status;
    this.errors = errors;
  }
}

function key() {
  return sessionStorage.getItem(KEY);
}

// A path of this origin from a link the API gave (absolute or not).
function local(link) {
  const url = new URL(link, location.origin);
  return url.pathname + url.search;
}

async function api(path, options = {}) {
  const headers = { Accept: options.accept || JSONAPI, Authorization: "Bearer " + key() };
  if (options.body) headers["Content-Type"] = JSONAPI;
  const response = await fetch(local(path), {
    method: options.method || "GET",
    headers,
    body: options.body ? JSON.stringify(options.body) : undefined,
    cache: "no-store",
    signal: options.signal,
  });
  if (response.status === 204) return null;
  const text = await response.text();
  let document = null;
  try {
    document = text ? JSON.parse(text) : null;
  } catch (_) {
    document = null;
  }
  if (!response.ok) {
    if (response.status === 401) forget("The key was refused: " + new ApiFailure(401, document).message);
    throw new ApiFailure(response.status, document);
  }
  return document;
}

function query(parameters) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(parameters)) {
    if (value !== null && value !== undefined && value !== "") search.set(name, value);
  }
  const text = search.toString();
  return text ? "?" + text : "";
}

// ---------------------------------------------------------------------------------------
// Showing things
// ---------------------------------------------------------------------------------------

function problem(error) {
  const box = document.getElementById("problem");
  if (!error) {
    box.hidden = true;
    clear(box);
    return;
  }
  clear(box);
  append(box, [h("strong", {}, error.status ? `Error ${error.status}` : "Error"), " ", error.message]);
  box.hidden = false;
}

// A time in UTC, with the local time on hover.
function time(value) {
  if (!value) return h("span", { class: "muted" }, "—");
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  const utc = date.toISOString().replace("T", " ").replace(/\.\d+Z$/, "").replace(/Z$/, "") + " UTC";
  return h("time", { datetime: value, title: "local: " + date.toLocaleString() }, utc);
}

// How long until `value` (a hold's expiry), or since.
function until(value) {
  if (!value) return "never";
  const seconds = Math.round((new Date(value).getTime() - Date.now()) / 1000);
  const span = duration(Math.abs(seconds));
  return seconds >= 0 ? "in " + span : span + " ago";
}

function duration(seconds) {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
  return `${Math.floor(seconds / 86400)} d ${Math.floor((seconds % 86400) / 3600)} h`;
}

function json(value) {
  if (value === null || value === undefined) return h("span", { class: "muted" }, "—");
  if (typeof value === "object" && Object.keys(value).length === 0) return h("span", { class: "muted" }, "{}");
  return h("code", {}, JSON.stringify(value));
}

function relation(resource, name) {
  const linkage = resource.relationships && resource.relationships[name];
  return linkage && linkage.data ? linkage.data.id : null;
}

function walletLink(id, text) {
  return id ? link(`/console${query({ wallet: id })}`, text || `wallet ${id}`) : h("span", { class: "muted" }, "—");
}

function link(href, text) {
  return h("a", { href }, text);
}

// A table: columns are [heading, (resource) => cell, {numeric}] ; rows get data-id.
function table(caption, columns, rows, empty) {
  if (!rows.length) return h("p", { class: "muted" }, empty || "None.");
  return h(
    "div",
    { class: "scroll" },
    h(
      "table",
      {},
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", {}, h("tr", {}, columns.map(([heading, , o]) => h("th", { scope: "col", class: o && o.numeric ? "num" : null }, heading)))),
      h(
        "tbody",
        {},
        rows.map((row) =>
          h("tr", { "data-id": row.id }, columns.map(([, cell, o]) => h("td", { class: o && o.numeric ? "num" : null }, cell(row))))
        )
      )
    )
  );
}

const num = { numeric: true };

// ---------------------------------------------------------------------------------------
// Navigation: the URL's query names the view
// ---------------------------------------------------------------------------------------

let leaving = []; // what the current view must stop (streams, timers) when another is shown

function go(href) {
  history.pushState(null, "", href);
  show();
}

document.addEventListener("click", (event) => {
  const anchor = event.target.closest && event.target.closest("a[href]");
  if (!anchor || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const url = new URL(anchor.href, location.href);
  if (url.origin !== location.origin || url.pathname !== "/console") return;
  event.preventDefault();
  go(url.pathname + url.search + url.hash);
});

window.addEventListener("popstate", () => show());

async function show() {
  for (const stop of leaving) stop();
  leaving = [];
  problem(null);
  const parameters = new URLSearchParams(location.search);
  const view = parameters.get("wallet") ? "wallet" : parameters.get("view") || "wallets";
  for (const anchor of document.querySelectorAll("#nav a")) {
    if (anchor.dataset.view === view || (view === "wallet" && anchor.dataset.view === "wallets")) {
      anchor.setAttribute("aria-current", "page");
    } else {
      anchor.removeAttribute("aria-current");
    }
  }
  if (!key()) return askForKey();
  signedIn();
  const views = { wallets, wallet, events, webhooks, keys };
  const render = views[view] || wallets;
  // Each view draws into an element of its own: one still loading when another is shown
  // finishes into a detached element, never into the page.
  const page = h("div", { class: "view" });
  const shown = ++showing;
  append(clear(main()), [page]);
  main().setAttribute("aria-busy", "true");
  try {
    await render(page, parameters);
  } catch (error) {
    if (error.name !== "AbortError" && shown === showing) problem(error);
  } finally {
    if (shown === showing) main().removeAttribute("aria-busy");
  }
}

let showing = 0; // the number of the view shown last

// ---------------------------------------------------------------------------------------
// The key
// ---------------------------------------------------------------------------------------

function askForKey(message) {
  document.getElementById("nav").hidden = true;
  document.getElementById("forget").hidden = true;
  clear(document.getElementById("key-shown"));
  const input = h("input", { id: "key", name: "key", type: "password", autocomplete: "off", required: true, spellcheck: "false" });
  const form = h(
    "form",
    { id: "key-form", class: "card narrow" },
    h("h1", {}, "Sign in with an API key"),
    h("p", {}, "The key stays in this tab (its session storage) and goes to this service only, as the Authorization header. Closing the tab forgets it."),
    message ? h("p", { class: "warning" }, message) : null,
    h("label", { for: "key" }, "API key"),
    input,
    h("button", { type: "submit" }, "Open the console")
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY, input.value.trim());
    show();
  });
  append(clear(main()), [form]);
  input.focus();
}

function forget(message) {
  sessionStorage.removeItem(KEY);
  askForKey(message);
}

function signedIn() {
  document.getElementById("nav").hidden = false;
  document.getElementById("forget").hidden = false;
  const shown = document.getElementById("key-shown");
  clear(shown);
  append(shown, ["key ", h("code", {}, key().slice(0, 11) + "…")]);
}

// ---------------------------------------------------------------------------------------
// Pages of a collection, with the cursors the API gives
// ---------------------------------------------------------------------------------------

// A pager's links: each carries the API's cursor into `onPage` (a URL of the console for the
// top list, so the back button steps through pages; a callback for a section of a page).
function pager(document, onPage) {
  const links = document.links || {};
  const cursor = (name, parameter) => links[name] && new URL(links[name], location.origin).searchParams.get(parameter);
  const previous = cursor("prev", "page[before]");
  const next = cursor("next", "page[after]");
  const nav = h("nav", { class: "pager", "aria-label": "Pages" });
  if (previous) append(nav, [onPage({ before: previous }, "Previous page")]);
  if (next) append(nav, [onPage({ after: next }, "Next page")]);
  return nav;
}

// A section of a page that pages by itself: `load(cursor)` returns [document, element].
// A `lazy` one (what a busy wallet makes slow to find) loads when asked.
async function section(title, id, load, lazy) {
  const body = h("div", {});
  const box = h("section", { id, "aria-labelledby": id + "-title" }, h("h2", { id: id + "-title" }, title), body);
  const draw = async (cursor) => {
    try {
      const [document, content] = await load(cursor || {});
      clear(body);
      append(body, [
        content,
        pager(document, (to, text) => {
          const button = h("button", { type: "button", class: "link" }, text);
          button.addEventListener("click", () => draw(to));
          return button;
        }),
      ]);
    } catch (error) {
      clear(body);
      append(body, [h("p", { class: "warning" }, error.message)]);
    }
  };
  if (lazy) {
    const button = h("button", { type: "button", class: "link", "data-action": "load-" + id }, lazy);
    button.addEventListener("click", () => draw());
    append(body, [button]);
  } else {
    await draw();
  }
  return box;
}

function cursorParameters(cursor) {
  return { "page[after]": cursor.after, "page[before]": cursor.before };
}

// ---------------------------------------------------------------------------------------
// Wallets
// ---------------------------------------------------------------------------------------

async function wallets(page, parameters) {
  const label = parameters.get("label") || "";
  const currency = parameters.get("currency") || "";
  const metadata = parameters.get("metadata") || "";
  const filters = {};
  if (label) filters["filter[label.icontains]"] = label;
  if (currency) filters["filter[currency]"] = currency.toUpperCase();
  if (metadata) {
    const at = metadata.indexOf("=");
    if (at > 0) filters[`filter[metadata.${metadata.slice(0, at).trim()}]`] = metadata.slice(at + 1).trim();
    else filters[`filter[metadata.${metadata.trim()}.exists]`] = "true";
  }
  const form = h(
    "form",
    { class: "filters", role: "search", action: "/console", method: "get" },
    h("label", { for: "search-label" }, "Label contains"),
    h("input", { id: "search-label", name: "label", value: label }),
    h("label", { for: "search-currency" }, "Currency"),
    h("input", { id: "search-currency", name: "currency", value: currency, size: 6, placeholder: "USD" }),
    h("label", { for: "search-metadata" }, "Metadata"),
    h("input", { id: "search-metadata", name: "metadata", value: metadata, placeholder: "key=value or key" }),
    h("button", { type: "submit" }, "Search")
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    go("/console" + query({ label: data.get("label"), currency: data.get("currency"), metadata: data.get("metadata") }));
  });
  append(page, [h("h1", {}, "Wallets"), form]);
  const document = await api(
    "/wallets" + query({ ...filters, "page[size]": 25, "page[after]": parameters.get("after"), "page[before]": parameters.get("before") })
  );
  const rows = document.data;
  append(page, [
    table(
      "Wallets",
      [
        ["Id", (w) => walletLink(w.id, w.id)],
        ["Label", (w) => walletLink(w.id, w.attributes.label)],
        ["Currency", (w) => w.attributes.currency],
        ["Balance", (w) => w.attributes.balance, num],
        ["Held", (w) => w.attributes.held, num],
        ["Available", (w) => w.attributes.available, num],
        ["Updated", (w) => time(w.attributes.updatedAt)],
      ],
      rows,
      "No wallet matches."
    ),
    pager(document, (to, text) =>
      link("/console" + query({ label, currency, metadata, after: to.after, before: to.before }), text)
    ),
  ]);
}

// ---------------------------------------------------------------------------------------
// A wallet
// ---------------------------------------------------------------------------------------

async function wallet(page, parameters) {
  const id = parameters.get("wallet");
  const document = await api(`/wallets/${encodeURIComponent(id)}`);
  const w = document.data;
  const a = w.attributes;
  append(page, [
    h("p", {}, link("/console", "← Wallets")),
    h("h1", {}, a.label, " ", h("span", { class: "muted" }, `wallet ${w.id}`)),
    h(
      "dl",
      { class: "numbers" },
      figure("Balance", a.balance, a.currency, "balance"),
      figure("Held", a.held, a.currency, "held"),
      figure("Available", a.available, a.currency, "available"),
      a.creditLimit !== undefined ? figure("Credit limit", a.creditLimit, a.currency, "credit-limit") : null
    ),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Created"),
      h("dd", {}, time(a.createdAt)),
      h("dt", {}, "Updated"),
      h("dd", {}, time(a.updatedAt)),
      h("dt", {}, "Metadata"),
      h("dd", {}, json(a.metadata))
    ),
  ]);
  const chartBox = h("section", { id: "history", "aria-labelledby": "history-title" });
  append(page, [chartBox]);
  const range = parameters.get("range") || "day";
  await drawHistory(chartBox, w, range);
  const sections = await Promise.all([
    section("Holds", "holds", (cursor) => holds(w, cursor)),
    section("Transactions", "transactions", (cursor) => transactions(w, cursor)),
    section("Transfers", "transfers", (cursor) => transfers(w, cursor)),
    section("Journal", "journal", (cursor) => journal(w, cursor)),
    // The feed is ordered for readers of every wallet: a wallet's rare events among a million
    // of its bookings take a while to find, so they are read when asked.
    section("Changes to the wallet", "revisions", (cursor) => revisions(w, cursor), "Show its label, metadata and credit limit changes"),
    section("Balance monitors", "monitors", (cursor) => monitors(w, cursor)),
  ]);
  append(page, sections);
}

function figure(name, value, currency, id) {
  return h("div", { class: "figure" }, h("dt", {}, name), h("dd", { id: "wallet-" + id, class: "num" }, value, " ", h("span", { class: "muted" }, currency)));
}

async function holds(w, cursor) {
  const document = await api("/holds" + query({ "filter[wallet]": w.id, sort: "-id", "page[size]": 10, ...cursorParameters(cursor) }));
  return [
    document,
    table(
      "Holds",
      [
        ["Id", (x) => x.id],
        ["Amount", (x) => x.attributes.amount, num],
        ["Status", (x) => h("span", { class: "status " + x.attributes.status }, x.attributes.status)],
        ["Captured", (x) => x.attributes.capturedAmount || "—", num],
        ["Expires", (x) => {
          const at = x.attributes.expiresAt;
          if (!at) return h("span", { class: "muted" }, "never");
          return x.attributes.status === "pending" ? h("span", {}, time(at), " ", h("span", { class: "muted" }, `(${until(at)})`)) : time(at);
        }],
        ["Created", (x) => time(x.attributes.createdAt)],
        ["", (x) => (x.attributes.status === "pending" ? voidButton(x) : null)],
      ],
      document.data,
      "No hold."
    ),
  ];
}

function voidButton(hold) {
  const button = h("button", { type: "button", class: "danger small", "data-action": "void", "data-hold": hold.id }, "Void");
  button.addEventListener("click", async () => {
    const yes = await confirmAction(
      `Void hold ${hold.id}?`,
      `It releases ${hold.attributes.amount} ${hold.attributes.currency} and books nothing. This cannot be undone.`,
      "Void the hold"
    );
    if (!yes) return;
    try {
      await api(`/holds/${encodeURIComponent(hold.id)}`, {
        method: "PATCH",
        body: { data: { type: "holds", id: hold.id, attributes: { status: "voided" } } },
      });
      await show();
    } catch (error) {
      problem(error);
    }
  });
  return button;
}

async function transactions(w, cursor) {
  const document = await api(`/wallets/${encodeURIComponent(w.id)}/transactions` + query({ sort: "-id", "page[size]": 10, ...cursorParameters(cursor) }));
  return [
    document,
    table(
      "Transactions",
      [
        ["Id", (x) => x.id],
        ["Txid", (x) => x.attributes.txid],
        ["Amount", (x) => x.attributes.amount, num],
        ["Transfer", (x) => relation(x, "transfer") || "—"],
        ["Created", (x) => time(x.attributes.createdAt)],
        ["Metadata", (x) => json(x.attributes.metadata)],
      ],
      document.data,
      "No transaction."
    ),
  ];
}

async function transfers(w, cursor) {
  const document = await api(`/wallets/${encodeURIComponent(w.id)}/transfers` + query({ sort: "-id", "page[size]": 10, ...cursorParameters(cursor) }));
  return [
    document,
    table(
      "Transfers",
      [
        ["Id", (x) => x.id],
        ["Txid", (x) => x.attributes.txid],
        ["Direction", (x) => (relation(x, "source") === w.id ? "out" : "in")],
        ["Other wallet", (x) => walletLink(relation(x, "source") === w.id ? relation(x, "destination") : relation(x, "source"))],
        ["Amount", (x) => x.attributes.amount, num],
        ["Reversed", (x) => x.attributes.reversedAmount, num],
        ["Reverses", (x) => relation(x, "reverses") || "—"],
        ["Created", (x) => time(x.attributes.createdAt)],
        ["", (x) => (reversible(x) ? reverseButton(x) : null)],
      ],
      document.data,
      "No transfer."
    ),
  ];
}

function reversible(transfer) {
  return !relation(transfer, "reverses") && Number(transfer.attributes.reversedAmount) < Number(transfer.attributes.amount);
}

// The amount still to reverse, as a decimal string: amount - reversedAmount at the
// currency's scale, computed on digits (never through a float).
function remaining(amount, reversed) {
  const scale = Math.max((amount.split(".")[1] || "").length, (reversed.split(".")[1] || "").length);
  const units = (text) => BigInt(text.replace("-", "").split(".")[0] + (text.split(".")[1] || "").padEnd(scale, "0")) * (text.startsWith("-") ? -1n : 1n);
  const left = units(amount) - units(reversed);
  const digits = left.toString().padStart(scale + 1, "0");
  return scale ? digits.slice(0, -scale) + "." + digits.slice(-scale) : digits;
}

function reverseButton(transfer) {
  const button = h("button", { type: "button", class: "danger small", "data-action": "reverse", "data-transfer": transfer.id }, "Reverse");
  button.addEventListener("click", async () => {
    const left = remaining(transfer.attributes.amount, transfer.attributes.reversedAmount);
    const amount = h("input", { id: "reverse-amount", name: "amount", value: left, inputmode: "decimal", required: true });
    const txid = h("input", { id: "reverse-txid", name: "txid", value: `reversal-${transfer.id}-${Date.now()}`, required: true });
    const yes = await confirmAction(
      `Reverse transfer ${transfer.id}?`,
      `It moves money back from wallet ${relation(transfer, "destination")} to wallet ${relation(transfer, "source")} (at most ${left} ${transfer.attributes.currency}).`,
      "Reverse the transfer",
      [h("label", { for: "reverse-amount" }, "Amount"), amount, h("label", { for: "reverse-txid" }, "Txid"), txid]
    );
    if (!yes) return;
    try {
      await api("/transfers", {
        method: "POST",
        body: {
          data: {
            type: "transfers",
            attributes: { txid: txid.value.trim(), amount: amount.value.trim() },
            relationships: { reverses: { data: { type: "transfers", id: transfer.id } } },
          },
        },
      });
      await show();
    } catch (error) {
      problem(error);
    }
  });
  return button;
}

async function journal(w, cursor) {
  const document = await api(`/wallets/${encodeURIComponent(w.id)}/balance-changes` + query({ sort: "-id", "page[size]": 10, ...cursorParameters(cursor) }));
  return [
    document,
    table(
      "Journal",
      [
        ["Id", (x) => x.id],
        ["Changed", (x) => time(x.attributes.changedAt)],
        ["Operation", (x) => x.attributes.operation],
        ["Delta", (x) => x.attributes.delta, num],
        ["Balance", (x) => x.attributes.balance, num],
        ["Held Δ", (x) => x.attributes.heldDelta, num],
        ["Held", (x) => x.attributes.held, num],
        ["Origin", (x) => h("span", { class: "origin" }, x.attributes.application === "wallet-api" ? "api" : "sql")],
        ["Actor", (x) => x.attributes.actorName || h("span", { class: "muted" }, x.attributes.changedBy)],
      ],
      document.data,
      "No change yet."
    ),
  ];
}

async function revisions(w, cursor) {
  const document = await api(
    "/events" + query({ "filter[wallet]": w.id, "filter[eventType]": "wallet.created,wallet.updated", "page[size]": 10, ...cursorParameters(cursor) })
  );
  return [
    document,
    table(
      "Changes to the wallet",
      [
        ["#", (x) => x.attributes.walletSequence, num],
        ["Event", (x) => x.attributes.eventType],
        ["When", (x) => time(x.attributes.occurredAt)],
        ["Label", (x) => (x.attributes.data && x.attributes.data.attributes ? x.attributes.data.attributes.label : "—")],
        ["Metadata", (x) => json(x.attributes.data && x.attributes.data.attributes ? x.attributes.data.attributes.metadata : null)],
        ["Origin", (x) => x.attributes.origin],
        ["Actor", (x) => x.attributes.actorName || "—"],
      ],
      document.data,
      "No change recorded (older ones may be past the events' retention)."
    ),
  ];
}

async function monitors(w, cursor) {
  const document = await api("/balance-monitors" + query({ "filter[wallet]": w.id, "page[size]": 10, ...cursorParameters(cursor) }));
  return [
    document,
    table(
      "Balance monitors",
      [
        ["Id", (x) => x.id],
        ["Condition", (x) => `${x.attributes.field} ${x.attributes.operator} ${x.attributes.amount}`],
        ["State", (x) => h("span", { class: "status " + x.attributes.state }, x.attributes.state)],
        ["Triggered", (x) => time(x.attributes.triggeredAt)],
      ],
      document.data,
      "No monitor."
    ),
  ];
}

// ---------------------------------------------------------------------------------------
// The chart: balance and available over time, from GET /wallets/{id}/balance-history
// ---------------------------------------------------------------------------------------

const STEP = { "1m": 60e3, "1h": 3600e3, "1d": 86400e3 };
const MOST_BUCKETS = 1000; // the API's bound per request

// The range and bucket size for a range's name: the finest bucket that needs few requests.
// Nothing is drawn before the wallet was made.
function span(range, createdAt) {
  const now = Date.now();
  const born = new Date(createdAt).getTime();
  if (range === "30d") return { from: Math.max(now - 30 * 86400e3, born), to: now, size: "1h" };
  if (range === "all") {
    const width = now - born;
    const size = width <= 1440 * STEP["1m"] ? "1m" : width <= 2000 * STEP["1h"] ? "1h" : "1d";
    return { from: born, to: now, size };
  }
  return { from: Math.max(now - 86400e3, born), to: now, size: "1m" };
}

async function balanceHistory(w, range) {
  const { from, to, size } = span(range, w.attributes.createdAt);
  const step = STEP[size];
  const first = Math.floor(from / step) * step;
  const last = Math.ceil(to / step) * step;
  const requests = [];
  for (let start = first; start < last; start += MOST_BUCKETS * step) {
    const end = Math.min(start + MOST_BUCKETS * step, last);
    requests.push(
      api(
        `/wallets/${encodeURIComponent(w.id)}/balance-history` +
          query({ bucketSize: size, "filter[changedAt.gte]": new Date(start).toISOString(), "filter[changedAt.lt]": new Date(end).toISOString() })
      )
    );
  }
  const documents = await Promise.all(requests);
  return { size, buckets: documents.flatMap((document) => document.data) };
}

async function drawHistory(box, w, range) {
  const ranges = [
    ["day", "Last day"],
    ["30d", "Last 30 days"],
    ["all", "Everything"],
  ];
  const picker = h(
    "nav",
    { class: "ranges", "aria-label": "Chart range" },
    ranges.map(([name, text]) =>
      h("a", { href: "/console" + query({ wallet: w.id, range: name === "day" ? null : name }), "aria-current": name === range ? "true" : null }, text)
    )
  );
  append(clear(box), [h("h2", { id: "history-title" }, "Balance over time"), picker]);
  const { size, buckets } = await balanceHistory(w, range);
  append(box, [chart(buckets, w.attributes.currency, size)]);
}

function chart(buckets, currency, size) {
  const figure = h("figure", { class: "chart", id: "chart", "data-buckets": buckets.length, "data-bucket-size": size });
  if (!buckets.length) {
    append(figure, [h("p", { class: "muted" }, "No history in this range.")]);
    return figure;
  }
  const width = 1000;
  const height = 300;
  const pad = { left: 8, right: 8, top: 12, bottom: 24 };
  const x0 = new Date(buckets[0].attributes.start).getTime();
  const x1 = new Date(buckets[buckets.length - 1].attributes.end).getTime();
  // Plotting only: positions on the screen, never money.
  const values = buckets.flatMap((b) => [b.attributes.minBalance, b.attributes.maxBalance, b.attributes.available, b.attributes.balance].map(Number));
  let low = Math.min(...values, 0);
  let high = Math.max(...values, 0);
  if (low === high) high = low + 1;
  const x = (t) => pad.left + ((t - x0) / (x1 - x0 || 1)) * (width - pad.left - pad.right);
  const y = (v) => pad.top + (1 - (Number(v) - low) / (high - low)) * (height - pad.top - pad.bottom);
  const line = (field) => {
    let previous = null;
    const points = [];
    for (const b of buckets) {
      const start = x(new Date(b.attributes.start).getTime());
      const end = x(new Date(b.attributes.end).getTime());
      const value = y(b.attributes[field]);
      if (previous !== null) points.push(`${start.toFixed(1)},${previous.toFixed(1)}`);
      points.push(`${start.toFixed(1)},${value.toFixed(1)}`, `${end.toFixed(1)},${value.toFixed(1)}`);
      previous = value;
    }
    return points.join(" ");
  };
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  const svgNode = (tag, attributes, text) => {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  };
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-labelledby", "chart-caption");
  // The range of each bucket (min to max balance), then the two lines, then zero.
  for (const b of buckets) {
    const left = x(new Date(b.attributes.start).getTime());
    const right = x(new Date(b.attributes.end).getTime());
    const top = y(b.attributes.maxBalance);
    svg.append(svgNode("rect", { class: "spread", x: left.toFixed(1), y: top.toFixed(1), width: Math.max(right - left, 0.5).toFixed(1), height: Math.max(y(b.attributes.minBalance) - top, 0.5).toFixed(1) }));
  }
  svg.append(svgNode("line", { class: "zero", x1: pad.left, x2: width - pad.right, y1: y(0).toFixed(1), y2: y(0).toFixed(1) }));
  svg.append(svgNode("polyline", { class: "available", points: line("available"), "data-series": "available" }));
  svg.append(svgNode("polyline", { class: "balance", points: line("balance"), "data-series": "balance" }));
  // The highest and lowest balances, as the API wrote them.
  const extreme = (field, better) =>
    buckets.reduce((best, b) => (best === null || better(Number(b.attributes[field]), Number(best)) ? b.attributes[field] : best), null);
  const highest = extreme("maxBalance", (a, b) => a > b);
  const lowest = extreme("minBalance", (a, b) => a < b);
  svg.append(svgNode("text", { x: pad.left + 4, y: (y(highest) - 4 < pad.top + 8 ? y(highest) + 14 : y(highest) - 4).toFixed(1), class: "axis" }, `highest ${highest}`));
  if (lowest !== highest) svg.append(svgNode("text", { x: pad.left + 4, y: (y(lowest) + 14 > height - pad.bottom ? y(lowest) - 4 : y(lowest) + 14).toFixed(1), class: "axis" }, `lowest ${lowest}`));
  svg.append(svgNode("text", { x: pad.left, y: height - 6, class: "axis" }, new Date(x0).toISOString().slice(0, 16).replace("T", " ") + " UTC"));
  svg.append(svgNode("text", { x: width - pad.right, y: height - 6, class: "axis end" }, new Date(x1).toISOString().slice(0, 16).replace("T", " ") + " UTC"));
  const lastBucket = buckets[buckets.length - 1].attributes;
  append(figure, [
    svg,
    h(
      "figcaption",
      { id: "chart-caption" },
      h("span", { class: "key balance" }, "balance"),
      " and ",
      h("span", { class: "key available" }, "available"),
      ` in ${currency}, per ${size} bucket (shaded: lowest to highest balance within it), ${buckets.length} buckets; at the end: balance ${lastBucket.balance}, available ${lastBucket.available}.`
    ),
    h(
      "details",
      {},
      h("summary", {}, "The chart's numbers"),
      table(
        "The chart's numbers",
        [
          ["Bucket start", (b) => time(b.attributes.start)],
          ["Balance at end", (b) => b.attributes.balance, num],
          ["Held at end", (b) => b.attributes.held, num],
          ["Available at end", (b) => b.attributes.available, num],
          ["Lowest", (b) => b.attributes.minBalance, num],
          ["Highest", (b) => b.attributes.maxBalance, num],
        ],
        buckets.filter((b, i) => i === 0 || b.attributes.maxBalance !== b.attributes.minBalance || b.attributes.balance !== buckets[i - 1].attributes.balance || b.attributes.held !== buckets[i - 1].attributes.held)
      )
    ),
  ]);
  figure.dataset.drawn = String(performance.now());
  return figure;
}

// ---------------------------------------------------------------------------------------
// Live events: GET /events as text/event-stream, read with fetch (EventSource cannot send
// the Authorization header)
// ---------------------------------------------------------------------------------------

async function events(page, parameters) {
  const types = parameters.get("types") || "";
  const form = h(
    "form",
    { class: "filters", role: "search" },
    h("label", { for: "event-types" }, "Event types"),
    h("input", { id: "event-types", name: "types", value: types, placeholder: "balance.changed,hold.voided" }),
    h("button", { type: "submit" }, "Follow")
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    go("/console" + query({ view: "events", types: new FormData(form).get("types") }));
  });
  const state = h("p", { id: "stream-state", role: "status" }, "Connecting…");
  const body = h("tbody", {});
  append(page, [
    h("h1", {}, "Live events"),
    h("p", { class: "muted" }, "Events as they pass the feed's horizon (every change, SQL included), newest first. The page keeps the last 200."),
    form,
    state,
    h(
      "div",
      { class: "scroll" },
      h(
        "table",
        { id: "events-table" },
        h("caption", { class: "visually-hidden" }, "Live events"),
        h("thead", {}, h("tr", {}, ["Position", "Type", "Wallet", "#", "When", "Origin", "Actor", "Subject"].map((t) => h("th", { scope: "col" }, t)))),
        body
      )
    ),
  ]);
  const stop = new AbortController();
  leaving.push(() => stop.abort());
  follow(types, body, state, stop.signal);
}

async function follow(types, body, state, signal) {
  let lastId = null;
  while (!signal.aborted) {
    try {
      const headers = { Accept: "text/event-stream", Authorization: "Bearer " + key() };
      if (lastId) headers["Last-Event-ID"] = lastId;
      const response = await fetch("/events" + query({ "filter[eventType]": types }), { headers, signal, cache: "no-store" });
      if (!response.ok) {
        let document = null;
        try {
          document = await response.json();
        } catch (_) {
          document = null;
        }
        throw new ApiFailure(response.status, document);
      }
      state.textContent = "Following: new events appear below.";
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const message = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = parseEvent(message);
          if (event.id) lastId = event.id;
          if (event.data) addEvent(body, JSON.parse(event.data));
        }
      }
      state.textContent = "The stream ended; reconnecting…";
    } catch (error) {
      if (signal.aborted) return;
      state.textContent = `The stream stopped (${error.message}); trying again in 3 s.`;
      if (error.status && error.status < 500 && error.status !== 429) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 3000));
  }
}

function parseEvent(message) {
  const event = { data: "" };
  for (const line of message.split("\n")) {
    if (line.startsWith(":")) continue;
    const at = line.indexOf(":");
    const field = at < 0 ? line : line.slice(0, at);
    const value = at < 0 ? "" : line.slice(at + 1).replace(/^ /, "");
    if (field === "data") event.data += value;
    else event[field] = value;
  }
  return event;
}

function addEvent(body, resource) {
  const a = resource.attributes;
  const subject = a.data && a.data.type ? `${a.data.type} ${a.data.id}` : "—";
  const row = h(
    "tr",
    { "data-id": resource.id },
    h("td", { class: "num" }, a.position),
    h("td", {}, a.eventType),
    h("td", {}, walletLink(relation(resource, "wallet"))),
    h("td", { class: "num" }, a.walletSequence),
    h("td", {}, time(a.occurredAt)),
    h("td", {}, a.origin),
    h("td", {}, a.actorName || "—"),
    h("td", {}, subject)
  );
  body.prepend(row);
  while (body.children.length > 200) body.lastChild.remove();
}

// ---------------------------------------------------------------------------------------
// Webhooks: the endpoints, how far behind each is, and a delivery log
// ---------------------------------------------------------------------------------------

async function webhooks(page, parameters) {
  const endpoint = parameters.get("endpoint");
  if (endpoint) return deliveries(page, endpoint, parameters);
  append(page, [h("h1", {}, "Webhook endpoints")]);
  const document = await api("/webhook-endpoints" + query({ "page[size]": 50 }));
  // Behind: the oldest delivery still pending, per endpoint.
  const oldest = await Promise.all(
    document.data.map((e) =>
      api("/webhook-deliveries" + query({ "filter[endpoint]": e.id, "filter[status]": "pending", sort: "id", "page[size]": 1 })).then((d) => d.data[0] || null)
    )
  );
  const behind = new Map(document.data.map((e, i) => [e.id, oldest[i]]));
  append(page, [
    table(
      "Webhook endpoints",
      [
        ["Id", (e) => link("/console" + query({ view: "webhooks", endpoint: e.id }), e.id)],
        ["URL", (e) => h("code", {}, e.attributes.url)],
        ["Status", (e) => h("span", { class: "status " + e.attributes.status }, e.attributes.status)],
        ["Events", (e) => (e.attributes.eventTypes && e.attributes.eventTypes.length ? e.attributes.eventTypes.join(", ") : "all")],
        [
          "Behind",
          (e) => {
            const pending = behind.get(e.id);
            return pending ? `oldest pending since ${duration(Math.max(0, Math.round((Date.now() - new Date(pending.attributes.createdAt).getTime()) / 1000)))}` : "up to date";
          },
        ],
        ["Why disabled", (e) => e.attributes.disabledReason || "—"],
        ["Description", (e) => e.attributes.description || "—"],
      ],
      document.data,
      "No endpoint."
    ),
  ]);
}

async function deliveries(page, endpoint, parameters) {
  append(page, [h("p", {}, link("/console?view=webhooks", "← Webhook endpoints")), h("h1", {}, `Deliveries to endpoint ${endpoint}`)]);
  const document = await api(
    "/webhook-deliveries" +
      query({ "filter[endpoint]": endpoint, sort: "-id", "page[size]": 25, "page[after]": parameters.get("after"), "page[before]": parameters.get("before") })
  );
  append(page, [
    table(
      "Deliveries",
      [
        ["Id", (d) => d.id],
        ["Event", (d) => d.attributes.eventType],
        ["Wallet", (d) => walletLink(relation(d, "wallet"))],
        ["Status", (d) => h("span", { class: "status " + d.attributes.status }, d.attributes.status)],
        ["Attempts", (d) => d.attributes.attempts, num],
        ["Answer", (d) => (d.attributes.responseStatus ? String(d.attributes.responseStatus) : d.attributes.error || "—")],
        ["Latency (ms)", (d) => (d.attributes.latencyMs === null ? "—" : d.attributes.latencyMs), num],
        ["Last attempt", (d) => time(d.attributes.lastAttemptAt)],
        ["Next attempt", (d) => time(d.attributes.nextAttemptAt)],
      ],
      document.data,
      "No delivery."
    ),
    pager(document, (to, text) => link("/console" + query({ view: "webhooks", endpoint, after: to.after, before: to.before }), text)),
  ]);
}

// ---------------------------------------------------------------------------------------
// API keys (admin keys only: the API answers 403 to others, shown as it says)
// ---------------------------------------------------------------------------------------

async function keys(page, parameters) {
  append(page, [h("h1", {}, "API keys")]);
  const document = await api("/api-keys" + query({ include: "wallets", "page[size]": 50, "page[after]": parameters.get("after"), "page[before]": parameters.get("before") }));
  append(page, [
    table(
      "API keys",
      [
        ["Id", (k) => k.id],
        ["Name", (k) => k.attributes.name],
        ["Prefix", (k) => h("code", {}, k.attributes.prefix)],
        ["Scopes", (k) => k.attributes.scopes.join(", ")],
        ["Wallets", (k) => {
          const linked = (k.relationships.wallets && k.relationships.wallets.data) || [];
          return linked.length ? linked.map((w, i) => [i ? ", " : "", walletLink(w.id, w.id)]) : "every wallet";
        }],
        ["Created", (k) => time(k.attributes.createdAt)],
        ["Expires", (k) => time(k.attributes.expiresAt)],
        ["Revoked", (k) => time(k.attributes.revokedAt)],
      ],
      document.data,
      "No key."
    ),
    pager(document, (to, text) => link("/console" + query({ view: "keys", after: to.after, before: to.before }), text)),
  ]);
}

// ---------------------------------------------------------------------------------------
// Confirmation, as a modal dialog (keyboard: Tab between its buttons, Escape cancels)
// ---------------------------------------------------------------------------------------

function confirmAction(title, text, action, fields) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-yes").textContent = action;
  append(clear(document.getElementById("confirm-fields")), fields || []);
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
  });
}

// ---------------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("forget").addEventListener("click", () => {
    forget();
    history.pushState(null, "", "/console");
  });
  show();
});
