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

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402

DATABASE = "wallet_api_bench_events"
# BENCH_EVENTS_SCENARIOS=monitored,lag: some of them only (the 1,000,000 bookings are seeded
# only for feed and bulk).
SCENARIOS = set(os.environ.get("BENCH_EVENTS_SCENARIOS", "feed,events,monitored,lag,bulk").split(","))


def main():
    admin, url, binary = bench.scenario_database(
        DATABASE, f"{bench.SPREAD:,} wallets, 1,000,000 bookings, monitors")
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
    # share a feed position (see docs/design.md), as a feed's events do in use. Only the feed
    # and the bulk insert need them.
    for chunk in range(100 if {"feed", "bulk"} & SCENARIOS else 0):
        bench.psql(url, f"INSERT INTO transactions (wallet_id, txid, amount) "
                        f"SELECT 1 + g % {bench.SPREAD}, 'seed-' || g, 0.01 "
                        f"FROM generate_series({chunk * 10000 + 1}, {(chunk + 1) * 10000}) g")
    bench.psql(url, "VACUUM ANALYZE")
    watched, unwatched = (tuple(int(v) for v in bench.psql(
        url, f"SELECT min(id) || '|' || max(id) FROM wallets WHERE label LIKE '{prefix}-%'").split("|"))
        for prefix in ("watched", "unwatched"))
    base, server = bench.serve_scenario(binary, admin, url, "events")
    try:
        scenarios = {
            "feed": lambda: bench.feed_paging(base),
            "events": lambda: bench.booking_with_and_without_events(base, url),
            "monitored": lambda: bench.booking_with_monitors(base, watched, unwatched),
            "lag": lambda: bench.feed_lag(base),
        }
        figures = {name: run() for name, run in scenarios.items() if name in SCENARIOS}
    finally:
        server.terminate()
        server.wait()
    if "bulk" in SCENARIOS:
        figures["bulk"] = bench.bulk_with_and_without_events(url)
    bench.verify_and_print(binary, url, figures)


if __name__ == "__main__":
    main()
