"""Found by the soak (benchmarks/soak.py): an agent resolving several of their tickets at once.

Each resolve records its event with the agent as actor (the foreign key takes a KEY SHARE lock
on the agent's row) and then, a slot having freed up, locks the agent's row to hand them the
next queued ticket. With FOR UPDATE, two such transactions each held the KEY SHARE the other's
FOR UPDATE waits for: PostgreSQL broke the deadlock by failing one, and the agent saw an
internal error. Every resolve must succeed.
"""

from __future__ import annotations

import asyncio

import pytest

from app.domain import global_ids
from tests.conftest import Actor
from tests.support import load_document

pytestmark = pytest.mark.slow

TICKETS = 12
ROUNDS = 3


async def test_an_agent_resolving_many_tickets_at_once_never_deadlocks(admin: Actor) -> None:
    me = admin.agent
    for round_ in range(ROUNDS):
        tickets = []
        for i in range(TICKETS):
            created = await admin.client.mutate(
                "console/CreateTicket.graphql",
                {
                    "input": {
                        "subject": f"Round {round_} ticket {i}",
                        "description": "The app crashes on start.",
                        "channel": "EMAIL",
                        "customer": {"email": f"resolve-{round_}-{i}@example.cn"},
                    }
                },
            )
            ticket = created["ticket"]["id"]
            await admin.client.mutate(
                "console/AssignTicket.graphql", {"id": ticket, "agentId": global_ids.encode("Agent", me.id)}
            )
            await admin.client.mutate("console/StartTicket.graphql", {"id": ticket})
            tickets.append(ticket)
        resolve = load_document("console/ResolveTicket.graphql")
        results = await asyncio.gather(
            *(admin.client.post(resolve, {"id": ticket, "resolution": "fixed in 2.1"}) for ticket in tickets)
        )
        failures = [r for r in results if r.get("errors") or r["data"]["resolveTicket"]["userErrors"]]
        assert not failures, failures[:3]
