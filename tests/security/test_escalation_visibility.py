"""An SLA breach escalates to the escalation group: its agents get the ESCALATED event and may
see the ticket; agents of other groups get neither (security review, finding 6: the event used
to reach the escalation group while `ticket(id)` answered null to them).

Event delivery and ticket visibility come from one rule (app.services.live_access uses the
predicate of `ticket(id)`), and one event costs one query per distinct visibility.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from app.clock import ManualClock
from app.domain.enums import AgentRole, AssignmentStrategy, Channel
from app.domain.global_ids import encode
from app.domain.records import GroupRecord
from app.services import assignment, sla
from app.services import tickets as ticket_service
from app.services.customers import CustomerRef
from app.services.live_access import LiveAccess
from app.services.runtime import Runtime
from app.services.sla_scheduler import run_due
from tests.conftest import Actor
from tests.support import GraphQLWebSocket, ServerThread

MakeActor = Callable[..., Awaitable[Actor]]
MakeGroup = Callable[..., Awaitable[GroupRecord]]

ESCALATIONS = "subscription { ticketEvents(types: [ESCALATED]) { type ticket { id } } }"
TICKET = "query($id: ID) { ticket(id: $id) { id escalationLevel } }"


async def breaching_ticket(rt: Runtime, admin: Actor, group: GroupRecord) -> int:
    """A ticket of `group` under a one-hour first-response policy."""
    policy = sla.PolicyInput(name="probe", match_categories=["sla-probe"], first_response_seconds=3600)
    await sla.create_policy(rt, admin.principal, policy)
    record, _ = await ticket_service.create_ticket(
        rt,
        admin.principal,
        ticket_service.NewTicket(
            subject="The parcel never came",
            description="Please refund.",
            channel=Channel.API,
            customer=CustomerRef(email="li.lei@example.cn"),
            category="sla-probe",
        ),
    )
    await assignment.assign_ticket(rt, admin.principal, record.id, None, group.id, None)
    return record.id


async def test_the_escalation_group_gets_the_event_and_the_ticket_other_groups_neither(
    rt: Runtime, admin: Actor, make_actor: MakeActor, make_group: MakeGroup, server: ServerThread
) -> None:
    manual = AssignmentStrategy.MANUAL
    tier2 = await make_group("tier 2", assignment_strategy=manual)
    tier1 = await make_group("tier 1", assignment_strategy=manual, escalation_group_id=tier2.id)
    unrelated = await make_group("logistics", assignment_strategy=manual)
    escalation_agent = await make_actor(AgentRole.AGENT, groups=[tier2])
    outsider = await make_actor(AgentRole.AGENT, groups=[unrelated])
    ticket_id = await breaching_ticket(rt, admin, tier1)
    ticket = encode("Ticket", ticket_id)
    assert (await escalation_agent.client.execute(TICKET, {"id": ticket}))["ticket"] is None  # not theirs yet

    async with (
        GraphQLWebSocket(server.url, escalation_agent.token) as tier2_socket,
        GraphQLWebSocket(server.url, outsider.token) as outsider_socket,
    ):
        tier2_op = await tier2_socket.subscribe(ESCALATIONS)
        outsider_op = await outsider_socket.subscribe(ESCALATIONS)
        await asyncio.sleep(0.3)  # both subscriptions are live before the breach
        two_hours_on = Runtime(rt.engine, rt.settings, clock=ManualClock(datetime.now(UTC) + timedelta(hours=2)))
        assert await run_due(two_hours_on) == 2  # the warning and the breach

        event = (await tier2_socket.next_data(tier2_op))["ticketEvents"]
        assert event == {"type": "ESCALATED", "ticket": {"id": ticket}}
        await outsider_socket.nothing_for(outsider_op, 1.5)

    seen = (await escalation_agent.client.execute(TICKET, {"id": ticket}))["ticket"]
    assert seen == {"id": ticket, "escalationLevel": 1}
    assert (await outsider.client.execute(TICKET, {"id": ticket}))["ticket"] is None
    # Escalation is for acting on the ticket, not only for looking at it.
    reply = await escalation_agent.client.execute(
        'mutation($id: ID!) { addComment(ticketId: $id, body: "On it.") { userErrors { code } } }', {"id": ticket}
    )
    assert reply["addComment"]["userErrors"] == []


async def test_one_event_costs_one_visibility_query_per_distinct_visibility(
    rt: Runtime, admin: Actor, make_actor: MakeActor, make_group: MakeGroup
) -> None:
    group = await make_group()
    member = await make_actor(AgentRole.AGENT, groups=[group])
    outsider = await make_actor(AgentRole.AGENT)
    ticket_id = await breaching_ticket(rt, admin, group)
    # A period longer than the test: on a loaded machine, 1,500 waiters can take longer to start
    # than the tests' half second, and a verdict looked up again would be counted twice.
    patient = rt.settings.model_copy(update={"credential_recheck_seconds": 60.0})
    access = LiveAccess(Runtime(engine=rt.engine, settings=patient, clock=rt.clock))
    queries: list[int] = []
    lookup = access._visible

    async def counted(principal: object, ticket: int) -> bool:
        queries.append(ticket)
        return await lookup(principal, ticket)  # type: ignore[arg-type]

    access._visible = counted  # type: ignore[method-assign]
    subscribers = [member.principal] * 500 + [outsider.principal] * 500 + [admin.principal] * 500
    verdicts = await asyncio.gather(*(access.may_see_ticket(p, ticket_id, 3) for p in subscribers))
    assert verdicts == [True] * 500 + [False] * 500 + [True] * 500
    assert len(queries) == 2  # the member's visibility and the outsider's; the admin sees all without one
