"""Ticket actions as the API shows and takes them (macros now, automations later): a type and
its JSON value (app.domain.ticket_actions has the shapes)."""

from __future__ import annotations

from typing import Any

import strawberry

from schema.common import JSON
from schema.enums import AutomationActionType


@strawberry.type
class AutomationAction:
    type: AutomationActionType
    value: JSON | None

    @classmethod
    def of(cls, stored: dict[str, Any]) -> AutomationAction:
        return cls(type=AutomationActionType(stored["type"]), value=stored.get("value"))


@strawberry.input
class AutomationActionInput:
    type: AutomationActionType
    value: JSON | None = None
