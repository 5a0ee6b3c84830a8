"""Automation conditions: which field, operator and value fit together, and whether a ticket
meets them.

Fields (as the API names them) and what they take:

    status, priority, channel, sentiment, customer.tier   one of the enum's values
    category, language, subject, description              text (CONTAINS: a substring, any case)
    tags                                                  CONTAINS / NOT_CONTAINS: has that tag
    groupId, assigneeId                                   global ids (Group, Agent)
    customFields.<key>                                    a string, number or boolean

Values: a scalar for EQUALS, NOT_EQUALS, CONTAINS, NOT_CONTAINS, GREATER_THAN and LESS_THAN; a
non-empty list for IN and NOT_IN; none for IS_SET and IS_NOT_SET. GREATER_THAN and LESS_THAN
compare priorities by rank and custom fields as numbers. Every mismatch is reported at its path
(`["input", "conditions", 1, "value"]`) when the automation is saved; a stored condition is
valid, so evaluating one never fails.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from app.domain import validation as v
from app.domain.enums import Channel, ConditionOperator, CustomerTier, Sentiment, TicketPriority, TicketStatus
from app.domain.global_ids import decode_as, encode
from app.domain.records import TicketRecord

Op = ConditionOperator
MAX_CONDITIONS = 20
MAX_LIST = 100
MAX_TEXT = 500
_CUSTOM_PREFIX = "customFields."
_CUSTOM_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

_EQUALITY = frozenset({Op.EQUALS, Op.NOT_EQUALS, Op.IN, Op.NOT_IN})
_PRESENCE = frozenset({Op.IS_SET, Op.IS_NOT_SET})
_TEXTUAL = _EQUALITY | {Op.CONTAINS, Op.NOT_CONTAINS}
_ORDERED = frozenset({Op.GREATER_THAN, Op.LESS_THAN})

_ENUM_FIELDS: dict[str, type[StrEnum]] = {
    "status": TicketStatus,
    "priority": TicketPriority,
    "channel": Channel,
    "sentiment": Sentiment,
    "customer.tier": CustomerTier,
}
_TEXT_FIELDS = ("category", "language", "subject", "description")
_ID_FIELDS = {"groupId": "Group", "assigneeId": "Agent"}
# Fields a ticket always has: asking whether they are set is a mistake, not a condition.
_NOT_NULL = frozenset({"status", "priority", "channel", "sentiment", "customer.tier", "subject", "description"})
FIELDS = (*_ENUM_FIELDS, *_TEXT_FIELDS, "tags", *_ID_FIELDS, "customFields.<key>")


@dataclass(frozen=True, slots=True)
class ConditionInput:
    field: str
    operator: ConditionOperator
    value: Any


@dataclass(frozen=True, slots=True)
class Condition:
    """A checked condition. `value` is normalised: enum values and text as str (text lower-cased
    for CONTAINS), ids as primary keys, lists as tuples, None for IS_SET and IS_NOT_SET."""

    field: str
    operator: ConditionOperator
    value: Any


@dataclass(frozen=True, slots=True)
class TicketFacts:
    """What conditions read: the ticket as it is now and its customer's tier."""

    ticket: TicketRecord
    customer_tier: str


def operators_of(field: str) -> frozenset[ConditionOperator]:
    if field == "priority":
        return _EQUALITY | _ORDERED
    if field in _ENUM_FIELDS:
        return _EQUALITY
    if field in _TEXT_FIELDS:
        return _TEXTUAL | _PRESENCE
    if field == "tags":
        return frozenset({Op.CONTAINS, Op.NOT_CONTAINS}) | _PRESENCE
    if field in _ID_FIELDS:
        return _EQUALITY | _PRESENCE
    return _TEXTUAL | _ORDERED | _PRESENCE  # customFields.<key>


def _known_field(field: str) -> bool:
    if field.startswith(_CUSTOM_PREFIX):
        return bool(_CUSTOM_KEY.match(field.removeprefix(_CUSTOM_PREFIX)))
    return field in _ENUM_FIELDS or field in _TEXT_FIELDS or field in _ID_FIELDS or field == "tags"


def _scalar(problems: v.Problems, c: ConditionInput, raw: Any, at: list[str]) -> Any:
    """One value of the condition's field, normalised; None (with a problem added) when it does not fit."""
    field, op = c.field, c.operator
    if field in _ENUM_FIELDS:
        enum = _ENUM_FIELDS[field]
        if isinstance(raw, str) and raw in enum.__members__:
            return raw
        problems.add(f"must be one of {', '.join(enum.__members__)}", at)
    elif field in _ID_FIELDS:
        type_name = _ID_FIELDS[field]
        pk = decode_as(raw, type_name) if isinstance(raw, str) else None
        if pk is not None:
            return pk
        problems.add(f"must be the id of a {type_name.lower()}", at)
    elif field in _TEXT_FIELDS or field == "tags":
        if isinstance(raw, str) and raw.strip() and len(raw) <= MAX_TEXT:
            if field == "tags":
                return raw.strip().lower()  # tags are stored trimmed and lower-cased
            return raw.lower() if op in (Op.CONTAINS, Op.NOT_CONTAINS) else raw
        problems.add(f"must be a non-empty string of at most {MAX_TEXT} characters", at)
    elif op in _ORDERED:
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return raw
        problems.add("must be a number", at)
    elif op in (Op.CONTAINS, Op.NOT_CONTAINS):
        if isinstance(raw, str) and raw and len(raw) <= MAX_TEXT:
            return raw.lower()
        problems.add("must be a non-empty string", at)
    else:
        if isinstance(raw, str | int | float | bool) and (not isinstance(raw, str) or len(raw) <= MAX_TEXT):
            return raw
        problems.add("must be a string, a number or a boolean", at)
    return None


def _condition(problems: v.Problems, c: ConditionInput, at: list[str]) -> Condition | None:
    if not _known_field(c.field):
        problems.add(f"unknown field; use one of {', '.join(FIELDS)}", [*at, "field"])
        return None
    if c.operator not in operators_of(c.field) or (c.operator in _PRESENCE and c.field in _NOT_NULL):
        problems.add(f"{c.operator.value} does not apply to {c.field}", [*at, "operator"])
        return None
    before = len(problems.items)
    value: Any = None
    if c.operator in _PRESENCE:
        if c.value is not None:
            problems.add(f"{c.operator.value} takes no value", [*at, "value"])
    elif c.operator in (Op.IN, Op.NOT_IN):
        if not isinstance(c.value, list) or not c.value or len(c.value) > MAX_LIST:
            problems.add(f"must be a list of 1 to {MAX_LIST} values", [*at, "value"])
        else:
            items = [_scalar(problems, c, item, [*at, "value", str(i)]) for i, item in enumerate(c.value)]
            value = tuple(items)
    else:
        value = _scalar(problems, c, c.value, [*at, "value"])
    return Condition(c.field, c.operator, value) if len(problems.items) == before else None


def clean_conditions(
    problems: v.Problems, conditions: Sequence[ConditionInput] | None, field: Sequence[str]
) -> list[Condition]:
    """The checked conditions (all must hold); each problem at `field + [i, "field" | "operator" | "value"]`."""
    if not conditions:
        return []
    if len(conditions) > MAX_CONDITIONS:
        problems.add(f"at most {MAX_CONDITIONS} conditions", field)
        return []
    checked = [_condition(problems, c, [*field, str(i)]) for i, c in enumerate(conditions)]
    return [c for c in checked if c is not None]


# ---------------------------------------------------------------- evaluating


def field_value(facts: TicketFacts, field: str) -> Any:
    """The ticket's value of a condition field (ids as primary keys, None when unset)."""
    t = facts.ticket
    if field.startswith(_CUSTOM_PREFIX):
        return (t.custom_fields or {}).get(field.removeprefix(_CUSTOM_PREFIX))
    return {
        "status": t.status,
        "priority": t.priority,
        "channel": t.channel,
        "sentiment": t.sentiment,
        "customer.tier": facts.customer_tier,
        "category": t.category,
        "language": t.language,
        "subject": t.subject,
        "description": t.description,
        "tags": t.tags,
        "groupId": t.group_id,
        "assigneeId": t.assignee_id,
    }[field]


def _order(field: str, value: Any) -> float | None:
    if field == "priority":
        return float(TicketPriority(value).rank)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def holds(condition: Condition, facts: TicketFacts) -> bool:
    actual = field_value(facts, condition.field)
    op, expected = condition.operator, condition.value
    if op is Op.IS_SET:
        return actual is not None and actual != "" and actual != []
    if op is Op.IS_NOT_SET:
        return not holds(Condition(condition.field, Op.IS_SET, None), facts)
    if condition.field == "tags":
        has = expected in actual
        return has if op is Op.CONTAINS else not has
    if op in (Op.CONTAINS, Op.NOT_CONTAINS):
        found = isinstance(actual, str) and expected in actual.lower()
        return found if op is Op.CONTAINS else not found
    if op in _ORDERED:
        left, right = _order(condition.field, actual), _order(condition.field, expected)
        if left is None or right is None:
            return False
        return left > right if op is Op.GREATER_THAN else left < right
    if op is Op.EQUALS:
        return actual == expected
    if op is Op.NOT_EQUALS:
        return actual != expected
    inside = actual in expected
    return inside if op is Op.IN else not inside


def all_hold(conditions: Sequence[Condition], facts: TicketFacts) -> bool:
    return all(holds(c, facts) for c in conditions)


# ---------------------------------------------------------------- storing and showing


def condition_value(condition: Condition) -> Any:
    """The value as the API shows it (ids as global ids)."""
    type_name = _ID_FIELDS.get(condition.field)
    if type_name is None or condition.value is None:
        return list(condition.value) if isinstance(condition.value, tuple) else condition.value
    if isinstance(condition.value, tuple):
        return [encode(type_name, pk) for pk in condition.value]
    return encode(type_name, condition.value)


def stored(conditions: Sequence[Condition]) -> list[dict[str, Any]]:
    return [{"field": c.field, "operator": c.operator.value, "value": condition_value(c)} for c in conditions]


def from_stored(rows: Sequence[dict[str, Any]]) -> list[Condition]:
    """Conditions read back from the database (written by `stored`, so valid when written)."""
    problems = v.Problems()
    inputs = [ConditionInput(row["field"], ConditionOperator(row["operator"]), row.get("value")) for row in rows]
    conditions = clean_conditions(problems, inputs, ["conditions"])
    problems.raise_if_any()
    return conditions
