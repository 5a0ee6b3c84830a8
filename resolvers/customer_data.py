"""Root fields of customers' data: merging two customers (issue 18, scope 6)."""

from __future__ import annotations

import strawberry

from app.services import customer_merge
from resolvers.access import Info, principal_of
from resolvers.payloads import customer_payload, decode_id, reports_user_errors
from schema.payloads import CustomerPayload


@strawberry.type
class CustomerDataMutation:
    @strawberry.mutation(description="Moves tickets, comments and ratings of source to target; source is deleted.")
    @reports_user_errors(CustomerPayload)
    async def merge_customers(self, info: Info, source_id: strawberry.ID, target_id: strawberry.ID) -> CustomerPayload:
        principal = principal_of(info)
        source = decode_id(source_id, "Customer", ["sourceId"])
        target = decode_id(target_id, "Customer", ["targetId"])
        record = await customer_merge.merge_customers(info.context.rt, principal, source, target)
        return customer_payload(info, record)
