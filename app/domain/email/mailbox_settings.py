"""A mailbox's settings as an admin gives them: checked and cleaned, every problem at its field.

Every value that ends up in a mail header or a mail-server command (address, hosts, user names,
folder, the From display name, passwords) refuses CR, LF and NUL: one such character could add a
header, a recipient or an IMAP command.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.domain import validation as v
from app.domain.enums import MailSecurity

MAX_NAME = 200
MAX_HOST = 253
MAX_USERNAME = 320
MAX_PASSWORD = 1024
MAX_FOLDER = 200
MAX_TEMPLATE = 10_000


@dataclass(frozen=True, slots=True)
class ImapInput:
    host: str
    port: int
    security: MailSecurity
    username: str
    password: str
    folder: str | None = "INBOX"


@dataclass(frozen=True, slots=True)
class SmtpInput:
    host: str
    port: int
    security: MailSecurity
    username: str | None = None
    # None: keep the stored password (on update), none at all (on create).
    password: str | None = None
    from_name: str | None = None


@dataclass(frozen=True, slots=True)
class MailboxInput:
    name: str
    address: str
    group_id: int | None = None
    enabled: bool = True
    imap: ImapInput | None = None
    smtp: SmtpInput | None = None
    acknowledgement_template: str | None = None


@dataclass(frozen=True, slots=True)
class CleanMailbox:
    """Columns to store; the passwords still in plain text, for the service to encrypt."""

    columns: dict[str, Any]
    imap_password: str | None
    smtp_password: str | None


def _header_safe(problems: v.Problems, value: str | None, field: list[str]) -> bool:
    """False (and the one problem of this field) when the value could end a header line."""
    if value is not None and any(ch in value for ch in "\r\n\x00"):
        problems.add("must not contain CR, LF or NUL characters", field)
        return False
    return True


def _required(problems: v.Problems, value: str | None, field: list[str], max_length: int) -> str:
    if not _header_safe(problems, value, field):
        return ""
    return v.required_text(problems, value, field, max_length)


def _optional(problems: v.Problems, value: str | None, field: list[str], max_length: int) -> str | None:
    if not _header_safe(problems, value, field):
        return None
    return v.optional_text(problems, value, field, max_length)


def _port(problems: v.Problems, value: int, field: list[str]) -> int:
    if not 1 <= value <= 65535:
        problems.add("must be between 1 and 65535", field)
    return value


def _password(problems: v.Problems, value: str | None, field: list[str], required: bool) -> str | None:
    if value is None or value == "":
        if required:
            problems.add("must not be empty", field)
        return None
    if _header_safe(problems, value, field) and len(value) > MAX_PASSWORD:
        problems.add(f"must be at most {MAX_PASSWORD} characters", field)
    return value


def clean_mailbox(data: MailboxInput) -> CleanMailbox:
    """The columns of a mailbox, or InvalidInput / ValidationErrors naming every field at fault."""
    problems = v.Problems()
    field = ["input"]
    address_field = [*field, "address"]
    address = None
    if _header_safe(problems, data.address, address_field):
        address = v.email(problems, data.address, address_field)
        if address is None:
            problems.add("must not be empty", address_field)
    # A body, not a header: newlines are its lines; other control characters are refused.
    template = v.optional_text(
        problems, data.acknowledgement_template, [*field, "acknowledgementTemplate"], MAX_TEMPLATE
    )
    columns: dict[str, Any] = {
        "name": _required(problems, data.name, [*field, "name"], MAX_NAME),
        "address": address,
        "group_id": data.group_id,
        "enabled": data.enabled,
        "acknowledgement_template": template,
    }
    imap_password = smtp_password = None
    imap, smtp = data.imap, data.smtp
    if imap is None:
        columns.update(imap_host=None, imap_port=None, imap_security=None, imap_username=None, imap_folder=None)
    else:
        at = [*field, "imap"]
        columns.update(
            imap_host=_required(problems, imap.host, [*at, "host"], MAX_HOST),
            imap_port=_port(problems, imap.port, [*at, "port"]),
            imap_security=MailSecurity(imap.security).value,
            imap_username=_required(problems, imap.username, [*at, "username"], MAX_USERNAME),
            imap_folder=_optional(problems, imap.folder, [*at, "folder"], MAX_FOLDER) or "INBOX",
        )
        imap_password = _password(problems, imap.password, [*at, "password"], required=True)
    if smtp is None:
        columns.update(smtp_host=None, smtp_port=None, smtp_security=None, smtp_username=None, smtp_from_name=None)
    else:
        at = [*field, "smtp"]
        columns.update(
            smtp_host=_required(problems, smtp.host, [*at, "host"], MAX_HOST),
            smtp_port=_port(problems, smtp.port, [*at, "port"]),
            smtp_security=MailSecurity(smtp.security).value,
            smtp_username=_optional(problems, smtp.username, [*at, "username"], MAX_USERNAME),
            smtp_from_name=_optional(problems, smtp.from_name, [*at, "fromName"], MAX_NAME),
        )
        smtp_password = _password(problems, smtp.password, [*at, "password"], required=False)
    problems.raise_if_any()
    return CleanMailbox(columns, imap_password, smtp_password)
