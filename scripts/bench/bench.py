#!/usr/bin/env python3
"""The benchmark: the service beside PostgreSQL alone on the same work, in one run.

Run by `make bench` (scripts/bench.sh). On a fresh database of the project-local cluster it
builds the service in release mode, seeds wallets and transactions, starts the server as a
deployment runs it (the least-privilege role wallet_api, every request with an API key), and
runs every scenario twice over: as HTTP load with wrk and as the same SQL with pgbench at the
same concurrency, alternating. Then it times bulk SQL with and without the balance triggers,
checks every balance with `wallet-api verify`, prints one table and writes BENCHMARKS.md.

Settings (environment): BENCH_SECONDS (length of each measured run, default 8),
BENCH_ROUNDS (runs of each side per scenario, default 2), BENCH_CONNECTIONS (16),
BENCH_POOL_SIZE and BENCH_WORKERS (the server's DB_POOL_SIZE and WORKERS; default: the
server's own defaults), BENCH_OUTPUT (file to write, BENCHMARKS.md).
"""

import datetime
import json
import os
import platform
import re
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LUA_DIR = ROOT / "scripts" / "bench"
SECONDS = int(os.environ.get("BENCH_SECONDS", "8"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
SERVER_SETTINGS = {name: os.environ[knob] for name, knob in
                   (("DB_POOL_SIZE", "BENCH_POOL_SIZE"), ("WORKERS", "BENCH_WORKERS")) if knob in os.environ}
# The page-number scenario runs 700 ms queries 16 at a time on 4 connections: with the
# default 1 s wait for a connection, the service would shed them (503 busy), as it should in
# production. The benchmark measures throughput, so requests may wait longer here.
SERVER_SETTINGS["DB_ACQUIRE_TIMEOUT"] = "30s"
OUTPUT = Path(os.environ.get("BENCH_OUTPUT", ROOT / "BENCHMARKS.md"))
THREADS = 2  # wrk threads and pgbench jobs
DATABASE = "wallet_api_bench"

SPREAD = 10_000  # funded wallets, ids 1..10000
BIG_ROWS = 1_000_000
JOURNAL_ROWS = 1_000_000
DEEP_PAGE = 5_000
PAGE = 20
TAGGED_VALUES = 100_000  # invoices over the big wallet's transactions: 10 transactions each
SMALL_TAGGED = 10_000  # transactions with a batch, 10 to a batch
MONITORED = 100  # wallets with MONITORS balance monitors each, and as many without
MONITORS = 100
FEED_EVENTS = 1_000_000  # events read through cursor pages of FEED_PAGE
FEED_PAGE = 100


# The columns the service reads a transaction with.
TRANSACTION_COLUMNS = "id, wallet_id, txid, amount, created_at, metadata"
# The statement the service reads a wallet with (held and available as they stand now).
WALLET_BY_ID = ("SELECT id, label, round(balance, scale), created_at, updated_at, metadata, "
                "round(wallet_held_now(wallets.id, wallets.held, wallets.held_expires_at), scale), "
                "round(wallet_available_now(wallets.id, wallets.balance, wallets.held, wallets.held_expires_at, "
                "wallets.credit_limit), scale), currency, scale, round(credit_limit, scale) "
                "FROM wallets WHERE id = :w LIMIT 1;\n")


def log(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


def run(command, **kwargs):
    return subprocess.run(command, check=True, text=True, capture_output=True, **kwargs).stdout


def with_database(url, name):
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


def bin_dir():
    dirs = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    return dirs[-1] if dirs else Path(os.path.dirname(run(["which", "pgbench"]).strip()))


PSQL = None
PGBENCH = None


def psql(url, sql):
    return run([PSQL, url, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql]).strip()


def timed_sql(url, sql):
    start = time.perf_counter()
    psql(url, sql)
    return time.perf_counter() - start


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


KEY = ""  # the admin key every request sends (made in main)


def http_get(url):
    request = urllib.request.Request(url, headers={"Accept": "application/vnd.api+json",
                                                   "Authorization": f"Bearer {KEY}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def peak_rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wrk(base, script, args, seconds, connections=CONNECTIONS):
    threads = min(THREADS, connections)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
               "-s", str(LUA_DIR / script), base, "--", *map(str, args)]
    output = run(command, env={**os.environ, "BENCH_LUA_DIR": str(LUA_DIR), "BENCH_KEY": KEY})
    line = next(l for l in output.splitlines() if l.startswith("RESULT "))
    values = {k: int(v) for k, v in (item.split("=") for item in line.split()[1:])}
    if values["socket_errors"] or values["bad_status"]:
        raise SystemExit(f"wrk {script} {args}: errors in the run: {line}\n{output}")
    return {
        "rate": values["requests"] / (values["duration_us"] / 1e6),
        "p50_ms": values["p50_us"] / 1000,
        "p99_ms": values["p99_us"] / 1000,
    }


def pgbench(url, sql, seconds, mode="prepared"):
    with tempfile.TemporaryDirectory() as work:
        script = Path(work) / "script.sql"
        script.write_text(sql)
        output = run([PGBENCH, "-n", "-M", mode, f"-c{CONNECTIONS}", f"-j{THREADS}",
                      f"-T{seconds}", "-f", str(script), "-l", f"--log-prefix={work}/log", url])
        failed = re.search(r"number of failed transactions: (\d+)", output)
        if failed and int(failed.group(1)):
            raise SystemExit(f"pgbench: failed transactions\n{output}")
        tps = float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", output).group(1))
        latencies = []
        for log_file in Path(work).glob("log*"):
            latencies.extend(int(line.split()[2]) for line in log_file.read_text().splitlines())
    latencies.sort()

    def percentile(p):
        return latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))] / 1000

    return {"rate": tps, "p50_ms": percentile(50), "p99_ms": percentile(99)}


def combine(runs):
    return {
        "rate": statistics.mean(r["rate"] for r in runs),
        "p50_ms": statistics.median(r["p50_ms"] for r in runs),
        "p99_ms": statistics.median(r["p99_ms"] for r in runs),
    }


def scenario_database(name, what):
    """For a scenario run on its own (events.py, webhooks.py): the release binary built, and
    a fresh, migrated database `name` of the local cluster. Returns (admin_url, url, binary)."""
    global PSQL, PGBENCH
    bindir = bin_dir()
    PSQL, PGBENCH = str(bindir / "psql"), str(bindir / "pgbench")
    cluster = run([str(ROOT / "scripts" / "pg-local.sh"), "url"]).strip()
    admin, url = with_database(cluster, "postgres"), with_database(cluster, name)
    run(["cargo", "build", "--release", "--quiet"], cwd=ROOT)
    binary = str(ROOT / "target" / "release" / "wallet-api")
    log(f"fresh database {name}: {what}")
    psql(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql(admin, f"CREATE DATABASE {name}")
    run([binary, "migrate"], env={**os.environ, "DATABASE_URL": url, "RUST_LOG": "warn"})
    return admin, url, binary


def serve_scenario(binary, admin, url, name, settings=None):
    """Serves `url` as a deployment does (the role wallet_api, an admin key in KEY), with
    the benchmark's server settings and `settings`; returns (base_url, process) once it
    answers."""
    global KEY
    psql(admin, "DO $$ BEGIN CREATE ROLE wallet_api LOGIN IN ROLE wallet_service; "
                "EXCEPTION WHEN duplicate_object THEN NULL; END $$")
    parts = urllib.parse.urlsplit(url)
    service_url = urllib.parse.urlunsplit(parts._replace(netloc="wallet_api@" + parts.netloc.split("@")[-1]))
    created = run([binary, "keys", "create", "--name", "bench", "--scope", "admin"],
                  env={**os.environ, "DATABASE_URL": url, "RUST_LOG": "warn"})
    KEY = created.strip().splitlines()[-1]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = Path(tempfile.gettempdir()) / f"wallet-api-bench-{name}.log"
    server = subprocess.Popen(
        [binary, "serve"], stdout=open(log_path, "w"), stderr=subprocess.STDOUT,
        env={**os.environ, "DATABASE_URL": service_url, "MIGRATION_DATABASE_URL": url,
             "RATE_LIMIT": "10000000", "RATE_LIMIT_BURST": "10000000", "PORT": str(port),
             "RUST_LOG": "warn", **SERVER_SETTINGS, **(settings or {})})
    for _ in range(100):
        try:
            http_get(f"{base}/health")
            break
        except OSError:
            time.sleep(0.1)
    return base, server


def verify_and_print(binary, url, figures):
    """`wallet-api verify` after a scenario: its verdict joins the figures, printed as JSON;
    fails when it does."""
    verify = subprocess.run([binary, "verify"], env={**os.environ, "DATABASE_URL": url},
                            text=True, capture_output=True)
    figures["verify"] = verify.stdout.strip().splitlines()[-1] if verify.stdout.strip() else verify.stderr
    print(json.dumps(figures, indent=1, default=str))
    if verify.returncode != 0:
        raise SystemExit("wallet-api verify failed after the benchmark")


def main():
    global PSQL, PGBENCH, KEY
    bindir = bin_dir()
    PSQL, PGBENCH = str(bindir / "psql"), str(bindir / "pgbench")
    cluster = run([str(ROOT / "scripts" / "pg-local.sh"), "url"]).strip()
    admin = with_database(cluster, "postgres")
    url = with_database(cluster, DATABASE)
    started = datetime.datetime.now(datetime.timezone.utc)

    log("building the service (release)")
    run(["cargo", "build", "--release", "--quiet"], cwd=ROOT)
    binary = str(ROOT / "target" / "release" / "wallet-api")

    log(f"fresh database {DATABASE}, seeding {SPREAD:,} funded wallets and {BIG_ROWS:,} transactions")
    psql(admin, f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    psql(admin, f"CREATE DATABASE {DATABASE}")
    run([binary, "migrate"], env={**os.environ, "DATABASE_URL": url, "RUST_LOG": "warn"})
    psql(url, f"""
        INSERT INTO wallets (label) SELECT 'bench-' || g FROM generate_series(1, {SPREAD}) g;
        INSERT INTO wallets (label) VALUES ('hot'), ('small'), ('big');
        INSERT INTO transactions (wallet_id, txid, amount)
            SELECT id, 'fund-' || id, 1000000 FROM wallets WHERE label <> 'small' AND label <> 'big';
        INSERT INTO transactions (wallet_id, txid, amount)
            SELECT id, 'small-' || g, 1 FROM wallets, generate_series(1, 10) g WHERE label = 'small';
        -- The big wallet's transactions carry an invoice (each of {TAGGED_VALUES:,} values on
        -- {BIG_ROWS // TAGGED_VALUES} of them); another wallet's {SMALL_TAGGED:,} carry a batch
        -- (each value on as many).
        INSERT INTO transactions (wallet_id, txid, amount, metadata)
            SELECT id, 'big-' || g, 1, jsonb_build_object('invoice', 'inv-' || g % {TAGGED_VALUES})
            FROM wallets, generate_series(1, {BIG_ROWS}) g WHERE label = 'big';
        INSERT INTO wallets (label) VALUES ('tagged');
        INSERT INTO transactions (wallet_id, txid, amount, metadata)
            SELECT id, 'tagged-' || g, 1,
                   jsonb_build_object('batch', 'b-' || g % {SMALL_TAGGED * TAGGED_VALUES // BIG_ROWS})
            FROM wallets, generate_series(1, {SMALL_TAGGED}) g WHERE label = 'tagged';
        INSERT INTO wallets (label) VALUES ('journal-short'), ('journal-deep');
        INSERT INTO wallets (label) VALUES ('holds-0'), ('holds-10'), ('holds-10000');
        INSERT INTO transactions (wallet_id, txid, amount)
            SELECT id, 'fund-' || id, 1000000 FROM wallets WHERE label LIKE 'holds-%';
        -- Pending holds that expire tomorrow: in the partial index a read probes.
        INSERT INTO holds (wallet_id, amount, expires_at)
            SELECT w.id, 1, now() + interval '1 day'
            FROM wallets AS w, generate_series(1, 10000) AS g
            WHERE w.label = 'holds-10000' OR (w.label = 'holds-10' AND g <= 10);
        -- As many funded wallets in USD (scale 2) as in XXX: create-spread on each.
        INSERT INTO wallets (label, currency) SELECT 'usd-' || g, 'USD' FROM generate_series(1, {SPREAD}) g;
        INSERT INTO transactions (wallet_id, txid, amount)
            SELECT id, 'fund-' || id, 1000000 FROM wallets WHERE label LIKE 'usd-%';
        -- As many BTC wallets, the destinations of exchanges from the USD ones, and the
        -- house's liquidity wallet in each currency (credit lines no run exhausts).
        INSERT INTO wallets (label, currency) SELECT 'btc-' || g, 'BTC' FROM generate_series(1, {SPREAD}) g;
        INSERT INTO wallets (label, currency, credit_limit)
            VALUES ('house-usd', 'USD', 100000000000000), ('house-btc', 'BTC', 1000000000);
        UPDATE currencies AS c SET liquidity_wallet_id = w.id FROM wallets AS w
            WHERE (c.code, w.label) IN (('USD', 'house-usd'), ('BTC', 'house-btc'));
        -- As many funded XXX wallets with a credit limit: create-spread on them and on the
        -- first ones.
        INSERT INTO wallets (label, credit_limit) SELECT 'limit-' || g, 1000 FROM generate_series(1, {SPREAD}) g;
        INSERT INTO transactions (wallet_id, txid, amount)
            SELECT id, 'fund-' || id, 1000000 FROM wallets WHERE label LIKE 'limit-%';
        -- {MONITORED} funded wallets with {MONITORS} balance monitors each (thresholds no
        -- booking crosses: evaluated, never turned), and as many without: create-spread on each.
        INSERT INTO wallets (label) SELECT 'watched-' || g FROM generate_series(1, {MONITORED}) g;
        INSERT INTO wallets (label) SELECT 'unwatched-' || g FROM generate_series(1, {MONITORED}) g;
        INSERT INTO transactions (wallet_id, txid, amount)
            SELECT id, 'fund-' || id, 1000000 FROM wallets WHERE label LIKE '%watched-%';
        INSERT INTO balance_monitors (wallet_id, field, operator, amount)
            SELECT w.id, CASE WHEN g % 2 = 0 THEN 'balance' ELSE 'available' END, 'lt', -g
            FROM wallets AS w, generate_series(1, {MONITORS}) AS g WHERE w.label LIKE 'watched-%';
    """)
    # Two wallets whose journals hold 10 and 1,000,000 entries (one per second, the balance
    # alternating 1, 0, ...; ending at 0 like the wallets' stored balances, with no
    # transactions). Written straight into the journal, as its owner may: a million one-row
    # statements would take the trigger path a million times for nothing the read measures.
    for label, rows in (("journal-short", 10), ("journal-deep", JOURNAL_ROWS)):
        psql(url, f"""
            INSERT INTO balance_changes (wallet_id, delta, balance, operation, transaction_count,
                                         changed_at, database_xid, changed_by, application)
            SELECT w.id, CASE WHEN g % 2 = 1 THEN 1 ELSE -1 END, g % 2, 'insert', 1,
                   now() - make_interval(secs => {rows} - g), pg_current_xact_id(), 'bench', 'bench seed'
            FROM wallets AS w, generate_series(1, {rows}) AS g WHERE w.label = '{label}'""")
    psql(url, "VACUUM ANALYZE")
    # As a deployment runs it: the service's login role, and an admin key for the load.
    psql(admin, "DO $$ BEGIN CREATE ROLE wallet_api LOGIN IN ROLE wallet_service; "
                "EXCEPTION WHEN duplicate_object THEN NULL; END $$")
    parts = urllib.parse.urlsplit(url)
    service_url = urllib.parse.urlunsplit(parts._replace(netloc="wallet_api@" + parts.netloc.split("@")[-1]))
    created = run([binary, "keys", "create", "--name", "bench", "--scope", "admin"],
                  env={**os.environ, "DATABASE_URL": url, "RUST_LOG": "warn"})
    KEY = created.strip().splitlines()[-1]
    ids = dict(line.split("|") for line in psql(
        url, "SELECT label, id FROM wallets WHERE label IN ('hot', 'small', 'big', 'journal-short', "
             "'journal-deep', 'holds-0', 'holds-10', 'holds-10000')").splitlines())
    hot, small, big = int(ids["hot"]), int(ids["small"]), int(ids["big"])
    journaled = (int(ids["journal-short"]), int(ids["journal-deep"]))
    holding = [(count, int(ids[f"holds-{count}"])) for count in (0, 10, 10000)]
    assert psql(url, f"SELECT max(id) FROM wallets WHERE label LIKE 'bench-%'") == str(SPREAD)
    usd_wallets = tuple(int(v) for v in psql(
        url, "SELECT min(id) || '|' || max(id) FROM wallets WHERE label LIKE 'usd-%'").split("|"))
    assert usd_wallets[1] - usd_wallets[0] + 1 == SPREAD
    btc_wallets, limit_wallets, watched, unwatched = (tuple(int(v) for v in psql(
        url, f"SELECT min(id) || '|' || max(id) FROM wallets WHERE label LIKE '{prefix}-%'").split("|"))
        for prefix in ("btc", "limit", "watched", "unwatched"))
    assert btc_wallets[1] - btc_wallets[0] + 1 == SPREAD == limit_wallets[1] - limit_wallets[0] + 1

    port, port_off, port_open = free_port(), free_port(), free_port()
    base, base_off = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port_off}"
    base_open = f"http://127.0.0.1:{port_open}"
    log_path = Path(tempfile.gettempdir()) / "wallet-api-bench-server.log"
    # Every request is authenticated and takes a token of its key's bucket; the bucket is
    # large enough never to refuse the load of one key.
    served = {**os.environ, "DATABASE_URL": service_url, "MIGRATION_DATABASE_URL": url,
              "RATE_LIMIT": "10000000", "RATE_LIMIT_BURST": "10000000", **SERVER_SETTINGS}
    server = subprocess.Popen(
        [binary, "serve"], stdout=open(log_path, "w"), stderr=subprocess.STDOUT,
        env={**served, "PORT": str(port), "RUST_LOG": "warn,wallet_api=info"})
    # The same service with coalescing off, and with authentication off, idle except in the
    # comparisons they serve.
    server_off = subprocess.Popen(
        [binary, "serve"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**served, "PORT": str(port_off), "RUST_LOG": "warn", "COALESCE": "off"})
    server_open = subprocess.Popen(
        [binary, "serve"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**served, "PORT": str(port_open), "RUST_LOG": "warn", "AUTH": "off"})
    try:
        for _ in range(100):
            try:
                for each in (base, base_off, base_open):
                    http_get(f"{each}/health")
                break
            except OSError:
                time.sleep(0.1)
        serving = re.search(r"\((\d+) workers, (\d+) database connections\)", log_path.read_text())
        server_setup = f"{serving.group(1)} HTTP workers, {serving.group(2)} database connections"
        # The feed first, while it holds the seeding's events only.
        feed = feed_paging(base)
        results = http_scenarios(base, url, server.pid, hot, small, big)
        results += balance_at(base, url, server.pid, journaled)
        results.append(transfers(base, url, server.pid))
        results.append(transfers(base, url, server.pid, "transfer-resource", "transfer-resource.lua",
                                 "POST /transfers: one transfer, random wallets"))
        results.append(exchanges(base, url, server.pid, usd_wallets[0], btc_wallets[0]))
        results += holds(base, url, server.pid, holding)
        results += metadata_lists(base, url, server.pid)
        # A 5-key metadata object on every booking; an Idempotency-Key of its own on each.
        tagged = booking_with_and_without(base, "tagged", "metadata", "m")
        currency = booking_in_currencies(base, usd_wallets)
        credit = booking_with_credit(base, limit_wallets)
        keyed = booking_with_and_without(base, "keyed", "an Idempotency-Key", "i")
        journal_cost = booking_with_and_without_journal(base, url)
        events = booking_with_and_without_events(base, url)
        monitored = booking_with_monitors(base, watched, unwatched)
        lag = feed_lag(base)
        coalesced = coalescing(base, base_off, url, hot)
        auth = authentication_cost(base, base_open)
    finally:
        for process in (server, server_off, server_open):
            process.terminate()
            process.wait()
    # The runs without the journal left balances it does not know of: repair re-anchors it.
    repaired = subprocess.run([binary, "repair", "--apply"], env={**os.environ, "DATABASE_URL": url},
                              text=True, capture_output=True, check=True).stdout.strip().splitlines()[-1]
    journal_cost["repair"] = repaired

    bulk = bulk_sql(url, small)
    bulk_events = bulk_with_and_without_events(url)
    moved = bulk_transfers(url)
    log("checking every balance: wallet-api verify")
    verify = subprocess.run([binary, "verify"], env={**os.environ, "DATABASE_URL": url},
                            text=True, capture_output=True)
    # Every figure measured, kept before the report is written from them: a report that
    # fails to render does not lose the run (`make bench` leaves target/bench-results.json).
    raw = Path(ROOT / "target" / "bench-results.json")
    raw.parent.mkdir(exist_ok=True)
    raw.write_text(json.dumps({"results": results, "bulk": bulk, "moved": moved, "journal_cost": journal_cost,
                               "keyed": keyed, "tagged": tagged, "currency": currency, "credit": credit,
                               "coalesced": coalesced, "auth": auth, "feed": feed, "events": events,
                               "monitored": monitored, "lag": lag, "bulk_events": bulk_events},
                              default=str, indent=1))
    evented = {"feed": feed, "events": events, "monitored": monitored, "lag": lag, "bulk": bulk_events}
    write_report(results, bulk, moved, journal_cost, keyed, tagged, currency, credit, coalesced, auth, verify,
                 started, url, server_setup, evented)
    if verify.returncode != 0:
        raise SystemExit(f"wallet-api verify failed after the benchmark:\n{verify.stdout}")


def result(name, what, service_runs, sql_runs, pid, sql):
    service, database = combine(service_runs), combine(sql_runs)
    log(f"  {name}: service {service['rate']:.0f}/s vs pgbench {database['rate']:.0f}/s")
    return {"name": name, "what": what, "service": service, "pgbench": database,
            "ratio": service["rate"] / database["rate"], "rss_mib": peak_rss_mib(pid), "sql": sql.strip()}


def http_scenarios(base, url, pid, hot, small, big):
    deep_offset = (DEEP_PAGE - 1) * PAGE
    last_before_deep = psql(url, f"SELECT id FROM transactions WHERE wallet_id = {big} "
                                 f"ORDER BY id OFFSET {deep_offset - 1} LIMIT 1")
    listed = http_get(f"{base}/transactions?filter%5Bid%5D={last_before_deep}&page%5Bsize%5D=1")
    cursor = listed["data"][0]["meta"]["page"]["cursor"]
    run_id = int(time.time())
    # The statements the service sends (as logged by PostgreSQL with log_statement = all).
    columns = TRANSACTION_COLUMNS
    wallet_by_id = WALLET_BY_ID
    of_wallet = f"SELECT {columns} FROM transactions WHERE wallet_id >= :w AND wallet_id <= :w"
    insert = ("INSERT INTO transactions (wallet_id, txid, amount) VALUES "
              "(:w, 'pgbench-' || gen_random_uuid(), -0.01) RETURNING " + columns + ";\n")
    scenarios = [
        ("create-spread", "POST /transactions, random wallet of 10,000",
         ("create.lua", [f"{run_id}s", 1, SPREAD]), f"\\set w random(1, {SPREAD})\n" + insert),
        ("create-hot", "POST /transactions, one wallet",
         ("create.lua", [f"{run_id}h", hot, hot]), f"\\set w {hot}\n" + insert),
        ("read-wallet", "GET /wallets/{id}, random wallet",
         ("get.lua", ["/wallets/{w}", 1, SPREAD]),
         f"\\set w random(1, {SPREAD})\n" + wallet_by_id),
        ("list-page", f"GET /transactions?filter[wallet]=X&page[size]={PAGE} (first page, X has 1M)",
         ("get.lua", [f"/transactions?filter%5Bwallet%5D={big}&page%5Bsize%5D={PAGE}"]),
         f"\\set w {big}\n{of_wallet} ORDER BY wallet_id, id LIMIT {PAGE + 1};\n"),
        ("list-deep, cursor", f"the same, {DEEP_PAGE:,} pages deep: page[after]",
         ("get.lua", [f"/transactions?filter%5Bwallet%5D={big}&page%5Bsize%5D={PAGE}&page%5Bafter%5D={cursor}"]),
         f"\\set w {big}\n\\set c {last_before_deep}\n"
         f"{of_wallet} AND id > :c ORDER BY wallet_id, id LIMIT {PAGE + 1};\n"),
        ("list-deep, page number", f"the same, page[number]={DEEP_PAGE:,}",
         ("get.lua", [f"/transactions?filter%5Bwallet%5D={big}&page%5Bnumber%5D={DEEP_PAGE}&page%5Bsize%5D={PAGE}"]),
         f"\\set w {big}\n{of_wallet} ORDER BY wallet_id, id LIMIT {PAGE} OFFSET {deep_offset};\n"
         "SELECT count(*) FROM transactions WHERE wallet_id = :w;\n"),
    ]
    results = []
    for name, what, (script, args), sql in scenarios:
        log(f"{name}: warm-up, then {ROUNDS} x (wrk, pgbench) of {SECONDS}s at {CONNECTIONS} connections")
        wrk(base, script, args if script != "create.lua" else [f"{args[0]}w", *args[1:]], 2)
        service_runs, sql_runs = [], []
        for round_ in range(ROUNDS):
            tagged = args if script != "create.lua" else [f"{args[0]}{round_}", *args[1:]]
            # Alternate which side goes first, so neither always meets a warmer machine.
            if round_ % 2 == 0:
                service_runs.append(wrk(base, script, tagged, SECONDS))
                sql_runs.append(pgbench(url, sql, SECONDS))
            else:
                sql_runs.append(pgbench(url, sql, SECONDS))
                service_runs.append(wrk(base, script, tagged, SECONDS))
        results.append(result(name, what, service_runs, sql_runs, pid, sql))

    # balance-scale compares two wallets with each other.
    results += interleaved(base, url, pid, [
        ("balance-scale, 10 tx", "GET /wallets/{id} of a wallet with 10 transactions",
         f"/wallets/{small}", f"\\set w {small}\n" + wallet_by_id),
        ("balance-scale, 1M tx", "GET /wallets/{id} of a wallet with 1,000,000 transactions",
         f"/wallets/{big}", f"\\set w {big}\n" + wallet_by_id),
    ])
    return results


def interleaved(base, url, pid, pair):
    """Two scenarios compared with each other: their runs interleave (and alternate which
    goes first), so that both meet the same machine."""
    short = max(2, SECONDS // 2)
    log(f"{pair[0][0]} / {pair[1][0]}: {2 * ROUNDS} interleaved rounds of {short}s per side")
    runs = {name: ([], []) for name, *_ in pair}
    for round_ in range(2 * ROUNDS):
        for name, _, path, sql in (pair if round_ % 2 == 0 else pair[::-1]):
            args = list(path) if isinstance(path, tuple) else [path]
            runs[name][0].append(wrk(base, "get.lua", args, short))
            runs[name][1].append(pgbench(url, sql, short))
    return [result(name, what, *runs[name], pid, sql) for name, what, _, sql in pair]


def balance_at(base, url, pid, wallets):
    """GET /wallets/{id}?balanceAt=T, a time in the middle of the journal, of a wallet with 10
    journal entries and one with 1,000,000."""
    scenarios = []
    for wallet, rows in zip(wallets, (10, JOURNAL_ROWS)):
        middle = psql(url, f"SELECT to_char(changed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
                           f"FROM balance_changes WHERE wallet_id = {wallet} ORDER BY id OFFSET {rows // 2} LIMIT 1")
        sql = (f"\\set w {wallet}\n"
               + WALLET_BY_ID + f"SELECT wallet_balance_at(:w, '{middle}'), wallet_held_at(:w, '{middle}'), wallet_credit_limit_at(:w, '{middle}');\n")
        scenarios.append((f"balance-at, {rows:,} entries",
                          f"GET /wallets/{{id}}?balanceAt=T of a wallet with {rows:,} journal entries",
                          f"/wallets/{wallet}?balanceAt={middle}", sql))
    return interleaved(base, url, pid, scenarios)


def transfers(base, url, pid, name="transfer", script="transfer.lua",
              what="POST /operations: two add transactions, random wallets"):
    """A transfer between two random wallets (by default two add operations in one atomic
    request; `script` says how), beside pgbench running the same two INSERTs in one
    transaction."""
    run_id = int(time.time())
    insert = ("INSERT INTO transactions (wallet_id, txid, amount) VALUES "
              "(:{w}, 'pgbench-' || gen_random_uuid(), {amount}) RETURNING id, wallet_id, txid, amount, created_at;\n")
    sql = (f"\\set a random(1, {SPREAD})\n\\set b random(1, {SPREAD})\nBEGIN;\n"
           + insert.format(w="a", amount="-0.01") + insert.format(w="b", amount="0.01") + "COMMIT;\n")
    tag = "r" if script != "transfer.lua" else "t"
    log(f"{name}: warm-up, then {ROUNDS} x (wrk, pgbench) of {SECONDS}s at {CONNECTIONS} connections")
    wrk(base, script, [f"{run_id}{tag}w", 1, SPREAD], 2)
    service_runs, sql_runs = [], []
    for round_ in range(ROUNDS):
        service = lambda: service_runs.append(wrk(base, script, [f"{run_id}{tag}{round_}", 1, SPREAD], SECONDS))
        database = lambda: sql_runs.append(pgbench(url, sql, SECONDS))
        for side in ((service, database) if round_ % 2 == 0 else (database, service)):
            side()
    return result(name, what, service_runs, sql_runs, pid, sql)


def exchanges(base, url, pid, first_usd, first_btc):
    """exchange: 0.01 USD of a random client into its BTC wallet at a quoted rate, through the
    one liquidity wallet of each currency, beside pgbench running the service's two
    statements (the INSERT, then the read of the row it answers with)."""
    run_id = int(time.time())
    sql = (f"\\set i random(0, {SPREAD - 1})\n"
           "INSERT INTO exchanges (txid, source_wallet_id, destination_wallet_id, source_amount, rate) "
           f"VALUES ('pgbench-' || gen_random_uuid(), {first_usd} + :i, {first_btc} + :i, 0.01, 0.0000105) "
           "RETURNING id \\gset\n"
           "SELECT * FROM exchanges_with_scale WHERE id = :id;\n")
    log(f"exchange: warm-up, then {ROUNDS} x (wrk, pgbench) of {SECONDS}s at {CONNECTIONS} connections")
    args = lambda tag: [f"{run_id}{tag}", first_usd, first_btc, SPREAD]
    wrk(base, "exchange.lua", args("xw"), 2)
    service_runs, sql_runs = [], []
    for round_ in range(ROUNDS):
        service = lambda: service_runs.append(wrk(base, "exchange.lua", args(f"x{round_}"), SECONDS))
        database = lambda: sql_runs.append(pgbench(url, sql, SECONDS))
        for side in ((service, database) if round_ % 2 == 0 else (database, service)):
            side()
    return result("exchange", "POST /exchanges: 0.01 USD into BTC, random clients, one liquidity wallet "
                  "per currency", service_runs, sql_runs, pid, sql)


def holds(base, url, pid, holding):
    """hold-capture: a hold, then its capture (two requests per iteration) on random
    wallets, beside pgbench running the same two statements; and a wallet's read with 0, 10
    and 10,000 pending holds on it."""
    sql = (f"\\set w random(1, {SPREAD})\n"
           "INSERT INTO holds (wallet_id, amount) VALUES (:w, 0.01) RETURNING id \\gset\n"
           "SELECT capture_hold(:id);\n")
    log(f"hold-capture: warm-up, then {ROUNDS} x (wrk, pgbench) of {SECONDS}s at {CONNECTIONS} connections")
    wrk(base, "hold.lua", [1, SPREAD], 2)
    service_runs, sql_runs = [], []
    for round_ in range(ROUNDS):
        service = lambda: service_runs.append(wrk(base, "hold.lua", [1, SPREAD], SECONDS))
        database = lambda: sql_runs.append(pgbench(url, sql, SECONDS))
        for side in ((service, database) if round_ % 2 == 0 else (database, service)):
            side()
    # Two requests make one iteration, as the two statements make one pgbench transaction.
    for run_ in service_runs:
        run_["rate"] /= 2
    captured = result("hold-capture", "POST /holds then PATCH it captured (per pair), random wallets",
                      service_runs, sql_runs, pid, sql)
    scale = interleaved(base, url, pid, [
        (f"hold-scale, {count:,} holds", f"GET /wallets/{{id}} of a wallet with {count:,} pending holds",
         f"/wallets/{wallet}", f"\\set w {wallet}\n" + WALLET_BY_ID)
        for count, wallet in holding])
    return [captured, *scale]


def metadata_lists(base, url, pid):
    """list-by-metadata: the first page of transactions whose metadata holds one value, among
    10,000 transactions carrying that key and among 1,000,000 (interleaved), each beside
    pgbench running the service's two statements (the ids, then the page)."""
    pairs = []
    for rows, key, prefix, values in ((SMALL_TAGGED, "batch", "b-", SMALL_TAGGED * TAGGED_VALUES // BIG_ROWS),
                                      (BIG_ROWS, "invoice", "inv-", TAGGED_VALUES)):
        path = (f"/transactions?filter%5Bmetadata.{key}%5D={prefix}{{w}}&page%5Bsize%5D={PAGE}")
        # What the service sends: the ids the GIN index finds, then the page by id.
        sql = (f"\\set w random(0, {values - 1})\n"
               f"SELECT metadata_ids('transactions', ARRAY[jsonb_build_object('{key}', '{prefix}' || :w)], "
               f"NULL, 1000) AS ids \\gset\n"
               f"SELECT {TRANSACTION_COLUMNS} FROM transactions WHERE id = ANY (:ids::bigint[]) "
               f"ORDER BY id LIMIT {PAGE + 1};\n")
        pairs.append((f"list-by-metadata, {rows:,} tagged",
                      f"GET /transactions?filter[metadata.{key}]=X (first page; {rows:,} transactions carry "
                      f"{key}, 10 of them X)", (path, 0, values - 1), sql))
    return interleaved(base, url, pid, pairs)


def booking_with_and_without(base, option, what, tag):
    """create-spread with create.lua's `option` on every request (its key in the result),
    and without (`plain`), in alternating rounds."""
    run_id = int(time.time())
    rates = {option: [], "plain": []}
    log(f"{what} cost: {2 * ROUNDS} alternating rounds of create-spread, {SECONDS}s each")
    for round_ in range(2 * ROUNDS):
        for mode in ((option, "plain") if round_ % 2 == 0 else ("plain", option)):
            args = [f"{run_id}{tag}{round_}{mode[0]}", 1, SPREAD] + ([option] if mode == option else [])
            rates[mode].append(wrk(base, "create.lua", args, SECONDS))
    with_it, plain = combine(rates[option]), combine(rates["plain"])
    log(f"  booking: {with_it['rate']:.0f}/s with {what}, {plain['rate']:.0f}/s without")
    return {option: with_it, "plain": plain, "ratio": with_it["rate"] / plain["rate"]}


def booking_in_currencies(base, usd_wallets):
    """create-spread on {SPREAD} XXX wallets (18 digits) and on as many USD wallets (2), in
    alternating rounds: what the scale check and the rendering at the scale cost."""
    run_id = int(time.time())
    first, last = usd_wallets
    rates = {"USD": [], "XXX": []}
    log(f"currency cost: {2 * ROUNDS} alternating rounds of create-spread on XXX and USD wallets, {SECONDS}s each")
    # The USD wallets are touched here first: warm both sets before measuring.
    for mode, wallets in (("USD", [first, last]), ("XXX", [1, SPREAD])):
        wrk(base, "create.lua", [f"{run_id}cw{mode}", *wallets], 2)
    for round_ in range(2 * ROUNDS):
        for mode in (("USD", "XXX") if round_ % 2 == 0 else ("XXX", "USD")):
            wallets = [first, last] if mode == "USD" else [1, SPREAD]
            rates[mode].append(wrk(base, "create.lua", [f"{run_id}c{round_}{mode}", *wallets], SECONDS))
    usd, xxx = combine(rates["USD"]), combine(rates["XXX"])
    log(f"  booking: {usd['rate']:.0f}/s on USD wallets, {xxx['rate']:.0f}/s on XXX wallets")
    return {"USD": usd, "XXX": xxx, "ratio": usd["rate"] / xxx["rate"]}


def booking_with_credit(base, limit_wallets):
    """create-spread on {SPREAD} wallets with a credit limit and on as many without, in
    alternating rounds: what the limit costs the engine's check."""
    run_id = int(time.time())
    first, last = limit_wallets
    rates = {"limit": [], "plain": []}
    log(f"credit cost: {2 * ROUNDS} alternating rounds of create-spread on wallets with and without a limit")
    for mode, wallets in (("limit", [first, last]), ("plain", [1, SPREAD])):
        wrk(base, "create.lua", [f"{run_id}lw{mode}", *wallets], 2)
    for round_ in range(2 * ROUNDS):
        for mode in (("limit", "plain") if round_ % 2 == 0 else ("plain", "limit")):
            wallets = [first, last] if mode == "limit" else [1, SPREAD]
            rates[mode].append(wrk(base, "create.lua", [f"{run_id}l{round_}{mode}", *wallets], SECONDS))
    limit, plain = combine(rates["limit"]), combine(rates["plain"])
    log(f"  booking: {limit['rate']:.0f}/s with a credit limit, {plain['rate']:.0f}/s without")
    return {"limit": limit, "plain": plain, "ratio": limit["rate"] / plain["rate"]}


def authentication_cost(base_on, base_open):
    """read-wallet and create-spread through the service with authentication and rate limits
    on and with AUTH=off (two servers on the same database, alternating rounds)."""
    run_id = int(time.time())
    shapes = [("read-wallet", "get.lua", lambda tag: ["/wallets/{w}", 1, SPREAD]),
              ("create-spread", "create.lua", lambda tag: [f"{run_id}a{tag}", 1, SPREAD])]
    out = {}
    for name, script, args in shapes:
        log(f"authentication cost: {name}, {2 * ROUNDS} alternating rounds of on/off, {SECONDS}s each")
        runs = {"on": [], "off": []}
        for round_ in range(2 * ROUNDS):
            for mode in (("on", "off") if round_ % 2 == 0 else ("off", "on")):
                base = base_on if mode == "on" else base_open
                runs[mode].append(wrk(base, script, args(f"{round_}{mode}"), SECONDS))
        on, off = combine(runs["on"]), combine(runs["off"])
        log(f"  {name}: {on['rate']:.0f}/s authenticated, {off['rate']:.0f}/s with AUTH=off")
        out[name] = {"on": on, "off": off, "ratio": on["rate"] / off["rate"]}
    return out


def batch_histogram(base):
    """The cumulative buckets of wallet_api_coalesced_batch_size, from /metrics."""
    request = urllib.request.Request(f"{base}/metrics", headers={"Authorization": f"Bearer {KEY}"})
    with urllib.request.urlopen(request) as response:
        text = response.read().decode()
    return {float(m.group(1)) if m.group(1) != "+Inf" else float("inf"): float(m.group(2))
            for m in re.finditer(r'wallet_api_coalesced_batch_size_bucket\{le="([^"]+)"\} (\S+)', text)}


def wave_counters(base):
    """The coalescer's counters, from /metrics: batches and the writes in them, and its waves'
    statements, bookings written by them, bisections and wallet locks."""
    request = urllib.request.Request(f"{base}/metrics", headers={"Authorization": f"Bearer {KEY}"})
    with urllib.request.urlopen(request) as response:
        text = response.read().decode()
    counters = {m.group(1): float(m.group(2))
                for m in re.finditer(r'wallet_api_coalesced_wave_total\{kind="([^"]+)"\} (\S+)', text)}
    for name in ("sum", "count"):
        found = re.search(rf"wallet_api_coalesced_batch_size_{name} (\S+)", text)
        counters[f"batch_{name}"] = float(found.group(1)) if found else 0.0
    return counters


def coalescing(base_on, base_off, url, hot):
    """create-spread and create-hot through the service with coalescing on and off
    (alternating rounds, 16 connections, then one), beside pgbench's -M simple and -M
    prepared rates for the same INSERT; and the sizes of the batches coalescing formed."""
    run_id = int(time.time())
    insert = ("INSERT INTO transactions (wallet_id, txid, amount) VALUES "
              "(:w, 'pgbench-' || gen_random_uuid(), -0.01) RETURNING id, wallet_id, txid, amount, created_at;\n")
    shapes = [("create-spread", 1, SPREAD, f"\\set w random(1, {SPREAD})\n" + insert),
              ("create-hot", hot, hot, f"\\set w {hot}\n" + insert)]
    out = {}
    for name, first, last, sql in shapes:
        for connections in (CONNECTIONS, 1):
            key = f"{name}, {connections} connection{'s' if connections > 1 else ''}"
            log(f"coalescing: {key}: {2 * ROUNDS} alternating rounds of on/off, {SECONDS}s each")
            runs = {"on": [], "off": []}
            before = batch_histogram(base_on)
            waves_before = wave_counters(base_on)
            for round_ in range(2 * ROUNDS):
                for mode in (("on", "off") if round_ % 2 == 0 else ("off", "on")):
                    base = base_on if mode == "on" else base_off
                    args = [f"{run_id}c{name[7]}{connections}{round_}{mode}", first, last]
                    runs[mode].append(wrk(base, "create.lua", args, SECONDS, connections))
            after = batch_histogram(base_on)
            waves_after = wave_counters(base_on)
            entry = {"on": combine(runs["on"]), "off": combine(runs["off"]),
                     "batches": {le: after[le] - before.get(le, 0) for le in after},
                     "waves": {k: waves_after[k] - waves_before.get(k, 0) for k in waves_after}}
            if connections > 1:
                log(f"  {key}: pgbench -M simple and -M prepared")
                entry["simple"] = combine([pgbench(url, sql, SECONDS, "simple") for _ in range(ROUNDS)])
                entry["prepared"] = combine([pgbench(url, sql, SECONDS, "prepared") for _ in range(ROUNDS)])
            log(f"  {key}: on {entry['on']['rate']:.0f}/s, off {entry['off']['rate']:.0f}/s")
            out[key] = entry
    log("read-wallet: pgbench -M simple")
    read = (f"\\set w random(1, {SPREAD})\n"
            "SELECT id, label, balance, created_at, updated_at FROM wallets WHERE id = :w LIMIT 1;\n")
    out["read-wallet, pgbench -M simple"] = combine([pgbench(url, read, SECONDS, "simple") for _ in range(ROUNDS)])
    return out


def coalescing_report(coalesced, by_name, target):
    lines = ["| scenario | coalescing on req/s | p50 / p99 ms | off req/s | p50 / p99 ms | on / off "
             "| pgbench -M simple | -M prepared | on / simple | on / prepared |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    writes = {k: v for k, v in coalesced.items() if k.startswith("create")}
    for key, e in writes.items():
        on, off = e["on"], e["off"]
        simple = f"{e['simple']['rate']:,.0f}" if "simple" in e else ""
        prepared = f"{e['prepared']['rate']:,.0f}" if "prepared" in e else ""
        vs_simple = f"{on['rate'] / e['simple']['rate']:.2f}" if "simple" in e else ""
        vs_prepared = f"{on['rate'] / e['prepared']['rate']:.2f}" if "prepared" in e else ""
        lines.append(f"| {key} | {on['rate']:,.0f} | {on['p50_ms']:.2f} / {on['p99_ms']:.2f} | {off['rate']:,.0f} "
                     f"| {off['p50_ms']:.2f} / {off['p99_ms']:.2f} | {on['rate'] / off['rate']:.2f} "
                     f"| {simple} | {prepared} | {vs_simple} | {vs_prepared} |")
    sizes = ["", "Writes per coalesced batch with coalescing on (share of batches; 1 = ran alone):", "",
             "| scenario | " + " | ".join(["1", "2", "3-4", "5-8", "9-16", "17-32", "33-64"]) + " | batches |",
             "|---|" + "---:|" * 8]
    for key, e in writes.items():
        buckets = sorted(e["batches"].items())
        total = buckets[-1][1] if buckets else 0
        shares, previous = [], 0
        for le, count in buckets:
            if le > 64:
                break
            shares.append(f"{(count - previous) / total:.0%}" if total else "-")
            previous = count
        sizes.append(f"| {key} | " + " | ".join(shares) + f" | {total:,.0f} |")
    sizes += ["", "Waves with coalescing on (/metrics): multi-row statements per batch, bookings each "
              "wrote, share of the batches' bookings they wrote, bisections, batches that locked their "
              "wallets first:", "",
              "| scenario | batches | bookings in them | statements / batch | bookings / statement "
              "| written by statements | bisections | locks |", "|---|" + "---:|" * 7]
    for key, e in writes.items():
        w = e["waves"]
        batches, booked = w.get("batch_count", 0), w.get("batch_sum", 0)
        statements, written = w.get("statements", 0), w.get("written", 0)
        sizes.append(f"| {key} | {batches:,.0f} | {booked:,.0f} "
                     f"| {statements / batches if batches else 0:.2f} | {written / statements if statements else 0:.1f} "
                     f"| {written / booked if booked else 0:.0%} | {w.get('bisections', 0):,.0f} | {w.get('locks', 0):,.0f} |")
    spread, hot = coalesced[f"create-spread, {CONNECTIONS} connections"], coalesced[f"create-hot, {CONNECTIONS} connections"]
    single = coalesced["create-spread, 1 connection"]
    read, read_simple = by_name["read-wallet"], coalesced["read-wallet, pgbench -M simple"]
    targets = [
        target("create-spread, coalescing on: >= 1.5 x pgbench (the same INSERT, -M prepared)",
               f"{spread['on']['rate'] / spread['prepared']['rate']:.2f}", spread['on']['rate'] >= 1.5 * spread['prepared']['rate'],
               f"{spread['on']['rate']:,.0f} vs {spread['prepared']['rate']:,.0f}/s; -M simple {spread['simple']['rate']:,.0f}/s"),
        target("create-hot, coalescing on: >= 1.5 x pgbench's hot-row rate",
               f"{hot['on']['rate'] / hot['prepared']['rate']:.2f}", hot['on']['rate'] >= 1.5 * hot['prepared']['rate'],
               f"{hot['on']['rate']:,.0f} vs {hot['prepared']['rate']:,.0f}/s"),
        target("read-wallet: >= 1.0 x pgbench -M simple on the same SELECT",
               f"{read['service']['rate'] / read_simple['rate']:.2f}", read['service']['rate'] >= read_simple['rate'],
               f"{read['service']['rate']:,.0f} vs {read_simple['rate']:,.0f}/s (-M prepared {read['pgbench']['rate']:,.0f}/s)"),
        target(f"p99 at {CONNECTIONS} connections, coalescing on no worse than off (create-spread)",
               f"{spread['on']['p99_ms']:.2f} vs {spread['off']['p99_ms']:.2f} ms",
               spread['on']['p99_ms'] <= spread['off']['p99_ms'], ""),
        target("one connection: coalescing on p50 within 1.1 x off (create-spread)",
               f"{single['on']['p50_ms'] / single['off']['p50_ms']:.2f}",
               single['on']['p50_ms'] <= 1.1 * single['off']['p50_ms'],
               f"{single['on']['p50_ms']:.2f} vs {single['off']['p50_ms']:.2f} ms"),
    ]
    return lines + sizes, targets


def without_journal(url):
    """wallet_apply as it is, and the same function without its journal insert."""
    signature = "wallet_apply(text, bigint[], numeric[], numeric[], bigint[], bigint[], bigint[], bigint[], integer[])"
    original = psql(url, f"SELECT pg_get_functiondef('{signature}'::regprocedure)")
    stripped, n = re.subn(r"INSERT INTO balance_changes.*?RETURNING c\.wallet_id, c\.id;",
                          "SELECT a.id, NULL::bigint FROM applied AS a;", original, flags=re.S)
    if n != 1:
        raise SystemExit("bench: cannot find the journal insert in wallet_apply")
    return original, stripped


def booking_with_and_without_journal(base, url):
    """create-spread through the service with the journal, and with wallet_apply swapped for
    the same function without its journal insert, alternating."""
    original, stripped = without_journal(url)
    run_id = int(time.time())
    rates = {"journal": [], "no journal": []}
    log(f"journal cost: {2 * ROUNDS} alternating rounds of create-spread, {SECONDS}s each")
    try:
        for round_ in range(2 * ROUNDS):
            for mode in (("journal", "no journal") if round_ % 2 == 0 else ("no journal", "journal")):
                psql(url, original if mode == "journal" else stripped)
                rates[mode].append(wrk(base, "create.lua", [f"{run_id}j{round_}{mode[0]}", 1, SPREAD], SECONDS))
    finally:
        psql(url, original)
    journal, bare = combine(rates["journal"]), combine(rates["no journal"])
    log(f"  booking: {journal['rate']:.0f}/s with the journal, {bare['rate']:.0f}/s without")
    return {"journal": journal, "bare": bare, "ratio": journal["rate"] / bare["rate"]}


# The events triggers of a booking: the rows' events and the journal's.
EVENT_TRIGGERS = (("transactions", "transactions_z_events_insert"), ("balance_changes", "balance_changes_z_events"))


def without_events(url):
    """wallet_apply as it is, and the same function without the balance.changed events it
    writes beside its journal rows."""
    signature = "wallet_apply(text, bigint[], numeric[], numeric[], bigint[], bigint[], bigint[], bigint[], integer[])"
    original = psql(url, f"SELECT pg_get_functiondef('{signature}'::regprocedure)")
    stripped, n = re.subn(r"\), evented AS \(.*?ORDER BY j\.wallet_id\s*\)", ")", original, flags=re.S)
    if n != 1:
        raise SystemExit("bench: cannot find the events insert in wallet_apply")
    return original, stripped


def event_triggers(url, enabled, functions=None):
    """The events of a booking on (wallet_apply as it is, the events triggers enabled) or off."""
    if functions:
        psql(url, functions[0] if enabled else functions[1])
    psql(url, "; ".join(f"ALTER TABLE {table} {'ENABLE ALWAYS' if enabled else 'DISABLE'} TRIGGER {name}"
                        for table, name in EVENT_TRIGGERS))


def booking_with_and_without_events(base, url):
    """create-spread with the events written beside each booking, and without them
    (wallet_apply without its events insert, the events triggers disabled), alternating."""
    run_id = int(time.time())
    rates = {"events": [], "no events": []}
    functions = without_events(url)
    log(f"events cost: {2 * ROUNDS} alternating rounds of create-spread, {SECONDS}s each")
    try:
        for round_ in range(2 * ROUNDS):
            for mode in (("events", "no events") if round_ % 2 == 0 else ("no events", "events")):
                event_triggers(url, mode == "events", functions)
                rates[mode].append(wrk(base, "create.lua", [f"{run_id}e{round_}{mode[0]}", 1, SPREAD], SECONDS))
    finally:
        event_triggers(url, True, functions)
    with_events, bare = combine(rates["events"]), combine(rates["no events"])
    log(f"  booking: {with_events['rate']:.0f}/s with events, {bare['rate']:.0f}/s without")
    return {"events": with_events, "bare": bare, "ratio": with_events["rate"] / bare["rate"]}


def booking_with_monitors(base, watched, unwatched):
    """create-spread over {MONITORED} wallets with {MONITORS} monitors each and over as many
    without, alternating."""
    run_id = int(time.time())
    rates = {"monitors": [], "plain": []}
    log(f"monitors cost: {2 * ROUNDS} alternating rounds of create-spread, {SECONDS}s each")
    for round_ in range(2 * ROUNDS):
        for mode in (("monitors", "plain") if round_ % 2 == 0 else ("plain", "monitors")):
            wallets = watched if mode == "monitors" else unwatched
            rates[mode].append(wrk(base, "create.lua", [f"{run_id}n{round_}{mode[0]}", *wallets], SECONDS))
    monitored, plain = combine(rates["monitors"]), combine(rates["plain"])
    log(f"  booking: {monitored['rate']:.0f}/s with {MONITORS} monitors a wallet, {plain['rate']:.0f}/s without")
    return {"monitors": monitored, "plain": plain, "ratio": monitored["rate"] / plain["rate"]}


def feed_paging(base):
    """Reads the first {FEED_EVENTS} events of the feed in cursor pages of {FEED_PAGE}, one
    request after the other: events/s, and the first pages' latency beside the last ones'."""
    log(f"feed: reading {FEED_EVENTS:,} events in pages of {FEED_PAGE}")
    latencies, read, path = [], 0, f"/events?page[size]={FEED_PAGE}"
    started = time.perf_counter()
    while read < FEED_EVENTS:
        begin = time.perf_counter()
        page = http_get(base + path)
        latencies.append(time.perf_counter() - begin)
        read += len(page["data"])
        following = page["links"].get("next")
        if not following:
            break
        path = following[len(base):] if following.startswith(base) else following
    seconds = time.perf_counter() - started
    edge = max(1, len(latencies) // 100)
    first = statistics.median(latencies[:edge]) * 1000
    last = statistics.median(latencies[-edge:]) * 1000
    log(f"  {read:,} events in {seconds:.1f} s; pages {first:.2f} ms first, {last:.2f} ms last")
    return {"events": read, "seconds": seconds, "rate": read / seconds, "pages": len(latencies),
            "first_ms": first, "last_ms": last, "ratio": last / first, "edge_pages": edge}


def feed_lag(base):
    """While create-spread runs, a stream (GET /events as text/event-stream) receives every
    booking's event: how long after it was written (occurredAt) each one arrived."""
    import threading
    run_id = int(time.time())
    lags, stop = [], threading.Event()
    request = urllib.request.Request(
        f"{base}/events?filter[eventType]=transaction.created",
        headers={"Accept": "text/event-stream", "Authorization": f"Bearer {KEY}"})
    stream = urllib.request.urlopen(request, timeout=30)

    def listen():
        for raw in stream:
            if stop.is_set():
                return
            line = raw.decode()
            if line.startswith("data: "):
                arrived = datetime.datetime.now(datetime.timezone.utc)
                occurred = json.loads(line[6:])["attributes"]["occurredAt"]
                at = datetime.datetime.fromisoformat(occurred.replace("Z", "+00:00"))
                lags.append((arrived - at).total_seconds() * 1000)

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    log(f"feed lag: a stream beside create-spread, {2 * SECONDS}s")
    load = wrk(base, "create.lua", [f"{run_id}lag", 1, SPREAD], 2 * SECONDS)
    time.sleep(2)
    stop.set()
    stream.close()
    lags.sort()
    pick = lambda p: lags[min(len(lags) - 1, int(len(lags) * p))] if lags else float("nan")
    log(f"  {len(lags):,} events streamed; lag p50 {pick(0.5):.0f} ms, p99 {pick(0.99):.0f} ms")
    return {"events": len(lags), "p50_ms": pick(0.5), "p99_ms": pick(0.99), "max_ms": lags[-1] if lags else None,
            "load": load}


def bulk_with_and_without_events(url):
    """INSERT ... SELECT of 1,000,000 rows over 10,000 wallets with the events triggers, and
    with them disabled (the balance triggers on in both), alternating; each rolled back."""
    select = f"SELECT 1 + g % {SPREAD}, 'bulk-e-' || g, 0.5 FROM generate_series(1, 1000000) g"
    timings = {"events": [], "no events": []}
    functions = without_events(url)
    for round_ in range(ROUNDS):
        for mode in (("events", "no events") if round_ % 2 == 0 else ("no events", "events")):
            log(f"bulk-sql: 1,000,000 rows, {mode}, round {round_ + 1}")
            psql(url, "CHECKPOINT")
            disable = "" if mode == "events" else "; ".join(
                f"ALTER TABLE {table} DISABLE TRIGGER {name}" for table, name in EVENT_TRIGGERS) + ";"
            if mode != "events":
                psql(url, functions[1])
            try:
                timings[mode].append(timed_sql(
                    url, f"BEGIN; {disable} INSERT INTO transactions (wallet_id, txid, amount) {select}; ROLLBACK;"))
            finally:
                psql(url, functions[0])
    with_events, bare = statistics.median(timings["events"]), statistics.median(timings["no events"])
    return {"shape": "1,000,000 rows over 10,000 wallets", "events": with_events, "bare": bare,
            "ratio": with_events / bare, "runs": timings}


def bulk_sql(url, small):
    """INSERT ... SELECT with the balance triggers, and with them disabled (foreign key and
    indexes stay in both), alternating; each run is undone before the next."""
    shapes = [
        ("1,000,000 rows over 10,000 wallets",
         f"SELECT 1 + g % {SPREAD}, 'bulk-' || g, 0.5 FROM generate_series(1, 1000000) g"),
        ("100,000 rows into one wallet",
         f"SELECT {small}, 'bulk-' || g, 0.5 FROM generate_series(1, 100000) g"),
    ]
    results = []
    for label, select in shapes:
        timings = {"triggers": [], "bare": []}
        for round_ in range(ROUNDS):
            order = ["triggers", "bare"] if round_ % 2 == 0 else ["bare", "triggers"]
            for mode in order:
                log(f"bulk-sql: {label}, {mode}, round {round_ + 1}")
                psql(url, "CHECKPOINT")
                if mode == "bare":
                    psql(url, "ALTER TABLE transactions DISABLE TRIGGER transactions_balance_insert")
                seconds = timed_sql(url, f"INSERT INTO transactions (wallet_id, txid, amount) {select}")
                timings[mode].append(seconds)
                # Undo: rows inserted without the trigger are deleted without the trigger.
                if mode == "bare":
                    psql(url, "ALTER TABLE transactions DISABLE TRIGGER transactions_balance_delete")
                psql(url, "DELETE FROM transactions WHERE txid LIKE 'bulk-%'")
                psql(url, "ALTER TABLE transactions ENABLE ALWAYS TRIGGER transactions_balance_insert; "
                          "ALTER TABLE transactions ENABLE ALWAYS TRIGGER transactions_balance_delete")
                psql(url, "VACUUM transactions")
        with_triggers = statistics.median(timings["triggers"])
        bare = statistics.median(timings["bare"])
        results.append({"shape": label, "triggers": with_triggers, "bare": bare,
                        "ratio": with_triggers / bare, "runs": timings})
    return results


def bulk_transfers(url):
    """1,000,000 transfers in one INSERT INTO transfers ... SELECT, and the same 2,000,000 legs
    as plain transactions in one INSERT, alternating; each in a transaction rolled back (a
    transfer is never deleted)."""
    forms = {
        "transfers": ("INSERT INTO transfers (txid, source_wallet_id, destination_wallet_id, amount) "
                      f"SELECT 'bulk-t-' || g, 1 + g % {SPREAD}, 1 + (g + 1) % {SPREAD}, 0.01 "
                      "FROM generate_series(1, 1000000) g"),
        "legs": ("INSERT INTO transactions (wallet_id, txid, amount) "
                 "SELECT leg.wallet_id, 'bulk-l-' || g || leg.side, leg.amount "
                 "FROM generate_series(1, 1000000) g CROSS JOIN LATERAL (VALUES "
                 f"(1 + g % {SPREAD}, ':d', -0.01), (1 + (g + 1) % {SPREAD}, ':c', 0.01)) "
                 "AS leg (wallet_id, side, amount)"),
    }
    timings = {"transfers": [], "legs": []}
    for round_ in range(ROUNDS):
        for mode in (("transfers", "legs") if round_ % 2 == 0 else ("legs", "transfers")):
            log(f"bulk-sql: 1,000,000 transfers, {mode}, round {round_ + 1}")
            psql(url, "CHECKPOINT")
            timings[mode].append(timed_sql(url, f"BEGIN; {forms[mode]}; ROLLBACK;"))
    transfers_s, legs_s = statistics.median(timings["transfers"]), statistics.median(timings["legs"])
    return {"shape": "1,000,000 transfers (2,000,000 legs) over 10,000 wallets",
            "transfers": transfers_s, "legs": legs_s, "ratio": transfers_s / legs_s,
            "runs": timings, "sql": forms}


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), platform.processor())
    mem_kib = int(next(l.split()[1] for l in Path("/proc/meminfo").read_text().splitlines()
                       if l.startswith("MemTotal")))
    return f"{os.cpu_count()} CPUs ({cpu}), {mem_kib / 1024 / 1024:.0f} GiB, Linux {platform.release()}"


def write_report(results, bulk, moved, journal_cost, keyed, tagged, currency, credit, coalesced, auth, verify, started,
                 url, server_setup, evented):
    settings = psql(url, "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ', ' ORDER BY name) "
                         "FROM pg_settings WHERE name IN ('shared_buffers', 'synchronous_commit', 'fsync', "
                         "'max_connections', 'work_mem', 'wal_level', 'max_wal_size')")
    version = psql(url, "SHOW server_version")
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split()[1]
    env = " ".join(f"{k}={os.environ[k]}" for k in sorted(os.environ) if k.startswith("BENCH_"))
    command = f"{env + ' ' if env else ''}make bench"

    by_name = {r["name"]: r for r in results}
    lines = []
    lines.append("| scenario | what | service req/s | p50 / p99 ms | pgbench tx/s | p50 / p99 ms | service / pgbench | server peak RSS |")
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        s, d = r["service"], r["pgbench"]
        lines.append(f"| {r['name']} | {r['what']} | {s['rate']:,.0f} | {s['p50_ms']:.2f} / {s['p99_ms']:.2f} "
                     f"| {d['rate']:,.0f} | {d['p50_ms']:.2f} / {d['p99_ms']:.2f} | {r['ratio']:.2f} | {r['rss_mib']:.0f} MiB |")
    journal_lines = [
        "| create-spread, service | req/s | p50 / p99 ms |", "|---|---:|---:|",
        *[f"| {label} | {r['rate']:,.0f} | {r['p50_ms']:.2f} / {r['p99_ms']:.2f} |"
          for label, r in (("with the journal", journal_cost["journal"]),
                           ("wallet_apply without its journal insert", journal_cost["bare"]))],
    ]
    currency_lines = [
        "| create-spread, service | req/s | p50 / p99 ms |", "|---|---:|---:|",
        *[f"| {label} | {r['rate']:,.0f} | {r['p50_ms']:.2f} / {r['p99_ms']:.2f} |"
          for label, r in ((f"{SPREAD:,} USD wallets (scale 2)", currency["USD"]),
                           (f"{SPREAD:,} XXX wallets (scale 18)", currency["XXX"]))],
    ]
    credit_lines = [
        "| create-spread, service | req/s | p50 / p99 ms |", "|---|---:|---:|",
        *[f"| {label} | {r['rate']:,.0f} | {r['p50_ms']:.2f} / {r['p99_ms']:.2f} |"
          for label, r in ((f"{SPREAD:,} wallets with a credit limit", credit["limit"]),
                           (f"{SPREAD:,} wallets without", credit["plain"]))],
    ]
    tagged_lines = [
        "| create-spread, service | req/s | p50 / p99 ms |", "|---|---:|---:|",
        *[f"| {label} | {r['rate']:,.0f} | {r['p50_ms']:.2f} / {r['p99_ms']:.2f} |"
          for label, r in (("each booking with a 5-key metadata object", tagged["tagged"]),
                           ("without metadata", tagged["plain"]))],
    ]
    keyed_lines = [
        "| create-spread, service | req/s | p50 / p99 ms |", "|---|---:|---:|",
        *[f"| {label} | {r['rate']:,.0f} | {r['p50_ms']:.2f} / {r['p99_ms']:.2f} |"
          for label, r in (("each request with an Idempotency-Key of its own", keyed["keyed"]),
                           ("without the header", keyed["plain"]))],
    ]
    auth_lines = [
        "| scenario | authenticated req/s | p50 / p99 ms | AUTH=off req/s | p50 / p99 ms | on / off |",
        "|---|---:|---:|---:|---:|---:|",
        *[f"| {name} | {r['on']['rate']:,.0f} | {r['on']['p50_ms']:.2f} / {r['on']['p99_ms']:.2f} "
          f"| {r['off']['rate']:,.0f} | {r['off']['p50_ms']:.2f} / {r['off']['p99_ms']:.2f} | {r['ratio']:.2f} |"
          for name, r in auth.items()],
    ]
    bulk_lines = ["| bulk-sql shape | with triggers (balance + journal) | balance trigger disabled | ratio |",
                  "|---|---:|---:|---:|"]
    for b in bulk:
        bulk_lines.append(f"| {b['shape']} | {b['triggers']:.2f} s | {b['bare']:.2f} s | {b['ratio']:.2f} |")
    bulk_lines += ["", "| bulk transfers | INSERT INTO transfers | the same legs as plain transactions | ratio |",
                   "|---|---:|---:|---:|",
                   f"| {moved['shape']} | {moved['transfers']:.2f} s | {moved['legs']:.2f} s | {moved['ratio']:.2f} |"]

    def target(label, value, ok, note):
        return f"| {label} | {value} | {'met' if ok else 'MISSED'} | {note} |"

    first, deep = by_name["list-page"], by_name["list-deep, cursor"]
    numbered = by_name["list-deep, page number"]
    small, large = by_name["balance-scale, 10 tx"], by_name["balance-scale, 1M tx"]
    peak = max(r["rss_mib"] for r in results)
    scale = large["service"]["p50_ms"] / small["service"]["p50_ms"]
    depth = deep["service"]["p50_ms"] / first["service"]["p50_ms"]
    targets = ["| target | measured | verdict | |", "|---|---|---|---|"]
    for name in ("create-spread", "read-wallet", "create-hot"):
        r = by_name[name]
        targets.append(target(f"{name}: service >= 0.7 x pgbench", f"{r['ratio']:.2f}", r["ratio"] >= 0.7, ""))
    targets.append(target("balance-scale: 1M-transaction wallet p50 within 1.1 x the 10-transaction one",
                          f"{scale:.2f}", scale <= 1.1, f"{large['service']['p50_ms']:.2f} vs {small['service']['p50_ms']:.2f} ms"))
    at_short, at_deep = by_name["balance-at, 10 entries"], by_name[f"balance-at, {JOURNAL_ROWS:,} entries"]
    at_ratio = at_deep["service"]["p50_ms"] / at_short["service"]["p50_ms"]
    targets.append(target("balance-at: 1,000,000-entry journal p50 within 1.1 x the 10-entry one",
                          f"{at_ratio:.2f}", at_ratio <= 1.1,
                          f"{at_deep['service']['p50_ms']:.2f} vs {at_short['service']['p50_ms']:.2f} ms"))
    hold_capture = by_name["hold-capture"]
    targets.append(target("hold-capture: service >= 0.8 x pgbench (a hold, then its capture)",
                          f"{hold_capture['ratio']:.2f}", hold_capture["ratio"] >= 0.8, ""))
    no_holds, many_holds = by_name["hold-scale, 0 holds"], by_name["hold-scale, 10,000 holds"]
    hold_scale = many_holds["service"]["p50_ms"] / no_holds["service"]["p50_ms"]
    targets.append(target("hold-scale: a wallet with 10,000 pending holds reads within 1.1 x one with none (p50)",
                          f"{hold_scale:.2f}", hold_scale <= 1.1,
                          f"{many_holds['service']['p50_ms']:.2f} vs {no_holds['service']['p50_ms']:.2f} ms"))
    few_tags, many_tags = by_name[f"list-by-metadata, {SMALL_TAGGED:,} tagged"], by_name[f"list-by-metadata, {BIG_ROWS:,} tagged"]
    tag_scale = many_tags["service"]["p50_ms"] / few_tags["service"]["p50_ms"]
    targets.append(target(f"list-by-metadata: {BIG_ROWS:,} transactions with the key within 1.2 x {SMALL_TAGGED:,} (p50)",
                          f"{tag_scale:.2f}", tag_scale <= 1.2,
                          f"{many_tags['service']['p50_ms']:.2f} vs {few_tags['service']['p50_ms']:.2f} ms"))
    targets.append(target("create-spread with 5 keys of metadata at most 10 % slower than without",
                          f"{tagged['ratio']:.2f}", tagged["ratio"] >= 0.9,
                          f"{tagged['tagged']['rate']:,.0f} vs {tagged['plain']['rate']:,.0f}/s"))
    targets.append(target("create-spread on USD wallets >= 0.95 x on XXX wallets (the scale check)",
                          f"{currency['ratio']:.2f}", currency["ratio"] >= 0.95,
                          f"{currency['USD']['rate']:,.0f} vs {currency['XXX']['rate']:,.0f}/s"))
    targets.append(target("create-spread on wallets with a credit limit within 5 % of without",
                          f"{credit['ratio']:.2f}", credit["ratio"] >= 0.95,
                          f"{credit['limit']['rate']:,.0f} vs {credit['plain']['rate']:,.0f}/s"))
    exchange = by_name["exchange"]
    targets.append(target("exchange (POST /exchanges): service >= 1.0 x pgbench running the same statements",
                          f"{exchange['ratio']:.2f}", exchange["ratio"] >= 1.0,
                          f"{exchange['service']['rate']:,.0f} vs {exchange['pgbench']['rate']:,.0f}/s"))
    transfer = by_name["transfer"]
    targets.append(target("transfer: service >= 0.7 x pgbench (the same two INSERTs in one transaction)",
                          f"{transfer['ratio']:.2f}", transfer["ratio"] >= 0.7, ""))
    as_one = by_name["transfer-resource"]
    targets.append(target("transfer-resource (POST /transfers): service >= 1.5 x pgbench running the two INSERTs",
                          f"{as_one['ratio']:.2f}", as_one["ratio"] >= 1.5,
                          f"{as_one['service']['rate']:,.0f} vs {as_one['pgbench']['rate']:,.0f}/s"))
    targets.append(target("create-spread with an Idempotency-Key at most 15 % slower than without",
                          f"{keyed['ratio']:.2f}", keyed["ratio"] >= 0.85,
                          f"{keyed['keyed']['rate']:,.0f} vs {keyed['plain']['rate']:,.0f}/s"))
    targets.append(target("create-spread with the journal >= 0.85 x without it", f"{journal_cost['ratio']:.2f}",
                          journal_cost["ratio"] >= 0.85,
                          f"{journal_cost['journal']['rate']:,.0f} vs {journal_cost['bare']['rate']:,.0f}/s"))
    targets.append(target("list-deep cursor p50 within 1.5 x the first page", f"{depth:.2f}", depth <= 1.5,
                          f"page-number style at the same depth: {numbered['service']['p50_ms']:.1f} ms p50, "
                          f"{numbered['service']['p50_ms'] / first['service']['p50_ms']:.0f} x the first page"))
    for b in bulk:
        targets.append(target(f"bulk-sql, {b['shape']}: triggers with the journal add at most 30%",
                              f"{b['ratio']:.2f}", b["ratio"] <= 1.3, ""))
    targets.append(target("bulk: 1,000,000 transfers within 1.3 x the same 2,000,000 legs as plain transactions",
                          f"{moved['ratio']:.2f}", moved["ratio"] <= 1.3,
                          f"{moved['transfers']:.2f} vs {moved['legs']:.2f} s"))
    targets.append(target("server peak RSS under 100 MiB", f"{peak:.0f} MiB", peak < 100, ""))
    for name, r in auth.items():
        targets.append(target(f"{name}: authentication and rate limits cost at most 5 % (on / AUTH=off)",
                              f"{r['ratio']:.2f}", r["ratio"] >= 0.95,
                              f"{r['on']['rate']:,.0f} vs {r['off']['rate']:,.0f}/s"))

    feed, events, monitored, lag = evented["feed"], evented["events"], evented["monitored"], evented["lag"]
    bulk_events = evented["bulk"]
    targets.append(target("create-spread with the events written beside >= 0.9 x without them",
                          f"{events['ratio']:.2f}", events["ratio"] >= 0.9,
                          f"{events['events']['rate']:,.0f} vs {events['bare']['rate']:,.0f}/s"))
    targets.append(target(f"feed: {feed['events']:,} events in cursor pages of {FEED_PAGE}, the last pages "
                          "within 1.2 x the first (p50)", f"{feed['ratio']:.2f}", feed["ratio"] <= 1.2,
                          f"{feed['last_ms']:.2f} vs {feed['first_ms']:.2f} ms; {feed['rate']:,.0f} events/s"))
    targets.append(target("feed lag behind commits under create-spread: p99 <= 1 s",
                          f"{lag['p99_ms']:.0f} ms", lag["p99_ms"] <= 1000,
                          f"p50 {lag['p50_ms']:.0f} ms over {lag['events']:,} streamed events"))
    targets.append(target(f"create-spread on wallets with {MONITORS} balance monitors within 1.1 x of none",
                          f"{monitored['ratio']:.2f}", monitored["ratio"] >= 1 / 1.1,
                          f"{monitored['monitors']['rate']:,.0f} vs {monitored['plain']['rate']:,.0f}/s"))
    event_lines = [
        "| create-spread, service | req/s | p50 / p99 ms |", "|---|---:|---:|",
        *[f"| {label} | {r['rate']:,.0f} | {r['p50_ms']:.2f} / {r['p99_ms']:.2f} |"
          for label, r in (("with the events written beside each booking", events["events"]),
                           ("the events triggers disabled", events["bare"]),
                           (f"{MONITORED} wallets with {MONITORS} monitors each", monitored["monitors"]),
                           (f"{MONITORED} wallets without", monitored["plain"]))],
        "",
        f"The feed: {feed['events']:,} events read in {feed['pages']:,} cursor pages of {FEED_PAGE} "
        f"(one request at a time) in {feed['seconds']:.1f} s, {feed['rate']:,.0f} events/s; p50 of the first "
        f"{feed['edge_pages']} pages {feed['first_ms']:.2f} ms, of the last {feed['edge_pages']} {feed['last_ms']:.2f} ms. "
        f"A stream beside create-spread ({lag['load']['rate']:,.0f} bookings/s) received {lag['events']:,} "
        f"events, p50 {lag['p50_ms']:.0f} ms and p99 {lag['p99_ms']:.0f} ms after they were written. "
        f"Bulk: {bulk_events['shape']} in one INSERT took {bulk_events['events']:.2f} s with the events "
        f"(one per row and one balance.changed per wallet) and {bulk_events['bare']:.2f} s with the events "
        f"triggers disabled ({bulk_events['ratio']:.2f} x).",
    ]
    coalescing_lines, coalescing_targets = coalescing_report(coalesced, by_name, target)
    targets += coalescing_targets
    report = "\n".join([
        "<!-- generated by `make bench` (scripts/bench/bench.py) -->",
        "",
        f"Run: {started:%Y-%m-%d %H:%M} UTC, `{command}`",
        "",
        f"- Machine: {machine()}; shared by the server, PostgreSQL, wrk and pgbench.",
        f"- PostgreSQL {version}, the project-local cluster: {settings}.",
        f"- Service: release build, {server_setup}, RUST_LOG=warn (no per-request log line), "
        "DB_ACQUIRE_TIMEOUT=30s (so that the slow page-number scenario queues instead of being shed); "
        "connected as the least-privilege role wallet_api (row-level security applies to it; pgbench "
        "connects as the tables' owner, which it does not hold); every request with an admin API key, "
        "RATE_LIMIT=10000000 (each request takes a token of its key's bucket, which never runs dry).",
        f"- Load: {CONNECTIONS} connections for both sides (wrk {wrk_version}, {THREADS} threads; pgbench -M prepared, "
        f"{THREADS} jobs); per scenario a 2 s warm-up, then {ROUNDS} rounds of {SECONDS} s per side, alternating which "
        "goes first (balance-scale: the two wallets' runs interleave, "
        f"{2 * ROUNDS} of {max(2, SECONDS // 2)} s each). "
        "Rates are the mean of the rounds, latencies the median.",
        "",
        *lines,
        "",
        *bulk_lines,
        "",
        "Booking with the journal and without it (the same run, alternating rounds; "
        f"afterwards `wallet-api repair --apply`: {journal_cost['repair']}):",
        "",
        *journal_lines,
        "",
        "Booking with an `Idempotency-Key` and without (the same run, alternating rounds):",
        "",
        *keyed_lines,
        "",
        "Booking with a 5-key `metadata` object and without (the same run, alternating rounds):",
        "",
        *tagged_lines,
        "",
        "Booking on USD wallets and on XXX wallets (the same run, alternating rounds):",
        "",
        *currency_lines,
        "",
        "Booking on wallets with a credit limit and without (the same run, alternating rounds):",
        "",
        *credit_lines,
        "",
        "Events and balance monitors (the same run, alternating rounds):",
        "",
        *event_lines,
        "",
        "Authentication and rate limits: the same service with them on and with AUTH=off (two servers "
        "on the same database, alternating rounds):",
        "",
        *auth_lines,
        "",
        "Write coalescing: the same service with it on and off (two servers on the same database, "
        "alternating rounds), beside pgbench sending the same single INSERT:",
        "",
        *coalescing_lines,
        "",
        *targets,
        "",
        f"After the run, `wallet-api verify`: {verify.stdout.strip().splitlines()[-1] if verify.stdout.strip() else verify.stderr.strip()}",
        "",
        "<details><summary>The SQL pgbench ran for each scenario</summary>",
        "",
        *[f"- {r['name']}: `{' '.join(r['sql'].split())}`" for r in results],
        "",
        "</details>",
        "",
    ])
    print(report)
    marker_start, marker_end = "<!-- bench:start -->", "<!-- bench:end -->"
    block = f"{marker_start}\n{report}\n{marker_end}"
    if OUTPUT.exists() and marker_start in OUTPUT.read_text():
        text = OUTPUT.read_text()
        text = re.sub(re.escape(marker_start) + ".*?" + re.escape(marker_end), lambda _: block, text, flags=re.S)
    else:
        text = "# Benchmarks\n\n" + block + "\n"
    OUTPUT.write_text(text)
    log(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
