"""Replies we send: subject, threading headers, text and HTML alternatives, attachments.

Threading: In-Reply-To names the message answered and References carries the thread plus that
message (RFC 5322 3.6.4), which Gmail, Outlook, Foxmail and QQ Mail all follow; the subject
keeps one "Re:" and one `[#number]` tag. Any header value with CR, LF or NUL is refused with
`HeaderInjection`, so no value can add a header or a recipient.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

from app.domain.email.addresses import MailAddress, address_domain
from app.domain.email.message_ids import message_ids_in, normalize_message_id
from app.domain.errors import InvalidInput

# References kept on a reply: the thread's first message and the newest ones. Long enough for
# every client to thread, short enough for servers that cap header size.
MAX_REFERENCES = 20

_FORBIDDEN_IN_HEADER = re.compile(r"[\r\n\x00]")
_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|aw|antw|sv|回复|回覆|答复|答覆)\s*(?:\[\d+\])?\s*[:：]\s*)+", re.IGNORECASE)
_TICKET_TAG = re.compile(r"\s*\[#\d+\]")
_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$", re.IGNORECASE)


class HeaderInjection(InvalidInput):
    """A value bound for a mail header holds CR, LF or NUL; the message is not built."""


@dataclass(frozen=True)
class OutboundAttachment:
    filename: str
    content_type: str
    content: bytes = field(repr=False)


def guard_header(value: str, field_name: str) -> str:
    """`value` unchanged, or HeaderInjection if it could end the header line."""
    if _FORBIDDEN_IN_HEADER.search(value):
        raise HeaderInjection(f"{field_name} may not contain CR, LF or NUL characters", field=[field_name])
    return value


def new_message_id(mailbox_address: str) -> str:
    """A fresh `<...@domain>` Message-ID on the mailbox's own domain (kept with the comment so a
    resend is the same message)."""
    domain = address_domain(guard_header(mailbox_address, "mailboxAddress"))
    if not domain:
        raise InvalidInput("the mailbox address has no domain", field=["mailboxAddress"])
    return make_msgid(domain=domain)


def reply_subject(subject: str, ticket_number: int) -> str:
    """`Re: <subject> [#<number>]`, however many Re:/回复: prefixes and tags `subject` already has."""
    guard_header(subject, "subject")
    bare = _TICKET_TAG.sub("", _REPLY_PREFIX.sub("", subject)).strip()
    return f"Re: {bare} [#{ticket_number}]" if bare else f"Re: [#{ticket_number}]"


def reply_references(references: Sequence[str], in_reply_to: str | None) -> tuple[str, ...]:
    """The thread's references plus the message replied to, capped at MAX_REFERENCES (first kept)."""
    ids = [i for value in references for i in message_ids_in(guard_header(value, "references"))]
    if in_reply_to:
        ids.extend(message_ids_in(guard_header(in_reply_to, "inReplyTo")))
    ids = list(dict.fromkeys(ids))
    if len(ids) > MAX_REFERENCES:
        ids = [ids[0], *ids[-(MAX_REFERENCES - 1) :]]
    return tuple(ids)


def text_to_html(text: str) -> str:
    """The HTML alternative of a plain-text reply: escaped, line breaks kept."""
    body = "<br>\n".join(html.escape(line) for line in text.replace("\r\n", "\n").split("\n"))
    return f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body>\n<div>{body}</div>\n</body></html>\n'


def build_reply(
    *,
    mailbox_address: str,
    from_name: str | None,
    to: Sequence[MailAddress],
    subject: str,
    ticket_number: int,
    text: str,
    message_id: str,
    date: datetime,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    attachments: Sequence[OutboundAttachment] = (),
    cc: Sequence[MailAddress] = (),
    auto_submitted: bool = False,
    exact_subject: bool = False,
) -> EmailMessage:
    """A reply (or, with `auto_submitted`, an acknowledgement) ready for SMTP.

    `subject` is the thread's subject as the customer wrote it (with `exact_subject`, system
    mail such as a survey, the subject as it is); `message_id` comes from
    `new_message_id` and is stored before sending; `date` must be timezone-aware. Raises
    HeaderInjection for CR/LF/NUL in any header value, InvalidInput for other unusable values.
    """
    if not to:
        raise InvalidInput("a reply needs at least one recipient", field=["to"])
    if date.tzinfo is None:
        raise InvalidInput("the date must carry a time zone", field=["date"])
    own_id = normalize_message_id(guard_header(message_id, "messageId"))
    if own_id is None:
        raise InvalidInput("the Message-ID must look like <id@domain>", field=["messageId"])
    parent = normalize_message_id(guard_header(in_reply_to, "inReplyTo")) if in_reply_to else None

    message = EmailMessage(policy=SMTP)
    message["From"] = _address(MailAddress(mailbox_address, from_name or ""), "from")
    message["To"] = [_address(a, "to") for a in to]
    if cc:
        message["Cc"] = [_address(a, "cc") for a in cc]
    message["Subject"] = guard_header(subject, "subject") if exact_subject else reply_subject(subject, ticket_number)
    message["Date"] = format_datetime(date)
    message["Message-ID"] = own_id
    if parent:
        message["In-Reply-To"] = parent
    thread = reply_references(references, parent)
    if thread:
        message["References"] = " ".join(thread)
    if auto_submitted:
        # RFC 3834: a robot's mail; and ask Exchange/Outlook not to answer it with an out-of-office.
        message["Auto-Submitted"] = "auto-replied"
        message["X-Auto-Response-Suppress"] = "All"

    # Base64 for non-ASCII text: 8-bit bodies are not safe through every relay.
    cte = None if text.isascii() else "base64"
    message.set_content(text, cte=cte)
    page = text_to_html(text)
    message.add_alternative(page, subtype="html", cte=None if page.isascii() else "base64")
    for attachment in attachments:
        guard_header(attachment.filename, "attachments.filename")
        if not _CONTENT_TYPE.match(guard_header(attachment.content_type, "attachments.contentType")):
            raise InvalidInput(f"not a content type: {attachment.content_type!r}", field=["attachments"])
        maintype, subtype = attachment.content_type.lower().split("/", 1)
        message.add_attachment(attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename)
    return message


def _address(address: MailAddress, field_name: str) -> Address:
    """A header address; a Chinese display name is RFC 2047-encoded by the policy when written."""
    spec = guard_header(address.address, field_name).strip()
    name = guard_header(address.name, field_name)
    local, at, domain = spec.rpartition("@")
    if not (at and local and domain) or any(c.isspace() for c in spec):
        raise InvalidInput(f"not a mail address: {spec!r}", field=[field_name])
    try:
        return Address(display_name=name, addr_spec=spec)
    except (ValueError, IndexError) as exc:  # the stdlib's address parser refused it
        raise InvalidInput(f"not a mail address: {spec!r}", field=[field_name]) from exc


def build_system_mail(
    *, sender: str, to: Sequence[MailAddress], subject: str, text: str, message_id: str, date: datetime
) -> EmailMessage:
    """Mail of the helpdesk itself, about no ticket (a sign-in link): from HELPDESK_MAIL_FROM,
    marked as a robot's (RFC 3834 auto-generated) so nobody's autoresponder answers it."""
    if not to:
        raise InvalidInput("a mail needs at least one recipient", field=["to"])
    own_id = normalize_message_id(guard_header(message_id, "messageId"))
    if own_id is None:
        raise InvalidInput("the Message-ID must look like <id@domain>", field=["messageId"])
    message = EmailMessage(policy=SMTP)
    message["From"] = _address(MailAddress(sender, ""), "from")
    message["To"] = [_address(a, "to") for a in to]
    message["Subject"] = guard_header(subject, "subject")
    message["Date"] = format_datetime(date)
    message["Message-ID"] = own_id
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(text, cte=None if text.isascii() else "base64")
    return message
