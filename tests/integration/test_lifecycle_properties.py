"""Random sequences of lifecycle and conversation calls against real PostgreSQL, checked step by
step against a model of the contract's graph: refused steps change nothing, accepted ones move
the version by exactly one, CLOSED is final, and every version is on the record."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.db import tables
from app.domain.enums import Channel, CommentVisibility, TicketStatus
from app.domain.errors import DomainError, InvalidTransition, VersionConflict
from app.domain.lifecycle import Action
from app.services import conversation, lifecycle
from app.services.customers import CustomerRef
from app.services.runtime import Runtime
from app.services.tickets import NewTicket, TicketChanges, create_ticket, update_ticket
from tests.conftest import Actor

S = TicketStatus
PRIORITIES = ["LOW", "NORMAL", "HIGH", "URGENT"]

# The contract's graph, independent of app.domain.lifecycle.
GRAPH: dict[tuple[TicketStatus, Action], TicketStatus] = {
    (S.NEW, Action.START): S.OPEN,
    (S.OPEN, Action.SET_PENDING): S.PENDING,
    (S.OPEN, Action.HOLD): S.ON_HOLD,
    (S.PENDING, Action.RESUME): S.OPEN,
    (S.ON_HOLD, Action.RESUME): S.OPEN,
    (S.OPEN, Action.RESOLVE): S.RESOLVED,
    (S.PENDING, Action.RESOLVE): S.RESOLVED,
    (S.ON_HOLD, Action.RESOLVE): S.RESOLVED,
    (S.RESOLVED, Action.REOPEN): S.OPEN,
    (S.RESOLVED, Action.CLOSE): S.CLOSED,
}
MUTATIONS = [a for a in Action if a is not Action.MERGE_CLOSE]
CUSTOMER_REPLY = "customer_reply"
PUBLIC_COMMENT = "public_comment"
INTERNAL_NOTE = "internal_note"
EDIT_PRIORITY = "edit_priority"  # updateTicket: refused on a CLOSED ticket
EDIT_TAGS = "edit_tags"  # updateTicket: tags may still change on a CLOSED ticket


@dataclass(frozen=True)
class Step:
    kind: Action | str
    # "current": the version the caller last saw; "none": no expectedVersion; "stale": an older one.
    expected: str


steps = st.lists(
    st.builds(
        Step,
        kind=st.sampled_from([*MUTATIONS, CUSTOMER_REPLY, PUBLIC_COMMENT, INTERNAL_NOTE, EDIT_PRIORITY, EDIT_TAGS]),
        expected=st.sampled_from(["current", "current", "none", "stale"]),
    ),
    max_size=12,
)


def predict(status: TicketStatus, step: Step) -> TicketStatus | type[DomainError]:
    """The status after `step`, or the error it must be refused with."""
    if isinstance(step.kind, Action):
        if step.expected == "stale":
            return VersionConflict
        return GRAPH.get((status, step.kind), InvalidTransition)
    if step.kind == CUSTOMER_REPLY:
        if status is S.CLOSED:
            return InvalidTransition
        return S.OPEN if status in (S.PENDING, S.RESOLVED) else status
    if step.kind == PUBLIC_COMMENT:
        if status is S.CLOSED:
            return InvalidTransition
        return S.OPEN if status is S.NEW else status
    if step.kind == EDIT_PRIORITY:
        if step.expected == "stale":
            return VersionConflict
        return InvalidTransition if status is S.CLOSED else status
    if step.kind == EDIT_TAGS and step.expected == "stale":
        return VersionConflict
    return status  # an internal note is taken in every status, CLOSED included


async def snapshot(rt: Runtime, ticket_id: int) -> tuple[str, int, int, int]:
    """(status, version, number of events, number of distinct versions in the events' data)."""
    t, te = tables.tickets, tables.ticket_events
    async with rt.engine.connect() as conn:
        status, version = (await conn.execute(select(t.c.status, t.c.version).where(t.c.id == ticket_id))).one()
        events, versions = (
            await conn.execute(
                select(func.count(), func.count(te.c.data["version"].astext.distinct())).where(
                    te.c.ticket_id == ticket_id
                )
            )
        ).one()
    return status, version, events, versions


async def apply(rt: Runtime, admin: Actor, ticket_id: int, step: Step, version: int) -> None:
    expected = {"current": version, "none": None, "stale": version - 1}[step.expected]
    if step.kind in (EDIT_PRIORITY, EDIT_TAGS):
        # Each edit is a real change: the priority moves to another and the tags grow.
        async with rt.engine.connect() as conn:
            current = (
                await conn.execute(select(tables.tickets.c.priority).where(tables.tickets.c.id == ticket_id))
            ).one()
        other = next(p for p in PRIORITIES if p != current[0])
        changes = (
            TicketChanges(priority=other)
            if step.kind == EDIT_PRIORITY
            else TicketChanges(tags=[f"v{n}" for n in range(version + 1)])
        )
        await update_ticket(rt, admin.principal, ticket_id, changes, expected)
    elif step.kind == CUSTOMER_REPLY:
        await conversation.add_customer_reply(rt, admin.principal, ticket_id, "Still broken, see attached.")
    elif step.kind == PUBLIC_COMMENT:
        await conversation.add_comment(rt, admin.principal, ticket_id, "We are on it.", CommentVisibility.PUBLIC)
    elif step.kind == INTERNAL_NOTE:
        await conversation.add_comment(rt, admin.principal, ticket_id, "Vendor ticket 42.", CommentVisibility.INTERNAL)
    else:
        assert isinstance(step.kind, Action)
        await lifecycle.transition(
            rt,
            admin.principal,
            ticket_id,
            step.kind,
            expected,
            reason="waiting for the vendor",
            resolution="Replaced the toner cartridge.",
        )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=steps)
async def test_random_lifecycle_sequences_follow_the_model(rt: Runtime, admin: Actor, sequence: list[Step]) -> None:
    # Each example gets its own ticket: the database is only emptied between test functions.
    ticket, _ = await create_ticket(
        rt,
        admin.principal,
        NewTicket(
            subject="Printer prints blank pages",
            description="Every page comes out blank.",
            channel=Channel.EMAIL,
            customer=CustomerRef(email="lin@example.com", name="Lin"),
        ),
    )
    status, version, events, versions = await snapshot(rt, ticket.id)
    assert (status, version, events, versions) == (S.NEW, 1, 1, 1)

    for step in sequence:
        expected = predict(TicketStatus(status), step)
        raised: DomainError | None = None
        try:
            await apply(rt, admin, ticket.id, step, version)
        except DomainError as error:
            raised = error
        after = await snapshot(rt, ticket.id)

        if isinstance(expected, type):
            assert type(raised) is expected, (step, status, raised)
            assert after == (status, version, events, versions), f"refused {step} changed the ticket"
        else:
            assert raised is None, (step, status, raised)
            assert after[0] == expected, (step, status, after)
            assert after[1] == version + 1, f"{step} moved the version from {version} to {after[1]}"
            assert after[2] > events, f"{step} left no event"
        if status == S.CLOSED:
            assert after[0] == S.CLOSED
        status, version, events, versions = after
        # Every change is on the record: each version the ticket went through has its event.
        assert versions == version
