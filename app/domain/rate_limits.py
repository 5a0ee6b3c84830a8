"""A rate limit written `count/seconds` (HELPDESK_WEB_FORM_LIMIT): at most `count` in any window
of `seconds`."""

from __future__ import annotations

import re
from dataclasses import dataclass

_FORM = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


@dataclass(frozen=True, slots=True)
class RateLimit:
    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """`5/600` -> RateLimit(5, 600); ValueError (naming the form expected) for anything else,
        including a zero count or window."""
        match = _FORM.fullmatch(text)
        if match is None:
            raise ValueError(f"expected count/seconds, for example 5/600; got {text!r}")
        count, seconds = int(match[1]), int(match[2])
        if count < 1 or seconds < 1:
            raise ValueError(f"count and seconds must both be at least 1; got {text!r}")
        return cls(count, seconds)

    def wait_text(self) -> str:
        """The window, as a person reads it: "10 minutes", "45 seconds", "2 hours"."""
        if self.seconds % 3600 == 0:
            hours = self.seconds // 3600
            return f"{hours} hour{'s' if hours != 1 else ''}"
        if self.seconds % 60 == 0:
            minutes = self.seconds // 60
            return f"{minutes} minute{'s' if minutes != 1 else ''}"
        return f"{self.seconds} seconds"
