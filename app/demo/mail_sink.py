"""A recording SMTP server on loopback: what the helpdesk sends, kept in memory.

`helpdesk serve --demo` runs one so a newcomer sees the customer's side of every reply without a
mail server; the tests run one to receive real SMTP. It takes every message (no relaying, no
authentication), optionally offers STARTTLS, and can refuse the next transactions with a chosen
reply (451 to make the sender retry, 550 to make it give up) so failures are real SMTP answers,
and can hold its answer to DATA (`pause`) to catch a sender between "sent" and "knows it".

    async with MailSink() as sink:
        ...  # point the helpdesk at 127.0.0.1:sink.port
        sink.refuse(451, times=2)
        async with asyncio.timeout(30):
            [mail] = await sink.wait_for(1)
        mail.subject, mail.in_reply_to, mail.text
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from types import TracebackType
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from app.domain.email.message_ids import message_ids_in, normalize_message_id

# Replies the sink gives when told to refuse, by code (RFC 5321 4.2.2 wording with RFC 3463 codes).
_REFUSALS = {
    421: "421 4.3.2 Service not available, closing transmission channel",
    450: "450 4.2.1 Mailbox unavailable, try again later",
    451: "451 4.3.0 Local error in processing, try again later",
    452: "452 4.3.1 Insufficient system storage",
    550: "550 5.1.1 Mailbox unavailable: no such user",
    552: "552 5.2.2 Mailbox full",
    553: "553 5.1.3 Mailbox name not allowed",
    554: "554 5.7.1 Transaction failed",
}


@dataclass(frozen=True)
class CapturedMail:
    """One message as the sink received it: the SMTP envelope, the raw bytes and the headers a
    reader looks at first (decoded; '' or None when absent)."""

    mail_from: str
    recipients: tuple[str, ...]
    raw: bytes = field(repr=False)
    received_at: datetime
    message: EmailMessage = field(repr=False, compare=False)

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    @property
    def from_(self) -> str:
        return str(self.message.get("From", ""))

    @property
    def to(self) -> tuple[str, ...]:
        header = self.message.get("To")
        return tuple(str(a) for a in header.addresses) if header is not None else ()

    @property
    def message_id(self) -> str | None:
        return normalize_message_id(self.message.get("Message-ID"))

    @property
    def in_reply_to(self) -> str | None:
        return normalize_message_id(self.message.get("In-Reply-To"))

    @property
    def references(self) -> tuple[str, ...]:
        return message_ids_in(self.message.get("References"))

    def header(self, name: str) -> str | None:
        value = self.message.get(name)
        return None if value is None else str(value)

    @property
    def text(self) -> str:
        """The text/plain body with plain line breaks ('' when there is none)."""
        body = self.message.get_body(preferencelist=("plain",))
        return str(body.get_content()).replace("\r\n", "\n") if body is not None else ""

    @property
    def html(self) -> str | None:
        body = self.message.get_body(preferencelist=("html",))
        return str(body.get_content()) if body is not None else None

    @property
    def attachments(self) -> list[tuple[str | None, str, bytes]]:
        """(filename, content type, content) of each attachment, in order."""
        return [
            (part.get_filename(), part.get_content_type(), _payload(part)) for part in self.message.iter_attachments()
        ]


def _payload(part: EmailMessage) -> bytes:
    content = part.get_payload(decode=True)
    return content if isinstance(content, bytes) else b""


class MailSink:
    """An SMTP server on `host`:`port` (0: a free port, read `.port` after `start`) that records
    every message in `.messages`. With `tls`, STARTTLS is offered and required before MAIL."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None) -> None:
        self.host = host
        self._requested_port = port
        self.tls = tls
        self.messages: list[CapturedMail] = []
        self._port: int | None = None
        self._server: asyncio.AbstractServer | None = None
        self._refusals: list[str] = []
        self._arrived = asyncio.Condition()
        self._answering = asyncio.Event()
        self._answering.set()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the sink is not started")
        return self._port

    @property
    def url(self) -> str:
        """An HELPDESK_SMTP_URL that points at this sink."""
        return f"smtp://{self.host}:{self.port}" + ("?starttls=true" if self.tls else "")

    def refuse(self, code: int, times: int = 1, reply: str | None = None) -> None:
        """Answers the next `times` transactions with `code` (at RCPT, so for every recipient of
        that message): 4xx makes a sender retry, 5xx tells it the recipient is refused for good."""
        line = reply or _REFUSALS.get(code) or f"{code} {'4.0.0' if code < 500 else '5.0.0'} Refused by the sink"
        if not line.startswith(str(code)):
            line = f"{code} {line}"
        self._refusals.extend([line] * times)

    def pause(self) -> None:
        """Records each message that arrives from now on but leaves its sender waiting for the
        answer to DATA until `resume`: the moment "the server has it, the sender does not know"."""
        self._answering.clear()

    def resume(self) -> None:
        self._answering.set()

    def clear(self) -> None:
        """Forgets the recorded messages and pending refusals."""
        self.messages.clear()
        self._refusals.clear()

    async def wait_for(self, count: int) -> list[CapturedMail]:
        """The recorded messages once there are at least `count` (wrap in `asyncio.timeout`)."""
        async with self._arrived:
            await self._arrived.wait_for(lambda: len(self.messages) >= count)
        return list(self.messages)

    def to(self, address: str) -> list[CapturedMail]:
        """The messages whose envelope names `address` (compared case-insensitively)."""
        key = address.lower()
        return [m for m in self.messages if key in (r.lower() for r in m.recipients)]

    async def start(self) -> MailSink:
        loop = asyncio.get_running_loop()
        handler = _Recorder(self)

        def protocol() -> SMTP:
            # A fixed hostname: the default asks DNS for the machine's FQDN on every connection.
            return SMTP(
                handler,
                hostname="mail-sink.localhost",
                enable_SMTPUTF8=True,
                tls_context=self.tls,
                require_starttls=self.tls is not None,
                loop=loop,
            )

        self._server = await loop.create_server(protocol, host=self.host, port=self._requested_port)
        self._port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> MailSink:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def _take_refusal(self) -> str | None:
        return self._refusals.pop(0) if self._refusals else None

    async def _record(self, envelope: Envelope) -> None:
        raw = envelope.original_content or b""
        parsed = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(parsed, EmailMessage)
        mail = CapturedMail(
            mail_from=envelope.mail_from or "",
            recipients=tuple(envelope.rcpt_tos),
            raw=raw,
            received_at=datetime.now(UTC),
            message=parsed,
        )
        async with self._arrived:
            self.messages.append(mail)
            self._arrived.notify_all()


class _Recorder:
    """aiosmtpd's handler: decides refusals per transaction and records accepted messages."""

    def __init__(self, sink: MailSink) -> None:
        self._sink = sink

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        # Decided once per transaction, so a refused message with two recipients uses one refusal.
        envelope.refusal = self._sink._take_refusal()  # type: ignore[attr-defined]
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        refusal: str | None = getattr(envelope, "refusal", None)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> Any:
        await self._sink._record(envelope)
        await self._sink._answering.wait()
        return "250 OK: queued"
