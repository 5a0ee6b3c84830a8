"""Database invariants every fault must leave intact (checked after each fault test)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

# Each query returns the rows that break its rule: none is the pass.
CHECKS = {
    "every ticket has exactly one CREATED event": """
        SELECT t.id, count(e.id) FROM tickets t
        LEFT JOIN ticket_events e ON e.ticket_id = t.id AND e.type = 'CREATED'
        GROUP BY t.id HAVING count(e.id) <> 1""",
    "no event carries a version the ticket has not reached": """
        SELECT e.id, e.ticket_id, (e.data->>'version')::int, t.version FROM ticket_events e
        JOIN tickets t ON t.id = e.ticket_id
        WHERE e.data ? 'version' AND (e.data->>'version')::int > t.version""",
    "every ticket version above 1 was announced by an event": """
        SELECT t.id, t.version FROM tickets t WHERE t.version > 1 AND NOT EXISTS (
            SELECT 1 FROM ticket_events e WHERE e.ticket_id = t.id AND (e.data->>'version')::int = t.version)""",
    "every idempotency key names a ticket that exists": """
        SELECT k.scope, k.key FROM idempotency_keys k
        WHERE k.scope = 'createTicket' AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.id = k.resource_id)""",
    "every SLA notification has its event": """
        SELECT n.clock_id, n.kind FROM sla_notifications n WHERE NOT EXISTS (
            SELECT 1 FROM ticket_events e WHERE e.type = 'SLA_' || n.kind
            AND (e.data->>'clockId')::bigint = n.clock_id)""",
    "no two events share a cursor": """
        SELECT txid, id FROM ticket_events GROUP BY txid, id HAVING count(*) > 1""",
}


async def broken_invariants(engine: AsyncEngine) -> dict[str, list[tuple[object, ...]]]:
    found: dict[str, list[tuple[object, ...]]] = {}
    async with engine.connect() as conn:
        for rule, query in CHECKS.items():
            rows = [tuple(row) for row in (await conn.execute(text(query))).all()]
            if rows:
                found[rule] = rows[:10]
    return found


async def assert_invariants(engine: AsyncEngine) -> None:
    broken = await broken_invariants(engine)
    assert not broken, broken
