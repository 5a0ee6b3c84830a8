"""The processes under test: the real `helpdesk serve` and the baseline, each on its own port."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from tests.processes import ServerProcess, _command, start_server
from tests.support import free_port

ROOT = Path(__file__).resolve().parent.parent
# Background housekeeping would compete with the load and change the data set a later run
# reuses: the SLA scheduler sweeps the seeded clocks, and auto-close closes RESOLVED tickets that
# age past its 72 hours while the data set sits cached (here: after a century). The event hub's
# log poll stays on, as in production.
SERVE_ENV = {
    "HELPDESK_RUN_SCHEDULER": "false",
    "HELPDESK_AUTO_CLOSE_AFTER_HOURS": str(100 * 365 * 24),
    "HELPDESK_LOG_LEVEL": "WARNING",
    # The load comes from one address: the web form's per-client limit would refuse all but five.
    "HELPDESK_WEB_FORM_LIMIT": "100000000/600",
    # The automations scenario's webhooks: a receiver on 127.0.0.1, signing secrets stored
    # encrypted (a fixed key: benchmark data only).
    "HELPDESK_WEBHOOK_ALLOW_PRIVATE": "true",
    "HELPDESK_SECRET_KEY": "uCZ9r3cM5o0CzXo1mB7M2m6Qp3cY0Jb8hJ6pJk3Zl0Y=",
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def rss_mb(pid: int) -> float:
    process = psutil.Process(pid)
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += child.memory_info().rss
    return total / 2**20


@contextlib.contextmanager
def helpdesk(database_url: str) -> Iterator[ServerProcess]:
    """`helpdesk serve` (one uvicorn worker) on `database_url`, healthy, stopped with SIGTERM."""
    with tempfile.TemporaryDirectory(prefix="helpdesk-bench-") as data_dir:
        server = start_server(database_url, Path(data_dir), SERVE_ENV)
        failed = True
        try:
            server.wait_healthy(timeout=60)
            failed = False
            yield server
        finally:
            code = server.stop()
            output = server.output()
            if failed or "Traceback" in output:
                log(f"----- helpdesk serve :{server.port} (exit {code}), last 4000 chars -----\n{output[-4000:]}")
            server.log_path.unlink(missing_ok=True)


@contextlib.contextmanager
def helpdesk_with_admin(database_url: str, email: str, password: str) -> Iterator[ServerProcess]:
    """`helpdesk` with an admin to log in as, created first (an existing one, on a database a
    run reuses, is kept)."""
    env = {**os.environ, "DATABASE_URL": database_url}
    command = [*_command(), "create-admin", "--email", email, "--password", password]
    subprocess.run(command, env=env, check=False, capture_output=True)
    with helpdesk(database_url) as server:
        yield server


@dataclass
class Baseline:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.contextmanager
def baseline(database_url: str) -> Iterator[Baseline]:
    """benchmarks/baseline.py under uvicorn in its own process."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.baseline", "--port", str(port), "--database-url", database_url],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        with httpx.Client(timeout=2) as client:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"baseline exited with {process.returncode}")
                with contextlib.suppress(httpx.TransportError):
                    if client.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("baseline not healthy within 30s")
                time.sleep(0.1)
        yield Baseline(port, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
