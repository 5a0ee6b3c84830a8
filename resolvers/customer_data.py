"""Root fields of customers' data (issue 18, scope 6): merging two customers, exporting one, erasing one."""

from __future__ import annotations

import strawberry

from app.auth.policy import Action
from app.services import customer_erasure, customer_export, customer_merge
from resolvers.access import Info, may_read, principal_of
from resolvers.payloads import customer_payload, decode_id, reports_user_errors
from schema.common import JSON
from schema.payloads import CustomerDataExportPayload, CustomerPayload


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

    @strawberry.mutation(
        description="Admins. Removes the customer's personal data for good, keeps anonymous ticket statistics."
    )
    @reports_user_errors(CustomerPayload)
    async def erase_customer(self, info: Info, id: strawberry.ID, reason: str) -> CustomerPayload:
        principal = principal_of(info)
        pk = decode_id(id, "Customer", ["id"])
        record = await customer_erasure.erase_customer(info.context.rt, principal, pk, reason)
        return customer_payload(info, record)


@strawberry.type
class CustomerDataQuery:
    @strawberry.field(description="Supervisors and admins; the export is also recorded as an event.")
    @reports_user_errors(CustomerDataExportPayload)
    async def customer_data_export(self, info: Info, id: strawberry.ID) -> CustomerDataExportPayload:
        principal = may_read(info, Action.EXPORT_CUSTOMER_DATA)
        pk = decode_id(id, "Customer", ["id"])
        export = await customer_export.export_customer_data(info.context.rt, principal, pk)
        return CustomerDataExportPayload(export=JSON(export))
