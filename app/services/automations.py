"""Automations (admins only): saving them, checked in full, and previewing whom they would match.
Firing them is app.services.automation_runner's."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update

from app.auth.policy import Action, require
from app.db import tables
from app.db.repositories import automations as reads
from app.domain import automation_conditions as conditions
from app.domain.automations import AutomationInput, CleanAutomation, clean_automation
from app.domain.errors import NotFound
from app.domain.principal import Principal
from app.domain.records import AutomationRecord, TicketRecord
from app.domain.ticket_actions import references, stored
from app.events.outbox import Outbox
from app.services.automation_timers import reschedule
from app.services.runtime import Runtime
from app.services.ticket_actions import action_limits

au, a, g = tables.automations, tables.agents, tables.groups
PREVIEW_SAMPLE = 10


@dataclass(frozen=True, slots=True)
class AutomationPreview:
    matching_open_tickets: int
    sample: list[TicketRecord]


async def _check_references(tx: Outbox, clean: CleanAutomation) -> None:
    """Groups and agents the actions name must exist (agents: not deactivated) when it is saved."""
    for ref in references(clean.actions, ["input", "actions"]):
        table, alive = (a, a.c.deactivated_at.is_(None)) if ref.type_name == "Agent" else (g, g.c.id.isnot(None))
        if await tx.conn.scalar(select(table.c.id).where(table.c.id == ref.pk, alive)) is None:
            raise NotFound(f"no such {ref.type_name.lower()}", list(ref.field))


def _columns(clean: CleanAutomation) -> dict[str, object]:
    return {
        "name": clean.name,
        "enabled": clean.enabled,
        "trigger": clean.trigger.value,
        "status": clean.status.value if clean.status else None,
        "after_seconds": clean.after_seconds,
        "conditions": conditions.stored(clean.conditions),
        "actions": stored(clean.actions),
        "stop_processing": clean.stop_processing,
    }


async def create_automation(rt: Runtime, principal: Principal, data: AutomationInput) -> AutomationRecord:
    """Saved only if every condition and action is valid; without a position it goes last. A
    TIME_IN_STATUS automation starts timing the tickets in its status now from when they got there."""
    require(principal, Action.MANAGE_AUTOMATIONS)
    clean = clean_automation(data, action_limits(rt.settings))
    now = rt.clock.now()
    async with rt.transaction() as tx:
        await _check_references(tx, clean)
        position = clean.position if clean.position is not None else await reads.next_position(tx.conn)
        row = (
            await tx.conn.execute(
                insert(au)
                .values(**_columns(clean), position=position, created_at=now, updated_at=now)
                .returning(*reads.AUTOMATION_COLUMNS)
            )
        ).one()
        created = AutomationRecord(*row)
        await reschedule(tx, created)
    return created


async def update_automation(
    rt: Runtime, principal: Principal, automation_id: int, data: AutomationInput
) -> AutomationRecord:
    """Replaces the automation's settings; its firedCount and lastFiredAt stay."""
    require(principal, Action.MANAGE_AUTOMATIONS)
    clean = clean_automation(data, action_limits(rt.settings))
    async with rt.transaction() as tx:
        current = await reads.automation_by_id(tx.conn, automation_id, lock=True)
        if current is None:
            raise NotFound("no such automation", ["id"])
        await _check_references(tx, clean)
        position = clean.position if clean.position is not None else current.position
        row = (
            await tx.conn.execute(
                update(au)
                .where(au.c.id == automation_id)
                .values(**_columns(clean), position=position, updated_at=rt.clock.now())
                .returning(*reads.AUTOMATION_COLUMNS)
            )
        ).one()
        updated = AutomationRecord(*row)
        await reschedule(tx, updated)
    return updated


async def delete_automation(rt: Runtime, principal: Principal, automation_id: int) -> None:
    require(principal, Action.MANAGE_AUTOMATIONS)
    async with rt.transaction() as tx:
        gone = await tx.conn.scalar(delete(au).where(au.c.id == automation_id).returning(au.c.id))
        if gone is None:
            raise NotFound("no such automation", ["id"])


async def list_automations(rt: Runtime, principal: Principal) -> list[AutomationRecord]:
    """Every automation, in the order they fire."""
    require(principal, Action.MANAGE_AUTOMATIONS)
    async with rt.reader.connect() as conn:
        return await reads.all_automations(conn)


async def find_automation(rt: Runtime, principal: Principal, automation_id: int) -> AutomationRecord | None:
    require(principal, Action.MANAGE_AUTOMATIONS)
    async with rt.reader.connect() as conn:
        return await reads.automation_by_id(conn, automation_id)


async def preview_automation(rt: Runtime, principal: Principal, data: AutomationInput) -> AutomationPreview:
    """How many open tickets the conditions match now (counted in SQL) and the newest few of
    them. The input is checked as if saved; nothing is written."""
    require(principal, Action.MANAGE_AUTOMATIONS)
    clean = clean_automation(data, action_limits(rt.settings))
    async with rt.reader.connect() as conn:
        count, sample = await reads.matching_open_tickets(conn, clean.conditions, PREVIEW_SAMPLE)
    return AutomationPreview(count, sample)
