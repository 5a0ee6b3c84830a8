"""createTicket with an idempotency key creates at most one ticket, whatever the races."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from app.db import tables
from app.services.runtime import Runtime
from tests.conftest import Actor
from tests.support import load_document


async def test_twenty_concurrent_creates_with_one_key_make_one_ticket(admin: Actor, rt: Runtime) -> None:
    document = load_document("partner/CreateTicket.graphql")
    variables = {
        "idempotencyKey": "order-SO-1001-refund",
        "input": {
            "subject": "Refund for order SO-1001",
            "description": "The parcel never arrived; please refund.",
            "channel": "API",
            "customer": {"email": "li.lei@example.cn", "name": "李雷"},
            "externalRef": "SO-1001",
        },
    }
    results = await asyncio.gather(*(admin.client.post(document, variables) for _ in range(20)))
    ids = set()
    for result in results:
        assert "errors" not in result, result
        payload = result["data"]["createTicket"]
        assert payload["userErrors"] == []
        ids.add(payload["ticket"]["id"])
    assert len(ids) == 1
    async with rt.engine.connect() as conn:
        tickets = (await conn.execute(select(func.count()).select_from(tables.tickets))).scalar_one()
        customers = (await conn.execute(select(func.count()).select_from(tables.customers))).scalar_one()
        created = (
            await conn.execute(
                select(func.count()).select_from(tables.ticket_events).where(tables.ticket_events.c.type == "CREATED")
            )
        ).scalar_one()
    assert (tickets, customers, created) == (1, 1, 1)


async def test_concurrent_first_contacts_from_one_new_address_make_one_customer(admin: Actor, rt: Runtime) -> None:
    document = load_document("partner/CreateTicket.graphql")

    def variables(i: int) -> dict:
        return {
            "input": {
                "subject": f"Question {i}",
                "description": "Where is my parcel?",
                "channel": "EMAIL",
                "customer": {"email": "New.Customer@Example.com"},
            }
        }

    results = await asyncio.gather(*(admin.client.post(document, variables(i)) for i in range(10)))
    customer_ids = {r["data"]["createTicket"]["ticket"]["customer"]["id"] for r in results}
    assert len(customer_ids) == 1
    async with rt.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(tables.customers))).scalar_one() == 1
        assert (await conn.execute(select(func.count()).select_from(tables.tickets))).scalar_one() == 10
