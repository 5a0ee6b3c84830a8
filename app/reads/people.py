"""Customers, agents and groups as root queries list them (one by id goes through the loaders)."""

from __future__ import annotations

from app.db.repositories import people
from app.domain.records import AgentRecord, CustomerRecord, GroupRecord
from app.reads.pages import CountedPage
from app.services.runtime import Runtime


async def customers_page(
    rt: Runtime, search: str | None, after: tuple[str, int] | None, first: int
) -> CountedPage[CustomerRecord]:
    """Customers by name after the (name, id) boundary; `search` matches name, email, phone or company."""
    async with rt.engine.connect() as conn:
        rows = await people.search_customers(conn, search, after, first + 1)
        total = await people.count_customers(conn, search)
    return CountedPage.of(rows, first, total)


async def agents(rt: Runtime, group_id: int | None, presence: str | None) -> list[AgentRecord]:
    """Active agents, of one group and in one presence if given."""
    async with rt.engine.connect() as conn:
        return await people.list_agents(conn, group_id, presence)


async def groups(rt: Runtime) -> list[GroupRecord]:
    async with rt.engine.connect() as conn:
        return await people.list_groups(conn)
