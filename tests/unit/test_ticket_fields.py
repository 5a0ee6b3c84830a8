"""Defined custom fields as pure rules: definitions (types, options, bounded linear-time
patterns) and values (keys, types, requirements by category and status)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from app.domain import validation as v
from app.domain.errors import DomainError, InvalidInput, ValidationErrors
from app.domain.ticket_fields import (
    FieldDefinition,
    FieldDefinitionInput,
    check_values,
    clean_definition,
    matches_custom_fields,
    missing_for_status,
)


def problems_of(error: DomainError) -> dict[tuple[str, ...], str]:
    errors = error.errors if isinstance(error, ValidationErrors) else [error]
    return {tuple(e.field): e.message for e in errors}


def refused(data: FieldDefinitionInput) -> dict[tuple[str, ...], str]:
    with pytest.raises((InvalidInput, ValidationErrors)) as caught:
        clean_definition(data)
    return problems_of(caught.value)


def definition(key: str, type: str = "TEXT", **overrides: Any) -> FieldDefinition:
    values: dict[str, Any] = {
        "id": 1,
        "key": key,
        "label": key.title(),
        "type": type,
        "options": [],
        "pattern": None,
        "required_on_create": False,
        "required_for_status": None,
        "categories": [],
        "visible_to_customer": False,
        "position": 10,
    }
    return FieldDefinition(**{**values, **overrides})


def check(definitions: list[FieldDefinition], values: dict[str, Any], category: str | None = None, **kw: Any) -> Any:
    problems = v.Problems()
    cleaned = check_values(problems, definitions, values, category, ["input", "customFields"], creating=True, **kw)
    return cleaned, {tuple(p.field): p.message for p in problems.items}


def test_a_catastrophic_pattern_is_harmless_and_an_unbounded_one_refused() -> None:
    # RE2 matches in linear time: the classic exponential pattern is accepted and answers at once.
    clean_definition(FieldDefinitionInput(key="code", label="Code", type="TEXT", pattern="(a+)+$"))
    field = definition("code", pattern="(a+)+$")
    _, problems = check([field], {"code": "a" * 50_0 + "!"})
    assert problems == {("input", "customFields", "code"): "must match the pattern (a+)+$"}
    # Backreferences need backtracking: refused, as are patterns over 200 characters or a huge program.
    assert ("input", "pattern") in refused(FieldDefinitionInput(key="k", label="K", type="TEXT", pattern=r"(a)\1"))
    assert ("input", "pattern") in refused(FieldDefinitionInput(key="k", label="K", type="TEXT", pattern="a" * 201))
    assert ("input", "pattern") in refused(
        FieldDefinitionInput(key="k", label="K", type="TEXT", pattern="((a{100}){100}){100}")
    )


def test_definitions_refuse_unknown_types_bad_keys_and_misplaced_options() -> None:
    assert refused(FieldDefinitionInput(key="k", label="K", type="COLOUR"))[("input", "type")].startswith("unknown")
    assert ("input", "key") in refused(FieldDefinitionInput(key="order id", label="K", type="TEXT"))
    assert ("input", "options") in refused(FieldDefinitionInput(key="k", label="K", type="DROPDOWN"))
    assert ("input", "options") in refused(FieldDefinitionInput(key="k", label="K", type="NUMBER", options=["a"]))
    assert ("input", "pattern") in refused(FieldDefinitionInput(key="k", label="K", type="NUMBER", pattern="\\d+"))
    assert ("input", "requiredForStatus") in refused(
        FieldDefinitionInput(key="k", label="K", type="TEXT", required_for_status="NEW")
    )
    cleaned = clean_definition(
        FieldDefinitionInput(
            key="reason", label=" Reason ", type="DROPDOWN", options=["a", "b", "a"], categories=[" Refund "]
        )
    )
    assert cleaned["options"] == ["a", "b"] and cleaned["label"] == "Reason" and cleaned["categories"] == ["refund"]


def test_values_fit_their_types_and_undefined_keys_are_refused() -> None:
    fields = [
        definition("orderId", pattern="SO-[0-9]{4}"),
        definition("amount", "NUMBER"),
        definition("purchased", "DATE"),
        definition("reason", "DROPDOWN", options=["broken", "late"]),
        definition("gift", "CHECKBOX"),
    ]
    good = {"orderId": "SO-1023", "amount": 12.5, "purchased": "2026-02-28", "reason": "late", "gift": True}
    assert check(fields, good) == (good, {})
    _, problems = check(
        fields,
        {"orderId": "SO-1023x", "amount": True, "purchased": "2026-02-30", "reason": "lost", "gift": "yes", "x": 1},
    )
    at = ("input", "customFields")
    assert set(problems) == {(*at, k) for k in ("orderId", "amount", "purchased", "reason", "gift", "x")}
    assert problems[(*at, "x")] == "no custom field is defined with this key"
    # Null clears a field.
    assert check(fields, {"orderId": None, "amount": 3}) == ({"amount": 3}, {})


def test_without_definitions_any_json_object_is_accepted() -> None:
    assert check([], {"anything": {"nested": [1, 2]}}) == ({"anything": {"nested": [1, 2]}}, {})


def test_required_on_create_applies_to_the_definitions_categories() -> None:
    order = definition("orderId", required_on_create=True, categories=["refund"])
    assert check([order], {}, "billing")[1] == {}
    assert check([order], {}, "refund")[1] == {("input", "customFields", "orderId"): "Orderid is required"}
    everywhere = replace(order, categories=[])
    assert check([everywhere], {"orderId": "  "}, None)[1] != {}
    problems = v.Problems()
    check_values(problems, [everywhere], {}, None, ["input", "customFields"], creating=False)
    assert problems.items == []


def test_required_for_status_names_the_missing_fields() -> None:
    order = definition("orderId", required_for_status="RESOLVED", categories=["refund"])
    agree = definition("agreed", "CHECKBOX", required_for_status="RESOLVED")
    assert missing_for_status([order, agree], {"agreed": False}, "refund", "RESOLVED") == [order, agree]
    assert missing_for_status([order, agree], {"agreed": True}, "billing", "RESOLVED") == []
    assert missing_for_status([order, agree], {}, "refund", "PENDING") == []


def test_match_is_equality_on_every_given_key() -> None:
    assert matches_custom_fields({"a": 1, "b": "x"}, {"a": 1, "b": "x", "c": 3})
    assert not matches_custom_fields({"a": 1}, {"a": True})
    assert not matches_custom_fields({"a": 1}, {})
    assert matches_custom_fields({}, {})
