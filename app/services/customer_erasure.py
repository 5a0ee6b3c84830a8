"""Erasing a customer (a data-subject request): their personal data goes for good, the shape of
their tickets (counts, times, statuses, assignees) stays for reports.

Where personal data lives, and what erasure does with it (README "Customers' data" lists the
same):
- customers: the name becomes ERASED_NAME; email, phone, company, language, tags, externalRefs
  and the bounce mark are cleared; erased_at is set (intake no longer finds or uses the row).
- customer_aliases (contacts of customers merged into this one): deleted.
- tickets of the customer: subject, description and resolution become ERASED_TEXT, custom fields
  and externalRef are cleared; the search document is rebuilt.
- comments on those tickets (the customer's, and agents' replies and notes, which quote and
  address them) and the customer's comments anywhere: body ERASED_TEXT, Message-ID cleared.
- attachments of those tickets and comments: rows deleted; bytes deleted after commit when no
  other row references them (blobs are content-addressed and may be shared).
- inbound_messages of those tickets: the raw mail's bytes deleted (the row keeps its outcome and
  times; its digest is replaced so nothing references the bytes).
- email_deliveries of those tickets or to the customer's address: recipients, subject and body
  cleared; a queued one is failed rather than sent.
- ticket_events of those tickets: data words scrubbed (app.domain.erasure.scrub_event_data);
  webhook_deliveries of those tickets: the body's data likewise, the response kept no more.
- notifications about those tickets: a message that quotes them becomes ERASED_TEXT.
- satisfaction_ratings of those tickets: the comment (the score stays).
- article_searches: a query naming the customer (agents search by name) becomes ERASED_TEXT.
Left as they are: customer_data_exports (who exported, when: no personal data), knowledge
articles drawn from a ticket (reviewed, published text), quarantined mail (unreadable, so it
names no customer we know), configuration (rules, automations) that an admin wrote.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Table, bindparam, case, delete, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import Text

from app.auth.policy import Action, require
from app.db import tables
from app.db.repositories.rows import among, columns_for
from app.db.repositories.tickets import TICKET_COLUMNS
from app.domain import validation as v
from app.domain.enums import EmailDeliveryStatus, TicketEventType
from app.domain.erasure import ERASED_NAME, ERASED_TEXT, needles, scrub_event_data, scrub_json
from app.domain.errors import NotFound, PreconditionFailed
from app.domain.principal import Principal
from app.domain.records import CustomerRecord, TicketRecord
from app.events.outbox import Outbox
from app.services.customer_sign_in import revoke_customer_credentials
from app.services.runtime import Runtime
from app.services.ticket_changes import Actor, record
from app.services.ticket_search import reindex_ticket

cu, al, t, cm, at = tables.customers, tables.customer_aliases, tables.tickets, tables.comments, tables.attachments
im, ed, te, wd = tables.inbound_messages, tables.email_deliveries, tables.ticket_events, tables.webhook_deliveries
nt, sr, asr = tables.notifications, tables.satisfaction_ratings, tables.article_searches
MAX_REASON = 500
TRIES = 3
RETRIED = {"40P01", "40001"}  # deadlock_detected, serialization_failure


async def erase_customer(rt: Runtime, principal: Principal, customer_id: int, reason: str) -> CustomerRecord:
    """Removes the customer's personal data in one transaction (see the module docstring for
    every table) and writes a CUSTOMER_ERASED event on each of their tickets. An intake or a
    reply racing the erasure either lands before it (and is erased with the rest) or after it
    (and finds no customer to attach to: intake creates a new one, a reply is refused).
    Attachment bytes nothing else references are deleted after the commit. Erasing an erased
    customer is PRECONDITION_FAILED with nothing written."""
    require(principal, Action.ERASE_CUSTOMERS)
    problems = v.Problems()
    clean_reason = v.required_text(problems, reason, ["reason"], MAX_REASON)
    problems.raise_if_any()
    # Blobs written from here on (an upload of the same bytes meanwhile) are never removed.
    started = time.time()
    for attempt in range(TRIES):
        try:
            erased, blobs = await _erase(rt, principal, customer_id, clean_reason)
        except DBAPIError as exc:
            # A deadlock or serialization failure PostgreSQL resolved by aborting this side:
            # nothing was written, so the erasure is tried again.
            if getattr(exc.orig, "sqlstate", None) not in RETRIED or attempt == TRIES - 1:
                raise
            continue
        # Erased means signed out, on every process's cached sessions too.
        await rt.credentials_changed()
        await _remove_unreferenced(rt, blobs, started)
        return erased
    raise AssertionError("unreachable")  # pragma: no cover


async def _erase(rt: Runtime, principal: Principal, customer_id: int, reason: str) -> tuple[CustomerRecord, set[str]]:
    now = rt.clock.now()
    async with rt.transaction() as tx:
        conn = tx.conn
        # Tickets, then the customer, in id order: the order mergeCustomers and updateCustomer lock in.
        await conn.execute(select(t.c.id).where(t.c.customer_id == customer_id).order_by(t.c.id).with_for_update(of=t))
        row = (
            await conn.execute(
                select(*columns_for(cu, CustomerRecord), cu.c.erased_at).where(cu.c.id == customer_id).with_for_update()
            )
        ).first()
        if row is None:
            raise NotFound("no such customer", ["id"])
        if row.erased_at is not None:
            raise PreconditionFailed("this customer was erased already", ["id"])
        customer = CustomerRecord(*row[:-1])
        # Again under the customer's lock: a ticket an intake committed while we waited is erased too.
        tickets = [
            TicketRecord(*r)
            for r in await conn.execute(
                select(*TICKET_COLUMNS).where(t.c.customer_id == customer_id).order_by(t.c.id).with_for_update(of=t)
            )
        ]
        ids = [ticket.id for ticket in tickets]
        aliases = (await conn.execute(select(al.c.email, al.c.phone).where(al.c.customer_id == customer_id))).all()
        person = [
            customer.name,
            customer.email,
            customer.phone,
            customer.company,
            *[a.email for a in aliases],
            *[a.phone for a in aliases],
            *[value for value in customer.external_refs.values() if isinstance(value, str)],
        ]
        # Within their tickets, a text quoting a subject goes too; elsewhere only the person's
        # own strings are looked for (a subject's common words would erase others' texts).
        found = needles([*person, *[ticket.subject for ticket in tickets]])
        emails = [e for e in (customer.email, *[a.email for a in aliases]) if e]
        await _erase_profile(tx, customer_id, now)
        await _forget_rate_counts(tx, emails)
        # Their customer sessions and sign-in links go in this transaction: erased means signed out.
        await revoke_customer_credentials(conn, customer_id, now)
        blobs = await _erase_tickets(tx, customer_id, ids, found, emails, now)
        await _scrub_texts(tx, asr, asr.c.query, None, needles(person))
        actor = Actor.of(principal)
        shown_reason = scrub_json(reason, found)
        for ticket in await _bump_versions(tx, ids):
            await record(
                tx,
                ticket,
                TicketEventType.CUSTOMER_ERASED,
                actor,
                now,
                {"customerId": customer_id, "reason": shown_reason},
            )
        erased = CustomerRecord(
            *(await conn.execute(select(*columns_for(cu, CustomerRecord)).where(cu.c.id == customer_id))).one()
        )
    return erased, blobs


async def _erase_profile(tx: Outbox, customer_id: int, now: Any) -> None:
    await tx.conn.execute(
        update(cu)
        .where(cu.c.id == customer_id)
        .values(
            name=ERASED_NAME,
            email=None,
            phone=None,
            company=None,
            language=None,
            tags=[],
            external_refs={},
            email_bounced_at=None,
            erased_at=now,
            updated_at=now,
        )
    )
    await tx.conn.execute(delete(al).where(al.c.customer_id == customer_id))


async def _forget_rate_counts(tx: Outbox, emails: Sequence[str]) -> None:
    """The rate limits count requests per address ("email:<address>"): those rows name the person."""
    subjects = [f"email:{e.strip().lower()}" for e in emails]
    for table in (tables.customer_sign_in_requests, tables.web_form_submissions):
        await tx.conn.execute(delete(table).where(table.c.subject.in_(subjects)))


async def _erase_tickets(
    tx: Outbox, customer_id: int, ids: list[int], found: tuple[str, ...], emails: Sequence[str], now: Any
) -> set[str]:
    """Everything but the profile; returns the digests of the bytes the erased rows referenced."""
    conn = tx.conn
    await conn.execute(
        update(t)
        .where(among(t.c.id, ids))
        .values(
            subject=ERASED_TEXT,
            description=ERASED_TEXT,
            custom_fields={},
            external_ref=None,
            resolution=case((t.c.resolution.isnot(None), ERASED_TEXT), else_=None),
        )
    )
    touched = await conn.scalars(
        update(cm)
        .where(or_(among(cm.c.ticket_id, ids), cm.c.author_customer_id == customer_id))
        .values(body=ERASED_TEXT, message_id=None)
        .returning(cm.c.ticket_id)
    )
    reindexed = sorted({*ids, *touched})
    comment_ids = select(cm.c.id).where(or_(among(cm.c.ticket_id, ids), cm.c.author_customer_id == customer_id))
    blobs = set(
        await conn.scalars(
            delete(at).where(or_(among(at.c.ticket_id, ids), at.c.comment_id.in_(comment_ids))).returning(at.c.sha256)
        )
    )
    mail = or_(among(im.c.ticket_id, ids), im.c.comment_id.in_(comment_ids))
    blobs.update(await conn.scalars(select(im.c.raw_sha256).where(mail).with_for_update()))
    # Not a digest: the row keeps its outcome and times but references no bytes any more.
    await conn.execute(update(im).where(mail).values(raw_sha256=literal("erased:") + im.c.id.cast(Text)))
    for ticket_id in reindexed:
        await reindex_ticket(conn, ticket_id)
    await _erase_mail(tx, ids, emails, now)
    await _scrub_events(tx, ids, found)
    await conn.execute(
        update(sr).where(among(sr.c.ticket_id, ids), sr.c.comment.isnot(None)).values(comment=ERASED_TEXT)
    )
    await _scrub_texts(tx, nt, nt.c.message, among(nt.c.ticket_id, ids), found)
    return blobs


async def _erase_mail(tx: Outbox, ids: list[int], emails: Sequence[str], now: Any) -> None:
    """Mail about the tickets or to the customer's addresses (system mail has no ticket): what
    was sent is kept as a row (counts), without recipients or words; what was queued is not sent."""
    variants = sorted({form for e in emails for form in (e, e.lower())})
    about = among(ed.c.ticket_id, ids)
    if variants:
        about = or_(about, ed.c.to_addresses.overlap(literal(variants, ARRAY(Text))))
    await tx.conn.execute(
        update(ed)
        .where(about)
        .values(
            to_addresses=[],
            subject=ERASED_TEXT,
            body_text=ERASED_TEXT,
            last_error=case((ed.c.status == EmailDeliveryStatus.QUEUED.value, "customer erased"), else_=None),
            status=case(
                (ed.c.status == EmailDeliveryStatus.QUEUED.value, EmailDeliveryStatus.FAILED.value),
                else_=ed.c.status,
            ),
            next_attempt_at=None,
            updated_at=now,
        )
    )


async def _scrub_events(tx: Outbox, ids: list[int], found: tuple[str, ...]) -> None:
    """Event data, and the webhook bodies that copied it, without the customer's words."""
    conn = tx.conn
    events = (await conn.execute(select(te.c.id, te.c.data).where(among(te.c.ticket_id, ids)))).all()
    changed = [(e.id, scrub_event_data(e.data, found)) for e in events]
    changed = [(event_id, data) for (event_id, data), e in zip(changed, events, strict=True) if data != e.data]
    if changed:
        await conn.execute(
            update(te).where(te.c.id == bindparam("event_id")).values(data=bindparam("scrubbed")),
            [{"event_id": event_id, "scrubbed": data} for event_id, data in changed],
        )
    deliveries = (
        await conn.execute(select(wd.c.id, wd.c.body, wd.c.last_error).where(among(wd.c.ticket_id, ids)))
    ).all()
    if deliveries:
        await conn.execute(
            update(wd)
            .where(wd.c.id == bindparam("delivery_id"))
            .values(body=bindparam("scrubbed"), last_error=bindparam("error"), response_body=None),
            [
                {
                    "delivery_id": d.id,
                    "scrubbed": _scrubbed_body(d.body, found),
                    "error": scrub_json(d.last_error, found),
                }
                for d in deliveries
            ],
        )


def _scrubbed_body(body: str, found: tuple[str, ...]) -> str:
    document = orjson.loads(body)
    if isinstance(document, dict) and isinstance(document.get("data"), dict):
        document["data"] = scrub_event_data(document["data"], found)
    else:
        document = scrub_json(document, found)
    return orjson.dumps(document).decode()


async def _scrub_texts(
    tx: Outbox, table: Table, column: ColumnElement[Any], where: ColumnElement[bool] | None, found: tuple[str, ...]
) -> None:
    """Texts (notification messages, search queries) that mention a personal string become
    ERASED_TEXT. A case-insensitive substring test, as app.domain.erasure.scrub_json does."""
    if not found:
        return
    mentions = or_(*[func.strpos(func.lower(column), needle) > 0 for needle in found])
    condition = mentions if where is None else (where & mentions)
    await tx.conn.execute(update(table).where(condition).values({column.key: ERASED_TEXT}))


async def _bump_versions(tx: Outbox, ids: list[int]) -> list[TicketRecord]:
    """A new version for each erased ticket (an edit based on the old text conflicts); its
    times stay what they were, for reports."""
    if not ids:
        return []
    rows = await tx.conn.execute(
        update(t).where(among(t.c.id, ids)).values(version=t.c.version + 1).returning(*TICKET_COLUMNS)
    )
    return sorted((TicketRecord(*r) for r in rows), key=lambda ticket: ticket.id)


async def _remove_unreferenced(rt: Runtime, blobs: set[str], cutoff: float) -> None:
    """Deletes the erased rows' bytes that no other row references. Bytes published after
    `cutoff` (the same file uploaded again meanwhile) stay: the store checks their time."""
    if not blobs:
        return
    async with rt.reader.connect() as conn:
        referenced = await _referenced(conn, sorted(blobs))
    for sha256 in sorted(blobs - referenced):
        await rt.blobs.remove_if_before(sha256, cutoff)


async def _referenced(conn: AsyncConnection, digests: list[str]) -> set[str]:
    found: set[str] = set()
    for column in (at.c.sha256, im.c.raw_sha256, tables.mail_quarantine.c.raw_sha256):
        found.update(await conn.scalars(select(column).where(among(column, digests)).distinct()))
    return found
