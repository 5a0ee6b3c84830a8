"""`kill -9` of a `helpdesk serve` process in the middle of a burst of createTicket mutations
that carry idempotency keys, then every request retried (same keys) on another process.

Whatever the killed process had done (committed, half-done and rolled back by PostgreSQL, or
never received), after the retries every request has made exactly one ticket, and a retry of a
request that had been answered returns that same ticket.
"""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.db import tables
from tests.faults.harness import create_admin, database, login, serving
from tests.faults.invariants import assert_invariants
from tests.private_servers import PrivatePostgres, private_postgres
from tests.processes import start_server
from tests.support import load_document

pytestmark = pytest.mark.slow

REQUESTS = 80
IN_FLIGHT = 8
KILL_AFTER = 20  # answered requests before the kill
DOCUMENT = load_document("partner/CreateTicket.graphql")


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        create_admin(server.url)
        yield server


def request(i: int) -> dict[str, Any]:
    return {
        "query": DOCUMENT,
        "variables": {
            "idempotencyKey": f"checkout-{i:04d}",
            "input": {
                "subject": f"Order SO-{i:04d}: refund",
                "description": "The parcel never arrived; please refund.",
                "channel": "API",
                "customer": {"email": f"buyer-{i % 7}@example.cn", "name": "买家"},
                "externalRef": f"SO-{i:04d}",
            },
        },
    }


def ticket_of(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body
    payload = body["data"]["createTicket"]
    assert payload["userErrors"] == [], payload
    return str(payload["ticket"]["id"])


async def test_retries_after_a_kill_9_make_each_ticket_exactly_once(postgres: PrivatePostgres) -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        victim = start_server(postgres.url, Path(data_dir), {"BROADCAST_URL": ""})
        try:
            victim.wait_healthy(60)
            with serving(postgres.url, Path(data_dir)) as (survivor,):
                async with httpx.AsyncClient(timeout=30) as http:
                    token, _ = await login(http, victim.url)
                    headers = {"Authorization": f"Bearer {token}"}
                    answered: dict[int, str] = {}
                    failed: list[str] = []
                    killed = asyncio.Event()
                    slots = asyncio.Semaphore(IN_FLIGHT)

                    async def send(i: int) -> None:
                        async with slots:
                            try:
                                response = await http.post(f"{victim.url}/graphql", json=request(i), headers=headers)
                            except httpx.TransportError as exc:  # killed under it, or not listening any more
                                failed.append(type(exc).__name__)
                                return
                            answered[i] = ticket_of(response)
                            if len(answered) >= KILL_AFTER and not killed.is_set():
                                killed.set()
                                os.kill(victim.process.pid, signal.SIGKILL)

                    await asyncio.gather(*(send(i) for i in range(REQUESTS)))
                    assert killed.is_set() and victim.process.wait(10) == -signal.SIGKILL
                    interrupted = [name for name in failed if name != "ConnectError"]
                    assert interrupted, "the kill interrupted no request in flight"
                    async with database(postgres.url) as engine, engine.connect() as conn:
                        committed = (await conn.execute(select(func.count()).select_from(tables.tickets))).scalar_one()
                    print(
                        f"\nanswered before the kill: {len(answered)}; interrupted in flight: {len(interrupted)};"
                        f" never connected: {len(failed) - len(interrupted)}; tickets committed: {committed}"
                    )

                    # The client retries everything, on the process that is still up.
                    retried = await asyncio.gather(
                        *(
                            http.post(f"{survivor.url}/graphql", json=request(i), headers=headers)
                            for i in range(REQUESTS)
                        )
                    )
                    tickets = [ticket_of(response) for response in retried]
                    for i, ticket in answered.items():
                        assert tickets[i] == ticket, f"request {i}: the retry made another ticket"
                    assert len(set(tickets)) == REQUESTS

                async with database(postgres.url) as engine, engine.connect() as conn:
                    t = tables.tickets
                    per_subject = (await conn.execute(select(t.c.subject, func.count()).group_by(t.c.subject))).all()
                    assert sorted(per_subject) == sorted((f"Order SO-{i:04d}: refund", 1) for i in range(REQUESTS))
                    keys = (await conn.execute(select(func.count()).select_from(tables.idempotency_keys))).scalar_one()
                    assert keys == REQUESTS
                    customers = (await conn.execute(select(func.count()).select_from(tables.customers))).scalar_one()
                    assert customers == 7
                    await assert_invariants(engine)
        finally:
            if victim.process.poll() is None:
                victim.process.kill()
                victim.process.wait(10)
            victim.log_path.unlink(missing_ok=True)
