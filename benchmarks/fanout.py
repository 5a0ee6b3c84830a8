"""Realtime fan-out: N websocket subscribers on one `helpdesk serve` process, one event.

Creates a fresh database (`helpdesk_bench_fanout_<pid>` next to HELPDESK_BENCH_DATABASE_URL,
else postgresql://postgres@127.0.0.1:5432/postgres), migrates it and creates an admin. For each
N it starts one real server process (`helpdesk serve`, one uvicorn worker, logging at WARNING),
logs in over HTTP, then from this process, over loopback, opens N graphql-transport-ws
connections (100 at a time), each with one `ticketEvents { cursor type occurredAt }`
subscription. A warm-up createTicket confirms every subscriber is live. Then:

- memory: the server's RSS before the first connection and once all N are subscribed (and have
  received the warm-up event) gives RSS per connection;
- latency: one createTicket (HTTP POST), timed per subscriber from just before the POST to the
  arrival of its CREATED event: p50/p95/p99/max over the N subscribers, and whether every one
  got it. Done `--rounds` times (5); the median of each percentile is reported.

Each N gets its own server (a fresh process: RSS from a previous N does not carry over); the
database is dropped at the end. The file-descriptor limit of this process (and so of the
server it starts) is raised to the hard limit first. Prints JSON on stdout, then a table.

Client and server share the machine: the latencies include this process's own work to read
N websocket frames on one event loop, so they are an upper bound on the server's.

    .venv/bin/python -m benchmarks.fanout --subscribers 1000 5000
    .venv/bin/python -m benchmarks.fanout --quick
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import statistics
import sys
import tempfile
import time
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

from app.db.engine import async_url, create_engine, sync_url
from app.db.migrate import upgrade
from app.services.agents import ensure_admin
from app.services.runtime import Runtime
from app.settings import Settings
from tests.processes import ServerProcess, start_server

DEFAULT_BASE = "postgresql://postgres@127.0.0.1:5432/postgres"
ADMIN_EMAIL = "fanout-admin@example.com"
ADMIN_PASSWORD = "Fanout-bench-2026!"
SUBSCRIPTION = "subscription { ticketEvents { cursor type occurredAt } }"
LOGIN = "mutation Login($email: String!, $password: String!) { login(email: $email, password: $password) { token userErrors { field message code } } }"  # noqa: E501
CREATE_TICKET = "mutation CreateTicket($input: CreateTicketInput!) { createTicket(input: $input) { ticket { id number } userErrors { field message code } } }"  # noqa: E501
OPEN_CONCURRENCY = 100
OPEN_TIMEOUT = 60.0
DELIVERY_TIMEOUT = 60.0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def raise_fd_limit() -> tuple[int, int]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def create_database(base: str) -> str:
    name = f"helpdesk_bench_fanout_{os.getpid()}"
    admin = create_sync_engine(sync_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(async_url(base)).set(database=name).render_as_string(False)
    upgrade(url)
    return url


def drop_database(base: str, url: str) -> None:
    admin = create_sync_engine(sync_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


async def create_admin(url: str, data_dir: Path) -> None:
    engine = create_engine(url, pool_size=2, max_overflow=2)
    try:
        await ensure_admin(
            Runtime(engine=engine, settings=Settings(database_url=url, data_dir=data_dir)),
            ADMIN_EMAIL,
            ADMIN_PASSWORD,
            "Fan-out benchmark",
        )
    finally:
        await engine.dispose()


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


@dataclass
class Subscriber:
    ws: ClientConnection
    created_at: list[float] = field(default_factory=list)
    problem: str | None = None
    reader: asyncio.Task[None] | None = None

    async def read(self, arrived: asyncio.Event) -> None:
        try:
            async for raw in self.ws:
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "next":
                    event = (message.get("payload", {}).get("data") or {}).get("ticketEvents") or {}
                    if event.get("type") == "CREATED":
                        self.created_at.append(time.perf_counter())
                        arrived.set()
                elif kind == "ping":
                    await self.ws.send('{"type": "pong"}')
                elif kind in ("error", "complete"):
                    self.problem = f"{kind}: {message.get('payload')}"
                    return
        except Exception as error:
            self.problem = f"{type(error).__name__}: {error}"


async def open_subscriber(url: str, token: str, arrived: asyncio.Event) -> Subscriber:
    ws = await connect(
        url, subprotocols=[Subprotocol("graphql-transport-ws")], open_timeout=OPEN_TIMEOUT, ping_interval=None
    )
    try:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), OPEN_TIMEOUT))
        if ack.get("type") != "connection_ack":
            raise RuntimeError(f"no connection_ack: {ack}")
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}}))
    except BaseException:
        await ws.close()
        raise
    subscriber = Subscriber(ws)
    subscriber.reader = asyncio.create_task(subscriber.read(arrived))
    return subscriber


async def open_all(url: str, token: str, n: int, arrived: asyncio.Event) -> tuple[list[Subscriber], Counter[str]]:
    semaphore = asyncio.Semaphore(OPEN_CONCURRENCY)
    failures: Counter[str] = Counter()

    async def one() -> Subscriber | None:
        async with semaphore:
            try:
                return await open_subscriber(url, token, arrived)
            except Exception as error:
                failures[f"{type(error).__name__}: {str(error)[:120]}"] += 1
                return None

    opened = await asyncio.gather(*(one() for _ in range(n)))
    return [s for s in opened if s is not None], failures


async def close_all(subscribers: list[Subscriber]) -> None:
    semaphore = asyncio.Semaphore(OPEN_CONCURRENCY * 5)

    async def one(s: Subscriber) -> None:
        async with semaphore:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(s.ws.close(), 10)
            if s.reader is not None:
                s.reader.cancel()

    await asyncio.gather(*(one(s) for s in subscribers))


async def create_ticket(http: httpx.AsyncClient, base: str, token: str, label: str) -> None:
    variables = {
        "input": {
            "subject": f"Fan-out {label}",
            "description": "One event for every subscriber.",
            "channel": "CHAT",
            "customer": {"email": f"fanout-{label}@example.com"},
        }
    }
    response = await http.post(
        f"{base}/graphql",
        json={"query": CREATE_TICKET, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = response.json()
    payload = (body.get("data") or {}).get("createTicket") or {}
    if body.get("errors") or payload.get("userErrors") or not payload.get("ticket"):
        raise RuntimeError(f"createTicket failed: {body}")


async def wait_for_event(subscribers: list[Subscriber], index: int, arrived: asyncio.Event, within: float) -> bool:
    """Until every subscriber holds CREATED event number `index` (0-based); False on timeout."""
    deadline = time.monotonic() + within
    while True:
        if all(len(s.created_at) > index for s in subscribers):
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        arrived.clear()
        if all(len(s.created_at) > index for s in subscribers):
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(arrived.wait(), min(remaining, 0.5))


def rss_mb(server: ServerProcess) -> float:
    process = psutil.Process(server.process.pid)
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += child.memory_info().rss
    return total / 2**20


async def measure(
    server: ServerProcess, n: int, rounds: int, *, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD
) -> dict[str, Any]:
    """N subscribers on `server`, `rounds` single events; logs in as `email` (an admin)."""
    ws_url = server.url.replace("http", "ws", 1) + "/graphql"
    arrived = asyncio.Event()
    async with httpx.AsyncClient(timeout=60) as http:
        response = await http.post(
            f"{server.url}/graphql",
            json={"query": LOGIN, "variables": {"email": email, "password": password}},
        )
        token = response.json()["data"]["login"]["token"]
        if not token:
            raise RuntimeError(f"login failed: {response.text}")
        # Warm the server's code paths (a mutation, a subscription, a delivery) before the baseline.
        warm = await open_subscriber(ws_url, token, arrived)
        await asyncio.sleep(0.5)
        await create_ticket(http, server.url, token, f"{n}-warmup-0")
        await wait_for_event([warm], 0, arrived, 10)
        await close_all([warm])
        await asyncio.sleep(1.0)
        rss_before = rss_mb(server)

        started = time.perf_counter()
        subscribers, failures = await open_all(ws_url, token, n, arrived)
        connect_seconds = time.perf_counter() - started
        log(f"N={n}: {len(subscribers)} connected in {connect_seconds:.1f}s, failures {dict(failures)}")
        result: dict[str, Any] = {
            "subscribers": n,
            "connected": len(subscribers),
            "connect_seconds": round(connect_seconds, 2),
        }
        if failures:
            result["connect_failures"] = dict(failures)
        try:
            await asyncio.sleep(2.0)  # let the last subscriptions register with the hub
            # Warm-up event: proves every subscription is live.
            await create_ticket(http, server.url, token, f"{n}-warmup-1")
            warmed = await wait_for_event(subscribers, 0, arrived, DELIVERY_TIMEOUT)
            missing = sum(1 for s in subscribers if not s.created_at)
            log(f"N={n}: warm-up event reached {len(subscribers) - missing}/{len(subscribers)}")
            if not warmed:
                result["warmup_missing"] = missing
                for s in subscribers:
                    if not s.created_at:
                        s.created_at.append(float("nan"))
            await asyncio.sleep(1.0)
            rss_after = rss_mb(server)
            result |= {
                "rss_before_mb": round(rss_before, 1),
                "rss_after_mb": round(rss_after, 1),
                "rss_per_connection_kb": round((rss_after - rss_before) * 1024 / max(1, len(subscribers)), 1),
                "server_fds": psutil.Process(server.process.pid).num_fds(),
            }

            per_round: list[dict[str, float | int]] = []
            received_all = warmed and len(subscribers) == n
            for k in range(1, rounds + 1):
                index = k  # the warm-up event was index 0 for every subscriber
                t0 = time.perf_counter()
                await create_ticket(http, server.url, token, f"{n}-round-{k}")
                mutation_ms = (time.perf_counter() - t0) * 1000
                complete = await wait_for_event(subscribers, index, arrived, DELIVERY_TIMEOUT)
                latencies = sorted((s.created_at[index] - t0) * 1000 for s in subscribers if len(s.created_at) > index)
                received = len(latencies)
                received_all = received_all and complete and received == n
                if not latencies:
                    raise RuntimeError(f"N={n}: round {k}: no subscriber got the event")
                row = {
                    "received": received,
                    "mutation_ms": round(mutation_ms, 1),
                    "p50": round(percentile(latencies, 50), 1),
                    "p95": round(percentile(latencies, 95), 1),
                    "p99": round(percentile(latencies, 99), 1),
                    "max": round(latencies[-1], 1),
                }
                per_round.append(row)
                log(f"N={n}: round {k}: {row}")
                # Subscribers that missed it would shift the indices: align everyone.
                for s in subscribers:
                    while len(s.created_at) <= index:
                        s.created_at.append(float("nan"))
                await asyncio.sleep(0.5)
            result["latency_ms"] = {
                key: round(statistics.median(float(r[key]) for r in per_round), 1)
                for key in ("p50", "p95", "p99", "max")
            }
            result["mutation_ms_median"] = round(statistics.median(float(r["mutation_ms"]) for r in per_round), 1)
            result["received_all"] = received_all
            result["rounds"] = per_round
            problems = Counter(s.problem for s in subscribers if s.problem)
            if problems:
                result["subscriber_problems"] = dict(problems)
        finally:
            await close_all(subscribers)
    return result


def run_one(url: str, n: int, rounds: int, data_dir: Path) -> dict[str, Any]:
    server = start_server(url, data_dir, {"HELPDESK_LOG_LEVEL": "WARNING"})
    failed = True
    try:
        server.wait_healthy()
        result = asyncio.run(measure(server, n, rounds))
        failed = False
        return result
    finally:
        code = server.stop()
        output = server.output()
        if failed or (output.strip() and "Traceback" in output):
            log(f"----- helpdesk serve :{server.port} (exit {code}) output, last 4000 chars -----")
            log(output[-4000:])
        server.log_path.unlink(missing_ok=True)


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| subscribers | connected | RSS before → after (MB) | RSS / connection "
        "| p50 | p95 | p99 | max | all received |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['subscribers']} | failed: {r['error']} |||||||")
            continue
        lat = r.get("latency_ms", {})
        lines.append(
            f"| {r['subscribers']} | {r['connected']} | {r['rss_before_mb']} → {r['rss_after_mb']} "
            f"| {r['rss_per_connection_kb']} KB | {lat.get('p50')} ms | {lat.get('p95')} ms | {lat.get('p99')} ms "
            f"| {lat.get('max')} ms | {'yes' if r.get('received_all') else 'no'} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--rounds", type=int, default=5, help="single-event measurements per N (median reported)")
    parser.add_argument("--quick", action="store_true", help="200 subscribers, 3 rounds: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.subscribers, args.rounds = [200], 3
    fd_limit = raise_fd_limit()
    base = os.environ.get("HELPDESK_BENCH_DATABASE_URL") or DEFAULT_BASE
    url = create_database(base)
    results: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="helpdesk-fanout-") as data_dir:
            asyncio.run(create_admin(url, Path(data_dir)))
            for n in args.subscribers:
                try:
                    results.append(run_one(url, n, args.rounds, Path(data_dir)))
                except Exception as error:
                    log(f"N={n} failed: {type(error).__name__}: {error}")
                    results.append({"subscribers": n, "error": f"{type(error).__name__}: {str(error)[:300]}"})
    finally:
        drop_database(base, url)
    summary = {
        "benchmark": "fanout",
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "fd_limit": fd_limit[0],
        "rounds": args.rounds,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "results": results,
    }
    print(json.dumps(summary, indent=2))
    print()
    print(table(results))


if __name__ == "__main__":
    main()
