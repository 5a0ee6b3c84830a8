"""Root Query."""

from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy import ColumnElement

from app.auth.policy import Action
from app.domain import cursors, enums
from app.domain import validation as v
from app.domain.errors import DomainError
from app.domain.global_ids import is_row_id
from app.domain.ticket_query import TicketFilter as DomainTicketFilter
from app.domain.ticket_query import TicketOrder as DomainTicketOrder
from app.reads import people
from app.reads.node_json import JsonField
from app.reads.tickets import ticket_id_by_number
from app.services import auth as auth_service
from resolvers.access import Info, may_read, principal_of
from resolvers.nodes import CUSTOMER_FINDERS, FINDERS, PUBLIC_FINDERS
from schema import errors, ids
from schema.common import Node, PageInfo, page_size
from schema.enums import AgentPresence
from schema.inputs import TicketFilter, TicketOrder
from schema.people import Agent, Customer, Group, load_agent, load_customer
from schema.tickets import Ticket, TicketConnection, load_ticket
from schema.tokens import ApiToken


@strawberry.type
class CustomerEdge:
    cursor: str
    node: Customer


@strawberry.type
class CustomerConnection:
    edges: list[CustomerEdge]
    page_info: PageInfo
    total_count: int


def _customer_cursor(name: str, pk: int) -> str:
    return cursors.encode(cursors.CursorKind.CUSTOMERS, [name, pk])


def _decode_customer_cursor(cursor: str) -> tuple[str, int]:
    try:
        body = cursors.decode(cursors.CursorKind.CUSTOMERS, cursor)
    except DomainError as exc:
        raise errors.from_domain(exc) from exc
    # Only what _customer_cursor writes: a stored name (PostgreSQL text never holds NUL) and a row id.
    if len(body) != 2 or not isinstance(body[0], str) or "\x00" in body[0] or not is_row_id(body[1]):
        raise errors.invalid_argument("not a valid customer list cursor")
    return body[0], body[1]


def _filter_ids(global_id: str | None, type_name: str) -> int | None:
    if global_id is None:
        return None
    pk = ids.decode_as(global_id, type_name)
    # An unknown id filters to nothing rather than failing the query.
    return pk if pk is not None else 0


def to_domain_filter(f: TicketFilter | None) -> DomainTicketFilter:
    if f is None:
        return DomainTicketFilter()
    return DomainTicketFilter(
        status=tuple(s.value for s in f.status or ()),
        priority=tuple(p.value for p in f.priority or ()),
        channel=tuple(c.value for c in f.channel or ()),
        category=tuple(c.strip().lower() for c in f.category or ()),
        tags=tuple(t.strip().lower() for t in f.tags or ()),
        assignee_id=_filter_ids(f.assignee_id, "Agent"),
        group_id=_filter_ids(f.group_id, "Group"),
        customer_id=_filter_ids(f.customer_id, "Customer"),
        unassigned=f.unassigned,
        sla_at_risk=f.sla_at_risk,
        search=f.search,
        created_after=f.created_after,
        created_before=f.created_before,
        custom_fields=_custom_fields_filter(f.custom_fields),
    )


def _custom_fields_filter(value: object) -> dict[str, object] | None:
    problems = v.Problems()
    cleaned = v.json_object(problems, value, ["filter", "customFields"])
    try:
        problems.raise_if_any()
    except DomainError as exc:
        raise errors.from_domain(exc) from exc
    return cleaned or None


async def tickets_page(
    info: Info,
    filter: TicketFilter | None = None,
    order_by: TicketOrder | None = None,
    first: int | None = 20,
    after: str | None = None,
    *,
    node_json: ColumnElement[Any] | None = None,
    with_records: bool = False,
    connection: tuple[JsonField, ...] | None = None,
) -> TicketConnection:
    """Query.tickets; compiled plans pass node_json to have PostgreSQL write the nodes, and
    connection to have it write the whole connection."""
    principal_of(info)
    order = (
        DomainTicketOrder(enums.TicketOrderField(order_by.field), enums.OrderDirection(order_by.direction))
        if order_by
        else DomainTicketOrder()
    )
    return await TicketConnection.page(
        info,
        first,
        after,
        base=to_domain_filter(filter),
        order=order,
        node_json=node_json,
        with_records=with_records,
        connection=connection,
    )


@strawberry.type
class Query:
    @strawberry.field
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        decoded = ids.decode(id)
        if decoded is not None and decoded[0] in PUBLIC_FINDERS:
            return await PUBLIC_FINDERS[decoded[0]](info, decoded[1])
        if (customer := info.context.customer) is not None:
            if decoded is None or decoded[0] not in CUSTOMER_FINDERS:
                return None
            return await CUSTOMER_FINDERS[decoded[0]](info, customer, decoded[1])
        principal = principal_of(info)
        if decoded is None or decoded[0] not in FINDERS:
            return None
        return await FINDERS[decoded[0]](info, principal, decoded[1])

    @strawberry.field(description="The authenticated caller, when it is an agent.")
    async def me(self, info: Info) -> Agent | None:
        principal = principal_of(info)
        return await load_agent(info, principal.agent_id)

    @strawberry.field
    async def ticket(self, info: Info, id: strawberry.ID | None = None, number: int | None = None) -> Ticket | None:
        # Agents, and customers signed in (the loaders show them their own tickets only).
        if info.context.customer is None:
            principal_of(info)
        if id is not None:
            pk = ids.decode_as(id, "Ticket")
            return await load_ticket(info, pk) if pk is not None else None
        if number is not None:
            found = await ticket_id_by_number(info.context.rt, number)
            return await load_ticket(info, found) if found is not None else None
        raise errors.invalid_argument("give `id` or `number`")

    @strawberry.field
    async def tickets(
        self,
        info: Info,
        filter: TicketFilter | None = None,
        order_by: TicketOrder | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> TicketConnection:
        return await tickets_page(info, filter, order_by, first, after)

    @strawberry.field
    async def customer(self, info: Info, id: strawberry.ID) -> Customer | None:
        may_read(info, Action.READ_CUSTOMERS)
        pk = ids.decode_as(id, "Customer")
        return await load_customer(info, pk) if pk is not None else None

    @strawberry.field
    async def customers(
        self, info: Info, search: str | None = None, first: int | None = 20, after: str | None = None
    ) -> CustomerConnection:
        may_read(info, Action.READ_CUSTOMERS)
        size = page_size(first, info.context.rt.settings.max_page_size)
        boundary = _decode_customer_cursor(after) if after else None
        page = await people.customers_page(info.context.rt, search, boundary, size)
        edges = [CustomerEdge(cursor=_customer_cursor(r.name, r.id), node=Customer.of(r)) for r in page.items]
        return CustomerConnection(
            edges=edges,
            page_info=PageInfo.of([e.cursor for e in edges], page.has_next, after is not None),
            total_count=page.total_count,
        )

    @strawberry.field
    async def agents(
        self, info: Info, group_id: strawberry.ID | None = None, presence: AgentPresence | None = None
    ) -> list[Agent]:
        may_read(info, Action.READ_AGENTS)
        group_pk = _filter_ids(group_id, "Group")
        records = await people.agents(info.context.rt, group_pk, presence.value if presence else None)
        return [Agent.of(r) for r in records]

    @strawberry.field
    async def groups(self, info: Info) -> list[Group]:
        may_read(info, Action.READ_AGENTS)
        return [Group.of(r) for r in await people.groups(info.context.rt)]

    @strawberry.field(description="The caller's own tokens; admins see all.")
    async def api_tokens(self, info: Info) -> list[ApiToken]:
        principal = principal_of(info)
        return [ApiToken.of(r) for r in await auth_service.list_api_tokens(info.context.rt, principal)]
