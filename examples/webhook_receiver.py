#!/usr/bin/env python3
"""A webhook receiver for wallet-api: verifies each delivery's signature, drops the ones it
had by their webhook-id, and checks that each wallet's events arrive with no gap in their
walletSequence (of the types the endpoint receives: give --types-all when it receives every
type, so that a gap is an error).

    WEBHOOK_SECRET=whsec_... examples/webhook_receiver.py --port 9000 [--types-all]

It answers 204 to a delivery it verified, 401 to one it cannot verify (the service sends it
again, later), and serves GET /stats: what it received, as JSON. Only the standard library:
the signature is HMAC-SHA256 as the Standard Webhooks specification defines it (the
`standardwebhooks` package's Webhook(secret).verify(body, headers) does the same).
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE = 5 * 60  # seconds a webhook-timestamp may be from now


def verify(secret, headers, body):
    """Whether one of the webhook-signature's signatures is the body's under `secret`."""
    msg_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    if not msg_id or not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(f"v1,{expected}", given)
        for given in headers.get("webhook-signature", "").split(" ")
    )


class State:
    def __init__(self, types_all):
        self.lock = threading.Lock()
        self.seen = set()  # webhook-ids received
        self.duplicates = 0
        self.refused = 0
        self.last = {}  # wallet id -> last walletSequence
        self.gaps = []  # what arrived out of order
        self.types_all = types_all

    def take(self, msg_id, event):
        with self.lock:
            if msg_id in self.seen:
                self.duplicates += 1
                return
            self.seen.add(msg_id)
            wallet = event["data"]["relationships"]["wallet"]["data"]["id"]
            sequence = event["data"]["attributes"]["walletSequence"]
            last = self.last.get(wallet)
            if last is not None and (
                sequence != last + 1 if self.types_all else sequence <= last
            ):
                self.gaps.append({"wallet": wallet, "after": last, "got": sequence})
            self.last[wallet] = sequence

    def stats(self):
        with self.lock:
            return {
                "received": len(self.seen),
                "duplicates": self.duplicates,
                "refused": self.refused,
                "wallets": len(self.last),
                "gaps": self.gaps,
            }


def handler(secret, state):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            if not verify(secret, self.headers, body):
                with state.lock:
                    state.refused += 1
                self.send_response(401)
                self.end_headers()
                return
            state.take(self.headers["webhook-id"], json.loads(body))
            self.send_response(204)
            self.end_headers()

        def do_GET(self):
            text = json.dumps(state.stats()).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, *args):
            pass

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--types-all", action="store_true",
                        help="the endpoint receives every event type: any gap is an error")
    args = parser.parse_args()
    secret = os.environ.get("WEBHOOK_SECRET")
    if not secret:
        sys.exit("set WEBHOOK_SECRET to the endpoint's secret (the meta.secret of its POST)")
    state = State(args.types_all)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler(secret, state))
    print(f"listening on http://127.0.0.1:{args.port}/", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
