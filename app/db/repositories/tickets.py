"""Ticket reads: visibility, filtered keyset lists, and batch loads of what hangs off a ticket."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    cast,
    exists,
    func,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import tables
from app.db.repositories.rows import among, any_of_ids, by_id, columns_for, to_records
from app.db.repositories.ticket_search import search_condition
from app.domain.enums import OPEN_STATUSES, OrderDirection, TicketOrderField, TicketStatus
from app.domain.principal import CustomerPrincipal, Principal, Viewer
from app.domain.records import (
    AttachmentRecord,
    CommentRecord,
    SatisfactionRecord,
    SubTicketProgressRecord,
    TicketLinkRecord,
    TicketRecord,
)
from app.domain.ticket_query import TicketFilter, TicketOrder, TicketPageCursor

t = tables.tickets
TICKET_COLUMNS = columns_for(t, TicketRecord)
_OPEN = [s.value for s in OPEN_STATUSES]
_TICKETS_BY_IDS = select(*TICKET_COLUMNS).where(any_of_ids(t.c.id))
_SUB_TICKET_PROGRESS = (
    select(
        t.c.parent_id,
        func.count(),
        func.count().filter(t.c.status.in_([TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value])),
    )
    .where(any_of_ids(t.c.parent_id))
    .group_by(t.c.parent_id)
)


def visible_to(principal: Viewer) -> ColumnElement[bool]:
    """Supervisors and admins see every ticket; agents see their groups' tickets, tickets
    assigned to them, and tickets they or their groups collaborate on; a customer signed in
    sees their own tickets and nobody else's."""
    if isinstance(principal, CustomerPrincipal):
        return t.c.customer_id == principal.customer_id
    if principal.sees_all_tickets:
        return true()
    collab = tables.ticket_collaborators
    collab_groups = tables.ticket_collaborating_groups
    group_ids = list(principal.group_ids)
    conditions: list[ColumnElement[bool]] = [
        t.c.assignee_id == principal.agent_id,
        exists().where(collab.c.ticket_id == t.c.id, collab.c.agent_id == principal.agent_id),
    ]
    if group_ids:
        conditions.append(among(t.c.group_id, group_ids))
        collaborating = among(collab_groups.c.group_id, group_ids)
        conditions.append(exists().where(collab_groups.c.ticket_id == t.c.id, collaborating))
    return or_(*conditions)


async def tickets_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, TicketRecord]:
    rows = await conn.execute(_TICKETS_BY_IDS, {"ids": list(ids)})
    return by_id(to_records(TicketRecord, rows))


async def any_ticket_exists(conn: AsyncConnection) -> bool:
    return (await conn.execute(select(t.c.id).limit(1))).first() is not None


async def ticket_ids_by_customer_subject(
    conn: AsyncConnection, customer_ids: Sequence[int]
) -> dict[tuple[int, str], int]:
    """The tickets of these customers: (customer id, subject) -> ticket id (the newest if several)."""
    rows = await conn.execute(
        select(t.c.customer_id, t.c.subject, t.c.id).where(among(t.c.customer_id, customer_ids)).order_by(t.c.id)
    )
    return {(customer_id, subject): ticket_id for customer_id, subject, ticket_id in rows}


async def visible_ticket_ids(conn: AsyncConnection, principal: Viewer, ids: Sequence[int]) -> set[int]:
    rows = await conn.execute(select(t.c.id).where(among(t.c.id, ids), visible_to(principal)))
    return {row[0] for row in rows}


async def ticket_id_by_number(conn: AsyncConnection, number: int) -> int | None:
    return (await conn.execute(select(t.c.id).where(t.c.number == number))).scalar_one_or_none()


def filtered(query: Select[Any], principal: Viewer, f: TicketFilter) -> Select[Any]:
    query = query.where(visible_to(principal))
    if f.status:
        query = query.where(among(t.c.status, f.status))
    if f.priority:
        query = query.where(among(t.c.priority, f.priority))
    if f.channel:
        query = query.where(among(t.c.channel, f.channel))
    if f.category:
        query = query.where(among(t.c.category, f.category))
    if f.tags:
        query = query.where(t.c.tags.contains(list(f.tags)))
    if f.assignee_id is not None:
        query = query.where(t.c.assignee_id == f.assignee_id)
    if f.group_id is not None:
        query = query.where(t.c.group_id == f.group_id)
    if f.customer_id is not None:
        query = query.where(t.c.customer_id == f.customer_id)
    if f.unassigned is True:
        query = query.where(t.c.assignee_id.is_(None))
    elif f.unassigned is False:
        query = query.where(t.c.assignee_id.isnot(None))
    if f.sla_at_risk is True:
        query = query.where(t.c.sla_at_risk)  # the partial index ix_tickets_sla_at_risk
    elif f.sla_at_risk is False:
        query = query.where(~t.c.sla_at_risk)
    if f.search is not None and f.search.strip():
        query = query.where(search_condition(principal, f.search))
    if f.created_after is not None:
        query = query.where(t.c.created_at >= f.created_after)
    if f.created_before is not None:
        query = query.where(t.c.created_at < f.created_before)
    if f.custom_fields:
        query = query.where(t.c.custom_fields.contains(f.custom_fields))  # @>, the GIN index ix_tickets_custom_fields
    return query


def sort_columns(order: TicketOrder) -> list[ColumnElement[Any]]:
    match order.field:
        case TicketOrderField.CREATED_AT:
            return [t.c.created_at, t.c.id]
        case TicketOrderField.UPDATED_AT:
            return [t.c.updated_at, t.c.id]
        case TicketOrderField.PRIORITY:
            return [t.c.priority_rank, t.c.created_at, t.c.id]
        case TicketOrderField.NUMBER:
            return [t.c.number]
        case TicketOrderField.SLA_DUE_AT:
            # Tickets with no running clock come last in either direction: a flag that sorts
            # them after the others, then the due time (a fixed stand-in when there is none).
            no_clock = t.c.sla_due_at.is_(None) if order.direction is OrderDirection.ASC else t.c.sla_due_at.isnot(None)
            # A constant (not a bind parameter), so the expression indexes of this order match.
            epoch = tables.SLA_ORDER_EPOCH
            return [cast(no_clock, Integer), func.coalesce(t.c.sla_due_at, epoch), t.c.id]
    raise AssertionError(order.field)


async def list_tickets(
    conn: AsyncConnection,
    principal: Viewer,
    f: TicketFilter,
    order: TicketOrder,
    first: int,
    after: TicketPageCursor | None,
) -> tuple[list[TicketRecord], list[TicketPageCursor], bool]:
    """One page in keyset order (no OFFSET): the records, each one's cursor, and whether more follow."""
    rows, cursors, has_next = await _page(conn, TICKET_COLUMNS, principal, f, order, first, after)
    return [TicketRecord(*row) for row in rows], cursors, has_next


async def list_ticket_json(
    conn: AsyncConnection,
    node: ColumnElement[Any],
    principal: Viewer,
    f: TicketFilter,
    order: TicketOrder,
    first: int,
    after: TicketPageCursor | None,
    *,
    with_records: bool = False,
) -> tuple[list[str], list[TicketRecord], list[TicketPageCursor], bool]:
    """list_tickets with each ticket as the JSON text `node` (app.reads.node_json) builds, and its
    record too when asked."""
    columns = [node, *TICKET_COLUMNS] if with_records else [node]
    rows, cursors, has_next = await _page(conn, columns, principal, f, order, first, after)
    records = [TicketRecord(*row[1:]) for row in rows] if with_records else []
    return [row[0] for row in rows], records, cursors, has_next


def keyset_page(
    columns: Sequence[ColumnElement[Any]],
    principal: Viewer,
    f: TicketFilter,
    order: TicketOrder,
    first: int,
    after: TicketPageCursor | None,
) -> Select[Any] | None:
    """`columns` and then the sort key of one keyset page and the row after it, in page order;
    None when the cursor cannot belong to this order (an empty page)."""
    sort = sort_columns(order)
    query = filtered(select(*columns, *sort), principal, f)
    if after is not None:
        if len(after.key) != len(sort):
            return None
        boundary = tuple_(*sort) > tuple_(*after.key)
        if order.direction is OrderDirection.DESC:
            boundary = tuple_(*sort) < tuple_(*after.key)
        query = query.where(boundary)
    return query.order_by(*(sort_direction(order)(col) for col in sort)).limit(first + 1)


def sort_direction(order: TicketOrder) -> Any:
    return (lambda col: col.desc()) if order.direction is OrderDirection.DESC else (lambda col: col.asc())


async def _page(
    conn: AsyncConnection,
    columns: Sequence[ColumnElement[Any]],
    principal: Viewer,
    f: TicketFilter,
    order: TicketOrder,
    first: int,
    after: TicketPageCursor | None,
) -> tuple[list[Sequence[Any]], list[TicketPageCursor], bool]:
    """`columns` of one keyset page, each row's cursor, and whether more rows follow."""
    query = keyset_page(columns, principal, f, order, first, after)
    if query is None:
        return [], [], False
    rows = (await conn.execute(query)).all()
    width = len(columns)
    page = rows[:first]
    cursors = [TicketPageCursor(order, tuple(row[width:])) for row in page]
    return [row[:width] for row in page], cursors, len(rows) > first


# One CSV export row (app.domain.ticket_csv.HEADER): names, not ids, for group, assignee, customer.
_EXPORT_COLUMNS = (
    t.c.number,
    t.c.subject,
    t.c.status,
    t.c.priority,
    t.c.channel,
    t.c.category,
    tables.groups.c.name,
    tables.agents.c.name,
    tables.customers.c.name,
    t.c.created_at,
    t.c.updated_at,
    t.c.resolved_at,
)


async def export_batch(
    conn: AsyncConnection, principal: Principal, f: TicketFilter, after_id: int, size: int
) -> tuple[list[Sequence[Any]], int | None]:
    """The next `size` tickets the caller may see that match `f`, in id order after `after_id`
    (keyset: each batch is one index range, however far the export has got), as export rows;
    and the last id, None when the list is done."""
    g, a, cu = tables.groups, tables.agents, tables.customers
    source = (
        t.outerjoin(g, g.c.id == t.c.group_id)
        .outerjoin(a, a.c.id == t.c.assignee_id)
        .join(cu, cu.c.id == t.c.customer_id)
    )
    query = filtered(select(t.c.id, *_EXPORT_COLUMNS).select_from(source), principal, f)
    rows = (await conn.execute(query.where(t.c.id > after_id).order_by(t.c.id).limit(size))).all()
    last = rows[-1][0] if len(rows) == size else None
    return [row[1:] for row in rows], last


async def count_tickets(conn: AsyncConnection, principal: Viewer, f: TicketFilter) -> int:
    query = filtered(select(func.count()).select_from(t), principal, f)
    return int((await conn.execute(query)).scalar_one())


async def sub_tickets_of(conn: AsyncConnection, parent_ids: Sequence[int]) -> dict[int, list[TicketRecord]]:
    rows = await conn.execute(select(*TICKET_COLUMNS).where(among(t.c.parent_id, parent_ids)).order_by(t.c.id))
    result: dict[int, list[TicketRecord]] = defaultdict(list)
    for record in to_records(TicketRecord, rows):
        assert record.parent_id is not None
        result[record.parent_id].append(record)
    return result


async def sub_ticket_progress(conn: AsyncConnection, parent_ids: Sequence[int]) -> dict[int, SubTicketProgressRecord]:
    rows = await conn.execute(_SUB_TICKET_PROGRESS, {"ids": list(parent_ids)})
    return {parent: SubTicketProgressRecord(total, resolved, total - resolved) for parent, total, resolved in rows}


async def links_of(conn: AsyncConnection, ticket_ids: Sequence[int]) -> dict[int, list[TicketLinkRecord]]:
    """Links shown on both tickets: from each side, `other_ticket_id` is the ticket at the other end."""
    tl = tables.ticket_links
    rows = await conn.execute(
        select(tl.c.ticket_id, tl.c.other_ticket_id, tl.c.kind, tl.c.id)
        .where(or_(among(tl.c.ticket_id, ticket_ids), among(tl.c.other_ticket_id, ticket_ids)))
        .order_by(tl.c.id)
    )
    wanted = set(ticket_ids)
    result: dict[int, list[TicketLinkRecord]] = defaultdict(list)
    for ticket_id, other_id, kind, _ in rows:
        if ticket_id in wanted:
            result[ticket_id].append(TicketLinkRecord(ticket_id, other_id, kind))
        if other_id in wanted:
            result[other_id].append(TicketLinkRecord(other_id, ticket_id, kind))
    return result


async def collaborator_agent_ids(conn: AsyncConnection, ticket_ids: Sequence[int]) -> dict[int, list[int]]:
    tc = tables.ticket_collaborators
    rows = await conn.execute(
        select(tc.c.ticket_id, tc.c.agent_id).where(among(tc.c.ticket_id, ticket_ids)).order_by(tc.c.created_at)
    )
    result: dict[int, list[int]] = defaultdict(list)
    for ticket_id, agent_id in rows:
        result[ticket_id].append(agent_id)
    return result


async def collaborating_group_ids(conn: AsyncConnection, ticket_ids: Sequence[int]) -> dict[int, list[int]]:
    tg = tables.ticket_collaborating_groups
    rows = await conn.execute(
        select(tg.c.ticket_id, tg.c.group_id).where(among(tg.c.ticket_id, ticket_ids)).order_by(tg.c.created_at)
    )
    result: dict[int, list[int]] = defaultdict(list)
    for ticket_id, group_id in rows:
        result[ticket_id].append(group_id)
    return result


async def satisfaction_of(conn: AsyncConnection, ticket_ids: Sequence[int]) -> dict[int, SatisfactionRecord]:
    sr = tables.satisfaction_ratings
    rows = await conn.execute(select(*columns_for(sr, SatisfactionRecord)).where(among(sr.c.ticket_id, ticket_ids)))
    return {r.ticket_id: r for r in to_records(SatisfactionRecord, rows)}


async def comments_page(
    conn: AsyncConnection,
    ticket_ids: Sequence[int],
    visibility: str | None,
    after_id: int | None,
    first: int,
) -> dict[int, tuple[list[CommentRecord], bool]]:
    """Comments of many tickets, oldest first, `first` per ticket (+1 to know whether more follow)."""
    cm = tables.comments
    rank = func.row_number().over(partition_by=cm.c.ticket_id, order_by=cm.c.id).label("rank")
    inner = select(*columns_for(cm, CommentRecord), rank).where(among(cm.c.ticket_id, ticket_ids))
    if visibility is not None:
        inner = inner.where(cm.c.visibility == visibility)
    if after_id is not None:
        inner = inner.where(cm.c.id > after_id)
    sub = inner.subquery()
    rows = await conn.execute(
        select(*[sub.c[col.name] for col in columns_for(cm, CommentRecord)])
        .where(sub.c.rank <= first + 1)
        .order_by(sub.c.ticket_id, sub.c.rank)
    )
    grouped: dict[int, list[CommentRecord]] = defaultdict(list)
    for record in to_records(CommentRecord, rows):
        grouped[record.ticket_id].append(record)
    return {tid: (items[:first], len(items) > first) for tid, items in grouped.items()}


async def comment_counts(conn: AsyncConnection, ticket_ids: Sequence[int], visibility: str | None) -> dict[int, int]:
    cm = tables.comments
    query = select(cm.c.ticket_id, func.count()).where(among(cm.c.ticket_id, ticket_ids)).group_by(cm.c.ticket_id)
    if visibility is not None:
        query = query.where(cm.c.visibility == visibility)
    return {tid: n for tid, n in await conn.execute(query)}


async def attachments_of_tickets(
    conn: AsyncConnection, ticket_ids: Sequence[int], *, public_only: bool = False
) -> dict[int, list[AttachmentRecord]]:
    """A ticket's files; `public_only` leaves out files attached to INTERNAL notes."""
    at, cm = tables.attachments, tables.comments
    query = select(*columns_for(at, AttachmentRecord)).where(among(at.c.ticket_id, ticket_ids)).order_by(at.c.id)
    if public_only:
        internal = select(cm.c.id).where(cm.c.id == at.c.comment_id, cm.c.visibility != "PUBLIC")
        query = query.where(~internal.exists())
    result: dict[int, list[AttachmentRecord]] = defaultdict(list)
    for record in to_records(AttachmentRecord, await conn.execute(query)):
        result[record.ticket_id].append(record)
    return result


async def public_attachments_of_tickets(
    conn: AsyncConnection, ticket_ids: Sequence[int]
) -> dict[int, list[AttachmentRecord]]:
    return await attachments_of_tickets(conn, ticket_ids, public_only=True)


async def attachments_of_comments(
    conn: AsyncConnection, comment_ids: Sequence[int]
) -> dict[int, list[AttachmentRecord]]:
    at = tables.attachments
    rows = await conn.execute(
        select(*columns_for(at, AttachmentRecord)).where(among(at.c.comment_id, comment_ids)).order_by(at.c.id)
    )
    result: dict[int, list[AttachmentRecord]] = defaultdict(list)
    for record in to_records(AttachmentRecord, rows):
        assert record.comment_id is not None
        result[record.comment_id].append(record)
    return result


async def comments_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, CommentRecord]:
    cm = tables.comments
    rows = await conn.execute(select(*columns_for(cm, CommentRecord)).where(among(cm.c.id, ids)))
    return by_id(to_records(CommentRecord, rows))


async def attachments_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, AttachmentRecord]:
    at = tables.attachments
    rows = await conn.execute(select(*columns_for(at, AttachmentRecord)).where(among(at.c.id, ids)))
    return by_id(to_records(AttachmentRecord, rows))
