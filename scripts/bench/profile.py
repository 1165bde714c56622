#!/usr/bin/env python3
"""Where a request's cost goes: statements per request (pg_stat_statements) and CPU per
request of the server and of PostgreSQL, with coalescing on and off.

Run by `make profile`. It starts a PostgreSQL cluster of its own (.pg-profile, with
pg_stat_statements preloaded, which the benchmark's cluster does without), builds the
service in release mode, seeds 10,000 funded wallets, and runs each scenario for
PROFILE_SECONDS (default 6) at 16 connections against the service with coalescing on and
with it off. Prints a Markdown report (BENCHMARKS.md quotes it).
"""

import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (its wrk, psql and run helpers)

ROOT = bench.ROOT
SECONDS = int(os.environ.get("PROFILE_SECONDS", "6"))
CLUSTER = {"WALLET_PG_DIR": str(ROOT / ".pg-profile"), "WALLET_PG_PORT": "54359",
           "WALLET_PG_DB": "wallet_api_profile"}
WALLETS = 10_000


def cluster(command):
    return bench.run(["scripts/pg-local.sh", command], env={**os.environ, **CLUSTER}).strip()


def start_cluster():
    url = cluster("url")
    data = Path(CLUSTER["WALLET_PG_DIR"]) / "data"
    if "pg_stat_statements" not in bench.psql(url, "SHOW shared_preload_libraries"):
        line = "shared_preload_libraries = 'pg_stat_statements'\n"
        owner = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
        subprocess.run([*owner, "tee", "-a", str(data / "postgresql.conf")], input=line,
                       text=True, check=True, stdout=subprocess.DEVNULL)
        cluster("stop")
        url = cluster("url")
    return url


def ticks(pids):
    """User and system CPU of these processes, in clock ticks."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total


def postgres_pids(url):
    """The cluster's postmaster and every process it started (the service's backends among
    them)."""
    checkpointer = bench.psql(url, "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'")
    postmaster = int(Path(f"/proc/{checkpointer}/stat").read_text().rsplit(")", 1)[1].split()[1])
    children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(postmaster)],
                              capture_output=True, text=True).stdout.split()
    return [postmaster, *map(int, children)]


def main():
    bench.PSQL = str(bench.bin_dir() / "psql")
    url = start_cluster()
    binary = ROOT / "target" / "release" / "wallet-api"
    bench.run(["cargo", "build", "--release", "--quiet"])
    # A fresh database each time: 10,000 funded wallets, nothing else.
    bench.psql(bench.with_database(url, "postgres"),
               f"DROP DATABASE IF EXISTS {CLUSTER['WALLET_PG_DB']} WITH (FORCE)")
    url = cluster("url")
    env = {**os.environ, "DATABASE_URL": url, "RUST_LOG": "warn"}
    bench.run([str(binary), "migrate"], env=env)
    bench.psql(url, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    bench.psql(url, f"INSERT INTO wallets (label) SELECT 'profile-' || g FROM generate_series(1, {WALLETS}) g")
    bench.psql(url, f"INSERT INTO transactions (wallet_id, txid, amount) "
                    f"SELECT g, 'seed-' || g, 1000000 FROM generate_series(1, {WALLETS}) g")
    bench.psql(url, "VACUUM ANALYZE")
    service_url = cluster("service-url")
    bench.KEY = bench.run([str(binary), "keys", "create", "--name", f"profile-{time.time_ns()}",
                           "--scope", "admin"], env=env).strip().splitlines()[-1]
    first = int(bench.psql(url, "SELECT min(id) FROM wallets"))
    last = first + WALLETS - 1
    run_id = int(time.time())
    scenarios = [
        ("create-spread", "create.lua", [f"{run_id}s", first, last]),
        ("create-spread, keyed", "create.lua", [f"{run_id}k", first, last, "keyed"]),
        ("transfer", "transfer.lua", [f"{run_id}t", first, last]),
        ("read-wallet", "get.lua", ["/wallets/{w}", first, last]),
    ]
    rows = []
    for mode in ("on", "off"):
        port = bench.free_port()
        served = {**os.environ, "DATABASE_URL": service_url, "MIGRATION_DATABASE_URL": url,
                  "PORT": str(port), "RUST_LOG": "warn", "RATE_LIMIT": "10000000",
                  "RATE_LIMIT_BURST": "10000000", "COALESCE": mode, "COALESCE_READS": mode}
        server = subprocess.Popen([str(binary), "serve"], env=served,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    bench.http_get(f"{base}/health")
                    break
                except Exception:
                    time.sleep(0.1)
            for name, script, args in scenarios:
                # A run id of its own per mode and for the warm-up (reads take none).
                tag = (lambda suffix: [f"{args[0]}{suffix}", *args[1:]]) if script != "get.lua" \
                    else (lambda suffix: args)
                tagged = tag(mode)
                bench.wrk(base, script, tag(f"{mode}w"), 2)
                bench.psql(url, "SELECT pg_stat_statements_reset()")
                pids = postgres_pids(url)
                before = (ticks([server.pid]), ticks(pids), time.time())
                result = bench.wrk(base, script, tagged, SECONDS)
                after = (ticks([server.pid]), ticks(pids), time.time())
                requests = result["rate"] * (after[2] - before[2])
                statements = bench.psql(
                    url, "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements "
                         "WHERE query NOT LIKE '%pg_stat_statements%'")
                top = bench.psql(
                    url, "SELECT string_agg(format('%s x %s', calls, left(regexp_replace(query, '\\s+', ' ', 'g'), 60)), "
                         "' / ' ORDER BY calls DESC) FROM (SELECT calls, query FROM pg_stat_statements "
                         "WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY calls DESC LIMIT 4) AS t")
                tick = os.sysconf("SC_CLK_TCK")
                rows.append({
                    "scenario": name, "mode": mode, "rate": result["rate"],
                    "statements": float(statements) / requests,
                    "server_us": (after[0] - before[0]) / tick * 1e6 / requests,
                    "database_us": (after[1] - before[1]) / tick * 1e6 / requests,
                    "top": top, "requests": requests,
                })
                bench.log(f"{name}, coalescing {mode}: {result['rate']:.0f}/s, "
                          f"{rows[-1]['statements']:.2f} statements per request")
        finally:
            server.terminate()
            server.wait()
    print(f"`make profile` ({SECONDS} s per scenario, 16 connections, {bench.machine()}):\n")
    print("| scenario | coalescing | req/s | statements / request | server CPU µs / request "
          "| PostgreSQL CPU µs / request |")
    print("|---|---|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['scenario']} | {row['mode']} | {row['rate']:,.0f} | {row['statements']:.2f} "
              f"| {row['server_us']:.0f} | {row['database_us']:.0f} |")
    print("\nThe most frequent statements (calls in the run):\n")
    for row in rows:
        print(f"- {row['scenario']}, {row['mode']} ({row['requests']:,.0f} requests): {row['top']}")


if __name__ == "__main__":
    main()
