"""Inbound mail becomes a ticket, a reply on the ticket it answers, or a record of why not.

`ingest_email` (bytes) and `ingest_email_file` (a stream: the upload, the mailgate's pipe) are one
transaction per message. The raw message is streamed into a staged file, parsed from that file a
piece at a time, and each attachment decoded straight into its own staged file: the raw bytes,
the parsed tree and the decoded attachments are never all in memory at once.

The Message-ID (or, without one, the sha256 of the raw bytes) is claimed first through a unique
index on `inbound_messages`, so a message handed in twice, even by two relays at the same moment,
is taken once; the other gets DUPLICATE. The raw message is kept in the blob store for every
outcome but DUPLICATE.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from sqlalchemy import func, literal, select, union_all, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.policy import require_mail_intake
from app.db import tables
from app.db.repositories.mailboxes import mailboxes_by_ids
from app.db.repositories.people import customer_erased
from app.db.repositories.rows import among, any_of_ids, columns_for
from app.db.repositories.tickets import TICKET_COLUMNS
from app.domain import validation as v
from app.domain.email.classification import AutoReply, Bounce, classify
from app.domain.email.conversation_match import (
    KnownTicket,
    NewTicket,
    NewTicketRelatedTo,
    Reply,
    ThreadDecision,
    lookup_keys,
    match_conversation,
)
from app.domain.email.parsing import (
    CHUNK,
    MailLimits,
    MailPart,
    ParsedMessage,
    Rejected,
    RejectReason,
    parse_message_chunks,
)
from app.domain.enums import Channel, EmailIngestOutcome, TicketLinkKind, TicketStatus
from app.domain.errors import InvalidInput, NotFound
from app.domain.principal import Principal
from app.domain.records import CommentRecord, MailboxRecord, TicketRecord
from app.events.outbox import Outbox
from app.services import email_outbox
from app.services import tickets as ticket_service
from app.services.attachments import StagedUploads, attach_files
from app.services.conversation import record_customer_reply
from app.services.customers import CustomerRef
from app.services.lifecycle import lock_with_parent
from app.services.relations import link_locked
from app.services.runtime import Runtime
from app.services.ticket_changes import SYSTEM, lock_ticket
from app.storage import BlobStore, IncomingFile, StagedFile

im, mq, cm, t, cu = (
    tables.inbound_messages,
    tables.mail_quarantine,
    tables.comments,
    tables.tickets,
    tables.customers,
)
Outcome = EmailIngestOutcome
# A merged ticket points at the one it went into; a chain longer than this is not followed.
MAX_MERGE_HOPS = 10
NO_SUBJECT = "(no subject)"
NO_TEXT = "(no text)"


@dataclass(frozen=True, slots=True)
class IngestResult:
    outcome: EmailIngestOutcome
    ticket: TicketRecord | None = None
    comment: CommentRecord | None = None
    # Why a REJECTED message was rejected.
    rejected: Rejected | None = None


def _read(blobs: BlobStore, raw: StagedFile, limits: MailLimits) -> ParsedMessage | Rejected:
    """What the worker thread makes of the staged message."""
    if raw.file.size > limits.max_bytes:
        return Rejected(RejectReason.TOO_LARGE, f"the message is larger than {limits.max_bytes} bytes")
    with blobs.open_staged(raw) as staged:
        parsed = parse_message_chunks(iter(partial(staged.read, CHUNK), b""), limits)
    if isinstance(parsed, Rejected):
        return parsed
    problems = v.Problems()
    v.email(problems, parsed.sender.address, ["from"])
    if problems.items:
        return Rejected(RejectReason.NO_SENDER, "the sender's address is not a valid email address")
    return parsed


async def ingest_email(rt: Runtime, principal: Principal | None, mailbox_id: int, raw: bytes) -> IngestResult:
    """`ingest_email_file` for a message already in memory (the IMAP fetcher's)."""
    return await ingest_email_file(rt, principal, mailbox_id, _bytes_file("message.eml", "message/rfc822", raw))


async def ingest_email_file(
    rt: Runtime, principal: Principal | None, mailbox_id: int, message: IncomingFile, *, quarantine: bool = True
) -> IngestResult:
    """Takes one raw RFC 5322 message for the mailbox, read from `message` a piece at a time.
    `principal` None is the system (the mailgate and the fetcher); otherwise an admin or an API
    token (FORBIDDEN for other callers).

    Outcomes: CREATED_TICKET (a new ticket, channel EMAIL, the customer found or created from
    From, the mailbox's group unless a routing rule routes it); ADDED_REPLY (a customer reply, as
    addCustomerReply: PENDING to OPEN, RESOLVED reopened); a reply to a CLOSED ticket is a new
    ticket linked RELATED; DUPLICATE (this Message-ID was taken before, nothing changed; the first
    ticket and comment are returned); IGNORED_AUTO_REPLY and IGNORED_BOUNCE (recorded only; a
    permanent bounce marks the customer's emailBouncedAt); REJECTED (unreadable, or larger than
    HELPDESK_MAX_EMAIL_BYTES: kept in mail_quarantine, nothing else; of a message too large only
    the first limit + 1 bytes are read and kept). With `quarantine` False a REJECTED message is
    not written anywhere (a retry from the quarantine records the outcome itself)."""
    if principal is not None:
        require_mail_intake(principal)
    limits = MailLimits(max_bytes=rt.settings.max_email_bytes)
    # One byte past the limit is enough to know the message is too large.
    raw_blob = await rt.blobs.stage(_capped(message, limits.max_bytes + 1), limits.max_bytes + 1, ["message"])
    try:
        # Parsing a large or hostile message is CPU work of seconds: not on the event loop.
        parsed = await asyncio.to_thread(_read, rt.blobs, raw_blob, limits)
        # The mailbox is read in the transaction that takes the message (one connection per
        # message, not two): an unknown one is NOT_FOUND there, and nothing is written.
        if isinstance(parsed, Rejected):
            return await _quarantine(rt, mailbox_id, raw_blob, parsed, quarantine)
        async with _staged_attachments(rt, parsed.attachments) as (files, dropped):
            return await _take(rt, principal, mailbox_id, raw_blob, parsed, files, dropped)
    finally:
        await rt.blobs.discard(raw_blob)  # nothing to do once published


async def _mailbox(conn: AsyncConnection, mailbox_id: int) -> MailboxRecord:
    mailbox = (await mailboxes_by_ids(conn, [mailbox_id])).get(mailbox_id)
    if mailbox is None:
        raise NotFound("no such mailbox", ["mailboxId"])
    return mailbox


async def _quarantine(
    rt: Runtime, mailbox_id: int, raw_blob: StagedFile, rejected: Rejected, keep: bool = True
) -> IngestResult:
    if not keep:
        async with rt.reader.connect() as conn:
            await _mailbox(conn, mailbox_id)
    else:
        async with rt.transaction() as tx:
            mailbox = await _mailbox(tx.conn, mailbox_id)
            await rt.blobs.publish(raw_blob)
            await tx.conn.execute(
                pg_insert(mq).values(
                    mailbox_id=mailbox.id,
                    raw_sha256=raw_blob.file.sha256,
                    size=raw_blob.file.size,
                    reason=str(rejected.reason),
                    detail=rejected.detail[:1000],
                    received_at=rt.clock.now(),
                )
            )
    return IngestResult(Outcome.REJECTED, rejected=rejected)


@asynccontextmanager
async def _staged_attachments(
    rt: Runtime, parts: Sequence[MailPart]
) -> AsyncIterator[tuple[StagedUploads, list[MailPart]]]:
    """Each attachment decoded straight into its own staged file, one at a time, before the
    transaction opens. One over HELPDESK_MAX_ATTACHMENT_BYTES is left out (and named in the
    text); whatever is not published when the block ends is discarded."""
    staged: list[StagedFile] = []
    dropped: list[MailPart] = []
    try:
        for i, part in enumerate(parts):
            try:
                field = ["message", "attachments", str(i)]
                staged.append(await rt.blobs.stage(_part_file(part), rt.settings.max_attachment_bytes, field))
            except InvalidInput:  # the only refusal of stage: the size limit
                dropped.append(part)
        yield StagedUploads(rt.blobs, staged), dropped
    finally:
        for s in staged:
            await rt.blobs.discard(s)  # nothing to do for the published ones


async def _take(
    rt: Runtime,
    principal: Principal | None,
    mailbox_id: int,
    raw_blob: StagedFile,
    parsed: ParsedMessage,
    files: StagedUploads,
    dropped: Sequence[MailPart],
) -> IngestResult:
    now = rt.clock.now()
    async with rt.transaction() as tx:
        mailbox = await _mailbox(tx.conn, mailbox_id)
        claim = await tx.conn.scalar(
            pg_insert(im)
            .values(
                mailbox_id=mailbox.id,
                message_id=parsed.message_id,
                outcome=Outcome.DUPLICATE.value,  # set below, in this transaction
                raw_sha256=raw_blob.file.sha256,
                received_at=now,
            )
            .on_conflict_do_nothing(index_elements=[im.c.mailbox_id, func.coalesce(im.c.message_id, im.c.raw_sha256)])
            .returning(im.c.id)
        )
        if claim is None:
            return await _first_taken(tx.conn, mailbox.id, parsed.message_id, raw_blob.file.sha256)
        await rt.blobs.publish(raw_blob)
        kind = classify(parsed, own_addresses=[mailbox.address])
        result = await _outcome(rt, tx, principal, mailbox, parsed, kind, files, dropped)
        await tx.conn.execute(
            update(im)
            .where(im.c.id == claim)
            .values(
                outcome=result.outcome.value,
                ticket_id=result.ticket.id if result.ticket else None,
                comment_id=result.comment.id if result.comment else None,
            )
        )
    return result


async def _outcome(
    rt: Runtime,
    tx: Outbox,
    principal: Principal | None,
    mailbox: MailboxRecord,
    parsed: ParsedMessage,
    kind: Bounce | AutoReply | None,
    files: StagedUploads,
    dropped: Sequence[MailPart],
) -> IngestResult:
    now = rt.clock.now()
    if isinstance(kind, Bounce):
        await _mark_bounced(tx, kind, now)
        return IngestResult(Outcome.IGNORED_BOUNCE)
    if isinstance(kind, AutoReply):
        return IngestResult(Outcome.IGNORED_AUTO_REPLY)
    decision = await _thread(tx.conn, parsed)
    if isinstance(decision, Reply):
        ticket, parent = await lock_with_parent(tx, None, decision.ticket_id)
        if await customer_erased(tx.conn, ticket.customer_id):
            # Erased since the lookup: the message starts afresh, with a customer of its own.
            decision = NewTicket()
        elif TicketStatus(ticket.status) is not TicketStatus.CLOSED:  # it may have closed since the lookup
            body = _storable(parsed.reply_text.strip() or parsed.text, rt.settings.max_description_length, dropped)
            relayed_by = principal.agent_id if principal else None
            comment, updated = await record_customer_reply(
                tx, ticket, parent, body, files, now, relayed_by, parsed.message_id, erasure_checked=True
            )
            return IngestResult(Outcome.ADDED_REPLY, updated, comment)
        else:
            decision = NewTicketRelatedTo(ticket.id)
    ticket = await _new_ticket(rt, tx, mailbox, parsed, files, dropped)
    if isinstance(decision, NewTicketRelatedTo):
        earlier = await lock_ticket(tx.conn, None, decision.ticket_id)
        ticket = await link_locked(tx, ticket, earlier, TicketLinkKind.RELATED, SYSTEM, now)
    return IngestResult(Outcome.CREATED_TICKET, ticket)


async def _new_ticket(
    rt: Runtime,
    tx: Outbox,
    mailbox: MailboxRecord,
    parsed: ParsedMessage,
    files: StagedUploads,
    dropped: Sequence[MailPart],
) -> TicketRecord:
    s = rt.settings
    data = ticket_service.NewTicket(
        subject=_storable(parsed.subject, s.max_subject_length) or NO_SUBJECT,
        description=_storable(parsed.text, s.max_description_length, dropped) or NO_TEXT,
        channel=Channel.EMAIL,
        customer=CustomerRef(email=parsed.sender.address, name=_storable(parsed.sender.name, 200) or None),
    )
    intake = ticket_service.validated_intake(rt, data)
    now = rt.clock.now()
    ticket = await ticket_service.insert_ticket(
        rt, tx, None, data, intake, now, mailbox_id=mailbox.id, default_group_id=mailbox.group_id
    )
    await attach_files(tx, ticket, files, None, SYSTEM, now)
    if mailbox.acknowledgement_template:
        await email_outbox.queue_acknowledgement(
            tx, ticket, mailbox.acknowledgement_template, mailbox.address, parsed.message_id, parsed.references, now
        )
    return ticket


# The tickets of Message-IDs we sent (comments) or took (inbound messages), in one statement;
# a comment's ticket wins over an inbound message's (source 0 before 1).
_TICKETS_BY_MESSAGE_ID = union_all(
    select(cm.c.message_id, cm.c.ticket_id, literal(0).label("source")).where(
        any_of_ids(cm.c.message_id), cm.c.ticket_id.isnot(None)
    ),
    select(im.c.message_id, im.c.ticket_id, literal(1).label("source")).where(
        any_of_ids(im.c.message_id), im.c.ticket_id.isnot(None)
    ),
)


async def _thread(conn: AsyncConnection, parsed: ParsedMessage) -> ThreadDecision:
    """Looks up what the message points at (stored and sent Message-IDs, [#number] tags) and asks
    the domain where it goes."""
    keys = lookup_keys(parsed.in_reply_to, parsed.references, parsed.subject)
    by_message_id: dict[str, int] = {}
    if keys.message_ids:
        rows = await conn.execute(_TICKETS_BY_MESSAGE_ID, {"ids": list(keys.message_ids)})
        for message_id, ticket_id, _ in sorted(rows, key=lambda row: row.source):
            by_message_id.setdefault(message_id, ticket_id)
    by_number: dict[int, int] = {}
    if keys.ticket_numbers:
        rows = await conn.execute(select(t.c.number, t.c.id).where(among(t.c.number, keys.ticket_numbers)))
        by_number = {number: ticket_id for number, ticket_id in rows}
    known = await _known_tickets(conn, [*by_message_id.values(), *by_number.values()])
    return match_conversation(
        in_reply_to=parsed.in_reply_to,
        references=parsed.references,
        subject=parsed.subject,
        sender=parsed.sender.address,
        tickets_by_message_id={m: known[i] for m, i in by_message_id.items() if i in known},
        tickets_by_number={n: known[i] for n, i in by_number.items() if i in known},
    )


async def _known_tickets(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, KnownTicket]:
    """Each ticket as the domain needs it; a merged one stands for the ticket it went into."""
    query = select(t.c.id, t.c.status, t.c.merged_into_id, cu.c.email).join(cu, cu.c.id == t.c.customer_id)
    rows = {r.id: r for r in await conn.execute(query.where(among(t.c.id, list(set(ids)))))} if ids else {}
    for _ in range(MAX_MERGE_HOPS):
        targets = {r.merged_into_id for r in rows.values() if r.merged_into_id is not None} - rows.keys()
        if not targets:
            break
        rows.update({r.id: r for r in await conn.execute(query.where(among(t.c.id, list(targets))))})
    known: dict[int, KnownTicket] = {}
    for ticket_id in ids:
        row, hops = rows.get(ticket_id), 0
        while row is not None and row.merged_into_id is not None and hops < MAX_MERGE_HOPS:
            row, hops = rows.get(row.merged_into_id), hops + 1
        if row is not None:
            known[ticket_id] = KnownTicket(row.id, TicketStatus(row.status), row.email)
    return known


async def _mark_bounced(tx: Outbox, bounce: Bounce, now: datetime) -> None:
    """A permanent failure stops mail to the address and fails the delivery it reports on."""
    addresses = bounce.permanently_failed
    if not addresses:
        return
    await tx.conn.execute(
        update(cu)
        .where(func.lower(cu.c.email).in_([a.lower() for a in addresses]), cu.c.email_bounced_at.is_(None))
        .values(email_bounced_at=now)
    )
    await email_outbox.fail_bounced_delivery(tx, bounce, now)


async def _first_taken(conn: AsyncConnection, mailbox_id: int, message_id: str | None, sha256: str) -> IngestResult:
    """DUPLICATE, with the ticket and comment the first copy made (when it made any)."""
    key = message_id if message_id is not None else sha256
    row = (
        await conn.execute(
            select(im.c.ticket_id, im.c.comment_id).where(
                im.c.mailbox_id == mailbox_id, func.coalesce(im.c.message_id, im.c.raw_sha256) == key
            )
        )
    ).first()
    ticket = comment = None
    if row is not None and row.ticket_id is not None:
        found = (await conn.execute(select(*TICKET_COLUMNS).where(t.c.id == row.ticket_id))).first()
        ticket = TicketRecord(*found) if found else None
    if row is not None and row.comment_id is not None:
        found = (await conn.execute(select(*columns_for(cm, CommentRecord)).where(cm.c.id == row.comment_id))).first()
        comment = CommentRecord(*found) if found else None
    return IngestResult(Outcome.DUPLICATE, ticket, comment)


def _storable(text: str, limit: int, dropped: Sequence[MailPart] = ()) -> str:
    """Text as a ticket stores it: control characters other than tab and newlines removed, cut at
    `limit`, with a line for each attachment too large to keep (so the agent knows one came)."""
    notes = "".join(
        f"\n\n[attachment {p.filename or 'unnamed'} ({p.size} bytes) exceeded the size limit]" for p in dropped
    )
    clean = "".join(ch for ch in text if ch in "\t\n\r" or ord(ch) >= 32).strip()
    return (clean[: max(0, limit - len(notes))] + notes).strip()[:limit]


def _bytes_file(name: str | None, content_type: str, data: bytes) -> IncomingFile:
    buffer = io.BytesIO(data)

    async def read(size: int) -> bytes:
        return buffer.read(size)

    return IncomingFile(filename=name, content_type=content_type, read=read)


def _part_file(part: MailPart) -> IncomingFile:
    """The attachment's decoded content, a piece (up to a megabyte) per read, whatever size is
    asked: decoding one piece takes about a millisecond, so it stays on the event loop."""
    pieces = part.chunks()

    async def read(size: int) -> bytes:
        return next(pieces, b"")

    return IncomingFile(filename=part.filename, content_type=part.content_type, read=read)


def _capped(upload: IncomingFile, limit: int) -> IncomingFile:
    """The upload up to `limit` bytes; what follows is never read."""
    left = limit

    async def read(size: int) -> bytes:
        nonlocal left
        if left <= 0:
            return b""
        chunk = await upload.read(min(size, left))
        left -= len(chunk)
        return chunk

    return IncomingFile(filename=upload.filename, content_type=upload.content_type, read=read)
