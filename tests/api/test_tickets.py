"""Ticket intake, edits, reads and history, through the real server and the console's documents."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select, update

from app.db import tables
from app.domain.enums import AgentRole
from app.domain.records import GroupRecord
from app.services import routing_rules
from app.services.runtime import Runtime
from schema import ids
from tests.conftest import Actor
from tests.support import GraphQLClient, load_document

CREATE = "console/CreateTicket.graphql"
PARTNER_CREATE = "partner/CreateTicket.graphql"
PARTNER_STATUS = "partner/TicketStatus.graphql"
UPDATE = "console/UpdateTicket.graphql"
DETAIL = "console/TicketDetail.graphql"
BY_NUMBER = "console/TicketByNumber.graphql"
NODE = "console/Node.graphql"
HISTORY = "console/TicketHistory.graphql"
COMMENTS = "console/TicketComments.graphql"
LIST = "console/TicketList.graphql"
CREATE_CUSTOMER = "console/CreateCustomer.graphql"

MakeActor = Callable[..., Awaitable[Actor]]
MakeGroup = Callable[..., Awaitable[GroupRecord]]


def ticket_input(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "subject": "Printer prints blank pages",
        "description": "Since this morning every page comes out blank.",
        "channel": "PHONE",
        "customer": {"email": "zhang.wei@example.cn", "name": "张伟"},
    }
    data.update(overrides)
    return data


async def create(client: GraphQLClient, **overrides: Any) -> dict[str, Any]:
    payload = await client.mutate(CREATE, {"input": ticket_input(**overrides)})
    ticket: dict[str, Any] = payload["ticket"]
    return ticket


async def create_payload(client: GraphQLClient, document: str = CREATE, **variables: Any) -> dict[str, Any]:
    """The raw createTicket payload (userErrors not asserted)."""
    result = await client.post(load_document(document), variables)
    assert not result.get("errors"), result["errors"]
    payload: dict[str, Any] = result["data"]["createTicket"]
    return payload


async def update_payload(client: GraphQLClient, **variables: Any) -> dict[str, Any]:
    result = await client.post(load_document(UPDATE), variables)
    assert not result.get("errors"), result["errors"]
    payload: dict[str, Any] = result["data"]["updateTicket"]
    return payload


async def counts(rt: Runtime) -> tuple[int, int, int]:
    """(tickets, customers, ticket events) in the database."""
    async with rt.engine.connect() as conn:
        result = []
        for table in (tables.tickets, tables.customers, tables.ticket_events):
            result.append((await conn.execute(select(func.count()).select_from(table))).scalar_one())
    return result[0], result[1], result[2]


async def set_ticket(rt: Runtime, global_id: str, **values: Any) -> None:
    pk = ids.decode_as(global_id, "Ticket")
    async with rt.engine.begin() as conn:
        await conn.execute(update(tables.tickets).where(tables.tickets.c.id == pk).values(**values))


async def detail(client: GraphQLClient, global_id: str) -> dict[str, Any] | None:
    ticket: dict[str, Any] | None = (await client.run(DETAIL, {"id": global_id}))["ticket"]
    return ticket


async def history(client: GraphQLClient, global_id: str) -> list[dict[str, Any]]:
    ticket = await detail(client, global_id)
    assert ticket is not None
    return [edge["node"] for edge in ticket["history"]["edges"]]


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# ---------------------------------------------------------------- customers on intake


async def test_first_contact_by_email_creates_the_customer_and_later_contacts_find_it_whatever_the_case(
    admin: Actor, rt: Runtime
) -> None:
    first = await create(admin.client, customer={"email": "Zhang.Wei@Example.CN", "name": "张伟"})
    assert first["customer"]["name"] == "张伟"
    assert first["customer"]["email"] == "zhang.wei@example.cn"

    second = await create(admin.client, customer={"email": "ZHANG.WEI@example.cn", "name": "Someone Else"})
    assert second["customer"]["id"] == first["customer"]["id"]
    assert second["customer"]["name"] == "张伟"  # an existing customer is found, not renamed
    assert await counts(rt) == (2, 1, 2)


async def test_phone_numbers_are_normalised_so_one_caller_is_one_customer(admin: Actor, rt: Runtime) -> None:
    first = await create(admin.client, customer={"phone": "+86 138-0000-0000", "name": "王芳"})
    second = await create(admin.client, customer={"phone": "+8613800000000"})
    assert first["customer"]["id"] == second["customer"]["id"]
    assert first["customer"]["phone"] == "+8613800000000"
    assert second["customer"]["name"] == "王芳"
    assert (await counts(rt))[1] == 1


async def test_customer_given_by_id(admin: Actor) -> None:
    customer = (
        await admin.client.mutate(CREATE_CUSTOMER, {"input": {"name": "Acme Buyer", "email": "buyer@acme.test"}})
    )["customer"]
    ticket = await create(admin.client, customer={"id": customer["id"]})
    assert ticket["customer"] == {
        "id": customer["id"],
        "name": "Acme Buyer",
        "email": "buyer@acme.test",
        "phone": None,
        "tier": "STANDARD",
    }


@pytest.mark.parametrize(
    "customer_id",
    [
        ids.encode("Customer", 987654),  # well formed, no such customer
        ids.encode("Ticket", 1),  # an id of another type
        "not-an-id",
    ],
)
async def test_unknown_customer_id_is_not_found_and_writes_nothing(admin: Actor, rt: Runtime, customer_id: str) -> None:
    payload = await create_payload(admin.client, input=ticket_input(customer={"id": customer_id}))
    assert payload["ticket"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(["input", "customer", "id"], "NOT_FOUND")]
    assert await counts(rt) == (0, 0, 0)


@pytest.mark.parametrize("customer", [{}, {"name": "Only A Name"}, {"email": "  ", "phone": ""}])
async def test_customer_without_id_email_or_phone_is_invalid(
    admin: Actor, rt: Runtime, customer: dict[str, Any]
) -> None:
    payload = await create_payload(admin.client, input=ticket_input(customer=customer))
    assert payload["ticket"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(["input", "customer"], "INVALID_INPUT")]
    assert await counts(rt) == (0, 0, 0)


# ---------------------------------------------------------------- what a new ticket looks like


async def test_new_ticket_is_new_at_version_1_with_normal_priority_and_numbers_from_1000(admin: Actor) -> None:
    tickets = [await create(admin.client, subject=f"Question {i}") for i in range(3)]
    assert [t["number"] for t in tickets] == [1000, 1001, 1002]
    for ticket in tickets:
        assert ticket["status"] == "NEW"
        assert ticket["version"] == 1
        assert ticket["priority"] == "NORMAL"
        assert ticket["channel"] == "PHONE"
        assert ticket["group"] is None and ticket["assignee"] is None
    assert len({t["id"] for t in tickets}) == 3


async def test_a_ticket_number_is_never_given_twice(admin: Actor, rt: Runtime) -> None:
    first = await create(admin.client)
    rejected = await create_payload(admin.client, input=ticket_input(subject=""))
    assert rejected["userErrors"]
    second = await create(admin.client)
    assert second["number"] > first["number"]
    # Even when the newest ticket disappears (say an operator purged it), its number stays taken.
    async with rt.engine.begin() as conn:
        await conn.execute(delete(tables.tickets).where(tables.tickets.c.id == ids.decode_as(second["id"], "Ticket")))
    third = await create(admin.client)
    assert third["number"] > second["number"]
    async with rt.engine.connect() as conn:
        numbers = (await conn.execute(select(tables.tickets.c.number))).scalars().all()
    assert len(numbers) == len(set(numbers)) == 2


@pytest.mark.parametrize(
    ("requested", "expected"),
    [(None, "HIGH"), ("LOW", "HIGH"), ("NORMAL", "HIGH"), ("HIGH", "HIGH"), ("URGENT", "URGENT")],
)
async def test_vip_customers_get_at_least_high_priority(admin: Actor, requested: str | None, expected: str) -> None:
    vip = (
        await admin.client.mutate(
            CREATE_CUSTOMER, {"input": {"name": "Big Spender", "email": "vip@example.com", "tier": "VIP"}}
        )
    )["customer"]
    ticket = await create(admin.client, customer={"id": vip["id"]}, priority=requested)
    assert ticket["priority"] == expected
    # The same customer found by email gets the same treatment.
    by_email = await create(admin.client, customer={"email": "VIP@example.com"}, priority=requested)
    assert by_email["priority"] == expected


@pytest.mark.parametrize("requested", ["LOW", "NORMAL", "HIGH", "URGENT"])
async def test_standard_customers_keep_the_requested_priority(admin: Actor, requested: str) -> None:
    ticket = await create(admin.client, priority=requested)
    assert ticket["priority"] == requested


async def test_language_is_the_given_one_else_the_customers(admin: Actor) -> None:
    french = (
        await admin.client.mutate(
            CREATE_CUSTOMER, {"input": {"name": "Amélie", "email": "amelie@example.fr", "language": "fr"}}
        )
    )["customer"]
    assert (await create(admin.client, customer={"id": french["id"]}))["language"] == "fr"
    assert (await create(admin.client, customer={"id": french["id"]}, language="zh"))["language"] == "zh"
    assert (await create(admin.client, customer={"email": "no.language@example.com"}))["language"] is None
    assert (await create(admin.client, customer={"email": "no.language@example.com"}, language="pt-BR"))[
        "language"
    ] == "pt-BR"


async def test_tags_custom_fields_and_external_ref_round_trip(admin: Actor) -> None:
    custom_fields = {
        "orderId": "SO-1001",
        "items": [1, 2.5, "three"],
        "gift": {"wrapped": True, "note": None},
        "备注": "加急",
    }
    created = (
        await admin.client.mutate(
            PARTNER_CREATE,
            {
                "input": ticket_input(
                    tags=["Refund", "refund", " VIP ", "退款", "vip"],
                    customFields=custom_fields,
                    externalRef="SO-1001",
                    category="Refund",
                ),
            },
        )
    )["ticket"]
    assert created["externalRef"] == "SO-1001"
    ticket = await detail(admin.client, created["id"])
    assert ticket is not None
    assert ticket["tags"] == ["refund", "vip", "退款"]
    assert ticket["customFields"] == custom_fields
    assert ticket["externalRef"] == "SO-1001"
    assert ticket["category"] == "refund"


async def test_limits_are_inclusive(admin: Actor) -> None:
    ticket = await create(
        admin.client,
        subject="s" * 500,
        description="d" * 50_000,
        tags=[f"tag-{i}" for i in range(19)] + ["t" * 50],
    )
    found = await detail(admin.client, ticket["id"])
    assert found is not None
    assert len(found["subject"]) == 500 and len(found["description"]) == 50_000 and len(found["tags"]) == 20


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"subject": ""}, "subject"),
        ({"subject": "   "}, "subject"),
        ({"subject": "s" * 501}, "subject"),
        ({"description": ""}, "description"),
        ({"description": "d" * 50_001}, "description"),
        ({"tags": [f"tag-{i}" for i in range(21)]}, "tags"),
        ({"tags": ["t" * 51]}, "tags"),
        ({"tags": ["ok", "  "]}, "tags"),
        ({"customFields": [1, 2, 3]}, "customFields"),
        ({"customFields": "orderId=SO-1"}, "customFields"),
        ({"customFields": 42}, "customFields"),
        ({"language": "English!"}, "language"),
        ({"language": "e"}, "language"),
    ],
    ids=lambda value: str(value)[:40],
)
async def test_invalid_input_is_a_user_error_and_writes_nothing(
    admin: Actor, rt: Runtime, overrides: dict[str, Any], field: str
) -> None:
    # A first contact: a partial write would leave a customer behind.
    payload = await create_payload(admin.client, input=ticket_input(customer={"email": "new@example.com"}, **overrides))
    assert payload["ticket"] is None
    assert len(payload["userErrors"]) == 1, payload["userErrors"]
    (error,) = payload["userErrors"]
    assert error["field"] == ["input", field]
    assert error["code"] == "INVALID_INPUT"
    assert error["message"]
    assert await counts(rt) == (0, 0, 0)
    assert (await admin.client.run(LIST))["tickets"]["totalCount"] == 0


async def test_every_problem_is_reported_at_once(admin: Actor, rt: Runtime) -> None:
    payload = await create_payload(
        admin.client,
        input=ticket_input(
            subject="",
            description="d" * 50_001,
            tags=["t" * 51],
            customFields=["not", "an", "object"],
            language="??",
            customer={"email": "not-an-email"},
        ),
    )
    assert payload["ticket"] is None
    fields = sorted(tuple(e["field"]) for e in payload["userErrors"])
    assert ("input", "subject") in fields
    assert ("input", "description") in fields
    assert ("input", "tags") in fields
    assert ("input", "customFields") in fields
    assert ("input", "language") in fields
    assert {e["code"] for e in payload["userErrors"]} == {"INVALID_INPUT"}
    assert await counts(rt) == (0, 0, 0)


async def test_invalid_customer_email_is_reported_on_its_field(admin: Actor, rt: Runtime) -> None:
    payload = await create_payload(admin.client, input=ticket_input(customer={"email": "not-an-email"}))
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["input", "customer", "email"], "INVALID_INPUT")
    ]
    assert await counts(rt) == (0, 0, 0)


# ---------------------------------------------------------------- history


async def test_creation_is_recorded_in_history_with_actor_time_and_cursor(admin: Actor) -> None:
    ticket = await create(admin.client, priority="HIGH", channel="EMAIL", subject="Invoice missing")
    found = await detail(admin.client, ticket["id"])
    assert found is not None
    (edge,) = found["history"]["edges"]
    event = edge["node"]
    assert event["type"] == "CREATED"
    assert event["actorAgent"] == {"id": ids.encode("Agent", admin.agent.id), "name": "Ada Admin"}
    assert event["actorCustomer"] is None
    assert event["data"]["number"] == ticket["number"]
    assert event["data"]["subject"] == "Invoice missing"
    assert event["data"]["channel"] == "EMAIL"
    assert event["data"]["priority"] == "HIGH"
    assert parse_time(event["occurredAt"]) == parse_time(found["createdAt"])
    assert edge["cursor"] == event["cursor"]
    assert event["cursor"] and not event["cursor"].isdigit()
    assert ":" not in event["cursor"]  # opaque: no readable "txid:id" pairs
    assert found["history"]["pageInfo"] == {"hasNextPage": False, "endCursor": event["cursor"]}

    # The event is a node of its own.
    node = (await admin.client.run(NODE, {"id": event["id"]}))["node"]
    assert node == {"id": event["id"], "__typename": "TicketEvent", "type": "CREATED", "cursor": event["cursor"]}


async def test_history_pages_oldest_first_with_first_and_after(admin: Actor) -> None:
    ticket = await create(admin.client)
    for i in range(4):
        await admin.client.mutate(UPDATE, {"id": ticket["id"], "input": {"subject": f"Edit {i}"}})
    seen: list[dict[str, Any]] = []
    after = None
    pages = 0
    while True:
        page = (await admin.client.run(HISTORY, {"id": ticket["id"], "first": 2, "after": after}))["ticket"]["history"]
        pages += 1
        assert len(page["edges"]) <= 2
        seen.extend(edge["node"] for edge in page["edges"])
        if page["edges"]:
            assert page["pageInfo"]["startCursor"] == page["edges"][0]["cursor"]
            assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        assert pages < 10
    assert pages == 3
    assert [e["type"] for e in seen] == ["CREATED", "UPDATED", "UPDATED", "UPDATED", "UPDATED"]
    assert [e["data"]["changes"]["subject"]["to"] for e in seen[1:]] == ["Edit 0", "Edit 1", "Edit 2", "Edit 3"]
    assert len({e["id"] for e in seen}) == 5
    # After the last event there is nothing more.
    tail = (await admin.client.run(HISTORY, {"id": ticket["id"], "after": seen[-1]["cursor"]}))["ticket"]["history"]
    assert tail["edges"] == [] and tail["pageInfo"]["hasNextPage"] is False


async def test_garbage_history_cursor_is_a_graphql_error(admin: Actor) -> None:
    ticket = await create(admin.client)
    result = await admin.client.post(load_document(HISTORY), {"id": ticket["id"], "after": "garbage!"})
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("document", [HISTORY, COMMENTS])
async def test_first_above_100_on_history_and_comments_is_refused_naming_the_limit(admin: Actor, document: str) -> None:
    ticket = await create(admin.client)
    assert (await admin.client.run(document, {"id": ticket["id"], "first": 100}))["ticket"]["id"] == ticket["id"]
    result = await admin.client.post(load_document(document), {"id": ticket["id"], "first": 101})
    assert result["errors"], result
    assert "100" in result["errors"][0]["message"]


# ---------------------------------------------------------------- idempotency


def partner_input(**overrides: Any) -> dict[str, Any]:
    return ticket_input(
        subject="Refund for order SO-1001",
        description="The parcel never arrived.",
        channel="API",
        customer={"email": "li.lei@example.cn", "name": "李雷"},
        externalRef="SO-1001",
        **overrides,
    )


async def test_same_idempotency_key_returns_the_first_ticket(admin: Actor, rt: Runtime) -> None:
    variables = {"input": partner_input(), "idempotencyKey": "checkout-SO-1001"}
    first = (await admin.client.mutate(PARTNER_CREATE, variables))["ticket"]
    retry = (await admin.client.mutate(PARTNER_CREATE, variables))["ticket"]
    assert retry == first
    assert await counts(rt) == (1, 1, 1)
    # Without a key nothing is deduplicated.
    other = (await admin.client.mutate(PARTNER_CREATE, {"input": partner_input()}))["ticket"]
    assert other["id"] != first["id"]


async def test_reusing_a_key_for_a_different_request_is_a_duplicate(admin: Actor, rt: Runtime) -> None:
    await admin.client.mutate(PARTNER_CREATE, {"input": partner_input(), "idempotencyKey": "k-1"})
    payload = await create_payload(
        admin.client, PARTNER_CREATE, input=partner_input(priority="URGENT"), idempotencyKey="k-1"
    )
    assert payload["ticket"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(["idempotencyKey"], "DUPLICATE")]
    assert await counts(rt) == (1, 1, 1)


async def test_idempotency_keys_are_scoped_per_caller(
    make_actor: MakeActor, make_group: MakeGroup, admin: Actor, rt: Runtime
) -> None:
    # Both work the group every ticket goes to: a replay shows only a ticket its caller still sees
    # (tests/security/test_payload_visibility.py).
    partners = await make_group("partners")
    await routing_rules.create_rule(rt, admin.principal, routing_rules.RuleInput("all", route_to_group_id=partners.id))
    shop = await make_actor(AgentRole.AGENT, groups=[partners])
    crm = await make_actor(AgentRole.AGENT, groups=[partners])
    variables = {"input": partner_input(), "idempotencyKey": "order-1"}
    from_shop = (await shop.client.mutate(PARTNER_CREATE, variables))["ticket"]
    from_crm = (await crm.client.mutate(PARTNER_CREATE, variables))["ticket"]
    assert from_shop["id"] != from_crm["id"]
    assert from_shop["customer"] == from_crm["customer"]
    assert (await shop.client.mutate(PARTNER_CREATE, variables))["ticket"]["id"] == from_shop["id"]
    assert (await counts(rt))[:2] == (2, 1)


# ---------------------------------------------------------------- updateTicket


async def test_update_changes_fields_bumps_the_version_and_records_the_changes(admin: Actor) -> None:
    ticket = await create(admin.client, tags=["printer"], category="technical")
    before = await detail(admin.client, ticket["id"])
    assert before is not None
    updated = (
        await admin.client.mutate(
            UPDATE,
            {
                "id": ticket["id"],
                "expectedVersion": 1,
                "input": {
                    "subject": "Printer prints blank pages on floor 3",
                    "description": "All printers on floor 3.",
                    "priority": "URGENT",
                    "category": "Hardware",
                    "tags": ["Printer", "floor-3"],
                    "customFields": {"floor": 3},
                    "externalRef": "INC-7",
                },
            },
        )
    )["ticket"]
    assert updated == {
        "id": ticket["id"],
        "subject": "Printer prints blank pages on floor 3",
        "description": "All printers on floor 3.",
        "priority": "URGENT",
        "category": "hardware",
        "tags": ["printer", "floor-3"],
        "customFields": {"floor": 3},
        "externalRef": "INC-7",
        "version": 2,
        "updatedAt": updated["updatedAt"],
    }
    assert parse_time(updated["updatedAt"]) >= parse_time(before["updatedAt"])

    events = await history(admin.client, ticket["id"])
    assert [e["type"] for e in events] == ["CREATED", "UPDATED", "PRIORITY_CHANGED", "FIELD_CHANGED"]
    changes = events[1]["data"]["changes"]
    assert changes == {
        "subject": {"from": "Printer prints blank pages", "to": "Printer prints blank pages on floor 3"},
        "description": {"from": "Since this morning every page comes out blank.", "to": "All printers on floor 3."},
        "category": {"from": "technical", "to": "hardware"},
        "tags": {"from": ["printer"], "to": ["printer", "floor-3"]},
        "customFields": {"from": {}, "to": {"floor": 3}},
        "externalRef": {"from": None, "to": "INC-7"},
    }
    assert events[2]["data"]["from"] == "NORMAL" and events[2]["data"]["to"] == "URGENT"
    for event in events[1:]:
        assert event["actorAgent"]["id"] == ids.encode("Agent", admin.agent.id)

    # Reads agree with the payload.
    after = await detail(admin.client, ticket["id"])
    assert after is not None
    assert (after["subject"], after["priority"], after["version"]) == (updated["subject"], "URGENT", 2)


async def test_update_of_priority_alone_records_priority_changed(admin: Actor) -> None:
    ticket = await create(admin.client)
    updated = (await admin.client.mutate(UPDATE, {"id": ticket["id"], "input": {"priority": "LOW"}}))["ticket"]
    assert (updated["priority"], updated["version"]) == ("LOW", 2)
    events = await history(admin.client, ticket["id"])
    assert events[-1]["type"] == "PRIORITY_CHANGED"
    assert (events[-1]["data"]["from"], events[-1]["data"]["to"]) == ("NORMAL", "LOW")
    assert "PRIORITY_CHANGED" not in [e["type"] for e in events[:-1]]


async def test_update_without_a_real_change_makes_no_version_and_no_event(admin: Actor) -> None:
    ticket = await create(admin.client, tags=["vip"], category="refund", customFields={"a": 1})
    before = await detail(admin.client, ticket["id"])
    assert before is not None
    same = (
        await admin.client.mutate(
            UPDATE,
            {
                "id": ticket["id"],
                "expectedVersion": 1,
                "input": {
                    "subject": f"  {before['subject']} ",
                    "priority": "NORMAL",
                    "category": "Refund",
                    "tags": ["VIP", "vip"],
                    "customFields": {"a": 1},
                },
            },
        )
    )["ticket"]
    assert same["version"] == 1
    assert same["updatedAt"] == before["updatedAt"]
    after = await detail(admin.client, ticket["id"])
    assert after is not None
    assert after["version"] == 1 and len(after["history"]["edges"]) == 1


async def test_expected_version_mismatch_is_a_conflict_and_changes_nothing(admin: Actor) -> None:
    ticket = await create(admin.client)
    await admin.client.mutate(UPDATE, {"id": ticket["id"], "input": {"subject": "Second"}, "expectedVersion": 1})
    stale = await update_payload(admin.client, id=ticket["id"], input={"subject": "Lost update"}, expectedVersion=1)
    assert stale["ticket"] is None
    assert [(e["field"], e["code"]) for e in stale["userErrors"]] == [(["expectedVersion"], "VERSION_CONFLICT")]
    after = await detail(admin.client, ticket["id"])
    assert after is not None
    assert (after["subject"], after["version"], len(after["history"]["edges"])) == ("Second", 2, 2)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"subject": ""}, "subject"),
        ({"subject": None}, "subject"),
        ({"subject": "s" * 501}, "subject"),
        ({"description": "d" * 50_001}, "description"),
        ({"priority": None}, "priority"),
        ({"tags": [f"t{i}" for i in range(21)]}, "tags"),
        ({"tags": ["t" * 51]}, "tags"),
        ({"customFields": ["x"]}, "customFields"),
    ],
    ids=lambda value: str(value)[:40],
)
async def test_invalid_update_is_a_user_error_and_changes_nothing(
    admin: Actor, change: dict[str, Any], field: str
) -> None:
    ticket = await create(admin.client, subject="Original", tags=["keep"])
    payload = await update_payload(admin.client, id=ticket["id"], input={**change, "category": "new-category"})
    assert payload["ticket"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(["input", field], "INVALID_INPUT")]
    after = await detail(admin.client, ticket["id"])
    assert after is not None
    assert (after["subject"], after["tags"], after["category"], after["version"]) == ("Original", ["keep"], None, 1)
    assert len(after["history"]["edges"]) == 1


@pytest.mark.parametrize(
    "ticket_id", [ids.encode("Ticket", 987654), ids.encode("Customer", 1), "garbage", ""], ids=repr
)
async def test_update_of_an_unknown_ticket_is_not_found(admin: Actor, ticket_id: str) -> None:
    await create(admin.client)  # the customer has id 1 and there is a ticket with id 1
    payload = await update_payload(admin.client, id=ticket_id, input={"subject": "x"})
    assert payload["ticket"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(["id"], "NOT_FOUND")]


async def test_update_of_a_ticket_the_agent_may_not_see_looks_like_a_missing_one(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup, rt: Runtime
) -> None:
    billing, support = await make_group("Billing"), await make_group("Support")
    agent = await make_actor(AgentRole.AGENT, groups=[support])
    ticket = await create(admin.client, subject="Billing only")
    await set_ticket(rt, ticket["id"], group_id=billing.id)

    hidden = await update_payload(agent.client, id=ticket["id"], input={"subject": "Hijacked"}, expectedVersion=99)
    missing = await update_payload(agent.client, id=ids.encode("Ticket", 987654), input={"subject": "Hijacked"})
    assert hidden == missing
    assert hidden["userErrors"][0]["code"] == "NOT_FOUND"
    after = await detail(admin.client, ticket["id"])
    assert after is not None
    assert (after["subject"], after["version"]) == ("Billing only", 1)

    # Once the ticket is in the agent's group, the same agent may edit it.
    await set_ticket(rt, ticket["id"], group_id=support.id)
    edited = (await agent.client.mutate(UPDATE, {"id": ticket["id"], "input": {"subject": "Support now"}}))["ticket"]
    assert (edited["subject"], edited["version"]) == ("Support now", 2)


# ---------------------------------------------------------------- reading a ticket


async def read_all_ways(client: GraphQLClient, ticket: dict[str, Any]) -> list[Any]:
    """What the caller gets for ticket(id), ticket(number), node(id) and the partner's ticket(id)."""
    by_id = await detail(client, ticket["id"])
    by_number = (await client.run(BY_NUMBER, {"number": ticket["number"]}))["ticket"]
    node = (await client.run(NODE, {"id": ticket["id"]}))["node"]
    partner = (await client.run(PARTNER_STATUS, {"id": ticket["id"]}))["ticket"]
    return [by_id and by_id["id"], by_number and by_number["id"], node and node["id"], partner and partner["id"]]


@pytest.mark.parametrize("role", [AgentRole.SUPERVISOR, AgentRole.ADMIN])
async def test_supervisors_and_admins_see_every_ticket(admin: Actor, make_actor: MakeActor, role: AgentRole) -> None:
    reader = await make_actor(role)
    ticket = await create(admin.client)
    assert await read_all_ways(reader.client, ticket) == [ticket["id"]] * 4


@pytest.mark.parametrize("relation", ["group", "assignee", "collaborator", "collaborating_group"])
async def test_agents_see_tickets_of_their_groups_assigned_to_them_or_they_collaborate_on(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup, rt: Runtime, relation: str
) -> None:
    own, other = await make_group("Tier 1"), await make_group("Tier 2")
    agent = await make_actor(AgentRole.AGENT, groups=[own])
    outsider = await make_actor(AgentRole.AGENT, groups=[other])
    ticket = await create(admin.client)

    # Nobody's yet: invisible to the agent in every way.
    assert await read_all_ways(agent.client, ticket) == [None] * 4

    pk = ids.decode_as(ticket["id"], "Ticket")
    async with rt.engine.begin() as conn:
        if relation == "group":
            await conn.execute(update(tables.tickets).where(tables.tickets.c.id == pk).values(group_id=own.id))
        elif relation == "assignee":
            await conn.execute(
                update(tables.tickets).where(tables.tickets.c.id == pk).values(assignee_id=agent.agent.id)
            )
        elif relation == "collaborator":
            await conn.execute(insert(tables.ticket_collaborators).values(ticket_id=pk, agent_id=agent.agent.id))
        else:
            await conn.execute(insert(tables.ticket_collaborating_groups).values(ticket_id=pk, group_id=own.id))

    assert await read_all_ways(agent.client, ticket) == [ticket["id"]] * 4
    assert await read_all_ways(outsider.client, ticket) == [None] * 4


async def test_events_of_an_invisible_ticket_are_invisible_too(
    admin: Actor, make_actor: MakeActor, make_group: MakeGroup
) -> None:
    agent = await make_actor(AgentRole.AGENT, groups=[await make_group()])
    ticket = await create(admin.client)
    (event,) = await history(admin.client, ticket["id"])
    assert (await agent.client.run(NODE, {"id": event["id"]}))["node"] is None


async def test_missing_and_malformed_ids_and_numbers_are_null(admin: Actor) -> None:
    await create(admin.client)
    for global_id in [ids.encode("Ticket", 987654), ids.encode("Customer", 1), "garbage"]:
        assert (await admin.client.run(DETAIL, {"id": global_id}))["ticket"] is None
    assert (await admin.client.run(BY_NUMBER, {"number": 999_999}))["ticket"] is None
    assert (await admin.client.run(BY_NUMBER, {"number": -1}))["ticket"] is None


async def test_ticket_detail_of_a_new_ticket(admin: Actor) -> None:
    created = await create(
        admin.client,
        customer={"email": "zhang.wei@example.cn", "phone": "+86 139 1111 2222", "name": "张伟"},
        language="zh",
        externalRef="SO-77",
    )
    ticket = await detail(admin.client, created["id"])
    assert ticket is not None
    assert ticket["customer"] == {
        "id": created["customer"]["id"],
        "name": "张伟",
        "email": "zhang.wei@example.cn",
        "phone": "+8613911112222",
        "company": None,
        "tier": "STANDARD",
        "language": None,
        "openTicketCount": 1,
    }
    assert ticket["number"] == created["number"]
    assert (ticket["status"], ticket["version"], ticket["language"], ticket["externalRef"]) == ("NEW", 1, "zh", "SO-77")
    assert ticket["sentiment"] in {"NEGATIVE", "NEUTRAL", "POSITIVE"}
    assert ticket["escalationLevel"] == 0
    assert ticket["assignee"] is None and ticket["group"] is None and ticket["parent"] is None
    assert ticket["collaborators"] == [] and ticket["collaboratingGroups"] == []
    assert ticket["subTickets"] == [] and ticket["links"] == [] and ticket["attachments"] == []
    assert ticket["subTicketProgress"] == {"total": 0, "resolved": 0, "open": 0}
    assert ticket["satisfaction"] is None
    assert ticket["comments"] == {"totalCount": 0, "pageInfo": {"hasNextPage": False, "endCursor": None}, "edges": []}
    assert [edge["node"]["type"] for edge in ticket["history"]["edges"]] == ["CREATED"]
    assert ticket["createdAt"] == ticket["updatedAt"]
    assert ticket["firstRespondedAt"] is None and ticket["resolvedAt"] is None and ticket["closedAt"] is None


# ---------------------------------------------------------------- authentication


async def test_anonymous_callers_are_unauthenticated(admin: Actor, anonymous: GraphQLClient, rt: Runtime) -> None:
    ticket = await create(admin.client)
    attempts = [
        (DETAIL, {"id": ticket["id"]}),
        (BY_NUMBER, {"number": ticket["number"]}),
        (PARTNER_STATUS, {"id": ticket["id"]}),
        (LIST, {}),
        (CREATE, {"input": ticket_input(customer={"email": "anon@example.com"})}),
        (PARTNER_CREATE, {"input": ticket_input(customer={"email": "anon@example.com"}), "idempotencyKey": "k"}),
        (UPDATE, {"id": ticket["id"], "input": {"subject": "anonymous edit"}}),
    ]
    for document, variables in attempts:
        result = await anonymous.post(load_document(document), variables)
        assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", (document, result)
        assert not any((result.get("data") or {}).values()), result
    anonymous_with_bad_token = anonymous.as_("hds_forged")
    result = await anonymous_with_bad_token.post(load_document(DETAIL), {"id": ticket["id"]})
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await counts(rt) == (1, 1, 1)
    after = await detail(admin.client, ticket["id"])
    assert after is not None and after["version"] == 1
