"""The "webhooks" scenario: deliveries per second from one process to a local receiver.

Makes a fresh database (next to HELPDESK_TEST_DATABASE_URL), a webhook to a real receiver in its
own process (the partner example: signature check, dedupe, a JSON line per event), `--tickets`
tickets with `--events` events each, fans them out, then times one process's deliverer (batches
of 100, POSTed concurrently) until every delivery has SUCCEEDED. Prints JSON.

    .venv/bin/python benchmarks/webhook_bench.py --tickets 2000 --events 2
"""

from __future__ import annotations

import argparse
import asyncio
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
from app.services.webhook_deliverer import Sender, deliver_due
from app.services.webhook_fanout import CONSUMER, fanout_handler
from app.settings import Settings
from tests.support import base_database_url, create_test_database, drop_database, free_port
from tests.webhook_receiver import Receiver

KEY = "uCZ9r3cM5o0CzXo1mB7M2m6Qp3cY0Jb8hJ6pJk3Zl0Y="


async def run(tickets: int, events: int) -> dict[str, float | int]:
    base = base_database_url()
    url = create_test_database(base)
    engine = create_engine(url, pool_size=4, max_overflow=2)
    rt = Runtime(engine=engine, settings=Settings(database_url=url, secret_key=KEY, webhook_allow_private=True))
    receiver = Receiver(Path(tempfile.mkdtemp()), free_port(), secret="")
    try:
        email = "bench@example.com"
        await agent_service.create_agent(
            rt, None, agent_service.NewAgent(name="B", email=email, password="bench password 1", role=AgentRole.ADMIN)
        )
        admin = await auth.authenticate(rt, (await auth.login(rt, email, "bench password 1", None)).token)
        assert admin is not None
        async with engine.begin() as conn:
            await event_consumers.ensure_consumer(conn, CONSUMER)
        created = await webhooks.create_webhook(rt, admin, WebhookInput(name="bench", url=receiver.url))
        receiver.secret = created.secret or ""
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
        sender = Sender(rt)
        started = time.perf_counter()
        while await deliver_due(rt, sender):
            pass
        elapsed = time.perf_counter() - started
        await sender.close()
        async with engine.connect() as conn:
            done = int(await conn.scalar(select(func.count()).select_from(wd).where(wd.c.status == "SUCCEEDED")) or 0)
        return {
            "scenario": "webhooks",
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
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.tickets, args.events))))


if __name__ == "__main__":
    main()
