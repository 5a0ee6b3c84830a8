"""`helpdesk serve` at a terminal (stdout is a TTY, here a pseudo-terminal) prints the few lines
that say where to go, plainly, and keeps its log in the data directory; piped, it logs to stderr
as before (tests/processes.py and CI read that)."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.processes import _command
from tests.support import ROOT, free_port

pytestmark = pytest.mark.slow


def read_until_closed(fd: int, until: float) -> str:
    chunks: list[bytes] = []
    while time.monotonic() < until:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: every process holding the terminal has closed it
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def test_at_a_terminal_serve_prints_where_to_go_and_logs_to_a_file(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "HELPDESK_DATA_DIR": str(tmp_path), "HELPDESK_LOG_JSON": "true"}
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [*_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        start_new_session=True,
    )
    os.close(terminal)
    output = ""
    try:
        deadline = time.monotonic() + 60
        with httpx.Client(timeout=2) as client:
            while time.monotonic() < deadline and process.poll() is None:
                output += read_until_closed(controller, time.monotonic() + 0.2)
                try:
                    if client.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
            else:
                pytest.fail(f"helpdesk serve did not become healthy:\n{output}")
    finally:
        process.send_signal(signal.SIGINT)
        output += read_until_closed(controller, time.monotonic() + 20)
        process.wait(timeout=20)
        os.close(controller)

    lines = [line for line in output.splitlines() if line.strip()]
    assert f"GraphiQL:  http://127.0.0.1:{port}/graphql" in lines, output
    assert f"Log:       {tmp_path / 'helpdesk.log'}" in lines, output
    # No log records at the terminal: neither JSON lines nor INFO messages (migrations, uvicorn).
    assert not [line for line in lines if line.startswith("{") or "INFO" in line], output
    log = (tmp_path / "helpdesk.log").read_text()
    assert '"message":"Application startup complete."' in log
    assert '"logger":"alembic.runtime.migration"' in log
