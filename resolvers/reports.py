"""The report root field: supervisors and admins only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from app.auth.policy import Action
from app.domain.errors import DomainError
from app.reads.reports import helpdesk_report
from resolvers.access import Info, may_read
from schema import errors, ids
from schema.reports import HelpdeskReport


@strawberry.type
class ReportQuery:
    @strawberry.field(description="Supervisors and admins. Default time zone: the service's HELPDESK_TIMEZONE.")
    async def report(
        self,
        info: Info,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
        group_id: strawberry.ID | None = None,
        timezone: str | None = None,
    ) -> HelpdeskReport:
        may_read(info, Action.READ_REPORTS)
        rt = info.context.rt
        group = None
        if group_id is not None:
            group = ids.decode_as(group_id, "Group")
            if group is None:
                raise errors.invalid_argument("`groupId` is not a group id", argument="groupId")
        try:
            zone = rt.settings.timezone if timezone is None else timezone
            record = await helpdesk_report(rt.engine, from_, to, group, zone, now=rt.clock.now())
        except DomainError as error:
            # A query has no userErrors: bad arguments are a GraphQL error naming the argument.
            argument = error.field[0] if error.field else None
            raise errors.from_domain(error, argument=argument) from error
        return HelpdeskReport.of(record)
