"""What the fault tests share: an admin on a private database, a console that drives work,
a subscriber that resumes from its last cursor, and checks of how requests fail."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import tables
from app.db.engine import create_engine
from app.events.cursors import EventPosition
from tests.processes import ServerProcess, running_servers
from tests.support import ROOT, GraphQLClient, GraphQLWebSocket, load_document

ADMIN_EMAIL = "fault.admin@example.com"
ADMIN_PASSWORD = "kill -9 is not a backup strategy"
TICKET_EVENTS = load_document("console/TicketEventsSubscription.graphql")
ASSIGNMENT_EVENTS = load_document("console/AssignmentEventsSubscription.graphql")
# Words that would mean an exception's text reached a client.
LEAK_MARKERS = ("Traceback", "asyncpg", "sqlalchemy", "psycopg", "Errno", "ConnectionRefused", "OSError", 'File "')


def helpdesk_command() -> list[str]:
    script = Path(sys.executable).parent / "helpdesk"
    return [str(script)] if script.exists() else [sys.executable, "-m", "app.cli"]


def create_admin(database_url: str) -> None:
    """`helpdesk create-admin` (which migrates the database first)."""
    subprocess.run(
        [*helpdesk_command(), "create-admin", "--email", ADMIN_EMAIL, "--password", ADMIN_PASSWORD, "--name", "Fay"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        check=True,
        timeout=120,
        capture_output=True,
    )


@contextlib.contextmanager
def serving(
    database_url: str, data_dir: Path, extra_env: Mapping[str, str] | None = None, *, count: int = 1
) -> Iterator[list[ServerProcess]]:
    """`count` healthy `helpdesk serve` processes; their output is printed if the body fails."""
    env = {"BROADCAST_URL": "", **(extra_env or {})}
    show = bool(os.environ.get("HELPDESK_FAULTS_SHOW_OUTPUT"))
    with running_servers(database_url, count, env, data_dir=data_dir, show_output=show, start_timeout=60) as servers:
        yield servers


async def login(client: httpx.AsyncClient, base_url: str) -> tuple[str, str]:
    """(token, agent id) of the admin."""
    result = await GraphQLClient(base_url, client).mutate(
        "console/Login.graphql", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    return result["token"], result["agent"]["id"]


@dataclass
class Console:
    """An agent's console: opens tickets, assigns them and starts work on them."""

    client: GraphQLClient
    agent_id: str

    async def create(self, subject: str) -> str:
        payload = await self.client.mutate(
            "console/CreateTicket.graphql",
            {
                "input": {
                    "subject": subject,
                    "description": "The app crashes when I open the settings page.",
                    "channel": "PHONE",
                    "customer": {"email": f"caller-{uuid.uuid4().hex[:8]}@example.cn"},
                }
            },
        )
        return str(payload["ticket"]["id"])

    async def work_on(self, subject: str) -> str:
        """Create, assign to me, start: CREATED, ASSIGNED and STATUS_CHANGED-like events."""
        ticket = await self.create(subject)
        await self.client.mutate("console/AssignTicket.graphql", {"id": ticket, "agentId": self.agent_id})
        await self.client.mutate("console/StartTicket.graphql", {"id": ticket})
        return ticket

    async def last_cursor(self, ticket_id: str) -> str:
        history = await self.client.run("console/TicketHistory.graphql", {"id": ticket_id, "first": 100})
        return str(history["ticket"]["history"]["edges"][-1]["cursor"])


@dataclass
class Feed:
    field: str
    query: str
    after: str
    events: list[dict[str, Any]] = field(default_factory=list)


class ResumingSubscriber:
    """Follows subscriptions on one graphql-transport-ws connection, as a console does: when
    the server ends a subscription or closes the socket, it subscribes again (reconnecting
    first if need be) from the last cursor it received. `interruptions` records each time."""

    def __init__(self, base_url: str, token: str, feeds: dict[str, Feed]) -> None:
        self.base_url = base_url
        self.token = token
        self.feeds = feeds
        self.interruptions: list[str] = []
        self.subscribed = asyncio.Event()
        self.progress = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _subscribe(self, ws: GraphQLWebSocket, name: str) -> str:
        feed = self.feeds[name]
        return await ws.subscribe(feed.query, {"after": feed.after})

    async def _follow(self) -> None:
        while True:
            try:
                async with GraphQLWebSocket(self.base_url, self.token) as ws:
                    ops = {await self._subscribe(ws, name): name for name in self.feeds}
                    self.subscribed.set()
                    while True:
                        message = await ws.receive(within=3600)
                        name = ops.get(message.get("id", ""))
                        if name is None:
                            continue
                        feed = self.feeds[name]
                        payload = message.get("payload") or {}
                        if message["type"] == "next" and not payload.get("errors"):
                            event = payload["data"][feed.field]
                            feed.events.append(event)
                            feed.after = event["cursor"]
                            self.progress.set()
                            continue
                        # An error or the end of the stream: subscribe again from the last cursor.
                        self.interruptions.append(f"{name}: {json.dumps(message)[:300]}")
                        del ops[message["id"]]
                        if message["type"] == "next":  # the stream goes on: end it before resuming
                            await ws.complete(message["id"])
                        await asyncio.sleep(0.5)
                        ops[await self._subscribe(ws, name)] = name
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the socket closed or could not open: reconnect
                self.interruptions.append(f"connection: {type(exc).__name__}: {exc}"[:300])
                await asyncio.sleep(0.5)

    async def __aenter__(self) -> ResumingSubscriber:
        self._task = asyncio.create_task(self._follow())
        await asyncio.wait_for(self.subscribed.wait(), 30)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def wait_for(self, expected: dict[str, list[str]], within: float) -> None:
        """Until each feed has received as many events as expected (or `within` seconds)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                while True:
                    self.progress.clear()  # before looking, so no event is missed in between
                    if all(len(self.feeds[name].events) >= len(cursors) for name, cursors in expected.items()):
                        return
                    await self.progress.wait()


@contextlib.asynccontextmanager
async def database(url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(url, pool_size=2, max_overflow=2)
    try:
        yield engine
    finally:
        await engine.dispose()


async def log_after(engine: AsyncEngine, after: str, types: set[str] | None = None) -> list[str]:
    """Cursors of the log's events after `after`, in commit order (optionally of some types)."""
    te = tables.ticket_events
    start = EventPosition.decode(after)
    query = select(te.c.txid, te.c.id, te.c.type).order_by(te.c.txid, te.c.id)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [
        EventPosition(txid, event_id).encode()
        for txid, event_id, kind in rows
        if EventPosition(txid, event_id) > start and (types is None or kind in types)
    ]


def cursors(events: list[dict[str, Any]]) -> list[str]:
    return [event["cursor"] for event in events]


async def wait_until_healthy(http: httpx.AsyncClient, base_url: str, within: float) -> None:
    """Until /healthz answers 200: the service recovers by itself, nothing restarts it."""
    for _ in range(int(within / 0.2)):
        with contextlib.suppress(httpx.TransportError):
            if (await http.get(f"{base_url}/healthz")).status_code == 200:
                return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{base_url} not healthy again within {within:.0f}s")


async def scrape(http: httpx.AsyncClient, base_url: str) -> dict[str, float]:
    """The unlabelled samples of the server's /metrics."""
    response = await http.get(f"{base_url}/metrics")
    assert response.status_code == 200
    samples = {}
    for line in response.text.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def assert_clean_failure(response: httpx.Response) -> None:
    """A request the service could not serve: 503, or a GraphQL error; never a 500 and never
    an exception's text."""
    body = response.text
    leaked = [marker for marker in LEAK_MARKERS if marker in body]
    assert not leaked, f"exception text reached the client ({leaked}): {body[:500]}"
    assert response.status_code != 500, f"500 from {response.request.url}: {body[:500]}"
    if response.status_code == 503:
        return
    assert response.status_code == 200, f"{response.status_code}: {body[:500]}"
    errors = response.json().get("errors")
    assert errors, f"no error reported: {body[:500]}"
