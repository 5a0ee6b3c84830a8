"""Connection hygiene of the in-process server: nothing leaks when websockets come and go, the
per-connection subscription limit holds, and a wallboard is computed once per group, not once
per watcher.

Server-side numbers come from the app itself: the hub's listener count, the asyncio tasks of the
uvicorn thread's loop, the engine pool's checked-out connections; process-wide ones (memory,
threads, file descriptors) from psutil, since the server runs in this process.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import psutil
import pytest
import websockets

from app.domain.records import GroupRecord
from tests.conftest import Actor
from tests.support import GraphQLWebSocket, ServerThread, load_document

TICKET_EVENTS = load_document("console/TicketEventsSubscription.graphql")
WALLBOARD = load_document("wallboard/WallboardSubscription.graphql")
CREATE_RULE = "console/admin/CreateRoutingRule.graphql"

CONNECTIONS = 500
BATCH = 50


def new_ticket(i: int = 0) -> dict[str, Any]:
    return {
        "input": {
            "subject": f"屏幕闪烁 #{i}",
            "description": "The screen flickers after the update.",
            "channel": "CHAT",
            "customer": {"email": f"hygiene{i}@example.cn"},
        }
    }


def server_loop(server: ServerThread) -> asyncio.AbstractEventLoop:
    return server.server.servers[0].get_loop()


def on_server(server: ServerThread, coro_fn: Callable[[], Awaitable[Any]]) -> Any:
    """Runs a coroutine on the server's own loop (from a worker thread: never blocks ours)."""
    return asyncio.run_coroutine_threadsafe(coro_fn(), server_loop(server)).result(10)


async def server_task_count(server: ServerThread) -> int:
    async def count() -> int:
        return len(asyncio.all_tasks())

    return int(await asyncio.to_thread(on_server, server, count))


async def eventually(predicate: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within}s")
        await asyncio.sleep(0.05)


async def subscribed_socket(url: str, token: str) -> Any:
    """A raw graphql-transport-ws connection, acknowledged, with one ticketEvents subscription."""
    ws = await websockets.connect(url, subprotocols=["graphql-transport-ws"], open_timeout=30)  # type: ignore[list-item]
    await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
    ack = json.loads(await asyncio.wait_for(ws.recv(), 30))
    assert ack["type"] == "connection_ack", ack
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": TICKET_EVENTS}}))
    return ws


async def drop(ws: Any, abruptly: bool) -> None:
    if abruptly:
        ws.transport.abort()  # no close frame, no FIN handshake: a vanished client
    else:
        await ws.close()


async def churn(server: ServerThread, token: str, count: int, baseline_listeners: int) -> None:
    """Opens and drops `count` subscribed connections, BATCH at a time. Most batches wait until
    every subscription is registered in the hub, then close half cleanly and half abruptly;
    every fifth batch drops its connections right after subscribing, racing the server."""
    hub = server.app.state.hub
    url = server.url.replace("http", "ws", 1) + "/graphql"
    for batch_no in range(count // BATCH):
        sockets = await asyncio.gather(*(subscribed_socket(url, token) for _ in range(BATCH)))
        if batch_no % 5 != 4:
            await eventually(
                lambda: hub.listener_count >= baseline_listeners + BATCH, 30, "subscriptions registered in the hub"
            )
        await asyncio.gather(*(drop(ws, abruptly=i % 2 == 1) for i, ws in enumerate(sockets)))
        await eventually(lambda: hub.listener_count == baseline_listeners, 30, "listeners released")


def footprint() -> tuple[int, int, int]:
    gc.collect()
    me = psutil.Process()
    return me.memory_info().rss, me.num_threads(), me.num_fds()


@pytest.mark.slow
async def test_500_connections_come_and_go_and_nothing_leaks(admin: Actor, server: ServerThread) -> None:
    hub = server.app.state.hub
    pool = server.app.state.runtime.engine.pool
    listeners = hub.listener_count
    await churn(server, admin.token, BATCH, listeners)  # warm-up: first-use caches, pool connections
    await asyncio.sleep(0.5)
    tasks_before = await server_task_count(server)
    rss_before, threads_before, fds_before = footprint()
    started = time.monotonic()

    await churn(server, admin.token, CONNECTIONS, listeners)

    churn_seconds = time.monotonic() - started
    await eventually(lambda: pool.checkedout() == 0, 15, "database connections returned to the pool")
    await asyncio.sleep(0.5)  # let closing handshakes and handler tasks finish
    tasks_after = await server_task_count(server)
    rss_after, threads_after, fds_after = footprint()
    report = (
        f"{CONNECTIONS} connections in {churn_seconds:.1f}s; tasks {tasks_before}->{tasks_after}; "
        f"threads {threads_before}->{threads_after}; fds {fds_before}->{fds_after}; "
        f"rss {rss_before / 2**20:.1f}->{rss_after / 2**20:.1f} MiB"
    )
    print(report)
    assert hub.listener_count == listeners, report
    assert tasks_after <= tasks_before + 3, report
    assert threads_after <= threads_before + 2, report
    assert fds_after <= fds_before + 10, report
    assert rss_after - rss_before < 30 * 2**20, report

    # And the server still serves subscriptions.
    async with GraphQLWebSocket(server.url, admin.token) as ws:
        op = await ws.subscribe(TICKET_EVENTS)
        await eventually(lambda: hub.listener_count == listeners + 1, 10, "subscription registered")
        await admin.client.mutate("console/CreateTicket.graphql", new_ticket())
        assert (await ws.next_data(op, 30))["ticketEvents"]["type"] == "CREATED"


async def test_the_21st_subscription_on_a_connection_is_refused_and_the_20_keep_working(
    admin: Actor, server: ServerThread
) -> None:
    hub = server.app.state.hub
    limit = server.app.state.runtime.settings.max_subscriptions_per_connection
    assert limit == 20
    listeners = hub.listener_count
    async with GraphQLWebSocket(server.url, admin.token) as ws:
        ops = [await ws.subscribe(TICKET_EVENTS) for _ in range(limit)]
        await eventually(lambda: hub.listener_count == listeners + limit, 15, "20 subscriptions registered")

        extra = await ws.subscribe(TICKET_EVENTS)
        message = await ws.receive(15)
        assert message["id"] == extra and message["type"] == "error", message
        assert message["payload"][0]["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS", message
        assert hub.listener_count == listeners + limit

        await admin.client.mutate("console/CreateTicket.graphql", new_ticket())
        got: dict[str, str] = {}
        while len(got) < limit:
            message = await ws.receive(30)
            assert message["id"] != extra, message
            assert message["type"] == "next", message
            assert message["id"] not in got, f"operation {message['id']} got the event twice"
            got[message["id"]] = message["payload"]["data"]["ticketEvents"]["type"]
        assert got == dict.fromkeys(ops, "CREATED")

        # Completing one frees its slot.
        await ws.complete(ops[0])
        await eventually(lambda: hub.listener_count == listeners + limit - 1, 15, "completed subscription released")
        again = await ws.subscribe(TICKET_EVENTS)
        await eventually(lambda: hub.listener_count == listeners + limit, 15, "new subscription registered")
        await admin.client.mutate("console/CreateTicket.graphql", new_ticket(1))
        assert (await ws.next_data(again, 30))["ticketEvents"]["type"] == "CREATED"
    await eventually(lambda: hub.listener_count == listeners, 15, "listeners released on close")


@pytest.mark.slow
async def test_wallboard_is_computed_once_per_group_per_change_for_all_its_watchers(
    admin: Actor, server: ServerThread, make_group: Callable[..., Awaitable[GroupRecord]]
) -> None:
    from app.domain.global_ids import encode

    feed = server.app.state.wallboard
    group = await make_group("wallboard-shared")
    group_id = encode("Group", group.id)
    await admin.client.mutate(CREATE_RULE, {"input": {"name": "everything to the wall", "routeToGroupId": group_id}})
    watchers = [await GraphQLWebSocket(server.url, admin.token).__aenter__() for _ in range(50)]
    try:
        ops = [await ws.subscribe(WALLBOARD, {"groupId": group_id}) for ws in watchers]
        first = [(await ws.next_data(op, 30))["wallboard"] for ws, op in zip(watchers, ops, strict=True)]
        assert {s["group"]["id"] for s in first} == {group_id}
        created_before = first[0]["createdToday"]
        await asyncio.sleep(1.2)  # the feed's once-a-second window is open again
        computations = feed.computations

        created = await admin.client.mutate("console/CreateTicket.graphql", new_ticket())
        assert created["ticket"]["group"]["id"] == group_id
        fresh = [(await ws.next_data(op, 30))["wallboard"] for ws, op in zip(watchers, ops, strict=True)]
        assert {s["createdToday"] for s in fresh} == {created_before + 1}
        assert len({s["generatedAt"] for s in fresh}) == 1  # one snapshot, shared
        await asyncio.sleep(1.5)
        assert feed.computations - computations == 1

        # A burst: at most one snapshot a second, and the last one has every ticket.
        computations = feed.computations
        started = time.monotonic()
        for i in range(20):
            await admin.client.mutate("console/CreateTicket.graphql", new_ticket(100 + i))
        seen: list[dict[str, Any]] = []
        while not seen or seen[-1]["createdToday"] < created_before + 21:
            seen.append((await watchers[0].next_data(ops[0], 30))["wallboard"])
        elapsed = time.monotonic() - started
        await asyncio.sleep(1.5)
        grown = feed.computations - computations
        assert grown <= elapsed / 1.0 + 1, f"{grown} snapshots in {elapsed:.1f}s"
        stamps = [datetime.fromisoformat(s["generatedAt"]) for s in seen]
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(stamps)]
        assert all(gap >= 0.9 for gap in gaps), gaps
    finally:
        await asyncio.gather(*(ws.__aexit__(None, None, None) for ws in watchers), return_exceptions=True)


async def test_a_wallboard_watcher_leaving_during_the_first_snapshot_does_not_break_the_group(
    admin: Actor, server: ServerThread, make_group: Callable[..., Awaitable[GroupRecord]]
) -> None:
    """The first watcher of a group drops its connection while the group's first snapshot is
    being computed. The next watcher of that group must still get fresh snapshots."""
    from app.domain.global_ids import encode

    feed = server.app.state.wallboard
    group = await make_group("wallboard-first-watcher")
    group_id = encode("Group", group.id)
    await admin.client.mutate(CREATE_RULE, {"input": {"name": "everything to the wall", "routeToGroupId": group_id}})
    compute = feed._compute
    computing = asyncio.Event()
    test_loop = asyncio.get_running_loop()

    async def slow_compute(group_pk: int | None) -> Any:
        test_loop.call_soon_threadsafe(computing.set)
        await asyncio.sleep(2.0)
        return await compute(group_pk)

    feed._compute = slow_compute
    try:
        first = await GraphQLWebSocket(server.url, admin.token).__aenter__()
        await first.subscribe(WALLBOARD, {"groupId": group_id})
        await asyncio.wait_for(computing.wait(), 15)
        first.ws.transport.abort()  # gone while the snapshot is computed
        await asyncio.sleep(0.5)
    finally:
        feed._compute = compute
    async with GraphQLWebSocket(server.url, admin.token) as ws:
        op = await ws.subscribe(WALLBOARD, {"groupId": group_id})
        before = (await ws.next_data(op, 30))["wallboard"]
        await admin.client.mutate("console/CreateTicket.graphql", new_ticket())
        after = (await ws.next_data(op, 15))["wallboard"]
    assert after["createdToday"] == before["createdToday"] + 1
