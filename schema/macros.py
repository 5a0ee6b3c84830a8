"""Macros: canned replies with ticket actions."""

from __future__ import annotations

import strawberry

from app.domain.records import MacroRecord
from schema import ids
from schema.common import Node, Payload
from schema.context import Context
from schema.enums import CommentVisibility
from schema.people import Agent, load_agent
from schema.ticket_actions import AutomationAction, AutomationActionInput

Info = strawberry.Info[Context, None]


@strawberry.type(description="A canned reply with optional actions, applied in one step.")
class Macro(Node):
    id: strawberry.ID
    name: str
    body: str | None = strawberry.field(
        description=(
            "Placeholders: {{ticket.number}}, {{ticket.subject}}, {{customer.name}}, {{agent.name}}, "
            "{{ticket.customFields.<key>}}."
        )
    )
    visibility: CommentVisibility
    actions: list[AutomationAction]
    usage_count: int
    record: strawberry.Private[MacroRecord]

    @classmethod
    def of(cls, r: MacroRecord) -> Macro:
        return cls(
            id=ids.encode("Macro", r.id),
            record=r,
            name=r.name,
            body=r.body,
            visibility=CommentVisibility(r.visibility),
            actions=[AutomationAction.of(a) for a in r.actions],
            usage_count=r.usage_count,
        )

    @strawberry.field(description="Null for a macro shared with everyone.")
    async def owner(self, info: Info) -> Agent | None:
        return await load_agent(info, self.record.owner_agent_id)


@strawberry.input
class MacroInput:
    name: str
    body: str | None = None
    visibility: CommentVisibility | None = CommentVisibility.PUBLIC
    actions: list[AutomationActionInput] | None = None
    shared: bool | None = True


@strawberry.type
class MacroPayload(Payload):
    macro: Macro | None = None


@strawberry.type
class MacroPreview:
    body: str | None
    missing_placeholders: list[str] = strawberry.field(description="Placeholders with no value on this ticket.")
