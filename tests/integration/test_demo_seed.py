"""The demo data (app.demo): realistic, seeded through the services (which enforce every rule
the data must obey), fitting its own rules (nothing for the schedulers to do once seeded), and
seeded once however often and however concurrently `seed_demo` runs."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import func, select

from app.clock import ManualClock
from app.db import tables
from app.db.engine import create_engine, sync_url
from app.db.repositories import tickets as ticket_reads
from app.demo import (
    ARTICLES,
    AUTOMATIONS,
    CALENDARS,
    DEMO_ADMIN_EMAIL,
    DEMO_ADMIN_PASSWORD,
    MACROS,
    ROUTING_RULES,
    SLA_POLICIES,
    TICKETS,
    DemoResult,
    seed_demo,
)
from app.domain.enums import OPEN_STATUSES, AgentRole, Channel, TicketStatus
from app.domain.errors import PreconditionFailed
from app.domain.lifecycle import TRANSITIONS as LIFECYCLE
from app.services import auth as auth_service
from app.services import knowledge as knowledge_service
from app.services import lifecycle as lifecycle_service
from app.services import macros as macro_service
from app.services.runtime import Runtime
from app.settings import Settings
from tests.support import empty_database, own_test_database

t, te = tables.tickets, tables.ticket_events


# The demo's histories are checked to the second, and its SLA notices must fire at the instants
# the seeder stages. The session's test server runs its own SLA scheduler on the shared test
# database, and would fire overdue demo clocks at the real time in the middle of a story; these
# tests seed a database of their own, as `helpdesk serve --demo` seeds before its scheduler starts.
@pytest.fixture(scope="module")
def own_database() -> Iterator[str]:
    yield from own_test_database()


@pytest.fixture(autouse=True)
def _clean_database(own_database: str) -> None:
    engine = create_sync_engine(sync_url(own_database), isolation_level="AUTOCOMMIT")
    try:
        empty_database(engine)
    finally:
        engine.dispose()


@pytest.fixture
async def rt(own_database: str) -> AsyncIterator[Runtime]:
    engine = create_engine(own_database, pool_size=20, max_overflow=20)
    yield Runtime(engine=engine, settings=Settings(database_url=own_database, log_json=False))
    await engine.dispose()


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
    tables.business_calendars,
    tables.sla_policies,
    tables.sla_clocks,
    tables.routing_rules,
    tables.mailboxes,
    tables.knowledge_articles,
    tables.macros,
]
OPEN = {s.value for s in OPEN_STATUSES}


async def table_counts(rt: Runtime) -> dict[str, int]:
    async with rt.engine.connect() as conn:
        return {
            table.name: int((await conn.execute(select(func.count()).select_from(table))).scalar_one())
            for table in COUNTED
        }


async def rows(rt: Runtime, query: Any) -> list[Any]:
    async with rt.engine.connect() as conn:
        return list((await conn.execute(query)).all())


def test_the_keys_the_seeder_finds_records_by_are_unique() -> None:
    # A second run recognises what exists by these; the services do not make them unique.
    assert len({spec.key for spec in TICKETS}) == len(TICKETS)
    assert len({(spec.customer, spec.subject) for spec in TICKETS}) == len(TICKETS)
    assert len({spec.key for spec in ARTICLES}) == len({spec.title for spec in ARTICLES}) == len(ARTICLES)
    assert len({spec.name for spec in SLA_POLICIES}) == len(SLA_POLICIES)
    assert len({spec.name for spec in ROUTING_RULES}) == len(ROUTING_RULES)


# The demo's stories are told backwards from "now", and its SLA notices fire in business hours
# of the Shanghai calendar: what fires, and when, depends on the weekday and hour of seeding.
SEEDED_AT = {
    "monday-morning-shanghai": datetime(2026, 12, 7, 1, 30, tzinfo=UTC),
    "monday-11-utc": datetime(2026, 12, 7, 11, 0, tzinfo=UTC),  # the instant CI first failed at
    "friday-evening-shanghai": datetime(2026, 12, 4, 10, 30, tzinfo=UTC),
    "national-day-holiday": datetime(2026, 10, 1, 2, 0, tzinfo=UTC),
    "european-dst-change": datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
}


@pytest.mark.parametrize("moment", SEEDED_AT.values(), ids=SEEDED_AT.keys())
async def test_seeding_creates_varied_consistent_usable_data(rt: Runtime, moment: datetime) -> None:
    rt = dataclasses.replace(rt, clock=ManualClock(moment))
    # Seeding takes seconds (a dozen password hashes): one run serves all the read-only checks.
    result = await seed_demo(rt)

    await check_content(rt, result)
    await check_histories(rt)
    await check_assignments(rt)
    await check_logins(rt)
    await check_sla(rt, result)
    await check_knowledge(rt, result)
    # Last, as it may change tickets: starting the server must find nothing to auto-close.
    await check_nothing_to_auto_close(rt)


async def check_content(rt: Runtime, result: DemoResult) -> None:
    assert result.created and not result.resumed
    assert (result.groups, result.agents, result.customers, result.tickets) == (5, 12, 14, len(TICKETS))
    assert len(TICKETS) >= 30
    assert f"{len(TICKETS)} tickets" in result.summary() and DEMO_ADMIN_PASSWORD in result.summary()
    assert (result.mailboxes, result.tickets_by_mail) == (1, 1)
    counts = await table_counts(rt)
    assert counts["groups"] == 5 and counts["agents"] == 12 and counts["customers"] == 14
    # The seeded stories, and the one the support mailbox's sample mail opened.
    assert counts["tickets"] == len(TICKETS) + 1
    by_mail = (await rows(rt, select(tables.tickets).where(tables.tickets.c.mailbox_id.isnot(None)))).pop()
    assert (by_mail.channel, by_mail.subject) == ("EMAIL", "发票抬头开错了，请重新开具")
    mailbox = (await rows(rt, select(tables.mailboxes))).pop()
    group_ids = {r.name: r.id for r in await rows(rt, select(tables.groups))}
    assert (mailbox.address, mailbox.smtp_host) == ("support@helpdesk.demo", None)
    assert mailbox.group_id == group_ids["售后 / After-sales"]
    # The routing rules run after the mailbox's group: an invoice goes to Finance.
    assert by_mail.group_id == group_ids["财务组 / Finance"]
    await check_macros(rt, result)
    await check_automations(rt, result)

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
        assert times == sorted(times), (ticket.subject, types)
        # updated_at is the time of the ticket's last change, the one that made its version.
        # Notices that change nothing (an SLA warning) may come later.
        changed_at = min(e.occurred_at for e in events if e.data["version"] == ticket.version)
        assert changed_at == ticket.updated_at, (ticket.subject, types)
        unchanged = {e.type for e in events if e.occurred_at > ticket.updated_at}
        assert unchanged <= {"SLA_WARNING"}, (ticket.subject, types)
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


async def check_sla(rt: Runtime, result: DemoResult) -> None:
    """One office calendar and three policies, in place before the first ticket came in, so
    every ticket's clocks started at its intake; warnings and breaches fired when they fell due."""
    assert (result.calendars, result.sla_policies) == (1, 3)
    assert "3 SLA policies" in result.summary()
    (calendar,) = await rows(rt, select(tables.business_calendars))
    assert (calendar.name, calendar.timezone) == ("上海办公室 / Shanghai office", "Asia/Shanghai")
    assert {(h["weekday"], h["start"], h["end"]) for h in calendar.hours} == {
        (day, start, end) for day in range(5) for start, end in (("09:00", "12:00"), ("13:00", "18:00"))
    }
    assert "2026-10-01" in calendar.holidays
    policies = await rows(rt, select(tables.sla_policies).order_by(tables.sla_policies.c.position))
    assert [p.name for p in policies] == [
        "VIP 客户 / VIP customers",
        "紧急与高优先级 / Urgent and high priority",
        "标准 / Everyone else",
    ]
    assert [(p.first_response_seconds, p.resolution_seconds) for p in policies] == [
        (3600, 8 * 3600),
        (2 * 3600, 16 * 3600),
        (4 * 3600, 48 * 3600),
    ]
    assert all(p.calendar_id == calendar.id for p in policies)
    assert (policies[0].match_tiers, policies[-1].match_tiers, policies[-1].match_priorities) == (["VIP"], [], [])
    assert calendar.created_at < min(p.created_at for p in policies)

    tickets = {r.id: r for r in await rows(rt, select(t))}
    assert max(p.created_at for p in policies) < min(r.created_at for r in tickets.values())
    clocks: dict[int, list[Any]] = defaultdict(list)
    for clock in await rows(rt, select(tables.sla_clocks)):
        clocks[clock.ticket_id].append(clock)
    now = rt.clock.now()
    for ticket in tickets.values():
        first = {c.target: c for c in clocks[ticket.id] if c.cycle == 1}
        assert set(first) == {"FIRST_RESPONSE", "RESOLUTION"}, ticket.subject
        assert all(c.started_at == ticket.created_at for c in first.values()), ticket.subject
        # Nothing overdue was left for the scheduler: the seeder fired it when it fell due.
        assert all(c.next_check_at is None or c.next_check_at > now for c in clocks[ticket.id])
        if ticket.status in OPEN:
            assert any(c.policy_id is not None and c.met_at is None for c in clocks[ticket.id]), ticket.subject
        if ticket.status in OPEN - {"PENDING"}:
            # What the console and wallboard show: the ticket's next SLA due time.
            assert ticket.sla_due_at is not None, ticket.subject
    states = {c.state for ticket_clocks in clocks.values() for c in ticket_clocks}
    assert {"RUNNING", "MET", "BREACHED"} <= states
    breaches = await rows(rt, select(te).where(te.c.type == "SLA_BREACHED"))
    assert breaches
    for event in breaches:
        assert event.occurred_at.isoformat() == event.data["dueAt"]
        assert event.occurred_at <= tickets[event.ticket_id].updated_at


async def check_knowledge(rt: Runtime, result: DemoResult) -> None:
    """Published bilingual articles, there before the first ticket, that the console suggests
    for the tickets they answer and that a search finds."""
    assert result.articles == len(ARTICLES) >= 15
    assert f"{len(ARTICLES)} knowledge articles" in result.summary()
    articles = {r.title: r for r in await rows(rt, select(tables.knowledge_articles))}
    tickets = {r.subject: r for r in await rows(rt, select(t))}
    assert len(articles) == len(ARTICLES)
    first_ticket = min(r.created_at for r in tickets.values())
    agents = {r.id: r.role for r in await rows(rt, select(tables.agents))}
    for article in articles.values():
        assert article.status == "PUBLISHED" and article.published_at < first_ticket, article.title
        assert agents[article.author_agent_id] in ("AGENT", "SUPERVISOR"), article.title
        # Bilingual, like the rest of the demo: a Chinese section and an English one.
        assert re.search(r"[\u4e00-\u9fff]{4}", article.body) and re.search(r"[A-Z][a-z]+( [a-z]+){3}", article.body)

    # What the agent console shows beside each ticket (Ticket.suggestedArticles).
    specs = {spec.key: spec for spec in TICKETS}
    async with rt.engine.connect() as conn:
        records = list((await ticket_reads.tickets_by_ids(conn, [r.id for r in tickets.values()])).values())
    found = await knowledge_service.suggestions_for_tickets(rt, records, 3)
    suggested = {record.subject: [m.article for m in matches] for record, matches in zip(records, found, strict=True)}
    assert all(suggested.values()), [subject for subject, shown in suggested.items() if not shown]
    assert len({key for spec in ARTICLES for key in spec.answers}) >= 25
    for spec in ARTICLES:
        for key in spec.answers:
            shown = [article.title for article in suggested[specs[key].subject]]
            assert spec.title in shown, (key, spec.key, shown)
    # What a customer sees typing the subject into the portal (suggestArticles) ...
    for key, article_key in [("refund-status", "refund-timeline"), ("login-failed", "login"),
                             ("wrong-item", "wrong-item")]:  # fmt: skip
        title = next(spec.title for spec in ARTICLES if spec.key == article_key)
        matches = await knowledge_service.suggest_articles(rt, None, None, specs[key].subject, None, 3)
        assert title in [m.article.title for m in matches], (key, [m.article.title for m in matches])
    # ... and searching the knowledge base in either language (searchArticles).
    for query, article_key in [("退款多久到账", "refund-timeline"), ("forgot my password", "login"),
                               ("earbuds pairing", "earbuds"), ("发票抬头", "invoices")]:  # fmt: skip
        title = next(spec.title for spec in ARTICLES if spec.key == article_key)
        matches = await knowledge_service.search_articles(rt, None, None, query, 3)
        assert matches and matches[0].article.title == title, (query, [m.article.title for m in matches])


async def check_nothing_to_auto_close(rt: Runtime) -> None:
    """Every RESOLVED demo ticket was resolved within the auto-close window: the worker's first
    sweep (at server start) closes nothing, and the wallboard shows the demo as seeded."""
    assert await rows(rt, select(t.c.id).where(t.c.status == "RESOLVED"))
    window = timedelta(hours=rt.settings.auto_close_after_hours)
    assert await lifecycle_service.close_resolved_tickets(rt, window) == 0


async def check_macros(rt: Runtime, result: DemoResult) -> None:
    """Three shared bilingual macros, shared with every agent."""
    assert result.macros == len(MACROS) == 3 and "3 shared macros" in result.summary()
    seeded = await rows(rt, select(tables.macros).order_by(tables.macros.c.id))
    assert [m.name for m in seeded] == [
        "退款处理中 / refund in progress",
        "请提供订单号 / please send the order number",
        "已解决请评价 / resolved, please rate",
    ]
    assert all(m.owner_agent_id is None and m.visibility == "PUBLIC" for m in seeded)
    assert all(re.search(r"[\u4e00-\u9fff]", m.body) and "Hello {{customer.name}}" in m.body for m in seeded)


async def check_automations(rt: Runtime, result: DemoResult) -> None:
    """The seed's rule (URGENT or HIGH, NEW for 24 business hours: the supervisors are told and the
    ticket is tagged overdue) and "a customer replied on a PENDING ticket: tell its assignee"."""
    assert result.automations == len(AUTOMATIONS) == 2 and "2 automations" in result.summary()
    unhandled, replied = await rows(rt, select(tables.automations).order_by(tables.automations.c.position))
    assert (unhandled.trigger, unhandled.status, unhandled.after_seconds) == ("TIME_IN_STATUS", "NEW", 24 * 3600)
    assert unhandled.conditions == [{"field": "priority", "operator": "IN", "value": ["URGENT", "HIGH"]}]
    notify, tag = unhandled.actions
    assert notify["type"] == "NOTIFY_AGENTS" and notify["value"]["supervisors"] is True
    assert tag == {"type": "ADD_TAGS", "value": {"tags": ["overdue"]}}
    assert (replied.trigger, replied.conditions) == (
        "CUSTOMER_REPLIED",
        [{"field": "status", "operator": "EQUALS", "value": "PENDING"}],
    )
    assert replied.actions[0]["value"]["assignee"] is True
    # The demo's NEW tickets are timed from when they arrived (the priority is looked at when due).
    t = tables.tickets
    waiting = await rows(rt, select(t.c.id).where(t.c.status == "NEW"))
    timers = await rows(rt, select(tables.automation_timers.c.ticket_id))
    assert sorted(r.ticket_id for r in timers) == sorted(r.id for r in waiting)


async def test_a_second_run_creates_nothing_and_says_so(rt: Runtime) -> None:
    first = await seed_demo(rt)
    before = await table_counts(rt)

    second = await seed_demo(rt)

    assert first.created and not second.created
    assert "already present" in second.summary()
    assert (second.groups, second.agents, second.customers, second.tickets) == (5, 12, 14, len(TICKETS))
    assert (second.comments, second.ratings) == (first.comments, first.ratings)
    assert (second.calendars, second.sla_policies) == (len(CALENDARS), len(SLA_POLICIES))
    assert second.articles == first.articles == len(ARTICLES)
    assert second.macros == len(MACROS)
    assert second.automations == len(AUTOMATIONS)
    assert await table_counts(rt) == before

    # The demo's macros work as seeded: "resolved, please rate" resolves an open ticket in one step.
    resolving = (await rows(rt, select(tables.macros.c.id).where(tables.macros.c.name.like("已解决%")))).pop().id
    t = tables.tickets
    open_ids = [r.id for r in await rows(rt, select(t.c.id).where(t.c.status == "OPEN").order_by(t.c.id))]
    login = await auth_service.login(rt, DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD, None)
    admin = await auth_service.authenticate(rt, login.token)
    assert admin is not None
    for ticket_id in open_ids:
        try:
            resolved = await macro_service.apply_macro(rt, admin, ticket_id, resolving, None)
        except PreconditionFailed:
            continue  # a parent with open sub-tickets waits for them, macro or not
        assert resolved.status == "RESOLVED"
        break
    else:
        raise AssertionError("no open demo ticket took the resolving macro")


async def test_concurrent_runs_create_one_data_set(rt: Runtime) -> None:
    results = await asyncio.gather(seed_demo(rt), seed_demo(rt), seed_demo(rt))

    assert sorted(r.created for r in results) == [False, False, True]
    counts = await table_counts(rt)
    assert (counts["groups"], counts["agents"], counts["customers"], counts["tickets"]) == (5, 12, 14, len(TICKETS) + 1)
    assert (counts["business_calendars"], counts["sla_policies"], counts["mailboxes"]) == (1, 3, 1)
    assert counts["routing_rules"] == len(ROUTING_RULES)


async def test_an_interrupted_run_is_completed(rt: Runtime) -> None:
    await seed_demo(rt)
    full = await table_counts(rt)
    async with rt.engine.begin() as conn:
        # As if the first run had stopped before the last few tickets.
        last = [spec.subject for spec in TICKETS if spec.parent is None][-3:]
        await conn.execute(t.delete().where(t.c.subject.in_(last)))
        # ... and between writing the last article and publishing it, and before writing another.
        ka = tables.knowledge_articles
        await conn.execute(ka.update().where(ka.c.title == ARTICLES[-1].title).values(status="DRAFT"))
        await conn.execute(ka.delete().where(ka.c.title == ARTICLES[-2].title))

    result = await seed_demo(rt)

    assert result.created and result.resumed and result.tickets == 3 and result.articles == 1
    articles = await rows(rt, select(tables.knowledge_articles.c.status))
    assert {a.status for a in articles} == {"PUBLISHED"}
    assert "interrupted" in result.summary()
    after = await table_counts(rt)
    # The routing rules the first run added now route the re-created tickets too, which may
    # add assignment events; every other table is back to the full data set.
    assert after.pop("ticket_events") >= full.pop("ticket_events")
    assert after == full


async def test_demo_data_from_before_the_sla_policies_is_completed(rt: Runtime) -> None:
    # As if seeded by a version without calendar, policies and articles, or stopped before the routing rules.
    await seed_demo(rt)
    async with rt.engine.begin() as conn:
        await conn.execute(tables.sla_policies.delete())
        await conn.execute(tables.business_calendars.delete())
        await conn.execute(tables.routing_rules.delete())
        await conn.execute(tables.knowledge_articles.delete())
    before = rt.clock.now()

    result = await seed_demo(rt)

    assert result.created and result.resumed and result.tickets == 0
    assert (result.calendars, result.sla_policies, result.articles) == (1, 3, len(ARTICLES))
    counts = await table_counts(rt)
    assert (counts["business_calendars"], counts["sla_policies"]) == (1, 3)
    assert counts["routing_rules"] == len(ROUTING_RULES) and counts["tickets"] == len(TICKETS) + 1
    # Not backdated: tickets already there must not be breached retroactively by a new policy.
    policies = await rows(rt, select(tables.sla_policies))
    assert all(p.created_at >= before for p in policies)
    open_ids = {r.id for r in await rows(rt, select(t.c.id).where(t.c.status.in_(OPEN)))}
    attached = await rows(rt, select(tables.sla_clocks.c.ticket_id).where(tables.sla_clocks.c.policy_id.isnot(None)))
    assert open_ids <= {r.ticket_id for r in attached}
    assert not (await seed_demo(rt)).created
