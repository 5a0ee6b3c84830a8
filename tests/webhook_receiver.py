"""A real webhook receiver in its own process, for the tests: the partner example
(frontend_examples/partner/webhook_receiver.py: signature check, dedupe by event id) plus what
a test needs to watch and steer it.

Run as `python -m tests.webhook_receiver DIR PORT` with HELPDESK_WEBHOOK_SECRET set. In DIR:
`requests.jsonl` gets every request (duplicates too) with what was answered, `events.jsonl`
and `seen.txt` are the example's deduped record. A file `DIR/fail` makes it answer 500 (before
looking at the request), `DIR/delay` holds seconds to wait before answering. Signatures are
checked without a replay window (the tests sign on a ManualClock). It notes in each request's
line whether another request of the same ticket was in flight at the time from a client still
connected (`overlap`: two deliverers at once), and whether one was in flight from a client that
had gone (`overlapCutOff`: a killed server's request still being answered when another process
sent the delivery again, which is no second deliverer: the first one is dead).
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

# Not tests.support: the receiver process starts quicker without the app's imports.
ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "frontend_examples"


def partner_receiver() -> ModuleType:
    """The partner example, imported from its file (frontend_examples is not a package)."""
    path = EXAMPLES / "partner" / "webhook_receiver.py"
    spec = importlib.util.spec_from_file_location("partner_webhook_receiver", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _connected(sock: socket.socket) -> bool:
    """Whether the client of a request still being answered is still there: a killed process's
    sockets are closed by its kernel, and a closed peer reads as the end of the stream."""
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
    except BlockingIOError:  # nothing to read: open
        return True
    except OSError:  # reset
        return False


def _run(folder: Path, port: int) -> None:
    example = partner_receiver()
    # Per ticket, the connections of its requests being answered.
    in_flight: dict[str, list[socket.socket]] = {}
    lock = threading.Lock()
    log_lock = threading.Lock()

    class TestHandler(example.WebhookHandler):  # type: ignore[name-defined,misc]
        # The tests move time on a ManualClock, which signs: no replay window here (the
        # signature test checks it with the example's verifier directly).
        tolerance = 10 * 365 * 86400
        status = 0

        def answer(self, status: int, text: bytes) -> None:
            self.status = status
            super().answer(status, text)

        def do_POST(self) -> None:
            if (folder / "fail").exists():
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._log({"answered": 500})
                self.answer(500, b"failing on purpose")
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            ticket = json.loads(body)["ticket"]["id"]
            with lock:
                earlier = in_flight.setdefault(ticket, [])
                live = [_connected(sock) for sock in earlier]
                overlap, cut_off = any(live), not all(live)
                earlier.append(self.connection)
            try:
                delay = folder / "delay"
                if delay.exists():
                    time.sleep(float(delay.read_text() or 0))
                # Hand the example its body again: it reads the request itself (then the
                # connection's own stream back, for the next request on it).
                connection_stream, self.rfile = self.rfile, io.BytesIO(body)
                try:
                    super().do_POST()
                finally:
                    self.rfile = connection_stream
            finally:
                with lock:
                    in_flight[ticket].remove(self.connection)
            self._log(
                {
                    "answered": self.status,
                    "body": body.decode(),
                    "signature": self.headers.get("X-Helpdesk-Signature"),
                    "eventId": self.headers.get("X-Helpdesk-Event-Id"),
                    "overlap": overlap,
                    "overlapCutOff": cut_off,
                }
            )

        def _log(self, entry: dict[str, Any]) -> None:
            with log_lock, (folder / "requests.jsonl").open("a") as out:
                out.write(json.dumps(entry) + "\n")

    store = example.EventStore(folder / "events.jsonl", folder / "seen.txt")
    example.serve(port, os.environ["HELPDESK_WEBHOOK_SECRET"], store, TestHandler)


@dataclass
class Receiver:
    folder: Path
    port: int
    secret: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/helpdesk"

    def start(self) -> None:
        env = {**os.environ, "HELPDESK_WEBHOOK_SECRET": self.secret}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.webhook_receiver", str(self.folder), str(self.port)], cwd=ROOT, env=env
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                # Any answer (405 to a GET) says it listens.
                httpx.get(f"http://127.0.0.1:{self.port}/", timeout=1)
                return
            except httpx.TransportError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the webhook receiver did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def failing(self, on: bool) -> None:
        path = self.folder / "fail"
        if on:
            path.write_text("")
        else:
            path.unlink(missing_ok=True)

    def delay(self, seconds: float) -> None:
        (self.folder / "delay").write_text(str(seconds))

    def requests(self) -> list[dict[str, Any]]:
        return _lines(self.folder / "requests.jsonl")

    def events(self) -> list[dict[str, Any]]:
        """What the example's dedupe let through: each event once."""
        return _lines(self.folder / "events.jsonl")


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@contextmanager
def running_receiver(folder: Path, port: int, secret: str) -> Iterator[Receiver]:
    receiver = Receiver(folder, port, secret)
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


if __name__ == "__main__":
    _run(Path(sys.argv[1]), int(sys.argv[2]))
