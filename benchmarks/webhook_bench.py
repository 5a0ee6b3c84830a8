"""The "webhooks" scenario: deliveries per second from one process to a local receiver.

Makes a fresh database (next to HELPDESK_TEST_DATABASE_URL), a webhook to a real receiver in its
own process, `--tickets` tickets with `--events` events each, fans them out, then times one
process's deliverer loop (app.services.webhook_deliverer.deliverer_loop) until every delivery
has SUCCEEDED. The receiver does the partner example's checks (signature, event id, each event
once, a JSON line per event): `--receiver sink` (default) is benchmarks/webhook_sink.py under
uvicorn, `--receiver partner` the example itself (a thread per connection, file writes per
request: on two cores it costs more CPU than the deliverer). Prints JSON.

    .venv/bin/python benchmarks/webhook_bench.py --tickets 5000 --events 2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.db import tables
from app.db.engine import create_engine
from app.domain.enums import AgentRole
from app.domain.webhooks.settings import WebhookInput
from app.services import agents as agent_service
from app.services import auth, event_consumers, webhooks
from app.services.runtime import Runtime
from app.services.webhook_deliverer import UNDELIVERED, deliverer_loop
from app.services.webhook_fanout import CONSUMER, fanout_handler
from app.settings import Settings
from benchmarks.webhook_sink import SinkProcess
from tests.support import base_database_url, create_test_database, drop_database, free_port
from tests.webhook_receiver import Receiver

KEY = "uCZ9r3cM5o0CzXo1mB7M2m6Qp3cY0Jb8hJ6pJk3Zl0Y="


async def run(tickets: int, events: int, kind: str) -> dict[str, float | int | str]:
    base = base_database_url()
    url = create_test_database(base)
    # The pool `helpdesk serve` gives the webhooks task (app.background.WebhooksTask).
    engine = create_engine(url, pool_size=3, max_overflow=2)
    rt = Runtime(engine=engine, settings=Settings(database_url=url, secret_key=KEY, webhook_allow_private=True))
    receiver: Receiver | SinkProcess
    if kind == "partner":
        receiver = Receiver(Path(tempfile.mkdtemp()), free_port(), secret="")
        hook_url = receiver.url
    else:
        receiver = SinkProcess(Path(tempfile.mkdtemp()), free_port())
        hook_url = receiver.url(0)
    try:
        email = "bench@example.com"
        await agent_service.create_agent(
            rt, None, agent_service.NewAgent(name="B", email=email, password="bench password 1", role=AgentRole.ADMIN)
        )
        admin = await auth.authenticate(rt, (await auth.login(rt, email, "bench password 1", None)).token)
        assert admin is not None
        async with engine.begin() as conn:
            await event_consumers.ensure_consumer(conn, CONSUMER)
        created = await webhooks.create_webhook(rt, admin, WebhookInput(name="bench", url=hook_url))
        if isinstance(receiver, Receiver):
            receiver.secret = created.secret or ""
        else:
            receiver.secrets = [created.secret or ""]
        receiver.start()
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO customers (name, email) SELECT 'c' || g, 'c' || g || '@example.cn' "
                    "FROM generate_series(1, :n) g"
                ),
                {"n": tickets},
            )
            await conn.execute(
                text(
                    "INSERT INTO tickets (number, subject, description, status, priority, channel, customer_id) "
                    "SELECT 100000 + id, 'bench', 'text', 'NEW', 'NORMAL', 'API', id FROM customers"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO ticket_events (ticket_id, type, data) "
                    "SELECT t.id, 'UPDATED', '{}'::jsonb FROM tickets t, generate_series(1, :e) ORDER BY t.id"
                ),
                {"e": events},
            )
        while await event_consumers.consume_batch(rt, CONSUMER, fanout_handler(rt), limit=1000):
            pass
        wd = tables.webhook_deliveries
        async with engine.connect() as conn:
            queued = int(await conn.scalar(select(func.count()).select_from(wd)) or 0)
        started = time.perf_counter()
        loop = asyncio.create_task(deliverer_loop(rt, idle=0.05))
        undelivered = select(func.count()).select_from(wd).where(wd.c.status.in_(UNDELIVERED))
        while True:
            await asyncio.sleep(0.02)
            async with engine.connect() as conn:
                if not await conn.scalar(undelivered):
                    break
        elapsed = time.perf_counter() - started
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
        async with engine.connect() as conn:
            done = int(await conn.scalar(select(func.count()).select_from(wd).where(wd.c.status == "SUCCEEDED")) or 0)
        received = receiver.stats() if isinstance(receiver, SinkProcess) else {}
        return {
            "scenario": "webhooks",
            "receiver": kind,
            **{f"receiver_{k}": v for k, v in received.items()},
            "deliveries": queued,
            "succeeded": done,
            "seconds": round(elapsed, 2),
            "per_second": round(done / elapsed, 1),
        }
    finally:
        receiver.stop()
        await engine.dispose()
        drop_database(base, url)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=2000)
    parser.add_argument("--events", type=int, default=2)
    parser.add_argument("--receiver", choices=("sink", "partner"), default="sink")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.tickets, args.events, args.receiver))))


if __name__ == "__main__":
    main()
