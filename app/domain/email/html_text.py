"""HTML-only mail turned into the plain text a comment shows.

inscriptis renders the layout (tables as aligned rows, lists as bullets, `<br>` and blocks as
line breaks, entities decoded) and is Apache-2.0 licensed; html2text would give Markdown syntax
(`**`, escaped `\\_`) and is GPL-3.0, which an MIT project cannot ship.
"""

from __future__ import annotations

from inscriptis import get_text
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.model.config import ParserConfig

# inscriptis takes about 2 s per MB of table-heavy HTML; a comment needs no more than the first
# megabyte (the caller keeps the raw message, attachments and all).
MAX_HTML_CHARS = 1_000_000


def html_to_text(html: str) -> str:
    """The text of an HTML body (its first MAX_HTML_CHARS), links kept as `[text](url)` so an
    agent can follow them."""
    if not html.strip():
        return ""
    config = ParserConfig(css=CSS_PROFILES["strict"], display_links=True)
    try:
        text = get_text(html[:MAX_HTML_CHARS], config)
    except Exception:
        # lxml refuses some documents (e.g. nesting past its limit); the raw message is kept by
        # the caller, so an unreadable HTML body is an empty comment, not a lost mail.
        return ""
    return "\n".join(line.rstrip() for line in text.splitlines()).strip()
