"""The helpdesk report: durations, volumes and per-agent figures."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.reads.reports import AgentFigures, DurationFigures, ReportRecord
from schema import errors
from schema.context import Context
from schema.enums import Channel
from schema.people import Agent, Group, load_agent, load_group

Info = strawberry.Info[Context, None]


@strawberry.type
class DurationStats:
    count: int = strawberry.field(description="How many tickets the figures are taken over.")
    average_seconds: int | None = strawberry.field(
        description="Business seconds where an SLA calendar applies, else wall-clock seconds."
    )
    median_seconds: int | None
    p90_seconds: int | None

    @classmethod
    def of(cls, d: DurationFigures) -> DurationStats:
        return cls(
            count=d.count, average_seconds=d.average_seconds, median_seconds=d.median_seconds, p90_seconds=d.p90_seconds
        )


@strawberry.type
class ChannelCount:
    channel: Channel
    count: int


@strawberry.type
class CategoryCount:
    category: str | None = strawberry.field(description="Null for tickets with no category.")
    count: int


@strawberry.type
class DailyVolume:
    date: str = strawberry.field(description="YYYY-MM-DD in the report's time zone.")
    created: int
    resolved: int = strawberry.field(description="Tickets resolved that day, whenever they were created.")


@strawberry.type
class AgentReport:
    assigned: int = strawberry.field(description="Tickets of the period assigned to the agent now.")
    resolved: int
    first_response: DurationStats
    resolution: DurationStats
    csat_average: float | None
    agent_pk: strawberry.Private[int]

    @classmethod
    def of(cls, a: AgentFigures) -> AgentReport:
        return cls(
            agent_pk=a.agent_id,
            assigned=a.assigned,
            resolved=a.resolved,
            first_response=DurationStats.of(a.first_response),
            resolution=DurationStats.of(a.resolution),
            csat_average=a.csat_average,
        )

    @strawberry.field
    async def agent(self, info: Info) -> Agent:
        agent = await load_agent(info, self.agent_pk)
        if agent is None:  # deleted since the figures were taken
            raise errors.not_found("the agent no longer exists")
        return agent


@strawberry.type(
    description="Service figures for tickets created in [from, to), the numbers a support manager reviews every week."
)
class HelpdeskReport:
    from_: datetime = strawberry.field(name="from")
    to: datetime
    timezone: str = strawberry.field(description="IANA zone used for days.")
    tickets_created: int
    tickets_resolved: int
    reopen_rate: float | None = strawberry.field(
        description="Share of resolved tickets that were reopened at least once (0-1)."
    )
    first_response: DurationStats
    resolution: DurationStats
    sla_compliance_rate: float | None = strawberry.field(
        description="Share of SLA clocks due in the period that were met (0-1)."
    )
    sla_breaches: int
    csat_average: float | None
    csat_responses: int
    csat_positive_rate: float | None = strawberry.field(description="Share of ratings that are 4 or 5 (0-1).")
    article_helpful_rate: float | None = strawberry.field(
        description="helpful / (helpful + not helpful) over article feedback in the period (0-1)."
    )
    self_service_rate: float | None = strawberry.field(
        description=(
            "Share of suggestArticles and searchArticles calls in the period whose caller rated an article "
            "helpful or created no ticket within an hour (0-1); null when not tracked."
        )
    )
    by_channel: list[ChannelCount]
    by_category: list[CategoryCount]
    daily: list[DailyVolume]
    by_agent: list[AgentReport]
    group_pk: strawberry.Private[int | None]

    @classmethod
    def of(cls, r: ReportRecord) -> HelpdeskReport:
        return cls(
            from_=r.start,
            to=r.end,
            timezone=r.timezone,
            group_pk=r.group_id,
            tickets_created=r.tickets_created,
            tickets_resolved=r.tickets_resolved,
            reopen_rate=r.reopen_rate,
            first_response=DurationStats.of(r.first_response),
            resolution=DurationStats.of(r.resolution),
            sla_compliance_rate=r.sla_compliance_rate,
            sla_breaches=r.sla_breaches,
            csat_average=r.csat_average,
            csat_responses=r.csat_responses,
            csat_positive_rate=r.csat_positive_rate,
            article_helpful_rate=r.article_helpful_rate,
            self_service_rate=r.self_service_rate,
            by_channel=[ChannelCount(channel=Channel(c.channel), count=c.count) for c in r.by_channel],
            by_category=[CategoryCount(category=c.category, count=c.count) for c in r.by_category],
            daily=[DailyVolume(date=d.day.isoformat(), created=d.created, resolved=d.resolved) for d in r.daily],
            by_agent=[AgentReport.of(a) for a in r.by_agent],
        )

    @strawberry.field(description="Null for the whole helpdesk.")
    async def group(self, info: Info) -> Group | None:
        return await load_group(info, self.group_pk)
