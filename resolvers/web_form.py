"""Root mutation of the public web form (anonymous; signed-in callers may use it too)."""

from __future__ import annotations

import strawberry

from app.services import web_form
from resolvers.access import Info
from resolvers.payloads import reports_user_errors
from resolvers.uploads import incoming
from schema.web_form import WebFormInput, WebFormPayload


@strawberry.type
class WebFormMutation:
    @strawberry.mutation(
        description="Anonymous; rate-limited per client address; suggests articles first in the page, not here."
    )
    @reports_user_errors(WebFormPayload)
    async def submit_web_form(
        self, info: Info, input: WebFormInput, idempotency_key: str | None = None
    ) -> WebFormPayload:
        form = web_form.WebForm(
            name=input.name,
            email=input.email,
            subject=input.subject,
            description=input.description,
            category=input.category,
            custom_fields=input.custom_fields,  # type: ignore[arg-type]
            language=input.language,
            attachments=incoming(input.attachments),
            website=input.website,
        )
        ticket = await web_form.submit_web_form(
            info.context.rt, info.context.principal, form, info.context.client_address, idempotency_key
        )
        # A filled honeypot: no number and no error (README, "Web form").
        return WebFormPayload(ticket_number=ticket.number if ticket is not None else None)
