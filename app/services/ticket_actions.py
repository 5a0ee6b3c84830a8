"""Running ticket actions (app.domain.ticket_actions) inside the caller's transaction.

Each action goes through the same function the API's own mutation uses (edits, lifecycle,
assignment, escalation, agent replies), so every rule holds: the lifecycle graph, the
sub-ticket rule, group membership, CLOSED tickets. An agent applying actions (a macro) needs
the permission of each action's mutation; the system (an automation, `principal=None`) needs none.

Two ways to meet a refusal:
- `isolate=False` (macros): the first refused action raises, so the caller's transaction rolls
  back and nothing of the macro stays (all or nothing).
- `isolate=True` (automations): each action runs in a savepoint; a refused one is rolled back
  alone and reported in the outcomes with its reason, and the others still run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from app.auth.policy import require_ticket_action
from app.db import tables
from app.db.repositories import people as people_reads
from app.domain import validation as v
from app.domain.enums import AutomationActionType, CommentVisibility, ErrorCode, NotificationKind, TicketStatus
from app.domain.errors import DomainError, PreconditionFailed, ValidationErrors
from app.domain.lifecycle import Action, action_towards
from app.domain.placeholders import render
from app.domain.principal import Principal
from app.domain.records import TicketRecord
from app.domain.ticket_actions import (
    AddInternalNote,
    AddTags,
    AssignToAgent,
    AssignToGroup,
    EmailCustomer,
    Escalate,
    NotifyAgents,
    RemoveTags,
    SetCategory,
    SetPriority,
    SetStatus,
    TicketAction,
)
from app.domain.ticket_placeholders import placeholder_values
from app.events.outbox import Outbox
from app.services import email_outbox
from app.services.assignment import assign_locked
from app.services.conversation import agent_reply
from app.services.escalation import escalate_locked
from app.services.lifecycle import change_status
from app.services.notification_triggers import supervisors_of
from app.services.notifications import notify_agents
from app.services.ticket_changes import Actor
from app.services.tickets import edit_locked
from app.settings import Settings


@dataclass(frozen=True, slots=True)
class ActionOutcome:
    """What became of one action: applied (perhaps with nothing to change) or refused, and why."""

    index: int
    type: AutomationActionType
    applied: bool
    code: ErrorCode | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ActionRun:
    """Who runs the actions and how their effects are labelled."""

    # The agent applying them (each action needs their permission), or None for the system.
    principal: Principal | None
    actor: Actor
    # Why the changes happened, as events' `reason` shows it ("MACRO", "AUTOMATION").
    reason: str
    # Human words for the source, used where a text is required (a resolution).
    label: str
    limits: v.TextLimits = field(default_factory=v.TextLimits)
    agent_name: str | None = None


@dataclass(frozen=True, slots=True)
class ActionsResult:
    ticket: TicketRecord
    outcomes: list[ActionOutcome]


def action_limits(settings: Settings) -> v.TextLimits:
    return v.TextLimits(max_tags=settings.max_tags, max_tag_length=settings.max_tag_length)


class ActionRefused(PreconditionFailed):
    """One action of several refused, naming it (the code is the refusal's own)."""

    def __init__(self, index: int, action: TicketAction, error: DomainError) -> None:
        first = error.errors[0] if isinstance(error, ValidationErrors) else error
        # The message names the action; the refusal's own field was an argument of another mutation.
        super().__init__(f"action {index + 1} ({action.type.value}) refused: {first.message}")
        self.code = first.code
        self.index = index


async def text_values(tx: Outbox, ticket: TicketRecord, agent_name: str | None) -> dict[str, str]:
    """What the ticket's placeholders read now (the ticket as it is at this point of the run)."""
    cu = tables.customers
    customer_name = await tx.conn.scalar(select(cu.c.name).where(cu.c.id == ticket.customer_id))
    return placeholder_values(
        number=ticket.number,
        subject=ticket.subject,
        customer_name=customer_name,
        agent_name=agent_name,
        custom_fields=ticket.custom_fields or {},
    )


async def rendered_text(tx: Outbox, ticket: TicketRecord, template: str, agent_name: str | None) -> str:
    """The template filled from the ticket; a placeholder with no value refuses, so a customer
    never reads `{{customer.name}}`."""
    result = render(template, await text_values(tx, ticket, agent_name))
    if result.unknown:
        names = ", ".join(f"{{{{{name}}}}}" for name in result.unknown)
        raise PreconditionFailed(f"no value on this ticket for {names}", [])
    return result.text


async def run_actions(
    tx: Outbox,
    ticket: TicketRecord,
    parent: TicketRecord | None,
    actions: Sequence[TicketAction],
    run: ActionRun,
    now: datetime,
    *,
    isolate: bool = False,
) -> ActionsResult:
    """Applies the actions in order to a ticket the caller locked with its parent. Returns the
    ticket as it is after them and one outcome per action. Without `isolate` a refusal raises
    ActionRefused (the caller's transaction must roll back); with it, each action has its own
    savepoint and a refusal is an outcome."""
    outcomes: list[ActionOutcome] = []
    for index, action in enumerate(actions):
        if not isolate:
            try:
                ticket = await _apply(tx, ticket, parent, action, run, now)
            except DomainError as error:
                raise ActionRefused(index, action, error) from None
            outcomes.append(ActionOutcome(index, action.type, applied=True))
            continue
        written = len(tx.events)
        try:
            async with tx.conn.begin_nested():
                ticket = await _apply(tx, ticket, parent, action, run, now)
        except DomainError as error:
            # The savepoint took the action's rows away; its events must not be published either.
            del tx.events[written:]
            refused = ActionRefused(index, action, error)
            outcomes.append(ActionOutcome(index, action.type, False, refused.code, refused.message))
        else:
            outcomes.append(ActionOutcome(index, action.type, applied=True))
    return ActionsResult(ticket, outcomes)


async def _apply(
    tx: Outbox, ticket: TicketRecord, parent: TicketRecord | None, action: TicketAction, run: ActionRun, now: datetime
) -> TicketRecord:
    if run.principal is not None:
        require_ticket_action(run.principal, action.type)
    actor = run.actor
    match action:
        case SetPriority(priority=priority):
            return await edit_locked(tx, ticket, {"priority": priority.value}, actor, now)
        case SetCategory(category=category):
            return await edit_locked(tx, ticket, {"category": category}, actor, now)
        case AddTags(tags=tags):
            return await edit_locked(tx, ticket, {"tags": _tags(run, [*ticket.tags, *tags])}, actor, now)
        case RemoveTags(tags=tags):
            return await edit_locked(tx, ticket, {"tags": [t for t in ticket.tags if t not in tags]}, actor, now)
        case SetStatus(status=status):
            return await _set_status(tx, ticket, parent, status, run, now)
        case AssignToGroup(group_id=group_id):
            if group_id == ticket.group_id:
                return ticket  # already there: keep its assignee
            return await assign_locked(tx, ticket, None, group_id, actor, now)
        case AssignToAgent(agent_id=agent_id):
            return await assign_locked(tx, ticket, agent_id, None, actor, now)
        case AddInternalNote(body=body):
            text = await rendered_text(tx, ticket, body, run.agent_name)
            _, updated = await agent_reply(tx, ticket, parent, text, CommentVisibility.INTERNAL, actor, now)
            return updated
        case Escalate(reason=reason, to_group_id=to_group_id):
            return await escalate_locked(tx, ticket, reason, to_group_id, actor, now)
        case EmailCustomer(template=template):
            text = await rendered_text(tx, ticket, template, run.agent_name)
            await email_outbox.queue_to_customer(tx, ticket, text, now)
            return ticket
        case NotifyAgents(
            message=message, agent_ids=agent_ids, group_id=group_id, assignee=assignee, supervisors=supervisors
        ):
            text = await rendered_text(tx, ticket, message, run.agent_name)
            recipients = list(agent_ids)
            if group_id is not None:
                recipients += (await people_reads.member_ids_of_groups(tx.conn, [group_id])).get(group_id, [])
            if supervisors:
                recipients += await supervisors_of(tx, ticket.group_id)
            if assignee:
                if ticket.assignee_id is None:
                    raise PreconditionFailed("the ticket has no assignee to notify", [])
                recipients.append(ticket.assignee_id)
            await notify_agents(tx, recipients, NotificationKind.AUTOMATION, ticket.id, text, now)
            return ticket
    raise AssertionError(action)  # pragma: no cover - the match is exhaustive


def _tags(run: ActionRun, tags: list[str]) -> list[str]:
    problems = v.Problems()
    cleaned = v.tags(problems, tags, ["tags"], run.limits)
    problems.raise_if_any()
    return cleaned


async def _set_status(
    tx: Outbox, ticket: TicketRecord, parent: TicketRecord | None, target: TicketStatus, run: ActionRun, now: datetime
) -> TicketRecord:
    action = action_towards(TicketStatus(ticket.status), target)
    if action is None:
        return ticket
    data: dict[str, object] = {"reason": run.reason}
    extra: dict[str, object] = {}
    if action is Action.RESOLVE:
        # resolveTicket asks for a resolution; a rule's own name is the one it has.
        extra["resolution"] = data["resolution"] = run.label
    return await change_status(tx, ticket, parent, action, run.actor, now, data, extra, check_required_fields=True)
