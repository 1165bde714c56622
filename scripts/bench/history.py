#!/usr/bin/env python3
"""The balance-history scenario of the benchmark (`make bench-history`, run by `make bench`
too), on a database of its own.

Seeds two wallets: one with 10 journal entries and one with BENCH_HISTORY_ENTRIES (1,000,000)
(each entry its own statement, as a booking writes one, in a PL/pgSQL loop inside the
database). Starts the service as `make bench` does, then reads each wallet's balance history
in 500 buckets of a minute covering its entries, one request after the other, alternating
the two wallets: p50 and p99 of each, and their ratio (target: within 1.2 x). Then opens the
console in headless Chromium on the large wallet and reports the time from navigation to a
drawn chart, per range.
"""

import json
import os
import statistics
import subprocess
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
        chart = console_chart(base, wallet=2)
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
        "console_chart": chart,
    }
    bench.log(f"  balance-history, 500 buckets: p50 {figures['few']['p50_ms']:.2f} ms with 10 "
              f"entries, {figures['many']['p50_ms']:.2f} ms with {ENTRIES:,} ({figures['ratio']:.2f} x)")
    if chart:
        bench.log(f"  the console's chart of the {ENTRIES:,}-entry wallet, navigation to drawn: "
                  + ", ".join(f"{name} {t['ms']} ms ({t['buckets']} x {t['bucketSize']})"
                              for name, t in chart.items()))
    bench.verify_and_print(binary, url, figures)


def console_chart(base, wallet):
    """The console in headless Chromium: from navigation to the wallet's drawn chart, per
    range (tests/console/console_test.py --wallet); None without the browser tools."""
    root = Path(__file__).resolve().parents[2]
    python = root / ".venv" / "bin" / "python"
    if not python.exists() or not Path("/usr/bin/chromedriver").exists():
        bench.log("  (the console's chart is not timed: run make test once for .venv, chromium)")
        return None
    out = subprocess.run([str(python), str(root / "tests/console/console_test.py"), base,
                          bench.KEY, "--wallet", str(wallet)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
