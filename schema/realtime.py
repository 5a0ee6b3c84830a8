"""What subscriptions deliver: assignment and SLA events, wallboard snapshots."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.domain.records import TicketEventRecord
from app.events.cursors import EventPosition
from app.reads.wallboard import WallboardNumbers
from schema import errors
from schema.context import Context
from schema.enums import SlaEventKind, SlaTarget, TicketStatus
from schema.people import Agent, Group, load_agent, load_group
from schema.tickets import Ticket, load_ticket

Info = strawberry.Info[Context, None]


async def _ticket(info: Info, pk: int) -> Ticket:
    ticket = await load_ticket(info, pk)
    if ticket is None:
        raise errors.not_found("ticket not found")
    return ticket


@strawberry.type
class AssignmentEvent:
    cursor: str
    reason: str = strawberry.field(
        description=(
            "How the assignee was chosen: ROUND_ROBIN, LEAST_LOADED, SKILL_BASED, MANUAL, ESCALATION, "
            "QUEUE_DRAIN or UNASSIGNED."
        )
    )
    occurred_at: datetime
    ticket_pk: strawberry.Private[int]
    assignee_pk: strawberry.Private[int | None]
    previous_pk: strawberry.Private[int | None]
    group_pk: strawberry.Private[int | None]

    @classmethod
    def of(cls, e: TicketEventRecord) -> AssignmentEvent:
        data = e.data or {}
        return cls(
            cursor=EventPosition(e.txid, e.id).encode(),
            reason=str(data.get("reason") or ("UNASSIGNED" if e.type == "UNASSIGNED" else "MANUAL")),
            occurred_at=e.occurred_at,
            ticket_pk=e.ticket_id,
            assignee_pk=data.get("assigneeId"),
            previous_pk=data.get("previousAssigneeId"),
            group_pk=data.get("groupId", e.group_id),
        )

    @strawberry.field
    async def ticket(self, info: Info) -> Ticket:
        return await _ticket(info, self.ticket_pk)

    @strawberry.field
    async def assignee(self, info: Info) -> Agent | None:
        return await load_agent(info, self.assignee_pk)

    @strawberry.field
    async def previous_assignee(self, info: Info) -> Agent | None:
        return await load_agent(info, self.previous_pk)

    @strawberry.field
    async def group(self, info: Info) -> Group | None:
        return await load_group(info, self.group_pk)


@strawberry.type
class SlaEvent:
    cursor: str
    kind: SlaEventKind
    target: SlaTarget
    due_at: datetime
    remaining_seconds: int
    occurred_at: datetime
    ticket_pk: strawberry.Private[int]

    @classmethod
    def of(cls, e: TicketEventRecord) -> SlaEvent:
        data = e.data or {}
        due = data.get("dueAt")
        return cls(
            cursor=EventPosition(e.txid, e.id).encode(),
            kind=SlaEventKind.WARNING if e.type == "SLA_WARNING" else SlaEventKind.BREACHED,
            target=SlaTarget(data.get("target", SlaTarget.RESOLUTION.value)),
            due_at=datetime.fromisoformat(due) if isinstance(due, str) else e.occurred_at,
            remaining_seconds=int(data.get("remainingSeconds", 0)),
            occurred_at=e.occurred_at,
            ticket_pk=e.ticket_id,
        )

    @strawberry.field
    async def ticket(self, info: Info) -> Ticket:
        return await _ticket(info, self.ticket_pk)


@strawberry.type
class StatusCount:
    status: TicketStatus
    count: int


@strawberry.type
class WallboardSnapshot:
    generated_at: datetime
    counts_by_status: list[StatusCount]
    unassigned: int
    at_risk: int = strawberry.field(description="Running SLA clocks that already warned but are not yet breached.")
    breached_today: int
    agents_online: int
    oldest_unassigned_wait_seconds: int | None
    created_today: int
    resolved_today: int
    group_pk: strawberry.Private[int | None]

    @classmethod
    def of(cls, n: WallboardNumbers) -> WallboardSnapshot:
        return cls(
            generated_at=n.generated_at,
            counts_by_status=[StatusCount(status=TicketStatus(s), count=c) for s, c in n.counts_by_status.items()],
            unassigned=n.unassigned,
            at_risk=n.at_risk,
            breached_today=n.breached_today,
            agents_online=n.agents_online,
            oldest_unassigned_wait_seconds=n.oldest_unassigned_wait_seconds,
            created_today=n.created_today,
            resolved_today=n.resolved_today,
            group_pk=n.group_id,
        )

    @strawberry.field(description="Null for the whole helpdesk.")
    async def group(self, info: Info) -> Group | None:
        return await load_group(info, self.group_pk)
