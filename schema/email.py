"""The email channel: mailboxes (admins configure them) and what ingesting a message returns."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.auth.policy import Action, allows
from app.domain.records import EmailDeliveryRecord, MailboxRecord
from schema import ids
from schema.common import Node
from schema.context import Context
from schema.enums import EmailDeliveryStatus, MailSecurity
from schema.people import Group, load_group

Info = strawberry.Info[Context, None]


@strawberry.type(description="Where the mail copy of a reply stands.")
class EmailDelivery:
    status: EmailDeliveryStatus
    to: list[str]
    message_id: str
    attempts: int
    last_error: str | None
    sent_at: datetime | None

    @classmethod
    def of(cls, r: EmailDeliveryRecord) -> EmailDelivery:
        return cls(
            status=EmailDeliveryStatus(r.status),
            to=list(r.to_addresses),
            message_id=r.message_id,
            attempts=r.attempts,
            last_error=r.last_error,
            sent_at=r.sent_at,
        )


@strawberry.type
class ImapSettings:
    host: str
    port: int
    security: MailSecurity
    username: str
    folder: str


@strawberry.type
class SmtpSettings:
    host: str
    port: int
    security: MailSecurity
    username: str | None
    from_name: str | None = strawberry.field(description="Display name on outgoing mail, e.g. 客服中心.")


def _may_read_settings(info: Info) -> bool:
    """Server names and user names are the admins'; an agent meets a mailbox on a ticket and
    reads its name and address only."""
    principal = info.context.principal
    return principal is not None and allows(principal, Action.MANAGE_MAILBOXES)


@strawberry.type(
    description=(
        "A support address. Mail that reaches it becomes a ticket, or a reply on the ticket it answers. "
        "Passwords are write-only."
    )
)
class Mailbox(Node):
    id: strawberry.ID
    name: str
    address: str = strawberry.field(description="The address customers write to, e.g. support@example.cn.")
    enabled: bool
    acknowledgement_template: str | None
    last_fetched_at: datetime | None
    last_error: str | None = strawberry.field(description="The last fetch or send failure, until the next success.")
    created_at: datetime
    record: strawberry.Private[MailboxRecord]

    @classmethod
    def of(cls, r: MailboxRecord) -> Mailbox:
        return cls(
            id=ids.encode("Mailbox", r.id),
            record=r,
            name=r.name,
            address=r.address,
            enabled=r.enabled,
            acknowledgement_template=r.acknowledgement_template,
            last_fetched_at=r.last_fetched_at,
            last_error=r.last_error,
            created_at=r.created_at,
        )

    @strawberry.field(description="Where new tickets from this mailbox go before routing rules run.")
    async def group(self, info: Info) -> Group | None:
        return await load_group(info, self.record.group_id)

    @strawberry.field(description="Admins only; null for everyone else.")
    def imap(self, info: Info) -> ImapSettings | None:
        r = self.record
        if r.imap_host is None or not _may_read_settings(info):
            return None
        return ImapSettings(
            host=r.imap_host,
            port=r.imap_port or 0,
            security=MailSecurity(r.imap_security or MailSecurity.TLS),
            username=r.imap_username or "",
            folder=r.imap_folder or "INBOX",
        )

    @strawberry.field(description="Admins only; null for everyone else.")
    def smtp(self, info: Info) -> SmtpSettings | None:
        r = self.record
        if r.smtp_host is None or not _may_read_settings(info):
            return None
        return SmtpSettings(
            host=r.smtp_host,
            port=r.smtp_port or 0,
            security=MailSecurity(r.smtp_security or MailSecurity.STARTTLS),
            username=r.smtp_username,
            from_name=r.smtp_from_name,
        )


async def load_mailbox(info: Info, pk: int | None) -> Mailbox | None:
    if pk is None:
        return None
    record = await info.context.loaders.mailbox.load(pk)
    return Mailbox.of(record) if record else None


@strawberry.input
class ImapSettingsInput:
    host: str
    port: int
    password: str
    username: str
    security: MailSecurity = MailSecurity.TLS
    folder: str | None = "INBOX"


@strawberry.input
class SmtpSettingsInput:
    host: str
    port: int
    security: MailSecurity = MailSecurity.STARTTLS
    username: str | None = None
    password: str | None = None
    from_name: str | None = None


@strawberry.input
class MailboxInput:
    name: str
    address: str
    group_id: strawberry.ID | None = None
    enabled: bool | None = True
    imap: ImapSettingsInput | None = None
    smtp: SmtpSettingsInput | None = None
    acknowledgement_template: str | None = None
