"""A large helpdesk loaded by SQL alone (generate_series, in batches): groups, agents, customers
and N tickets with custom fields, as the CSV export and custom-field filter benchmarks need it.

The database (`helpdesk_bench_tickets_<N>` next to HELPDESK_BENCH_DATABASE_URL, else
HELPDESK_TEST_DATABASE_URL, else DATABASE_URL) is kept and reused by the next run with the same N
unless `reload`: 1M tickets take minutes to load on a small machine.

Custom fields per ticket: `orderId` ("SO-<i>", unique), `region` (one of 5), `plan` (one of 3),
`vip` (true for 1 in 50). Tags: `vip` on 1 in 20 tickets, `overdue` and `refund` on about 1 in
7. One customer in 25 is VIP. Half the tickets are open. The columns cycle with different
periods, so conditions on two of them match together about as often as chance says.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

import asyncpg
from sqlalchemy.engine import make_url

from app.db.engine import async_url
from benchmarks import databases

BATCH = 100_000
GROUPS, AGENTS, CUSTOMERS = 8, 200, 50_000
REGIONS = ["华东", "华南", "华北", "西南", "东北"]
PLANS = ["free", "pro", "enterprise"]

_TICKETS = """
WITH g AS (SELECT array_agg(id ORDER BY id) AS ids FROM groups),
     a AS (SELECT array_agg(id ORDER BY id) AS ids FROM agents WHERE email LIKE 'bench-agent-%'),
     c AS (SELECT min(id) AS first FROM customers)
INSERT INTO tickets (subject, description, status, priority, channel, category, customer_id, group_id,
                     assignee_id, custom_fields, tags, created_at, updated_at, resolved_at)
SELECT
    CASE WHEN i % 3 = 0 THEN '订单 ' || i || ' 未收到货，请尽快处理' WHEN i % 3 = 1
         THEN 'Refund for order ' || i || ', "damaged" on arrival' ELSE '=账户 ' || i || ' 无法登录' END,
    '详细描述 ' || i,
    (ARRAY['RESOLVED','RESOLVED','RESOLVED','RESOLVED','CLOSED','OPEN','OPEN','NEW','PENDING','ON_HOLD'])[1 + i % 10],
    (ARRAY['LOW','NORMAL','NORMAL','HIGH','URGENT'])[1 + (i / 3) % 5],
    (ARRAY['EMAIL','PHONE','WEB_FORM','CHAT','SOCIAL','APP','API'])[1 + i % 7],
    (ARRAY['billing','shipping','returns','account',NULL])[1 + (i / 7) % 5],
    c.first + i % $3,
    g.ids[1 + i % array_length(g.ids, 1)],
    CASE WHEN i % 10 = 7 THEN NULL ELSE a.ids[1 + i % array_length(a.ids, 1)] END,
    jsonb_build_object(
        'orderId', 'SO-' || i,
        'region', (ARRAY['华东','华南','华北','西南','东北'])[1 + i % 5],
        'plan', (ARRAY['free','pro','enterprise'])[1 + (i / 7) % 3],
        'vip', (i / 7) % 50 = 0),
    CASE WHEN i % 20 = 0 THEN ARRAY['vip'] WHEN i % 7 = 3 THEN ARRAY['overdue', 'refund'] ELSE ARRAY[]::text[] END,
    timestamptz '2026-01-01' + i * interval '20 seconds',
    timestamptz '2026-01-01' + i * interval '20 seconds' + interval '2 hours',
    CASE WHEN i % 10 < 5 THEN timestamptz '2026-01-01' + i * interval '20 seconds' + interval '1 hour' END
FROM generate_series($1::bigint, $2::bigint) AS i, g, a, c
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def base_url() -> str:
    return (
        os.environ.get("HELPDESK_BENCH_DATABASE_URL")
        or os.environ.get("HELPDESK_TEST_DATABASE_URL")
        or os.environ.get("DATABASE_URL")
        or "postgresql://postgres@127.0.0.1:5432/postgres"
    )


def bench_url(tickets: int) -> str:
    return make_url(async_url(base_url())).set(database=f"helpdesk_bench_tickets_{tickets}").render_as_string(False)


def ensure_loaded(tickets: int, reload: bool = False) -> tuple[str, float | None]:
    """The database URL, and how long loading took (None: it was loaded by an earlier run).
    Call it outside an event loop (the migration runs its own)."""
    url = bench_url(tickets)
    if databases.prepare_database(base_url(), url, reload, "tickets"):
        return url, None
    started = time.perf_counter()
    asyncio.run(_load(url, tickets, started))
    return url, round(time.perf_counter() - started, 1)


async def _load(url: str, tickets: int, started: float) -> None:
    conn = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(False))
    try:
        await conn.execute(
            "INSERT INTO groups (name) SELECT 'bench-group-' || g FROM generate_series(1, $1::int) g", GROUPS
        )
        await conn.execute(
            "INSERT INTO agents (name, email, password_hash, role) SELECT '客服 ' || a, "
            "'bench-agent-' || a || '@example.cn', 'not a hash', 'AGENT' FROM generate_series(1, $1::int) a",
            AGENTS,
        )
        await conn.execute(
            "INSERT INTO customers (name, email, tier) SELECT CASE WHEN c % 2 = 0 THEN '客户 ' || c ELSE "
            "'@customer ' || c END, 'customer-' || c || '@example.cn', CASE WHEN c % 25 = 0 THEN 'VIP' ELSE "
            "'STANDARD' END FROM generate_series(1, $1::int) c",
            CUSTOMERS,
        )
        for low in range(1, tickets + 1, BATCH):
            high = min(low + BATCH - 1, tickets)
            await conn.execute(_TICKETS, low, high, CUSTOMERS)
            log(f"  tickets {high:,}/{tickets:,} ({time.perf_counter() - started:.0f}s)")
        # Settled, as autovacuum leaves a table: statistics and the visibility map.
        await conn.execute("VACUUM (ANALYZE)")
    finally:
        await conn.close()
