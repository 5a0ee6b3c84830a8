"""Defined custom fields through the real server: administration (admins; agents read all,
anonymous callers and customer sessions the visibleToCustomer ones), values
checked on createTicket / updateTicket / createSubTicket, requiredForStatus on transitions,
FIELD_CHANGED in history, TicketFilter.customFields through its GIN index, and routing rules
matching custom fields."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlparse

from sqlalchemy import text

from app.domain.enums import AgentRole, Channel
from app.services import customer_sign_in
from app.services import tickets as ticket_service
from app.services.customers import CustomerRef
from app.services.runtime import Runtime
from tests.api.test_tickets import create, create_payload, ticket_input
from tests.conftest import Actor
from tests.support import GraphQLClient, load_document

CREATE_FIELD = "console/admin/CreateTicketField.graphql"
UPDATE_FIELD = "console/admin/UpdateTicketField.graphql"
DELETE_FIELD = "console/admin/DeleteTicketField.graphql"
FIELDS = "console/TicketFields.graphql"
FORM_FIELDS = "portal/TicketFields.graphql"
UPDATE = "console/UpdateTicket.graphql"
RESOLVE = "console/ResolveTicket.graphql"
START = "console/StartTicket.graphql"
DETAIL = "console/TicketDetail.graphql"
HISTORY = "console/TicketHistory.graphql"
LIST = "console/TicketList.graphql"
SUB = "console/CreateSubTicket.graphql"
CREATE_RULE = "console/admin/CreateRoutingRule.graphql"

MakeActor = Callable[..., Awaitable[Actor]]


async def raw(client: GraphQLClient, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    result = await client.post(load_document(document), variables)
    assert not result.get("errors"), result["errors"]
    (payload,) = result["data"].values()
    return payload  # type: ignore[no-any-return]


def codes(payload: dict[str, Any]) -> list[tuple[list[str], str]]:
    return [(e["field"], e["code"]) for e in payload["userErrors"]]


async def define(admin: Actor, **fields: Any) -> dict[str, Any]:
    return (await admin.client.mutate(CREATE_FIELD, {"input": fields}))["field"]  # type: ignore[no-any-return]


async def test_admins_define_fields_agents_read_them_and_bad_definitions_write_nothing(
    admin: Actor, make_actor: MakeActor
) -> None:
    agent = await make_actor(AgentRole.AGENT)
    order = await define(admin, key="orderId", label="Order", type="TEXT", pattern="SO-[0-9]{4}")
    reason = await define(admin, key="reason", label="Reason", type="DROPDOWN", options=["broken", "late"])
    assert order["position"] < reason["position"] and order["pattern"] == "SO-[0-9]{4}"
    listed = (await agent.client.run(FIELDS))["ticketFields"]
    assert [f["key"] for f in listed] == ["orderId", "reason"]

    assert codes(await raw(agent.client, CREATE_FIELD, {"input": {"key": "x", "label": "X", "type": "TEXT"}})) == [
        ([], "FORBIDDEN")
    ]
    duplicate = await raw(admin.client, CREATE_FIELD, {"input": {"key": "orderId", "label": "Again", "type": "NUMBER"}})
    assert codes(duplicate) == [(["input", "key"], "DUPLICATE")]
    backtracking = await raw(
        admin.client, CREATE_FIELD, {"input": {"key": "code", "label": "Code", "type": "TEXT", "pattern": r"(a)\1"}}
    )
    assert codes(backtracking) == [(["input", "pattern"], "INVALID_INPUT")]
    assert len((await admin.client.run(FIELDS))["ticketFields"]) == 2

    renamed = await admin.client.mutate(
        UPDATE_FIELD,
        {"id": reason["id"], "input": {"key": "reason", "label": "Why", "type": "DROPDOWN", "options": ["x"]}},
    )
    assert renamed["field"]["label"] == "Why" and renamed["field"]["options"] == ["x"]
    await admin.client.mutate(DELETE_FIELD, {"id": reason["id"]})
    assert [f["key"] for f in (await admin.client.run(FIELDS))["ticketFields"]] == ["orderId"]


async def test_values_are_checked_on_intake_and_edits_and_changes_are_field_changed_events(
    admin: Actor, rt: Runtime
) -> None:
    # No definitions: free JSON, as in version 1.
    free = await create(admin.client, customFields={"anything": {"nested": True}})
    assert free["id"]
    await define(admin, key="orderId", label="Order", type="TEXT", pattern="SO-[0-9]{4}", requiredOnCreate=True)
    await define(admin, key="amount", label="Amount", type="NUMBER")

    bad = await create_payload(admin.client, input=ticket_input(customFields={"orderId": "nope", "colour": "red"}))
    assert sorted(codes(bad)) == [
        (["input", "customFields", "colour"], "INVALID_INPUT"),
        (["input", "customFields", "orderId"], "INVALID_INPUT"),
    ]
    missing = await create_payload(admin.client, input=ticket_input(customFields={"amount": 3}))
    assert codes(missing) == [(["input", "customFields", "orderId"], "INVALID_INPUT")]
    async with rt.engine.connect() as conn:
        count = (await conn.execute(text("SELECT count(*) FROM tickets"))).scalar_one()
    assert count == 1  # nothing written by the refused ones

    ticket = await create(admin.client, customFields={"orderId": "SO-1023"})
    refused = await raw(admin.client, UPDATE, {"id": ticket["id"], "input": {"customFields": {"amount": "ten"}}})
    assert codes(refused) == [(["input", "customFields", "amount"], "INVALID_INPUT")]
    sub = await raw(admin.client, SUB, {"parentId": ticket["id"], "input": ticket_input(customFields={})})
    assert codes(sub) == [(["input", "customFields", "orderId"], "INVALID_INPUT")]

    await admin.client.mutate(
        UPDATE, {"id": ticket["id"], "input": {"customFields": {"orderId": "SO-2000", "amount": 5}}}
    )
    history = (await admin.client.run(HISTORY, {"id": ticket["id"]}))["ticket"]["history"]["edges"]
    changed = [
        {k: e["node"]["data"][k] for k in ("key", "before", "after")}
        for e in history
        if e["node"]["type"] == "FIELD_CHANGED"
    ]
    assert changed == [
        {"key": "amount", "before": None, "after": 5},
        {"key": "orderId", "before": "SO-1023", "after": "SO-2000"},
    ]


async def test_a_refund_cannot_be_resolved_without_its_order_id(admin: Actor) -> None:
    await define(
        admin, key="orderId", label="Order number", type="TEXT", requiredForStatus="RESOLVED", categories=["Refund"]
    )
    other = await create(admin.client, category="billing")
    await admin.client.mutate(START, {"id": other["id"]})
    await admin.client.mutate(RESOLVE, {"id": other["id"], "resolution": "done"})

    refund = await create(admin.client, category="refund")
    await admin.client.mutate(START, {"id": refund["id"]})
    refused = await raw(admin.client, RESOLVE, {"id": refund["id"], "resolution": "refunded"})
    assert codes(refused) == [(["customFields", "orderId"], "PRECONDITION_FAILED")]
    assert "Order number (orderId)" in refused["userErrors"][0]["message"]
    detail = (await admin.client.run(DETAIL, {"id": refund["id"]}))["ticket"]
    assert detail["status"] == "OPEN"

    await admin.client.mutate(UPDATE, {"id": refund["id"], "input": {"customFields": {"orderId": "SO-1"}}})
    resolved = await admin.client.mutate(RESOLVE, {"id": refund["id"], "resolution": "refunded"})
    assert resolved["ticket"]["status"] == "RESOLVED"


async def test_the_custom_fields_filter_is_equality_per_key_through_the_gin_index(admin: Actor, rt: Runtime) -> None:
    a = await create(admin.client, customFields={"orderId": "SO-1", "carrier": "DHL"})
    await create(admin.client, customFields={"orderId": "SO-2", "carrier": "DHL"})
    page = (await admin.client.run(LIST, {"filter": {"customFields": {"orderId": "SO-1", "carrier": "DHL"}}}))[
        "tickets"
    ]
    assert [e["node"]["id"] for e in page["edges"]] == [a["id"]]
    assert (await admin.client.run(LIST, {"filter": {"customFields": {"carrier": "DHL"}}}))["tickets"][
        "totalCount"
    ] == 2
    wrong = await admin.client.post(load_document(LIST), {"filter": {"customFields": [1]}})
    assert wrong["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", wrong

    async with rt.engine.connect() as conn:
        await conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            row[0]
            for row in await conn.execute(
                text("EXPLAIN SELECT id FROM tickets WHERE custom_fields @> CAST(:wanted AS jsonb)"),
                {"wanted": '{"orderId": "SO-1"}'},
            )
        )
    assert "ix_tickets_custom_fields" in plan


async def test_routing_rules_match_custom_fields(admin: Actor) -> None:
    rule = (
        await admin.client.mutate(
            CREATE_RULE,
            {"input": {"name": "refunds", "matchCustomFields": {"reason": "refund"}, "setCategory": "refund"}},
        )
    )["rule"]
    assert rule["matchCustomFields"] == {"reason": "refund"}
    matched = await create(admin.client, customFields={"reason": "refund"})
    unmatched = await create(admin.client, customFields={"reason": "question"})
    assert matched["category"] == "refund" and unmatched["category"] is None


async def customer_session(rt: Runtime, admin: Actor, anonymous: GraphQLClient, email: str) -> GraphQLClient:
    """A customer with a ticket, signed in by a link as the mail would carry it."""
    ticket, _ = await ticket_service.create_ticket(
        rt,
        admin.principal,
        ticket_service.NewTicket(
            subject="Parcel missing",
            description="Nothing came.",
            channel=Channel.API,
            customer=CustomerRef(email=email),
        ),
    )
    async with rt.engine.begin() as conn:
        link = await customer_sign_in.mint_sign_in_link(conn, rt.settings, ticket.customer_id, rt.clock.now())
    return anonymous.as_((await customer_sign_in.sign_in(rt, parse_qs(urlparse(link).query)["token"][0])).token)


async def test_the_web_form_and_customers_read_only_the_fields_visible_to_customers(
    admin: Actor, make_actor: MakeActor, anonymous: GraphQLClient, rt: Runtime
) -> None:
    customer = await customer_session(rt, admin, anonymous, "li.lei@example.cn")
    agent = await make_actor(AgentRole.AGENT)
    # With nothing defined, nobody is refused: the list is empty.
    assert (await anonymous.run(FORM_FIELDS))["ticketFields"] == []

    await define(admin, key="riskScore", label="Risk", type="NUMBER", position=1)
    order_type = await define(
        admin,
        key="orderType",
        label="订单类型 / Order type",
        type="DROPDOWN",
        options=["online", "in store"],
        requiredOnCreate=True,
        visibleToCustomer=True,
        position=2,
    )
    await define(admin, key="internalCode", label="Code", type="TEXT", requiredForStatus="RESOLVED", position=3)
    order_id = await define(
        admin,
        key="orderId",
        label="Order",
        type="TEXT",
        pattern="SO-[0-9]{4}",
        categories=["refund"],
        visibleToCustomer=True,
        position=4,
    )

    for caller in (agent.client, admin.client):
        assert [f["key"] for f in (await caller.run(FIELDS))["ticketFields"]] == [
            "riskScore",
            "orderType",
            "internalCode",
            "orderId",
        ]
    for caller in (anonymous, customer):
        shown = (await caller.run(FORM_FIELDS))["ticketFields"]
        assert [f["id"] for f in shown] == [order_type["id"], order_id["id"]]
        assert shown[0] == {
            "id": order_type["id"],
            "key": "orderType",
            "label": "订单类型 / Order type",
            "type": "DROPDOWN",
            "options": ["online", "in store"],
            "pattern": None,
            "requiredOnCreate": True,
            "categories": [],
            "position": 2,
        }
        assert shown[1]["pattern"] == "SO-[0-9]{4}" and shown[1]["categories"] == ["refund"]

    # Anonymous callers may select the whole definition (of customer-facing fields only); a
    # customer session's document keeps to what a form needs (resolvers/customer_allowlist.py).
    everything = (await anonymous.run(FIELDS))["ticketFields"]
    assert [(f["key"], f["visibleToCustomer"]) for f in everything] == [("orderType", True), ("orderId", True)]
    refused = await customer.post(load_document(FIELDS))
    assert refused["data"] is None and refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
