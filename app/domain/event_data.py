"""Event data as the API shows it (history, subscriptions, later webhooks): every reference to a
row is an opaque global id, as everywhere else in the API.

The log stores plain primary keys (the subscription filters and the database compare those);
this is the one place that turns them into global ids on the way out. Only the known keys of
the event shapes are converted: values the caller supplied (custom fields, changed values)
pass through as they were, even when a key happens to end in "Id".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.domain.global_ids import encode, is_row_id

# Keys of ticket event data that hold a row's primary key, and the type the id names.
ID_KEYS: dict[str, str] = {
    "agentId": "Agent",
    "assigneeId": "Agent",
    "previousAssigneeId": "Agent",
    "relayedByAgentId": "Agent",
    "groupId": "Group",
    "fromGroupId": "Group",
    "toGroupId": "Group",
    "customerId": "Customer",
    "commentId": "Comment",
    "attachmentId": "Attachment",
    "parentId": "Ticket",
    "subTicketId": "Ticket",
    "ticketId": "Ticket",
    "otherTicketId": "Ticket",
    "otherId": "Ticket",
    "sourceId": "Ticket",
    "targetId": "Ticket",
    "mergedIntoId": "Ticket",
    "policyId": "SlaPolicy",
    "clockId": "SlaClock",
    "agentIds": "Agent",
    "groupIds": "Group",
    "automationId": "Automation",
    "macroId": "Macro",
}
# Lists of objects whose "id" names a row: the routing rules that fired at intake.
ID_LISTS: dict[str, str] = {"rules": "RoutingRule"}
# Objects of our own shape inside the data: the routing decision of a CREATED event.
NESTED = frozenset({"routing"})


def _global(type_name: str, value: Any) -> Any:
    return encode(type_name, value) if is_row_id(value) else value


def public_event_data(data: Mapping[str, Any] | None) -> dict[str, Any]:
    """`data` with each known id key's value (or list of values) as a global id."""
    shown: dict[str, Any] = {}
    for key, value in (data or {}).items():
        if key in ID_KEYS:
            type_name = ID_KEYS[key]
            shown[key] = (
                [_global(type_name, v) for v in value] if isinstance(value, list) else _global(type_name, value)
            )
        elif key in ID_LISTS and isinstance(value, list):
            type_name = ID_LISTS[key]
            shown[key] = [
                {**item, "id": _global(type_name, item.get("id"))} if isinstance(item, dict) else item for item in value
            ]
        elif key in NESTED and isinstance(value, Mapping):
            shown[key] = public_event_data(value)
        else:
            shown[key] = value
    return shown
