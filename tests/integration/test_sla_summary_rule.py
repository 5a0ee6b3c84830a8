"""A ticket's SLA summary (`sla_due_at`, `sla_at_risk`) has one rule in two forms: in SQL
(app.services.sla.refresh_ticket_summaries, after clocks change) and in Python
(app.domain.sla.ticket_summary, for a ticket inserted with its clocks decided). Both give the same
answer on the demo's clocks bent into every state that matters."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import fields

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.clock import ManualClock
from app.db import tables
from app.demo import seed_demo
from app.domain.records import SlaClockRecord
from app.domain.sla import ticket_summary
from app.services.runtime import Runtime
from app.services.sla import refresh_ticket_summaries
from app.settings import Settings
from tests.api.test_ticket_json import NOW


async def test_the_python_summary_rule_answers_like_the_sql_one(engine: AsyncEngine, settings: Settings) -> None:
    await seed_demo(Runtime(engine=engine, settings=settings, clock=ManualClock(NOW)))
    sc, t = tables.sla_clocks, tables.tickets
    async with engine.begin() as conn:
        ids = list((await conn.execute(select(sc.c.id).order_by(sc.c.id))).scalars())
        # Warned, breached, paused, met, and detached from its policy, side by side.
        for i, changes in enumerate(
            [
                {"warned_at": NOW},
                {"breached_at": NOW},
                {"running_since": None},
                {"met_at": NOW},
                {"policy_id": None},
                {"warned_at": NOW, "running_since": None},
            ]
        ):
            await conn.execute(update(sc).where(sc.c.id.in_(ids[i::7])).values(**changes))
        ticket_ids = list((await conn.execute(select(t.c.id))).scalars())
        await refresh_ticket_summaries(conn, ticket_ids)
        names = [f.name for f in fields(SlaClockRecord)]
        clocks: dict[int, list[SlaClockRecord]] = defaultdict(list)
        for row in await conn.execute(select(*(sc.c[name] for name in names))):
            clocks[row.ticket_id].append(SlaClockRecord(*row))
        summaries = (await conn.execute(select(t.c.id, t.c.sla_due_at, t.c.sla_at_risk))).all()
    assert sum(1 for _, _, at_risk in summaries if at_risk) > 0
    assert sum(1 for _, due, _ in summaries if due is not None) > 0
    for ticket_id, due, at_risk in summaries:
        assert ticket_summary(clocks[ticket_id]) == (due, at_risk), ticket_id
