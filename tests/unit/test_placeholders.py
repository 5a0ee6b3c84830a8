"""The placeholder renderer: names looked up whole, never evaluated."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.domain.placeholders import Rendered, placeholders_in, render

VALUES = {"ticket.number": "1042", "ticket.subject": "退款", "customer.name": "王芳"}


def test_fills_known_names_with_or_without_spaces() -> None:
    assert render("{{customer.name}}，工单 #{{ ticket.number }}：{{ticket.subject}}", VALUES) == Rendered(
        "王芳，工单 #1042：退款"
    )


def test_unknown_names_stay_as_written_and_are_listed_once() -> None:
    rendered = render("{{ticket.eta}} {{customer.email}} {{ticket.eta}}", VALUES)
    assert rendered.text == "{{ticket.eta}} {{customer.email}} {{ticket.eta}}"
    assert rendered.unknown == ("ticket.eta", "customer.email")


def test_no_attribute_access_no_code_and_values_are_not_rendered_again() -> None:
    template = "{{ticket.__class__}} {{ ticket.number + 1 }} {{customer.name}} {% if x %}"
    rendered = render(template, {**VALUES, "customer.name": "{{ticket.number}}"})
    assert rendered.text == "{{ticket.__class__}} {{ ticket.number + 1 }} {{ticket.number}} {% if x %}"
    assert rendered.unknown == ("ticket.__class__",)


def test_placeholders_in() -> None:
    assert placeholders_in("{{a.b}} {{ c }} {{a.b}} {{bad name}}") == ("a.b", "c")


@given(st.text())
def test_text_without_braces_is_unchanged(text: str) -> None:
    if "{{" not in text:
        assert render(text, VALUES) == Rendered(text)
