"""The demo data (app.demo): realistic, consistent with the rules later services enforce, and
seeded once however often and however concurrently `seed_demo` runs."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from app.db import tables
from app.demo import (
    DEMO_ADMIN_EMAIL,
    DEMO_ADMIN_PASSWORD,
    TICKETS,
    DemoResult,
    check_demo_data,
    seed_demo,
)
from app.domain.enums import OPEN_STATUSES, AgentRole, Channel, TicketStatus
from app.domain.lifecycle import TRANSITIONS as LIFECYCLE
from app.services import auth as auth_service
from app.services.runtime import Runtime

t, te = tables.tickets, tables.ticket_events

TRANSITIONS = {(source.value, target.value) for sources, target in LIFECYCLE.values() for source in sources}
COUNTED = [
    tables.groups,
    tables.agents,
    tables.group_members,
    tables.customers,
    tables.tickets,
    tables.ticket_events,
    tables.comments,
    tables.satisfaction_ratings,
]


async def table_counts(rt: Runtime) -> dict[str, int]:
    async with rt.engine.connect() as conn:
        return {
            table.name: int((await conn.execute(select(func.count()).select_from(table))).scalar_one())
            for table in COUNTED
        }


async def rows(rt: Runtime, query: Any) -> list[Any]:
    async with rt.engine.connect() as conn:
        return list((await conn.execute(query)).all())


def test_the_declared_data_is_consistent() -> None:
    check_demo_data()


async def test_seeding_creates_varied_consistent_usable_data(rt: Runtime) -> None:
    # Seeding takes seconds (a dozen password hashes): one run serves all the read-only checks.
    result = await seed_demo(rt)

    await check_content(rt, result)
    await check_histories(rt)
    await check_assignments(rt)
    await check_logins(rt)


async def check_content(rt: Runtime, result: DemoResult) -> None:
    assert result.created and not result.resumed
    assert (result.groups, result.agents, result.customers, result.tickets) == (5, 12, 14, len(TICKETS))
    assert len(TICKETS) >= 30
    assert f"{len(TICKETS)} tickets" in result.summary() and DEMO_ADMIN_PASSWORD in result.summary()
    counts = await table_counts(rt)
    assert counts["groups"] == 5 and counts["agents"] == 12 and counts["customers"] == 14
    assert counts["tickets"] == len(TICKETS)

    groups = {r.name: r for r in await rows(rt, select(tables.groups))}
    assert set(groups) == {
        "技术支持组 / Technical Support",
        "售后 / After-sales",
        "财务组 / Finance",
        "物流部 / Logistics",
        "账号管理组 / Accounts",
    }
    assert groups["技术支持组 / Technical Support"].assignment_strategy == "SKILL_BASED"
    assert groups["售后 / After-sales"].assignment_strategy == "ROUND_ROBIN"
    assert all(g.description for g in groups.values())
    assert sum(g.escalation_group_id is not None for g in groups.values()) >= 2

    agents = {r.id: r for r in await rows(rt, select(tables.agents))}
    roles = Counter(a.role for a in agents.values())
    assert roles == {"ADMIN": 1, "SUPERVISOR": 2, "AGENT": 9}
    assert sum(a.presence == "ONLINE" for a in agents.values()) >= 2
    assert sum(a.on_vacation for a in agents.values()) == 1
    assert any("fr" in a.languages for a in agents.values())
    assert all(3 <= a.capacity <= 15 for a in agents.values() if a.role != "ADMIN")

    customers = await rows(rt, select(tables.customers))
    assert {c.tier for c in customers} == {"VIP", "STANDARD"}
    assert any(c.external_refs.get("orderIds") for c in customers)

    tickets = {r.id: r for r in await rows(rt, select(t))}
    assert {r.status for r in tickets.values()} == {s.value for s in TicketStatus}
    assert {r.channel for r in tickets.values()} == {c.value for c in Channel}
    assert any("手表一直死机" in r.subject for r in tickets.values())
    assert any("无法登录" in r.subject for r in tickets.values())
    assert {r.category for r in tickets.values()} >= {
        "technical",
        "refund",
        "account",
        "complaint",
        "logistics",
        "billing",
    }
    assert any(r.custom_fields for r in tickets.values()) and any(r.external_ref for r in tickets.values())
    assert sum(r.assignee_id is not None for r in tickets.values()) > len(tickets) // 2

    # A parent with sub-tickets in three different groups, not resolved while one is open.
    subs: dict[int, list[Any]] = defaultdict(list)
    for r in tickets.values():
        if r.parent_id is not None:
            subs[r.parent_id].append(r)
    assert any(len(s) >= 3 and len({x.group_id for x in s}) >= 3 for s in subs.values())
    for parent_id, children in subs.items():
        if any(c.status not in ("RESOLVED", "CLOSED") for c in children):
            assert tickets[parent_id].status not in ("RESOLVED", "CLOSED")

    now = rt.clock.now()
    for r in tickets.values():
        assert now - timedelta(days=14) <= r.created_at <= r.updated_at <= now
        if r.status != "NEW":
            assert r.group_id is not None
        if r.status in ("RESOLVED", "CLOSED"):
            assert r.resolved_at is not None and r.resolution
        if r.status == "CLOSED":
            assert r.closed_at is not None


async def check_histories(rt: Runtime) -> None:
    """Every ticket has one CREATED event, a version per change, and a status path on the lifecycle graph."""
    tickets = {r.id: r for r in await rows(rt, select(t))}
    history: dict[int, list[Any]] = defaultdict(list)
    for e in await rows(rt, select(te).order_by(te.c.txid, te.c.id)):
        history[e.ticket_id].append(e)

    for ticket_id, ticket in tickets.items():
        events = history[ticket_id]
        types = [e.type for e in events]
        assert types.count("CREATED") == 1 and types[0] == "CREATED", (ticket.subject, types)
        assert events[0].occurred_at == ticket.created_at
        # Every event records the version its change made; one change may write several events.
        versions = [e.data["version"] for e in events]
        assert versions == sorted(versions), (ticket.subject, types, versions)
        assert sorted(set(versions)) == list(range(1, ticket.version + 1))
        times = [e.occurred_at for e in events]
        assert times == sorted(times) and times[-1] == ticket.updated_at
        status = "NEW"
        for e in events:
            if e.type == "STATUS_CHANGED":
                assert e.data["from"] == status and (status, e.data["to"]) in TRANSITIONS, (ticket.subject, e.data)
                status = e.data["to"]
        assert status == ticket.status
        assignments = [e for e in events if e.type == "ASSIGNED"]
        if assignments:
            assert assignments[-1].data["assigneeId"] == ticket.assignee_id
            assert assignments[-1].data["groupId"] == ticket.group_id
        if ticket.parent_id is not None:
            created = [e.data for e in history[ticket.parent_id] if e.type == "SUB_TICKET_CREATED"]
            assert [(d["subTicketId"], d["number"]) for d in created].count((ticket.id, ticket.number)) == 1

    comments = await rows(rt, select(tables.comments).order_by(tables.comments.c.created_at))
    first_replies: dict[int, Any] = {}
    for c in comments:
        if c.visibility == "PUBLIC" and c.author_agent_id is not None:
            first_replies.setdefault(c.ticket_id, c.created_at)
    assert len(first_replies) > len(tickets) // 2
    for ticket_id, ticket in tickets.items():
        assert ticket.first_responded_at == first_replies.get(ticket_id), ticket.subject
    assert any(c.visibility == "PUBLIC" and c.author_agent_id for c in comments)
    assert any(c.visibility == "PUBLIC" and c.author_customer_id for c in comments)
    assert any(c.visibility == "INTERNAL" for c in comments)
    commented = {e.data["commentId"] for events in history.values() for e in events if e.type == "COMMENTED"}
    assert commented == {c.id for c in comments}

    ratings = await rows(rt, select(tables.satisfaction_ratings))
    assert ratings
    for rating in ratings:
        assert tickets[rating.ticket_id].status in ("RESOLVED", "CLOSED")
        assert any(e.type == "RATED" for e in history[rating.ticket_id])


async def check_assignments(rt: Runtime) -> None:
    """Assignees are members of the ticket's group and hold no more open tickets than their capacity."""
    agents = {r.id: r for r in await rows(rt, select(tables.agents))}
    members = {(m.group_id, m.agent_id) for m in await rows(rt, select(tables.group_members))}
    tickets = await rows(rt, select(t).where(t.c.assignee_id.isnot(None)))
    assert tickets
    load: Counter[int] = Counter()
    for ticket in tickets:
        assert (ticket.group_id, ticket.assignee_id) in members, ticket.subject
        if ticket.status in {s.value for s in OPEN_STATUSES}:
            load[ticket.assignee_id] += 1
    for agent_id, open_count in load.items():
        assert open_count <= agents[agent_id].capacity, agents[agent_id].name
    on_vacation = {a.id for a in agents.values() if a.on_vacation}
    assert not on_vacation & set(load)


async def check_logins(rt: Runtime) -> None:
    admin = await auth_service.login(rt, DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD, None)
    agent = await auth_service.login(rt, "li.wei@helpdesk.demo", DEMO_ADMIN_PASSWORD, None)

    assert admin.agent.role == AgentRole.ADMIN.value
    assert agent.agent.role == AgentRole.AGENT.value
    principal = await auth_service.authenticate(rt, admin.token)
    assert principal is not None and principal.role is AgentRole.ADMIN


async def test_a_second_run_creates_nothing_and_says_so(rt: Runtime) -> None:
    first = await seed_demo(rt)
    before = await table_counts(rt)

    second = await seed_demo(rt)

    assert first.created and not second.created
    assert "already present" in second.summary()
    assert (second.groups, second.agents, second.customers, second.tickets) == (5, 12, 14, len(TICKETS))
    assert (second.comments, second.ratings) == (first.comments, first.ratings)
    assert await table_counts(rt) == before


async def test_concurrent_runs_create_one_data_set(rt: Runtime) -> None:
    results = await asyncio.gather(seed_demo(rt), seed_demo(rt), seed_demo(rt))

    assert sorted(r.created for r in results) == [False, False, True]
    counts = await table_counts(rt)
    assert (counts["groups"], counts["agents"], counts["customers"], counts["tickets"]) == (5, 12, 14, len(TICKETS))


async def test_an_interrupted_run_is_completed(rt: Runtime) -> None:
    await seed_demo(rt)
    full = await table_counts(rt)
    async with rt.engine.begin() as conn:
        # As if the first run had stopped before the last few tickets.
        last = [spec.subject for spec in TICKETS if spec.parent is None][-3:]
        await conn.execute(t.delete().where(t.c.subject.in_(last)))

    result = await seed_demo(rt)

    assert result.created and result.resumed and result.tickets == 3
    assert "interrupted" in result.summary()
    after = await table_counts(rt)
    # The routing rules the first run added now route the re-created tickets too, which may
    # add assignment events; every other table is back to the full data set.
    assert after.pop("ticket_events") >= full.pop("ticket_events")
    assert after == full
