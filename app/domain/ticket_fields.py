"""Defined custom fields: what a definition may say, and what Ticket.customFields may then hold.

With no definitions customFields stays free JSON (version 1). Once any field is defined, every
key must name a definition and every value must fit its type; requirements apply to tickets
of the definition's categories (every ticket when that list is empty).
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import re2

from app.domain import validation as v
from app.domain.enums import FieldType, TicketStatus

MAX_PATTERN = 200
MAX_OPTIONS = 100
MAX_OPTION_LENGTH = 200
MAX_TEXT_VALUE = 2000
MAX_CATEGORIES = 100
_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# RE2 runs in time linear in the input whatever the pattern, so "(a+)+$" is harmless; a pattern
# whose compiled program would outgrow this budget (e.g. nested counted repeats) is refused.
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.max_mem = 1 << 20
_RE2_OPTIONS.log_errors = False


@dataclass(frozen=True, slots=True)
class FieldDefinition:
    id: int
    key: str
    label: str
    type: str
    options: list[str]
    pattern: str | None
    required_on_create: bool
    required_for_status: str | None
    categories: list[str]
    visible_to_customer: bool
    position: int

    def applies_to(self, category: str | None) -> bool:
        return not self.categories or (category or "") in self.categories


@dataclass(frozen=True, slots=True)
class FieldDefinitionInput:
    key: str
    label: str
    type: str
    options: list[str] = field(default_factory=list)
    pattern: str | None = None
    required_on_create: bool = False
    required_for_status: str | None = None
    categories: list[str] = field(default_factory=list)
    visible_to_customer: bool = False
    position: int | None = None


def compile_pattern(pattern: str) -> Any:
    """The pattern compiled for whole-value matching, or ValueError with the reason."""
    try:
        return re2.compile(pattern, options=_RE2_OPTIONS)
    except re2.error as error:
        reason = error.args[0] if error.args else b"not a valid regular expression"
        raise ValueError(reason.decode() if isinstance(reason, bytes) else str(reason)) from error


def clean_definition(data: FieldDefinitionInput) -> dict[str, Any]:
    """The cleaned columns of a definition, or every problem at once (paths under ["input"])."""
    problems = v.Problems()
    if not _KEY.match(data.key or ""):
        problems.add("must start with a letter and hold only letters, digits and _ (at most 64)", ["input", "key"])
    label = v.required_text(problems, data.label, ["input", "label"], 200)
    try:
        kind = FieldType(data.type)
    except ValueError:
        problems.add(f"unknown field type; one of {', '.join(t.value for t in FieldType)}", ["input", "type"])
        kind = None
    options = _options(problems, data.options, kind)
    pattern = _pattern(problems, data.pattern, kind)
    if data.required_for_status == TicketStatus.NEW.value:
        problems.add("a ticket is NEW when it is created: use requiredOnCreate", ["input", "requiredForStatus"])
    elif data.required_for_status is not None and data.required_for_status not in TicketStatus.__members__:
        problems.add("is not a ticket status", ["input", "requiredForStatus"])
    categories = list(dict.fromkeys(c.strip().lower() for c in data.categories if c.strip()))
    if len(categories) > MAX_CATEGORIES:
        problems.add(f"at most {MAX_CATEGORIES} categories", ["input", "categories"])
    if data.position is not None and not -v.MAX_POSITION <= data.position <= v.MAX_POSITION:
        problems.add(f"must be between -{v.MAX_POSITION} and {v.MAX_POSITION}", ["input", "position"])
    problems.raise_if_any()
    return {
        "key": data.key,
        "label": label,
        "type": data.type,
        "options": options,
        "pattern": pattern,
        "required_on_create": data.required_on_create,
        "required_for_status": data.required_for_status,
        "categories": categories,
        "visible_to_customer": data.visible_to_customer,
    }


def _options(problems: v.Problems, values: Sequence[str], kind: FieldType | None) -> list[str]:
    path = ["input", "options"]
    options = list(dict.fromkeys(o.strip() for o in values))
    if kind is not FieldType.DROPDOWN:
        if options:
            problems.add("only a DROPDOWN has options", path)
        return []
    if not options or "" in options:
        problems.add("a DROPDOWN needs at least one non-empty option", path)
    elif len(options) > MAX_OPTIONS:
        problems.add(f"at most {MAX_OPTIONS} options", path)
    elif any(len(o) > MAX_OPTION_LENGTH for o in options):
        problems.add(f"an option must be at most {MAX_OPTION_LENGTH} characters", path)
    return options


def _pattern(problems: v.Problems, pattern: str | None, kind: FieldType | None) -> str | None:
    path = ["input", "pattern"]
    if pattern is None or pattern == "":
        return None
    if kind is not FieldType.TEXT:
        problems.add("only a TEXT field has a pattern", path)
    elif len(pattern) > MAX_PATTERN:
        problems.add(f"must be at most {MAX_PATTERN} characters", path)
    else:
        try:
            compile_pattern(pattern)
        except ValueError as error:
            problems.add(f"is not a pattern this server runs (linear-time RE2 syntax): {error}", path)
    return pattern


def is_empty(value: Any) -> bool:
    """No value: missing, null, a blank string, or an unticked CHECKBOX."""
    return value is None or value is False or (isinstance(value, str) and not value.strip())


def _value_problem(definition: FieldDefinition, value: Any) -> str | None:
    kind = FieldType(definition.type)
    if kind is FieldType.CHECKBOX:
        return None if isinstance(value, bool) else "must be true or false"
    if kind is FieldType.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return "must be a number"
        return None
    if not isinstance(value, str):
        return "must be a string"
    if kind is FieldType.DATE:
        try:
            if not _DATE.match(value):
                raise ValueError
            date.fromisoformat(value)
        except ValueError:
            return "must be a date as YYYY-MM-DD"
        return None
    if kind is FieldType.DROPDOWN:
        return None if value in definition.options else f"must be one of: {', '.join(definition.options)}"
    if len(value) > MAX_TEXT_VALUE:
        return f"must be at most {MAX_TEXT_VALUE} characters"
    if definition.pattern and not compile_pattern(definition.pattern).fullmatch(value):
        return f"must match the pattern {definition.pattern}"
    return None


def check_values(
    problems: v.Problems,
    definitions: Sequence[FieldDefinition],
    values: Mapping[str, Any],
    category: str | None,
    path: Sequence[str],
    *,
    creating: bool,
) -> dict[str, Any]:
    """The values to store (null values dropped: null clears a field). Each problem is at
    path + [key]: an undefined key, a value that does not fit, a requiredOnCreate field missing
    on creation. Without definitions the values pass unchanged (free JSON, as in version 1)."""
    if not definitions:
        return dict(values)
    by_key = {d.key: d for d in definitions}
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        definition = by_key.get(key)
        if definition is None:
            problems.add("no custom field is defined with this key", [*path, key])
        elif value is not None:
            problem = _value_problem(definition, value)
            if problem:
                problems.add(problem, [*path, key])
            cleaned[key] = value
    if creating:
        for definition in definitions:
            if (
                definition.required_on_create
                and definition.applies_to(category)
                and is_empty(values.get(definition.key))
            ):
                problems.add(f"{definition.label} is required", [*path, definition.key])
    return cleaned


def missing_for_status(
    definitions: Sequence[FieldDefinition], values: Mapping[str, Any], category: str | None, target: str
) -> list[FieldDefinition]:
    """The fields a ticket of this category must hold before it may move to `target`."""
    return [
        d
        for d in definitions
        if d.required_for_status == target and d.applies_to(category) and is_empty(values.get(d.key))
    ]


def matches_custom_fields(wanted: Mapping[str, Any], values: Mapping[str, Any]) -> bool:
    """Every given key equals the ticket's value (what RoutingRule.matchCustomFields and
    TicketFilter.customFields mean)."""
    # JSON true is not the number 1, as in PostgreSQL's @>.
    return all(
        key in values and values[key] == expected and isinstance(values[key], bool) == isinstance(expected, bool)
        for key, expected in wanted.items()
    )


def field_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One FIELD_CHANGED event's data per key whose value changed (null: absent), in key order."""
    return [
        {"key": key, "before": before.get(key), "after": after.get(key)}
        for key in sorted(before.keys() | after.keys())
        if before.get(key) != after.get(key)
    ]


def customer_view(values: Mapping[str, object], visible_keys: Collection[str]) -> dict[str, object]:
    """What a customer reads of a ticket's customFields: the keys whose definition is
    visibleToCustomer, nothing else (with no definitions, nothing: free JSON is the agents')."""
    return {key: value for key, value in values.items() if key in visible_keys}
