"""Root fields of customers signing in by link (issue 18, scope 1): asking for a link, using it,
and the signed-in customer."""

from __future__ import annotations

import strawberry

from app.services import customer_sign_in
from resolvers.access import Info
from resolvers.payloads import reports_user_errors
from schema.payloads import CustomerSignInPayload, RequestSignInPayload
from schema.people import Customer, load_customer


@strawberry.type
class CustomerSignInMutation:
    @strawberry.mutation(
        description="Anonymous. Sends a one-time sign-in link to the address if it belongs to a customer."
    )
    @reports_user_errors(RequestSignInPayload)
    async def request_customer_sign_in(self, info: Info, email: str) -> RequestSignInPayload:
        await customer_sign_in.request_sign_in(info.context.rt, email, info.context.client_address)
        return RequestSignInPayload(accepted=True)

    @strawberry.mutation
    @reports_user_errors(CustomerSignInPayload)
    async def customer_sign_in(self, info: Info, link_token: str) -> CustomerSignInPayload:
        signed_in = await customer_sign_in.sign_in(info.context.rt, link_token)
        return CustomerSignInPayload(token=signed_in.token, customer=Customer.of(signed_in.customer))


@strawberry.type
class CustomerSignInQuery:
    @strawberry.field(description="The signed-in customer (customer sessions only).")
    async def current_customer(self, info: Info) -> Customer | None:
        customer = info.context.customer
        return await load_customer(info, customer.customer_id) if customer is not None else None
