"""A fast webhook receiver for the benchmarks: the partner example's checks (signature, event id,
each event handled once, a JSON line per new event) as an ASGI app under uvicorn (httptools,
keep-alive) instead of one thread per connection. The threaded example spends more CPU than the
deliverer it serves; on a 2-core machine that would measure the receiver.

Run as `python -m benchmarks.webhook_sink PORT DIR` with HELPDESK_WEBHOOK_SECRETS set to a JSON
list: a POST to /hooks/<n> is checked with secret n. GET /stats answers the counts as JSON.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.webhook_receiver import partner_receiver

Scope = dict[str, Any]


class Sink:
    def __init__(self, folder: Path, secrets: list[str]) -> None:
        self.verify = partner_receiver().verify_signature
        self.secrets = secrets
        self.seen: set[str] = set()
        self.events = (folder / "events.jsonl").open("a", buffering=1 << 16)
        self.counts = {"requests": 0, "new": 0, "duplicates": 0, "refused": 0}

    def handle(self, path: str, headers: dict[bytes, bytes], body: bytes) -> tuple[int, bytes]:
        self.counts["requests"] += 1
        try:
            secret = self.secrets[int(path.rsplit("/", 1)[-1])]
        except (ValueError, IndexError):
            self.counts["refused"] += 1
            return 404, b"no such hook"
        signature = headers.get(b"x-helpdesk-signature", b"").decode()
        if not self.verify(secret, body, signature):
            self.counts["refused"] += 1
            return 401, b"bad signature"
        event = json.loads(body)
        if event["id"] != headers.get(b"x-helpdesk-event-id", b"").decode():
            self.counts["refused"] += 1
            return 400, b"event id mismatch"
        # Each hook is a partner of its own: the same event comes once to each.
        key = f"{path} {event['id']}"
        if key in self.seen:
            self.counts["duplicates"] += 1
            return 200, b"duplicate"
        self.seen.add(key)
        self.events.write(json.dumps(event, ensure_ascii=False) + "\n")
        self.counts["new"] += 1
        return 200, b"new"

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] == "GET" and scope["path"] == "/stats":
            self.events.flush()
            status, text = 200, json.dumps(self.counts).encode()
        elif scope["method"] == "POST":
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            status, text = self.handle(scope["path"], dict(scope["headers"]), body)
        else:
            status, text = 405, b""
        headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(text)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": text})


@dataclass
class SinkProcess:
    """The sink in its own process; `url(n)` is the address of hook n (checked with secrets[n])."""

    folder: Path
    port: int
    secrets: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None

    def url(self, n: int) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{n}"

    def start(self) -> None:
        env = {**os.environ, "HELPDESK_WEBHOOK_SECRETS": json.dumps(self.secrets)}
        command = [sys.executable, "-m", "benchmarks.webhook_sink", str(self.port), str(self.folder)]
        self.process = subprocess.Popen(command, cwd=Path(__file__).resolve().parent.parent, env=env)
        deadline = time.monotonic() + 15
        while True:
            try:
                self.stats()
                return
            except httpx.TransportError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the webhook sink did not start") from None
                time.sleep(0.05)

    def stats(self) -> dict[str, int]:
        counts: dict[str, int] = httpx.get(f"http://127.0.0.1:{self.port}/stats", timeout=10).json()
        return counts

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def main() -> None:
    port, folder = int(sys.argv[1]), Path(sys.argv[2])
    sink = Sink(folder, json.loads(os.environ["HELPDESK_WEBHOOK_SECRETS"]))
    uvicorn.run(sink, host="127.0.0.1", port=port, http="httptools", log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
