"""Database invariants every fault must leave intact: the shared ones (tests/invariants.py)
and two that crashes in the middle of the SLA sweep or of event writing could break."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.invariants import ALWAYS, Invariant, violations

FAULTS = (
    Invariant(
        "every SLA notification has its one event",
        """
        SELECT n.clock_id, n.kind, count(e.id) FROM sla_notifications n
        LEFT JOIN ticket_events e ON e.type = 'SLA_' || n.kind AND (e.data->>'clockId')::bigint = n.clock_id
        GROUP BY n.clock_id, n.kind HAVING count(e.id) <> 1
        """,
    ),
    Invariant(
        "no two events share a cursor",
        "SELECT txid, id FROM ticket_events GROUP BY txid, id HAVING count(*) > 1",
    ),
)


async def assert_invariants(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        found = await violations(conn, ALWAYS + FAULTS)
    assert not found, "database invariants broken:\n" + "\n".join(found)
