#!/usr/bin/env python3
"""A partner's webhook receiver for the helpdesk, written to be copied (Python 3.11+, stdlib only).

    export HELPDESK_WEBHOOK_SECRET=whsec_...   # returned by createWebhook / rotateWebhookSecret
    webhook_receiver.py --port 8081 --events events.jsonl --seen seen.txt

Every POST is checked before anything else: the X-Helpdesk-Signature header must sign the raw
body with the secret (HMAC-SHA256 of "<t>.<body>") and `t` must be at most 5 minutes old, else
401 (a forged or replayed request). Deliveries are at least once, so the same event may come
again (a retry after a lost answer, a redelivery): each event id is handled once; a repeat is
answered 200 and otherwise ignored. New events are appended to the events file as JSON lines,
and their ids to the seen file (after the event: a crash in between hands the event on twice,
never loses it). Events of one ticket arrive in order.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

TOLERANCE_SECONDS = 300


def verify_signature(
    secret: str, body: bytes, header: str, now: float | None = None, tolerance: float = TOLERANCE_SECONDS
) -> bool:
    """Whether `header` (X-Helpdesk-Signature) signs `body` with `secret`, at most `tolerance`
    seconds (5 minutes) from now."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    signed = f"{timestamp}.".encode() + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields.get("v1", ""))


class EventStore:
    """Events handled once each, by id; kept in two files so a restart remembers them."""

    def __init__(self, events: Path, seen: Path) -> None:
        self.events, self.seen_file = events, seen
        self.lock = threading.Lock()
        self.seen = set(seen.read_text().split()) if seen.exists() else set()

    def handle(self, event: dict[str, Any]) -> bool:
        """True for a new event (recorded), False for one already handled."""
        with self.lock:
            if event["id"] in self.seen:
                return False
            with self.events.open("a") as out:
                out.write(json.dumps(event, ensure_ascii=False) + "\n")
            with self.seen_file.open("a") as out:
                out.write(event["id"] + "\n")
            self.seen.add(event["id"])
            return True


class WebhookHandler(BaseHTTPRequestHandler):
    # Keep-alive: the helpdesk reuses its connections.
    protocol_version = "HTTP/1.1"
    # The answer goes out as two writes (head, then body): with Nagle's algorithm the body waits
    # for the helpdesk's delayed ACK of the head, about 40 ms per request on a kept connection.
    disable_nagle_algorithm = True
    secret: str = ""
    store: EventStore
    tolerance: float = TOLERANCE_SECONDS

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        signature = self.headers.get("X-Helpdesk-Signature", "")
        if not verify_signature(self.secret, body, signature, tolerance=self.tolerance):
            self.answer(401, b"bad signature")
            return
        event = json.loads(body)
        if event["id"] != self.headers.get("X-Helpdesk-Event-Id"):
            self.answer(400, b"event id mismatch")
            return
        self.answer(200, b"new" if self.store.handle(event) else b"duplicate")

    def answer(self, status: int, text: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return


def serve(port: int, secret: str, store: EventStore, handler: type[WebhookHandler] = WebhookHandler) -> None:
    handler_class = type("Handler", (handler,), {"secret": secret, "store": store})
    server_class = type("Server", (ThreadingHTTPServer,), {"allow_reuse_address": True, "request_queue_size": 128})
    with server_class(("127.0.0.1", port), handler_class) as server:
        server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--events", type=Path, default=Path("events.jsonl"))
    parser.add_argument("--seen", type=Path, default=Path("seen.txt"))
    args = parser.parse_args()
    secret = os.environ.get("HELPDESK_WEBHOOK_SECRET")
    if not secret:
        sys.exit("set HELPDESK_WEBHOOK_SECRET")
    serve(args.port, secret, EventStore(args.events, args.seen))


if __name__ == "__main__":
    main()
