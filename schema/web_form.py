"""The public web form's input and answer."""

from __future__ import annotations

import strawberry

from schema.common import JSON, Payload, Upload


@strawberry.input(description="What the public web form sends; no sign-in needed.")
class WebFormInput:
    name: str
    email: str
    subject: str
    description: str
    category: str | None = None
    custom_fields: JSON | None = None
    language: str | None = None
    attachments: list[Upload] | None = None
    website: str | None = strawberry.field(
        default=None, description="Left empty by people; a form filled by a bot sets it and is quietly dropped."
    )


@strawberry.type
class WebFormPayload(Payload):
    ticket_number: int | None = strawberry.field(
        default=None, description="The number the customer quotes; null when refused."
    )
