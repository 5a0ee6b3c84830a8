"""Root fields of the email channel: mailboxes (admins) and handing in raw mail."""

from __future__ import annotations

import strawberry

from app.auth.policy import Action, require_mail_intake
from app.domain.email.mailbox_settings import ImapInput, SmtpInput
from app.domain.email.mailbox_settings import MailboxInput as MailboxData
from app.domain.enums import MailSecurity
from app.services import email_ingest, mailboxes
from resolvers.access import Info, may_read, principal_of
from resolvers.payloads import decode_id, decode_optional_id, ingest_payload, reports_user_errors
from resolvers.uploads import incoming
from schema import ids
from schema.common import Upload
from schema.email import Mailbox, MailboxInput
from schema.payloads import DeletePayload, IngestEmailPayload, MailboxPayload


def _mailbox_input(input: MailboxInput) -> MailboxData:
    imap, smtp = input.imap, input.smtp
    return MailboxData(
        name=input.name,
        address=input.address,
        group_id=decode_optional_id(input.group_id, "Group", ["input", "groupId"]),
        enabled=True if input.enabled is None else input.enabled,
        imap=None
        if imap is None
        else ImapInput(
            host=imap.host,
            port=imap.port,
            security=MailSecurity(imap.security),
            username=imap.username,
            password=imap.password,
            folder=imap.folder,
        ),
        smtp=None
        if smtp is None
        else SmtpInput(
            host=smtp.host,
            port=smtp.port,
            security=MailSecurity(smtp.security),
            username=smtp.username,
            password=smtp.password,
            from_name=smtp.from_name,
        ),
        acknowledgement_template=input.acknowledgement_template,
    )


@strawberry.type
class EmailQuery:
    @strawberry.field
    async def mailboxes(self, info: Info) -> list[Mailbox]:
        principal = may_read(info, Action.MANAGE_MAILBOXES)
        return [Mailbox.of(r) for r in await mailboxes.list_mailboxes(info.context.rt, principal)]


@strawberry.type
class EmailMutation:
    @strawberry.mutation
    @reports_user_errors(MailboxPayload)
    async def create_mailbox(self, info: Info, input: MailboxInput) -> MailboxPayload:
        principal = principal_of(info)
        record = await mailboxes.create_mailbox(info.context.rt, principal, _mailbox_input(input))
        return MailboxPayload(mailbox=Mailbox.of(record))

    @strawberry.mutation
    @reports_user_errors(MailboxPayload)
    async def update_mailbox(self, info: Info, id: strawberry.ID, input: MailboxInput) -> MailboxPayload:
        principal = principal_of(info)
        pk = decode_id(id, "Mailbox", ["id"])
        record = await mailboxes.update_mailbox(info.context.rt, principal, pk, _mailbox_input(input))
        return MailboxPayload(mailbox=Mailbox.of(record))

    @strawberry.mutation
    @reports_user_errors(DeletePayload)
    async def delete_mailbox(self, info: Info, id: strawberry.ID) -> DeletePayload:
        principal = principal_of(info)
        pk = decode_id(id, "Mailbox", ["id"])
        await mailboxes.delete_mailbox(info.context.rt, principal, pk)
        return DeletePayload(deleted_id=ids.encode("Mailbox", pk))

    @strawberry.mutation(description="A raw RFC 5322 message for a mailbox, from a mail relay: admins and API tokens.")
    @reports_user_errors(IngestEmailPayload)
    async def ingest_email(self, info: Info, mailbox_id: strawberry.ID, message: Upload) -> IngestEmailPayload:
        principal = principal_of(info)
        # The caller first, then the bytes: a refused caller's upload is never read (review finding 8).
        require_mail_intake(principal)
        rt = info.context.rt
        pk = decode_id(mailbox_id, "Mailbox", ["mailboxId"])
        (upload,) = incoming([message])
        result = await email_ingest.ingest_email_file(rt, principal, pk, upload)
        return await ingest_payload(info, result)
