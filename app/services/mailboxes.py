"""Mailboxes: the support addresses mail arrives at. Admins only; passwords are write-only and
stored encrypted (app.auth.secrets)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from app.auth.policy import Action, require
from app.auth.secrets import SecretKeyMissing, secret_box
from app.db import tables
from app.db.repositories.mailboxes import MAILBOX_COLUMNS, all_mailboxes, mailboxes_by_ids
from app.domain.email.mailbox_settings import CleanMailbox, MailboxInput, clean_mailbox
from app.domain.errors import Duplicate, NotFound, PreconditionFailed
from app.domain.principal import Principal
from app.domain.records import MailboxRecord
from app.services.runtime import Runtime

mb = tables.mailboxes


def _encrypted(rt: Runtime, clean: CleanMailbox, *, keep_smtp_password: bool) -> dict[str, Any]:
    values = dict(clean.columns)
    passwords = {"imap_password_encrypted": clean.imap_password, "smtp_password_encrypted": clean.smtp_password}
    if any(p is not None for p in passwords.values()):
        try:
            box = secret_box(rt.settings)
        except SecretKeyMissing as missing:
            raise PreconditionFailed(str(missing), ["input"]) from None
        passwords = {k: box.encrypt(p) if p is not None else None for k, p in passwords.items()}
    values["imap_password_encrypted"] = passwords["imap_password_encrypted"]
    if not (keep_smtp_password and clean.smtp_password is None and values["smtp_host"] is not None):
        values["smtp_password_encrypted"] = passwords["smtp_password_encrypted"]
    return values


def _refused(exc: IntegrityError) -> Exception:
    text = str(exc.orig)
    if "uq_mailboxes_address" in text:
        return Duplicate("a mailbox with this address already exists", ["input", "address"])
    if "fk_mailboxes_group_id_groups" in text:
        return NotFound("no such group", ["input", "groupId"])
    return exc


async def create_mailbox(rt: Runtime, principal: Principal, data: MailboxInput) -> MailboxRecord:
    require(principal, Action.MANAGE_MAILBOXES)
    values = _encrypted(rt, clean_mailbox(data), keep_smtp_password=False)
    now = rt.clock.now()
    try:
        async with rt.transaction() as tx:
            row = (
                await tx.conn.execute(
                    insert(mb).values(**values, created_at=now, updated_at=now).returning(*MAILBOX_COLUMNS)
                )
            ).one()
    except IntegrityError as exc:
        raise _refused(exc) from exc
    return MailboxRecord(*row)


async def update_mailbox(rt: Runtime, principal: Principal, mailbox_id: int, data: MailboxInput) -> MailboxRecord:
    """Replaces the settings. The IMAP password is always given with IMAP settings; an SMTP
    password left out keeps the stored one (a form never shows it, so it cannot send it back)."""
    require(principal, Action.MANAGE_MAILBOXES)
    values = _encrypted(rt, clean_mailbox(data), keep_smtp_password=True)
    try:
        async with rt.transaction() as tx:
            row = (
                await tx.conn.execute(
                    update(mb)
                    .where(mb.c.id == mailbox_id)
                    .values(**values, updated_at=rt.clock.now())
                    .returning(*MAILBOX_COLUMNS)
                )
            ).first()
    except IntegrityError as exc:
        raise _refused(exc) from exc
    if row is None:
        raise NotFound("no such mailbox", ["id"])
    return MailboxRecord(*row)


async def delete_mailbox(rt: Runtime, principal: Principal, mailbox_id: int) -> None:
    """Its tickets stay (their mailbox becomes null); its record of taken messages goes with it."""
    require(principal, Action.MANAGE_MAILBOXES)
    async with rt.transaction() as tx:
        deleted = await tx.conn.scalar(delete(mb).where(mb.c.id == mailbox_id).returning(mb.c.id))
    if deleted is None:
        raise NotFound("no such mailbox", ["id"])


async def list_mailboxes(rt: Runtime, principal: Principal) -> list[MailboxRecord]:
    require(principal, Action.MANAGE_MAILBOXES)
    async with rt.reader.connect() as conn:
        return await all_mailboxes(conn)


async def mailbox_passwords(rt: Runtime, mailbox_id: int) -> tuple[str | None, str | None]:
    """(IMAP, SMTP) passwords in plain text, for the fetcher and the sender; never for the API."""
    async with rt.reader.connect() as conn:
        row = (
            await conn.execute(
                select(mb.c.imap_password_encrypted, mb.c.smtp_password_encrypted).where(mb.c.id == mailbox_id)
            )
        ).first()
    if row is None:
        raise NotFound("no such mailbox", ["id"])
    box = secret_box(rt.settings)
    return tuple(box.decrypt(v) if v is not None else None for v in row)  # type: ignore[return-value]


async def mailboxes_for(rt: Runtime, ids: list[int]) -> dict[int, MailboxRecord]:
    async with rt.reader.connect() as conn:
        return await mailboxes_by_ids(conn, ids)
