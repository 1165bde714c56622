#!/usr/bin/env python3
"""The cluster's figures for docs/SCALING.md: `make bench-cluster`.

On a formation of its own (scripts/cluster.sh under .cluster-bench/: PostgreSQL on ports
55630-55632, haproxy on 8290, instances on 8291-8292), with wrk at BENCH_CONNECTIONS (16):

- bookings/s (POST /transactions over 1,000 wallets) on one instance, then through haproxy
  over both;
- reads/s (GET /wallets/{id}) on one instance and on both, every read from the primary, then
  with STANDBY_READS=on (from the standby);
- the standby's replay lag, sampled every 100 ms from pg_stat_replication while bookings run.

Each measured run lasts BENCH_SECONDS (8); each scenario runs BENCH_ROUNDS (2) times, the
median kept. Writes the figures between the markers in docs/SCALING.md (BENCH_OUTPUT) and
prints them.
"""

import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LUA_DIR = ROOT / "scripts" / "bench"
SECONDS = int(os.environ.get("BENCH_SECONDS", "8"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
OUTPUT = Path(os.environ.get("BENCH_OUTPUT", ROOT / "docs" / "SCALING.md"))
WALLETS = 1000
ENV = {
    **os.environ,
    "WALLET_CLUSTER_DIR": str(ROOT / ".cluster-bench"),
    "WALLET_CLUSTER_PG_PORT": "55630",
    "WALLET_CLUSTER_HTTP_PORT": "8290",
    "RATE_LIMIT": "0",
    "RUST_LOG": "warn",
}
FRONT = "http://127.0.0.1:8290"
ONE = "http://127.0.0.1:8291"
INSTANCES = [ONE, "http://127.0.0.1:8292"]


def log(message):
    print(f"bench-cluster: {message}", file=sys.stderr, flush=True)


def cluster(*args, env=None):
    return subprocess.run([str(ROOT / "scripts" / "cluster.sh"), *args], env=env or ENV,
                          check=True, capture_output=True, text=True).stdout.strip()


def wrk(base, script, args, key):
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--timeout", "10s",
               "-s", str(LUA_DIR / script), base, "--", *map(str, args)]
    output = subprocess.run(command, env={**os.environ, "BENCH_LUA_DIR": str(LUA_DIR), "BENCH_KEY": key},
                            check=True, capture_output=True, text=True).stdout
    line = next(l for l in output.splitlines() if l.startswith("RESULT "))
    values = {k: int(v) for k, v in (item.split("=") for item in line.split()[1:])}
    if values["socket_errors"] or values["bad_status"]:
        raise SystemExit(f"wrk {script} {args}: errors in the run: {line}")
    return values["requests"] / (values["duration_us"] / 1e6), values["p50_us"] / 1000, values["p99_us"] / 1000


def measure_both(name, script, args_of, key):
    """Both instances at once, each by a wrk of its own with half the connections: the
    instances' capacity without haproxy's hop."""
    global CONNECTIONS
    runs = []
    whole, CONNECTIONS = CONNECTIONS, CONNECTIONS // 2
    try:
        for n in range(ROUNDS):
            results = [None, None]
            threads = [threading.Thread(target=lambda i=i, base=base: results.__setitem__(
                i, wrk(base, script, args_of(f"{n}i{i}"), key))) for i, base in enumerate(INSTANCES)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            runs.append((sum(r[0] for r in results), max(r[1] for r in results), max(r[2] for r in results)))
    finally:
        CONNECTIONS = whole
    rate = statistics.median(r[0] for r in runs)
    p50 = statistics.median(r[1] for r in runs)
    p99 = statistics.median(r[2] for r in runs)
    log(f"{name}: {rate:,.0f} req/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    return rate, p50, p99


def measure(name, base, script, args_of, key):
    """`args_of(n)`: the script's arguments for run n (a txid prefix of its own for creates)."""
    runs = [wrk(base, script, args_of(n), key) for n in range(ROUNDS)]
    rate = statistics.median(r[0] for r in runs)
    p50 = statistics.median(r[1] for r in runs)
    p99 = statistics.median(r[2] for r in runs)
    log(f"{name}: {rate:,.0f} req/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    return rate, p50, p99


def lag_sampler(primary_port, stop, samples):
    """The standby's replay lag as the primary sees it (pg_stat_replication), every 100 ms."""
    sql = "SELECT coalesce(extract(epoch FROM replay_lag) * 1000, 0) FROM pg_stat_replication"
    while not stop.is_set():
        out = subprocess.run(["/usr/lib/postgresql/15/bin/psql",
                              f"postgresql://postgres@localhost:{primary_port}/wallet_api",
                              "-qtAX", "-c", sql], capture_output=True, text=True).stdout.strip()
        if out:
            samples.append(float(out.splitlines()[0]))
        time.sleep(0.1)


def main():
    try:
        bench()
    finally:
        cluster("down")


def bench():
    subprocess.run([str(ROOT / "scripts" / "install.sh"), "wrk"], check=True)
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    log("starting the formation")
    cluster("up")
    cluster("wait-formation", "120")
    key = cluster("key")
    # The wallets, each funded (the bookings withdraw 0.01), written by the tables' owner.
    seeded = subprocess.run(
        ["/usr/lib/postgresql/15/bin/psql", cluster("url", "owner"), "-qtAX", "-v", "ON_ERROR_STOP=1", "-c",
         f"WITH made AS (INSERT INTO wallets (label) SELECT 'bench' FROM generate_series(1, {WALLETS}) "
         "RETURNING id), funded AS (INSERT INTO transactions (wallet_id, txid, amount) "
         "SELECT id, 'fund-' || id || '-' || extract(epoch FROM now()), 1000000 FROM made RETURNING wallet_id) "
         "SELECT min(wallet_id) || ' ' || max(wallet_id) FROM funded"],
        check=True, capture_output=True, text=True).stdout.split()
    first, last = int(seeded[0]), int(seeded[1])
    run = str(int(time.time()))
    figures = {}
    stop, samples = threading.Event(), []
    primary = re.search(r"^node \S+ primary (\d+)", cluster("status"), re.M).group(1)
    sampler = threading.Thread(target=lag_sampler, args=(primary, stop, samples))
    sampler.start()
    figures["book1"] = measure("bookings, 1 instance", ONE, "create.lua", lambda n: [f"{run}a{n}", first, last], key)
    figures["book2"] = measure("bookings, 2 instances", FRONT, "create.lua", lambda n: [f"{run}b{n}", first, last], key)
    figures["book2d"] = measure_both("bookings, 2 instances direct", "create.lua",
                                     lambda n: [f"{run}d{n}", first, last], key)
    stop.set()
    sampler.join()
    reads = lambda n: ["/wallets/{w}", first, last]
    figures["read1"] = measure("reads, 1 instance, primary", ONE, "get.lua", reads, key)
    figures["read2"] = measure("reads, 2 instances, primary", FRONT, "get.lua", reads, key)
    figures["read2d"] = measure_both("reads, 2 instances direct, primary", "get.lua", reads, key)
    cluster("restart-instances", env={**ENV, "STANDBY_READS": "on"})
    figures["read1s"] = measure("reads, 1 instance, standby", ONE, "get.lua", reads, key)
    figures["read2s"] = measure("reads, 2 instances, standby", FRONT, "get.lua", reads, key)
    figures["read2ds"] = measure_both("reads, 2 instances direct, standby", "get.lua", reads, key)
    lag = sorted(samples) or [0.0]
    figures["lag"] = (statistics.median(lag), lag[int(0.99 * (len(lag) - 1))], lag[-1], len(lag))

    def row(label, key_):
        rate, p50, p99 = figures[key_]
        return f"| {label} | {rate:,.0f} | {p50:.2f} | {p99:.2f} |"
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        f"Run {stamp}, `make bench-cluster` ({ROUNDS} runs of {SECONDS} s each at {CONNECTIONS} "
        f"connections, the median kept; {os.cpu_count()} CPUs shared by wrk, haproxy, both "
        "instances, both PostgreSQL nodes and the monitor).",
        "",
        "| scenario | req/s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|",
        row("bookings, 1 instance", "book1"),
        row("bookings, 2 instances behind haproxy", "book2"),
        row("bookings, 2 instances, each loaded directly", "book2d"),
        row("reads by id, 1 instance, from the primary", "read1"),
        row("reads by id, 2 instances behind haproxy, from the primary", "read2"),
        row("reads by id, 2 instances, each loaded directly, from the primary", "read2d"),
        row("reads by id, 1 instance, from the standby", "read1s"),
        row("reads by id, 2 instances behind haproxy, from the standby", "read2s"),
        row("reads by id, 2 instances, each loaded directly, from the standby", "read2ds"),
        "",
        f"Standby replay lag while bookings ran ({figures['lag'][3]} samples of pg_stat_replication): "
        f"median {figures['lag'][0]:.1f} ms, p99 {figures['lag'][1]:.1f} ms, max {figures['lag'][2]:.1f} ms.",
    ]
    block = "\n".join(lines)
    print(block)
    text = OUTPUT.read_text()
    start, end = "<!-- figures:start -->", "<!-- figures:end -->"
    if start in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        OUTPUT.write_text(f"{before}{start}\n{block}\n{end}{after}")
        log(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
