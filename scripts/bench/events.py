#!/usr/bin/env python3
"""The events scenarios of the benchmark alone (`make bench-events`), with the same functions
as `make bench` (scripts/bench/bench.py), on a database of their own.

Seeds 10,000 funded wallets with 1,000,000 bookings between them in 100 statements (their
events: the feed to page through), 100 wallets with 100 balance monitors each and 100 without, starts the service
as `make bench` does (its least-privilege role, an admin key), and runs: the feed read in
cursor pages of 100; create-spread with the events and without them; create-spread on
monitored wallets and on others; a stream's lag behind create-spread; the 1,000,000-row bulk
insert with and without the events. Prints the figures as JSON (BENCH_SECONDS, BENCH_ROUNDS as
for make bench).
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402

DATABASE = "wallet_api_bench_events"


def main():
    bindir = bench.bin_dir()
    bench.PSQL, bench.PGBENCH = str(bindir / "psql"), str(bindir / "pgbench")
    cluster = bench.run([str(bench.ROOT / "scripts" / "pg-local.sh"), "url"]).strip()
    admin = bench.with_database(cluster, "postgres")
    url = bench.with_database(cluster, DATABASE)
    bench.run(["cargo", "build", "--release", "--quiet"], cwd=bench.ROOT)
    binary = str(bench.ROOT / "target" / "release" / "wallet-api")
    bench.log(f"fresh database {DATABASE}: {bench.SPREAD:,} wallets, 1,000,000 bookings, monitors")
    bench.psql(admin, f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    bench.psql(admin, f"CREATE DATABASE {DATABASE}")
    bench.run([binary, "migrate"], env={**os.environ, "DATABASE_URL": url, "RUST_LOG": "warn"})
    bench.psql(url, f"""
        INSERT INTO wallets (label) SELECT 'bench-' || g FROM generate_series(1, {bench.SPREAD}) g;
        INSERT INTO transactions (wallet_id, txid, amount)
            SELECT id, 'fund-' || id, 1000000 FROM wallets;
        INSERT INTO wallets (label) SELECT 'watched-' || g FROM generate_series(1, {bench.MONITORED}) g;
        INSERT INTO wallets (label) SELECT 'unwatched-' || g FROM generate_series(1, {bench.MONITORED}) g;
        INSERT INTO transactions (wallet_id, txid, amount)
            SELECT id, 'fund-' || id, 1000000 FROM wallets WHERE label LIKE '%watched-%';
        INSERT INTO balance_monitors (wallet_id, field, operator, amount)
            SELECT w.id, CASE WHEN g % 2 = 0 THEN 'balance' ELSE 'available' END, 'lt', -g
            FROM wallets AS w, generate_series(1, {bench.MONITORS}) AS g WHERE w.label LIKE 'watched-%';
    """)
    # The bookings in 100 statements, each its own transaction: events of one transaction
    # share a feed position (see docs/design.md), as a feed's events do in use.
    for chunk in range(100):
        bench.psql(url, f"INSERT INTO transactions (wallet_id, txid, amount) "
                        f"SELECT 1 + g % {bench.SPREAD}, 'seed-' || g, 0.01 "
                        f"FROM generate_series({chunk * 10000 + 1}, {(chunk + 1) * 10000}) g")
    bench.psql(url, "VACUUM ANALYZE")
    bench.psql(admin, "DO $$ BEGIN CREATE ROLE wallet_api LOGIN IN ROLE wallet_service; "
                      "EXCEPTION WHEN duplicate_object THEN NULL; END $$")
    parts = urllib.parse.urlsplit(url)
    service_url = urllib.parse.urlunsplit(parts._replace(netloc="wallet_api@" + parts.netloc.split("@")[-1]))
    created = bench.run([binary, "keys", "create", "--name", "bench", "--scope", "admin"],
                        env={**os.environ, "DATABASE_URL": url, "RUST_LOG": "warn"})
    bench.KEY = created.strip().splitlines()[-1]
    watched, unwatched = (tuple(int(v) for v in bench.psql(
        url, f"SELECT min(id) || '|' || max(id) FROM wallets WHERE label LIKE '{prefix}-%'").split("|"))
        for prefix in ("watched", "unwatched"))
    port = bench.free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = Path(tempfile.gettempdir()) / "wallet-api-bench-events.log"
    server = subprocess.Popen(
        [binary, "serve"], stdout=open(log_path, "w"), stderr=subprocess.STDOUT,
        env={**os.environ, "DATABASE_URL": service_url, "MIGRATION_DATABASE_URL": url,
             "RATE_LIMIT": "10000000", "RATE_LIMIT_BURST": "10000000", "PORT": str(port),
             "RUST_LOG": "warn", **bench.SERVER_SETTINGS})
    try:
        for _ in range(100):
            try:
                bench.http_get(f"{base}/health")
                break
            except OSError:
                time.sleep(0.1)
        figures = {
            "feed": bench.feed_paging(base),
            "events": bench.booking_with_and_without_events(base, url),
            "monitored": bench.booking_with_monitors(base, watched, unwatched),
            "lag": bench.feed_lag(base),
        }
    finally:
        server.terminate()
        server.wait()
    figures["bulk"] = bench.bulk_with_and_without_events(url)
    verify = subprocess.run([binary, "verify"], env={**os.environ, "DATABASE_URL": url},
                            text=True, capture_output=True)
    figures["verify"] = verify.stdout.strip().splitlines()[-1] if verify.stdout.strip() else verify.stderr
    print(json.dumps(figures, indent=1, default=str))
    if verify.returncode != 0:
        raise SystemExit("wallet-api verify failed after the benchmark")


if __name__ == "__main__":
    main()
