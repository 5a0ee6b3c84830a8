"""Tickets and what hangs off them: conversation, attachments, links, sub-tickets, history."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, cast

import orjson
import strawberry
from sqlalchemy import ColumnElement

from app.auth.policy import may_read_agent_only_fields, may_read_email_delivery, may_read_internal_notes
from app.domain import enums
from app.domain.errors import InvalidInput
from app.domain.event_data import public_event_data
from app.domain.records import (
    AttachmentRecord,
    CommentRecord,
    SatisfactionRecord,
    SubTicketProgressRecord,
    TicketEventRecord,
    TicketRecord,
)
from app.domain.ticket_fields import customer_view
from app.domain.ticket_query import TicketFilter, TicketOrder
from app.events.cursors import EventPosition
from app.reads import ticket_pages
from app.reads.node_json import JsonField
from schema import errors, ids
from schema.common import JSON, Node, PageInfo, page_size
from schema.context import Context
from schema.email import EmailDelivery, Mailbox
from schema.enums import (
    Channel,
    CommentVisibility,
    Sentiment,
    TicketEventType,
    TicketLinkKind,
    TicketPriority,
    TicketStatus,
)
from schema.fields import computed, from_record, loaded, record_type
from schema.knowledge import ArticleMatch, suggested_articles
from schema.people import Agent, Customer, Group, load_agent, load_customer
from schema.sla import TicketSla

Info = strawberry.Info[Context, None]


@strawberry.type
class SubTicketProgress:
    total: int
    resolved: int
    open: int

    @classmethod
    def of(cls, r: SubTicketProgressRecord) -> SubTicketProgress:
        return cls(total=r.total, resolved=r.resolved, open=r.open)


@strawberry.type
class TicketLink:
    kind: TicketLinkKind
    ticket: Ticket


@strawberry.type
class SatisfactionRating:
    score: int = strawberry.field(description="1 (very unsatisfied) to 5 (very satisfied).")
    comment: str | None
    rated_at: datetime
    speed: int | None = strawberry.field(default=None, description="Optional 1-5 sub-scores (速度 / 专业度 / 态度).")
    professionalism: int | None = None
    attitude: int | None = None

    @classmethod
    def of(cls, r: SatisfactionRecord) -> SatisfactionRating:
        return cls(
            score=r.score,
            comment=r.comment,
            rated_at=r.rated_at,
            speed=r.speed,
            professionalism=r.professionalism,
            attitude=r.attitude,
        )


@strawberry.type
class Attachment(Node):
    id: strawberry.ID
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime

    @classmethod
    def of(cls, r: AttachmentRecord) -> Attachment:
        return cls(
            id=ids.encode("Attachment", r.id),
            filename=r.filename,
            content_type=r.content_type,
            size=r.size,
            sha256=r.sha256,
            created_at=r.created_at,
        )

    @strawberry.field(description="Relative URL that serves the bytes to an authorised caller.")
    def url(self) -> str:
        return f"/attachments/{self.id}"


@strawberry.type
class Comment(Node):
    id: strawberry.ID
    body: str
    visibility: CommentVisibility
    created_at: datetime
    message_id: str | None = strawberry.field(
        description="Message-ID of the mail this comment came from or went out as."
    )
    pk: strawberry.Private[int]
    author_agent_pk: strawberry.Private[int | None]
    author_customer_pk: strawberry.Private[int | None]

    @classmethod
    def of(cls, r: CommentRecord) -> Comment:
        return cls(
            id=ids.encode("Comment", r.id),
            pk=r.id,
            body=r.body,
            visibility=CommentVisibility(r.visibility),
            created_at=r.created_at,
            message_id=r.message_id,
            author_agent_pk=r.author_agent_id,
            author_customer_pk=r.author_customer_id,
        )

    @strawberry.field
    async def author_agent(self, info: Info) -> Agent | None:
        return await load_agent(info, self.author_agent_pk)

    @strawberry.field
    async def author_customer(self, info: Info) -> Customer | None:
        return await load_customer(info, self.author_customer_pk)

    @strawberry.field
    async def attachments(self, info: Info) -> list[Attachment]:
        records: list[AttachmentRecord] = await info.context.loaders.comment_attachments.load(self.pk)
        return [Attachment.of(r) for r in records]

    @strawberry.field(description="For PUBLIC agent replies on mail tickets: where the copy to the customer stands.")
    async def email_delivery(self, info: Info) -> EmailDelivery | None:
        if not may_read_email_delivery(info.context.principal, self.visibility.value):
            return None
        record = await info.context.loaders.comment_email_delivery.load(self.pk)
        return EmailDelivery.of(record) if record is not None else None


@strawberry.type
class CommentEdge:
    cursor: str
    node: Comment


@strawberry.type
class CommentConnection:
    edges: list[CommentEdge]
    page_info: PageInfo
    ticket_pk: strawberry.Private[int]
    visibility: strawberry.Private[str | None]

    @strawberry.field
    async def total_count(self, info: Info) -> int:
        count: int = await info.context.loaders.comment_count.load((self.ticket_pk, self.visibility))
        return count


@strawberry.type
class TicketEvent(Node):
    id: strawberry.ID
    cursor: str = strawberry.field(description="Opaque, ordered by commit; resume a stream from it.")
    type: TicketEventType
    data: JSON = strawberry.field(description='Type-specific details, e.g. {"from": "OPEN", "to": "PENDING"}.')
    occurred_at: datetime
    ticket_pk: strawberry.Private[int]
    actor_agent_pk: strawberry.Private[int | None]
    actor_customer_pk: strawberry.Private[int | None]

    @classmethod
    def of(cls, r: TicketEventRecord) -> TicketEvent:
        return cls(
            id=ids.encode("TicketEvent", r.id),
            cursor=EventPosition(r.txid, r.id).encode(),
            type=TicketEventType(r.type),
            data=JSON(public_event_data(r.data)),
            occurred_at=r.occurred_at,
            ticket_pk=r.ticket_id,
            actor_agent_pk=r.actor_agent_id,
            actor_customer_pk=r.actor_customer_id,
        )

    @strawberry.field
    async def ticket(self, info: Info) -> Ticket:
        ticket = await load_ticket(info, self.ticket_pk)
        if ticket is None:  # events are only shown for tickets the caller can see
            raise errors.not_found("ticket not found")
        return ticket

    @strawberry.field(description="Null for the system (router, SLA engine, automations).")
    async def actor_agent(self, info: Info) -> Agent | None:
        return await load_agent(info, self.actor_agent_pk)

    @strawberry.field
    async def actor_customer(self, info: Info) -> Customer | None:
        return await load_customer(info, self.actor_customer_pk)


@strawberry.type
class TicketEventEdge:
    cursor: str
    node: TicketEvent


@strawberry.type
class TicketEventConnection:
    edges: list[TicketEventEdge]
    page_info: PageInfo


@record_type("tickets")
@strawberry.type
class Ticket(Node):
    id: strawberry.ID
    number: int = strawberry.field(description="Human-facing sequence number, unique, never reused.")
    subject: str
    description: str
    status: TicketStatus
    priority: TicketPriority
    channel: Channel
    category: str | None
    tags: list[str]
    external_ref: str | None = strawberry.field(description="The customer's own reference, e.g. an order number.")
    language: str | None
    sentiment: Sentiment
    escalation_level: int
    version: int = strawberry.field(
        description="Increases on every change; pass it as expectedVersion to guard against lost updates."
    )
    created_at: datetime
    updated_at: datetime
    first_responded_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    record: strawberry.Private[TicketRecord]

    @classmethod
    def of(cls, r: TicketRecord) -> Ticket:
        return from_record(cls, r)

    @strawberry.field(metadata=computed("what a customer sees depends on the field definitions"))
    async def custom_fields(self, info: Info) -> JSON:
        values = self.record.custom_fields or {}
        if may_read_agent_only_fields(info.context.viewer):
            return JSON(values)
        visible = await info.context.loaders.customer_field_keys.load(None)
        return JSON(customer_view(values, visible))

    customer: Customer = loaded("customer", "customer_id", Customer.of)
    assignee: Agent | None = loaded("agent", "assignee_id", Agent.of)
    group: Group | None = loaded("group", "group_id", Group.of)
    mailbox: Mailbox | None = loaded(
        "mailbox",
        "mailbox_id",
        Mailbox.of,
        description="The mailbox the conversation runs through, for tickets that came by mail.",
    )

    @strawberry.field(
        description="Agents and groups working on it beside the assignee (cross-department work).",
        metadata=computed("a list through a link table"),
    )
    async def collaborators(self, info: Info) -> list[Agent]:
        agent_ids: list[int] = await info.context.loaders.collaborator_ids.load(self.record.id)
        records = await info.context.loaders.agent.load_many(agent_ids)
        return [Agent.of(r) for r in records if r is not None]

    @strawberry.field(metadata=computed("a list through a link table"))
    async def collaborating_groups(self, info: Info) -> list[Group]:
        group_ids: list[int] = await info.context.loaders.collaborating_group_ids.load(self.record.id)
        records = await info.context.loaders.group.load_many(group_ids)
        return [Group.of(r) for r in records if r is not None]

    # The ticket loader applies visibility, which the row's SQL form would not.
    parent: Ticket | None = loaded("ticket", "parent_id", lambda r: Ticket.of(r), sql=None)

    @strawberry.field(metadata=computed("a list of the tickets the caller may see"))
    async def sub_tickets(self, info: Info) -> list[Ticket]:
        records: list[TicketRecord] = await info.context.loaders.sub_tickets.load(self.record.id)
        return [Ticket.of(r) for r in records]

    sub_ticket_progress: SubTicketProgress = loaded(
        "sub_ticket_progress", "id", SubTicketProgress.of, sql="sub_ticket_progress"
    )

    @strawberry.field(metadata=computed("a list of the tickets the caller may see"))
    async def links(self, info: Info) -> list[TicketLink]:
        links = await info.context.loaders.links.load(self.record.id)
        others = await info.context.loaders.ticket.load_many([link.other_ticket_id for link in links])
        return [
            TicketLink(kind=TicketLinkKind(link.kind), ticket=Ticket.of(other))
            for link, other in zip(links, others, strict=True)
            if other is not None
        ]

    @strawberry.field(metadata=computed("a connection"))
    async def comments(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        visibility: CommentVisibility | None = None,
    ) -> CommentConnection:
        size = page_size(first, info.context.rt.settings.max_page_size)
        if not may_read_internal_notes(info.context.principal):
            if visibility is enums.CommentVisibility.INTERNAL:
                return CommentConnection(
                    edges=[], page_info=PageInfo.of([], False, False), ticket_pk=self.record.id, visibility="NONE"
                )
            visibility = enums.CommentVisibility.PUBLIC
        after_id = ids.decode_as(after, "Comment") if after else None
        if after and after_id is None:
            raise errors.invalid_argument("`after` is not a valid comment cursor")
        vis = visibility.value if visibility is not None else None
        records, has_next = await info.context.loaders.comments.load((self.record.id, vis, after_id, size))
        edges = [CommentEdge(cursor=str(ids.encode("Comment", r.id)), node=Comment.of(r)) for r in records]
        return CommentConnection(
            edges=edges,
            page_info=PageInfo.of([e.cursor for e in edges], has_next, after is not None),
            ticket_pk=self.record.id,
            visibility=vis,
        )

    @strawberry.field(metadata=computed("internal notes' files are for agents"))
    async def attachments(self, info: Info) -> list[Attachment]:
        loaders = info.context.loaders
        # Files attached to internal notes stay internal.
        loader = (
            loaders.ticket_attachments
            if may_read_internal_notes(info.context.principal)
            else loaders.ticket_public_attachments
        )
        records: list[AttachmentRecord] = await loader.load(self.record.id)
        return [Attachment.of(r) for r in records]

    sla: TicketSla | None = loaded("ticket_sla", "id", TicketSla.of, sql="ticket_sla")

    @strawberry.field(
        description="Published articles most relevant to this ticket, best first.", metadata=computed("text search")
    )
    async def suggested_articles(self, info: Info, first: int | None = 3) -> list[ArticleMatch]:
        return await suggested_articles(info, self.record.id, first)

    satisfaction: SatisfactionRating | None = loaded("satisfaction", "id", SatisfactionRating.of, sql=None)

    @strawberry.field(
        description="The audit trail: every change, who made it and when, oldest first.",
        metadata=computed("a connection"),
    )
    async def history(self, info: Info, first: int | None = 50, after: str | None = None) -> TicketEventConnection:
        size = page_size(first, info.context.rt.settings.max_page_size)
        try:
            position = EventPosition.decode(after) if after else None
        except InvalidInput as exc:
            raise errors.from_domain(exc) from exc
        records, has_next = await info.context.loaders.history.load((self.record.id, position, size))
        events = [TicketEvent.of(r) for r in records]
        return TicketEventConnection(
            edges=[TicketEventEdge(cursor=e.cursor, node=e) for e in events],
            page_info=PageInfo.of([e.cursor for e in events], has_next, after is not None),
        )


@strawberry.type
class TicketEdge:
    cursor: str
    node: Ticket


@strawberry.type
class TicketConnection:
    edges: list[TicketEdge]
    page_info: PageInfo
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field
    async def total_count(self) -> int:
        return await self.count()

    @classmethod
    async def page(
        cls,
        info: Info,
        first: int | None,
        after: str | None,
        *,
        base: TicketFilter | None = None,
        order: TicketOrder | None = None,
        customer_id: int | None = None,
        assignee_id: int | None = None,
        status: list[enums.TicketStatus] | None = None,
        node_json: ColumnElement[Any] | None = None,
        with_records: bool = False,
        connection: tuple[JsonField, ...] | None = None,
    ) -> TicketConnection:
        """A keyset page of the tickets the caller may see, read by app.reads.ticket_pages. With
        node_json (a compiled plan's app.reads.node_json expression) each edge's node is that JSON,
        ready to send; with_records: each node is (that JSON, its Ticket), for a plan that resolves
        some fields in Python; with connection (its selection, app.reads.ticket_page_json), the
        whole connection is that JSON."""
        viewer = info.context.viewer
        if viewer is None:
            raise errors.unauthenticated()
        size = page_size(first, info.context.rt.settings.max_page_size)
        f = ticket_pages.ticket_filter(base, customer_id=customer_id, assignee_id=assignee_id, status=status)
        order = order or TicketOrder()
        reads = info.context.loaders.reads
        page: ticket_pages.TicketPage[Any]
        try:
            if connection is not None:
                assert node_json is not None
                text = await ticket_pages.ticket_connection_json(
                    reads, node_json, connection, viewer, f, order, size, after
                )
                # Not a TicketConnection: the plan that asked for it sends it as it is.
                return cast(TicketConnection, orjson.Fragment(text))
            if node_json is None:
                page = await ticket_pages.ticket_page(reads, viewer, f, order, size, after)
                nodes = [Ticket.of(r) for r in page.items]
            # Not Ticket objects: the plan that asked for them sends them as they are, or fills them in.
            elif with_records:
                page = await ticket_pages.ticket_json_and_record_page(reads, node_json, viewer, f, order, size, after)
                nodes = [cast(Ticket, (text, Ticket.of(r))) for text, r in page.items]
            else:
                page = await ticket_pages.ticket_json_page(reads, node_json, viewer, f, order, size, after)
                nodes = [cast(Ticket, orjson.Fragment(text)) for text in page.items]
        except InvalidInput as exc:  # a malformed `after`
            raise errors.from_domain(exc) from exc
        edges = [TicketEdge(cursor=c, node=n) for n, c in zip(nodes, page.cursors, strict=True)]
        return cls(edges=edges, page_info=PageInfo.of(page.cursors, page.has_next, after is not None), count=page.count)


async def load_ticket(info: Info, pk: int) -> Ticket | None:
    record = await info.context.loaders.ticket.load(pk)
    return Ticket.of(record) if record else None


TicketRef = Annotated["Ticket", strawberry.lazy("schema.tickets")]
