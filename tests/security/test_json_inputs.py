"""Finding 9: `Customer.externalRefs` had no size limit (a 900 KB object was accepted). Every
free-form JSON input now has the same cap as `customFields` (32 KiB), and this file knows every
JSON input of the schema: a new one fails here until it is capped and tested."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.db import tables
from app.services.runtime import Runtime
from tests.conftest import Actor
from tests.support import GraphQLClient

JSON_INPUTS = """
{ __schema { types { name kind inputFields { name type { name kind ofType { name kind ofType { name } } } } } } }
"""
HUGE = {"refs": ["x" * 1000] * 900}  # about 900 KB
AT_THE_CAP = {"note": "y" * (32 * 1024 - 20)}


def _named(type_ref: dict[str, Any]) -> str | None:
    while type_ref.get("ofType"):
        type_ref = type_ref["ofType"]
    return type_ref.get("name")


TICKET = {
    "subject": "订单 SO-1 未到",
    "description": "Not arrived.",
    "channel": "API",
    "customer": {"email": "li.lei@example.cn"},
}


async def prepare(who: Actor, field: str) -> str | None:
    """The object an update mutation changes, made beforehand."""
    if field.startswith("UpdateCustomerInput."):
        created = await who.client.run("console/CreateCustomer.graphql", {"input": {"name": "王芳"}})
        return str(created["createCustomer"]["customer"]["id"])
    if field.startswith("UpdateTicketInput."):
        created = await who.client.run("console/CreateTicket.graphql", {"input": TICKET})
        return str(created["createTicket"]["ticket"]["id"])
    return None


async def send(who: Actor, field: str, target: str | None, value: object) -> dict[str, Any]:
    """Sends `value` as the JSON input `field` (Type.field) through its mutation."""
    kind = field.split(".")[0]
    if kind == "CreateCustomerInput":
        variables: dict[str, Any] = {"input": {"name": "张伟", "email": "zhang.wei@example.cn", "externalRefs": value}}
        return (await who.client.run("console/CreateCustomer.graphql", variables))["createCustomer"]
    if kind == "UpdateCustomerInput":
        variables = {"id": target, "input": {"externalRefs": value}}
        return (await who.client.run("console/UpdateCustomer.graphql", variables))["updateCustomer"]
    if kind == "CreateTicketInput":
        variables = {"input": {**TICKET, "customFields": value}}
        return (await who.client.run("console/CreateTicket.graphql", variables))["createTicket"]
    if kind == "WebFormInput":
        form = {"name": "李雷", "email": "li.lei@example.cn", "subject": "发票", "description": "x"}
        variables = {"input": {**form, "customFields": value}}
        return (await who.client.run("portal/SubmitWebForm.graphql", variables))["submitWebForm"]
    assert kind == "UpdateTicketInput", field
    variables = {"id": target, "input": {"customFields": value}}
    return (await who.client.run("console/UpdateTicket.graphql", variables))["updateTicket"]


async def stored(rt: Runtime) -> list[Any]:
    """Every customer's external references and every ticket's custom fields."""
    async with rt.engine.connect() as conn:
        refs = (await conn.execute(select(tables.customers.c.external_refs).order_by(tables.customers.c.id))).all()
        fields = (await conn.execute(select(tables.tickets.c.custom_fields).order_by(tables.tickets.c.id))).all()
    return [list(refs), list(fields)]


CAPPED = {
    "CreateCustomerInput.externalRefs": ["input", "externalRefs"],
    "UpdateCustomerInput.externalRefs": ["input", "externalRefs"],
    "CreateTicketInput.customFields": ["input", "customFields"],
    "UpdateTicketInput.customFields": ["input", "customFields"],
    "WebFormInput.customFields": ["input", "customFields"],
}


async def test_every_json_input_of_the_schema_is_capped_here(anonymous: GraphQLClient) -> None:
    schema = (await anonymous.execute(JSON_INPUTS))["__schema"]
    json_inputs = {
        f"{t['name']}.{f['name']}"
        for t in schema["types"]
        if t["kind"] == "INPUT_OBJECT"
        for f in t["inputFields"]
        if _named(f["type"]) == "JSON"
    }
    assert json_inputs == set(CAPPED) | set(SHAPED) | {"TicketFilter.customFields"}


@pytest.mark.parametrize("field", CAPPED)
async def test_a_900_kb_json_input_is_refused_and_nothing_is_written(field: str, admin: Actor, rt: Runtime) -> None:
    target = await prepare(admin, field)
    before = await stored(rt)

    payload = await send(admin, field, target, HUGE)

    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(CAPPED[field], "INVALID_INPUT")]
    assert "32 KiB" in payload["userErrors"][0]["message"]
    assert all(v is None for k, v in payload.items() if k != "userErrors")
    assert await stored(rt) == before
    # At the cap it is accepted.
    assert (await send(admin, field, target, AT_THE_CAP))["userErrors"] == []


# JSON inputs whose value has a shape of its own (a rule's condition, an action's value, a
# filter): each part is bounded by that shape or by the same 32 KiB cap, so a 900 KB value is
# refused at its path and nothing is written.
SHAPED = {
    "AutomationActionInput.value": (
        "mutation($input: MacroInput!) { createMacro(input: $input) { macro { id } userErrors { field code } } }",
        {"input": {"name": "huge", "actions": [{"type": "ADD_INTERNAL_NOTE", "value": {"body": "x" * 900_000}}]}},
        ["input", "actions", "0", "value", "body"],
    ),
    "AutomationConditionInput.value": (
        "mutation($input: AutomationInput!) { createAutomation(input: $input) { automation { id } "
        "userErrors { field code } } }",
        {
            "input": {
                "name": "huge",
                "trigger": "TICKET_CREATED",
                "conditions": [{"field": "subject", "operator": "CONTAINS", "value": "x" * 900_000}],
                "actions": [{"type": "ADD_TAGS", "value": {"tags": ["x"]}}],
            }
        },
        ["input", "conditions", "0", "value"],
    ),
    "RoutingRuleInput.matchCustomFields": (
        "mutation($input: RoutingRuleInput!) { createRoutingRule(input: $input) { rule { id } "
        "userErrors { field code } } }",
        {"input": {"name": "huge", "matchCustomFields": HUGE, "setCategory": "x"}},
        ["input", "matchCustomFields"],
    ),
}


@pytest.mark.parametrize("field", SHAPED)
async def test_a_900_kb_shaped_json_input_is_refused_at_its_path(field: str, admin: Actor, rt: Runtime) -> None:
    document, variables, path = SHAPED[field]
    async with rt.engine.connect() as conn:
        before = [
            (await conn.execute(select(table.c.id))).all()
            for table in (tables.macros, tables.automations, tables.routing_rules)
        ]

    data = await admin.client.execute(document, variables)

    (payload,) = data.values()
    assert [(e["field"], e["code"]) for e in payload["userErrors"]][:1] == [(path, "INVALID_INPUT")]
    async with rt.engine.connect() as conn:
        after = [
            (await conn.execute(select(table.c.id))).all()
            for table in (tables.macros, tables.automations, tables.routing_rules)
        ]
    assert after == before


async def test_a_900_kb_custom_fields_filter_is_refused(admin: Actor) -> None:
    answer = await admin.client.post(
        "query($f: TicketFilter) { tickets(filter: $f, first: 1) { totalCount } }", {"f": {"customFields": HUGE}}
    )
    errors = answer["errors"]
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT" and "32 KiB" in errors[0]["message"]
