"""What a customer session's `ticketEvents(ticketId)` delivers over a real websocket: their own
ticket's status changes and PUBLIC comments, in order, and nothing else of the helpdesk's work
on it (INTERNAL notes, assignment, edits of tags and priority, SLA warnings and breaches, custom
field changes); another customer's ticket is followed exactly like a missing one (nothing)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

from sqlalchemy import text

from app.clock import ManualClock
from app.domain.enums import AgentRole, Channel, CommentVisibility, TicketPriority
from app.domain.lifecycle import Action
from app.domain.ticket_fields import FieldDefinitionInput
from app.services import assignment, conversation, customer_sign_in, lifecycle, sla, ticket_fields
from app.services import tickets as ticket_service
from app.services.customers import CustomerRef
from app.services.runtime import Runtime
from app.services.sla_scheduler import run_due
from schema import ids
from tests.conftest import Actor
from tests.support import GraphQLWebSocket, ServerThread

FOLLOW = """subscription($t: ID) {
  ticketEvents(ticketId: $t) { id type data ticket { id status } actorAgent { name } actorCustomer { name } }
}"""
LOG = "FROM ticket_events WHERE ticket_id = :t"
# What a customer is told of their ticket, by the contract: nothing else.
TOLD = "type = 'STATUS_CHANGED' OR (type = 'COMMENTED' AND data->>'visibility' = 'PUBLIC')"
# The helpdesk's own work on the same ticket, each of which the test makes happen.
WITHHELD = {"ASSIGNED", "UPDATED", "PRIORITY_CHANGED", "SLA_WARNING", "SLA_BREACHED", "FIELD_CHANGED", "INTERNAL"}


async def session_of(rt: Runtime, customer_id: int) -> str:
    async with rt.engine.begin() as conn:
        link = await customer_sign_in.mint_sign_in_link(conn, rt.settings, customer_id, rt.clock.now())
    return (await customer_sign_in.sign_in(rt, parse_qs(urlparse(link).query)["token"][0])).token


async def new_ticket(rt: Runtime, admin: Actor, email: str, category: str) -> Any:
    ticket, _ = await ticket_service.create_ticket(
        rt,
        admin.principal,
        ticket_service.NewTicket(
            subject="退款：订单未收到",
            description="The parcel never arrived.",
            channel=Channel.API,
            customer=CustomerRef(email=email, name=email.split("@")[0]),
            category=category,
        ),
    )
    return ticket


async def log_of(rt: Runtime, ticket_id: int, where: str = "true") -> list[tuple[int, str, str | None]]:
    """(id, type, visibility) of the ticket's events in the log, in order."""
    async with rt.engine.connect() as conn:
        rows = await conn.execute(
            text(f"SELECT id, type, data->>'visibility' {LOG} AND ({where}) ORDER BY id"),
            {"t": ticket_id},
        )
        return [(pk, kind, visibility) for pk, kind, visibility in rows]


async def test_a_customer_follows_status_changes_and_public_comments_of_their_own_ticket_only(
    rt: Runtime, admin: Actor, make_group: Any, make_actor: Any, server: ServerThread
) -> None:
    category = f"sla-probe-{uuid.uuid4().hex[:8]}"
    group = await make_group()
    agent = await make_actor(AgentRole.AGENT, groups=[group])
    await sla.create_policy(
        rt, admin.principal, sla.PolicyInput(name=category, match_categories=[category], resolution_seconds=3600)
    )
    await ticket_fields.create_field(
        rt, admin.principal, FieldDefinitionInput(key="orderId", label="Order", type="TEXT", visible_to_customer=True)
    )
    mine = await new_ticket(rt, admin, "li.lei@example.cn", category)
    theirs = await new_ticket(rt, admin, "han.meimei@example.cn", "other")
    token = await session_of(rt, mine.customer_id)

    async with GraphQLWebSocket(server.url, token) as socket:
        own = await socket.subscribe(FOLLOW, {"t": ids.encode("Ticket", mine.id)})
        other = await socket.subscribe(FOLLOW, {"t": ids.encode("Ticket", theirs.id)})
        missing = await socket.subscribe(FOLLOW, {"t": ids.encode("Ticket", 10_000_000)})
        await asyncio.sleep(0.5)  # the subscriptions are live before anything happens

        for ticket in (mine, theirs):
            await assignment.assign_ticket(rt, admin.principal, ticket.id, agent.agent.id, group.id, None)
            await conversation.add_comment(
                rt, admin.principal, ticket.id, "Refund is on its way.", CommentVisibility.PUBLIC
            )
            await conversation.add_comment(
                rt, admin.principal, ticket.id, "INTERNAL: card looks stolen", CommentVisibility.INTERNAL
            )
            changes = ticket_service.TicketChanges(
                tags=["fraud-check"], priority=TicketPriority.HIGH, custom_fields={"orderId": "SO-1001"}
            )
            await ticket_service.update_ticket(rt, admin.principal, ticket.id, changes, None)
        # A scheduler two hours ahead warns and breaches the customer's ticket's resolution.
        ahead = Runtime(rt.engine, rt.settings, clock=ManualClock(datetime.now(UTC) + timedelta(hours=2)))
        assert await run_due(ahead) >= 2
        for ticket in (mine, theirs):
            await lifecycle.transition(rt, admin.principal, ticket.id, Action.RESOLVE, resolution="Refunded.")

        told = await log_of(rt, mine.id, TOLD)
        delivered = [await socket.next_data(own) for _ in told]
        await socket.nothing_for(own, 1.5)
        await socket.nothing_for(other, 0.1)
        await socket.nothing_for(missing, 0.1)

    events = [d["ticketEvents"] for d in delivered]
    assert [e["id"] for e in events] == [ids.encode("TicketEvent", pk) for pk, _, _ in told]
    kinds = [e["type"] for e in events]
    assert "STATUS_CHANGED" in kinds and "COMMENTED" in kinds
    assert {e["ticket"]["id"] for e in events} == {ids.encode("Ticket", mine.id)}
    assert all(e["data"]["visibility"] == "PUBLIC" for e in events if e["type"] == "COMMENTED")
    assert "card looks stolen" not in str(events) and "fraud-check" not in str(events)
    # Every kind withheld really happened on the ticket: the log has it, the customer did not get it.
    logged = {("INTERNAL" if visibility == "INTERNAL" else kind) for _, kind, visibility in await log_of(rt, mine.id)}
    assert logged >= WITHHELD, WITHHELD - logged
