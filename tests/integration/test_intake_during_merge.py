"""A ticket taken in while mergeCustomers deletes the customer its intake found: the insert
waits for the merge's lock, finds the customer gone, and the intake is tried once more, finding
the customer it went into. Never an error for the caller."""

from __future__ import annotations

import asyncio

from sqlalchemy import delete, insert, select

from app.db import tables
from app.domain.enums import Channel
from app.services import customers, tickets
from app.services.customers import CustomerRef
from app.services.runtime import Runtime
from tests.conftest import Actor

cu, al = tables.customers, tables.customer_aliases


async def test_a_ticket_taken_in_during_a_merge_lands_on_the_target(rt: Runtime, admin: Actor) -> None:
    source = await customers.create_customer(
        rt, admin.principal, customers.CustomerInput(name="Old", email="old@example.cn")
    )
    target = await customers.create_customer(
        rt, admin.principal, customers.CustomerInput(name="New", email="new@example.cn")
    )
    data = tickets.NewTicket("订单问题", "text", Channel.API, CustomerRef(email="old@example.cn"))

    async with rt.engine.connect() as merge:
        # What mergeCustomers does, held open: the source locked, its contact made an alias,
        # the source deleted.
        transaction = await merge.begin()
        await merge.execute(select(cu.c.id).where(cu.c.id == source.id).with_for_update())
        intake = asyncio.create_task(tickets.create_ticket(rt, admin.principal, data))
        await asyncio.sleep(0.5)  # the intake has found the source and waits on its lock
        assert not intake.done()
        await merge.execute(
            insert(al).values(customer_id=target.id, email="old@example.cn", merged_customer_id=source.id)
        )
        await merge.execute(delete(cu).where(cu.c.id == source.id))
        await transaction.commit()

    ticket, created = await asyncio.wait_for(intake, 30)
    assert created and ticket.customer_id == target.id
