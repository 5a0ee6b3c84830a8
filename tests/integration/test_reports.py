"""The report's figures, each checked against values computed by hand on a small fixed data set.

All times are UTC; Asia/Shanghai is UTC+8 all year. The period is 2026-03-01 to 2026-03-04 in
Shanghai, i.e. [2026-02-28 16:00Z, 2026-03-03 16:00Z).

    ticket group agent channel  category created (Z)     Shanghai        first reply  resolved
    T1     G1    A     EMAIL    billing  02-28 16:30     03-01 00:30     +600 s       +3600 s (rated 5)
    T2     G1    A     PHONE    billing  03-01 15:30     03-01 23:30     +1200 s      +7200 s (reopened, rated 3)
    T3     G1    B     EMAIL    -        03-02 02:00     03-02 10:00     calendar SLA: 1800 business s; resolved
                                                                         +10 h: 1000 + 2000 business s over two
                                                                         cycles (reopened), CLOSED, rated 4
    T4     G2    B     CHAT     shipping 03-02 10:00     03-02 18:00     +300 s       open
    T5     G2    -     WEB_FORM shipping 03-03 15:59:59  03-03 23:59:59  -            new
    T6     G1    A     API      billing  03-03 16:00     03-04 00:00     outside (the end is excluded)
    T7     G1    A     EMAIL    billing  02-28 15:59     02-28 23:59     outside; resolved 03-02 03:00Z, rated 1
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import tables
from app.domain.errors import InvalidInput, ValidationErrors
from app.reads.reports import (
    CategoryVolume,
    ChannelVolume,
    DayVolume,
    DurationFigures,
    ReportRecord,
    helpdesk_report,
)


def z(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


START, END = z("2026-02-28 16:00"), z("2026-03-03 16:00")
NOW = z("2026-03-10 00:00")
SHANGHAI = "Asia/Shanghai"


@dataclass
class Data:
    g1: int
    g2: int
    a: int
    b: int
    tickets: dict[str, int]


async def _insert(conn: Any, table: Any, **values: Any) -> int:
    return int(
        (
            await conn.execute(insert(table).values(**values).returning(table.c[next(iter(table.primary_key)).name]))
        ).scalar_one()
    )


@pytest.fixture
async def data(engine: AsyncEngine) -> Data:
    async with engine.begin() as conn:
        g1 = await _insert(conn, tables.groups, name="First line")
        g2 = await _insert(conn, tables.groups, name="Logistics")
        a = await _insert(conn, tables.agents, name="Agent A", email="a@example.com", password_hash="-")
        b = await _insert(conn, tables.agents, name="Agent B", email="b@example.com", password_hash="-")
        customer = await _insert(conn, tables.customers, name="Customer")
        calendar = await _insert(
            conn,
            tables.business_calendars,
            name="Office",
            timezone=SHANGHAI,
            hours=[{"weekday": d, "start": "09:00", "end": "18:00"} for d in range(5)],
        )
        on_calendar = await _insert(
            conn, tables.sla_policies, name="Office hours", position=1, resolution_seconds=7200, calendar_id=calendar
        )
        round_the_clock = await _insert(conn, tables.sla_policies, name="24/7", position=2, resolution_seconds=3600)

        async def ticket(
            name: str, group: int, agent: int | None, channel: str, category: str | None, **kw: Any
        ) -> int:
            return await _insert(
                conn,
                tables.tickets,
                subject=kw.pop("subject", f"Ticket {name}"),
                description="...",
                channel=channel,
                category=category,
                customer_id=customer,
                group_id=group,
                assignee_id=agent,
                **kw,
            )

        created = z("2026-02-28 16:30")
        t1 = await ticket(
            "T1", g1, a, "EMAIL", "billing", status="RESOLVED", created_at=created,
            first_responded_at=created + timedelta(seconds=600), resolved_at=created + timedelta(seconds=3600),
        )  # fmt: skip
        created = z("2026-03-01 15:30")
        t2 = await ticket(
            "T2", g1, a, "PHONE", "billing", status="RESOLVED", created_at=created, reopen_count=1,
            first_responded_at=created + timedelta(seconds=1200), resolved_at=created + timedelta(seconds=7200),
        )  # fmt: skip
        created = z("2026-03-02 02:00")
        t3 = await ticket(
            "T3", g1, b, "EMAIL", None, status="CLOSED", created_at=created, reopen_count=1,
            first_responded_at=created + timedelta(seconds=5400), resolved_at=created + timedelta(hours=10),
        )  # fmt: skip
        created = z("2026-03-02 10:00")
        t4 = await ticket(
            "T4", g2, b, "CHAT", "shipping", status="OPEN", created_at=created, subject="Parcel stuck",
            first_responded_at=created + timedelta(seconds=300),
        )  # fmt: skip
        t5 = await ticket("T5", g2, None, "WEB_FORM", "shipping", status="NEW", created_at=z("2026-03-03 15:59:59"))
        t6 = await ticket("T6", g1, a, "API", "billing", status="NEW", created_at=z("2026-03-03 16:00"))
        t7 = await ticket(
            "T7", g1, a, "EMAIL", "billing", status="RESOLVED", created_at=z("2026-02-28 15:59"),
            first_responded_at=z("2026-02-28 16:10"), resolved_at=z("2026-03-02 03:00"),
        )  # fmt: skip

        for ticket_id, score in ((t1, 5), (t2, 3), (t3, 4), (t7, 1)):
            await _insert(conn, tables.satisfaction_ratings, ticket_id=ticket_id, score=score, rated_at=NOW)

        async def clock(ticket_id: int, policy: int, target: str, due: str, *, cycle: int = 1, **kw: Any) -> None:
            met, breached = kw.pop("met", None), kw.pop("breached", None)
            state = "BREACHED" if breached else "MET" if met else "RUNNING"
            await _insert(
                conn,
                tables.sla_clocks,
                ticket_id=ticket_id,
                policy_id=policy,
                target=target,
                cycle=cycle,
                state=state,
                target_seconds=3600,
                elapsed_seconds=kw.pop("elapsed", 0),
                started_at=kw.pop("started", z("2026-03-01 00:00")),
                due_at=z(due),
                met_at=z(met) if met else None,
                breached_at=z(breached) if breached else None,
            )

        # T3 under the calendar policy: the business seconds it counted are T3's durations.
        t3_start = z("2026-03-02 02:00")
        await clock(t3, on_calendar, "FIRST_RESPONSE", "2026-03-02 06:00", met="2026-03-02 03:30", elapsed=1800,
                    started=t3_start)  # fmt: skip
        await clock(t3, on_calendar, "RESOLUTION", "2026-03-02 12:00", met="2026-03-02 05:00", elapsed=1000,
                    started=t3_start)  # fmt: skip
        await clock(t3, on_calendar, "RESOLUTION", "2026-03-03 02:00", cycle=2, met="2026-03-02 12:00", elapsed=2000,
                    started=z("2026-03-02 06:00"))  # fmt: skip
        # Round-the-clock clocks: their tickets' durations stay wall-clock time.
        await clock(t4, round_the_clock, "FIRST_RESPONSE", "2026-03-02 11:00", met="2026-03-02 10:05", elapsed=300)
        await clock(t4, round_the_clock, "RESOLUTION", "2026-03-03 10:00", breached="2026-03-03 10:00")
        await clock(t2, round_the_clock, "RESOLUTION", "2026-03-01 16:30", breached="2026-03-01 16:30",
                    met="2026-03-01 17:30", elapsed=7200)  # fmt: skip
        # Due (and breached) before the period, and due after it.
        await clock(t7, round_the_clock, "RESOLUTION", "2026-02-28 15:00", breached="2026-02-28 15:00")
        await clock(t5, round_the_clock, "FIRST_RESPONSE", "2026-03-03 17:00")

        # Knowledge base: customer-facing calls S1 (rated helpful), S2 (a ticket with its subject
        # followed), S3 (no results), S5 (results, no ticket followed); S4 is an agent's; S6 is
        # before the period.
        article = await _insert(conn, tables.knowledge_articles, title="Refunds", body="...", status="PUBLISHED")

        async def search(caller: str, query: str, at: str, results: int, agent: int | None = None) -> int:
            return await _insert(
                conn,
                tables.article_searches,
                kind="SUGGEST",
                query=query,
                agent_id=agent,
                caller_key=caller,
                result_count=results,
                article_ids=[article] * results,
                created_at=z(at),
            )

        s1 = await search("client:x", "Refund status", "2026-03-01 01:00", 2)
        await search("client:y", "Parcel stuck", "2026-03-02 09:50", 1)
        await search("client:z", "Lost password", "2026-03-02 00:00", 0)
        await search(f"agent:{a}", "Refund rules", "2026-03-02 01:00", 3, agent=a)
        await search("client:w", "Where is my order", "2026-03-02 05:00", 3)
        await search("client:v", "Old question", "2026-02-27 05:00", 3)
        for helpful, search_id, at in (
            (True, s1, "2026-03-01 01:05"),
            (False, None, "2026-03-02 08:00"),
            (True, None, "2026-03-03 10:00"),
            (True, None, "2026-02-20 10:00"),
        ):
            await _insert(
                conn,
                tables.article_feedback,
                article_id=article,
                helpful=helpful,
                search_id=search_id,
                created_at=z(at),
            )
    return Data(g1, g2, a, b, {"T1": t1, "T2": t2, "T3": t3, "T4": t4, "T5": t5, "T6": t6, "T7": t7})


def stats(count: int, average: int | None, median: int | None, p90: int | None) -> DurationFigures:
    return DurationFigures(count, average, median, p90)


def shanghai_days(*figures: tuple[int, int]) -> list[DayVolume]:
    return [DayVolume(date(2026, 3, 1) + timedelta(days=i), c, r) for i, (c, r) in enumerate(figures)]


async def test_the_whole_helpdesk_in_shanghai(engine: AsyncEngine, data: Data) -> None:
    report = await helpdesk_report(engine, START, END, None, SHANGHAI, now=NOW)

    assert (report.start, report.end, report.timezone, report.group_id) == (START, END, SHANGHAI, None)
    assert report.tickets_created == 5  # T1-T5
    assert report.tickets_resolved == 3  # T1, T2, T3 (CLOSED)
    assert report.reopen_rate == pytest.approx(2 / 3)  # T2, T3
    # First replies: T4 300, T1 600, T2 1200, T3 1800 (business seconds, not the 5400 on the wall).
    # Median (600 + 1200) / 2; p90 at rank 0.9 * 3 = 2.7: 1200 + 0.7 * 600.
    assert report.first_response == stats(4, 975, 900, 1620)
    # Resolutions: T3 3000 (1000 + 2000 business seconds), T1 3600, T2 7200; p90: 3600 + 0.8 * 3600.
    assert report.resolution == stats(3, 4600, 3600, 6480)
    # Due in the period and passed: T3's three clocks and T4's first reply met in time; T4's and
    # T2's resolution missed (T2's was met, but late). Breached in the period: those two.
    assert report.sla_compliance_rate == pytest.approx(4 / 6)
    assert report.sla_breaches == 2
    # Ratings of the period's tickets: 5, 3, 4 (T7's 1 is not one of them).
    assert (report.csat_average, report.csat_responses) == (pytest.approx(4.0), 3)
    assert report.csat_positive_rate == pytest.approx(2 / 3)
    assert report.article_helpful_rate == pytest.approx(2 / 3)  # three ratings in the period, two helpful
    assert report.self_service_rate == pytest.approx(2 / 4)  # S1 and S5 of S1, S2, S3, S5
    assert report.by_channel == [
        ChannelVolume("EMAIL", 2),
        ChannelVolume("CHAT", 1),
        ChannelVolume("PHONE", 1),
        ChannelVolume("WEB_FORM", 1),
    ]
    assert report.by_category == [CategoryVolume("billing", 2), CategoryVolume("shipping", 2), CategoryVolume(None, 1)]
    # Created: T1 and T2 on 03-01, T3 and T4 on 03-02, T5 on 03-03 (Shanghai dates).
    # Resolved: T1 (03-01 01:30), T2 (03-02 01:30), T3 (03-02 20:00) and T7 (03-02 11:00), created earlier.
    assert report.daily == shanghai_days((2, 1), (2, 3), (1, 0))
    a, b = report.by_agent
    assert (a.agent_id, a.assigned, a.resolved, a.csat_average) == (data.a, 2, 2, pytest.approx(4.0))
    assert a.first_response == stats(2, 900, 900, 1140)  # 600, 1200
    assert a.resolution == stats(2, 5400, 5400, 6840)  # 3600, 7200
    assert (b.agent_id, b.assigned, b.resolved, b.csat_average) == (data.b, 2, 1, pytest.approx(4.0))
    assert b.first_response == stats(2, 1050, 1050, 1650)  # 300, 1800
    assert b.resolution == stats(1, 3000, 3000, 3000)


async def test_the_same_instants_counted_in_utc_days(engine: AsyncEngine, data: Data) -> None:
    report = await helpdesk_report(engine, START, END, None, "UTC", now=NOW)

    assert report.tickets_created == 5
    # 16:00Z starts a UTC day's last eight hours: the period touches four UTC dates.
    # T1 02-28, T2 03-01, T3 and T4 03-02, T5 03-03; resolved T1 02-28, T2 03-01, T3 and T7 03-02.
    assert report.daily == [
        DayVolume(date(2026, 2, 28), 1, 1),
        DayVolume(date(2026, 3, 1), 1, 1),
        DayVolume(date(2026, 3, 2), 2, 2),
        DayVolume(date(2026, 3, 3), 1, 0),
    ]


async def test_utc_midnights_move_the_boundary_tickets(engine: AsyncEngine, data: Data) -> None:
    report = await helpdesk_report(engine, z("2026-03-01 00:00"), z("2026-03-04 00:00"), None, "UTC", now=NOW)

    # T1 (02-28 16:30Z) and T7 fall before, T6 (03-03 16:00Z) now falls inside.
    assert report.tickets_created == 5  # T2, T3, T4, T5, T6
    assert report.daily == [
        DayVolume(date(2026, 3, 1), 1, 1),  # T2 created; T2 resolved 17:30Z
        DayVolume(date(2026, 3, 2), 2, 2),  # T3, T4; T3 and T7 resolved
        DayVolume(date(2026, 3, 3), 2, 0),  # T5, T6
    ]
    assert report.by_channel == [
        ChannelVolume("API", 1),
        ChannelVolume("CHAT", 1),
        ChannelVolume("EMAIL", 1),
        ChannelVolume("PHONE", 1),
        ChannelVolume("WEB_FORM", 1),
    ]


async def test_one_group(engine: AsyncEngine, data: Data) -> None:
    report = await helpdesk_report(engine, START, END, data.g1, SHANGHAI, now=NOW)

    assert report.group_id == data.g1
    assert (report.tickets_created, report.tickets_resolved) == (3, 3)  # T1, T2, T3
    assert report.reopen_rate == pytest.approx(2 / 3)
    assert report.first_response == stats(3, 1200, 1200, 1680)  # 600, 1200, 1800
    assert report.resolution == stats(3, 4600, 3600, 6480)
    assert report.sla_compliance_rate == pytest.approx(3 / 4)  # T3's three met, T2's missed
    assert report.sla_breaches == 1
    assert (report.csat_average, report.csat_responses, report.csat_positive_rate) == (
        pytest.approx(4.0),
        3,
        pytest.approx(2 / 3),
    )
    # The knowledge base has no groups: its figures stay the whole helpdesk's.
    assert (report.article_helpful_rate, report.self_service_rate) == (pytest.approx(2 / 3), pytest.approx(0.5))
    assert report.by_channel == [ChannelVolume("EMAIL", 2), ChannelVolume("PHONE", 1)]
    assert report.by_category == [CategoryVolume("billing", 2), CategoryVolume(None, 1)]
    assert report.daily == shanghai_days((2, 1), (1, 3), (0, 0))  # T7 (group 1) resolved on 03-02
    a, b = report.by_agent
    assert (a.agent_id, a.assigned, a.resolved) == (data.a, 2, 2)
    assert (b.agent_id, b.assigned, b.resolved, b.csat_average) == (data.b, 1, 1, pytest.approx(4.0))
    assert (b.first_response, b.resolution) == (stats(1, 1800, 1800, 1800), stats(1, 3000, 3000, 3000))


async def test_compliance_only_counts_deadlines_that_have_passed(engine: AsyncEngine, data: Data) -> None:
    report = await helpdesk_report(engine, START, END, None, SHANGHAI, now=z("2026-03-03 05:00"))

    # T3's second cycle (due 03-03 02:00Z) is in; T4's resolution (due 10:00Z) is not due yet.
    assert report.sla_compliance_rate == pytest.approx(4 / 5)


async def test_an_empty_period(engine: AsyncEngine, data: Data) -> None:
    report = await helpdesk_report(engine, z("2025-01-01 00:00"), z("2025-01-02 00:00"), None, "UTC", now=NOW)

    assert report == ReportRecord(
        start=z("2025-01-01 00:00"),
        end=z("2025-01-02 00:00"),
        timezone="UTC",
        group_id=None,
        tickets_created=0,
        tickets_resolved=0,
        reopen_rate=None,
        first_response=stats(0, None, None, None),
        resolution=stats(0, None, None, None),
        sla_compliance_rate=None,
        sla_breaches=0,
        csat_average=None,
        csat_responses=0,
        csat_positive_rate=None,
        article_helpful_rate=None,
        self_service_rate=None,
        by_channel=[],
        by_category=[],
        daily=[DayVolume(date(2025, 1, 1), 0, 0)],
        by_agent=[],
    )


async def test_a_time_without_offset_is_read_in_the_report_zone(engine: AsyncEngine, data: Data) -> None:
    report = await helpdesk_report(engine, datetime(2026, 3, 1), datetime(2026, 3, 4), None, SHANGHAI, now=NOW)

    assert (report.start, report.end) == (START, END)
    assert report.tickets_created == 5


@pytest.mark.parametrize(
    ("start", "end", "zone", "field"),
    [
        (END, START, "UTC", ["to"]),
        (START, START, "UTC", ["to"]),
        (START, START + timedelta(days=367), "UTC", ["to"]),
        (START, END, "Mars/Olympus_Mons", ["timezone"]),
        (START, END, "", ["timezone"]),
    ],
)
async def test_bad_arguments(engine: AsyncEngine, start: datetime, end: datetime, zone: str, field: list[str]) -> None:
    with pytest.raises(InvalidInput) as raised:
        await helpdesk_report(engine, start, end, None, zone, now=NOW)
    assert raised.value.field == field


async def test_a_year_is_allowed_and_an_unknown_group_is_not(engine: AsyncEngine, data: Data) -> None:
    report = await helpdesk_report(engine, START, START + timedelta(days=366), None, "UTC", now=NOW)
    assert len(report.daily) == 367  # a partial first and last UTC date

    with pytest.raises((InvalidInput, ValidationErrors)) as raised:
        await helpdesk_report(engine, START, END, data.g2 + 1000, "UTC", now=NOW)
    assert raised.value.field == ["groupId"]


async def test_days_across_a_daylight_saving_change(engine: AsyncEngine) -> None:
    # New York springs forward on 2026-03-08: midnight is 05:00Z before, 04:00Z after.
    async with engine.begin() as conn:
        customer = await _insert(conn, tables.customers, name="Customer")
        for created in ("2026-03-08 04:30", "2026-03-09 04:30", "2026-03-09 03:59"):
            await _insert(
                conn,
                tables.tickets,
                subject="Question",
                description="...",
                channel="EMAIL",
                customer_id=customer,
                created_at=z(created),
            )

    report = await helpdesk_report(
        engine, datetime(2026, 3, 7), datetime(2026, 3, 10), None, "America/New_York", now=NOW
    )

    assert (report.start, report.end) == (z("2026-03-07 05:00"), z("2026-03-10 04:00"))
    # 03-08 04:30Z is 23:30 on the 7th (EST); 03-09 03:59Z is 23:59 on the 8th and 04:30Z is
    # 00:30 on the 9th (EDT).
    assert [(d.day.day, d.created) for d in report.daily] == [(7, 1), (8, 1), (9, 1)]
