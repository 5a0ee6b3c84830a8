"""An open websocket uses its caller's credential as it is now, not as it was at connection_init
(security review, findings 1 and 2).

A revoked credential closes the socket with 4403 within HELPDESK_CREDENTIAL_RECHECK_SECONDS
(about twice that at worst), and nothing runs on it once the period has passed; a demoted admin
loses admin rights on the next operation after the period; every subscription (the wallboard
too) re-checks the caller and its permission for every item it delivers. Customer sessions
(signed in by link) end the same way, revoked or expired.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import websockets

from app.clock import ManualClock
from app.domain.enums import AgentRole, Channel
from app.domain.global_ids import encode
from app.domain.records import GroupRecord
from app.services import auth as auth_service
from app.services import customer_sign_in
from app.services import tickets as ticket_service
from app.services.customers import CustomerRef
from app.services.runtime import Runtime
from app.settings import Settings
from tests.conftest import Actor
from tests.support import ServerThread, load_document

MakeActor = Callable[..., Awaitable[Actor]]
MakeGroup = Callable[..., Awaitable[GroupRecord]]

TRANSPORT, LEGACY = "graphql-transport-ws", "graphql-ws"
ME = "query { me { email } }"
ADD_COMMENT = (
    'mutation($id: ID!) { addComment(ticketId: $id, body: "still here") { comment { id } userErrors { code } } }'
)
CREATE_GROUP = "mutation($n: String!) { createGroup(input: {name: $n}) { group { id } userErrors { code } } }"
ROUTING_RULES = "query { routingRules { id } }"
WALLBOARD = "subscription($g: ID) { wallboard(groupId: $g) { unassigned createdToday } }"
COMMENT_COUNT = "query($id: ID) { ticket(id: $id) { comments { totalCount } } }"
REVOKE = "mutation($id: ID!) { revokeApiToken(id: $id) { deletedId userErrors { code } } }"
UPDATE_AGENT = (
    "mutation($id: ID!, $input: UpdateAgentInput!) { updateAgent(id: $id, input: $input) { userErrors { code } } }"
)


@dataclass
class Closed:
    code: int | None


class Socket:
    """A websocket client speaking either protocol; messages of one operation at a time."""

    def __init__(self, ws: Any, protocol: str) -> None:
        self.ws = ws
        self.protocol = protocol
        self._ids = 0

    @classmethod
    async def open(cls, server: ServerThread, token: str, protocol: str = TRANSPORT) -> Socket:
        url = server.url.replace("http", "ws", 1) + "/graphql"
        ws = await websockets.connect(url, subprotocols=[protocol])  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
        socket = cls(ws, protocol)
        ack = await socket._receive(10)
        assert ack["type"] == "connection_ack", ack
        return socket

    async def _receive(self, within: float) -> dict[str, Any]:
        while True:
            message: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), within))
            if message["type"] == "ping":
                await self.ws.send(json.dumps({"type": "pong"}))
            elif message["type"] not in ("pong", "ka"):
                return message

    async def start(self, query: str, variables: dict[str, Any] | None = None) -> str:
        self._ids += 1
        op = str(self._ids)
        kind = "subscribe" if self.protocol == TRANSPORT else "start"
        await self.ws.send(json.dumps({"id": op, "type": kind, "payload": {"query": query, "variables": variables}}))
        return op

    async def result(self, op: str, within: float = 10) -> dict[str, Any] | Closed:
        """The operation's next result ({data, errors}, or {errors} for an `error` message), or
        Closed when the socket closes first."""
        try:
            while True:
                message = await self._receive(within)
                if message.get("id") != op:
                    continue
                if message["type"] in ("next", "data"):
                    return message["payload"]  # type: ignore[no-any-return]
                if message["type"] == "error":
                    errors = message["payload"]
                    return {"errors": errors if isinstance(errors, list) else [errors]}
                return {"complete": True}
        except websockets.ConnectionClosed:
            return Closed(self.ws.close_code)

    async def run(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any] | Closed:
        try:
            op = await self.start(query, variables)
        except websockets.ConnectionClosed:
            return Closed(self.ws.close_code)
        return await self.result(op)

    async def closed_within(self, seconds: float) -> int | None:
        """The close code, once the server closes the socket (fails if it stays open)."""
        deadline = asyncio.get_running_loop().time() + seconds
        try:
            while (left := deadline - asyncio.get_running_loop().time()) > 0:
                await self._receive(left)
        except websockets.ConnectionClosed:
            return self.ws.close_code
        except TimeoutError:
            pass
        raise AssertionError(f"the socket was still open after {seconds} s")

    async def close(self) -> None:
        await self.ws.close()


def code_of(result: dict[str, Any] | Closed) -> str:
    """UNAUTHENTICATED for a socket closed with 4403; else the single error code, or OK."""
    if isinstance(result, Closed):
        return "UNAUTHENTICATED" if result.code == 4403 else f"CLOSED {result.code}"
    codes = {e.get("extensions", {}).get("code") for e in result.get("errors") or []}
    if codes:
        return str(codes.pop()) if len(codes) == 1 else f"ERRORS {codes}"
    data = result.get("data") or {}
    payload = next(iter(data.values()), None) if data else None
    if isinstance(payload, dict) and payload.get("userErrors"):
        return str(payload["userErrors"][0]["code"])
    return "OK"


def recheck(server: ServerThread) -> float:
    period: float = server.app.state.runtime.settings.credential_recheck_seconds
    return period


async def new_ticket_in(admin: Actor, group: GroupRecord) -> str:
    created = await admin.client.mutate(
        "console/CreateTicket.graphql",
        {
            "input": {
                "subject": "Order missing",
                "description": "Nothing came.",
                "channel": "CHAT",
                "customer": {"email": "x@example.com"},
            }
        },
    )
    ticket_id: str = created["ticket"]["id"]
    await admin.client.mutate("console/AssignTicket.graphql", {"id": ticket_id, "groupId": encode("Group", group.id)})
    return ticket_id


async def comment_count(admin: Actor, ticket_id: str) -> int:
    count: int = (await admin.client.execute(COMMENT_COUNT, {"id": ticket_id}))["ticket"]["comments"]["totalCount"]
    return count


@pytest.mark.parametrize("protocol", [TRANSPORT, LEGACY])
async def test_a_revoked_api_token_runs_nothing_more_and_its_socket_is_closed_with_4403(
    protocol: str, rt: Runtime, admin: Actor, make_actor: MakeActor, make_group: MakeGroup, server: ServerThread
) -> None:
    group = await make_group()
    agent = await make_actor(AgentRole.AGENT, groups=[group])
    token = await auth_service.create_api_token(rt, agent.principal, "shop bot", None, None)
    ticket_id = await new_ticket_in(admin, group)
    socket = await Socket.open(server, token.secret, protocol)
    try:
        assert code_of(await socket.run(ME)) == "OK"
        assert code_of(await socket.run(ADD_COMMENT, {"id": ticket_id})) == "OK"
        events = await socket.start(load_document("console/TicketEventsSubscription.graphql"))
        before = await comment_count(admin, ticket_id)

        revoked = (await admin.client.execute(REVOKE, {"id": encode("ApiToken", token.token.id)}))["revokeApiToken"]
        assert revoked == {"deletedId": encode("ApiToken", token.token.id), "userErrors": []}
        await asyncio.sleep(recheck(server) + 0.2)  # the longest the server may still trust it
        # Whether the watcher closed the socket already or the mutation is what finds the
        # credential gone, the mutation does not run.
        assert code_of(await socket.run(ADD_COMMENT, {"id": ticket_id})) == "UNAUTHENTICATED"
        assert await socket.closed_within(2 * recheck(server) + 2) == 4403
        assert isinstance(await socket.result(events), Closed)  # the subscription went with it
    finally:
        await socket.close()
    assert await comment_count(admin, ticket_id) == before


@pytest.mark.parametrize("protocol", [TRANSPORT, LEGACY])
async def test_the_socket_of_a_revoked_token_closes_on_its_own(
    protocol: str, rt: Runtime, admin: Actor, make_actor: MakeActor, server: ServerThread
) -> None:
    agent = await make_actor(AgentRole.AGENT)
    token = await auth_service.create_api_token(rt, agent.principal, "idle bot", None, None)
    socket = await Socket.open(server, token.secret, protocol)
    try:
        assert code_of(await socket.run(ME)) == "OK"
        await auth_service.revoke_api_token(rt, admin.principal, token.token.id)
        # Nothing sent: the connection's own re-check closes it (the period, twice at worst).
        assert await socket.closed_within(2 * recheck(server) + 2) == 4403
    finally:
        await socket.close()


async def test_a_demoted_admin_loses_admin_rights_on_the_socket_already_open(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup, server: ServerThread
) -> None:
    group = await make_group()
    boss = await make_actor(AgentRole.ADMIN, groups=[group])
    socket = await Socket.open(server, boss.token)
    try:
        assert code_of(await socket.run(ROUTING_RULES)) == "OK"
        assert code_of(await socket.run(CREATE_GROUP, {"n": "made while admin"})) == "OK"

        result = await admin.client.execute(
            UPDATE_AGENT, {"id": encode("Agent", boss.agent.id), "input": {"role": "AGENT", "groupIds": []}}
        )
        assert result["updateAgent"]["userErrors"] == []
        await asyncio.sleep(recheck(server) + 0.2)
        assert code_of(await socket.run(ROUTING_RULES)) == "FORBIDDEN"
        assert code_of(await socket.run(CREATE_GROUP, {"n": "made after demotion"})) == "FORBIDDEN"
        assert code_of(await socket.run(WALLBOARD, {"g": encode("Group", group.id)})) == "FORBIDDEN"
        assert code_of(await socket.run(ME)) == "OK"  # still signed in: only the role changed
    finally:
        await socket.close()
    groups = (await admin.client.execute("query { groups { name } }"))["groups"]
    assert "made after demotion" not in {g["name"] for g in groups}


async def test_the_wallboard_of_a_revoked_token_stops(
    rt: Runtime, admin: Actor, make_actor: MakeActor, make_group: MakeGroup, server: ServerThread
) -> None:
    group = await make_group()
    agent = await make_actor(AgentRole.AGENT, groups=[group])
    token = await auth_service.create_api_token(rt, agent.principal, "wallboard screen", None, None)
    socket = await Socket.open(server, token.secret)
    try:
        board = await socket.start(WALLBOARD, {"g": encode("Group", group.id)})
        assert code_of(await socket.result(board)) == "OK"
        await auth_service.revoke_api_token(rt, admin.principal, token.token.id)
        await asyncio.sleep(recheck(server) + 0.2)
        await new_ticket_in(admin, group)  # the numbers change: a live board would get a snapshot
        assert code_of(await socket.result(board)) == "UNAUTHENTICATED"
    finally:
        await socket.close()


async def test_an_agent_removed_from_the_group_stops_receiving_its_wallboard(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup, server: ServerThread
) -> None:
    group, other = await make_group(), await make_group()
    agent = await make_actor(AgentRole.AGENT, groups=[group])
    socket = await Socket.open(server, agent.token)
    try:
        board = await socket.start(WALLBOARD, {"g": encode("Group", group.id)})
        first = await socket.result(board)
        assert code_of(first) == "OK"
        await new_ticket_in(admin, group)
        second = await socket.result(board)
        assert code_of(second) == "OK"
        assert isinstance(first, dict) and isinstance(second, dict)
        assert second["data"]["wallboard"]["createdToday"] == first["data"]["wallboard"]["createdToday"] + 1

        moved = await admin.client.execute(
            UPDATE_AGENT, {"id": encode("Agent", agent.agent.id), "input": {"groupIds": [encode("Group", other.id)]}}
        )
        assert moved["updateAgent"]["userErrors"] == []
        await asyncio.sleep(recheck(server) + 0.2)
        await new_ticket_in(admin, group)
        assert code_of(await socket.result(board)) == "FORBIDDEN"
        assert code_of(await socket.run(ME)) == "OK"  # the credential itself is still good
    finally:
        await socket.close()


# ---------------------------------------------------------------- customer sessions (signed in by link)

CURRENT_CUSTOMER = "query { currentCustomer { name } }"
CUSTOMER_REPLY = (
    'mutation($t: ID!) { addCustomerReply(ticketId: $t, body: "still waiting") { comment { id } userErrors { code } } }'
)
FOLLOW = "subscription($t: ID) { ticketEvents(ticketId: $t) { type } }"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def clocked_server(settings: Settings, clock: ManualClock) -> Iterator[ServerThread]:
    """A server of the test's own whose clock the test moves (customer sessions expire by it)."""
    thread = ServerThread(settings.model_copy(update={"run_scheduler": False, "run_mail": False}), clock=clock)
    thread.start()
    yield thread
    thread.stop()


@pytest.mark.parametrize("ending", ["revoked", "expired"])
async def test_a_customer_session_that_ends_runs_nothing_more_and_its_socket_is_closed_with_4403(
    ending: str, rt: Runtime, admin: Actor, clock: ManualClock, clocked_server: ServerThread
) -> None:
    server = clocked_server
    clocked = Runtime(rt.engine, rt.settings, clock=clock)
    ticket, _ = await ticket_service.create_ticket(
        rt,
        admin.principal,
        ticket_service.NewTicket(
            subject="Parcel missing",
            description="Nothing came.",
            channel=Channel.API,
            customer=CustomerRef(email="li.lei@example.cn", name="Li Lei"),
        ),
    )
    async with clocked.engine.begin() as conn:
        link = await customer_sign_in.mint_sign_in_link(conn, clocked.settings, ticket.customer_id, clock.now())
    token = (await customer_sign_in.sign_in(clocked, parse_qs(urlparse(link).query)["token"][0])).token
    ticket_id = encode("Ticket", ticket.id)
    socket = await Socket.open(server, token)
    try:
        assert code_of(await socket.run(CURRENT_CUSTOMER)) == "OK"
        assert code_of(await socket.run(CUSTOMER_REPLY, {"t": ticket_id})) == "OK"
        events = await socket.start(FOLLOW, {"t": ticket_id})
        before = await comment_count(admin, ticket_id)

        if ending == "revoked":
            async with clocked.engine.begin() as conn:
                await customer_sign_in.revoke_customer_credentials(conn, ticket.customer_id, clock.now())
        else:
            clock.advance(rt.settings.customer_session_ttl + timedelta(seconds=1))
        await asyncio.sleep(recheck(server) + 0.2)  # the longest the server may still trust it
        assert code_of(await socket.run(CUSTOMER_REPLY, {"t": ticket_id})) == "UNAUTHENTICATED"
        assert await socket.closed_within(2 * recheck(server) + 2) == 4403
        assert isinstance(await socket.result(events), Closed)  # the subscription went with it
    finally:
        await socket.close()
    assert await comment_count(admin, ticket_id) == before
    # A new socket with the dead session is refused at connection_init.
    with pytest.raises((AssertionError, websockets.ConnectionClosed)):
        await Socket.open(server, token)
