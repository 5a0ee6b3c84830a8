"""The console's ticket list: filters, orders, keyset pagination and visibility, through TicketList.graphql."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import update

from app.db import tables
from app.domain.enums import AgentRole, Channel, TicketPriority
from app.domain.records import GroupRecord
from app.services import customers as customer_service
from app.services import tickets as ticket_service
from app.services.customers import CustomerRef
from app.services.runtime import Runtime
from app.services.tickets import NewTicket
from schema import ids
from tests.conftest import Actor
from tests.support import GraphQLClient, load_document

LIST = "console/TicketList.graphql"
DAY = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)

MakeActor = Callable[..., Awaitable[Actor]]
MakeGroup = Callable[..., Awaitable[GroupRecord]]


async def ticket_list(
    client: GraphQLClient,
    filter: dict[str, Any] | None = None,
    order: dict[str, Any] | None = None,
    first: int | None = 100,
    after: str | None = None,
) -> dict[str, Any]:
    variables: dict[str, Any] = {"filter": filter, "orderBy": order, "after": after}
    if first is not None:
        variables["first"] = first
    connection: dict[str, Any] = (await client.run(LIST, variables))["tickets"]
    return connection


async def list_error(client: GraphQLClient, **variables: Any) -> dict[str, Any]:
    result = await client.post(load_document(LIST), variables)
    assert result.get("errors"), result
    error: dict[str, Any] = result["errors"][0]
    return error


def numbers(connection: dict[str, Any]) -> list[int]:
    return [edge["node"]["number"] for edge in connection["edges"]]


async def walk(client: GraphQLClient, order: dict[str, Any] | None, page_size: int = 3, **filter: Any) -> list[int]:
    """Every page of a list, checking page sizes and page info on the way; the numbers in order."""
    seen: list[int] = []
    after = None
    total = None
    for _ in range(100):
        page = await ticket_list(client, filter or None, order, page_size, after)
        total = page["totalCount"] if total is None else total
        assert page["totalCount"] == total
        assert len(page["edges"]) <= page_size
        if page["edges"]:
            assert page["pageInfo"]["startCursor"] == page["edges"][0]["cursor"]
            assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        seen.extend(numbers(page))
        if not page["pageInfo"]["hasNextPage"]:
            break
        assert len(page["edges"]) == page_size
        after = page["pageInfo"]["endCursor"]
    else:
        raise AssertionError("pagination never ended")
    assert len(seen) == len(set(seen)) == total
    return seen


@dataclass
class Seeded:
    """Ticket number -> id, plus the people the tickets were given to."""

    ids: dict[int, str]
    customers: dict[str, str]
    groups: dict[str, GroupRecord]
    agents: dict[str, Actor]

    def pk(self, number: int) -> int:
        return pk_of(self.ids[number])


def pk_of(global_id: str) -> int:
    pk = ids.decode_as(global_id, "Ticket")
    assert pk is not None
    return pk


async def new_ticket(rt: Runtime, admin: Actor, **fields: Any) -> tuple[int, str]:
    fields.setdefault("subject", "Something is wrong")
    fields.setdefault("description", "Please help.")
    fields.setdefault("channel", Channel.EMAIL)
    fields.setdefault("customer", CustomerRef(email="someone@example.com"))
    record, _ = await ticket_service.create_ticket(rt, admin.principal, NewTicket(**fields))
    return record.number, ids.encode("Ticket", record.id)


async def set_tickets(rt: Runtime, changes: dict[int, dict[str, Any]]) -> None:
    """Column values by ticket primary key, written straight to the database."""
    async with rt.engine.begin() as conn:
        for pk, values in changes.items():
            await conn.execute(update(tables.tickets).where(tables.tickets.c.id == pk).values(**values))


@pytest.fixture
async def seeded(admin: Actor, rt: Runtime, make_actor: MakeActor, make_group: MakeGroup) -> Seeded:
    """Five tickets that differ in every filterable way.

    number  channel   priority  category   tags                    customer  status    group  assignee  created
    1000    EMAIL     LOW       refund     refund, vip             alice     NEW       g1     -         day 1
    1001    PHONE     NORMAL    technical  printer                 bob       OPEN      g1     xu        day 2
    1002    CHAT      HIGH      refund     refund                  alice     PENDING   g2     yan       day 3
    1003    WEB_FORM  URGENT    -          -                       bob       RESOLVED  -      -         day 4
    1004    API       NORMAL    account    vip, refund, printer    alice     NEW       -      -         day 5
    """
    alice_record = await customer_service.create_customer(
        rt, admin.principal, customer_service.CustomerInput(name="Alice", email="alice@example.com")
    )
    alice = CustomerRef(id=alice_record.id)
    bob = CustomerRef(phone="+49 30 1234567", name="Bob")
    g1, g2 = await make_group("Tier 1"), await make_group("Tier 2")
    xu = await make_actor(AgentRole.AGENT, groups=[g1], name="Xu")
    yan = await make_actor(AgentRole.AGENT, groups=[g2], name="Yan")
    specs: list[dict[str, Any]] = [
        dict(
            channel=Channel.EMAIL,
            priority=TicketPriority.LOW,
            category="refund",
            tags=["refund", "vip"],
            customer=alice,
        ),
        dict(channel=Channel.PHONE, category="technical", tags=["printer"], customer=bob),
        dict(channel=Channel.CHAT, priority=TicketPriority.HIGH, category="Refund", tags=["Refund"], customer=alice),
        dict(channel=Channel.WEB_FORM, priority=TicketPriority.URGENT, customer=bob),
        dict(channel=Channel.API, category="account", tags=["vip", "refund", "printer"], customer=alice),
    ]
    by_number = dict([await new_ticket(rt, admin, subject=f"Ticket {i}", **spec) for i, spec in enumerate(specs)])
    assert sorted(by_number) == [1000, 1001, 1002, 1003, 1004]
    seeded = Seeded(
        ids=by_number,
        customers={"alice": ids.encode("Customer", alice_record.id)},
        groups={"g1": g1, "g2": g2},
        agents={"xu": xu, "yan": yan},
    )
    await set_tickets(
        rt,
        {
            seeded.pk(1000): {"group_id": g1.id, "created_at": DAY},
            seeded.pk(1001): {
                "status": "OPEN",
                "group_id": g1.id,
                "assignee_id": xu.agent.id,
                "created_at": DAY + timedelta(days=1),
            },
            seeded.pk(1002): {
                "status": "PENDING",
                "group_id": g2.id,
                "assignee_id": yan.agent.id,
                "created_at": DAY + timedelta(days=2),
            },
            seeded.pk(1003): {"status": "RESOLVED", "created_at": DAY + timedelta(days=3)},
            seeded.pk(1004): {"created_at": DAY + timedelta(days=4)},
        },
    )
    bob_ticket = await ticket_list(admin.client, {"status": ["RESOLVED"]})
    seeded.customers["bob"] = bob_ticket["edges"][0]["node"]["customer"]["id"]
    return seeded


# ---------------------------------------------------------------- filters


FILTER_CASES: list[tuple[dict[str, Any], set[int]]] = [
    ({}, {1000, 1001, 1002, 1003, 1004}),
    ({"status": ["NEW"]}, {1000, 1004}),
    ({"status": ["OPEN", "PENDING"]}, {1001, 1002}),
    ({"status": ["CLOSED"]}, set()),
    ({"priority": ["LOW", "URGENT"]}, {1000, 1003}),
    ({"priority": ["NORMAL"]}, {1001, 1004}),
    ({"channel": ["EMAIL", "CHAT"]}, {1000, 1002}),
    ({"channel": ["SOCIAL"]}, set()),
    ({"category": ["refund"]}, {1000, 1002}),
    ({"category": ["REFUND", "account"]}, {1000, 1002, 1004}),
    ({"tags": ["refund"]}, {1000, 1002, 1004}),
    ({"tags": ["Refund", "vip"]}, {1000, 1004}),
    ({"tags": ["refund", "vip", "printer"]}, {1004}),
    ({"tags": ["nobody-has-this"]}, set()),
    ({"unassigned": True}, {1000, 1003, 1004}),
    ({"unassigned": False}, {1001, 1002}),
    ({"createdAfter": (DAY + timedelta(days=2, hours=-1)).isoformat()}, {1002, 1003, 1004}),
    ({"createdBefore": (DAY + timedelta(days=2, hours=-1)).isoformat()}, {1000, 1001}),
    (
        {
            "createdAfter": (DAY + timedelta(hours=12)).isoformat(),
            "createdBefore": (DAY + timedelta(days=3, hours=12)).isoformat(),
        },
        {1001, 1002, 1003},
    ),
    ({"createdAfter": (DAY + timedelta(days=30)).isoformat()}, set()),
    ({"status": ["NEW", "PENDING"], "tags": ["refund"], "priority": ["LOW", "HIGH"]}, {1000, 1002}),
    ({"status": ["NEW"], "unassigned": True, "channel": ["API"]}, {1004}),
]


async def test_each_filter_field_and_their_combinations(admin: Actor, seeded: Seeded) -> None:
    wrong: dict[str, tuple[set[int], int]] = {}
    for filter, expected in FILTER_CASES:
        connection = await ticket_list(admin.client, filter)
        found = (set(numbers(connection)), connection["totalCount"])
        if found != (expected, len(expected)):
            wrong[str(filter)] = found
    assert wrong == {}, "filter -> (numbers, totalCount) that were wrong"


async def test_filter_by_assignee_group_and_customer(admin: Actor, seeded: Seeded) -> None:
    xu, yan = seeded.agents["xu"], seeded.agents["yan"]
    cases: list[tuple[dict[str, Any], set[int]]] = [
        ({"assigneeId": ids.encode("Agent", xu.agent.id)}, {1001}),
        ({"assigneeId": ids.encode("Agent", yan.agent.id)}, {1002}),
        ({"assigneeId": ids.encode("Agent", admin.agent.id)}, set()),
        ({"groupId": ids.encode("Group", seeded.groups["g1"].id)}, {1000, 1001}),
        ({"groupId": ids.encode("Group", seeded.groups["g2"].id)}, {1002}),
        ({"customerId": seeded.customers["alice"]}, {1000, 1002, 1004}),
        ({"customerId": seeded.customers["bob"]}, {1001, 1003}),
        ({"customerId": seeded.customers["alice"], "groupId": ids.encode("Group", seeded.groups["g1"].id)}, {1000}),
        ({"customerId": seeded.customers["bob"], "unassigned": True}, {1003}),
    ]
    for filter, expected in cases:
        connection = await ticket_list(admin.client, filter)
        assert set(numbers(connection)) == expected, filter
        assert connection["totalCount"] == len(expected), filter


async def test_unknown_or_malformed_ids_filter_to_nothing(admin: Actor, seeded: Seeded) -> None:
    values = [
        ids.encode("Agent", 987654),
        ids.encode("Group", 987654),
        ids.encode("Customer", 987654),
        seeded.ids[1000],  # a ticket's id where a person's is expected
        "garbage",
        "",
    ]
    for field in ["assigneeId", "groupId", "customerId"]:
        for value in values:
            connection = await ticket_list(admin.client, {field: value, "status": ["NEW"]})
            assert (connection["edges"], connection["totalCount"]) == ([], 0), (field, value)


# ---------------------------------------------------------------- order


async def ordered(admin: Actor, rt: Runtime, count: int = 7) -> dict[int, dict[str, Any]]:
    """`count` tickets whose created_at, updated_at, priority, number and sla_due_at orders all differ."""
    priorities = [TicketPriority.HIGH, TicketPriority.LOW, TicketPriority.URGENT, TicketPriority.NORMAL]
    made: dict[int, dict[str, Any]] = {}
    for i in range(count):
        number, global_id = await new_ticket(rt, admin, priority=priorities[i % 4], subject=f"Ordered {i}")
        made[number] = {
            "pk": pk_of(global_id),
            "id": global_id,
            "priority_rank": [2, 0, 3, 1][i % 4],
            "created_at": DAY + timedelta(hours=(i * 3) % count),
            "updated_at": DAY + timedelta(days=2, hours=(i * 5 + 2) % count),
            # Every third ticket has no running SLA clock.
            "sla_due_at": None if i % 3 == 1 else DAY + timedelta(days=3, minutes=(i * 4 + 1) % count),
        }
    await set_tickets(
        rt,
        {
            t["pk"]: {"created_at": t["created_at"], "updated_at": t["updated_at"], "sla_due_at": t["sla_due_at"]}
            for t in made.values()
        },
    )
    return made


def expected_order(made: dict[int, dict[str, Any]], field: str, direction: str) -> list[int]:
    key = {
        "CREATED_AT": lambda n: (made[n]["created_at"], made[n]["pk"]),
        "UPDATED_AT": lambda n: (made[n]["updated_at"], made[n]["pk"]),
        "NUMBER": lambda n: (n,),
    }[field]
    return sorted(made, key=key, reverse=direction == "DESC")


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
@pytest.mark.parametrize("field", ["CREATED_AT", "UPDATED_AT", "NUMBER"])
async def test_order_by_time_and_number(admin: Actor, rt: Runtime, field: str, direction: str) -> None:
    made = await ordered(admin, rt)
    expected = expected_order(made, field, direction)
    order = {"field": field, "direction": direction}
    assert numbers(await ticket_list(admin.client, order=order)) == expected
    assert await walk(admin.client, order) == expected
    assert await walk(admin.client, order, page_size=1) == expected


async def test_default_order_is_newest_first_and_direction_defaults_to_desc(admin: Actor, rt: Runtime) -> None:
    made = await ordered(admin, rt)
    newest_first = expected_order(made, "CREATED_AT", "DESC")
    assert numbers(await ticket_list(admin.client)) == newest_first
    assert numbers(await ticket_list(admin.client, order={"field": "NUMBER"})) == sorted(made, reverse=True)


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
async def test_order_by_priority(admin: Actor, rt: Runtime, direction: str) -> None:
    made = await ordered(admin, rt)
    order = {"field": "PRIORITY", "direction": direction}
    one_page = numbers(await ticket_list(admin.client, order=order))
    ranks = [made[n]["priority_rank"] for n in one_page]
    assert ranks == sorted(ranks, reverse=direction == "DESC")
    assert sorted(one_page) == sorted(made)
    # Ties are broken the same way on every page.
    assert await walk(admin.client, order) == one_page
    assert await walk(admin.client, order, page_size=2) == one_page


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
async def test_order_by_sla_due_at_puts_tickets_without_a_clock_last(admin: Actor, rt: Runtime, direction: str) -> None:
    made = await ordered(admin, rt)
    order = {"field": "SLA_DUE_AT", "direction": direction}
    one_page = numbers(await ticket_list(admin.client, order=order))
    assert sorted(one_page) == sorted(made)
    with_clock = sorted((n for n in made if made[n]["sla_due_at"]), key=lambda n: made[n]["sla_due_at"])
    without_clock = [n for n in made if made[n]["sla_due_at"] is None]
    assert without_clock and with_clock
    expected = with_clock if direction == "ASC" else with_clock[::-1]
    assert one_page[: len(with_clock)] == expected
    assert sorted(one_page[len(with_clock) :]) == sorted(without_clock)
    assert await walk(admin.client, order) == one_page
    assert await walk(admin.client, order, page_size=1) == one_page


# ---------------------------------------------------------------- keyset pagination


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
@pytest.mark.parametrize("field", ["CREATED_AT", "UPDATED_AT", "PRIORITY", "SLA_DUE_AT"])
async def test_pages_are_exact_when_sort_keys_tie(admin: Actor, rt: Runtime, field: str, direction: str) -> None:
    made: dict[int, int] = {}
    for i in range(8):
        number, global_id = await new_ticket(rt, admin, subject=f"Tie {i}")
        made[number] = pk_of(global_id)
    same = DAY + timedelta(hours=1)
    await set_tickets(
        rt,
        {
            pk: {"created_at": same, "updated_at": same, "sla_due_at": same, "priority": "NORMAL"}
            for pk in made.values()
        },
    )
    # Every ticket has the same sort key: the order is by id, reversed for DESC.
    expected = sorted(made, key=lambda n: made[n], reverse=direction == "DESC")
    order = {"field": field, "direction": direction}
    assert numbers(await ticket_list(admin.client, order=order)) == expected
    assert await walk(admin.client, order) == expected


async def test_last_page_has_no_next_page_even_when_it_is_full(admin: Actor, rt: Runtime) -> None:
    for i in range(6):
        await new_ticket(rt, admin, subject=f"Six {i}")
    order = {"field": "NUMBER", "direction": "ASC"}
    first = await ticket_list(admin.client, order=order, first=3)
    assert numbers(first) == [1000, 1001, 1002] and first["pageInfo"]["hasNextPage"] is True
    second = await ticket_list(admin.client, order=order, first=3, after=first["pageInfo"]["endCursor"])
    assert numbers(second) == [1003, 1004, 1005]
    assert second["pageInfo"]["hasNextPage"] is False
    empty = await ticket_list(admin.client, order=order, first=3, after=second["pageInfo"]["endCursor"])
    assert empty["edges"] == [] and empty["pageInfo"]["hasNextPage"] is False
    assert empty["totalCount"] == 6


async def test_pages_follow_the_filter(admin: Actor, seeded: Seeded) -> None:
    assert await walk(admin.client, {"field": "NUMBER", "direction": "DESC"}, page_size=1, tags=["refund"]) == [
        1004,
        1002,
        1000,
    ]


async def test_a_cursor_only_works_with_the_order_it_came_from(admin: Actor, rt: Runtime) -> None:
    for i in range(4):
        await new_ticket(rt, admin, subject=f"Cursor {i}")
    page = await ticket_list(admin.client, order={"field": "CREATED_AT", "direction": "DESC"}, first=2)
    cursor = page["pageInfo"]["endCursor"]
    for other in [
        {"field": "CREATED_AT", "direction": "ASC"},
        {"field": "NUMBER", "direction": "DESC"},
        {"field": "PRIORITY", "direction": "DESC"},
        {"field": "SLA_DUE_AT", "direction": "DESC"},
    ]:
        error = await list_error(admin.client, orderBy=other, first=2, after=cursor)
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (other, error)
    # The default order is CREATED_AT DESC, so the cursor fits it.
    assert len((await ticket_list(admin.client, first=2, after=cursor))["edges"]) == 2


def forged(*payload: Any, tag: bytes = b"tk1:") -> str:
    return base64.urlsafe_b64encode(tag + json.dumps(list(payload)).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "!!!",
        "eyJ0ZXN0IjoxfQ",  # base64 of {"test":1}
        forged("CREATED_AT", "DESC", {"t": "2025-01-01T00:00:00+00:00"}, 1, tag=b"xx9:"),
        forged("CREATED_AT"),
        forged("NOT_A_FIELD", "DESC", 1),
        forged("CREATED_AT", "SIDEWAYS", {"t": "2025-01-01T00:00:00+00:00"}, 1),
        forged("CREATED_AT", "DESC", {"t": "not a time"}, 1),
        forged("CREATED_AT", "DESC", "2025-01-01", 1),
        forged("CREATED_AT", "DESC", {"t": "2025-01-01T00:00:00+00:00"}, "one"),
        forged("CREATED_AT", "DESC", 1.5, [1]),
        forged("NUMBER", "DESC", "1000"),
        forged("NUMBER", "DESC", 2**70),
        forged("PRIORITY", "DESC", True, {"t": "2025-01-01T00:00:00+00:00"}, 1),
    ],
    ids=repr,
)
async def test_garbage_cursor_is_a_graphql_error_not_a_crash(admin: Actor, rt: Runtime, cursor: str) -> None:
    await new_ticket(rt, admin)
    order = {"field": cursor_field(cursor), "direction": "DESC"}
    error = await list_error(admin.client, orderBy=order, first=5, after=cursor)
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error


@pytest.mark.parametrize(
    "cursor",
    [
        forged("CREATED_AT", "DESC"),
        forged("CREATED_AT", "DESC", 1),
        forged("CREATED_AT", "DESC", 5, 7),
        forged("NUMBER", "DESC", {"t": "2025-01-01T00:00:00+00:00"}),
    ],
    ids=repr,
)
async def test_cursor_with_a_key_of_the_wrong_shape_is_a_graphql_error(admin: Actor, rt: Runtime, cursor: str) -> None:
    await new_ticket(rt, admin)
    order = {"field": cursor_field(cursor), "direction": "DESC"}
    error = await list_error(admin.client, orderBy=order, first=5, after=cursor)
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error


def cursor_field(cursor: str) -> str:
    """The order a forged cursor claims, so the test reaches the part that reads its key."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        field = orjson.loads(raw[4:])[0]
    except Exception:
        return "CREATED_AT"
    return field if field in {"CREATED_AT", "UPDATED_AT", "PRIORITY", "SLA_DUE_AT", "NUMBER"} else "CREATED_AT"


# ---------------------------------------------------------------- counts, visibility and limits


async def test_agents_only_list_and_count_the_tickets_they_may_see(
    admin: Actor, seeded: Seeded, make_actor: MakeActor, rt: Runtime
) -> None:
    xu, yan = seeded.agents["xu"], seeded.agents["yan"]
    assert set(numbers(await ticket_list(xu.client))) == {1000, 1001}  # Tier 1's tickets
    assert (await ticket_list(xu.client))["totalCount"] == 2
    assert set(numbers(await ticket_list(yan.client))) == {1002}

    # Assigned or collaborating across groups widens the view.
    await set_tickets(rt, {seeded.pk(1004): {"assignee_id": yan.agent.id}})
    async with rt.engine.begin() as conn:
        await conn.execute(
            tables.ticket_collaborators.insert().values(ticket_id=seeded.pk(1003), agent_id=yan.agent.id)
        )
        await conn.execute(
            tables.ticket_collaborating_groups.insert().values(
                ticket_id=seeded.pk(1002), group_id=seeded.groups["g1"].id
            )
        )
    yan_sees = await ticket_list(yan.client)
    assert set(numbers(yan_sees)) == {1002, 1003, 1004} and yan_sees["totalCount"] == 3
    xu_sees = await ticket_list(xu.client)
    assert set(numbers(xu_sees)) == {1000, 1001, 1002} and xu_sees["totalCount"] == 3

    # Filters never reach past visibility, and counts follow.
    g2_for_xu = await ticket_list(xu.client, {"groupId": ids.encode("Group", seeded.groups["g2"].id)})
    assert set(numbers(g2_for_xu)) == {1002} and g2_for_xu["totalCount"] == 1
    bob_for_xu = await ticket_list(xu.client, {"customerId": seeded.customers["bob"]})
    assert set(numbers(bob_for_xu)) == {1001} and bob_for_xu["totalCount"] == 1
    assert await walk(xu.client, {"field": "NUMBER", "direction": "ASC"}, page_size=1) == [1000, 1001, 1002]

    # An agent in no group with nothing assigned sees nothing; supervisors see everything.
    loner = await make_actor(AgentRole.AGENT)
    assert (await ticket_list(loner.client))["totalCount"] == 0
    supervisor = await make_actor(AgentRole.SUPERVISOR)
    assert (await ticket_list(supervisor.client))["totalCount"] == 5


async def test_total_count_is_the_whole_filtered_list_not_the_page(admin: Actor, seeded: Seeded) -> None:
    page = await ticket_list(admin.client, {"tags": ["refund"]}, first=1)
    assert len(page["edges"]) == 1
    assert page["totalCount"] == 3
    assert page["pageInfo"]["hasNextPage"] is True


async def test_first_above_100_is_refused_naming_the_limit(admin: Actor, seeded: Seeded) -> None:
    assert len((await ticket_list(admin.client, first=100))["edges"]) == 5
    error = await list_error(admin.client, first=101)
    assert "100" in error["message"]
    error = await list_error(admin.client, first=1_000_000)
    assert "100" in error["message"]


async def test_first_zero_gives_no_edges_and_negative_first_is_refused(admin: Actor, seeded: Seeded) -> None:
    page = await ticket_list(admin.client, first=0)
    assert page["edges"] == []
    assert page["totalCount"] == 5
    assert page["pageInfo"]["startCursor"] is None and page["pageInfo"]["endCursor"] is None
    error = await list_error(admin.client, first=-1)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_list_rows_carry_customer_group_and_assignee(admin: Actor, seeded: Seeded) -> None:
    (edge,) = (await ticket_list(admin.client, {"status": ["OPEN"]}))["edges"]
    node = edge["node"]
    assert node["number"] == 1001
    assert node["customer"] == {"id": seeded.customers["bob"], "name": "Bob", "tier": "STANDARD"}
    assert node["group"] == {"id": ids.encode("Group", seeded.groups["g1"].id), "name": "Tier 1"}
    assert node["assignee"] == {"id": ids.encode("Agent", seeded.agents["xu"].agent.id), "name": "Xu"}
    assert node["subTicketProgress"] == {"total": 0, "resolved": 0, "open": 0}
    assert (node["status"], node["priority"], node["channel"], node["category"]) == (
        "OPEN",
        "NORMAL",
        "PHONE",
        "technical",
    )
    assert node["tags"] == ["printer"]


async def test_a_cursor_of_another_list_is_refused_naming_both(admin: Actor) -> None:
    created = await admin.client.run(
        "console/CreateTicket.graphql",
        {
            "input": {
                "subject": "分页",
                "description": "Paging.",
                "channel": "API",
                "customer": {"email": "p@example.cn"},
            }
        },
    )
    history = await admin.client.run("console/TicketHistory.graphql", {"id": created["createTicket"]["ticket"]["id"]})
    event_cursor = history["ticket"]["history"]["edges"][0]["cursor"]

    result = await admin.client.post(load_document("console/TicketList.graphql"), {"after": event_cursor})

    [error] = result["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "event" in error["message"] and "ticket list" in error["message"]
