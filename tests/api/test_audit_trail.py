"""Every change is in Ticket.history with its actor and time: a whole ticket life through the
real server, then the audit trail read back, in full and page by page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from app.domain.enums import AgentRole
from schema import ids
from tests.conftest import Actor
from tests.support import GraphQLClient, load_document

CREATE = "console/CreateTicket.graphql"
UPDATE = "console/UpdateTicket.graphql"
START = "console/StartTicket.graphql"
PENDING = "console/SetTicketPending.graphql"
RESOLVE = "console/ResolveTicket.graphql"
REOPEN = "console/ReopenTicket.graphql"
CLOSE = "console/CloseTicket.graphql"
ADD_COMMENT = "console/AddComment.graphql"
CUSTOMER_REPLY = "partner/AddCustomerReply.graphql"
RATE = "partner/RateTicket.graphql"
DETAIL = "console/TicketDetail.graphql"
HISTORY = "console/TicketHistory.graphql"
CREATE_API_TOKEN = "console/admin/CreateApiToken.graphql"

MakeActor = Callable[..., Awaitable[Actor]]


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def payload_of(client: GraphQLClient, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The single mutation payload of a document, userErrors not asserted."""
    result = await client.post(load_document(document), variables)
    assert not result.get("errors"), result["errors"]
    (payload,) = result["data"].values()
    return payload


async def full_history(client: GraphQLClient, ticket_id: str) -> list[dict[str, Any]]:
    page = (await client.run(HISTORY, {"id": ticket_id, "first": 100}))["ticket"]["history"]
    assert page["pageInfo"]["hasNextPage"] is False
    return [edge["node"] for edge in page["edges"]]


async def ticket_state(client: GraphQLClient, ticket_id: str) -> dict[str, Any]:
    ticket: dict[str, Any] = (await client.run(DETAIL, {"id": ticket_id}))["ticket"]
    return ticket


class Life:
    """A ticket lived through the API by an admin (intake), a supervisor (the work) and the
    customer (messages and the rating, relayed by a partner integration's API token)."""

    def __init__(self, intake: Actor, worker: Actor, relay: GraphQLClient) -> None:
        self.intake, self.worker, self.relay = intake, worker, relay

    async def live(self) -> dict[str, Any]:
        w = self.worker.client
        created = (
            await self.intake.client.mutate(
                CREATE,
                {
                    "input": {
                        "subject": "洗衣机漏水",
                        "description": "The washing machine leaks from the bottom after every wash.",
                        "channel": "PHONE",
                        "priority": "LOW",
                        "customer": {"phone": "+86 139 0000 1111", "name": "周杰"},
                    }
                },
            )
        )["ticket"]
        tid = created["id"]
        self.ticket = created
        await w.mutate(
            UPDATE,
            {
                "id": tid,
                "input": {"subject": "洗衣机底部漏水", "priority": "HIGH", "tags": ["leak", "warranty"]},
                "expectedVersion": created["version"],
            },
        )
        # The same values again: no change, so no event and no new version.
        unchanged = await w.mutate(UPDATE, {"id": tid, "input": {"subject": "洗衣机底部漏水", "priority": "HIGH"}})
        assert unchanged["ticket"]["version"] == 2
        await w.mutate(START, {"id": tid})
        await w.mutate(ADD_COMMENT, {"ticketId": tid, "body": "请问漏水是从哪个位置？"})
        await w.mutate(PENDING, {"id": tid, "reason": "等待客户提供照片"})
        await self.relay.mutate(CUSTOMER_REPLY, {"ticketId": tid, "body": "从排水管接口处漏水。"})
        await w.mutate(RESOLVE, {"id": tid, "resolution": "更换排水管密封圈。"})
        await self.relay.mutate(RATE, {"id": tid, "score": 2, "comment": "还是有点漏"})
        await w.mutate(REOPEN, {"id": tid, "reason": "客户反馈仍然漏水"})
        await w.mutate(RESOLVE, {"id": tid, "resolution": "上门更换排水泵。"})
        await w.mutate(CLOSE, {"id": tid})
        return created


def expected_trail(created: dict[str, Any], life: Life, customer_pk: int) -> list[dict[str, Any]]:
    """(type, actor, data subset) of every change, oldest first."""
    worker = ("agent", life.worker.agent.id)
    customer = ("customer", customer_pk)
    relayed_by = ids.encode("Agent", life.intake.agent.id)  # the relay's API token is the admin's
    return [
        {
            "type": "CREATED",
            "actor": ("agent", life.intake.agent.id),
            "data": {
                "number": created["number"],
                "subject": "洗衣机漏水",
                "channel": "PHONE",
                "priority": "LOW",
                "customerId": ids.encode("Customer", customer_pk),
                "parentId": None,
                "version": 1,
            },
        },
        {
            "type": "UPDATED",
            "actor": worker,
            "data": {
                "changes": {
                    "subject": {"from": "洗衣机漏水", "to": "洗衣机底部漏水"},
                    "tags": {"from": created["tags"], "to": ["leak", "warranty"]},
                },
                "version": 2,
            },
        },
        {"type": "PRIORITY_CHANGED", "actor": worker, "data": {"from": "LOW", "to": "HIGH", "version": 2}},
        {"type": "STATUS_CHANGED", "actor": worker, "data": {"from": "NEW", "to": "OPEN", "version": 3}},
        {"type": "COMMENTED", "actor": worker, "data": {"visibility": "PUBLIC", "version": 4}},
        {
            "type": "STATUS_CHANGED",
            "actor": worker,
            "data": {"from": "OPEN", "to": "PENDING", "reason": "等待客户提供照片", "version": 5},
        },
        {
            "type": "STATUS_CHANGED",
            "actor": customer,
            "data": {
                "from": "PENDING",
                "to": "OPEN",
                "reason": "CUSTOMER_REPLY",
                "relayedByAgentId": relayed_by,
                "version": 6,
            },
        },
        {"type": "COMMENTED", "actor": customer, "data": {"visibility": "PUBLIC", "version": 6}},
        {
            "type": "STATUS_CHANGED",
            "actor": worker,
            "data": {"from": "OPEN", "to": "RESOLVED", "resolution": "更换排水管密封圈。", "version": 7},
        },
        # A rating of 2 is a follow-up case: the system tags the ticket low-csat, in the same version.
        {
            "type": "UPDATED",
            "actor": None,
            "data": {
                "changes": {"tags": {"from": ["leak", "warranty"], "to": ["leak", "warranty", "low-csat"]}},
                "version": 8,
            },
        },
        {
            "type": "RATED",
            "actor": customer,
            "data": {"score": 2, "comment": "还是有点漏", "relayedByAgentId": relayed_by, "version": 8},
        },
        {
            "type": "STATUS_CHANGED",
            "actor": worker,
            "data": {"from": "RESOLVED", "to": "OPEN", "reason": "客户反馈仍然漏水", "version": 9},
        },
        {
            "type": "STATUS_CHANGED",
            "actor": worker,
            "data": {"from": "OPEN", "to": "RESOLVED", "resolution": "上门更换排水泵。", "version": 10},
        },
        {"type": "STATUS_CHANGED", "actor": worker, "data": {"from": "RESOLVED", "to": "CLOSED", "version": 11}},
    ]


def actor_of(event: dict[str, Any]) -> tuple[str, int] | None:
    agent, customer = event["actorAgent"], event["actorCustomer"]
    assert agent is None or customer is None, event
    if agent is not None:
        return ("agent", ids.decode_as(agent["id"], "Agent") or -1)
    if customer is not None:
        return ("customer", ids.decode_as(customer["id"], "Customer") or -1)
    return None


async def live_a_ticket(admin: Actor, make_actor: MakeActor) -> tuple[Life, dict[str, Any]]:
    supervisor = await make_actor(AgentRole.SUPERVISOR, name="Supervisor Sue")
    token = (await admin.client.mutate(CREATE_API_TOKEN, {"name": "call-centre bridge"}))["token"]
    life = Life(admin, supervisor, admin.client.as_(token))
    created = await life.live()
    return life, created


async def test_a_whole_ticket_life_is_in_the_history_oldest_first_with_actor_time_and_changes(
    admin: Actor, make_actor: MakeActor
) -> None:
    started = datetime.now(UTC) - timedelta(seconds=1)
    life, created = await live_a_ticket(admin, make_actor)
    finished = datetime.now(UTC) + timedelta(seconds=1)
    ticket = await ticket_state(admin.client, created["id"])
    customer_pk = ids.decode_as(ticket["customer"]["id"], "Customer")
    assert customer_pk is not None

    events = await full_history(admin.client, created["id"])
    expected = expected_trail(created, life, customer_pk)
    assert [e["type"] for e in events] == [x["type"] for x in expected]
    for event, want in zip(events, expected, strict=True):
        assert actor_of(event) == want["actor"], (event, want)
        missing = {k: v for k, v in want["data"].items() if event["data"].get(k, "<absent>") != v}
        assert missing == {}, (event["type"], event["data"], want["data"])
        assert started <= parse_time(event["occurredAt"]) <= finished

    # Oldest first, by time and by cursor, with each cursor its edge's.
    times = [parse_time(e["occurredAt"]) for e in events]
    assert times == sorted(times)
    assert len({e["cursor"] for e in events}) == len(events)
    assert len({e["id"] for e in events}) == len(events)

    # The ticket's timestamps are the history's.
    assert ticket["status"] == "CLOSED"
    assert parse_time(ticket["closedAt"]) == times[-1]
    assert parse_time(ticket["resolvedAt"]) == times[-2]
    assert parse_time(ticket["updatedAt"]) == times[-1]
    assert parse_time(ticket["createdAt"]) == times[0]
    assert parse_time(ticket["firstRespondedAt"]) == times[4]

    # Every change made exactly one new version, and the ticket is at the last one.
    versions = [e["data"]["version"] for e in events]
    assert versions == sorted(versions)
    assert sorted(set(versions)) == list(range(1, len(set(versions)) + 1))
    assert ticket["version"] == len(set(versions)) == 11

    # The console's detail view shows the same trail.
    assert [e["node"]["id"] for e in ticket["history"]["edges"]] == [e["id"] for e in events]


async def test_history_pages_return_every_event_exactly_once(admin: Actor, make_actor: MakeActor) -> None:
    _, created = await live_a_ticket(admin, make_actor)
    everything = [e["id"] for e in await full_history(admin.client, created["id"])]
    assert len(everything) == 14

    for size in (1, 2, 5, 14, 50):
        seen: list[str] = []
        after = None
        pages = 0
        while True:
            result = await admin.client.run(HISTORY, {"id": created["id"], "first": size, "after": after})
            page = result["ticket"]["history"]
            pages += 1
            edges = page["edges"]
            assert len(edges) <= size
            assert all(edge["cursor"] == edge["node"]["cursor"] for edge in edges)
            if edges:
                assert page["pageInfo"]["startCursor"] == edges[0]["cursor"]
                assert page["pageInfo"]["endCursor"] == edges[-1]["cursor"]
            assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
            seen.extend(edge["node"]["id"] for edge in edges)
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert seen == everything, size
        assert pages == -(-len(everything) // size), size


async def test_a_refused_mutation_adds_no_event_and_no_version(admin: Actor, make_actor: MakeActor) -> None:
    life, created = await live_a_ticket(admin, make_actor)
    tid = created["id"]
    before = await full_history(admin.client, tid)
    version = (await ticket_state(admin.client, tid))["version"]
    w = life.worker.client

    refused = [
        (w, UPDATE, {"id": tid, "input": {"subject": "stale"}, "expectedVersion": 1}, "VERSION_CONFLICT"),
        (w, UPDATE, {"id": tid, "input": {"subject": "  "}}, "INVALID_INPUT"),
        (w, START, {"id": tid}, "INVALID_TRANSITION"),
        (w, REOPEN, {"id": tid, "reason": "again"}, "INVALID_TRANSITION"),
        (w, RESOLVE, {"id": tid, "resolution": "again"}, "INVALID_TRANSITION"),
        (w, CLOSE, {"id": tid}, "INVALID_TRANSITION"),
        (w, ADD_COMMENT, {"ticketId": tid, "body": "public on a closed ticket"}, "INVALID_TRANSITION"),
        (w, ADD_COMMENT, {"ticketId": tid, "body": ""}, "INVALID_INPUT"),
        (life.relay, CUSTOMER_REPLY, {"ticketId": tid, "body": "hello?"}, "INVALID_TRANSITION"),
        (life.relay, RATE, {"id": tid, "score": 5}, "DUPLICATE"),
        (life.relay, RATE, {"id": tid, "score": 9}, "INVALID_INPUT"),
    ]
    for client, document, variables, code in refused:
        payload = await payload_of(client, document, variables)
        assert [e["code"] for e in payload["userErrors"]] == [code], (document, payload)
        assert await full_history(admin.client, tid) == before, document
    after = await ticket_state(admin.client, tid)
    assert after["version"] == version
    assert after["subject"] == "洗衣机底部漏水"
    assert after["satisfaction"]["score"] == 2
