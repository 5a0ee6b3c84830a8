"""A macro as saved: a canned reply (with placeholders) and ticket actions, checked all at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.domain import validation as v
from app.domain.enums import CommentVisibility
from app.domain.ticket_actions import ActionInput, TicketAction, clean_actions
from app.domain.ticket_placeholders import describe_known, unknown_placeholders

MAX_BODY = 10_000


@dataclass(frozen=True, slots=True)
class MacroInput:
    name: str
    body: str | None = None
    visibility: CommentVisibility = CommentVisibility.PUBLIC
    actions: Sequence[ActionInput] = ()
    shared: bool = True


@dataclass(frozen=True, slots=True)
class CleanMacro:
    name: str
    body: str | None
    visibility: CommentVisibility
    actions: list[TicketAction]
    shared: bool


def clean_macro(data: MacroInput, limits: v.TextLimits) -> CleanMacro:
    """The macro with every problem reported at its input path (`["input", "body"]`,
    `["input", "actions", "1", "value", "tags"]`); a macro that would do nothing is refused."""
    problems = v.Problems()
    name = v.required_text(problems, data.name, ["input", "name"], 200)
    body = v.optional_text(problems, data.body, ["input", "body"], MAX_BODY)
    if body and (unknown := unknown_placeholders(body)):
        names = ", ".join(f"{{{{{n}}}}}" for n in unknown)
        problems.add(f"unknown placeholder {names}; use {describe_known()}", ["input", "body"])
    actions = clean_actions(problems, data.actions, ["input", "actions"], limits)
    if not body and not data.actions:
        problems.add("give a reply, at least one action, or both", ["input", "body"])
    problems.raise_if_any()
    return CleanMacro(name, body, data.visibility, actions, data.shared)
