"""What a ticket list asks for: filters, order and a keyset page, independent of SQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.domain import cursors
from app.domain.enums import OrderDirection, TicketOrderField
from app.domain.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class TicketFilter:
    status: tuple[str, ...] = ()
    priority: tuple[str, ...] = ()
    channel: tuple[str, ...] = ()
    category: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    assignee_id: int | None = None
    group_id: int | None = None
    customer_id: int | None = None
    unassigned: bool | None = None
    sla_at_risk: bool | None = None
    search: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    # Equality on each given key of Ticket.customFields (containment, so the GIN index serves it).
    custom_fields: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class TicketOrder:
    field: TicketOrderField = TicketOrderField.CREATED_AT
    direction: OrderDirection = OrderDirection.DESC


@dataclass(frozen=True, slots=True)
class TicketPageCursor:
    """Where a page ended: the order it was taken in and the last row's sort key."""

    order: TicketOrder
    key: tuple[Any, ...] = field(default=())

    def encode(self) -> str:
        payload = [self.order.field.value, self.order.direction.value, *(_encode_value(k) for k in self.key)]
        return cursors.encode(cursors.CursorKind.TICKETS, payload)

    @classmethod
    def decode(cls, cursor: str, expected: TicketOrder) -> TicketPageCursor:
        try:
            field_name, direction, *key = cursors.decode(cursors.CursorKind.TICKETS, cursor)
            order = TicketOrder(TicketOrderField(field_name), OrderDirection(direction))
            values = tuple(_decode_value(v) for v in key)
        except (ValueError, TypeError) as exc:
            raise InvalidInput("not a valid ticket list cursor", ["after"]) from exc
        if order != expected:
            raise InvalidInput("the cursor belongs to a different order; start again without `after`", ["after"])
        shape = KEY_SHAPES[order.field]
        if len(values) != len(shape) or not all(isinstance(v, kind) for v, kind in zip(values, shape, strict=True)):
            raise InvalidInput("not a valid cursor", ["after"])
        return cls(order, values)


# The sort key each order pages on (the last value is always the ticket id, the tie-breaker;
# NUMBER is unique on its own).
KEY_SHAPES: dict[TicketOrderField, tuple[type, ...]] = {
    TicketOrderField.CREATED_AT: (datetime, int),
    TicketOrderField.UPDATED_AT: (datetime, int),
    TicketOrderField.PRIORITY: (int, datetime, int),
    TicketOrderField.NUMBER: (int,),
    TicketOrderField.SLA_DUE_AT: (int, datetime, int),
}


def _encode_value(value: Any) -> Any:
    # Tagged, so a timestamp comes back as a timestamp (orjson would turn it into a plain string).
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and "t" in value:
        moment = datetime.fromisoformat(value["t"])
        if moment.tzinfo is None:
            raise ValueError("cursor timestamps carry a zone")
        try:
            moment.astimezone(UTC)
        except OverflowError as exc:  # e.g. 0001-01-01T00:00+14:00, before year 1 in UTC
            raise ValueError("cursor timestamp out of range") from exc
        return moment
    # Sort keys are timestamps and ids; anything else was not made by encode().
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise ValueError("bad cursor value")
    return value
