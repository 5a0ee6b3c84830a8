"""Customers, agents and groups."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Select, and_, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import tables
from app.db.repositories.rows import among, any_of_ids, by_id, columns_for, to_records
from app.db.repositories.tickets import visible_to
from app.domain.enums import OPEN_STATUSES
from app.domain.principal import Principal
from app.domain.records import AgentRecord, CustomerRecord, GroupRecord

cu, a, g, gm, t = tables.customers, tables.agents, tables.groups, tables.group_members, tables.tickets
_OPEN = [s.value for s in OPEN_STATUSES]
# The DataLoaders' lookups, built once.
_CUSTOMERS_BY_IDS = select(*columns_for(cu, CustomerRecord)).where(any_of_ids(cu.c.id))
_AGENTS_BY_IDS = select(*columns_for(a, AgentRecord)).where(any_of_ids(a.c.id))
_GROUPS_BY_IDS = select(*columns_for(g, GroupRecord)).where(any_of_ids(g.c.id))


async def customers_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, CustomerRecord]:
    rows = await conn.execute(_CUSTOMERS_BY_IDS, {"ids": list(ids)})
    return by_id(to_records(CustomerRecord, rows))


async def customer_erased(conn: AsyncConnection, customer_id: int) -> bool:
    """Whether eraseCustomer has erased the customer (as committed when the statement runs)."""
    erased = await conn.scalar(select(cu.c.erased_at).where(cu.c.id == customer_id))
    return erased is not None


async def customer_by_contact(
    conn: AsyncConnection, email: str | None, phone: str | None, *, hold: bool = False
) -> CustomerRecord | None:
    """The customer with this email (any case) or phone, else the one a customer with it was
    merged into. `hold`: only a customer not erased, locked against erasure and deletion (FOR KEY
    SHARE: not against edits, nor against other intakes) until the caller commits, in the same
    statement; one erased or merged away while this waited for the lock is passed over."""
    conditions = []
    if email:
        conditions.append(func.lower(cu.c.email) == email.lower())
    if phone:
        conditions.append(cu.c.phone == phone)
    if not conditions:
        return None
    # Email wins over phone when both match different customers.
    order = func.lower(cu.c.email) == (email or "").lower()
    query = select(*columns_for(cu, CustomerRecord)).where(or_(*conditions)).order_by(order.desc()).limit(1)
    row = (await conn.execute(_held(query) if hold else query)).first()
    if row is None:
        row = await _merged_into(conn, email, phone, hold)
    return CustomerRecord(*row) if row else None


def _held(query: Select[Any]) -> Select[Any]:
    return query.where(cu.c.erased_at.is_(None)).with_for_update(of=cu, read=True, key_share=True)


async def _merged_into(conn: AsyncConnection, email: str | None, phone: str | None, hold: bool) -> Row[Any] | None:
    """The customer that a customer with this email or phone was merged into (see mergeCustomers)."""
    al = tables.customer_aliases
    conditions = []
    if email:
        conditions.append(func.lower(al.c.email) == email.lower())
    if phone:
        conditions.append(al.c.phone == phone)
    order = func.lower(al.c.email) == (email or "").lower()
    query = (
        select(*columns_for(cu, CustomerRecord))
        .join(al, al.c.customer_id == cu.c.id)
        .where(or_(*conditions))
        .order_by(order.desc().nulls_last())
        .limit(1)
    )
    return (await conn.execute(_held(query) if hold else query)).first()


async def customers_by_contacts(
    conn: AsyncConnection, emails: Sequence[str], phones: Sequence[str]
) -> list[CustomerRecord]:
    """Customers whose email (any case) or normalised phone is among those given, oldest first."""
    lowered = [e.lower() for e in emails]
    rows = await conn.execute(
        select(*columns_for(cu, CustomerRecord))
        .where(or_(func.lower(cu.c.email).in_(lowered), cu.c.phone.in_(list(phones))))
        .order_by(cu.c.id)
    )
    return to_records(CustomerRecord, rows)


async def search_customers(
    conn: AsyncConnection, search: str | None, after: tuple[str, int] | None, limit: int
) -> list[CustomerRecord]:
    """Customers by name, newest id last; `search` matches name, email, phone or company (trigram index)."""
    query = select(*columns_for(cu, CustomerRecord))
    if search:
        query = query.where(cu.c.search_text.contains(search.strip().lower(), autoescape=True))
    if after is not None:
        query = query.where(tuple_(cu.c.name, cu.c.id) > tuple_(after[0], after[1]))
    rows = await conn.execute(query.order_by(cu.c.name, cu.c.id).limit(limit))
    return to_records(CustomerRecord, rows)


async def count_customers(conn: AsyncConnection, search: str | None) -> int:
    query = select(func.count()).select_from(cu)
    if search:
        query = query.where(cu.c.search_text.contains(search.strip().lower(), autoescape=True))
    return int((await conn.execute(query)).scalar_one())


async def agents_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, AgentRecord]:
    rows = await conn.execute(_AGENTS_BY_IDS, {"ids": list(ids)})
    return by_id(to_records(AgentRecord, rows))


async def agent_ids_by_email(conn: AsyncConnection, emails: Sequence[str]) -> dict[str, int]:
    """Agents by email, whatever its case: lowercased email -> id."""
    rows = await conn.execute(
        select(func.lower(a.c.email), a.c.id).where(func.lower(a.c.email).in_([e.lower() for e in emails]))
    )
    return {email: agent_id for email, agent_id in rows}


async def list_agents(conn: AsyncConnection, group_id: int | None, presence: str | None) -> list[AgentRecord]:
    query = select(*columns_for(a, AgentRecord)).where(a.c.deactivated_at.is_(None))
    if group_id is not None:
        query = query.where(a.c.id.in_(select(gm.c.agent_id).where(gm.c.group_id == group_id)))
    if presence is not None:
        query = query.where(a.c.presence == presence)
    return to_records(AgentRecord, await conn.execute(query.order_by(a.c.name, a.c.id)))


async def groups_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, GroupRecord]:
    rows = await conn.execute(_GROUPS_BY_IDS, {"ids": list(ids)})
    return by_id(to_records(GroupRecord, rows))


async def list_groups(conn: AsyncConnection) -> list[GroupRecord]:
    return to_records(GroupRecord, await conn.execute(select(*columns_for(g, GroupRecord)).order_by(g.c.name)))


async def group_ids_by_name(conn: AsyncConnection, names: Sequence[str]) -> dict[str, int]:
    """Groups by name, whatever its case: lowercased name -> id."""
    rows = await conn.execute(
        select(func.lower(g.c.name), g.c.id).where(func.lower(g.c.name).in_([n.lower() for n in names]))
    )
    return {name: group_id for name, group_id in rows}


async def group_ids_of_agents(conn: AsyncConnection, agent_ids: Sequence[int]) -> dict[int, list[int]]:
    rows = await conn.execute(
        select(gm.c.agent_id, gm.c.group_id).where(among(gm.c.agent_id, agent_ids)).order_by(gm.c.group_id)
    )
    result: dict[int, list[int]] = defaultdict(list)
    for agent_id, group_id in rows:
        result[agent_id].append(group_id)
    return result


async def member_ids_of_groups(conn: AsyncConnection, group_ids: Sequence[int]) -> dict[int, list[int]]:
    rows = await conn.execute(
        select(gm.c.group_id, gm.c.agent_id)
        .join(a, a.c.id == gm.c.agent_id)
        .where(among(gm.c.group_id, group_ids), a.c.deactivated_at.is_(None))
        .order_by(a.c.name, a.c.id)
    )
    result: dict[int, list[int]] = defaultdict(list)
    for group_id, agent_id in rows:
        result[group_id].append(agent_id)
    return result


async def open_ticket_counts_by_agent(
    conn: AsyncConnection, agent_ids: Sequence[int], viewer: Principal | None
) -> dict[int, int]:
    """Open tickets per assignee, counting only those `viewer` may see (nothing for no one)."""
    if viewer is None:
        return {}
    rows = await conn.execute(
        select(t.c.assignee_id, func.count())
        .where(among(t.c.assignee_id, agent_ids), t.c.status.in_(_OPEN), visible_to(viewer))
        .group_by(t.c.assignee_id)
    )
    return {agent_id: n for agent_id, n in rows}


async def open_ticket_counts_by_customer(
    conn: AsyncConnection, customer_ids: Sequence[int], viewer: Principal | None
) -> dict[int, int]:
    """Open tickets per customer, counting only those `viewer` may see (nothing for no one)."""
    if viewer is None:
        return {}
    rows = await conn.execute(
        select(t.c.customer_id, func.count())
        .where(among(t.c.customer_id, customer_ids), t.c.status.in_(_OPEN), visible_to(viewer))
        .group_by(t.c.customer_id)
    )
    return {customer_id: n for customer_id, n in rows}


async def queue_lengths(conn: AsyncConnection, group_ids: Sequence[int]) -> dict[int, int]:
    rows = await conn.execute(
        select(t.c.group_id, func.count())
        .where(and_(among(t.c.group_id, group_ids), t.c.assignee_id.is_(None), t.c.status.in_(_OPEN)))
        .group_by(t.c.group_id)
    )
    return {group_id: n for group_id, n in rows}
