"""Text with `{{name}}` placeholders filled from given values: acknowledgements now, macros later.

Deliberately not a template language: a placeholder is a dotted name looked up as a whole key in
the values given (no attribute access, no expressions, no filters), so a template an admin
writes can never run code or reach data the caller did not hand in. A placeholder without a
value is left as written and listed, so the admin sees the typo.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}\}")


@dataclass(frozen=True, slots=True)
class Rendered:
    text: str
    # Placeholders the template names but the values do not hold, in order of first use.
    unknown: tuple[str, ...] = ()


def placeholders_in(template: str) -> tuple[str, ...]:
    """The names the template uses, in order, each once."""
    return tuple(dict.fromkeys(m.group(1) for m in _PLACEHOLDER.finditer(template)))


def render(template: str, values: Mapping[str, str]) -> Rendered:
    """`template` with each `{{name}}` whose name is a key of `values` replaced by its value. The
    values are inserted as they are: never read as placeholders themselves."""
    unknown: list[str] = []

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in values:
            return values[name]
        if name not in unknown:
            unknown.append(name)
        return match.group(0)

    return Rendered(_PLACEHOLDER.sub(fill, template), tuple(unknown))
