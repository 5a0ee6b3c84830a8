"""The partner client (frontend_examples/partner/partner_client.py) run as a program, the way a
shop would run it, against a real server with an API token: creating a ticket is idempotent,
relaying a customer's message is idempotent, and following a ticket's events survives kill -9
mid-stream without missing or repeating an event."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.db import tables
from app.domain.enums import AgentRole
from app.services.runtime import Runtime
from schema import ids
from tests.conftest import Actor
from tests.support import EXAMPLES, GraphQLClient, ServerThread

CLIENT = EXAMPLES / "partner" / "partner_client.py"
# Events reach subscribers once the cluster-wide event horizon passes them: generous waits.
LIVE = 60.0

MakeActor = Callable[..., Awaitable[Actor]]


class Partner:
    """The shop's side: the client program with its token, and a GraphQL client on the same token."""

    def __init__(self, server: ServerThread, token: str, api: GraphQLClient) -> None:
        self.env = {**os.environ, "HELPDESK_URL": server.url, "HELPDESK_TOKEN": token, "PYTHONUNBUFFERED": "1"}
        self.api = api

    async def run(self, *args: str) -> tuple[int, list[dict[str, Any]], str]:
        """Runs one command to its end: (exit status, JSON lines printed, stderr)."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(CLIENT),
            *args,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), LIVE)
        return process.returncode or 0, [json.loads(line) for line in out.splitlines()], err.decode()

    async def ok(self, *args: str) -> dict[str, Any]:
        status, lines, err = await self.run(*args)
        assert status == 0, err
        (line,) = lines
        return line

    async def history(self, ticket_id: str) -> list[dict[str, Any]]:
        """The ticket's whole event history as this token sees it, oldest first."""
        events: list[dict[str, Any]] = []
        after = None
        while True:
            page = await self.api.run("console/TicketHistory.graphql", {"id": ticket_id, "first": 100, "after": after})
            history = page["ticket"]["history"]
            events += [edge["node"] for edge in history["edges"]]
            if not history["pageInfo"]["hasNextPage"]:
                return events
            after = history["pageInfo"]["endCursor"]


class Follower:
    """`partner_client.py follow` as a child process, read line by line."""

    def __init__(self, partner: Partner, ticket_id: str, state: Path, log: Path) -> None:
        self.partner, self.ticket_id, self.state, self.log = partner, ticket_id, state, log
        self.printed: list[dict[str, Any]] = []
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as stderr:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, str(CLIENT), "follow", self.ticket_id, "--state", str(self.state),
                env=self.partner.env, stdout=asyncio.subprocess.PIPE, stderr=stderr,
            )  # fmt: skip

    async def next_event(self, within: float = LIVE) -> dict[str, Any] | None:
        assert self.process is not None and self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), within)
        if not line:
            return None
        event: dict[str, Any] = json.loads(line)
        self.printed.append(event)
        return event

    async def read_until(self, count: int) -> None:
        """Reads events until `count` have been printed in all (the test fails after LIVE seconds)."""
        while len(self.printed) < count:
            assert await self.next_event() is not None, self.log.read_text()

    def saved_cursor(self) -> str | None:
        return json.loads(self.state.read_text())["cursor"] if self.state.exists() else None

    async def kill_between_two_events(self) -> None:
        """kill -9 at a moment when every event it printed has its cursor saved. Frozen with
        SIGSTOP, it cannot print or save; if it was frozen between the two, let it go on a little."""
        assert self.process is not None
        while True:
            self.process.send_signal(signal.SIGSTOP)
            try:
                while True:
                    await self.next_event(within=0.2)
            except TimeoutError:
                pass
            if self.saved_cursor() == self.printed[-1]["cursor"]:
                break
            self.process.send_signal(signal.SIGCONT)
            await asyncio.sleep(0.01)
        self.process.kill()
        assert await self.process.wait() == -signal.SIGKILL
        assert await self.next_event(within=5) is None  # nothing left in the pipe

    async def stop(self) -> None:
        assert self.process is not None
        self.process.terminate()
        while await self.next_event(within=10) is not None:
            pass
        await self.process.wait()


@pytest.fixture
async def partner(admin: Actor, make_actor: MakeActor, server: ServerThread) -> Partner:
    # A dedicated agent for the integration; supervisors see every ticket, including those it opens.
    integration = await make_actor(AgentRole.SUPERVISOR, name="Shop integration")
    created = await admin.client.mutate(
        "console/admin/CreateApiToken.graphql",
        {"name": "online shop", "agentId": ids.encode("Agent", integration.agent.id)},
    )
    return Partner(server, created["token"], admin.client.as_(created["token"]))


def create_args(key: str, subject: str = "退款：订单 SO-1001 未收到货") -> list[str]:
    return [
        "create", "--email", "li.lei@example.cn", "--name", "李雷", "--subject", subject,
        "--description", "The parcel never arrived.", "--external-ref", "SO-1001", "--idempotency-key", key,
    ]  # fmt: skip


async def count(rt: Runtime, table: Any) -> int:
    async with rt.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_creating_twice_with_one_key_makes_one_ticket_and_a_relayed_reply_posts_once(
    partner: Partner, rt: Runtime
) -> None:
    first = await partner.ok(*create_args("order-SO-1001"))
    again = await partner.ok(*create_args("order-SO-1001"))

    assert again == first
    assert (first["status"], first["externalRef"], first["customer"]["email"]) == (
        "NEW",
        "SO-1001",
        "li.lei@example.cn",
    )
    assert await count(rt, tables.tickets) == 1
    # The same key for a different request is refused, and nothing is created.
    status, lines, err = await partner.run(*create_args("order-SO-1001", subject="Another problem"))
    assert (status, lines) == (1, [])
    assert "already used for a different request" in err
    assert await count(rt, tables.tickets) == 1

    reply = ["reply", first["id"], "还没有收到退款。", "--idempotency-key", "<msg-1@mail.example.cn>"]
    posted, reposted = await partner.ok(*reply), await partner.ok(*reply)
    assert reposted["comment"] == posted["comment"]
    assert posted["comment"]["body"] == "还没有收到退款。"
    assert posted["comment"]["authorCustomer"]["name"] == "李雷"
    assert await count(rt, tables.comments) == 1


@pytest.mark.slow
async def test_a_follower_killed_mid_stream_resumes_without_missing_or_repeating_an_event(
    partner: Partner, admin: Actor, tmp_path: Path
) -> None:
    ticket = await partner.ok(*create_args("order-SO-1002"))
    await partner.ok("reply", ticket["id"], "订单号 SO-1002。")
    state, log = tmp_path / "so-1002.cursor", tmp_path / "follow.log"

    first = Follower(partner, ticket["id"], state, log)
    await first.start()
    await first.read_until(len(await partner.history(ticket["id"])))
    assert [e["type"] for e in first.printed] == ["CREATED", "COMMENTED"]

    async def agent_replies(n: int) -> None:
        for i in range(n):
            await admin.client.mutate("console/AddComment.graphql", {"ticketId": ticket["id"], "body": f"Update {i}"})
            await asyncio.sleep(0.05)  # a steady stream rather than one burst

    stream = asyncio.create_task(agent_replies(30))
    await first.read_until(len(first.printed) + 3)
    await first.kill_between_two_events()
    # Killed mid-stream: events it never printed were already in the history.
    assert len(await partner.history(ticket["id"])) > len(first.printed)
    await stream

    # While it is down, more happens: the ticket is resolved and rated.
    await partner.api.mutate("console/ResolveTicket.graphql", {"id": ticket["id"], "resolution": "Refunded."})
    await partner.api.mutate("partner/RateTicket.graphql", {"id": ticket["id"], "score": 5, "comment": "很快"})

    second = Follower(partner, ticket["id"], state, log)
    await second.start()
    history = await partner.history(ticket["id"])
    await second.read_until(len(history) - len(first.printed))
    # ... and after it came back, live: the customer writes again, which reopens the ticket.
    await partner.ok("reply", ticket["id"], "谢谢！")
    history = await partner.history(ticket["id"])
    await second.read_until(len(history) - len(first.printed))
    await second.stop()

    printed = first.printed + second.printed
    assert [(e["id"], e["cursor"], e["type"]) for e in printed] == [(e["id"], e["cursor"], e["type"]) for e in history]
    # Resolved and rated while it was down, reopened by the customer's message after it came back.
    assert [e["type"] for e in history[-4:]] == ["STATUS_CHANGED", "RATED", "STATUS_CHANGED", "COMMENTED"]


async def test_a_follower_whose_token_is_refused_stops_with_the_reason(partner: Partner, tmp_path: Path) -> None:
    ticket = await partner.ok(*create_args("order-SO-1003"))
    (created,) = await partner.history(ticket["id"])
    state = tmp_path / "so-1003.cursor"
    state.write_text(json.dumps({"ticketId": ticket["id"], "cursor": created["cursor"]}))
    partner.env["HELPDESK_TOKEN"] = "revoked-or-mistyped"

    status, lines, err = await partner.run("follow", ticket["id"], "--state", str(state))

    assert (status, lines) == (1, [])
    assert "4403" in err  # the websocket's connection_init was refused: no endless reconnecting
