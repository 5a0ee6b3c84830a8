"""The placeholders a text about a ticket may use (macro replies, action templates) and their values.

`app.domain.placeholders` fills `{{name}}` from a mapping; this module says which names exist
for a ticket, so a template naming any other is refused when it is saved, and builds the
mapping from the ticket, its customer and the agent applying it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from app.domain.placeholders import placeholders_in

FIXED: tuple[str, ...] = ("ticket.number", "ticket.subject", "customer.name", "agent.name")
CUSTOM_FIELD = "ticket.customFields."
_CUSTOM_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def is_known(name: str) -> bool:
    if name in FIXED:
        return True
    return name.startswith(CUSTOM_FIELD) and bool(_CUSTOM_KEY.match(name.removeprefix(CUSTOM_FIELD)))


def unknown_placeholders(template: str) -> tuple[str, ...]:
    """The names `template` uses that no ticket can fill, in order of first use."""
    return tuple(name for name in placeholders_in(template) if not is_known(name))


def describe_known() -> str:
    return ", ".join(f"{{{{{name}}}}}" for name in (*FIXED, f"{CUSTOM_FIELD}<key>"))


def placeholder_values(
    *,
    number: int,
    subject: str,
    customer_name: str | None,
    agent_name: str | None,
    custom_fields: Mapping[str, Any],
) -> dict[str, str]:
    """The values a ticket gives its placeholders. A name with no value (a customer without a
    name, the system applying an automation, a custom field that is not set or not a plain
    value) is left out, so rendering lists it as missing."""
    values = {"ticket.number": str(number), "ticket.subject": subject}
    if customer_name:
        values["customer.name"] = customer_name
    if agent_name:
        values["agent.name"] = agent_name
    for key, value in custom_fields.items():
        if isinstance(value, bool):
            continue  # neither "True" nor a guessed translation of it belongs in a customer's reply
        if isinstance(value, str | int | float) and str(value) != "":
            values[CUSTOM_FIELD + key] = str(value)
    return values
