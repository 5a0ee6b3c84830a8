"""Soak: the real service under a steady mixed load for N minutes, watched for leaks.

Creates a fresh database (`helpdesk_soak_<pid>` on the server of HELPDESK_BENCH_DATABASE_URL,
else postgresql://postgres@127.0.0.1:5432/postgres), migrates it, creates an admin and starts
one `helpdesk serve` process (logging at WARNING). Then, for --minutes:

- 1,000 websocket subscribers (--subscribers) stay connected, as agents' consoles and
  wallboards would: 89 % follow one of 50 watched tickets (ticketEvents(ticketId)), 10 % all
  assignments (assignmentEvents), 1 % every event (ticketEvents);
- a few agents loop over intake (partner createTicket with an idempotency key), the lifecycle
  (assign, start, comment, pending, resolve, reopen, resolve), comments on watched tickets, and
  list and search queries.

Every --sample-seconds it samples the server: RSS and open file descriptors (prometheus_client's
process collector on /metrics), database pool connections in use and open, subscription
streams and asyncio tasks (/metrics), its TCP connections (psutil) and the database's
connections (pg_stat_activity).

Report (JSON on stdout, a summary on stderr): errors, which must be 0 (an HTTP status other
than 200, a GraphQL error, a userError, a transport error, a subscriber's stream ending or
failing); and per sampled figure whether it plateaus: the maximum of the last third of the
samples is compared with the maximum of the middle third (the first third includes start-up
and opening the subscribers), within a tolerance. Exit status 1 if there were errors or a
figure kept growing.

    .venv/bin/python -m benchmarks.soak --minutes 10 [--private-postgres]
    .venv/bin/python -m benchmarks.soak --minutes 1

Client and server share the machine (and, here, with whatever else runs on it): the load is
steady rather than maximal; throughput figures are a by-product, not a benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import text
from sqlalchemy.engine import make_url
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.db.engine import sync_url
from benchmarks.fanout import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    DEFAULT_BASE,
    create_admin,
    create_database,
    drop_database,
    raise_fd_limit,
)
from tests.processes import ServerProcess, start_server

EXAMPLES = Path(__file__).resolve().parent.parent / "frontend_examples"
WATCHED = 50
AGENTS = 3
OPEN_CONCURRENCY = 50
# Figures sampled, and how much the last third's maximum may exceed the middle third's:
# (relative, absolute).
TOLERANCE: dict[str, tuple[float, float]] = {
    "rss_mb": (0.10, 8.0),
    "open_fds": (0.0, 10.0),
    "tcp_connections": (0.0, 10.0),
    "db_pool_open": (0.0, 2.0),
    "db_pool_checked_out": (0.0, 5.0),
    "db_connections": (0.0, 3.0),
    "event_listeners": (0.0, 0.0),
    "asyncio_tasks": (0.02, 20.0),
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def document(relative: str) -> str:
    return (EXAMPLES / relative).read_text()


@dataclass
class Errors:
    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def add(self, kind: str, detail: str) -> None:
        self.counts[kind] += 1
        self.examples.setdefault(kind, detail[:400])

    @property
    def total(self) -> int:
        return sum(self.counts.values())


class Api:
    """GraphQL over HTTP as the admin; every failure is counted, never raised."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, token: str, errors: Errors) -> None:
        self.http, self.url, self.errors = http, f"{base_url}/graphql", errors
        self.headers = {"Authorization": f"Bearer {token}"}
        self.operations: Counter[str] = Counter()

    async def call(self, path: str, variables: dict[str, Any]) -> dict[str, Any] | None:
        name = path.split("/")[-1].removesuffix(".graphql")
        try:
            response = await self.http.post(
                self.url, json={"query": document(path), "variables": variables}, headers=self.headers
            )
        except httpx.HTTPError as error:
            self.errors.add(f"{name}: {type(error).__name__}", str(error))
            return None
        if response.status_code != 200:
            self.errors.add(f"{name}: HTTP {response.status_code}", response.text)
            return None
        body = response.json()
        if body.get("errors"):
            self.errors.add(f"{name}: GraphQL error", json.dumps(body["errors"]))
            return None
        data: dict[str, Any] = body["data"]
        (payload,) = data.values()
        if isinstance(payload, dict) and payload.get("userErrors"):
            self.errors.add(f"{name}: userErrors", json.dumps(payload["userErrors"]))
            return None
        self.operations[name] += 1
        return data


async def login(http: httpx.AsyncClient, base_url: str) -> tuple[str, str]:
    response = await http.post(
        f"{base_url}/graphql",
        json={
            "query": document("console/Login.graphql"),
            "variables": {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
        },
    )
    payload = response.json()["data"]["login"]
    return payload["token"], payload["agent"]["id"]


def ticket_input(label: str) -> dict[str, Any]:
    return {
        "subject": f"Soak {label}: the app crashes on start",
        "description": "Since the update the app crashes when I open it. 更新后打开就崩溃。",
        "channel": random.choice(["EMAIL", "WEB_FORM", "CHAT", "API"]),
        "customer": {"email": f"soak-{random.randrange(500)}@example.cn"},
    }


async def create_ticket(api: Api, label: str) -> str | None:
    data = await api.call(
        "partner/CreateTicket.graphql", {"input": ticket_input(label), "idempotencyKey": uuid.uuid4().hex}
    )
    return None if data is None else str(data["createTicket"]["ticket"]["id"])


async def lifecycle(api: Api, agent_id: str, ticket: str) -> None:
    """One ticket through its life; stops at the first failure (already counted)."""
    steps: list[tuple[str, dict[str, Any]]] = [
        ("console/AssignTicket.graphql", {"id": ticket, "agentId": agent_id}),
        ("console/StartTicket.graphql", {"id": ticket}),
        ("console/AddComment.graphql", {"ticketId": ticket, "body": "Could you send the crash log?"}),
        ("console/SetTicketPending.graphql", {"id": ticket, "reason": "waiting for the crash log"}),
        ("console/ResolveTicket.graphql", {"id": ticket, "resolution": "fixed in 2.1"}),
        ("console/ReopenTicket.graphql", {"id": ticket, "reason": "still crashes"}),
        ("console/ResolveTicket.graphql", {"id": ticket, "resolution": "fixed in 2.1.1"}),
    ]
    for path, variables in steps:
        if await api.call(path, variables) is None:
            return


async def agent(api: Api, agent_id: str, watched: list[str], until: float, number: int) -> None:
    i = 0
    while time.monotonic() < until:
        i += 1
        ticket = await create_ticket(api, f"{number}-{i}")
        if ticket is not None:
            await lifecycle(api, agent_id, ticket)
        await api.call(
            "console/AddComment.graphql",
            {"ticketId": random.choice(watched), "body": f"Note {i} from agent {number}", "visibility": "INTERNAL"},
        )
        await api.call("console/TicketList.graphql", {"first": 20})
        await api.call("console/SearchTickets.graphql", {"search": random.choice(["crash", "崩溃", "update"])})
        await asyncio.sleep(0.05)


@dataclass
class Subscriber:
    ws: ClientConnection
    received: int = 0
    reader: asyncio.Task[None] | None = None


async def open_subscriber(url: str, token: str, query: str, variables: dict[str, Any]) -> Subscriber:
    ws = await connect(url, subprotocols=[Subprotocol("graphql-transport-ws")], open_timeout=60, ping_interval=None)
    await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
    ack = json.loads(await asyncio.wait_for(ws.recv(), 60))
    if ack.get("type") != "connection_ack":
        await ws.close()
        raise RuntimeError(f"no connection_ack: {ack}")
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}}))
    return Subscriber(ws)


async def follow(subscriber: Subscriber, errors: Errors, stopping: asyncio.Event) -> None:
    try:
        async for raw in subscriber.ws:
            message = json.loads(raw)
            kind = message.get("type")
            if kind == "next":
                if message["payload"].get("errors"):
                    errors.add("subscription: error in an event", json.dumps(message["payload"]["errors"]))
                subscriber.received += 1
            elif kind == "ping":
                await subscriber.ws.send('{"type": "pong"}')
            elif kind in ("error", "complete"):
                errors.add(f"subscription: {kind}", json.dumps(message))
                return
    except Exception as error:
        if not stopping.is_set():
            errors.add(f"subscription: {type(error).__name__}", str(error))
        return
    if not stopping.is_set():
        errors.add("subscription: closed by the server", str(subscriber.ws.close_code))


async def open_subscribers(
    server: ServerProcess, token: str, watched: list[str], count: int, errors: Errors, stopping: asyncio.Event
) -> list[Subscriber]:
    url = server.url.replace("http", "ws", 1) + "/graphql"
    ticket_events = document("console/TicketEventsSubscription.graphql")
    assignment_events = document("console/AssignmentEventsSubscription.graphql")
    slots = asyncio.Semaphore(OPEN_CONCURRENCY)

    async def one(i: int) -> Subscriber | None:
        share = i % 100
        if share < 89:
            query, variables = ticket_events, {"ticketId": watched[i % len(watched)]}
        elif share < 99:
            query, variables = assignment_events, {}
        else:
            query, variables = ticket_events, {}
        async with slots:
            try:
                subscriber = await open_subscriber(url, token, query, variables)
            except Exception as error:
                errors.add(f"subscribe: {type(error).__name__}", str(error))
                return None
        subscriber.reader = asyncio.create_task(follow(subscriber, errors, stopping))
        return subscriber

    opened = await asyncio.gather(*(one(i) for i in range(count)))
    return [s for s in opened if s is not None]


async def scrape(http: httpx.AsyncClient, base_url: str) -> dict[str, float]:
    response = await http.get(f"{base_url}/metrics")
    samples: dict[str, float] = {}
    for line in response.text.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def server_tree(server: ServerProcess) -> list[psutil.Process]:
    root = psutil.Process(server.process.pid)
    return [root, *root.children(recursive=True)]


async def sample(
    http: httpx.AsyncClient, server: ServerProcess, db: Any, database: str, started: float
) -> dict[str, Any]:
    metrics = await scrape(http, server.url)
    tcp = 0
    for process in server_tree(server):
        with contextlib.suppress(psutil.Error):
            tcp += sum(1 for c in process.net_connections(kind="tcp") if c.status == psutil.CONN_ESTABLISHED)

    def db_connections() -> int:
        with db.connect() as conn:
            return int(
                conn.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE datname = :d"), {"d": database}
                ).scalar_one()
            )

    return {
        "t": round(time.monotonic() - started, 1),
        "rss_mb": round(metrics["process_resident_memory_bytes"] / 2**20, 1),
        "open_fds": metrics["process_open_fds"],
        "tcp_connections": tcp,
        "db_pool_open": metrics["helpdesk_db_pool_open"],
        "db_pool_checked_out": metrics["helpdesk_db_pool_checked_out"],
        "db_connections": await asyncio.to_thread(db_connections) - 1,  # not this sampler's own
        "event_listeners": metrics["helpdesk_event_listeners"],
        "asyncio_tasks": metrics["helpdesk_asyncio_tasks"],
    }


def plateaus(samples: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    third = len(samples) // 3
    middle, last = samples[third : 2 * third], samples[2 * third :]
    verdicts = {}
    for name, (relative, absolute) in TOLERANCE.items():
        middle_max = max(s[name] for s in middle)
        last_max = max(s[name] for s in last)
        verdicts[name] = {
            "first": samples[0][name],
            "middle_max": middle_max,
            "last_max": last_max,
            "plateau": last_max <= middle_max * (1 + relative) + absolute,
        }
    return verdicts


async def soak(base: str, minutes: float, subscriber_count: int, every: float) -> dict[str, Any]:
    raise_fd_limit()
    url = await asyncio.to_thread(create_database, base)  # alembic runs its own event loop
    database = str(make_url(url).database)
    db = create_sync_engine(sync_url(url), pool_size=1)
    errors = Errors()
    stopping = asyncio.Event()
    try:
        with tempfile.TemporaryDirectory(prefix="helpdesk-soak-") as data_dir:
            await create_admin(url, Path(data_dir))
            server = start_server(url, Path(data_dir), {"HELPDESK_LOG_LEVEL": "WARNING", "BROADCAST_URL": ""})
            try:
                await asyncio.to_thread(server.wait_healthy, 120)
                async with httpx.AsyncClient(timeout=60) as http:
                    token, agent_id = await login(http, server.url)
                    api = Api(http, server.url, token, errors)
                    watched = [t for i in range(WATCHED) if (t := await create_ticket(api, f"watched-{i}"))]
                    for ticket in watched:
                        await api.call("console/StartTicket.graphql", {"id": ticket})
                    started = time.monotonic()
                    samples = [await sample(http, server, db, database, started)]
                    log(f"opening {subscriber_count} subscribers ...")
                    subscribers = await open_subscribers(server, token, watched, subscriber_count, errors, stopping)
                    log(f"{len(subscribers)} subscribers; load for {minutes:g} min, sampling every {every:g}s")
                    until = started + minutes * 60
                    agents = [asyncio.create_task(agent(api, agent_id, watched, until, n)) for n in range(AGENTS)]
                    while time.monotonic() < until:
                        await asyncio.sleep(min(every, max(0.0, until - time.monotonic())))
                        samples.append(await sample(http, server, db, database, started))
                        last = samples[-1]
                        log(
                            f"t={last['t']:>6}s rss={last['rss_mb']}MB fds={last['open_fds']:.0f}"
                            f" tcp={last['tcp_connections']} pool={last['db_pool_checked_out']:.0f}/"
                            f"{last['db_pool_open']:.0f} db={last['db_connections']}"
                            f" streams={last['event_listeners']:.0f} tasks={last['asyncio_tasks']:.0f}"
                            f" ops={sum(api.operations.values())} errors={errors.total}"
                        )
                    await asyncio.gather(*agents)
                    await asyncio.sleep(2)  # the last events reach the subscribers
                    stopping.set()
                    received = sum(s.received for s in subscribers)
                    for subscriber in subscribers:
                        with contextlib.suppress(Exception):
                            await asyncio.wait_for(subscriber.ws.close(), 5)
                        if subscriber.reader is not None:
                            subscriber.reader.cancel()
                    silent = sum(1 for s in subscribers if s.received == 0)
            finally:
                stopping.set()
                server.stop()
                server_output = server.output()
                server.log_path.unlink(missing_ok=True)
    finally:
        db.dispose()
        drop_database(base, url)
    if "Traceback" in server_output:
        errors.add("server: traceback in its log", server_output[server_output.index("Traceback") :])
    kept_log = None
    if errors.total:  # keep the server's log to find out why
        kept_log = Path(tempfile.gettempdir()) / f"helpdesk-soak-server-{os.getpid()}.log"
        kept_log.write_text(server_output)
    verdicts = plateaus(samples)
    return {
        "minutes": minutes,
        "subscribers": len(subscribers),
        "subscribers_that_received_nothing": silent,
        "events_delivered": received,
        "operations": dict(api.operations),
        "operations_total": sum(api.operations.values()),
        "errors": errors.total,
        "error_kinds": dict(errors.counts),
        "error_examples": errors.examples,
        "server_log": str(kept_log) if kept_log else None,
        "plateau": verdicts,
        "all_plateau": all(v["plateau"] for v in verdicts.values()),
        "samples": samples,
        "machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.soak", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--sample-seconds", type=float, default=5.0)
    parser.add_argument(
        "--private-postgres",
        action="store_true",
        help="run PostgreSQL of its own (tests/private_servers.py) instead of using a shared server,"
        " so other work on that server (its connection limit) cannot cause errors here",
    )
    parser.add_argument("--output", help="write the JSON here instead of stdout")
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        base = os.environ.get("HELPDESK_BENCH_DATABASE_URL") or DEFAULT_BASE
        if args.private_postgres:
            from tests.private_servers import private_postgres

            base = f"postgresql://postgres@127.0.0.1:{stack.enter_context(private_postgres()).port}/postgres"
        result = asyncio.run(soak(base, args.minutes, args.subscribers, args.sample_seconds))
    result["postgres"] = "private" if args.private_postgres else "shared"
    text_out = json.dumps(result, indent=2, ensure_ascii=False)
    if args.output:
        Path(args.output).write_text(text_out + "\n")
    else:
        print(text_out)
    log(
        f"\nsoak {result['minutes']:g} min: {result['operations_total']} operations,"
        f" {result['subscribers']} subscribers"
        f" ({result['subscribers_that_received_nothing']} received nothing), {result['events_delivered']} events"
        f" delivered, errors: {result['errors']}"
    )
    for kind, count in result["error_kinds"].items():
        log(f"  error {kind}: {count}  e.g. {result['error_examples'][kind][:200]}")
    log(f"{'figure':<22}{'first':>10}{'middle max':>12}{'last max':>10}  plateau")
    for name, verdict in result["plateau"].items():
        log(
            f"{name:<22}{verdict['first']:>10}{verdict['middle_max']:>12}{verdict['last_max']:>10}"
            f"  {'yes' if verdict['plateau'] else 'NO'}"
        )
    return 0 if result["errors"] == 0 and result["all_plateau"] else 1


if __name__ == "__main__":
    sys.exit(main())
