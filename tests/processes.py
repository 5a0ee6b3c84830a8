"""Real `helpdesk serve` processes for tests that need several API processes on one database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support import ROOT, free_port

START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


def _command() -> list[str]:
    """The installed `helpdesk` script of this virtualenv, else the same CLI through `-m`."""
    script = Path(sys.executable).parent / "helpdesk"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "app.cli"]


@dataclass
class ServerProcess:
    """One `helpdesk serve` child; its stdout and stderr go to `log_path`."""

    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_healthy(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2) as client:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"helpdesk serve on port {self.port} exited with {self.process.returncode}")
                try:
                    if client.get(f"{self.url}/healthz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"helpdesk serve on port {self.port} not healthy within {timeout:.0f}s")
                time.sleep(0.1)

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, then wait; SIGKILL only if it does not exit in time. Returns the exit code
        (-SIGTERM after a graceful shutdown: uvicorn re-raises the signal it handled)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        return self.process.returncode

    def print_output(self) -> None:
        print(f"\n----- helpdesk serve :{self.port} (exit {self.process.poll()}) output -----")
        print(self.output())
        print(f"----- end of :{self.port} output -----")


def start_server(database_url: str, data_dir: Path, extra_env: Mapping[str, str] | None = None) -> ServerProcess:
    """Starts `helpdesk serve` on a free port against `database_url` (it migrates first).
    Does not wait for it: call `wait_healthy`."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "HELPDESK_LOG_JSON": "true",
        "HELPDESK_DATA_DIR": str(data_dir),
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    log_file = tempfile.NamedTemporaryFile(prefix=f"helpdesk-serve-{port}-", suffix=".log", delete=False)  # noqa: SIM115
    with log_file:
        process = subprocess.Popen(
            [*_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    return ServerProcess(port, process, Path(log_file.name))


@contextmanager
def running_servers(
    database_url: str,
    count: int = 2,
    extra_env: Mapping[str, str] | None = None,
    *,
    data_dir: Path | None = None,
    show_output: bool = False,
    start_timeout: float = START_TIMEOUT,
) -> Iterator[list[ServerProcess]]:
    """`count` healthy servers on one database (and one data directory: a temporary one unless
    given). Their output is printed if startup or the body of the `with` fails (or always, with
    `show_output`); they are stopped with SIGTERM either way."""
    with ExitStack() as stack:
        folder = data_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="helpdesk-serve-data-")))
        servers: list[ServerProcess] = []
        failed = True
        try:
            for _ in range(count):
                servers.append(start_server(database_url, folder, extra_env))
            for server in servers:
                server.wait_healthy(start_timeout)
            yield servers
            failed = show_output
        finally:
            for server in servers:
                server.stop()
            if failed:
                for server in servers:
                    server.print_output()
            for server in servers:
                server.log_path.unlink(missing_ok=True)
