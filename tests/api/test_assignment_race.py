"""Auto-assignment under concurrent createTicket calls spread over two real `helpdesk serve`
processes on one database: capacity is never exceeded, unavailable agents get nothing,
round robin stays within one ticket of even, overflow waits in the group queue."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from app.domain.enums import AgentPresence, AgentRole, AssignmentStrategy
from app.domain.principal import Principal
from app.services import agents as agent_service
from app.services import auth as auth_service
from app.services.routing_rules import RuleInput, create_rule
from app.services.runtime import Runtime
from tests.conftest import PASSWORD
from tests.processes import ServerProcess, running_servers
from tests.support import load_document

IN_FLIGHT = 64
# Tickets per kind: the round-robin group takes all of its (4 x 30 = 120 slots minus 2);
# the least-loaded group (5 + 10 + 15 = 30 slots) overflows into its queue; the skill-based
# group gets English and German network tickets (qualified agents have room for all of them)
# and French ones nobody can take.
ROUND_ROBIN_TICKETS = 118
LEAST_LOADED_TICKETS = 72
SKILL_TICKETS = {"en": 24, "de": 24, "fr": 14}


@dataclass
class Setup:
    admin: Principal
    round_robin: int
    least_loaded: int
    skill_based: int
    rr_online: list[int]
    rr_unavailable: dict[int, str]  # agent id -> why
    ll_capacity: dict[int, int]
    skill_agents: dict[int, tuple[set[str], set[str]]]  # agent id -> (skills, languages)


async def _agent(
    rt: Runtime,
    name: str,
    group_id: int,
    capacity: int,
    presence: AgentPresence | None = AgentPresence.ONLINE,
    skills: list[str] | None = None,
    languages: list[str] | None = None,
) -> int:
    agent = await agent_service.create_agent(
        rt,
        None,
        agent_service.NewAgent(
            name=name,
            email=f"{name}@example.com",
            password=PASSWORD,
            capacity=capacity,
            group_ids=[group_id],
            skills=skills,
            languages=languages,
        ),
    )
    if presence is not None:
        await agent_service.set_presence(rt, Principal(agent.id, AgentRole.AGENT), presence)
    return agent.id


async def _set_up(rt: Runtime, admin: Principal) -> Setup:
    async def group(name: str, strategy: AssignmentStrategy) -> int:
        data = agent_service.NewGroup(name=name, assignment_strategy=strategy)
        return (await agent_service.create_group(rt, admin, data)).id

    rr = await group("Refunds (round robin)", AssignmentStrategy.ROUND_ROBIN)
    ll = await group("Login help (least loaded)", AssignmentStrategy.LEAST_LOADED)
    sk = await group("Network (skill based)", AssignmentStrategy.SKILL_BASED)

    rr_online = [await _agent(rt, f"rr-{i}", rr, 30) for i in range(4)]
    offline = await _agent(rt, "rr-offline", rr, 30, presence=None)
    away = await _agent(rt, "rr-away", rr, 30, presence=AgentPresence.AWAY)
    vacation = await _agent(rt, "rr-vacation", rr, 30)
    await agent_service.update_agent(rt, admin, vacation, agent_service.AgentChanges(on_vacation=True))

    ll_capacity = {await _agent(rt, f"ll-{cap}", ll, cap): cap for cap in (5, 10, 15)}

    skill_specs = {
        "sk-network-en": (["network", "vpn"], ["en"], 30),
        "sk-network-en-de": (["network"], ["en", "de-DE"], 50),
        "sk-billing-en-de": (["billing"], ["en", "de"], 20),
    }
    skill_agents = {}
    for name, (skills, languages, cap) in skill_specs.items():
        agent_id = await _agent(rt, name, sk, cap, skills=skills, languages=languages)
        skill_agents[agent_id] = (set(skills), set(languages))

    for keyword, group_id, skills in (("refund", rr, []), ("login", ll, []), ("network", sk, ["network"])):
        await create_rule(
            rt,
            admin,
            RuleInput(
                name=f"{keyword} tickets", match_keywords=[keyword], route_to_group_id=group_id, require_skills=skills
            ),
        )
    return Setup(
        admin=admin,
        round_robin=rr,
        least_loaded=ll,
        skill_based=sk,
        rr_online=rr_online,
        rr_unavailable={offline: "OFFLINE", away: "AWAY", vacation: "on vacation"},
        ll_capacity=ll_capacity,
        skill_agents=skill_agents,
    )


def _requests() -> list[tuple[str, dict[str, Any]]]:
    """(kind, createTicket variables), the kinds interleaved so all groups are hit at once."""
    kinds = (
        ["refund"] * ROUND_ROBIN_TICKETS
        + ["login"] * LEAST_LOADED_TICKETS
        + [f"network-{lang}" for lang, n in SKILL_TICKETS.items() for _ in range(n)]
    )
    # A deterministic interleaving: round-robin over the kinds' queues.
    queues: dict[str, list[str]] = {}
    for kind in kinds:
        queues.setdefault(kind, []).append(kind)
    ordered: list[str] = []
    while any(queues.values()):
        for queue in queues.values():
            if queue:
                ordered.append(queue.pop())
    texts = {
        "refund": ("Refund for order SO-{i}", "The parcel for order SO-{i} never arrived, please refund it."),
        "login": ("Cannot login to my account ({i})", "Since this morning the login page rejects my password."),
        "network": ("Office network down ({i})", "The network in our branch office is unreachable since 9am."),
    }
    requests = []
    for i, kind in enumerate(ordered):
        base, _, language = kind.partition("-")
        subject, description = texts[base]
        # Every third ticket comes from one of a few returning customers: the customer rows are
        # contended too, not only the agents.
        email = f"returning-{i % 7}@example.com" if i % 3 == 0 else f"customer-{i}@example.com"
        requests.append(
            (
                kind,
                {
                    "input": {
                        "subject": subject.format(i=i),
                        "description": description.format(i=i),
                        "channel": "API",
                        "customer": {"email": email},
                        "language": language or "en",
                        "externalRef": f"race-{i}",
                    }
                },
            )
        )
    return requests


async def _fire(
    servers: list[ServerProcess], token: str, requests: list[tuple[str, dict[str, Any]]]
) -> tuple[list[tuple[str, dict[str, Any], int, dict[str, Any] | str]], float]:
    """Sends every createTicket at once (IN_FLIGHT at a time), alternating the two processes."""
    document = load_document("partner/CreateTicket.graphql")
    semaphore = asyncio.Semaphore(IN_FLIGHT)
    limits = httpx.Limits(max_connections=IN_FLIGHT * 2, max_keepalive_connections=IN_FLIGHT * 2)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:

        async def one(i: int, kind: str, variables: dict[str, Any]) -> tuple[str, dict[str, Any], int, Any]:
            url = f"{servers[i % len(servers)].url}/graphql"
            async with semaphore:
                response = await http.post(url, json={"query": document, "variables": variables}, headers=headers)
            try:
                body: Any = response.json()
            except ValueError:
                body = response.text
            return kind, variables, response.status_code, body

        started = time.perf_counter()
        results = await asyncio.gather(*(one(i, kind, variables) for i, (kind, variables) in enumerate(requests)))
        return results, time.perf_counter() - started


def _problems(results: list[tuple[str, dict[str, Any], int, Any]]) -> list[str]:
    problems = []
    for kind, variables, status, body in results:
        ok = (
            status == 200
            and isinstance(body, dict)
            and not body.get("errors")
            and body.get("data", {}).get("createTicket", {}).get("userErrors") == []
            and body["data"]["createTicket"]["ticket"] is not None
        )
        if not ok:
            problems.append(f"{kind} {variables['input']['externalRef']}: HTTP {status} {body}")
    return problems


async def _rows(rt: Runtime, sql: str, **params: Any) -> list[Any]:
    async with rt.engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


def _server_errors(servers: list[ServerProcess]) -> list[str]:
    markers = ('"level": "ERROR"', '"level":"ERROR"', "Traceback", "deadlock", "INTERNAL_SERVER_ERROR")
    return [line for s in servers for line in s.output().splitlines() if any(m in line for m in markers)]


@pytest.mark.slow
async def test_concurrent_creates_on_two_processes_respect_capacity_availability_and_rotation(
    rt: Runtime, database_url: str
) -> None:
    await agent_service.create_agent(
        rt,
        None,
        agent_service.NewAgent(name="Ada Admin", email="ada@example.com", password=PASSWORD, role=AgentRole.ADMIN),
    )
    requests = _requests()
    assert len(requests) >= 240

    started = time.perf_counter()
    with running_servers(database_url, 2, {"HELPDESK_DB_POOL_SIZE": "10", "HELPDESK_DB_MAX_OVERFLOW": "5"}) as servers:
        async with httpx.AsyncClient(timeout=30) as http:
            login = await http.post(
                f"{servers[0].url}/graphql",
                json={
                    "query": load_document("console/Login.graphql"),
                    "variables": {"email": "ada@example.com", "password": PASSWORD},
                },
            )
        token = login.json()["data"]["login"]["token"]
        assert token, login.text
        admin = await auth_service.authenticate(rt, token)
        assert admin is not None and admin.role is AgentRole.ADMIN
        ready = time.perf_counter()
        setup = await _set_up(rt, admin)
        set_up = time.perf_counter()

        results, seconds = await _fire(servers, token, requests)

        problems = _problems(results)
        assert not problems, f"{len(problems)} of {len(results)} createTicket calls failed:\n" + "\n".join(
            problems[:20]
        )
        kind_of = {body["data"]["createTicket"]["ticket"]["number"]: kind for kind, _, _, body in results}
        assert len(kind_of) == len(requests), "two calls returned the same ticket"

        await _check_database(rt, setup, kind_of)
        await _check_queue_lengths(servers[1], token)

        counts = await _rows(
            rt,
            "SELECT a.name, count(t.id) FROM agents a LEFT JOIN tickets t ON t.assignee_id = a.id "
            "WHERE a.role = 'AGENT' GROUP BY a.id, a.name ORDER BY a.id",
        )
        errors = _server_errors(servers)
        assert not errors, "server logged errors:\n" + "\n".join(errors[:20])
        per_agent = " ".join(f"{name}={n}" for name, n in counts)
        print(
            f"\nassignment race: {len(results)} createTicket over {len(servers)} processes in {seconds:.2f}s "
            f"({len(results) / seconds:.0f} tickets/s); servers ready in {ready - started:.1f}s, "
            f"set-up {set_up - ready:.1f}s; per agent: {per_agent}"
        )


async def _rotation_evidence(rt: Runtime, setup: Setup) -> str:
    """The round-robin group's ASSIGNED events in the order they were written (each creation holds
    every member's lock, so id order is the order the turns were taken), with the time each one
    stamped on the rotation: a stamp older than the one before makes that agent look "longest
    ago" again and gives it the next turn too."""
    events = await _rows(
        rt,
        "SELECT e.id, (e.data->>'assigneeId')::bigint, e.occurred_at FROM ticket_events e "
        "WHERE e.type = 'ASSIGNED' AND e.group_id = :g ORDER BY e.id",
        g=setup.round_robin,
    )
    backwards = [(prev, cur) for prev, cur in pairwise(events) if cur[2] < prev[2]]
    repeats = [(prev, cur) for prev, cur in pairwise(events) if cur[1] == prev[1]]
    lines = [
        f"{len(backwards)} of {len(events)} turns stamped earlier than the turn before; "
        f"{len(repeats)} times the same agent got two turns in a row",
    ]
    for prev, cur in (repeats or backwards)[:5]:
        lines.append(
            f"  event {prev[0]} agent {prev[1]} at {prev[2].isoformat()} -> "
            f"event {cur[0]} agent {cur[1]} at {cur[2].isoformat()}"
        )
    return "\n".join(lines)


async def _check_queue_lengths(server: ServerProcess, token: str) -> None:
    """The groups' queueLength, as the console sees it through the other process."""
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(
            f"{server.url}/graphql",
            json={"query": load_document("console/Groups.graphql")},
            headers={"Authorization": f"Bearer {token}"},
        )
    body = response.json()
    assert response.status_code == 200 and not body.get("errors"), body
    queues = {group["assignmentStrategy"]: group["queueLength"] for group in body["data"]["groups"]}
    assert queues == {
        "ROUND_ROBIN": 0,
        "LEAST_LOADED": LEAST_LOADED_TICKETS - 30,
        "SKILL_BASED": SKILL_TICKETS["fr"],
    }, queues


async def _check_database(rt: Runtime, setup: Setup, kind_of: dict[int, str]) -> None:
    tickets = await _rows(
        rt,
        "SELECT t.id, t.number, t.group_id, t.assignee_id, t.status, t.required_skills, t.language, t.queued_at "
        "FROM tickets t ORDER BY t.id",
    )
    assert sorted(t.number for t in tickets) == sorted(kind_of), "the tickets in the database are not the ones created"
    expected_group = {"refund": setup.round_robin, "login": setup.least_loaded, "network": setup.skill_based}
    for t in tickets:
        assert t.group_id == expected_group[kind_of[t.number].split("-")[0]], f"ticket {t.number} routed wrongly"
        assert t.status == "NEW"

    # Exactly one CREATED event per ticket.
    created = await _rows(
        rt,
        "SELECT t.number, count(e.id) FROM tickets t "
        "LEFT JOIN ticket_events e ON e.ticket_id = t.id AND e.type = 'CREATED' "
        "GROUP BY t.number HAVING count(e.id) <> 1",
    )
    assert created == [], f"tickets without exactly one CREATED event (number, count): {created}"

    # Nobody over capacity (open = NEW, OPEN, PENDING, ON_HOLD).
    over = await _rows(
        rt,
        "SELECT a.id, a.name, a.capacity, count(t.id) AS open FROM agents a "
        "JOIN tickets t ON t.assignee_id = a.id AND t.status IN ('NEW', 'OPEN', 'PENDING', 'ON_HOLD') "
        "GROUP BY a.id HAVING count(t.id) > a.capacity",
    )
    assert over == [], f"agents over capacity (id, name, capacity, open): {over}"

    # Never an unavailable agent, never a non-member of the ticket's group.
    wrong = await _rows(
        rt,
        "SELECT t.number, a.name, a.presence, a.on_vacation, (gm.agent_id IS NOT NULL) AS member "
        "FROM tickets t JOIN agents a ON a.id = t.assignee_id "
        "LEFT JOIN group_members gm ON gm.group_id = t.group_id AND gm.agent_id = a.id "
        "WHERE a.presence <> 'ONLINE' OR a.on_vacation OR gm.agent_id IS NULL",
    )
    assert wrong == [], f"tickets given to unavailable agents or non-members: {wrong}"
    unavailable = set(setup.rr_unavailable)
    assert not [t for t in tickets if t.assignee_id in unavailable]

    # Each assigned ticket has one ASSIGNED event naming its assignee; a queued one has none.
    events = await _rows(
        rt,
        "SELECT ticket_id, (data->>'assigneeId')::bigint, (data->>'groupId')::bigint, data->>'reason' "
        "FROM ticket_events WHERE type = 'ASSIGNED'",
    )
    assigned_events: dict[int, list[tuple[int, int, str]]] = {}
    for ticket_id, assignee, group_id, reason in events:
        assigned_events.setdefault(ticket_id, []).append((assignee, group_id, reason))
    strategy = {
        setup.round_robin: "ROUND_ROBIN",
        setup.least_loaded: "LEAST_LOADED",
        setup.skill_based: "SKILL_BASED",
    }
    for t in tickets:
        if t.assignee_id is None:
            assert t.id not in assigned_events, f"queued ticket {t.number} has an ASSIGNED event"
            assert t.queued_at is not None, f"queued ticket {t.number} has no queued_at"
        else:
            expected = [(t.assignee_id, t.group_id, strategy[t.group_id])]
            assert assigned_events.get(t.id) == expected, (t.number, assigned_events.get(t.id), expected)

    # Skill based: only agents with every required skill and the ticket's language.
    for t in tickets:
        if t.group_id != setup.skill_based:
            continue
        assert t.required_skills == ["network"]
        if t.language == "fr":
            assert t.assignee_id is None, f"French ticket {t.number} given to an agent who does not speak French"
            continue
        assert t.assignee_id in setup.skill_agents, f"{t.language} network ticket {t.number} not assigned"
        skills, languages = setup.skill_agents[t.assignee_id]
        assert "network" in skills, f"ticket {t.number} given to an agent without the network skill"
        assert t.language in {lang.split("-")[0] for lang in languages}, f"ticket {t.number}: language mismatch"

    # Round robin: every ticket assigned (there is room), to the four available agents, evenly.
    rr = [t for t in tickets if t.group_id == setup.round_robin]
    assert len(rr) == ROUND_ROBIN_TICKETS
    per_agent = Counter(t.assignee_id for t in rr)
    assert None not in per_agent, f"{per_agent[None]} round-robin tickets queued although agents had room"
    counts = [per_agent.get(agent_id, 0) for agent_id in setup.rr_online]
    assert set(per_agent) <= set(setup.rr_online), per_agent
    assert max(counts) - min(counts) <= 1, f"round robin uneven: {counts}\n" + await _rotation_evidence(rt, setup)

    # Least loaded: every agent exactly at capacity, the overflow waits in the queue.
    ll = [t for t in tickets if t.group_id == setup.least_loaded]
    ll_counts = Counter(t.assignee_id for t in ll if t.assignee_id is not None)
    assert dict(ll_counts) == setup.ll_capacity, f"least-loaded agents not exactly at capacity: {ll_counts}"
    expected_queue = LEAST_LOADED_TICKETS - sum(setup.ll_capacity.values())
    assert sum(1 for t in ll if t.assignee_id is None) == expected_queue
    queue = await _rows(
        rt,
        "SELECT count(*) FROM tickets WHERE group_id = :g AND assignee_id IS NULL "
        "AND status IN ('NEW', 'OPEN', 'PENDING', 'ON_HOLD')",
        g=setup.least_loaded,
    )
    assert queue[0][0] == expected_queue
