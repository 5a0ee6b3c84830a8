"""Message-IDs, the identifiers replies are threaded on, kept in their `<id@host>` form."""

from __future__ import annotations

import re

# A msg-id is `<left@right>` without whitespace (RFC 5322 3.6.4); longer than a header line can
# carry is junk, not an id.
_MESSAGE_ID = re.compile(r"<([^<>\s]{1,900})>")


def message_ids_in(value: str | None) -> tuple[str, ...]:
    """Every `<id>` in a Message-ID, In-Reply-To or References value, in order, without repeats.

    A bare id without angle brackets (some old clients) is taken when it is the whole value.
    """
    if not value:
        return ()
    found = [f"<{m}>" for m in _MESSAGE_ID.findall(value)]
    if not found:
        bare = value.strip()
        if bare and "@" in bare and not any(c.isspace() or c in "<>" for c in bare) and len(bare) <= 900:
            found = [f"<{bare}>"]
    return tuple(dict.fromkeys(found))


def normalize_message_id(value: str | None) -> str | None:
    """The first id in `value`, as `<id@host>`, or None."""
    ids = message_ids_in(value)
    return ids[0] if ids else None
