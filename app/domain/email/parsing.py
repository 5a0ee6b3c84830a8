"""Raw inbound mail -> `ParsedMessage`, or `Rejected` with the reason. Nothing raises.

The stdlib `email` package does the MIME work (policy.default: RFC 2047 words, RFC 2231
parameters, quoted-printable, base64); this module adds the limits, GB18030 for GB labels,
the choice of body and which parts are attachments.
"""

from __future__ import annotations

import base64
import binascii
import os
import quopri
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import errors as email_errors
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from email.policy import EmailPolicy, compat32
from email.utils import parsedate_to_datetime
from enum import StrEnum
from functools import cached_property
from typing import Any, cast

from app.domain.email.addresses import MailAddress
from app.domain.email.charsets import clean_header_text, clean_text, decode_text, readable_header_value
from app.domain.email.conversation_match import subject_ticket_numbers
from app.domain.email.html_text import html_to_text
from app.domain.email.leaf_blocks import InboundPart, LeafBlockParser, body_runs
from app.domain.email.message_ids import message_ids_in, normalize_message_id
from app.domain.email.quotes import trim_quoted


@dataclass(frozen=True)
class MailLimits:
    """What one inbound message may be; past any of these it is REJECTED."""

    max_bytes: int = 40 * 1024 * 1024
    max_parts: int = 1000
    max_depth: int = 20
    max_header_repeats: int = 100


DEFAULT_LIMITS = MailLimits()


class RejectReason(StrEnum):
    TOO_LARGE = "TOO_LARGE"
    MALFORMED = "MALFORMED"
    NO_SENDER = "NO_SENDER"
    TOO_MANY_PARTS = "TOO_MANY_PARTS"
    TOO_DEEP = "TOO_DEEP"
    TOO_MANY_HEADERS = "TOO_MANY_HEADERS"


@dataclass(frozen=True)
class Rejected:
    reason: RejectReason
    detail: str


@dataclass(frozen=True)
class MailPart:
    """An attachment or inline image. `filename` is a display name only (no directories), or None.

    The content is decoded when read, in pieces (`chunks`): a 25 MB attachment is never held
    decoded beside the message it came in."""

    filename: str | None
    content_type: str
    source: Message = field(repr=False, compare=False)
    content_id: str | None = None
    inline: bool = False

    def chunks(self) -> Iterator[bytes]:
        """The decoded content, in non-empty pieces of at most about a megabyte."""
        if self.source.get_content_maintype() == "message":
            inner = mime_children(self.source)
            data = _message_bytes(inner[0]) if inner else b""
            return iter([data] if data else [])
        return decoded_chunks(self.source)

    @property
    def content(self) -> bytes:
        return b"".join(self.chunks())

    @cached_property
    def size(self) -> int:
        return sum(len(chunk) for chunk in self.chunks())


@dataclass(frozen=True)
class ParsedMessage:
    """One inbound mail, decoded. Every str is safe to store (no NUL, no lone surrogates)."""

    sender: MailAddress
    subject: str
    message_id: str | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    # The body as text: text/plain when there is one, else the HTML turned into text.
    text: str
    # `text` without the quoted history: what becomes the comment.
    reply_text: str
    html: str | None = None
    reply_to: tuple[MailAddress, ...] = ()
    to: tuple[MailAddress, ...] = ()
    cc: tuple[MailAddress, ...] = ()
    date: datetime | None = None
    attachments: tuple[MailPart, ...] = ()
    # The stdlib tree, for rules that read headers or structure (bounce reports).
    message: EmailMessage | None = field(default=None, repr=False, compare=False)

    def header(self, name: str) -> str | None:
        """The first value of a top-level header, decoded to one clean line, or None.

        Headers are decoded when asked for: a message may carry a million of them.
        """
        return None if self.message is None else _header_text(self.message, name)


# The stdlib header parser is quadratic in time and memory (a 5 MB Subject takes minutes, 300 KB
# of encoded words take gigabytes), so it never sees more of one header than this. Real headers
# are far shorter: 16 KB is a To line with some 600 addresses.
MAX_HEADER_CHARS = 16 * 1024

# References kept from an inbound message: the thread's first and the newest ones.
MAX_REFERENCES = 100


class _InboundPolicy(EmailPolicy):
    """policy.default, reading GB labels as GB18030 and raw 8-bit header bytes as UTF-8 or GB18030,
    and cutting each header value at MAX_HEADER_CHARS before parsing it."""

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if isinstance(value, str) and not hasattr(value, "name"):
            value = readable_header_value(value[:MAX_HEADER_CHARS])
        return super().header_fetch_parse(name, value)


_POLICY = _InboundPolicy()

# Structure broken beyond reading: a multipart whose parts cannot be found.
_BROKEN_STRUCTURE = (
    email_errors.NoBoundaryInMultipartDefect,
    email_errors.StartBoundaryNotFoundDefect,
    email_errors.MultipartInvariantViolationDefect,
)


class _TooManyParts(Exception):
    pass


class _PartCounter:
    """The parser's message factory, stopping the parse at the part limit: the stdlib spends
    ~0.2 ms per part, and 40 MB hold a million of them."""

    def __init__(self, limit: int) -> None:
        # FeedParser calls the factory once at start to learn its signature.
        self._left = limit + 1

    def __call__(self, policy: EmailPolicy) -> InboundPart:
        self._left -= 1
        if self._left < 0:
            raise _TooManyParts
        return InboundPart(policy=policy)


# How much of the message is read at a time, and how much encoded content is decoded at a time.
CHUNK = 1024 * 1024
# How much the parser is fed at a time.
FEED = 64 * 1024


def parse_message(raw: bytes, limits: MailLimits = DEFAULT_LIMITS) -> ParsedMessage | Rejected:
    """Read one message. Bad input is a `Rejected` with the reason; no exception escapes."""
    if len(raw) > limits.max_bytes:
        return Rejected(RejectReason.TOO_LARGE, f"the message is {len(raw)} bytes; the limit is {limits.max_bytes}")
    view = memoryview(raw)
    return parse_message_chunks((bytes(view[i : i + CHUNK]) for i in range(0, len(raw), CHUNK)), limits)


def parse_message_chunks(chunks: Iterable[bytes], limits: MailLimits = DEFAULT_LIMITS) -> ParsedMessage | Rejected:
    """Read one message handed over in pieces (a staged file read a chunk at a time), so the raw
    bytes are never held whole beside the parsed tree, and a large part's body is kept in blocks
    (see leaf_blocks). Same outcomes as `parse_message`."""
    try:
        factory = cast("Callable[[], InboundPart]", _PartCounter(limits.max_parts))
        parser = LeafBlockParser(factory, _POLICY)
        size = 0
        for chunk in chunks:
            size += len(chunk)
            if size > limits.max_bytes:
                return Rejected(RejectReason.TOO_LARGE, f"the message is over the limit of {limits.max_bytes} bytes")
            # In slices: the parser holds what it is fed several times over while it cuts lines.
            view = memoryview(chunk)
            for start in range(0, len(chunk), FEED):
                parser.feed(bytes(view[start : start + FEED]))
        message = parser.close()
        if not isinstance(message, EmailMessage):  # the factory only makes EmailMessage; for the type checker
            return Rejected(RejectReason.MALFORMED, "unreadable MIME message")
        return _structure_problem(message, limits) or _read(message)
    except _TooManyParts:
        return Rejected(RejectReason.TOO_MANY_PARTS, f"more than {limits.max_parts} MIME parts")
    except RecursionError:
        # The stdlib parses nested multiparts recursively: nesting past Python's stack is too deep.
        return Rejected(RejectReason.TOO_DEEP, f"MIME parts nest deeper than {limits.max_depth}")
    except Exception as exc:
        return Rejected(RejectReason.MALFORMED, f"unreadable MIME message ({type(exc).__name__})")


def conversation_keys(raw: bytes) -> frozenset[str] | None:
    """What ties a message to others of its conversation, read from its headers alone the way
    `parse_message` reads them: its own Message-ID, the ids it answers (In-Reply-To, References)
    and the `[#number]` tags of its subject (as `#number`). A message sharing no key with another
    cannot be threaded onto it. None when the headers cannot be read."""
    ends = [i for i in (raw.find(b"\n\n"), raw.find(b"\n\r\n")) if i >= 0]
    try:
        headers = BytesHeaderParser(InboundPart, policy=_POLICY).parsebytes(raw[: min(ends) + 1] if ends else raw)
        own = normalize_message_id(_raw_header(headers, "Message-ID"))
        answered = {*message_ids_in(_raw_header(headers, "In-Reply-To")), *_references(headers)}
        tags = {f"#{n}" for n in subject_ticket_numbers(_header_text(headers, "Subject") or "")}
    except Exception:
        return None
    return frozenset({*answered, *tags, *([own] if own else [])})


def _structure_problem(message: Message, limits: MailLimits) -> Rejected | None:
    """The first limit the MIME tree breaks, walked without recursion."""
    stack: list[tuple[Message, int]] = [(message, 0)]
    count = 0
    while stack:
        part, depth = stack.pop()
        count += 1
        if count > limits.max_parts:
            return Rejected(RejectReason.TOO_MANY_PARTS, f"more than {limits.max_parts} MIME parts")
        if depth > limits.max_depth:
            return Rejected(RejectReason.TOO_DEEP, f"MIME parts nest deeper than {limits.max_depth}")
        repeats = Counter(name.lower() for name, _ in part.raw_items())
        if repeats:
            name, times = repeats.most_common(1)[0]
            if times > limits.max_header_repeats:
                return Rejected(
                    RejectReason.TOO_MANY_HEADERS,
                    f"{times} {name!r} header lines; the limit is {limits.max_header_repeats}",
                )
        broken = next((d for d in part.defects if isinstance(d, _BROKEN_STRUCTURE)), None)
        if broken is not None:
            return Rejected(RejectReason.MALFORMED, f"malformed MIME structure: {type(broken).__name__}")
        stack.extend((child, depth + 1) for child in mime_children(part))
    return None


def mime_children(part: Message) -> list[Message]:
    """The parts inside a multipart or an attached message ([] for a leaf)."""
    payload = part.get_payload() if part.is_multipart() else None
    return [child for child in payload if isinstance(child, Message)] if isinstance(payload, list) else []


def _read(message: EmailMessage) -> ParsedMessage | Rejected:
    senders = _addresses(message, "From")
    if not senders:
        return Rejected(RejectReason.NO_SENDER, "no usable From address")
    plain = _body_part(message, "plain")
    html_part = _body_part(message, "html")
    html = _part_text(html_part) if html_part is not None else None
    text = _part_text(plain) if plain is not None else ""
    if not text.strip() and html:
        text = html_to_text(html)
    return ParsedMessage(
        sender=senders[0],
        subject=_header_text(message, "Subject") or "",
        message_id=normalize_message_id(_raw_header(message, "Message-ID")),
        in_reply_to=message_ids_in(_raw_header(message, "In-Reply-To")),
        references=_references(message),
        text=text,
        reply_text=trim_quoted(text),
        html=html,
        reply_to=_addresses(message, "Reply-To"),
        to=_addresses(message, "To"),
        cc=_addresses(message, "Cc"),
        date=_date(message),
        attachments=tuple(_attachments(message, skip=(plain, html_part))),
        message=message,
    )


def _header_text(part: Message, name: str) -> str | None:
    """A header as one clean line, or None when absent or unreadable."""
    try:
        value = part.get(name)
    except Exception:  # the stdlib header parser has raised on odd values; one header is not the mail
        return None
    return None if value is None else clean_header_text(str(value))


def _raw_header(message: Message, name: str) -> str | None:
    """A header's value as it came, unparsed: ids are ASCII tokens, and a long References line
    must not be cut at MAX_HEADER_CHARS (its newest ids are at the end)."""
    name = name.lower()
    return next((str(value) for key, value in message.raw_items() if key.lower() == name), None)


def _references(message: Message) -> tuple[str, ...]:
    ids = message_ids_in(_raw_header(message, "References"))
    return ids if len(ids) <= MAX_REFERENCES else (ids[0], *ids[-(MAX_REFERENCES - 1) :])


def _addresses(message: Message, name: str) -> tuple[MailAddress, ...]:
    """Usable mailboxes (`local@domain`) of an address header, groups flattened."""
    try:
        header = message.get(name)
        found = list(getattr(header, "addresses", ()))
    except Exception:
        return ()
    result = []
    for address in found:
        try:
            spec = clean_header_text(address.addr_spec)
            display = clean_header_text(address.display_name or "")
        except Exception:
            continue
        local, at, domain = spec.rpartition("@")
        if at and local and domain and " " not in spec:
            result.append(MailAddress(address=spec, name=display))
    return tuple(result)


def _date(message: Message) -> datetime | None:
    raw = _header_text(message, "Date")
    if not raw:
        return None
    try:
        value = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _body_part(message: EmailMessage, subtype: str) -> EmailMessage | None:
    try:
        part = message.get_body(preferencelist=(subtype,))
    except Exception:
        return None
    return part if isinstance(part, EmailMessage) else None


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    return clean_text(decode_text(payload, part.get_content_charset()))


def _attachments(message: Message, skip: tuple[Message | None, ...]) -> list[MailPart]:
    """Leaf parts other than the body that carry content: a file name, disposition attachment,
    a Content-ID (inline images), or any non-text type. An attached message is one part, whole."""
    parts: list[MailPart] = []
    stack: list[Message] = [message]
    while stack:
        part = stack.pop()
        if any(part is s for s in skip):
            continue
        maintype = part.get_content_maintype()
        children = mime_children(part)
        if maintype == "multipart":
            stack.extend(reversed(children))
            continue
        if maintype == "message":
            if part.get_content_type() in ("message/rfc822", "message/global") and children:
                parts.append(_part(part, default_name="message.eml"))
            continue
        filename = _filename(part)
        content_id = _content_id(part)
        disposition = part.get_content_disposition()
        if filename or content_id or disposition == "attachment" or maintype != "text":
            parts.append(_part(part))
    return parts


def _part(part: Message, default_name: str | None = None) -> MailPart:
    disposition = part.get_content_disposition()
    content_id = _content_id(part)
    return MailPart(
        filename=_filename(part) or default_name,
        content_type=part.get_content_type(),
        source=part,
        content_id=content_id,
        inline=disposition == "inline" or (disposition is None and content_id is not None),
    )


def decoded_chunks(part: Message, run: int = CHUNK) -> Iterator[bytes]:
    """A leaf's content with its transfer encoding undone, a piece at a time: what
    `get_payload(decode=True)` returns, joined, without building it whole. Base64 and
    quoted-printable are decoded a run of whole lines at a time (both encodings end their units
    at line ends); anything else (7bit, 8bit, binary, the rare uuencode) as the stdlib does it."""
    runs = body_runs(part, run)
    encoding = str(part.get("content-transfer-encoding", "")).lower()
    if runs is None:
        whole = part.get_payload(decode=True)
        if isinstance(whole, bytes) and whole:
            yield whole
    elif encoding == "base64":
        yield from _base64_chunks(runs)
    elif encoding == "quoted-printable":
        for text in runs:
            if data := quopri.decodestring(_payload_bytes(text)):
                yield data
    elif encoding in ("", "7bit", "8bit", "binary"):
        for text in runs:
            yield _payload_bytes(text)
    else:
        whole = part.get_payload(decode=True)
        if isinstance(whole, bytes) and whole:
            yield whole


def _payload_bytes(text: str) -> bytes:
    """The payload's bytes as the stdlib gets them (the parser keeps 8-bit bytes as surrogates)."""
    try:
        return text.encode("ascii", "surrogateescape")
    except UnicodeError:
        return text.encode("raw-unicode-escape")


_NOT_BASE64 = bytes(b for b in range(256) if not (chr(b).isascii() and (chr(b).isalnum() or chr(b) in "+/=")))


def _base64_chunks(runs: Iterable[str]) -> Iterator[bytes]:
    """Whole 4-character groups decoded as they come; from the first padding character on, the
    rest is decoded leniently in one go, as the stdlib does (a broken tail loses only itself)."""
    carry = b""
    for text in runs:
        data = carry + _payload_bytes(text).translate(None, _NOT_BASE64)
        if b"=" in data:
            carry = data
            continue
        whole = len(data) - len(data) % 4
        carry = data[whole:]
        if whole:
            yield binascii.a2b_base64(data[:whole])
    if carry and (tail := _lenient_base64(carry)):
        yield tail


def _lenient_base64(data: bytes) -> bytes:
    """The stdlib's leniency (email._encoded_words.decode_b): padding added, else bad characters
    skipped, else the bytes as they are."""
    try:
        return base64.b64decode(data + b"=" * (-len(data) % 4), validate=True)
    except binascii.Error:
        pass
    for attempt in (data, data + b"=="):
        try:
            return base64.b64decode(attempt, validate=False)
        except binascii.Error:
            pass
    return data


def _content_id(part: Message) -> str | None:
    """The Content-ID without angle brackets (what `cid:` URLs in the HTML name)."""
    value = (_header_text(part, "Content-ID") or "").strip().strip("<>").strip()
    return value or None


def _filename(part: Message) -> str | None:
    """The file name a sender gave, as a display name: no directories, no control characters."""
    try:
        name = part.get_filename()
    except Exception:
        return None
    if not name:
        return None
    name = clean_header_text(str(name)).replace("\\", "/")
    name = os.path.basename(name).strip().lstrip(".")
    return name[:255] or None


def _message_bytes(inner: Message) -> bytes:
    """An attached message as bytes. compat32 writes headers back as they came, without refolding
    (policy.default can raise on a header it cannot fold)."""
    try:
        return inner.as_bytes(policy=compat32)
    except Exception:
        return b""
