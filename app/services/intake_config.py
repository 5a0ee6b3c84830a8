"""What intake decides by, cached per process: routing rules, custom field definitions, SLA
policies with their calendars, and groups.

They change rarely and every intake needs all of them, so each process keeps one copy and checks
it with one value per intake: `intake_config_version`, which a trigger on each of those tables
sets to the changing transaction's id (migration 0021). A transaction id never repeats, so an
equal value means the same configuration, in every process, with no message to lose. The check
runs in the intake's own transaction: a change committed before it is always seen, as when each
intake read the tables itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Text, cast, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import tables
from app.db.repositories import sla as sla_reads
from app.db.repositories.people import list_groups
from app.db.repositories.routing import enabled_rules
from app.db.repositories.ticket_fields import definitions
from app.domain.records import GroupRecord
from app.domain.routing import RoutingRule
from app.domain.sla import SlaConfig
from app.domain.ticket_fields import FieldDefinition

v = tables.intake_config_version


@dataclass(frozen=True, slots=True)
class IntakeConfig:
    version: int | None
    rules: tuple[RoutingRule, ...]
    fields: tuple[FieldDefinition, ...]
    sla: SlaConfig
    groups: dict[int, GroupRecord]

    def field_definitions(self, *, customer_facing: bool) -> list[FieldDefinition]:
        """As app.db.repositories.ticket_fields.definitions reads them."""
        return [d for d in self.fields if d.visible_to_customer or not customer_facing]


# The version as committed, and whether this very transaction wrote it (a configuration it
# has not committed is used, as it sees it, but never cached for others).
_VERSION = select(v.c.version, v.c.version == cast(cast(func.pg_current_xact_id_if_assigned(), Text), BigInteger))


class IntakeConfigCache:
    """One per process (on Runtime)."""

    def __init__(self) -> None:
        self._cached: IntakeConfig | None = None

    async def current(self, conn: AsyncConnection) -> IntakeConfig:
        """The configuration as `conn`'s transaction sees it now: one statement while unchanged."""
        row = (await conn.execute(_VERSION)).first()
        version, own = (row[0], bool(row[1])) if row is not None else (None, False)
        cached = self._cached
        if cached is not None and version is not None and cached.version == version:
            return cached
        # Read after the version: a change committed meanwhile is in what is read (stamped with
        # the older version, so the next intake reads again), never the other way round.
        config = IntakeConfig(
            version=version,
            rules=tuple(await enabled_rules(conn)),
            fields=tuple(await definitions(conn)),
            sla=await sla_reads.sla_config(conn),
            groups={group.id: group for group in await list_groups(conn)},
        )
        if version is not None and not own:
            self._cached = config
        return config

    def forget(self) -> None:
        self._cached = None
