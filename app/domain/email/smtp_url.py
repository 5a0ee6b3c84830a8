"""HELPDESK_SMTP_URL: where mail goes when a mailbox has no SMTP settings of its own.

`smtp://[user:pass@]host[:port][?starttls=true]` (plain, or STARTTLS when asked; port 25 or,
with STARTTLS, 587) or `smtps://[user:pass@]host[:port]` (TLS from the first byte; port 465).
User and password are percent-encoded like any URL userinfo.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

from app.domain.enums import MailSecurity
from app.domain.errors import InvalidInput

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """An SMTP server to send through: a mailbox's settings or HELPDESK_SMTP_URL."""

    host: str
    port: int
    security: MailSecurity
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def parse_smtp_url(url: str) -> SmtpServer:
    """The server `url` names; InvalidInput (field HELPDESK_SMTP_URL) saying what is wrong."""

    def bad(why: str) -> InvalidInput:
        return InvalidInput(f"HELPDESK_SMTP_URL {why}", ["HELPDESK_SMTP_URL"])

    if any(ch in url for ch in "\r\n\x00"):
        raise bad("may not contain CR, LF or NUL characters")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise bad(f"is not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtps"):
        raise bad("must start with smtp:// or smtps://")
    if not parts.hostname:
        raise bad("names no host")
    if parts.path not in ("", "/") or parts.fragment:
        raise bad("takes no path or fragment")
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise bad("has an unreadable query string") from None
    unknown = set(query) - {"starttls"}
    if unknown:
        raise bad(f"has unknown parameter(s): {', '.join(sorted(unknown))} (only starttls)")
    starttls = False
    if "starttls" in query:
        value = query["starttls"][-1].lower()
        if value not in _TRUE | _FALSE:
            raise bad("starttls must be true or false")
        starttls = value in _TRUE
    if scheme == "smtps" and starttls:
        raise bad("uses TLS from the start (smtps://); starttls does not apply")
    if scheme == "smtps":
        security, default_port = MailSecurity.TLS, 465
    elif starttls:
        security, default_port = MailSecurity.STARTTLS, 587
    else:
        security, default_port = MailSecurity.NONE, 25
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and username is None:
        raise bad("has a password but no user")
    return SmtpServer(parts.hostname, port or default_port, security, username, password)
