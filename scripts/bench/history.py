#!/usr/bin/env python3
"""The balance-history scenario of the benchmark (`make bench-history`, run by `make bench`
too), on a database of its own.

Seeds two wallets: one with 10 journal entries and one with BENCH_HISTORY_ENTRIES (1,000,000)
(each entry its own statement, as a booking writes one, in a PL/pgSQL loop inside the
database). Starts the service as `make bench` does, then reads each wallet's balance history
in 500 buckets of a minute covering its entries, one request after the other, alternating
the two wallets: p50 and p99 of each, and their ratio (target: within 1.2 x).
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402

DATABASE = "wallet_api_bench_history"
ENTRIES = int(os.environ.get("BENCH_HISTORY_ENTRIES", "1000000"))
REQUESTS = int(os.environ.get("BENCH_HISTORY_REQUESTS", "400"))


def main():
    admin, url, binary = bench.scenario_database(
        DATABASE, f"a wallet with 10 journal entries and one with {ENTRIES:,}")
    bench.psql(url, "INSERT INTO wallets (label) VALUES ('few'), ('many')")
    started = time.perf_counter()
    # One statement and one transaction per entry, as bookings come: each one journal row,
    # folded by its trigger (commits not waited for: this is seeding).
    bench.psql(url, f"""
        DO $$
        BEGIN
            PERFORM set_config('synchronous_commit', 'off', false);
            FOR i IN 1..10 LOOP
                INSERT INTO transactions (wallet_id, txid, amount) VALUES (1, 'few-' || i, 1);
                COMMIT;
            END LOOP;
            FOR i IN 1..{ENTRIES} LOOP
                INSERT INTO transactions (wallet_id, txid, amount) VALUES (2, 'many-' || i, 1);
                COMMIT;
            END LOOP;
        END;
        $$""")
    bench.log(f"  {ENTRIES + 10:,} entries written in {time.perf_counter() - started:.0f} s")
    bench.psql(url, "VACUUM ANALYZE")
    ranges = {}
    for wallet in (1, 2):
        # 500 one-minute buckets up to the wallet's last entry.
        ranges[wallet] = bench.psql(url, f"""
            SELECT to_char((max(changed_at) - interval '499 minutes') AT TIME ZONE 'UTC',
                           'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || ' ' ||
                   to_char(max(changed_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
            FROM balance_changes WHERE wallet_id = {wallet}""").split()
    base, server = bench.serve_scenario(binary, admin, url, "history")
    latencies = {1: [], 2: []}
    try:
        for i in range(2 * REQUESTS):
            wallet = 1 if i % 2 == 0 else 2
            since, until = ranges[wallet]
            path = (f"/wallets/{wallet}/balance-history?bucketSize=1m"
                    f"&filter[changedAt.gte]={since}&filter[changedAt.lt]={until}")
            begin = time.perf_counter()
            page = bench.http_get(base + path)
            latencies[wallet].append((time.perf_counter() - begin) * 1000)
            assert len(page["data"]) == 500, len(page["data"])
    finally:
        server.terminate()
        server.wait()

    def pick(values, p):
        values = sorted(values)
        return values[min(len(values) - 1, int(len(values) * p))]

    few, many = latencies[1], latencies[2]
    figures = {
        "entries": {"few": 10, "many": ENTRIES},
        "few": {"p50_ms": statistics.median(few), "p99_ms": pick(few, 0.99)},
        "many": {"p50_ms": statistics.median(many), "p99_ms": pick(many, 0.99)},
        "ratio": statistics.median(many) / statistics.median(few),
        "requests": REQUESTS,
        "buckets": 500,
    }
    bench.log(f"  balance-history, 500 buckets: p50 {figures['few']['p50_ms']:.2f} ms with 10 "
              f"entries, {figures['many']['p50_ms']:.2f} ms with {ENTRIES:,} ({figures['ratio']:.2f} x)")
    bench.verify_and_print(binary, url, figures)


if __name__ == "__main__":
    main()
