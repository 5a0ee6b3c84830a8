"""Root fields of the SLA engine: business calendars and SLA policies (admins)."""

from __future__ import annotations

import strawberry

from app.auth.policy import SlaPolicyView, sla_policy_view
from app.domain.principal import Principal
from app.domain.records import SlaPolicyRecord
from app.reads import sla as sla_reads
from app.services import sla
from resolvers.access import Info, principal_of
from resolvers.payloads import decode_id, decode_optional_id, reports_user_errors
from schema import errors, ids
from schema.common import Node
from schema.payloads import DeletePayload
from schema.sla import (
    BusinessCalendar,
    BusinessCalendarInput,
    BusinessCalendarPayload,
    SlaPolicy,
    SlaPolicyInput,
    SlaPolicyPayload,
)


def _calendar_input(input: BusinessCalendarInput) -> sla.CalendarInput:
    return sla.CalendarInput(
        name=input.name,
        timezone=input.timezone,
        hours=[sla.HoursInput(weekday=h.weekday, start=h.start, end=h.end) for h in input.hours],
        holidays=input.holidays or [],
    )


def _policy_input(input: SlaPolicyInput) -> sla.PolicyInput:
    return sla.PolicyInput(
        name=input.name,
        position=input.position,
        enabled=True if input.enabled is None else input.enabled,
        match_priorities=[x.value for x in input.match_priorities or []],
        match_tiers=[x.value for x in input.match_tiers or []],
        match_categories=input.match_categories or [],
        match_channels=[x.value for x in input.match_channels or []],
        match_group_ids=[decode_id(g, "Group", ["input", "matchGroupIds"]) for g in input.match_group_ids or []],
        first_response_seconds=input.first_response_seconds,
        resolution_seconds=input.resolution_seconds,
        warning_at_percent=80 if input.warning_at_percent is None else input.warning_at_percent,
        calendar_id=decode_optional_id(input.calendar_id, "BusinessCalendar", ["input", "calendarId"]),
        escalate_priority_on_breach=(
            True if input.escalate_priority_on_breach is None else input.escalate_priority_on_breach
        ),
    )


async def _with_calendars(info: Info, policies: list[SlaPolicyRecord]) -> list[SlaPolicy]:
    return [SlaPolicy.of(p, calendar) for p, calendar in await sla_reads.with_calendars(info.context.rt, policies)]


def _configuration_reader(info: Info) -> Principal:
    """Listing policies and calendars is reading the SLA configuration: admins."""
    principal = principal_of(info)
    if sla_policy_view(principal) is not SlaPolicyView.CONFIGURATION:
        raise errors.forbidden()
    return principal


async def sla_node(info: Info, principal: Principal, type_name: str, pk: int) -> Node | None:
    """`node(id)` for SlaPolicy (anyone signed in: what SlaPolicy shows them) and BusinessCalendar
    (configuration: admins), as app.auth.policy.sla_policy_view decides."""
    view = sla_policy_view(principal)
    if view is None or (type_name == "BusinessCalendar" and view is not SlaPolicyView.CONFIGURATION):
        return None
    if type_name == "BusinessCalendar":
        calendar = await sla_reads.calendar_by_id(info.context.rt, pk)
        return BusinessCalendar.of(calendar) if calendar else None
    policy = await sla_reads.policy_by_id(info.context.rt, pk)
    return (await _with_calendars(info, [policy]))[0] if policy else None


@strawberry.type
class SlaQuery:
    @strawberry.field(description="Admins: every SLA policy, in the order they are tried.")
    async def sla_policies(self, info: Info) -> list[SlaPolicy]:
        _configuration_reader(info)
        return await _with_calendars(info, await sla_reads.all_policies(info.context.rt))

    @strawberry.field(description="Admins: every business calendar.")
    async def business_calendars(self, info: Info) -> list[BusinessCalendar]:
        _configuration_reader(info)
        return [BusinessCalendar.of(c) for c in await sla_reads.all_calendars(info.context.rt)]


@strawberry.type
class SlaMutation:
    @strawberry.mutation
    @reports_user_errors(BusinessCalendarPayload)
    async def create_business_calendar(self, info: Info, input: BusinessCalendarInput) -> BusinessCalendarPayload:
        principal = principal_of(info)
        record = await sla.create_calendar(info.context.rt, principal, _calendar_input(input))
        return BusinessCalendarPayload(calendar=BusinessCalendar.of(record))

    @strawberry.mutation
    @reports_user_errors(SlaPolicyPayload)
    async def create_sla_policy(self, info: Info, input: SlaPolicyInput) -> SlaPolicyPayload:
        principal = principal_of(info)
        record = await sla.create_policy(info.context.rt, principal, _policy_input(input))
        return SlaPolicyPayload(policy=(await _with_calendars(info, [record]))[0])

    @strawberry.mutation
    @reports_user_errors(SlaPolicyPayload)
    async def update_sla_policy(self, info: Info, id: strawberry.ID, input: SlaPolicyInput) -> SlaPolicyPayload:
        principal = principal_of(info)
        pk = decode_id(id, "SlaPolicy", ["id"])
        record = await sla.update_policy(info.context.rt, principal, pk, _policy_input(input))
        return SlaPolicyPayload(policy=(await _with_calendars(info, [record]))[0])

    @strawberry.mutation
    @reports_user_errors(DeletePayload)
    async def delete_sla_policy(self, info: Info, id: strawberry.ID) -> DeletePayload:
        principal = principal_of(info)
        pk = decode_id(id, "SlaPolicy", ["id"])
        await sla.delete_policy(info.context.rt, principal, pk)
        return DeletePayload(deleted_id=ids.encode("SlaPolicy", pk))
