"""PostgreSQL and Redis servers of one test alone, on free TCP ports of 127.0.0.1.

Fault tests stop and start these; the machine's shared servers are never touched. PostgreSQL
refuses to run as root, so when the tests run as root the cluster belongs to the `postgres`
system user (as the Debian packages install it).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.support import free_port

START_TIMEOUT = 60


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's binaries (HELPDESK_TEST_PG_BIN to choose)."""
    configured = os.environ.get("HELPDESK_TEST_PG_BIN")
    if configured:
        return Path(configured)
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if versions:
        return versions[-1]
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError("no PostgreSQL binaries found (set HELPDESK_TEST_PG_BIN)")
    return Path(initdb).parent


def _as_postgres_user() -> dict[str, object]:
    """subprocess arguments that run a command as the cluster's owner."""
    if os.geteuid() != 0:
        return {}
    return {"user": "postgres", "group": pwd.getpwnam("postgres").pw_gid}


def redis_answers(url: str) -> bool:
    """Whether a Redis answers PING at `url`, within a second (no retries: redis-py's default
    backoff would take seconds to say "no")."""
    client = redis.Redis.from_url(url, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
    try:
        return bool(client.ping())
    except redis.exceptions.RedisError:
        return False
    finally:
        client.close()


@dataclass
class PrivatePostgres:
    """A cluster in a temporary directory; `trust` authentication, TCP on 127.0.0.1 only."""

    base: Path
    port: int

    @property
    def pgdata(self) -> Path:
        return self.base / "pgdata"

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the `helpdesk` database."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/helpdesk"

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [str(postgres_bin() / "pg_ctl"), "-D", str(self.pgdata), *args],
            cwd=self.base,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=START_TIMEOUT + 30,
            check=True,
            **_as_postgres_user(),  # type: ignore[arg-type]
        )

    def initdb(self) -> None:
        subprocess.run(
            [
                str(postgres_bin() / "initdb"),
                "-D",
                str(self.pgdata),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
            cwd=self.base,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=120,
            check=True,
            **_as_postgres_user(),  # type: ignore[arg-type]
        )

    def start(self) -> None:
        options = (
            f"-c port={self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.base} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        self._pg_ctl("-w", "-t", str(START_TIMEOUT), "-l", str(self.base / "server.log"), "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        """pg_ctl stop: `fast` ends every session and shuts down cleanly; `immediate` is a crash."""
        self._pg_ctl("-w", "-t", str(START_TIMEOUT), "-m", mode, "stop")

    def answers(self) -> bool:
        try:
            psycopg2.connect(
                host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", connect_timeout=2
            ).close()
        except psycopg2.OperationalError:
            return False
        return True

    def log(self) -> str:
        try:
            return (self.base / "server.log").read_text(errors="replace")
        except OSError:
            return ""


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A running private cluster with an empty `helpdesk` database; removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix="helpdesk-private-pg-", dir="/tmp"))
    if os.geteuid() == 0:
        os.chown(base, pwd.getpwnam("postgres").pw_uid, pwd.getpwnam("postgres").pw_gid)
    server = PrivatePostgres(base, free_port())
    try:
        server.initdb()
        server.start()
        conn = psycopg2.connect(host="127.0.0.1", port=server.port, user="postgres", dbname="postgres")
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute("CREATE DATABASE helpdesk")
        conn.close()
        yield server
    finally:
        if (server.pgdata / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                server.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


@dataclass
class PrivateRedis:
    """redis-server on a free port, without persistence (a restart loses everything, as a
    crash of a cache would)."""

    base: Path
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        subprocess.run(
            [
                "redis-server",
                "--daemonize",
                "yes",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.base),
                "--pidfile",
                str(self.base / "redis.pid"),
                "--logfile",
                str(self.base / "redis.log"),
            ],
            check=True,
            timeout=30,
            capture_output=True,
        )
        self._wait(up=True)

    def stop(self) -> None:
        subprocess.run(
            ["redis-cli", "-p", str(self.port), "shutdown", "nosave"], check=False, timeout=30, capture_output=True
        )
        self._wait(up=False)

    def freeze(self) -> None:
        """SIGSTOP: connections stay open and nothing answers (a hung or swapped-out server)."""
        os.kill(self._pid(), signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self._pid(), signal.SIGCONT)

    def _pid(self) -> int:
        return int((self.base / "redis.pid").read_text().strip())

    def answers(self) -> bool:
        return redis_answers(self.url)

    def _wait(self, *, up: bool) -> None:
        deadline = time.monotonic() + 30
        while self.answers() != up:
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis on {self.port} did not {'start' if up else 'stop'}")
            time.sleep(0.05)


@contextlib.contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        raise RuntimeError("redis-server is not installed")
    base = Path(tempfile.mkdtemp(prefix="helpdesk-private-redis-", dir="/tmp"))
    server = PrivateRedis(base, free_port())
    try:
        server.start()
        yield server
    finally:
        with contextlib.suppress(Exception):
            server.stop()
        shutil.rmtree(base, ignore_errors=True)
