"""The demo's outgoing mail, caught: `helpdesk serve --demo` points HELPDESK_SMTP_URL at a local
SMTP sink (app.demo.mail_sink) that writes every message it receives into a spool directory,
and the "sent mail" example page lists that directory through GET /demo/mail. A newcomer sees
the customer's side of every reply and acknowledgement without a mail server.

The sink runs on its own thread and event loop in the `helpdesk serve` process, so it keeps
catching mail whatever uvicorn does with its workers; the spool is plain .eml files, which any
worker process can read.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from app.demo.mail_sink import CapturedMail, MailSink

log = logging.getLogger("helpdesk.demo.mail")

# The page shows the newest messages; older ones stay in the spool.
PAGE_SIZE = 200
TEXT_LIMIT = 20_000


def start_sink_thread(spool: Path, port: int = 0) -> int:
    """Starts the sink on 127.0.0.1 (`port` 0: a free one) on a daemon thread of its own (its
    file writes block only that thread's loop); returns its port once it listens. It stops with
    the process."""
    spool.mkdir(parents=True, exist_ok=True)
    started: list[int] = []
    ready = threading.Event()
    failure: list[BaseException] = []
    already = len(list(spool.glob("*.eml")))  # numbering goes on after an earlier run's mail

    async def run() -> None:
        try:
            sink = await MailSink(port=port).start()
        except BaseException as exc:  # handed to the caller: the port may be taken
            failure.append(exc)
            ready.set()
            return
        started.append(sink.port)
        ready.set()
        written, taken = already, 0
        while True:
            messages = await sink.wait_for(taken + 1)
            for mail in messages[taken:]:
                written += 1
                _write(spool, written, mail)
            taken = len(messages)

    threading.Thread(target=lambda: asyncio.run(run()), name="demo-mail-sink", daemon=True).start()
    ready.wait(timeout=10)
    if failure:
        raise failure[0]
    if not started:
        raise RuntimeError("the demo mail sink did not start")
    return started[0]


def _write(spool: Path, number: int, mail: CapturedMail) -> None:
    name = f"{mail.received_at:%Y%m%dT%H%M%S}-{number:06d}.eml"
    partial = spool / f".{name}"
    partial.write_bytes(mail.raw)
    partial.replace(spool / name)  # readers never see half a message
    log.info("demo mail to %s: %s", ", ".join(mail.recipients), mail.subject)


def sent_mail(spool: Path, limit: int = PAGE_SIZE) -> list[dict[str, Any]]:
    """The newest `limit` caught messages, newest first, as the page shows them."""
    files = sorted(spool.glob("[0-9]*.eml"), reverse=True)[:limit] if spool.is_dir() else []
    return [_summary(path) for path in files]


def _summary(path: Path) -> dict[str, Any]:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(message, EmailMessage)
    body = message.get_body(preferencelist=("plain", "html"))
    try:
        text = str(body.get_content()) if body is not None else ""
    except (LookupError, ValueError):  # a charset Python does not know: show what can be shown
        text = "(the text could not be decoded)"
    return {
        "file": path.name,
        "date": str(message.get("Date", "")),
        "from": str(message.get("From", "")),
        "to": str(message.get("To", "")),
        "subject": str(message.get("Subject", "")),
        "messageId": str(message.get("Message-ID", "")),
        "inReplyTo": str(message.get("In-Reply-To", "")),
        "references": str(message.get("References", "")),
        "autoSubmitted": str(message.get("Auto-Submitted", "")),
        "text": text[:TEXT_LIMIT],
        "attachments": [
            {"filename": part.get_filename() or "", "contentType": part.get_content_type()}
            for part in message.iter_attachments()
        ],
    }
