"""Macros: canned replies with ticket actions, applied in one step.

Every agent keeps personal macros and reads the shared ones; supervisors and admins manage the
shared ones. Someone else's personal macro looks exactly like a missing one. Applying a macro
adds its reply and runs its actions in one transaction, all or nothing, with the applying
agent's own permissions (app.services.ticket_actions).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update

from app.auth.policy import Action, require, require_macro_change
from app.db import tables
from app.db.repositories.macros import MACRO_COLUMNS, visible_macro, visible_macros
from app.db.repositories.tickets import TICKET_COLUMNS, visible_to
from app.domain import validation as v
from app.domain.enums import CommentVisibility, TicketEventType
from app.domain.errors import NotFound
from app.domain.macros import CleanMacro, MacroInput, clean_macro
from app.domain.placeholders import render
from app.domain.principal import Principal
from app.domain.records import MacroRecord, TicketRecord
from app.domain.ticket_actions import from_stored, references, stored
from app.events.outbox import Outbox
from app.services.conversation import agent_reply
from app.services.lifecycle import lock_with_parent
from app.services.runtime import Runtime
from app.services.ticket_actions import ActionRun, action_limits, rendered_text, run_actions, text_values
from app.services.ticket_changes import Actor, check_version, record

m, a, g = tables.macros, tables.agents, tables.groups


@dataclass(frozen=True, slots=True)
class MacroPreview:
    body: str | None
    # Placeholders with no value on the ticket, as written in the macro.
    missing: tuple[str, ...]


async def _check_references(tx: Outbox, clean: CleanMacro) -> None:
    """Groups and agents the actions name must exist (agents: not deactivated) when it is saved."""
    for ref in references(clean.actions, ["input", "actions"]):
        table, alive = (a, a.c.deactivated_at.is_(None)) if ref.type_name == "Agent" else (g, g.c.id.isnot(None))
        if await tx.conn.scalar(select(table.c.id).where(table.c.id == ref.pk, alive)) is None:
            raise NotFound(f"no such {ref.type_name.lower()}", list(ref.field))


def _columns(clean: CleanMacro, owner: int | None) -> dict[str, object]:
    return {
        "name": clean.name,
        "body": clean.body,
        "visibility": clean.visibility.value,
        "actions": stored(clean.actions),
        "owner_agent_id": None if clean.shared else owner,
    }


async def create_macro(rt: Runtime, principal: Principal, data: MacroInput) -> MacroRecord:
    """A shared macro (supervisors and admins) or the caller's personal one (shared: false)."""
    require_macro_change(principal, data.shared)
    clean = clean_macro(data, action_limits(rt.settings))
    now = rt.clock.now()
    async with rt.transaction() as tx:
        await _check_references(tx, clean)
        row = (
            await tx.conn.execute(
                insert(m)
                .values(**_columns(clean, principal.agent_id), created_at=now, updated_at=now)
                .returning(*MACRO_COLUMNS)
            )
        ).one()
    return MacroRecord(*row)


async def update_macro(rt: Runtime, principal: Principal, macro_id: int, data: MacroInput) -> MacroRecord:
    """Replaces the macro. Sharing a personal macro, or changing a shared one in any way (making
    it personal gives it to the caller), needs the supervisor role."""
    require(principal, Action.USE_MACROS)
    clean = clean_macro(data, action_limits(rt.settings))
    async with rt.transaction() as tx:
        current = await visible_macro(tx.conn, principal, macro_id, lock=True)
        if current is None:
            raise NotFound("no such macro", ["id"])
        require_macro_change(principal, current.owner_agent_id is None or clean.shared)
        await _check_references(tx, clean)
        row = (
            await tx.conn.execute(
                update(m)
                .where(m.c.id == macro_id)
                .values(**_columns(clean, principal.agent_id), updated_at=rt.clock.now())
                .returning(*MACRO_COLUMNS)
            )
        ).one()
    return MacroRecord(*row)


async def delete_macro(rt: Runtime, principal: Principal, macro_id: int) -> None:
    require(principal, Action.USE_MACROS)
    async with rt.transaction() as tx:
        current = await visible_macro(tx.conn, principal, macro_id, lock=True)
        if current is None:
            raise NotFound("no such macro", ["id"])
        require_macro_change(principal, current.owner_agent_id is None)
        await tx.conn.execute(delete(m).where(m.c.id == macro_id))


async def list_macros(rt: Runtime, principal: Principal, search: str | None) -> list[MacroRecord]:
    """Shared macros and the caller's own, by name; `search` matches the name or the reply."""
    require(principal, Action.USE_MACROS)
    problems = v.Problems()
    clean = v.optional_text(problems, search, ["search"], 200)
    problems.raise_if_any()
    async with rt.reader.connect() as conn:
        return await visible_macros(conn, principal, clean)


async def _agent_name(tx: Outbox, principal: Principal) -> str | None:
    return await tx.conn.scalar(select(a.c.name).where(a.c.id == principal.agent_id))


async def render_macro(rt: Runtime, principal: Principal, ticket_id: int, macro_id: int) -> MacroPreview:
    """The macro's reply as it would read on the ticket, and the placeholders it has no value for
    (left as written in the text). Nothing is written."""
    require(principal, Action.USE_MACROS)
    async with rt.reader.connect() as conn:
        t = tables.tickets
        row = (await conn.execute(select(*TICKET_COLUMNS).where(t.c.id == ticket_id, visible_to(principal)))).first()
        if row is None:
            raise NotFound("no such ticket", ["ticketId"])
        macro = await visible_macro(conn, principal, macro_id)
        if macro is None:
            raise NotFound("no such macro", ["macroId"])
        if macro.body is None:
            return MacroPreview(None, ())
        reader = Outbox(conn)  # reads only: text_values takes the transaction's connection
        values = await text_values(reader, TicketRecord(*row), await _agent_name(reader, principal))
    rendered = render(macro.body, values)
    return MacroPreview(rendered.text, rendered.unknown)


async def apply_macro(
    rt: Runtime, principal: Principal, ticket_id: int, macro_id: int, expected_version: int | None
) -> TicketRecord:
    """The macro's reply (PUBLIC or INTERNAL as the macro says) and its actions, in order, in one
    transaction: any refusal (a permission the agent lacks, a lifecycle rule, a placeholder with
    no value, a stale expectedVersion) leaves the ticket exactly as it was. Writes MACRO_APPLIED
    and counts the use."""
    require(principal, Action.USE_MACROS)
    require(principal, Action.UPDATE_TICKET)
    now = rt.clock.now()
    actor = Actor.of(principal)
    async with rt.transaction() as tx:
        try:
            ticket, parent = await lock_with_parent(tx, principal, ticket_id)
        except NotFound as exc:
            raise NotFound(exc.message, ["ticketId"]) from None
        check_version(ticket, expected_version)
        macro = await visible_macro(tx.conn, principal, macro_id)
        if macro is None:
            raise NotFound("no such macro", ["macroId"])
        limits = action_limits(rt.settings)
        agent_name = await _agent_name(tx, principal)
        comment_id = None
        if macro.body is not None:
            text = await rendered_text(tx, ticket, macro.body, agent_name)
            comment, ticket = await agent_reply(
                tx, ticket, parent, text, CommentVisibility(macro.visibility), actor, now
            )
            comment_id = comment.id
        run = ActionRun(principal, actor, "MACRO", f"Macro: {macro.name}", limits, agent_name)
        result = await run_actions(tx, ticket, parent, from_stored(macro.actions, limits), run, now)
        await record(
            tx,
            result.ticket,
            TicketEventType.MACRO_APPLIED,
            actor,
            now,
            {
                "macroId": macro.id,
                "name": macro.name,
                "commentId": comment_id,
                "actions": [outcome.type.value for outcome in result.outcomes],
            },
        )
        await tx.conn.execute(update(m).where(m.c.id == macro.id).values(usage_count=m.c.usage_count + 1))
    return result.ticket


async def find_macro(rt: Runtime, principal: Principal, macro_id: int) -> MacroRecord | None:
    """The macro if the caller may see it (node(id)); None, like a missing one, otherwise."""
    async with rt.reader.connect() as conn:
        return await visible_macro(conn, principal, macro_id)
