"""Root fields of routing and assignment: rules (admins), manual and automatic assignment."""

from __future__ import annotations

import strawberry

from app.auth.policy import Action
from app.reads import routing as rule_reads
from app.services import assignment, routing_rules
from app.services.runtime import Runtime
from resolvers.access import Info, may_read, principal_of
from resolvers.payloads import decode_id, decode_optional_id, reports_user_errors, ticket_payload
from schema import ids
from schema.payloads import DeletePayload, TicketPayload
from schema.routing import RoutingRule, RoutingRuleInput, RoutingRulePayload


def _rule_input(input: RoutingRuleInput) -> routing_rules.RuleInput:
    return routing_rules.RuleInput(
        name=input.name,
        position=input.position,
        enabled=True if input.enabled is None else input.enabled,
        match_keywords=input.match_keywords or [],
        match_channels=[c.value for c in input.match_channels or []],
        match_tiers=[t.value for t in input.match_tiers or []],
        match_categories=input.match_categories or [],
        match_languages=input.match_languages or [],
        set_category=input.set_category,
        set_priority=input.set_priority.value if input.set_priority else None,
        add_tags=input.add_tags or [],
        route_to_group_id=decode_optional_id(input.route_to_group_id, "Group", ["input", "routeToGroupId"]),
        require_skills=input.require_skills or [],
        stop_processing=bool(input.stop_processing),
        match_custom_fields=input.match_custom_fields,  # type: ignore[arg-type]
    )


@strawberry.type
class RoutingQuery:
    @strawberry.field
    async def routing_rules(self, info: Info) -> list[RoutingRule]:
        may_read(info, Action.MANAGE_ROUTING)
        return [RoutingRule.of(r) for r in await rule_reads.routing_rules(info.context.rt)]


@strawberry.type
class RoutingMutation:
    @strawberry.mutation
    @reports_user_errors(RoutingRulePayload)
    async def create_routing_rule(self, info: Info, input: RoutingRuleInput) -> RoutingRulePayload:
        principal = principal_of(info)
        rule = await routing_rules.create_rule(info.context.rt, principal, _rule_input(input))
        return RoutingRulePayload(rule=RoutingRule.of(rule))

    @strawberry.mutation
    @reports_user_errors(RoutingRulePayload)
    async def update_routing_rule(self, info: Info, id: strawberry.ID, input: RoutingRuleInput) -> RoutingRulePayload:
        principal = principal_of(info)
        pk = decode_id(id, "RoutingRule", ["id"])
        rule = await routing_rules.update_rule(info.context.rt, principal, pk, _rule_input(input))
        return RoutingRulePayload(rule=RoutingRule.of(rule))

    @strawberry.mutation
    @reports_user_errors(DeletePayload)
    async def delete_routing_rule(self, info: Info, id: strawberry.ID) -> DeletePayload:
        principal = principal_of(info)
        pk = decode_id(id, "RoutingRule", ["id"])
        await routing_rules.delete_rule(info.context.rt, principal, pk)
        return DeletePayload(deleted_id=ids.encode("RoutingRule", pk))

    @strawberry.mutation(
        description=(
            "Manual assignment by a supervisor; agentId null with groupId moves the ticket to that group's queue."
        )
    )
    @reports_user_errors(TicketPayload)
    async def assign_ticket(
        self,
        info: Info,
        id: strawberry.ID,
        agent_id: strawberry.ID | None = None,
        group_id: strawberry.ID | None = None,
        expected_version: int | None = None,
    ) -> TicketPayload:
        principal = principal_of(info)
        rt: Runtime = info.context.rt
        record = await assignment.assign_ticket(
            rt,
            principal,
            decode_id(id, "Ticket", ["id"]),
            decode_optional_id(agent_id, "Agent", ["agentId"]),
            decode_optional_id(group_id, "Group", ["groupId"]),
            expected_version,
        )
        return await ticket_payload(info, record)

    @strawberry.mutation(description="Runs routing and assignment again, as on creation.")
    @reports_user_errors(TicketPayload)
    async def auto_assign_ticket(self, info: Info, id: strawberry.ID) -> TicketPayload:
        principal = principal_of(info)
        record = await assignment.auto_assign_ticket(info.context.rt, principal, decode_id(id, "Ticket", ["id"]))
        return await ticket_payload(info, record)
