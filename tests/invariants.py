"""Database invariants that hold after any sequence of API calls, checked with plain SQL.

The fuzz tests check them after a run of generated requests; the fault tests check them after a
crash or a lost connection. Each check is a query that returns the offending rows (none when the
invariant holds), so a failure names exactly what is wrong.

Use `violations_sync(connection)` with a synchronous SQLAlchemy connection, or
`await violations(async_connection)`; `assert_no_violations_sync(url)` does the whole thing for a
database URL (any driver spelling the project accepts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.engine import sync_url
from app.db.tables import metadata
from app.domain.enums import OPEN_STATUSES


@dataclass(frozen=True, slots=True)
class Invariant:
    name: str
    sql: str


_OPEN = ", ".join(f"'{s.value}'" for s in sorted(OPEN_STATUSES))

# Every change to a ticket bumps its version by exactly one (ticket_changes.apply_change) and
# writes at least one event stamped with the version after the change (ticket_changes.record);
# creation writes CREATED (and, when an agent is chosen at once, ASSIGNED) at version 1. Several
# events may share a version (UPDATED + PRIORITY_CHANGED, a status change + COMMENTED), and some
# events do not bump it (an attachment, an SLA warning, the ESCALATED notice of a breach), so
# the exact rule is on the versions the events carry, not on counting event types:
# the versions a ticket's events carry are exactly 1..tickets.version.
ALWAYS: tuple[Invariant, ...] = (
    Invariant(
        "every ticket has exactly one CREATED event",
        """
        SELECT t.id, count(e.id) AS created_events FROM tickets t
        LEFT JOIN ticket_events e ON e.ticket_id = t.id AND e.type = 'CREATED'
        GROUP BY t.id HAVING count(e.id) <> 1
        """,
    ),
    Invariant(
        "the CREATED event carries version 1",
        """
        SELECT e.ticket_id, e.data->'version' AS version FROM ticket_events e
        WHERE e.type = 'CREATED' AND (e.data->'version') IS DISTINCT FROM '1'::jsonb
        """,
    ),
    Invariant(
        "every event carries an integer version",
        """
        SELECT e.id, e.ticket_id, e.type, e.data FROM ticket_events e
        WHERE jsonb_typeof(e.data->'version') IS DISTINCT FROM 'number'
        """,
    ),
    Invariant(
        "the versions a ticket's events carry are exactly 1..version",
        """
        SELECT t.id, t.version, v.versions FROM tickets t
        LEFT JOIN LATERAL (
            SELECT array_agg(DISTINCT (e.data->>'version')::int ORDER BY (e.data->>'version')::int) AS versions
            FROM ticket_events e
            WHERE e.ticket_id = t.id AND jsonb_typeof(e.data->'version') = 'number'
        ) v ON true
        WHERE v.versions IS DISTINCT FROM ARRAY(SELECT generate_series(1, t.version))
        """,
    ),
    Invariant(
        "events, comments, attachments, SLA clocks, ratings, links and collaborators belong to a ticket",
        """
        SELECT 'ticket_events' AS tbl, id FROM ticket_events x
            WHERE NOT EXISTS (SELECT 1 FROM tickets t WHERE t.id = x.ticket_id)
        UNION ALL SELECT 'comments', id FROM comments x
            WHERE NOT EXISTS (SELECT 1 FROM tickets t WHERE t.id = x.ticket_id)
        UNION ALL SELECT 'attachments', id FROM attachments x
            WHERE NOT EXISTS (SELECT 1 FROM tickets t WHERE t.id = x.ticket_id)
        UNION ALL SELECT 'sla_clocks', id FROM sla_clocks x
            WHERE NOT EXISTS (SELECT 1 FROM tickets t WHERE t.id = x.ticket_id)
        UNION ALL SELECT 'satisfaction_ratings', ticket_id FROM satisfaction_ratings x
            WHERE NOT EXISTS (SELECT 1 FROM tickets t WHERE t.id = x.ticket_id)
        UNION ALL SELECT 'ticket_links', id FROM ticket_links x
            WHERE NOT EXISTS (SELECT 1 FROM tickets t WHERE t.id = x.ticket_id)
               OR NOT EXISTS (SELECT 1 FROM tickets t WHERE t.id = x.other_ticket_id)
        UNION ALL SELECT 'ticket_collaborators', ticket_id FROM ticket_collaborators x
            WHERE NOT EXISTS (SELECT 1 FROM tickets t WHERE t.id = x.ticket_id)
               OR NOT EXISTS (SELECT 1 FROM agents a WHERE a.id = x.agent_id)
        """,
    ),
    Invariant(
        "an attachment's comment is on the same ticket",
        """
        SELECT x.id, x.ticket_id, c.ticket_id AS comment_ticket_id FROM attachments x
        LEFT JOIN comments c ON c.id = x.comment_id
        WHERE x.comment_id IS NOT NULL AND c.ticket_id IS DISTINCT FROM x.ticket_id
        """,
    ),
    Invariant(
        "tickets point at an existing customer, assignee, group, parent and merge target",
        """
        SELECT t.id FROM tickets t
        WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = t.customer_id)
           OR (t.assignee_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM agents a WHERE a.id = t.assignee_id))
           OR (t.group_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM groups g WHERE g.id = t.group_id))
           OR (t.parent_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM tickets p WHERE p.id = t.parent_id))
           OR (t.merged_into_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM tickets m WHERE m.id = t.merged_into_id))
        """,
    ),
    Invariant(
        "no ticket is its own ancestor (sub-ticket chains end at a root)",
        """
        WITH RECURSIVE chain(start_id, id, depth) AS (
            SELECT t.id, t.parent_id, 1 FROM tickets t WHERE t.parent_id IS NOT NULL
            UNION ALL
            SELECT c.start_id, p.parent_id, c.depth + 1 FROM chain c JOIN tickets p ON p.id = c.id
            WHERE p.parent_id IS NOT NULL AND c.depth < 1000
        )
        SELECT DISTINCT start_id FROM chain WHERE id = start_id OR depth >= 1000
        """,
    ),
    Invariant(
        "a merged ticket is CLOSED and not merged into itself",
        """
        SELECT t.id, t.status FROM tickets t
        WHERE t.merged_into_id IS NOT NULL AND (t.status <> 'CLOSED' OR t.merged_into_id = t.id)
        """,
    ),
    Invariant(
        "RESOLVED tickets have resolved_at, CLOSED ones closed_at",
        """
        SELECT t.id, t.status FROM tickets t
        WHERE (t.status = 'RESOLVED' AND t.resolved_at IS NULL) OR (t.status = 'CLOSED' AND t.closed_at IS NULL)
        """,
    ),
    Invariant(
        "group memberships, sessions and API tokens belong to existing agents and groups",
        """
        SELECT 'group_members' AS tbl, agent_id AS id FROM group_members x
            WHERE NOT EXISTS (SELECT 1 FROM agents a WHERE a.id = x.agent_id)
               OR NOT EXISTS (SELECT 1 FROM groups g WHERE g.id = x.group_id)
        UNION ALL SELECT 'sessions', id FROM sessions x
            WHERE NOT EXISTS (SELECT 1 FROM agents a WHERE a.id = x.agent_id)
        UNION ALL SELECT 'api_tokens', id FROM api_tokens x
            WHERE NOT EXISTS (SELECT 1 FROM agents a WHERE a.id = x.agent_id)
        """,
    ),
    Invariant(
        "every idempotency record has its result (the ticket or comment it made)",
        """
        SELECT k.scope, k.key, k.resource_id FROM idempotency_keys k
        WHERE ((k.scope = 'createTicket' OR k.scope LIKE 'submitWebForm:%')
                AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.id = k.resource_id))
           OR (k.scope LIKE 'addCustomerReply:%' AND NOT EXISTS (SELECT 1 FROM comments c WHERE c.id = k.resource_id))
           OR (k.scope NOT IN ('createTicket') AND k.scope NOT LIKE 'addCustomerReply:%'
               AND k.scope NOT LIKE 'submitWebForm:%')
           -- only the web form's and customer sessions' keys have no agent (their scope names
           -- the email address, or the customer)
           OR (k.agent_id IS NULL AND k.scope NOT LIKE 'submitWebForm:%'
               AND k.scope !~ '^addCustomerReply:[0-9]+:customer:[0-9]+$')
        """,
    ),
    Invariant(
        "a customer session's reply keys have no agent and a scope naming the customer; agents' never do",
        """
        SELECT k.scope, k.key FROM idempotency_keys k
        WHERE k.scope LIKE 'addCustomerReply:%'
          AND (k.agent_id IS NULL) <> (k.scope ~ '^addCustomerReply:[0-9]+:customer:[0-9]+$')
        """,
    ),
    Invariant(
        "SLA notifications belong to a clock; SLA policies' calendars exist",
        """
        SELECT 'sla_notifications' AS tbl, clock_id AS id FROM sla_notifications x
            WHERE NOT EXISTS (SELECT 1 FROM sla_clocks c WHERE c.id = x.clock_id)
        UNION ALL SELECT 'sla_policies', id FROM sla_policies x
            WHERE x.calendar_id IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM business_calendars b WHERE b.id = x.calendar_id)
        """,
    ),
)

# Automatic assignment (creation, autoAssignTicket, queue draining) never gives an agent more
# open tickets (NEW, OPEN, PENDING, ON_HOLD) than their capacity. Two things may legitimately
# go past it, so this holds only for runs that do neither: a supervisor's manual assignTicket
# ("a supervisor decides"), and lowering an agent's capacity below what they already hold.
CAPACITY = Invariant(
    "no agent holds more open tickets than their capacity (automatic assignment only)",
    f"""
    SELECT a.id, a.capacity, count(t.id) AS open_tickets FROM agents a
    JOIN tickets t ON t.assignee_id = a.id AND t.status IN ({_OPEN})
    GROUP BY a.id, a.capacity HAVING count(t.id) > a.capacity
    """,
)


# Tables that reads, failed logins and the background loops write to (sessions and tokens note
# their last use, searches are counted, failed logins are throttled, event-log consumers keep
# their positions): left out of the digest.
WRITTEN_BY_READS = frozenset({"sessions", "api_tokens", "article_searches", "login_failures", "event_consumers"})


def digest_sync(conn: Connection, exclude: frozenset[str] = WRITTEN_BY_READS) -> dict[str, str]:
    """Every table's row count and a hash of all its rows: equal digests before and after a
    refused request mean it wrote nothing (no partial write)."""
    parts = [
        f"SELECT '{t.name}', count(*)::text || ':' || coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '')"
        f' FROM "{t.name}" x'
        for t in metadata.sorted_tables
        if t.name not in exclude
    ]
    return {name: value for name, value in conn.execute(text(" UNION ALL ".join(parts))).all()}


def _describe(invariant: Invariant, rows: list[Any]) -> str:
    shown = ", ".join(str(tuple(r)) for r in rows[:10])
    more = f" (+{len(rows) - 10} more)" if len(rows) > 10 else ""
    return f"{invariant.name}: {shown}{more}"


def violations_sync(conn: Connection, checks: tuple[Invariant, ...] = ALWAYS) -> list[str]:
    """One line per broken invariant, naming the offending rows; empty when all hold."""
    found = []
    for invariant in checks:
        rows = list(conn.execute(text(invariant.sql)).all())
        if rows:
            found.append(_describe(invariant, rows))
    return found


async def violations(conn: AsyncConnection, checks: tuple[Invariant, ...] = ALWAYS) -> list[str]:
    """As violations_sync, on an async connection."""
    found = []
    for invariant in checks:
        rows = list((await conn.execute(text(invariant.sql))).all())
        if rows:
            found.append(_describe(invariant, rows))
    return found


def assert_no_violations_sync(database_url: str, checks: tuple[Invariant, ...] = ALWAYS) -> None:
    """Opens its own connection (in one REPEATABLE READ snapshot, so the checks agree with each
    other even while a server is still writing) and fails with every broken invariant."""
    engine = create_engine(sync_url(database_url), isolation_level="REPEATABLE READ")
    try:
        with engine.connect() as conn:
            found = violations_sync(conn, checks)
            conn.rollback()
    finally:
        engine.dispose()
    assert not found, "database invariants broken:\n" + "\n".join(found)
