"""Agents' notifications through the real server: each kind made by the operation that causes
it (and not made when it should not be), my list and marking it read, only ever mine, and the
live subscription over a real websocket."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from app.clock import ManualClock
from app.domain.enums import AgentRole, AssignmentStrategy, NotificationKind
from app.domain.records import GroupRecord
from app.services import routing_rules, sla
from app.services.notifications import POLL_SECONDS, notify_agents
from app.services.runtime import Runtime
from app.services.sla_scheduler import run_due
from app.settings import Settings
from schema import ids
from tests.conftest import Actor
from tests.support import GraphQLClient, GraphQLWebSocket, ServerThread, load_document

NOTIFICATIONS = "console/Notifications.graphql"
MARK_READ = "console/MarkNotificationsRead.graphql"
LIVE = "console/NotificationsSubscription.graphql"
CREATE = "console/CreateTicket.graphql"
ADD_COMMENT = "console/AddComment.graphql"
ASSIGN = "console/AssignTicket.graphql"
PRESENCE = "console/SetPresence.graphql"
START = "console/StartTicket.graphql"
RESOLVE = "console/ResolveTicket.graphql"
RATE = "partner/RateTicket.graphql"

MakeActor = Callable[..., Awaitable[Actor]]
MakeGroup = Callable[..., Awaitable[GroupRecord]]


async def new_ticket(client: GraphQLClient, category: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "subject": "耳机左声道没有声音",
        "description": "Bought last week; the left earbud is silent.",
        "channel": "EMAIL",
        "customer": {"email": "chen.jing@example.cn", "name": "陈静"},
    }
    if category:
        data["category"] = category
    ticket: dict[str, Any] = (await client.mutate(CREATE, {"input": data}))["ticket"]
    return ticket


async def ticket_of_group(admin: Actor, group: GroupRecord, category: str | None = None) -> str:
    """A new ticket in the group's queue (unassigned)."""
    ticket_id: str = (await new_ticket(admin.client, category))["id"]
    await admin.client.mutate(ASSIGN, {"id": ticket_id, "groupId": ids.encode("Group", group.id)})
    return ticket_id


async def mine(actor: Actor, **variables: Any) -> dict[str, Any]:
    connection: dict[str, Any] = (await actor.client.run(NOTIFICATIONS, variables))["notifications"]
    return connection


async def kinds(actor: Actor) -> list[tuple[str, str | None]]:
    """(kind, ticket id) of my notifications, newest first."""
    nodes = [edge["node"] for edge in (await mine(actor, first=100))["edges"]]
    return [(n["kind"], n["ticket"]["id"] if n["ticket"] else None) for n in nodes]


async def team(make_group: MakeGroup, strategy: AssignmentStrategy = AssignmentStrategy.MANUAL) -> GroupRecord:
    return await make_group(assignment_strategy=strategy)


# ---------------------------------------------------------------- MENTION


async def test_an_internal_note_notifies_the_agents_it_mentions_who_may_see_the_ticket(
    make_actor: MakeActor, make_group: MakeGroup, admin: Actor
) -> None:
    group, elsewhere = await team(make_group), await team(make_group)
    author = await make_actor(groups=[group], name="Zhou Min")
    li_na = await make_actor(groups=[group], name="李娜")
    wang = await make_actor(groups=[group], name="Wang Fang", email="wang.fang@example.cn")
    outsider = await make_actor(groups=[elsewhere], name="Outsider Oz")
    ticket = await ticket_of_group(admin, group)

    note = "@李娜请看一下 cc @wang.fang@example.cn, @Outsider Oz, @Zhou Min and @nobody"
    await author.client.mutate(ADD_COMMENT, {"ticketId": ticket, "body": note, "visibility": "INTERNAL"})

    assert await kinds(li_na) == [("MENTION", ticket)]
    assert await kinds(wang) == [("MENTION", ticket)]
    (mention,) = (await mine(li_na))["edges"]
    assert mention["node"]["message"].startswith("Zhou Min mentioned you in an internal note on #")
    # Not the author, not an agent who may not see the ticket; an unknown name stays text.
    assert await kinds(author) == []
    assert await kinds(outsider) == []


async def test_a_public_reply_mentions_no_one(make_actor: MakeActor, make_group: MakeGroup, admin: Actor) -> None:
    group = await team(make_group)
    author = await make_actor(groups=[group])
    li_na = await make_actor(groups=[group], name="李娜")
    ticket = await ticket_of_group(admin, group)
    await author.client.mutate(ADD_COMMENT, {"ticketId": ticket, "body": "@李娜 will call you", "visibility": "PUBLIC"})
    assert await kinds(li_na) == []


# ---------------------------------------------------------------- ASSIGNED


async def test_assignment_by_a_supervisor_notifies_the_assignee_but_taking_a_ticket_oneself_does_not(
    make_actor: MakeActor, make_group: MakeGroup, admin: Actor
) -> None:
    group = await team(make_group)
    agent = await make_actor(groups=[group])
    supervisor = await make_actor(AgentRole.SUPERVISOR, groups=[group])
    given, taken = await ticket_of_group(admin, group), await ticket_of_group(admin, group)

    await supervisor.client.mutate(ASSIGN, {"id": given, "agentId": ids.encode("Agent", agent.agent.id)})
    await supervisor.client.mutate(ASSIGN, {"id": taken, "agentId": ids.encode("Agent", supervisor.agent.id)})

    assert await kinds(agent) == [("ASSIGNED", given)]
    assert await kinds(supervisor) == []


async def test_routing_that_hands_a_new_ticket_to_an_agent_notifies_them(
    make_actor: MakeActor, make_group: MakeGroup, admin: Actor, rt: Runtime
) -> None:
    group = await team(make_group, AssignmentStrategy.LEAST_LOADED)
    agent = await make_actor(groups=[group])
    await agent.client.mutate(PRESENCE, {"presence": "ONLINE"})
    rule = routing_rules.RuleInput(name="refunds", match_categories=["refund"], route_to_group_id=group.id)
    await routing_rules.create_rule(rt, admin.principal, rule)

    ticket = await new_ticket(admin.client, category="refund")

    assert await kinds(agent) == [("ASSIGNED", ticket["id"])]
    assert await kinds(admin) == []


# ---------------------------------------------------------------- SLA


async def test_the_sla_scheduler_warns_the_assignee_or_else_the_group(
    make_actor: MakeActor, make_group: MakeGroup, admin: Actor, engine: AsyncEngine, settings: Settings, rt: Runtime
) -> None:
    group, elsewhere = await team(make_group), await team(make_group)
    first, second = await make_actor(groups=[group]), await make_actor(groups=[group])
    outsider = await make_actor(groups=[elsewhere])
    policy = sla.PolicyInput(name="probe", match_categories=["sla-probe"], first_response_seconds=3600)
    await sla.create_policy(rt, admin.principal, policy)
    queued = await ticket_of_group(admin, group, category="sla-probe")
    assigned = await ticket_of_group(admin, group, category="sla-probe")
    await admin.client.mutate(ASSIGN, {"id": assigned, "agentId": ids.encode("Agent", first.agent.id)})

    # 80% of the hour has passed (48 minutes): the warnings.
    soon = Runtime(engine=engine, settings=settings, clock=ManualClock(datetime.now(UTC) + timedelta(minutes=55)))
    assert await run_due(soon) == 2
    assert sorted(await kinds(first)) == sorted(
        [("SLA_WARNING", queued), ("SLA_WARNING", assigned), ("ASSIGNED", assigned)]
    )
    assert await kinds(second) == [("SLA_WARNING", queued)]
    assert await kinds(outsider) == []

    late = Runtime(engine=engine, settings=settings, clock=ManualClock(datetime.now(UTC) + timedelta(hours=2)))
    assert await run_due(late) == 2
    assert [k for k in await kinds(second) if k[0] == "SLA_BREACHED"] == [("SLA_BREACHED", queued)]
    assert sorted(k for k in await kinds(first) if k[0] == "SLA_BREACHED") == sorted(
        [("SLA_BREACHED", queued), ("SLA_BREACHED", assigned)]
    )


# ---------------------------------------------------------------- LOW_SATISFACTION


async def resolved(admin: Actor, group: GroupRecord) -> str:
    ticket = await ticket_of_group(admin, group)
    await admin.client.mutate(START, {"id": ticket})
    await admin.client.mutate(RESOLVE, {"id": ticket, "resolution": "Replaced the earbuds."})
    return ticket


async def test_a_low_rating_notifies_the_groups_supervisors_or_else_the_admins(
    make_actor: MakeActor, make_group: MakeGroup, admin: Actor
) -> None:
    supervised, unsupervised = await team(make_group), await team(make_group)
    agent = await make_actor(groups=[supervised, unsupervised])
    supervisor = await make_actor(AgentRole.SUPERVISOR, groups=[supervised])
    low, high, orphan = (
        await resolved(admin, supervised),
        await resolved(admin, supervised),
        await resolved(admin, unsupervised),
    )

    await agent.client.mutate(RATE, {"id": low, "score": 2, "comment": "太慢了"})
    await agent.client.mutate(RATE, {"id": high, "score": 5})
    await agent.client.mutate(RATE, {"id": orphan, "score": 1})

    assert await kinds(supervisor) == [("LOW_SATISFACTION", low)]
    assert await kinds(admin) == [("LOW_SATISFACTION", orphan)]
    assert await kinds(agent) == []


# ---------------------------------------------------------------- my list, marking read, only mine


async def tell(rt: Runtime, actor: Actor, count: int) -> None:
    for n in range(count):
        async with rt.transaction() as tx:
            await notify_agents(tx, [actor.agent.id], NotificationKind.AUTOMATION, None, f"note {n}", rt.clock.now())


async def test_pages_newest_first_with_unread_only_and_marking_read_counts_only_mine(
    make_actor: MakeActor, rt: Runtime
) -> None:
    me, other = await make_actor(), await make_actor()
    await tell(rt, me, 5)
    await tell(rt, other, 1)

    page = await mine(me, first=2)
    assert [e["node"]["message"] for e in page["edges"]] == ["note 4", "note 3"]
    assert (page["totalCount"], page["pageInfo"]["hasNextPage"]) == (5, True)
    rest = await mine(me, first=10, after=page["pageInfo"]["endCursor"])
    assert [e["node"]["message"] for e in rest["edges"]] == ["note 2", "note 1", "note 0"]
    assert rest["pageInfo"]["hasNextPage"] is False
    newest = [e["node"]["id"] for e in page["edges"]]

    assert (await me.client.mutate(MARK_READ, {"ids": newest}))["count"] == 2
    assert (await me.client.mutate(MARK_READ, {"ids": newest}))["count"] == 0  # already read
    unread = await me.client.run(NOTIFICATIONS, {"unreadOnly": True})
    assert [e["node"]["message"] for e in unread["notifications"]["edges"]] == ["note 2", "note 1", "note 0"]
    assert unread["unread"]["totalCount"] == 3

    # Another's id: NOT_FOUND on that id, and nothing of mine is marked either.
    theirs = (await mine(other))["edges"][0]["node"]["id"]
    refused = (await me.client.run(MARK_READ, {"ids": [rest["edges"][0]["node"]["id"], theirs]}))[
        "markNotificationsRead"
    ]
    assert refused == {
        "count": 0,
        "userErrors": [{"field": ["ids", "1"], "message": "no such notification", "code": "NOT_FOUND"}],
    }
    node = await me.client.execute("query($id: ID!) { node(id: $id) { id } }", {"id": theirs})
    assert node == {"node": None}
    mine_node = await me.client.execute(
        "query($id: ID!) { node(id: $id) { ... on Notification { message readAt } } }", {"id": newest[0]}
    )
    assert mine_node["node"]["message"] == "note 4" and mine_node["node"]["readAt"] is not None

    assert (await me.client.mutate(MARK_READ, {"ids": None}))["count"] == 3
    assert (await me.client.run(NOTIFICATIONS))["unread"]["totalCount"] == 0
    assert (await other.client.run(NOTIFICATIONS))["unread"]["totalCount"] == 1


async def test_bad_pages_are_graphql_errors_not_500s(make_actor: MakeActor) -> None:
    me = await make_actor()
    for variables, expected in (
        ({"first": 101}, "at most 100"),
        ({"after": "not-a-cursor"}, "not a valid notification list cursor"),
        ({"after": "bnQxOlsiYSJd"}, "not a valid notification list cursor"),  # nt1:["a"]
    ):
        result = await me.client.post(load_document(NOTIFICATIONS), variables)
        assert expected in result["errors"][0]["message"], result


# ---------------------------------------------------------------- live


async def test_the_subscription_delivers_a_mention_made_after_it_started_once(
    make_actor: MakeActor, make_group: MakeGroup, admin: Actor, server: ServerThread, rt: Runtime
) -> None:
    group = await team(make_group)
    author = await make_actor(groups=[group])
    li_na = await make_actor(groups=[group], name="李娜")
    ticket = await ticket_of_group(admin, group)
    await tell(rt, li_na, 1)  # before the subscription: not delivered

    async with GraphQLWebSocket(server.url, li_na.token) as ws:
        op = await ws.subscribe(load_document(LIVE))
        await ws.nothing_for(op, 0.5)
        await author.client.mutate(ADD_COMMENT, {"ticketId": ticket, "body": "@李娜 请回电", "visibility": "INTERNAL"})
        delivered = (await ws.next_data(op))["notifications"]
        assert (delivered["kind"], delivered["ticket"]["id"]) == ("MENTION", ticket)

        # A notification no ticket event announces arrives by the periodic look.
        await tell(rt, li_na, 1)
        other = (await ws.next_data(op, within=POLL_SECONDS + 5))["notifications"]
        assert (other["kind"], other["ticket"]) == ("AUTOMATION", None)
        await ws.nothing_for(op, 1.0)
