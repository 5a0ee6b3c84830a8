"""The physical limit the GraphQL figures are measured against (not part of the app).

A minimal Starlette + asyncpg endpoint that answers the console list (benchmarks/documents/
ConsoleList.graphql: one group's OPEN tickets, newest first, with customer, assignee, group,
tags and SLA clocks) with the same JSON document the GraphQL server returns, built by ONE
hand-written SQL statement (json_build_object / json_agg inside PostgreSQL; Python only passes
the bytes on). No parsing, validation, authentication, DataLoaders or ORM: what is left is HTTP,
one round trip to PostgreSQL and the query itself.

It takes the same request body as the GraphQL server (`{"query": ..., "variables": {"groupId":
..., "first": ...}}`; the query text is ignored), so the load client sends both the same bytes.

    .venv/bin/python -m benchmarks.baseline --port 8100 --database-url postgresql://.../helpdesk_bench_10k_...
"""

from __future__ import annotations

import argparse
import base64
import binascii
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def _global_id(type_name: str, column: str) -> str:
    """SQL for the app's opaque id: base64url of "<Type>:<pk>" without padding."""
    return f"rtrim(translate(encode(convert_to('{type_name}:' || {column}, 'UTF8'), 'base64'), E'+/\\n', '-_'), '=')"


def _clock(target: str) -> str:
    return f"""(SELECT json_build_object('state', k.state, 'dueAt', k.due_at, 'warnedAt', k.warned_at,
                                  'breachedAt', k.breached_at)
         FROM sla_clocks k WHERE k.ticket_id = s.id AND k.target = '{target}' AND k.policy_id IS NOT NULL
         ORDER BY k.cycle DESC LIMIT 1)"""


# The cursor is the app's keyset cursor: base64url of 'tk1:["CREATED_AT","DESC",{"t":"<iso>"},<id>]'.
_CURSOR = (
    'rtrim(translate(encode(convert_to(\'tk1:["CREATED_AT","DESC",{"t":\' || to_json(s.created_at)::text'
    " || '},' || s.id || ']', 'UTF8'), 'base64'), E'+/\\n', '-_'), '=')"
)

CONSOLE_LIST = f"""
WITH page AS (
    SELECT t.id, t.number, t.subject, t.status, t.priority, t.channel, t.category, t.tags, t.version,
           t.created_at, t.updated_at, t.customer_id, t.assignee_id, t.group_id
    FROM tickets t
    WHERE t.group_id = $1 AND t.status = 'OPEN'
    ORDER BY t.created_at DESC, t.id DESC
    LIMIT $2 + 1
), edges AS (
    SELECT {_CURSOR} AS cursor, s.created_at, s.id,
           json_build_object(
               'id', {_global_id("Ticket", "s.id")}, 'number', s.number, 'subject', s.subject,
               'status', s.status, 'priority', s.priority, 'channel', s.channel, 'category', s.category,
               'tags', to_json(s.tags), 'version', s.version, 'createdAt', s.created_at, 'updatedAt', s.updated_at,
               'customer', json_build_object('id', {_global_id("Customer", "c.id")}, 'name', c.name, 'tier', c.tier),
               'assignee', CASE WHEN a.id IS NOT NULL
                   THEN json_build_object('id', {_global_id("Agent", "a.id")}, 'name', a.name) END,
               'group', CASE WHEN g.id IS NOT NULL
                   THEN json_build_object('id', {_global_id("Group", "g.id")}, 'name', g.name) END,
               'sla', CASE WHEN fr IS NOT NULL OR res IS NOT NULL
                   THEN json_build_object('firstResponse', fr, 'resolution', res) END
           ) AS node
    FROM (SELECT * FROM page ORDER BY created_at DESC, id DESC LIMIT $2) s
    JOIN customers c ON c.id = s.customer_id
    LEFT JOIN agents a ON a.id = s.assignee_id
    LEFT JOIN groups g ON g.id = s.group_id
    CROSS JOIN LATERAL (SELECT {_clock("FIRST_RESPONSE")} AS fr, {_clock("RESOLUTION")} AS res) sla
)
SELECT json_build_object('data', json_build_object('tickets', json_build_object(
    'totalCount', (SELECT count(*) FROM tickets WHERE group_id = $1 AND status = 'OPEN'),
    'pageInfo', json_build_object(
        'hasNextPage', (SELECT count(*) FROM page) > $2,
        'endCursor', (SELECT cursor FROM edges ORDER BY created_at, id LIMIT 1)),
    'edges', coalesce(
        (SELECT json_agg(json_build_object('cursor', cursor, 'node', node) ORDER BY created_at DESC, id DESC)
         FROM edges),
        '[]'::json)
)))::text
"""


def _group_pk(global_id: object) -> int | None:
    try:
        raw = base64.urlsafe_b64decode(str(global_id) + "=" * (-len(str(global_id)) % 4)).decode()
        type_name, pk = raw.split(":", 1)
        return int(pk) if type_name == "Group" else None
    except (ValueError, UnicodeDecodeError, binascii.Error):
        return None


def create_app(database_url: str, pool_size: int = 10) -> Starlette:
    state: dict[str, asyncpg.Pool] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state["pool"] = await asyncpg.create_pool(
            database_url, min_size=1, max_size=pool_size, server_settings={"timezone": "UTC"}
        )
        try:
            yield
        finally:
            await state["pool"].close()

    async def console_list(request: Request) -> Response:
        variables = orjson.loads(await request.body()).get("variables") or {}
        group = _group_pk(variables.get("groupId"))
        first = int(variables.get("first") or 50)
        if group is None or not 0 <= first <= 100:
            return JSONResponse({"errors": [{"message": "groupId must be a Group id; first 0..100"}]}, 400)
        body = await state["pool"].fetchval(CONSOLE_LIST, group, first)
        return Response(body, media_type="application/json")

    async def healthz(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    return Starlette(
        routes=[Route("/graphql", console_list, methods=["POST"]), Route("/healthz", healthz)],
        lifespan=lifespan,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--database-url", required=True, help="postgresql://... of a benchmark database")
    parser.add_argument("--pool-size", type=int, default=10, help="the app's default pool size")
    args = parser.parse_args()
    uvicorn.run(
        create_app(args.database_url, args.pool_size),
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
