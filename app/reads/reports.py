"""The helpdesk report: service figures for tickets created in [from, to), computed in SQL.

Nothing is loaded ticket by ticket. A handful of statements aggregate in PostgreSQL
(percentile_cont for medians and p90, FILTER for shares, GROUPING SETS for the whole/per-agent
split, AT TIME ZONE and generate_series for local days) on three connections at once, all
reading one exported snapshot, so the figures agree with each other while tickets change.
The definitions are in the README ("Reports"); the indexes they read are migration 0006.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import TextClause, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.db import tables
from app.db.repositories import knowledge as knowledge_reads
from app.domain.enums import TicketStatus
from app.domain.errors import InvalidInput
from app.domain.reports import ReportPeriod, report_period

# Reports sort and hash hundreds of thousands of rows: room for that in memory, and no JIT
# (compiling costs more than it saves on a query that runs once). No parallel workers either:
# the report already keeps three backends busy, and on a small machine workers only add
# processes competing for the same cores (the SLA figures planned two workers per count; for
# one group their hash joins cost several times the single-process plan's CPU).
_REPORT_SETTINGS = (
    "SET LOCAL work_mem = '64MB'",
    "SET LOCAL jit = off",
    "SET LOCAL max_parallel_workers_per_gather = 0",
)
# The ticket figures read tickets, SLA clocks and ratings in ticket-id order from their indexes;
# merging them measured about twice as fast as hashing half a million clock groups, which is
# what the planner picks otherwise.
_MERGE_SETTINGS = ("SET LOCAL enable_hashjoin = off", "SET LOCAL enable_hashagg = off")
_SNAPSHOT_ID = re.compile(r"^[0-9A-F]+-[0-9A-F]+(-[0-9]+)?$")
_DONE = f"('{TicketStatus.RESOLVED.value}', '{TicketStatus.CLOSED.value}')"


@dataclass(frozen=True, slots=True)
class DurationFigures:
    count: int
    average_seconds: int | None
    median_seconds: int | None
    p90_seconds: int | None


@dataclass(frozen=True, slots=True)
class ChannelVolume:
    channel: str
    count: int


@dataclass(frozen=True, slots=True)
class CategoryVolume:
    category: str | None
    count: int


@dataclass(frozen=True, slots=True)
class DayVolume:
    day: date
    created: int
    resolved: int


@dataclass(frozen=True, slots=True)
class AgentFigures:
    agent_id: int
    assigned: int
    resolved: int
    first_response: DurationFigures
    resolution: DurationFigures
    csat_average: float | None


@dataclass(frozen=True, slots=True)
class ReportRecord:
    start: datetime
    end: datetime
    timezone: str
    group_id: int | None
    tickets_created: int
    tickets_resolved: int
    reopen_rate: float | None
    first_response: DurationFigures
    resolution: DurationFigures
    sla_compliance_rate: float | None
    sla_breaches: int
    csat_average: float | None
    csat_responses: int
    csat_positive_rate: float | None
    article_helpful_rate: float | None
    self_service_rate: float | None
    by_channel: list[ChannelVolume]
    by_category: list[CategoryVolume]
    daily: list[DayVolume]
    by_agent: list[AgentFigures]


# ---------------------------------------------------------------- the statements

# The period's tickets are those created in [start, end) (of the group, when there is one).
# [low, high] spans their ids, and as ids grow with creation time it holds few other tickets:
# the statements read tickets, SLA clocks and ratings in id order within that range.
# OFFSET 0 keeps the planner from answering min/max by walking the id index from each end and
# filtering on created_at, which reads every older (or newer) ticket before the first match:
# 0.2 s for a 90-day report over a year of tickets. Reading the period's own entries of
# ix_tickets_created (or the group's index) costs what the report costs anyway.
_BOUNDS = """
SELECT pg_export_snapshot() AS snapshot, min(p.id) AS low, max(p.id) AS high
FROM (SELECT t.id FROM tickets t WHERE t.created_at >= :start AND t.created_at < :end {in_group} OFFSET 0) p
"""
_IN_PERIOD = "t.id BETWEEN :low AND :high AND t.created_at >= :start AND t.created_at < :end"

# One row for the whole period and one per current assignee: tickets created, resolved and
# reopened, CSAT, and durations in seconds: first response (created -> first public reply) and
# resolution (created -> resolved). Where the ticket's SLA clock for that target ran under a
# policy with a business calendar and was met, the duration is the business time the clock
# counted (summed over the RESOLUTION cycles of a reopened ticket); otherwise it is wall-clock
# time. Tickets, clocks and ratings arrive in ticket-id order from their indexes and are
# merge-joined (see _MERGE_SETTINGS).
_TICKET_FIGURES = """
WITH period AS (
    SELECT t.id, t.assignee_id,
           t.resolved_at IS NOT NULL OR t.status IN {done} AS resolved,
           t.reopen_count > 0 AS reopened,
           date_part('epoch', t.first_responded_at - t.created_at) AS first_response,
           date_part('epoch', t.resolved_at - t.created_at) AS resolution
    FROM tickets t
    WHERE {in_period} {in_group}
),
business AS (
    SELECT c.ticket_id,
           sum(c.elapsed_seconds) FILTER (WHERE c.target = 'FIRST_RESPONSE') AS first_response,
           sum(c.elapsed_seconds) FILTER (WHERE c.target = 'RESOLUTION') AS resolution
    FROM sla_clocks c
    WHERE c.ticket_id BETWEEN :low AND :high AND c.met_at IS NOT NULL
      AND c.policy_id = ANY (ARRAY(SELECT p.id FROM sla_policies p WHERE p.calendar_id IS NOT NULL))
    GROUP BY c.ticket_id
),
figures AS (
    SELECT p.assignee_id, p.resolved, p.reopened, r.score,
           CASE WHEN p.first_response IS NOT NULL THEN coalesce(b.first_response, p.first_response) END
               AS first_response,
           CASE WHEN p.resolution IS NOT NULL THEN coalesce(b.resolution, p.resolution) END AS resolution
    FROM period p
    LEFT JOIN business b ON b.ticket_id = p.id
    LEFT JOIN satisfaction_ratings r ON r.ticket_id = p.id AND r.ticket_id BETWEEN :low AND :high
)
SELECT grouping(assignee_id) = 1 AS whole, assignee_id,
       count(*) AS created,
       count(*) FILTER (WHERE resolved) AS resolved,
       count(*) FILTER (WHERE resolved AND reopened) AS reopened,
       count(score) AS csat_responses,
       avg(score)::float8 AS csat_average,
       count(*) FILTER (WHERE score >= 4) AS csat_positive,
       count(first_response) AS fr_count,
       avg(first_response) AS fr_average,
       percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY first_response) AS fr_percentiles,
       count(resolution) AS res_count,
       avg(resolution) AS res_average,
       percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY resolution) AS res_percentiles
FROM figures
GROUP BY GROUPING SETS ((), (assignee_id))
"""

# Volume by channel, by category and by local date (every date of the period, zero-filled).
# "Resolved" on a date counts the tickets resolved that day, whenever they were created.
_VOLUME = """
WITH created AS (
    SELECT t.channel, t.category, (t.created_at AT TIME ZONE :zone)::date AS day, count(*) AS n
    FROM tickets t
    WHERE {in_period} {in_group}
    GROUP BY 1, 2, 3
),
resolved AS (
    SELECT (t.resolved_at AT TIME ZONE :zone)::date AS day, count(*) AS n
    FROM tickets t
    WHERE t.resolved_at >= :start AND t.resolved_at < :end {in_group}
    GROUP BY 1
),
days AS (
    SELECT d::date AS day
    FROM generate_series(CAST(:first_day AS date)::timestamp, CAST(:last_day AS date)::timestamp, interval '1 day') d
)
SELECT 'CHANNEL' AS kind, channel AS key, NULL::date AS day, sum(n)::bigint AS created, 0::bigint AS resolved
FROM created GROUP BY channel
UNION ALL
SELECT 'CATEGORY', category, NULL, sum(n)::bigint, 0 FROM created GROUP BY category
UNION ALL
SELECT 'DAY', NULL, d.day, coalesce(c.n, 0), coalesce(r.n, 0)
FROM days d
LEFT JOIN (SELECT day, sum(n)::bigint AS n FROM created GROUP BY day) c ON c.day = d.day
LEFT JOIN resolved r ON r.day = d.day
"""

# SLA clocks whose due time fell in the period and has passed (met on time or not), and
# clocks that breached in the period; by the ticket's current group.
_SLA_FIGURES = """
SELECT due.n AS due, due.met, breached.n AS breaches
FROM (SELECT count(*) AS n, count(*) FILTER (WHERE c.met_at <= c.due_at) AS met
      FROM sla_clocks c
      WHERE c.due_at >= :start AND c.due_at < :due_before {clock_in_group}) due,
     (SELECT count(*) AS n
      FROM sla_clocks c
      WHERE c.breached_at >= :start AND c.breached_at < :end {clock_in_group}) breached
"""


def _statement(template: str, group_id: int | None) -> TextClause:
    """The statement for the whole helpdesk or one group (two plans, not one with an OR)."""
    in_group = "AND t.group_id = :group_id" if group_id is not None else ""
    clock_in_group = (
        "AND c.ticket_id IN (SELECT g.id FROM tickets g WHERE g.group_id = :group_id)" if group_id is not None else ""
    )
    return text(template.format(done=_DONE, in_period=_IN_PERIOD, in_group=in_group, clock_in_group=clock_in_group))


# ---------------------------------------------------------------- shaping the rows


def _whole_seconds(value: float | None) -> int | None:
    """Seconds rounded half up (a duration of 89.5 s reads as 90)."""
    return None if value is None else math.floor(value + 0.5)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _durations(count: int, average: float | None, percentiles: Sequence[float | None] | None) -> DurationFigures:
    median, p90 = percentiles if percentiles is not None else (None, None)
    return DurationFigures(count, _whole_seconds(average), _whole_seconds(median), _whole_seconds(p90))


def _figures(row: Any) -> tuple[DurationFigures, DurationFigures]:
    return (
        _durations(row.fr_count, row.fr_average, row.fr_percentiles),
        _durations(row.res_count, row.res_average, row.res_percentiles),
    )


def _report(
    period: ReportPeriod,
    group_id: int | None,
    tickets: list[Any],
    volume: list[Any],
    sla: Any,
    knowledge: tuple[float | None, float | None],
) -> ReportRecord:
    whole = next(row for row in tickets if row.whole)
    first_response, resolution = _figures(whole)
    agents = sorted(
        (row for row in tickets if not row.whole and row.assignee_id is not None),
        key=lambda row: (-row.created, row.assignee_id),
    )
    by_agent = [
        AgentFigures(
            agent_id=row.assignee_id,
            assigned=row.created,
            resolved=row.resolved,
            first_response=_figures(row)[0],
            resolution=_figures(row)[1],
            csat_average=row.csat_average,
        )
        for row in agents
    ]
    channels = [ChannelVolume(row.key, row.created) for row in volume if row.kind == "CHANNEL"]
    categories = [CategoryVolume(row.key, row.created) for row in volume if row.kind == "CATEGORY"]
    days = [DayVolume(row.day, row.created, row.resolved) for row in volume if row.kind == "DAY"]
    return ReportRecord(
        start=period.start,
        end=period.end,
        timezone=period.timezone,
        group_id=group_id,
        tickets_created=whole.created,
        tickets_resolved=whole.resolved,
        reopen_rate=_share(whole.reopened, whole.resolved),
        first_response=first_response,
        resolution=resolution,
        sla_compliance_rate=_share(sla.met, sla.due),
        sla_breaches=sla.breaches,
        csat_average=whole.csat_average,
        csat_responses=whole.csat_responses,
        csat_positive_rate=_share(whole.csat_positive, whole.csat_responses),
        article_helpful_rate=knowledge[0],
        self_service_rate=knowledge[1],
        by_channel=sorted(channels, key=lambda c: (-c.count, c.channel)),
        by_category=sorted(categories, key=lambda c: (-c.count, c.category is None, c.category or "")),
        daily=sorted(days, key=lambda d: d.day),
        by_agent=by_agent,
    )


# ---------------------------------------------------------------- running them


async def _begin(conn: AsyncConnection, snapshot: str | None, *settings: str) -> None:
    """A read-only REPEATABLE READ transaction, on the exported snapshot when one is given."""
    await conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    await conn.begin()
    if snapshot is not None:
        # Utility statements take no parameters; the id comes from pg_export_snapshot().
        await conn.execute(text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))
    for setting in (*_REPORT_SETTINGS, *settings):
        await conn.execute(text(setting))


async def _rows(conn: AsyncConnection, template: str, params: dict[str, Any], group_id: int | None) -> list[Any]:
    return list(await conn.execute(_statement(template, group_id), params))


async def _sla_and_knowledge(
    conn: AsyncConnection, params: dict[str, Any], group_id: int | None
) -> tuple[Any, tuple[float | None, float | None]]:
    sla = (await conn.execute(_statement(_SLA_FIGURES, group_id), params)).one()
    # The knowledge base has no groups: its figures are the whole helpdesk's.
    helpful = await knowledge_reads.helpful_rate(conn, params["start"], params["end"])
    self_service = await knowledge_reads.self_service_rate(conn, params["start"], params["end"])
    return sla, (helpful, self_service)


async def _group_exists(engine: AsyncEngine, group_id: int) -> bool:
    async with engine.connect() as conn:
        found = await conn.execute(select(tables.groups.c.id).where(tables.groups.c.id == group_id))
        return found.first() is not None


async def helpdesk_report(
    engine: AsyncEngine,
    from_: datetime,
    to: datetime,
    group_id: int | None,
    timezone: str,
    *,
    now: datetime,
) -> ReportRecord:
    """The report over tickets created in [from_, to) (of one group, or all), with days counted
    in `timezone`. `now` bounds SLA compliance to deadlines that have passed. InvalidInput for
    a bad period, time zone or group. The figures agree with one another: three connections
    (at most) read one snapshot, exported by the first."""
    period = report_period(from_, to, timezone)
    if group_id is not None and not await _group_exists(engine, group_id):
        raise InvalidInput("no such group", ["groupId"])
    params: dict[str, Any] = {
        "start": period.start,
        "end": period.end,
        "zone": period.timezone,
        "first_day": period.first_day,
        "last_day": period.last_day,
        "due_before": min(period.end, now),
    }
    if group_id is not None:
        params["group_id"] = group_id
    try:
        async with engine.connect() as first, engine.connect() as second, engine.connect() as third:
            await _begin(first, None, *_MERGE_SETTINGS)
            bounds = (await first.execute(_statement(_BOUNDS, group_id), params)).one()
            if not _SNAPSHOT_ID.match(bounds.snapshot):
                raise RuntimeError(f"unexpected snapshot id {bounds.snapshot!r}")
            params.update(low=bounds.low, high=bounds.high)
            await asyncio.gather(_begin(second, bounds.snapshot), _begin(third, bounds.snapshot))
            tickets, volume, (sla, knowledge) = await asyncio.gather(
                _rows(first, _TICKET_FIGURES, params, group_id),
                _rows(second, _VOLUME, params, group_id),
                _sla_and_knowledge(third, params, group_id),
            )
    except DBAPIError as exc:
        if "time zone" in str(exc.orig):
            # Known to Python's tz database but not to the server's.
            raise InvalidInput(f"{timezone!r} is not a time zone the database knows", ["timezone"]) from exc
        raise
    return _report(period, group_id, tickets, volume, sla, knowledge)
