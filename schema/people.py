"""Customers, agents and groups."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from app.domain.records import AgentRecord, CustomerRecord, GroupRecord
from schema.common import JSON, Node, lazy_class
from schema.context import Context
from schema.enums import AgentPresence, AgentRole, AssignmentStrategy, CustomerTier, TicketStatus
from schema.fields import computed, from_record, loaded, record_type

if TYPE_CHECKING:
    from schema.tickets import TicketConnection

# schema.tickets imports this module; its types are reached the other way through strawberry.lazy.
TicketConnectionRef = Annotated["TicketConnection", strawberry.lazy("schema.tickets")]
Info = strawberry.Info[Context, None]


@record_type("customers")
@strawberry.type
class Customer(Node):
    id: strawberry.ID
    name: str
    email: str | None
    phone: str | None
    company: str | None
    tier: CustomerTier
    language: str | None
    tags: list[str]
    external_refs: JSON = strawberry.field(
        description='Identifiers in other systems, e.g. {"orderIds": ["SO-1001"], "wechat": "..."}.'
    )
    created_at: datetime
    email_bounced_at: datetime | None = strawberry.field(
        description="Set when mail to this address bounced for good; nothing more is sent to it."
    )
    record: strawberry.Private[CustomerRecord]

    @classmethod
    def of(cls, r: CustomerRecord) -> Customer:
        return from_record(cls, r)

    @property
    def pk(self) -> int:
        return self.record.id

    @strawberry.field(metadata=computed("a connection"))
    async def tickets(
        self, info: Info, first: int | None = 20, after: str | None = None, status: list[TicketStatus] | None = None
    ) -> TicketConnectionRef:
        return await lazy_class(TicketConnectionRef).page(info, first, after, customer_id=self.pk, status=status)

    @strawberry.field(metadata=computed("a count of the tickets the caller may see"))
    async def open_ticket_count(self, info: Info) -> int:
        count: int = await info.context.loaders.customer_open_count.load(self.pk)
        return count


@record_type("agents")
@strawberry.type
class Agent(Node):
    id: strawberry.ID
    name: str
    email: str
    role: AgentRole
    presence: AgentPresence
    on_vacation: bool
    skills: list[str]
    languages: list[str]
    capacity: int = strawberry.field(description="Maximum open tickets the router may give this agent.")
    record: strawberry.Private[AgentRecord]

    @classmethod
    def of(cls, r: AgentRecord) -> Agent:
        return from_record(cls, r)

    @property
    def pk(self) -> int:
        return self.record.id

    @strawberry.field(metadata=computed("a count of the tickets the caller may see"))
    async def open_ticket_count(self, info: Info) -> int:
        count: int = await info.context.loaders.agent_open_count.load(self.pk)
        return count

    @strawberry.field(metadata=computed("a list through a link table"))
    async def groups(self, info: Info) -> list[Group]:
        group_ids: list[int] = await info.context.loaders.agent_group_ids.load(self.pk)
        records = await info.context.loaders.group.load_many(group_ids)
        return [Group.of(r) for r in records if r is not None]

    @strawberry.field(metadata=computed("a connection"))
    async def assigned_tickets(
        self, info: Info, first: int | None = 20, after: str | None = None, status: list[TicketStatus] | None = None
    ) -> TicketConnectionRef:
        return await lazy_class(TicketConnectionRef).page(info, first, after, assignee_id=self.pk, status=status)


@record_type("groups")
@strawberry.type
class Group(Node):
    id: strawberry.ID
    name: str
    description: str | None
    assignment_strategy: AssignmentStrategy
    record: strawberry.Private[GroupRecord]

    @classmethod
    def of(cls, r: GroupRecord) -> Group:
        return from_record(cls, r)

    @property
    def pk(self) -> int:
        return self.record.id

    @strawberry.field(metadata=computed("a list through a link table"))
    async def members(self, info: Info) -> list[Agent]:
        member_ids: list[int] = await info.context.loaders.group_member_ids.load(self.pk)
        records = await info.context.loaders.agent.load_many(member_ids)
        return [Agent.of(r) for r in records if r is not None]

    @strawberry.field(description="Open tickets of this group with no assignee.", metadata=computed("a count"))
    async def queue_length(self, info: Info) -> int:
        count: int = await info.context.loaders.queue_length.load(self.pk)
        return count

    escalation_group: Group | None = loaded(
        "group",
        "escalation_group_id",
        lambda r: Group.of(r),
        description="Where this group's SLA breaches escalate to, if anywhere.",
    )


async def load_agent(info: Info, pk: int | None) -> Agent | None:
    if pk is None:
        return None
    record = await info.context.loaders.agent.load(pk)
    return Agent.of(record) if record else None


async def load_group(info: Info, pk: int | None) -> Group | None:
    if pk is None:
        return None
    record = await info.context.loaders.group.load(pk)
    return Group.of(record) if record else None


async def load_customer(info: Info, pk: int | None) -> Customer | None:
    if pk is None:
        return None
    record: Any = await info.context.loaders.customer.load(pk)
    return Customer.of(record) if record else None
