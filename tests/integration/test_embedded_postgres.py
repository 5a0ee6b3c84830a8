"""The embedded PostgreSQL (app.db.embedded) across several helpdesk processes.

Each helpdesk command is simulated by a child Python process that calls ensure_embedded_database,
prints the URL and how long the call took, then either exits or holds the server until its stdin
is closed (or it gets a signal). Every test has its own data directory under /tmp, reachable by
the unprivileged `embedded_postgres` user when we run as root, and stops its server at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pathlib
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

import psutil
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="unix sockets and signals"),
]

ROOT = pathlib.Path(__file__).resolve().parents[2]
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable

# Run with cwd=ROOT, so that `app` is importable (python -c puts the cwd first on sys.path).
CHILD = """
import json, logging, pathlib, sys, time
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(process)d %(name)s: %(message)s")
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
from app.db.embedded import ensure_embedded_database, install_signal_handlers
install_signal_handlers()
began = time.monotonic()
url = ensure_embedded_database(pathlib.Path(sys.argv[1]))
print(json.dumps({"url": url, "seconds": time.monotonic() - began}), flush=True)
if sys.argv[2] == "hold":
    sys.stdin.read()  # until the test closes our stdin
"""


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def query(url: str, sql: str) -> Any:
    """Run one statement through the URL exactly as the app would (SQLAlchemy + asyncpg)."""

    async def run() -> Any:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                return (await conn.execute(text(sql))).scalar()
        finally:
            await engine.dispose()

    return asyncio.run(run())


@dataclass
class Child:
    """One simulated helpdesk command."""

    proc: subprocess.Popen[str]
    log: TextIO
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stderr(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def ready(self, timeout: float = 30) -> dict[str, Any]:
        """Wait until the child has the database; returns {"url", "seconds"}."""
        assert self.proc.stdout is not None
        readable, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if readable else ""
        if not line:
            self.proc.kill()
            pytest.fail(f"child {self.pid} did not get the database:\n{self.stderr()}")
        self.result = json.loads(line)
        return self.result

    def release(self) -> int:
        """Let a holding child exit normally."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return self.wait()

    def wait(self, timeout: float = 30) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"child {self.pid} did not exit:\n{self.stderr()}")


class Env:
    def __init__(self, base: pathlib.Path) -> None:
        self.base = base
        self.data_dir = base / "data"  # does not exist yet: the module creates it
        self.pgdata = self.data_dir / "pgdata"
        self.children: list[Child] = []

    def spawn(self, hold: bool = True) -> Child:
        log = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed in teardown)
        proc = subprocess.Popen(
            [PYTHON, "-c", CHILD, str(self.data_dir), "hold" if hold else "exit"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            cwd=ROOT,
        )
        child = Child(proc, log)
        self.children.append(child)
        return child

    def run(self) -> Child:
        """A command that gets the database and exits at once."""
        child = self.spawn(hold=False)
        child.ready()
        assert child.wait() == 0, child.stderr()
        return child

    def server_pid(self) -> int | None:
        """The running postmaster's pid, or None."""
        try:
            pid = int((self.pgdata / "postmaster.pid").read_text().splitlines()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None
        return pid if alive(pid) else None

    def holders(self) -> list[int]:
        path = self.pgdata / ".handle_pids.json"
        return json.loads(path.read_text()) if path.exists() else []

    def assert_stopped(self, old_pid: int) -> None:
        deadline = time.monotonic() + 5
        while alive(old_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(old_pid), "the server is still running"
        assert not (self.pgdata / "postmaster.pid").exists()

    def postgres_processes(self) -> list[psutil.Process]:
        found = []
        for proc in psutil.process_iter(["name"]):
            with contextlib.suppress(psutil.Error, OSError):
                if "postgres" in (proc.info["name"] or "") and pathlib.Path(proc.cwd()) == self.pgdata:
                    found.append(proc)
        return found

    def teardown(self) -> None:
        for child in self.children:
            if child.proc.poll() is None:
                child.proc.kill()
            child.proc.wait()
            for stream in (child.proc.stdin, child.proc.stdout):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
            child.log.close()
        leftovers = self.postgres_processes()
        for proc in leftovers:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(leftovers, timeout=5)
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture
def env() -> Iterator[Env]:
    # Under /tmp (not pytest's tmp_path, which may sit under a private home directory); mkdtemp makes
    # it 0700, so as root this also checks that the embedded_postgres user is let through.
    environment = Env(pathlib.Path(tempfile.mkdtemp(prefix="helpdesk-embedded-", dir="/tmp")))
    try:
        yield environment
    finally:
        environment.teardown()


def test_cold_start_connect_and_warm_start(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    began = time.monotonic()
    first = env.spawn()
    cold = first.ready()
    cold_wall = time.monotonic() - began
    url = cold["url"]
    assert url == f"postgresql+asyncpg://postgres@/helpdesk?host={env.pgdata}"
    server = env.server_pid()
    assert server is not None

    assert query(url, "select 1") == 1
    assert query(url, "select current_database()") == "helpdesk"
    assert query(url, "show listen_addresses") == ""  # unix socket only
    assert psutil.Process(server).net_connections(kind="inet") == []

    began = time.monotonic()
    joined = env.run()
    join_wall = time.monotonic() - began
    assert joined.result["url"] == url
    assert env.server_pid() == server

    assert first.release() == 0
    env.assert_stopped(server)

    began = time.monotonic()
    second = env.spawn()
    warm = second.ready()
    warm_wall = time.monotonic() - began
    assert warm["url"] == url
    assert query(url, "select 1") == 1
    restarted = env.server_pid()
    assert restarted is not None and restarted != server
    assert second.release() == 0
    env.assert_stopped(restarted)

    with capsys.disabled():
        print(
            f"\nembedded PostgreSQL: cold start {cold['seconds']:.2f}s (process {cold_wall:.2f}s),"
            f" join {joined.result['seconds']:.2f}s (process {join_wall:.2f}s),"
            f" warm start {warm['seconds']:.2f}s (process {warm_wall:.2f}s)"
        )


def test_second_process_joins_and_leaves_the_server_to_the_first(env: Env) -> None:
    first = env.spawn()
    url = first.ready()["url"]
    server = env.server_pid()
    assert server is not None

    second = env.spawn()
    assert second.ready()["url"] == url
    assert sorted(env.holders()) == sorted([first.pid, second.pid])
    assert env.server_pid() == server
    assert second.release() == 0

    assert env.server_pid() == server, "the second process stopped the first one's server"
    assert env.holders() == [first.pid]
    assert query(url, "select 1") == 1

    assert first.release() == 0
    env.assert_stopped(server)
    assert env.holders() == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_to_the_last_holder_stops_the_server(env: Env, sig: signal.Signals) -> None:
    first = env.spawn()
    url = first.ready()["url"]
    second = env.spawn()
    second.ready()
    server = env.server_pid()
    assert server is not None

    second.proc.send_signal(sig)
    assert second.wait() == 128 + sig  # exited through sys.exit, so atexit ran
    assert env.server_pid() == server, "a holder that was not the last one stopped the server"
    assert query(url, "select 1") == 1

    first.proc.send_signal(sig)
    assert first.wait() == 128 + sig
    env.assert_stopped(server)


@pytest.mark.parametrize("pid_reused", [False, True], ids=["pid-gone", "pid-reused"])
def test_restarts_after_holder_and_server_were_killed(env: Env, pid_reused: bool) -> None:
    crashed = env.spawn()
    url = crashed.ready()["url"]
    server = env.server_pid()
    assert server is not None

    crashed.proc.kill()
    crashed.wait()
    psutil.Process(server).kill()
    deadline = time.monotonic() + 5
    while alive(server) and time.monotonic() < deadline:
        time.sleep(0.05)
    pid_file = env.pgdata / "postmaster.pid"
    assert pid_file.exists(), "expected a stale postmaster.pid"
    assert env.holders() == [crashed.pid], "expected a stale holder list"
    if pid_reused:
        # The dead server's pid now belongs to some other live process (here: this test).
        lines = pid_file.read_text().splitlines()
        pid_file.write_text("\n".join([str(os.getpid()), *lines[1:]]) + "\n")

    survivor = env.spawn()
    assert survivor.ready()["url"] == url
    restarted = env.server_pid()
    assert restarted is not None and restarted not in (server, os.getpid())
    assert query(url, "select 1") == 1
    assert env.holders() == [survivor.pid], "the dead holder was not pruned"

    assert survivor.release() == 0
    env.assert_stopped(restarted)


def test_dead_holder_does_not_keep_the_server_alive(env: Env) -> None:
    crashed = env.spawn()
    url = crashed.ready()["url"]
    server = env.server_pid()
    assert server is not None
    crashed.proc.kill()
    crashed.wait()
    assert env.server_pid() == server  # nobody left to stop it

    later = env.spawn()
    assert later.ready()["url"] == url
    assert env.server_pid() == server  # joined the orphaned server
    assert env.holders() == [later.pid]
    assert later.release() == 0
    env.assert_stopped(server)
