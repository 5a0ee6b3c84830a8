"""Test support: the test database, a real uvicorn server, and a GraphQL client."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import uvicorn
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError

from app.clock import Clock
from app.db.engine import async_url, sync_url
from app.db.tables import metadata
from app.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "frontend_examples"


# The data directory the run was started with (set by use_temporary_data_dir, inherited by xdist
# workers): the embedded test PostgreSQL lives under it, kept between runs since initdb is slow.
EMBEDDED_HOME = "HELPDESK_TEST_EMBEDDED_HOME"


def base_database_url() -> str:
    """HELPDESK_TEST_DATABASE_URL, else DATABASE_URL, else the embedded PostgreSQL."""
    url = os.environ.get("HELPDESK_TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if url:
        return url
    from app.db.embedded import ensure_embedded_database

    home = os.environ.get(EMBEDDED_HOME) or os.environ.get("HELPDESK_DATA_DIR") or ROOT / ".helpdesk"
    return ensure_embedded_database(Path(home) / "test")


def use_temporary_data_dir() -> Path:
    """Points HELPDESK_DATA_DIR (attachments) at a new temporary folder, for every Settings this
    process makes and every server or worker it starts, so the tests write nothing into the
    checkout's ./.helpdesk. The caller removes the folder."""
    os.environ.setdefault(EMBEDDED_HOME, os.environ.get("HELPDESK_DATA_DIR") or str(ROOT / ".helpdesk"))
    folder = Path(tempfile.mkdtemp(prefix="helpdesk-test-data-"))
    os.environ["HELPDESK_DATA_DIR"] = str(folder)
    return folder


def _migrations_fingerprint() -> str:
    digest = hashlib.sha256()
    for path in sorted((ROOT / "migrations").rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def create_test_database(base_url: str) -> str:
    """A fresh database for this run, copied from a migrated template (migrated once per
    migration change, so a run does not pay for the whole chain)."""
    from app.db.migrate import upgrade

    admin = create_sync_engine(sync_url(base_url), isolation_level="AUTOCOMMIT")
    template = f"helpdesk_tpl_{_migrations_fingerprint()}"
    # Unique even for two databases made in the same second by one process (test_migrations).
    # drop_stale_test_databases reads the creator's pid and the time back from the name.
    run_db = f"helpdesk_test_{os.getpid()}_{int(time.time())}_{os.urandom(3).hex()}"
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(727272)"))
        try:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": template}).first()
            if not exists:
                # Left by a run interrupted while migrating the template (the lock says no one is now).
                conn.execute(text(f'DROP DATABASE IF EXISTS "{template}_tmp" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{template}_tmp"'))
                tmp_url = make_url(async_url(base_url)).set(database=f"{template}_tmp").render_as_string(False)
                upgrade(tmp_url)
                conn.execute(text(f'ALTER DATABASE "{template}_tmp" RENAME TO "{template}"'))
            conn.execute(text(f'CREATE DATABASE "{run_db}" TEMPLATE "{template}"'))
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(727272)"))
    admin.dispose()
    return make_url(async_url(base_url)).set(database=run_db).render_as_string(False)


def own_test_database() -> Iterator[str]:
    """A migrated database of its own for a test module whose servers or loops must not meet the
    session's (yield from it in a fixture); dropped afterwards."""
    base = base_database_url()
    url = create_test_database(base)
    yield url
    drop_database(base, url)


def drop_database(base_url: str, url: str) -> None:
    name = make_url(url).database
    admin = create_sync_engine(sync_url(base_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


TEST_DATABASE_NAME = re.compile(r"helpdesk_test_(\d+)_(\d+)_[0-9a-f]+")
STALE_AFTER_SECONDS = 86_400
LOCAL_HOSTS = {None, "", "localhost", "127.0.0.1", "::1"}


def creator_is_gone(pid: int, created: int) -> bool:
    """Whether the process that made a test database at `created` (epoch seconds) has ended: no
    process has its pid now, or the one that has it started later (the pid was reused)."""
    try:
        started = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return True
    return started > created + 1  # create_time is a float; the name's time was truncated


def stale_test_databases(names: list[str], now: float, local: bool) -> list[str]:
    """The test databases (named by create_test_database) a run interrupted before it could drop
    them: a day old, or (on this machine's PostgreSQL, where the pid means something) made by a
    process that has ended. A concurrent run's database is neither, so it is left alone."""
    stale = []
    for name in names:
        match = TEST_DATABASE_NAME.fullmatch(name)
        if match is None:
            continue
        pid, created = int(match[1]), int(match[2])
        if now - created > STALE_AFTER_SECONDS or (local and creator_is_gone(pid, created)):
            stale.append(name)
    return stale


def drop_stale_test_databases(base_url: str) -> list[str]:
    """Drops what stale_test_databases finds on the server of `base_url`; returns their names."""
    admin = create_sync_engine(sync_url(base_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            query = text("SELECT datname FROM pg_database WHERE datname LIKE 'helpdesk_test_%'")
            names = list(conn.execute(query).scalars())
            stale = stale_test_databases(names, time.time(), make_url(base_url).host in LOCAL_HOSTS)
            for name in stale:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
    return stale


TRUNCATE = "TRUNCATE {} RESTART IDENTITY CASCADE".format(", ".join(f'"{t.name}"' for t in metadata.sorted_tables))


def empty_database(engine: Engine) -> None:
    """Every table emptied and the ticket numbers restarted (`engine`: synchronous, autocommit).
    A server still running its background loops on the database (the SLA scheduler, the mail
    sender, the event-log consumers, each looking about once a second) can deadlock with the
    TRUNCATE, which locks every table in turn; PostgreSQL aborts one of the two, so it is tried
    again, a little later each time."""
    attempts = 30
    for attempt in range(attempts):
        try:
            with engine.connect() as conn:
                conn.execute(text(TRUNCATE))
                conn.execute(text("ALTER SEQUENCE ticket_number_seq RESTART WITH 1000"))
            return
        except OperationalError as exc:
            if "deadlock detected" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerThread:
    """The real ASGI app under a real uvicorn, on 127.0.0.1 and a free port, in a thread."""

    def __init__(self, settings: Settings, clock: Clock | None = None, port: int | None = None) -> None:
        from app.main import create_app

        # A port chosen beforehand lets settings name the server's own address (HELPDESK_PUBLIC_URL).
        self.port = port or free_port()
        self.app = create_app(settings, clock=clock)
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_config=None,
            lifespan="on",
            ws="websockets-sansio",
            ws_max_size=settings.max_ws_message_bytes,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def load_document(relative: str) -> str:
    """A GraphQL document from frontend_examples/ (the examples are what the tests run)."""
    return (EXAMPLES / relative).read_text()


@dataclass
class GraphQLClient:
    base_url: str
    http: httpx.AsyncClient
    token: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def as_(self, token: str | None) -> GraphQLClient:
        return GraphQLClient(self.base_url, self.http, token)

    async def post(self, query: str, variables: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
        headers = dict(self.headers)
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = {"query": query, "variables": variables or {}, **extra}
        response = await self.http.post(f"{self.base_url}/graphql", json=body, headers=headers)
        assert response.status_code in (200, 400), response.text
        result: dict[str, Any] = response.json()
        return result

    async def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The data of a query that must succeed (no GraphQL errors)."""
        result = await self.post(query, variables)
        assert not result.get("errors"), result["errors"]
        data: dict[str, Any] = result["data"]
        return data

    async def run(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Runs a frontend_examples document that must succeed."""
        return await self.execute(load_document(document), variables)

    async def mutate(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Runs a mutation document and returns its single payload, asserting no userErrors."""
        data = await self.run(document, variables)
        (payload,) = data.values()
        assert payload["userErrors"] == [], payload["userErrors"]
        return payload  # type: ignore[no-any-return]


async def wait_for(predicate: Any, within: float = 5.0, interval: float = 0.02) -> None:
    deadline = time.monotonic() + within
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


class GraphQLWebSocket:
    """A graphql-transport-ws client, as a browser's would be (one connection, many operations)."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.url = base_url.replace("http", "ws", 1) + "/graphql"
        self.token = token
        self.ws: Any = None
        self._next_id = 0

    async def __aenter__(self) -> GraphQLWebSocket:
        import websockets

        self.ws = await websockets.connect(self.url, subprotocols=["graphql-transport-ws"], max_size=2**22)  # type: ignore[list-item]
        payload = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        await self.send({"type": "connection_init", "payload": payload})
        ack = await self.receive(10)
        assert ack["type"] == "connection_ack", ack
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.close()

    async def send(self, message: dict[str, Any]) -> None:
        import json

        await self.ws.send(json.dumps(message))

    async def receive(self, within: float = 10.0) -> dict[str, Any]:
        import json

        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), within))
            if message.get("type") not in ("ping", "pong"):
                return message  # type: ignore[no-any-return]
            if message["type"] == "ping":
                await self.send({"type": "pong"})

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        self._next_id += 1
        op_id = str(self._next_id)
        await self.send({"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables or {}}})
        return op_id

    async def next_data(self, op_id: str, within: float = 10.0) -> dict[str, Any]:
        """The next `next` payload's data for this operation (fails on errors or completion)."""
        while True:
            message = await self.receive(within)
            if message.get("id") != op_id:
                continue
            assert message["type"] == "next", message
            assert not message["payload"].get("errors"), message["payload"]["errors"]
            return message["payload"]["data"]  # type: ignore[no-any-return]

    async def nothing_for(self, op_id: str, seconds: float) -> None:
        """Asserts that no message for this operation arrives within `seconds`."""
        try:
            while True:
                message = await self.receive(seconds)
                assert message.get("id") != op_id, f"unexpected message: {message}"
        except TimeoutError:
            return

    async def complete(self, op_id: str) -> None:
        await self.send({"id": op_id, "type": "complete"})
