"""SLA policies, business calendars, and a ticket's SLA clocks."""

from __future__ import annotations

from datetime import datetime

import strawberry
from graphql import GraphQLError

from app.auth.policy import SlaPolicyView, sla_policy_view
from app.domain import enums
from app.domain.records import BusinessCalendarRecord, SlaPolicyRecord
from app.domain.sla import SlaClockView, TicketSlaView
from schema import errors, ids
from schema.common import Node, Payload
from schema.context import Context
from schema.enums import Channel, CustomerTier, SlaClockState, SlaTarget, TicketPriority
from schema.fields import computed, record_type
from schema.people import Group

Info = strawberry.Info[Context, None]


@strawberry.type
class BusinessHours:
    weekday: int = strawberry.field(description="0 = Monday ... 6 = Sunday.")
    start: str = strawberry.field(description="HH:MM, local time.")
    end: str


@strawberry.type
class BusinessCalendar(Node):
    id: strawberry.ID
    name: str
    timezone: str = strawberry.field(description="IANA zone, e.g. Asia/Shanghai.")
    hours: list[BusinessHours]
    holidays: list[str]

    @classmethod
    def of(cls, r: BusinessCalendarRecord) -> BusinessCalendar:
        return cls(
            id=ids.encode("BusinessCalendar", r.id),
            name=r.name,
            timezone=r.timezone,
            hours=[BusinessHours(weekday=int(h["weekday"]), start=h["start"], end=h["end"]) for h in r.hours],
            holidays=list(r.holidays),
        )


def _forbidden_configuration() -> GraphQLError:
    return errors.forbidden("an SLA policy's configuration is for admins")


@strawberry.type(
    description=(
        "Every signed-in caller reads a policy's name and targets; the rest is its configuration, "
        "for admins (a FORBIDDEN error for anyone else)."
    )
)
class SlaPolicy(Node):
    id: strawberry.ID
    name: str
    first_response_seconds: int | None
    resolution_seconds: int | None
    warning_at_percent: int = strawberry.field(
        description="A WARNING event fires once this share of a target has elapsed (1-99)."
    )
    record: strawberry.Private[SlaPolicyRecord]
    calendar_record: strawberry.Private[BusinessCalendarRecord | None]

    @classmethod
    def of(cls, r: SlaPolicyRecord, calendar: BusinessCalendarRecord | None) -> SlaPolicy:
        return cls(
            id=ids.encode("SlaPolicy", r.id),
            name=r.name,
            first_response_seconds=r.first_response_seconds,
            resolution_seconds=r.resolution_seconds,
            warning_at_percent=r.warning_at_percent,
            record=r,
            calendar_record=calendar,
        )

    def configuration(self, info: Info) -> SlaPolicyRecord:
        """The policy's configuration, for those app.auth.policy.sla_policy_view lets read it."""
        if sla_policy_view(info.context.principal) is not SlaPolicyView.CONFIGURATION:
            raise _forbidden_configuration()
        return self.record

    @strawberry.field(description="Lower runs first; the first policy whose conditions all match a ticket applies.")
    def position(self, info: Info) -> int:
        return self.configuration(info).position

    @strawberry.field
    def enabled(self, info: Info) -> bool:
        return self.configuration(info).enabled

    @strawberry.field
    def match_priorities(self, info: Info) -> list[TicketPriority]:
        return [enums.TicketPriority(x) for x in self.configuration(info).match_priorities]

    @strawberry.field
    def match_tiers(self, info: Info) -> list[CustomerTier]:
        return [enums.CustomerTier(x) for x in self.configuration(info).match_tiers]

    @strawberry.field
    def match_categories(self, info: Info) -> list[str]:
        return self.configuration(info).match_categories

    @strawberry.field
    def match_channels(self, info: Info) -> list[Channel]:
        return [enums.Channel(x) for x in self.configuration(info).match_channels]

    @strawberry.field(description="Empty matches every group.")
    async def match_groups(self, info: Info) -> list[Group]:
        records = await info.context.loaders.group.load_many(self.configuration(info).match_group_ids)
        return [Group.of(r) for r in records if r is not None]

    @strawberry.field(description="Null means around the clock.")
    def calendar(self, info: Info) -> BusinessCalendar | None:
        self.configuration(info)
        return BusinessCalendar.of(self.calendar_record) if self.calendar_record else None

    @strawberry.field(description="Raise the priority one step on breach.")
    def escalate_priority_on_breach(self, info: Info) -> bool:
        return self.configuration(info).escalate_priority_on_breach


# A clock is a row of sla_clocks (app.domain.sla picks which one a ticket shows).
@record_type("sla_clocks", node=False)
@strawberry.type
class SlaClock:
    target: SlaTarget
    state: SlaClockState
    due_at: datetime | None = strawberry.field(description="Null while the clock is paused.")
    remaining_seconds: int | None = strawberry.field(
        description="Business seconds left; negative once breached.", metadata=computed("business calendar arithmetic")
    )
    warned_at: datetime | None
    breached_at: datetime | None
    met_at: datetime | None

    @classmethod
    def of(cls, v: SlaClockView) -> SlaClock:
        return cls(
            target=SlaTarget(v.target),
            state=SlaClockState(v.state),
            due_at=v.due_at,
            remaining_seconds=v.remaining_seconds,
            warned_at=v.warned_at,
            breached_at=v.breached_at,
            met_at=v.met_at,
        )


@strawberry.type
class TicketSla:
    policy: SlaPolicy = strawberry.field(metadata=computed("a policy's configuration is for admins"))
    first_response: SlaClock | None
    resolution: SlaClock | None

    @classmethod
    def of(cls, v: TicketSlaView) -> TicketSla:
        return cls(
            policy=SlaPolicy.of(v.policy, v.calendar),
            first_response=SlaClock.of(v.first_response) if v.first_response else None,
            resolution=SlaClock.of(v.resolution) if v.resolution else None,
        )


@strawberry.input
class BusinessHoursInput:
    weekday: int
    start: str
    end: str


@strawberry.input
class BusinessCalendarInput:
    name: str
    timezone: str
    hours: list[BusinessHoursInput]
    holidays: list[str] | None = None


@strawberry.input
class SlaPolicyInput:
    name: str
    position: int | None = None
    enabled: bool | None = True
    match_priorities: list[TicketPriority] | None = None
    match_tiers: list[CustomerTier] | None = None
    match_categories: list[str] | None = None
    match_channels: list[Channel] | None = None
    match_group_ids: list[strawberry.ID] | None = None
    first_response_seconds: int | None = None
    resolution_seconds: int | None = None
    warning_at_percent: int | None = 80
    calendar_id: strawberry.ID | None = None
    escalate_priority_on_breach: bool | None = True


@strawberry.type
class BusinessCalendarPayload(Payload):
    calendar: BusinessCalendar | None = None


@strawberry.type
class SlaPolicyPayload(Payload):
    policy: SlaPolicy | None = None
