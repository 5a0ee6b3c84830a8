"""previewAutomation counts in SQL what the runner decides in Python: the two must agree on every
ticket, for every field and operator, including tickets with nothing set."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.db import tables
from app.db.repositories.automations import condition_sql
from app.db.repositories.tickets import TICKET_COLUMNS
from app.domain import validation as v
from app.domain.automation_conditions import ConditionInput, TicketFacts, clean_conditions, holds
from app.domain.enums import AgentRole, Channel, ConditionOperator, TicketPriority
from app.domain.principal import Principal
from app.domain.records import TicketRecord
from app.services import agents as agent_service
from app.services import tickets as ticket_service
from app.services.customers import CustomerRef
from app.services.runtime import Runtime
from schema import ids

Op = ConditionOperator


async def _tickets(rt: Runtime) -> None:
    admin = await agent_service.create_agent(
        rt, None, agent_service.NewAgent(name="a", email="a@example.com", password="pw-123456789", role=AgentRole.ADMIN)
    )
    principal = Principal(agent_id=admin.id, role=AgentRole.ADMIN)
    shapes: list[dict[str, Any]] = [
        {"priority": TicketPriority.URGENT, "tags": ["vip", "Refund"], "category": "refund", "language": "zh"},
        {"priority": TicketPriority.LOW, "custom_fields": {"orderTotal": 120, "region": "North", "gift": True}},
        {"priority": TicketPriority.HIGH, "custom_fields": {"orderTotal": "n/a", "region": ""}, "tags": []},
        {"priority": TicketPriority.NORMAL, "category": "", "custom_fields": {"orderTotal": 99.5, "list": []}},
    ]
    for n, shape in enumerate(shapes):
        await ticket_service.create_ticket(
            rt,
            principal,
            ticket_service.NewTicket(
                subject=f"Order SO-{n} 退款 question" if n == 0 else f"Order SO-{n} question",
                description="Where is my parcel?" if n % 2 else "The order is late",
                channel=Channel.EMAIL if n % 2 else Channel.API,
                customer=CustomerRef(email=f"c{n}@example.cn"),
                **shape,
            ),
        )


CASES: list[tuple[str, ConditionOperator, Any]] = [
    ("status", Op.EQUALS, "NEW"),
    ("status", Op.NOT_IN, ["OPEN", "PENDING"]),
    ("priority", Op.GREATER_THAN, "NORMAL"),
    ("priority", Op.LESS_THAN, "HIGH"),
    ("priority", Op.IN, ["URGENT", "LOW"]),
    ("channel", Op.NOT_EQUALS, "EMAIL"),
    ("sentiment", Op.EQUALS, "NEUTRAL"),
    ("customer.tier", Op.EQUALS, "STANDARD"),
    ("category", Op.IS_SET, None),
    ("category", Op.IS_NOT_SET, None),
    ("category", Op.EQUALS, "refund"),
    ("category", Op.NOT_EQUALS, "refund"),
    ("language", Op.IN, ["zh"]),
    ("language", Op.NOT_IN, ["zh"]),
    ("subject", Op.CONTAINS, "退款 QUESTION"),
    ("description", Op.NOT_CONTAINS, "parcel"),
    ("tags", Op.CONTAINS, "refund"),
    ("tags", Op.NOT_CONTAINS, "vip"),
    ("tags", Op.IS_SET, None),
    ("tags", Op.IS_NOT_SET, None),
    ("groupId", Op.IS_NOT_SET, None),
    ("assigneeId", Op.IS_SET, None),
    ("customFields.orderTotal", Op.GREATER_THAN, 100),
    ("customFields.orderTotal", Op.LESS_THAN, 100),
    ("customFields.orderTotal", Op.EQUALS, 120),
    ("customFields.orderTotal", Op.NOT_EQUALS, 120),
    ("customFields.orderTotal", Op.IN, [99.5, "n/a"]),
    ("customFields.orderTotal", Op.NOT_IN, [120]),
    ("customFields.region", Op.CONTAINS, "nor"),
    ("customFields.region", Op.NOT_CONTAINS, "nor"),
    ("customFields.region", Op.IS_SET, None),
    ("customFields.region", Op.IS_NOT_SET, None),
    ("customFields.gift", Op.EQUALS, True),
    ("customFields.list", Op.IS_NOT_SET, None),
    ("customFields.missing", Op.IS_NOT_SET, None),
]


async def _agree(rt: Runtime, field: str, operator: ConditionOperator, value: Any) -> tuple[set[int], int]:
    """The tickets the condition holds for (SQL and Python agreeing), and how many tickets there are."""
    await _tickets(rt)
    problems = v.Problems()
    (condition,) = clean_conditions(problems, [ConditionInput(field, operator, value)], ["conditions"])
    assert problems.items == []
    t, cu = tables.tickets, tables.customers
    async with rt.engine.connect() as conn:
        rows = (await conn.execute(select(*TICKET_COLUMNS, cu.c.tier).join(cu, cu.c.id == t.c.customer_id))).all()
        matched = set((await conn.execute(select(t.c.id).where(condition_sql(condition)))).scalars())
    in_python = {row.id for row in rows if holds(condition, TicketFacts(TicketRecord(*row[:-1]), row[-1]))}
    assert matched == in_python
    return in_python, len(rows)


@pytest.mark.parametrize(("field", "operator", "value"), CASES, ids=[f"{f}-{o.value}" for f, o, _ in CASES])
async def test_sql_and_python_agree(rt: Runtime, field: str, operator: ConditionOperator, value: Any) -> None:
    in_python, count = await _agree(rt, field, operator, value)
    # Each case tells tickets apart, so agreement is not agreement on "none" or "all".
    assert 0 < len(in_python) < count or field in (
        "status",
        "sentiment",
        "customer.tier",
        "groupId",
        "assigneeId",
        "customFields.missing",
        "customFields.list",
    )


@pytest.mark.parametrize("value", ["is_my", "is%my", "_", "%"])
async def test_like_wildcards_in_a_contains_value_are_plain_text(rt: Runtime, value: str) -> None:
    # "Where is my parcel?" holds none of them as text; an unescaped LIKE would match it.
    assert await _agree(rt, "description", Op.CONTAINS, value) == (set(), 4)


def test_ids_in_conditions_are_global_ids() -> None:
    problems = v.Problems()
    (condition,) = clean_conditions(
        problems, [ConditionInput("groupId", Op.EQUALS, ids.encode("Group", 7))], ["conditions"]
    )
    assert condition.value == 7
