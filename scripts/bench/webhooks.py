#!/usr/bin/env python3
"""The webhook scenario of the benchmark (`make bench-webhooks`, run by `make bench` too), on
a database of its own.

Seeds funded wallets, starts the service as `make bench` does (its least-privilege role, an
admin key, loopback webhooks allowed) and a loopback receiver (a threaded HTTP server that
answers 204 at once), then runs create-spread in alternating rounds: with one endpoint
subscribed to `balance.changed`, and with none. Reports the booking rates and their ratio,
and for the rounds with the endpoint: deliveries per second, and the lag from each event's
`occurredAt` to its arrival at the receiver (p50, p99), once every event of the round arrived.
Prints the figures as JSON (BENCH_SECONDS, BENCH_ROUNDS as for make bench).
"""

import datetime
import json
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402

DATABASE = "wallet_api_bench_webhooks"


class Receiver:
    """Records when each delivery arrived and when its event occurred."""

    def __init__(self):
        self.lock = threading.Lock()
        self.arrivals = []  # (arrived, occurred) as datetimes
        self.ids = set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                arrived = datetime.datetime.now(datetime.timezone.utc)
                occurred = json.loads(body)["timestamp"]
                with receiver.lock:
                    receiver.ids.add(self.headers.get("webhook-id"))
                    receiver.arrivals.append((arrived, occurred))
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take(self):
        with self.lock:
            taken, self.arrivals = self.arrivals, []
            return taken


def request(base, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method, headers={
        "Authorization": f"Bearer {bench.KEY}", "Content-Type": "application/vnd.api+json",
        "Accept": "application/vnd.api+json"})
    with urllib.request.urlopen(req, timeout=30) as response:
        text = response.read()
        return json.loads(text) if text else None


def main():
    admin, url, binary = bench.scenario_database(DATABASE, f"{bench.SPREAD:,} funded wallets")
    bench.psql(url, f"""
        INSERT INTO wallets (label) SELECT 'bench-' || g FROM generate_series(1, {bench.SPREAD}) g;
        INSERT INTO transactions (wallet_id, txid, amount)
            SELECT id, 'fund-' || id, 1000000 FROM wallets;
    """)
    bench.psql(url, "VACUUM ANALYZE")
    receiver = Receiver()
    base, server = bench.serve_scenario(binary, admin, url, "webhooks", {
        "WEBHOOK_ALLOW_PRIVATE": "on", "WEBHOOK_ALLOW_HTTP": "on"})
    run_id = int(time.time())
    rates = {"endpoint": [], "none": []}
    lags, delivered, delivering_seconds = [], 0, 0.0
    try:
        bench.log(f"webhooks: {2 * bench.ROUNDS} alternating rounds of create-spread, "
                  f"{bench.SECONDS}s each, with one endpoint (balance.changed) and with none")
        for round_ in range(2 * bench.ROUNDS):
            for mode in (("endpoint", "none") if round_ % 2 == 0 else ("none", "endpoint")):
                endpoint = None
                if mode == "endpoint":
                    endpoint = request(base, "POST", "/webhook-endpoints", {"data": {
                        "type": "webhook-endpoints", "attributes": {
                            "url": f"http://127.0.0.1:{receiver.port}/hook",
                            "eventTypes": ["balance.changed"]}}})["data"]["id"]
                    receiver.take()
                started = time.perf_counter()
                rates[mode].append(bench.wrk(base, "create.lua",
                                             [f"{run_id}w{round_}{mode[0]}", 1, bench.SPREAD],
                                             bench.SECONDS))
                if endpoint is None:
                    continue
                # Until the endpoint has nothing pending and has read the whole feed.
                while True:
                    pending = bench.psql(url, f"SELECT (SELECT count(*) FROM webhook_deliveries "
                                              f"WHERE endpoint_id = {endpoint} AND status = 'pending') "
                                              f"|| ' ' || (SELECT lag_seconds FROM webhook_endpoint_lag "
                                              f"WHERE endpoint_id = {endpoint})")
                    if pending.split() == ["0", "0"] or time.perf_counter() - started > 10 * bench.SECONDS:
                        break
                    time.sleep(0.2)
                seconds = time.perf_counter() - started
                arrivals = receiver.take()
                delivered += len(arrivals)
                delivering_seconds += seconds
                for arrived, occurred in arrivals:
                    at = datetime.datetime.fromisoformat(occurred.replace("Z", "+00:00"))
                    lags.append((arrived - at).total_seconds() * 1000)
                request(base, "DELETE", f"/webhook-endpoints/{endpoint}")
                bench.log(f"  round {round_}: {len(arrivals):,} deliveries in {seconds:.1f}s, "
                          f"bookings at {rates[mode][-1]['rate']:.0f}/s")
    finally:
        server.terminate()
        server.wait()
    with_endpoint, bare = bench.combine(rates["endpoint"]), bench.combine(rates["none"])
    lags.sort()
    pick = lambda p: lags[min(len(lags) - 1, int(len(lags) * p))] if lags else float("nan")
    figures = {
        "booking": {"endpoint": with_endpoint, "none": bare,
                    "ratio": with_endpoint["rate"] / bare["rate"]},
        "deliveries": delivered,
        "deliveries_per_second": delivered / delivering_seconds if delivering_seconds else None,
        "lag_p50_ms": pick(0.5), "lag_p99_ms": pick(0.99),
        "lag_max_ms": lags[-1] if lags else None,
    }
    bench.log(f"  booking: {with_endpoint['rate']:.0f}/s with the endpoint, {bare['rate']:.0f}/s "
              f"without ({figures['booking']['ratio']:.2f}x); {delivered:,} deliveries, lag p50 "
              f"{pick(0.5):.0f} ms, p99 {pick(0.99):.0f} ms")
    bench.verify_and_print(binary, url, figures)


if __name__ == "__main__":
    main()
