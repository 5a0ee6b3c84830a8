"""Auto-assignment through the real server: each strategy, availability (presence, vacation,
capacity), the group queue and its draining, vacation hand-back, manual assignment,
escalation into another group, and MANUAL groups."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from app.domain.enums import AgentRole, AssignmentStrategy
from app.domain.records import GroupRecord
from schema import ids
from tests.api.test_routing import (
    AUTO_ASSIGN,
    CREATE,
    aid,
    create_rule,
    create_ticket,
    detail,
    errors,
    gid,
    go_online,
    history,
    payload_of,
    ticket_input,
)
from tests.conftest import Actor
from tests.support import GraphQLClient

ASSIGN = "console/AssignTicket.graphql"
UPDATE_AGENT = "console/admin/UpdateAgent.graphql"
START = "console/StartTicket.graphql"
RESOLVE = "console/ResolveTicket.graphql"
ESCALATE = "console/EscalateTicket.graphql"
GROUPS = "console/Groups.graphql"
AGENTS = "console/Agents.graphql"

MakeActor = Callable[..., Awaitable[Actor]]
MakeGroup = Callable[..., Awaitable[GroupRecord]]

ROUND_ROBIN = AssignmentStrategy.ROUND_ROBIN
LEAST_LOADED = AssignmentStrategy.LEAST_LOADED
SKILL_BASED = AssignmentStrategy.SKILL_BASED
MANUAL = AssignmentStrategy.MANUAL

NEUTRAL = {"subject": "Order question", "description": "When will order SO-1001 ship?"}


async def route_everything_to(admin: Actor, group: GroupRecord, **fields: Any) -> dict[str, Any]:
    return await create_rule(admin, name=f"all to {group.name}", routeToGroupId=gid(group), **fields)


async def new_ticket(admin: Actor, **overrides: Any) -> dict[str, Any]:
    return await create_ticket(admin.client, **{**NEUTRAL, **overrides})


def assignee_of(ticket: dict[str, Any]) -> str | None:
    return ticket["assignee"]["id"] if ticket["assignee"] else None


async def current_assignee(admin: Actor, ticket_id: str) -> str | None:
    return assignee_of(await detail(admin.client, ticket_id))


async def queue_length(admin: Actor, group: GroupRecord) -> int:
    groups = (await admin.client.run(GROUPS))["groups"]
    (found,) = [g for g in groups if g["id"] == gid(group)]
    length: int = found["queueLength"]
    return length


async def open_counts(admin: Actor, group: GroupRecord) -> dict[str, int]:
    agents = (await admin.client.run(AGENTS, {"groupId": gid(group)}))["agents"]
    return {a["id"]: a["openTicketCount"] for a in agents}


async def assignment_events(admin: Actor, ticket_id: str) -> list[tuple[str, Any, Any, str]]:
    """(type, assignee, previous assignee, reason) of the ticket's ASSIGNED/UNASSIGNED events; the
    agents as primary keys, decoded from the global ids the history shows."""
    events = await history(admin.client, ticket_id, "ASSIGNED", "UNASSIGNED")
    return [
        (e["type"], agent_pk(e["data"]["assigneeId"]), agent_pk(e["data"]["previousAssigneeId"]), e["data"]["reason"])
        for e in events
    ]


def agent_pk(global_id: str | None) -> int | None:
    if global_id is None:
        return None
    pk = ids.decode_as(global_id, "Agent")
    assert pk is not None, global_id
    return pk


async def set_vacation(admin: Actor, agent: Actor, on_vacation: bool) -> dict[str, Any]:
    payload = await admin.client.mutate(UPDATE_AGENT, {"id": aid(agent), "input": {"onVacation": on_vacation}})
    result: dict[str, Any] = payload["agent"]
    return result


async def start_and_resolve(client: GraphQLClient, ticket_id: str) -> None:
    await client.mutate(START, {"id": ticket_id})
    await client.mutate(RESOLVE, {"id": ticket_id, "resolution": "Fixed."})


async def assign(admin: Actor, ticket_id: str, agent: Actor) -> dict[str, Any]:
    ticket: dict[str, Any] = (await admin.client.mutate(ASSIGN, {"id": ticket_id, "agentId": aid(agent)}))["ticket"]
    return ticket


# ---------------------------------------------------------------- (a) skills


async def test_a_network_outage_goes_to_technical_support_and_the_agent_with_the_network_skill(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup
) -> None:
    support = await make_group("技术支持", assignment_strategy=SKILL_BASED)
    # Created first (lower id) and idle: without the skill rule it would win every tie.
    generalist = await make_actor(groups=[support], name="No Network", skills=["billing"], languages=["zh", "en"])
    engineer = await make_actor(groups=[support], name="Network Engineer", skills=["network"], languages=["zh"])
    await go_online(generalist, engineer)
    await create_rule(
        admin,
        name="网络故障",
        matchKeywords=["网络故障"],
        setCategory="technical",
        routeToGroupId=gid(support),
        requireSkills=["network"],
    )

    for n in range(3):
        ticket = await create_ticket(admin.client, subject=f"网络故障 #{n}", description="整个办公室都断网了")
        assert ticket["group"] == {"id": gid(support), "name": "技术支持"}
        assert ticket["category"] == "technical"
        assert assignee_of(ticket) == aid(engineer)
        assert await assignment_events(admin, ticket["id"]) == [("ASSIGNED", engineer.agent.id, None, "SKILL_BASED")]
    assert (await open_counts(admin, support))[aid(generalist)] == 0


async def test_a_skill_based_ticket_nobody_qualifies_for_waits_for_a_qualified_agent(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup
) -> None:
    support = await make_group("tech", assignment_strategy=SKILL_BASED)
    generalist = await make_actor(groups=[support], skills=["billing"], languages=["zh"])
    engineer = await make_actor(groups=[support], skills=["network"], languages=["zh"])
    await go_online(generalist)
    await create_rule(
        admin, name="net", matchKeywords=["网络故障"], routeToGroupId=gid(support), requireSkills=["network"]
    )
    await route_everything_to(admin, support)
    ticket = await create_ticket(admin.client, subject="网络故障", description="断网了")
    assert ticket["assignee"] is None
    assert await queue_length(admin, support) == 1
    # An unrelated ticket the generalist can take does not unblock it.
    other = await create_ticket(admin.client, subject="发票", description="请开发票")
    assert assignee_of(other) == aid(generalist)
    await go_online(engineer)
    assert await current_assignee(admin, ticket["id"]) == aid(engineer)
    assert await queue_length(admin, support) == 0


# ---------------------------------------------------------------- (b) least loaded


async def test_least_loaded_gives_the_next_ticket_to_the_agent_with_fewer_open_tickets(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup
) -> None:
    group = await make_group("second line", assignment_strategy=LEAST_LOADED)
    b = await make_actor(groups=[group], name="B", capacity=10)  # lower id: wins ties
    a = await make_actor(groups=[group], name="A", capacity=10)
    await route_everything_to(admin, group)
    queued = [await new_ticket(admin, subject=f"Order question {n}") for n in range(8)]
    assert all(t["assignee"] is None for t in queued)
    # B's five first, A's three last: A is the most recently assigned, so only load favours A.
    for ticket in queued[:5]:
        await assign(admin, ticket["id"], b)
    for ticket in queued[5:]:
        await assign(admin, ticket["id"], a)
    await go_online(a, b)
    assert await open_counts(admin, group) == {aid(a): 3, aid(b): 5}

    nxt = await new_ticket(admin)
    assert assignee_of(nxt) == aid(a)
    assert await assignment_events(admin, nxt["id"]) == [("ASSIGNED", a.agent.id, None, "LEAST_LOADED")]
    # A gets the next one too (4 < 5); level at 5 each, the rotation decides (B waited longest).
    assert [assignee_of(await new_ticket(admin)) for _ in range(3)] == [aid(a), aid(b), aid(a)]
    assert await open_counts(admin, group) == {aid(a): 6, aid(b): 6}


async def test_least_loaded_is_relative_to_capacity(admin: Actor, make_actor: MakeActor, make_group: MakeGroup) -> None:
    group = await make_group("ratio", assignment_strategy=LEAST_LOADED)
    small = await make_actor(groups=[group], name="small", capacity=4)
    big = await make_actor(groups=[group], name="big", capacity=20)
    await route_everything_to(admin, group)
    queued = [await new_ticket(admin) for _ in range(5)]
    for ticket in queued[:2]:
        await assign(admin, ticket["id"], small)  # 2/4 = 50 %
    for ticket in queued[2:]:
        await assign(admin, ticket["id"], big)  # 3/20 = 15 %
    await go_online(small, big)
    assert assignee_of(await new_ticket(admin)) == aid(big)


# ---------------------------------------------------------------- (c) language


async def test_a_french_ticket_in_a_skill_based_group_goes_to_the_french_speaking_agent(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup
) -> None:
    group = await make_group("international", assignment_strategy=SKILL_BASED)
    english = await make_actor(groups=[group], name="Emma", languages=["en"])
    chinese = await make_actor(groups=[group], name="小王", languages=["zh"])
    french = await make_actor(groups=[group], name="Fabien", languages=["fr", "en"])
    await go_online(english, chinese, french)
    await route_everything_to(admin, group)

    ticket = await create_ticket(
        admin.client,
        subject="Problème de livraison",
        description="Bonjour, ma commande n'est pas arrivée et je ne peux pas suivre le colis.",
        customer={"email": "anne@example.fr", "name": "Anne"},
    )
    assert ticket["language"] == "fr"
    assert assignee_of(ticket) == aid(french)

    given = await create_ticket(admin.client, language="fr-CA", customer={"email": "luc@example.ca"}, **NEUTRAL)
    assert assignee_of(given) == aid(french)
    chinese_ticket = await create_ticket(admin.client, subject="无法登录", description="我无法登录我的账号")
    assert assignee_of(chinese_ticket) == aid(chinese)
    # English: Emma and Fabien both speak it; Emma has fewer open tickets.
    english_ticket = await create_ticket(admin.client, customer={"email": "bob@example.com"}, language="en", **NEUTRAL)
    assert assignee_of(english_ticket) == aid(english)


async def test_a_ticket_in_a_language_nobody_speaks_waits(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup
) -> None:
    group = await make_group("international", assignment_strategy=SKILL_BASED)
    english = await make_actor(groups=[group], languages=["en"])
    await go_online(english)
    await route_everything_to(admin, group)
    ticket = await create_ticket(
        admin.client,
        subject="Lieferung",
        description="Ich kann mich nicht in mein Konto einloggen, bitte helfen Sie mir.",
        customer={"email": "hans@example.de"},
    )
    assert ticket["language"] == "de"
    assert ticket["assignee"] is None
    assert await queue_length(admin, group) == 1


# ---------------------------------------------------------------- (d) availability


@pytest.mark.parametrize("kind", ["offline", "away", "vacation", "at-capacity"])
async def test_unavailable_agents_get_nothing_and_the_ticket_waits_in_the_queue(
    kind: str, admin: Actor, make_actor: MakeActor, make_group: MakeGroup
) -> None:
    group = await make_group("desk", assignment_strategy=LEAST_LOADED)
    blocked = await make_actor(groups=[group], name="blocked", capacity=1 if kind == "at-capacity" else 10)
    await route_everything_to(admin, group)
    if kind == "away":
        await go_online(blocked, presence="AWAY")
    elif kind == "vacation":
        await go_online(blocked)
        await set_vacation(admin, blocked, True)
    elif kind == "at-capacity":
        await go_online(blocked)
        first = await new_ticket(admin)
        assert assignee_of(first) == aid(blocked)
    before = (await open_counts(admin, group))[aid(blocked)]

    waiting = await new_ticket(admin)
    assert waiting["assignee"] is None
    assert waiting["group"]["id"] == gid(group)
    assert await queue_length(admin, group) == 1
    assert (await open_counts(admin, group))[aid(blocked)] == before
    assert await assignment_events(admin, waiting["id"]) == []

    # An available colleague (higher id, so no tie goes their way by accident) takes the queue
    # and the next tickets; the blocked agent still gets nothing.
    colleague = await make_actor(groups=[group], name="colleague")
    await go_online(colleague)
    assert await current_assignee(admin, waiting["id"]) == aid(colleague)
    assert await queue_length(admin, group) == 0
    for _ in range(2):
        assert assignee_of(await new_ticket(admin)) == aid(colleague)
    assert (await open_counts(admin, group))[aid(blocked)] == before


async def test_going_away_or_offline_stops_new_tickets_but_keeps_the_old_ones(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup
) -> None:
    group = await make_group("desk", assignment_strategy=ROUND_ROBIN)
    agent = await make_actor(groups=[group])
    await route_everything_to(admin, group)
    await go_online(agent)
    kept = await new_ticket(admin)
    assert assignee_of(kept) == aid(agent)
    for presence in ("AWAY", "OFFLINE"):
        await go_online(agent, presence=presence)
        assert (await new_ticket(admin))["assignee"] is None
        assert await current_assignee(admin, kept["id"]) == aid(agent)
    assert await queue_length(admin, group) == 2


async def test_capacity_holds_under_concurrent_ticket_creation(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup
) -> None:
    group = await make_group("rush", assignment_strategy=LEAST_LOADED)
    agents = [await make_actor(groups=[group], capacity=3) for _ in range(2)]
    await go_online(*agents)
    await route_everything_to(admin, group)
    tickets = await asyncio.gather(
        *(
            admin.client.mutate(CREATE, {"input": ticket_input(subject=f"Rush {n}", description="Where is it?")})
            for n in range(12)
        )
    )
    assigned = Counter(assignee_of(p["ticket"]) for p in tickets)
    assert assigned == {aid(agents[0]): 3, aid(agents[1]): 3, None: 6}
    assert await open_counts(admin, group) == {aid(agents[0]): 3, aid(agents[1]): 3}
    assert await queue_length(admin, group) == 6


# ---------------------------------------------------------------- (e) round robin


async def test_round_robin_over_three_agents_gives_three_each_in_turn(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup
) -> None:
    group = await make_group("rotation", assignment_strategy=ROUND_ROBIN)
    agents = [await make_actor(groups=[group], name=name) for name in ("甲", "乙", "丙")]
    await go_online(*agents)
    await route_everything_to(admin, group)

    order = []
    for n in range(9):
        ticket = await new_ticket(admin, subject=f"Order question {n}")
        order.append(assignee_of(ticket))
        assert [reason for *_, reason in await assignment_events(admin, ticket["id"])] == ["ROUND_ROBIN"]
    turn = [aid(a) for a in agents]
    assert order == turn * 3
    assert await open_counts(admin, group) == {t: 3 for t in turn}


async def test_round_robin_skips_an_agent_who_is_away_and_keeps_the_turns_fair(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup
) -> None:
    group = await make_group("rotation", assignment_strategy=ROUND_ROBIN)
    x, y, z = [await make_actor(groups=[group]) for _ in range(3)]
    await go_online(x, y, z)
    await route_everything_to(admin, group)
    assert [assignee_of(await new_ticket(admin)) for _ in range(3)] == [aid(x), aid(y), aid(z)]
    await go_online(y, presence="AWAY")
    assert [assignee_of(await new_ticket(admin)) for _ in range(2)] == [aid(x), aid(z)]
    await go_online(y)
    # y's turn is the oldest now.
    assert [assignee_of(await new_ticket(admin)) for _ in range(3)] == [aid(y), aid(x), aid(z)]


# ---------------------------------------------------------------- (f) the queue drains


async def test_going_online_drains_the_queue_most_urgent_then_oldest_up_to_capacity(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup
) -> None:
    group = await make_group("queue", assignment_strategy=LEAST_LOADED)
    agent = await make_actor(groups=[group], capacity=3)
    await route_everything_to(admin, group)
    n1 = await new_ticket(admin, subject="normal 1", priority="NORMAL")
    n2 = await new_ticket(admin, subject="normal 2", priority="NORMAL")
    low = await new_ticket(admin, subject="low", priority="LOW")
    urgent = await new_ticket(admin, subject="urgent", priority="URGENT")
    n3 = await new_ticket(admin, subject="normal 3", priority="NORMAL")
    assert await queue_length(admin, group) == 5

    await go_online(agent)
    mine = {t["id"] for t in (n1, n2, low, urgent, n3) if await current_assignee(admin, t["id"]) == aid(agent)}
    assert mine == {urgent["id"], n1["id"], n2["id"]}
    assert await queue_length(admin, group) == 2
    assert (await open_counts(admin, group))[aid(agent)] == 3
    for ticket in (urgent, n1, n2):
        assert await assignment_events(admin, ticket["id"]) == [("ASSIGNED", agent.agent.id, None, "QUEUE_DRAIN")]
        (assigned,) = await history(admin.client, ticket["id"], "ASSIGNED")
        assert assigned["actorAgent"] is None  # the system hands them out

    # Resolving one frees a slot: the next waiting ticket (NORMAL before LOW) goes to the agent.
    await start_and_resolve(agent.client, urgent["id"])
    assert await current_assignee(admin, n3["id"]) == aid(agent)
    assert await assignment_events(admin, n3["id"]) == [("ASSIGNED", agent.agent.id, None, "QUEUE_DRAIN")]
    assert await current_assignee(admin, low["id"]) is None
    await start_and_resolve(agent.client, n1["id"])
    assert await current_assignee(admin, low["id"]) == aid(agent)
    assert await queue_length(admin, group) == 0


async def test_the_queue_is_shared_out_as_agents_come_online(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup
) -> None:
    group = await make_group("queue", assignment_strategy=ROUND_ROBIN)
    first = await make_actor(groups=[group], capacity=2)
    second = await make_actor(groups=[group], capacity=2)
    await route_everything_to(admin, group)
    waiting = [await new_ticket(admin, subject=f"waiting {n}") for n in range(5)]
    await go_online(first)
    await go_online(second)
    owners = [await current_assignee(admin, t["id"]) for t in waiting]
    assert owners == [aid(first), aid(first), aid(second), aid(second), None]


async def test_coming_back_from_vacation_drains_the_queue(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup
) -> None:
    group = await make_group("queue", assignment_strategy=ROUND_ROBIN)
    agent = await make_actor(groups=[group])
    await route_everything_to(admin, group)
    await go_online(agent)
    await set_vacation(admin, agent, True)
    waiting = [await new_ticket(admin, subject=f"during vacation {n}") for n in range(2)]
    assert [t["assignee"] for t in waiting] == [None, None]

    back = await set_vacation(admin, agent, False)
    assert back["onVacation"] is False
    for ticket in waiting:
        assert await assignment_events(admin, ticket["id"]) == [("ASSIGNED", agent.agent.id, None, "QUEUE_DRAIN")]
    assert await queue_length(admin, group) == 0


async def test_away_agents_do_not_drain_and_coming_back_online_does(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup
) -> None:
    group = await make_group("queue", assignment_strategy=LEAST_LOADED)
    agent = await make_actor(groups=[group])
    await route_everything_to(admin, group)
    ticket = await new_ticket(admin)
    await go_online(agent, presence="AWAY")
    assert await current_assignee(admin, ticket["id"]) is None
    await go_online(agent)
    assert await current_assignee(admin, ticket["id"]) == aid(agent)


# ---------------------------------------------------------------- (g) vacation hand-back


async def test_going_on_vacation_hands_back_new_tickets_and_keeps_open_ones(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup
) -> None:
    group = await make_group("desk", assignment_strategy=LEAST_LOADED)
    leaving = await make_actor(groups=[group], name="leaving")
    await route_everything_to(admin, group)
    await go_online(leaving)
    new1, new2, started = [await new_ticket(admin, subject=f"t{n}") for n in range(3)]
    assert {assignee_of(t) for t in (new1, new2, started)} == {aid(leaving)}
    await leaving.client.mutate(START, {"id": started["id"]})

    colleague = await make_actor(groups=[group], name="colleague", capacity=1)
    await go_online(colleague)

    agent = await set_vacation(admin, leaving, True)
    assert agent["onVacation"] is True
    # The first NEW ticket goes to the available colleague, the second waits (the colleague is full).
    assert await current_assignee(admin, new1["id"]) == aid(colleague)
    assert (await assignment_events(admin, new1["id"]))[-1] == (
        "ASSIGNED",
        colleague.agent.id,
        leaving.agent.id,
        "LEAST_LOADED",
    )
    assert await current_assignee(admin, new2["id"]) is None
    assert (await assignment_events(admin, new2["id"]))[-1] == ("UNASSIGNED", None, leaving.agent.id, "UNASSIGNED")
    # OPEN work stays with the agent.
    kept = await detail(admin.client, started["id"])
    assert kept["status"] == "OPEN"
    assert assignee_of(kept) == aid(leaving)
    assert await open_counts(admin, group) == {aid(leaving): 1, aid(colleague): 1}
    assert await queue_length(admin, group) == 1

    # New tickets skip the agent on vacation.
    assert (await new_ticket(admin))["assignee"] is None
    assert await queue_length(admin, group) == 2


async def test_vacation_hand_back_respects_skills(admin: Actor, make_actor: MakeActor, make_group: MakeGroup) -> None:
    group = await make_group("tech", assignment_strategy=SKILL_BASED)
    leaving = await make_actor(groups=[group], skills=["network"], languages=["zh"])
    unskilled = await make_actor(groups=[group], skills=[], languages=["zh"])
    await create_rule(
        admin, name="net", matchKeywords=["网络故障"], routeToGroupId=gid(group), requireSkills=["network"]
    )
    await go_online(leaving)
    ticket = await create_ticket(admin.client, subject="网络故障", description="断网了")
    assert assignee_of(ticket) == aid(leaving)
    await go_online(unskilled)
    await set_vacation(admin, leaving, True)
    assert await current_assignee(admin, ticket["id"]) is None
    assert await queue_length(admin, group) == 1


# ---------------------------------------------------------------- (h) manual assignment


@pytest.fixture
async def desk(make_actor: MakeActor, make_group: MakeGroup) -> dict[str, Any]:
    group = await make_group("front desk", assignment_strategy=MANUAL)
    other = await make_group("back office", assignment_strategy=MANUAL)
    return {
        "group": group,
        "other": other,
        "supervisor": await make_actor(AgentRole.SUPERVISOR, name="Sue Pervisor"),
        "a": await make_actor(groups=[group], name="Alice", capacity=1),
        "b": await make_actor(groups=[group], name="Bob"),
        "outsider": await make_actor(groups=[other], name="Olga"),
    }


async def test_a_supervisor_assigns_and_reassigns_and_the_events_name_the_previous_assignee(
    admin: Actor, desk: dict[str, Any]
) -> None:
    sup, a, b, group = desk["supervisor"], desk["a"], desk["b"], desk["group"]
    await route_everything_to(admin, group)
    ticket = await new_ticket(admin)
    assert ticket["assignee"] is None

    first = await sup.client.mutate(
        ASSIGN, {"id": ticket["id"], "agentId": aid(a), "expectedVersion": ticket["version"]}
    )
    assert first["ticket"]["assignee"]["id"] == aid(a)
    assert first["ticket"]["version"] == ticket["version"] + 1
    assert first["ticket"]["group"]["queueLength"] == 0
    second = await sup.client.mutate(ASSIGN, {"id": ticket["id"], "agentId": aid(b)})
    assert second["ticket"]["assignee"] == {"id": aid(b), "name": "Bob", "openTicketCount": 1}
    assert await assignment_events(admin, ticket["id"]) == [
        ("ASSIGNED", a.agent.id, None, "MANUAL"),
        ("ASSIGNED", b.agent.id, a.agent.id, "MANUAL"),
    ]
    events = await history(admin.client, ticket["id"], "ASSIGNED")
    assert [e["actorAgent"]["id"] for e in events] == [aid(sup), aid(sup)]
    # Assigning to the current assignee changes nothing.
    again = await sup.client.mutate(ASSIGN, {"id": ticket["id"], "agentId": aid(b)})
    assert again["ticket"]["version"] == second["ticket"]["version"]


async def test_a_supervisor_moves_a_ticket_to_another_groups_queue(admin: Actor, desk: dict[str, Any]) -> None:
    sup, b, group, other = desk["supervisor"], desk["b"], desk["group"], desk["other"]
    await route_everything_to(admin, group)
    ticket = await new_ticket(admin)
    await sup.client.mutate(ASSIGN, {"id": ticket["id"], "agentId": aid(b)})

    moved = (await sup.client.mutate(ASSIGN, {"id": ticket["id"], "agentId": None, "groupId": gid(other)}))["ticket"]
    assert moved["assignee"] is None
    assert moved["group"] == {"id": gid(other), "name": "back office", "queueLength": 1}
    assert (await assignment_events(admin, ticket["id"]))[-1] == ("UNASSIGNED", None, b.agent.id, "UNASSIGNED")
    assert await queue_length(admin, group) == 0
    # ...and to an agent of the other group together with the move.
    back = await sup.client.mutate(ASSIGN, {"id": ticket["id"], "agentId": aid(desk["a"]), "groupId": gid(group)})
    assert back["ticket"]["group"]["id"] == gid(group)
    assert back["ticket"]["assignee"]["id"] == aid(desk["a"])


async def test_manual_assignment_refusals_change_nothing(
    admin: Actor, make_actor: MakeActor, desk: dict[str, Any]
) -> None:
    sup, a, group = desk["supervisor"], desk["a"], desk["group"]
    await route_everything_to(admin, group)
    ticket = await new_ticket(admin)
    await sup.client.mutate(ASSIGN, {"id": ticket["id"], "agentId": aid(a)})
    before = await detail(admin.client, ticket["id"])

    outsider = await payload_of(sup.client, ASSIGN, {"id": ticket["id"], "agentId": aid(desk["outsider"])})
    assert errors(outsider) == [(["agentId"], "PRECONDITION_FAILED")]
    assert outsider["ticket"] is None

    agent_caller = await payload_of(desk["b"].client, ASSIGN, {"id": ticket["id"], "agentId": aid(desk["b"])})
    assert [code for _, code in errors(agent_caller)] == ["FORBIDDEN"]

    stale = await payload_of(
        sup.client, ASSIGN, {"id": ticket["id"], "agentId": aid(desk["b"]), "expectedVersion": before["version"] - 1}
    )
    assert [code for _, code in errors(stale)] == ["VERSION_CONFLICT"]

    nothing = await payload_of(sup.client, ASSIGN, {"id": ticket["id"]})
    assert [code for _, code in errors(nothing)] == ["INVALID_INPUT"]

    ghost = await payload_of(sup.client, ASSIGN, {"id": ticket["id"], "agentId": ids.encode("Agent", 999999)})
    assert errors(ghost) == [(["agentId"], "NOT_FOUND")]
    no_group = await payload_of(sup.client, ASSIGN, {"id": ticket["id"], "groupId": ids.encode("Group", 999999)})
    assert errors(no_group) == [(["groupId"], "NOT_FOUND")]

    after = await detail(admin.client, ticket["id"])
    assert after["version"] == before["version"]
    assert assignee_of(after) == aid(a)
    assert len(await assignment_events(admin, ticket["id"])) == 1


async def test_a_supervisor_may_go_past_capacity_and_reassigning_frees_a_slot_for_the_queue(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup
) -> None:
    group = await make_group("desk", assignment_strategy=LEAST_LOADED)
    sup = await make_actor(AgentRole.SUPERVISOR)
    full = await make_actor(groups=[group], name="full", capacity=1)
    spare = await make_actor(groups=[group], name="spare", capacity=5)
    await route_everything_to(admin, group)
    await go_online(full)
    held = await new_ticket(admin)
    assert assignee_of(held) == aid(full)
    waiting = await new_ticket(admin)
    assert waiting["assignee"] is None

    # Past capacity on a supervisor's say-so.
    extra = await new_ticket(admin)
    over = (await sup.client.mutate(ASSIGN, {"id": extra["id"], "agentId": aid(full)}))["ticket"]
    assert over["assignee"]["openTicketCount"] == 2
    await sup.client.mutate(ASSIGN, {"id": extra["id"], "agentId": aid(spare)})
    assert await current_assignee(admin, waiting["id"]) is None  # still at capacity (1 of 1)

    # Taking the last one off the full agent makes room: the waiting ticket goes to them.
    await sup.client.mutate(ASSIGN, {"id": held["id"], "agentId": aid(spare)})
    assert await current_assignee(admin, waiting["id"]) == aid(full)
    assert await assignment_events(admin, waiting["id"]) == [("ASSIGNED", full.agent.id, None, "QUEUE_DRAIN")]


# ---------------------------------------------------------------- (i) escalation


async def test_escalating_to_another_group_assigns_within_it(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup
) -> None:
    first_line = await make_group("L1", assignment_strategy=LEAST_LOADED)
    second_line = await make_group("L2", assignment_strategy=LEAST_LOADED)
    l1 = await make_actor(groups=[first_line], name="L1 agent")
    l2 = await make_actor(groups=[second_line], name="L2 agent")
    await go_online(l1, l2)
    await route_everything_to(admin, first_line)
    ticket = await new_ticket(admin)
    assert assignee_of(ticket) == aid(l1)

    moved = await l1.client.mutate(ESCALATE, {"id": ticket["id"], "reason": "needs L2", "toGroupId": gid(second_line)})
    assert moved["ticket"] is None  # done, and no longer L1's to see (tests/security/test_payload_visibility.py)
    escalated = await detail(admin.client, ticket["id"])
    assert escalated["escalationLevel"] == 1
    assert escalated["group"]["id"] == gid(second_line)
    assert (escalated["assignee"]["id"], escalated["assignee"]["name"]) == (aid(l2), "L2 agent")
    assert (await assignment_events(admin, ticket["id"]))[-1] == ("ASSIGNED", l2.agent.id, l1.agent.id, "ESCALATION")
    assert await open_counts(admin, first_line) == {aid(l1): 0}


async def test_escalating_into_a_group_with_nobody_available_queues_it_there(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup
) -> None:
    first_line = await make_group("L1", assignment_strategy=LEAST_LOADED)
    second_line = await make_group("L2", assignment_strategy=LEAST_LOADED)
    l1 = await make_actor(groups=[first_line])
    l2 = await make_actor(groups=[second_line])  # OFFLINE
    await go_online(l1)
    await route_everything_to(admin, first_line)
    ticket = await new_ticket(admin)

    escalated = (
        await admin.client.mutate(ESCALATE, {"id": ticket["id"], "reason": "L2 please", "toGroupId": gid(second_line)})
    )["ticket"]
    assert escalated["assignee"] is None
    assert escalated["group"]["id"] == gid(second_line)
    assert (await assignment_events(admin, ticket["id"]))[-1] == ("UNASSIGNED", None, l1.agent.id, "ESCALATION")
    assert await queue_length(admin, second_line) == 1
    await go_online(l2)
    assert await current_assignee(admin, ticket["id"]) == aid(l2)


async def test_escalating_into_a_manual_group_queues_it(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup
) -> None:
    first_line = await make_group("L1", assignment_strategy=LEAST_LOADED)
    experts = await make_group("experts", assignment_strategy=MANUAL)
    l1 = await make_actor(groups=[first_line])
    expert = await make_actor(groups=[experts])
    await go_online(l1, expert)
    await route_everything_to(admin, first_line)
    ticket = await new_ticket(admin)
    escalated = (
        await admin.client.mutate(ESCALATE, {"id": ticket["id"], "reason": "experts", "toGroupId": gid(experts)})
    )["ticket"]
    assert escalated["assignee"] is None
    assert await queue_length(admin, experts) == 1


# ---------------------------------------------------------------- (j) manual groups


async def test_manual_groups_never_auto_assign(admin: Actor, make_actor: MakeActor, make_group: MakeGroup) -> None:
    group = await make_group("by hand", assignment_strategy=MANUAL)
    agent = await make_actor(groups=[group])
    await go_online(agent)
    await route_everything_to(admin, group)
    tickets = [await new_ticket(admin, subject=f"manual {n}") for n in range(3)]
    assert [t["assignee"] for t in tickets] == [None, None, None]
    assert await queue_length(admin, group) == 3

    # Nothing hands them out: presence, automatic re-run, a freed slot, return from vacation.
    await go_online(agent, presence="AWAY")
    await go_online(agent)
    rerun = (await admin.client.mutate(AUTO_ASSIGN, {"id": tickets[0]["id"]}))["ticket"]
    assert rerun["assignee"] is None
    await set_vacation(admin, agent, True)
    await set_vacation(admin, agent, False)
    await assign(admin, tickets[1]["id"], agent)
    await start_and_resolve(agent.client, tickets[1]["id"])
    assert await current_assignee(admin, tickets[0]["id"]) is None
    assert await current_assignee(admin, tickets[2]["id"]) is None
    assert await queue_length(admin, group) == 2
    assert [e for t in (tickets[0], tickets[2]) for e in await assignment_events(admin, t["id"])] == []


async def test_auto_assign_picks_an_agent_for_a_waiting_ticket(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup
) -> None:
    group = await make_group("desk", assignment_strategy=ROUND_ROBIN)
    sup = await make_actor(AgentRole.SUPERVISOR)
    agent = await make_actor(groups=[group])
    await route_everything_to(admin, group)
    ticket = await new_ticket(admin)
    await go_online(agent)  # drains it
    assert await current_assignee(admin, ticket["id"]) == aid(agent)
    # Moved back to the queue by hand, an automatic run hands it out again.
    await sup.client.mutate(ASSIGN, {"id": ticket["id"], "groupId": gid(group)})
    assert await current_assignee(admin, ticket["id"]) is None
    rerun = (await agent.client.mutate(AUTO_ASSIGN, {"id": ticket["id"]}))["ticket"]
    assert rerun["assignee"]["id"] == aid(agent)
    assert (await assignment_events(admin, ticket["id"]))[-1] == ("ASSIGNED", agent.agent.id, None, "ROUND_ROBIN")


async def test_moving_a_ticket_to_its_own_groups_queue_leaves_it_there(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup
) -> None:
    """The payload is the truth: the ticket taken off an agent is not handed straight back to
    them as a QUEUE_DRAIN in the same transaction."""
    group = await make_group("desk", assignment_strategy=LEAST_LOADED)
    sup = await make_actor(AgentRole.SUPERVISOR)
    agent = await make_actor(groups=[group])
    await route_everything_to(admin, group)
    await go_online(agent)
    ticket = await new_ticket(admin)
    other_waiting = await new_ticket(admin)
    assert assignee_of(ticket) == aid(agent)
    assert assignee_of(other_waiting) == aid(agent)

    moved = (await sup.client.mutate(ASSIGN, {"id": ticket["id"], "groupId": gid(group)}))["ticket"]
    assert moved["assignee"] is None
    assert moved["group"]["queueLength"] == 1
    assert await current_assignee(admin, ticket["id"]) is None
    assert await queue_length(admin, group) == 1
    assert await assignment_events(admin, ticket["id"]) == [
        ("ASSIGNED", agent.agent.id, None, "LEAST_LOADED"),
        ("UNASSIGNED", None, agent.agent.id, "UNASSIGNED"),
    ]


async def test_auto_assign_keeps_a_ticket_with_its_assignee_when_the_ticket_is_what_fills_them(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup
) -> None:
    group = await make_group("desk", assignment_strategy=LEAST_LOADED)
    agent = await make_actor(groups=[group], capacity=1)
    await route_everything_to(admin, group)
    await go_online(agent)
    ticket = await new_ticket(admin)
    assert assignee_of(ticket) == aid(agent)

    rerun = (await admin.client.mutate(AUTO_ASSIGN, {"id": ticket["id"]}))["ticket"]
    assert rerun["assignee"] == {"id": aid(agent), "name": agent.agent.name}
    assert rerun["version"] == ticket["version"]
    assert await current_assignee(admin, ticket["id"]) == aid(agent)
    assert await assignment_events(admin, ticket["id"]) == [("ASSIGNED", agent.agent.id, None, "LEAST_LOADED")]


async def test_auto_assign_does_not_move_a_ticket_between_equally_loaded_agents(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup
) -> None:
    group = await make_group("desk", assignment_strategy=LEAST_LOADED)
    first = await make_actor(groups=[group])
    second = await make_actor(groups=[group])
    await route_everything_to(admin, group)
    await go_online(first, second)
    tickets = [await new_ticket(admin) for _ in range(4)]
    owners = [assignee_of(t) for t in tickets]
    assert Counter(owners) == {aid(first): 2, aid(second): 2}
    for ticket in tickets:
        rerun = (await admin.client.mutate(AUTO_ASSIGN, {"id": ticket["id"]}))["ticket"]
        assert assignee_of(rerun) == assignee_of(ticket)
        assert rerun["version"] == ticket["version"]
