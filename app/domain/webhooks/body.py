"""The JSON a webhook receives for one ticket event, as partners rely on it:

    {"id", "cursor", "type", "occurredAt",
     "ticket": {"id", "number", "status", "priority", "groupId", "assigneeId", "customerId"},
     "data"}

Every id is a global id, as in the API. `id` is the TicketEvent's id (X-Helpdesk-Event-Id
repeats it): the same on every attempt and redelivery, so receivers dedupe on it. `data` is the
event's data as the API shows it (app.domain.event_data); events never carry comment bodies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from app.domain import cursors
from app.domain.event_data import public_event_data
from app.domain.global_ids import encode
from app.domain.records import TicketEventRecord


@dataclass(frozen=True, slots=True)
class TicketSummary:
    """The ticket as the body shows it (its state when the delivery was queued)."""

    id: int
    number: int
    status: str
    priority: str
    group_id: int | None
    assignee_id: int | None
    customer_id: int


def _global(type_name: str, pk: int | None) -> str | None:
    return encode(type_name, pk) if pk is not None else None


def delivery_body(event: TicketEventRecord, ticket: TicketSummary) -> bytes:
    document: dict[str, Any] = {
        "id": encode("TicketEvent", event.id),
        # The same text as TicketEvent.cursor (app.events.cursors.EventPosition).
        "cursor": cursors.encode(cursors.CursorKind.EVENTS, f"{event.txid}:{event.id}"),
        "type": event.type,
        "occurredAt": event.occurred_at.isoformat(),
        "ticket": {
            "id": encode("Ticket", ticket.id),
            "number": ticket.number,
            "status": ticket.status,
            "priority": ticket.priority,
            "groupId": _global("Group", ticket.group_id),
            "assigneeId": _global("Agent", ticket.assignee_id),
            "customerId": _global("Customer", ticket.customer_id),
        },
        "data": public_event_data(event.data),
    }
    return orjson.dumps(document)
