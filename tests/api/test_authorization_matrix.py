"""The authorisation matrix: every operation of the API, run by every kind of caller, through the
real server (HTTP for queries and mutations, graphql-transport-ws for subscriptions).

One table, `MATRIX`: an operation, the document, a variables builder and the outcome for each
caller. The outcomes (see README "Who may do what"):

- OK: the operation runs (mutations: no userErrors; queries: the target object is in the answer;
  subscriptions: the target event or snapshot is delivered).
- HIDDEN: the object looks exactly like a missing one: null / absent from a list for queries,
  NOT_FOUND in userErrors for mutations, nothing delivered for subscriptions.
- FORBIDDEN: a GraphQL error FORBIDDEN for queries and subscriptions, a FORBIDDEN userError for
  mutations.
- UNAUTHENTICATED: a GraphQL error UNAUTHENTICATED (a websocket with a dead credential is refused
  at connection_init).

A refused mutation must carry no data besides its userErrors. The callers share one world (built
once for this module); a row that changes something builds its own fresh target, so rows do not
depend on each other.

The matrix also runs every operation over a websocket with a credential that was revoked, and
with one demoted, after the socket opened: once HELPDESK_CREDENTIAL_RECHECK_SECONDS have passed,
a revoked credential gets UNAUTHENTICATED for every row (the socket is closed with 4403, as a dead
credential is refused at connection_init), and an admin demoted to AGENT with no groups gets
what such an agent gets (the `other_group_agent` column: an agent who sees none of the world's
group).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import websockets
from sqlalchemy import insert, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.clock import ManualClock
from app.db import tables
from app.domain.automations import AutomationInput as AutomationData
from app.domain.email.mailbox_settings import MailboxInput as MailboxData
from app.domain.enums import (
    AgentRole,
    AssignmentStrategy,
    AutomationActionType,
    AutomationTrigger,
    Channel,
    CommentVisibility,
    NotificationKind,
)
from app.domain.lifecycle import Action
from app.domain.macros import MacroInput
from app.domain.principal import Principal
from app.domain.records import TicketRecord
from app.domain.ticket_actions import ActionInput
from app.domain.ticket_fields import FieldDefinitionInput
from app.domain.webhooks.settings import WebhookInput as WebhookData
from app.events.cursors import EventPosition
from app.services import agents as agent_service
from app.services import (
    assignment,
    auth,
    automations,
    conversation,
    customer_sign_in,
    knowledge,
    lifecycle,
    macros,
    mailboxes,
    routing_rules,
    sla,
    ticket_fields,
    webhooks,
)
from app.services import tickets as ticket_service
from app.services.customers import CustomerRef
from app.services.notifications import POLL_SECONDS, notify_agents
from app.services.runtime import Runtime
from app.services.sla_scheduler import run_due
from app.settings import Settings
from app.storage import IncomingFile
from schema import ids
from tests.support import GraphQLClient, ServerThread

OK, HIDDEN, FORBIDDEN, UNAUTHENTICATED = "OK", "HIDDEN", "FORBIDDEN", "UNAUTHENTICATED"

# The callers. A revoked or expired credential makes an HTTP caller anonymous (so public reads
# still work); on a websocket it is refused at connection_init.
ROLES = (
    "anonymous",
    "other_group_agent",
    "group_agent",
    "supervisor",
    "admin",
    "partner_token",
    "revoked_token",
    "expired_token",
    # Customers signed in by link (customer sessions): the world's ticket is the first one's.
    "customer",
    "other_customer",
)
PASSWORD = "correct horse battery"
INTERNAL_WORD = "quokkafraud"  # only in the internal note: a search must not reveal it to partners
INTERNAL_BODY = f"INTERNAL: the customer's card looks stolen ({INTERNAL_WORD})"
PUBLIC_WORD = "kiwifruitguide"  # only in the published article
PUBLIC_NOTE, INTERNAL_NOTE = CommentVisibility.PUBLIC, CommentVisibility.INTERNAL


def expect(
    anonymous: str,
    other_group_agent: str,
    group_agent: str,
    supervisor: str,
    admin: str,
    partner_token: str,
    *,
    customer: str,
    other_customer: str,
) -> dict[str, str]:
    """Outcome per caller; revoked and expired credentials are treated as no credential. The
    customer owns the world's ticket (and every fresh ticket of the rows); the other customer
    owns none of them."""
    return {
        "customer": customer,
        "other_customer": other_customer,
        "anonymous": anonymous,
        "other_group_agent": other_group_agent,
        "group_agent": group_agent,
        "supervisor": supervisor,
        "admin": admin,
        "partner_token": partner_token,
        "revoked_token": anonymous,
        "expired_token": anonymous,
    }


# Customer sessions: every agent or admin operation is FORBIDDEN (a GraphQL error: the field
# allowlist refuses the document); a node they may not see is null, like a missing one.
NOT_CUSTOMERS = {"customer": FORBIDDEN, "other_customer": FORBIDDEN}
HIDDEN_FROM_CUSTOMERS = {"customer": HIDDEN, "other_customer": HIDDEN}
PUBLIC = expect(OK, OK, OK, OK, OK, OK, customer=OK, other_customer=OK)
# Anonymous operations of agents' (login): not a customer session's.
AGENTS_AND_ANONYMOUS = expect(OK, OK, OK, OK, OK, OK, **NOT_CUSTOMERS)
SIGNED_IN = expect(UNAUTHENTICATED, OK, OK, OK, OK, OK, **NOT_CUSTOMERS)
SIGNED_IN_NODE = expect(UNAUTHENTICATED, OK, OK, OK, OK, OK, **HIDDEN_FROM_CUSTOMERS)
# Tickets of the group (and what hangs off them): its agents, supervisors, admins, and the
# partner token (its agent is in the group).
TEAM = expect(UNAUTHENTICATED, HIDDEN, OK, OK, OK, OK, **NOT_CUSTOMERS)
TEAM_NODE = expect(UNAUTHENTICATED, HIDDEN, OK, OK, OK, OK, **HIDDEN_FROM_CUSTOMERS)
# The ticket's own customer too (reads, their reply, reopening, rating); another customer's
# ticket looks exactly like a missing one.
OWN_TICKET = expect(UNAUTHENTICATED, HIDDEN, OK, OK, OK, OK, customer=OK, other_customer=HIDDEN)
# INTERNAL notes and their files: like TEAM, but never through a partner API token, never to customers.
TEAM_NOT_TOKENS = expect(UNAUTHENTICATED, HIDDEN, OK, OK, OK, HIDDEN, **HIDDEN_FROM_CUSTOMERS)
# Draft articles: signed-in agents only; anonymous readers, partner tokens and customers see published ones.
STAFF = expect(HIDDEN, OK, OK, OK, OK, HIDDEN, **HIDDEN_FROM_CUSTOMERS)
SUPERVISORS = expect(UNAUTHENTICATED, FORBIDDEN, FORBIDDEN, OK, OK, FORBIDDEN, **NOT_CUSTOMERS)
ADMINS = expect(UNAUTHENTICATED, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK, FORBIDDEN, **NOT_CUSTOMERS)
ADMINS_NODE = expect(UNAUTHENTICATED, HIDDEN, HIDDEN, HIDDEN, OK, HIDDEN, **HIDDEN_FROM_CUSTOMERS)
GROUP_WALLBOARD = expect(UNAUTHENTICATED, FORBIDDEN, OK, OK, OK, OK, **NOT_CUSTOMERS)


# ---------------------------------------------------------------- the world


@dataclass
class World:
    rt: Runtime
    admin: Principal
    tokens: dict[str, str | None]  # role -> bearer secret
    principals: dict[str, Principal]  # role -> principal (signed-in roles and the partner token)
    group: int  # the ticket's group
    other_group: int
    customer: int
    ticket: int
    ticket_number: int
    public_comment: int
    internal_comment: int
    public_file: int
    internal_file: int
    event: int
    first_cursor: str  # before every later event of the world
    sla_ticket: int  # has an SLA warning and breach
    draft: int
    published: int
    spare_agent: int
    rule: int
    policy: int
    calendar: int
    group_agent_token: int  # an API token of the group agent
    mailbox: int  # delivers to the group
    macro: int  # shared: a reply and a tag
    webhook: int  # disabled: the session's server never posts to it
    webhook_delivery: int  # of `event`, to `webhook`
    login_email: str
    member_notification: int  # the group agent's own
    automation: int  # disabled

    def acting(self, role: str) -> Principal:
        return self.principals.get(role, self.admin)


def gid(type_name: str, pk: int) -> str:
    return ids.encode(type_name, pk)


def uploaded(name: str, content: bytes) -> IncomingFile:
    buffer = io.BytesIO(content)

    async def read(size: int) -> bytes:
        return buffer.read(size)

    return IncomingFile(filename=name, content_type="text/plain", read=read)


STATUS_PATH = {
    "NEW": [],
    "OPEN": [Action.START],
    "PENDING": [Action.START, Action.SET_PENDING],
    "ON_HOLD": [Action.START, Action.HOLD],
    "RESOLVED": [Action.START, Action.RESOLVE],
}


async def make_ticket(
    rt: Runtime, admin: Principal, customer: CustomerRef, group: int, status: str = "NEW", category: str | None = None
) -> TicketRecord:
    """A ticket of `group` in the given status, made by the admin."""
    record, _ = await ticket_service.create_ticket(
        rt,
        admin,
        ticket_service.NewTicket(
            subject="退款：订单 SO-1001 未收到货",
            description="The parcel never arrived; please refund.",
            channel=Channel.API,
            customer=customer,
            category=category,
        ),
    )
    record = await assignment.assign_ticket(rt, admin, record.id, None, group, None)
    for action in STATUS_PATH[status]:
        record = await lifecycle.transition(rt, admin, record.id, action, resolution="Refunded in full.")
    return record


async def new_ticket(w: World, status: str = "NEW") -> int:
    return (await make_ticket(w.rt, w.admin, CustomerRef(id=w.customer), w.group, status)).id


async def make_agent(rt: Runtime, role: AgentRole, groups: list[int], name: str) -> tuple[Principal, str, str]:
    """An agent, signed in: (principal, session secret, email)."""
    email = f"{name}-{uuid.uuid4().hex[:6]}@example.com"
    data = agent_service.NewAgent(name=name, email=email, password=PASSWORD, role=role, group_ids=groups)
    await agent_service.create_agent(rt, None, data)
    login = await auth.login(rt, email, PASSWORD, None)
    principal = await auth.authenticate(rt, login.token)
    assert principal is not None
    return principal, login.token, email


@pytest.fixture(autouse=True)
def _clean_database() -> None:
    """Overrides the per-test emptying: this module's rows share the world built once below."""


@pytest.fixture(scope="module")
async def world(
    _truncator: Callable[[], None], engine: AsyncEngine, settings: Settings, server: ServerThread
) -> AsyncIterator[World]:
    _truncator()
    rt = Runtime(engine=engine, settings=settings)
    manual = AssignmentStrategy.MANUAL  # nothing moves by itself while the matrix runs
    group = (await agent_service.create_group(rt, None, agent_service.NewGroup("售后", assignment_strategy=manual))).id
    other = (await agent_service.create_group(rt, None, agent_service.NewGroup("物流", assignment_strategy=manual))).id

    # The callers. The partner's three API tokens act as an agent of the group: one live, one
    # revoked, one expired (its expiry moved into the past in the database).
    admin, admin_session, _ = await make_agent(rt, AgentRole.ADMIN, [], "admin")
    supervisor, supervisor_session, _ = await make_agent(rt, AgentRole.SUPERVISOR, [], "supervisor")
    member, member_session, _ = await make_agent(rt, AgentRole.AGENT, [group], "member")
    outsider, outsider_session, _ = await make_agent(rt, AgentRole.AGENT, [other], "outsider")
    shop = (await make_agent(rt, AgentRole.AGENT, [group], "shop-integration"))[0].agent_id
    live = await auth.create_api_token(rt, admin, "shop", shop, None)
    revoked = await auth.create_api_token(rt, admin, "old shop", shop, None)
    await auth.revoke_api_token(rt, admin, revoked.token.id)
    expired = await auth.create_api_token(rt, admin, "trial", shop, datetime.now(UTC) + timedelta(days=1))
    async with engine.begin() as conn:
        await conn.execute(
            update(tables.api_tokens)
            .where(tables.api_tokens.c.id == expired.token.id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    partner = await auth.authenticate(rt, live.secret)
    assert partner is not None
    assert await auth.authenticate(rt, revoked.secret) is None and await auth.authenticate(rt, expired.secret) is None

    # The ticket of the group, assigned to its agent, with a public reply and an internal note,
    # each with a file.
    customer = CustomerRef(email="li.lei@example.cn", name="李雷")
    ticket = await make_ticket(rt, admin, customer, group)
    await assignment.assign_ticket(rt, admin, ticket.id, member.agent_id, None, None)
    public_file, internal_file = (
        uploaded("receipt.txt", b"public bytes"),
        uploaded("fraud-check.txt", b"internal bytes"),
    )
    public, _ = await conversation.add_comment(rt, admin, ticket.id, "We are on it.", PUBLIC_NOTE, [public_file])
    internal, _ = await conversation.add_comment(rt, admin, ticket.id, INTERNAL_BODY, INTERNAL_NOTE, [internal_file])
    async with engine.connect() as conn:
        files = await conn.execute(
            text("SELECT comment_id, id FROM attachments WHERE ticket_id = :t"), {"t": ticket.id}
        )
        file_of = {comment: pk for comment, pk in files}
        first = (
            await conn.execute(
                text("SELECT id, txid FROM ticket_events WHERE ticket_id = :t ORDER BY id LIMIT 1"), {"t": ticket.id}
            )
        ).one()

    # The ticket's customer signed in by link, and another customer (with a ticket of their own).
    customer_session = await customer_session_of(rt, ticket.customer_id)
    stranger = await make_ticket(rt, admin, CustomerRef(email="han.meimei@example.cn", name="韩梅梅"), group)
    other_customer_session = await customer_session_of(rt, stranger.customer_id)

    # An SLA warning and breach on another ticket of the group (a scheduler two hours ahead fires them).
    probe = sla.PolicyInput(name="probe", match_categories=["sla-probe"], first_response_seconds=3600)
    await sla.create_policy(rt, admin, probe)
    sla_ticket = await make_ticket(rt, admin, CustomerRef(id=ticket.customer_id), group, category="sla-probe")
    ahead = Runtime(engine=engine, settings=settings, clock=ManualClock(datetime.now(UTC) + timedelta(hours=2)))
    assert await run_due(ahead) == 2

    draft = await knowledge.create_article(rt, member, knowledge.ArticleInput(title="Draft: refunds", body="WIP"))
    published = await knowledge.create_article(
        rt, member, knowledge.ArticleInput(title=f"How refunds work {PUBLIC_WORD}", body="Refunds take 3 days.")
    )
    await knowledge.publish_article(rt, admin, published.id)
    hours = [sla.HoursInput(0, "09:00", "17:00")]
    spare_policy = sla.PolicyInput(name="spare", match_categories=["never"], first_response_seconds=60)
    yield World(
        rt=rt,
        admin=admin,
        tokens={
            "anonymous": None,
            "other_group_agent": outsider_session,
            "group_agent": member_session,
            "supervisor": supervisor_session,
            "admin": admin_session,
            "partner_token": live.secret,
            "revoked_token": revoked.secret,
            "expired_token": expired.secret,
            "customer": customer_session,
            "other_customer": other_customer_session,
        },
        principals={
            "other_group_agent": outsider,
            "group_agent": member,
            "supervisor": supervisor,
            "admin": admin,
            "partner_token": partner,
        },
        group=group,
        other_group=other,
        customer=ticket.customer_id,
        ticket=ticket.id,
        ticket_number=ticket.number,
        public_comment=public.id,
        internal_comment=internal.id,
        public_file=file_of[public.id],
        internal_file=file_of[internal.id],
        event=first.id,
        first_cursor=EventPosition(first.txid, first.id).encode(),
        sla_ticket=sla_ticket.id,
        draft=draft.id,
        published=published.id,
        spare_agent=(await make_agent(rt, AgentRole.AGENT, [], "spare"))[0].agent_id,
        rule=(await routing_rules.create_rule(rt, admin, routing_rules.RuleInput(name="spare rule"))).id,
        policy=(await sla.create_policy(rt, admin, spare_policy)).id,
        calendar=(await sla.create_calendar(rt, admin, sla.CalendarInput("spare", "UTC", hours))).id,
        group_agent_token=(await auth.create_api_token(rt, member, "member bot", None, None)).token.id,
        login_email=(await make_agent(rt, AgentRole.AGENT, [], "login"))[2],
        member_notification=await _notify(rt, member.agent_id, ticket.id),
        mailbox=(
            await mailboxes.create_mailbox(
                rt, admin, MailboxData(name="售后", address="support@example.cn", group_id=group)
            )
        ).id,
        macro=(await macros.create_macro(rt, admin, macro_input("shared", shared=True))).id,
        **await world_webhook(rt, admin, first.id, ticket.id),
        automation=(await automations.create_automation(rt, admin, automation_input())).id,
    )


async def customer_session_of(rt: Runtime, customer_id: int) -> str:
    """A customer session of the customer, signed in by a link as the mail would carry it."""
    async with rt.engine.begin() as conn:
        link = await customer_sign_in.mint_sign_in_link(conn, rt.settings, customer_id, rt.clock.now())
    signed_in = await customer_sign_in.sign_in(rt, parse_qs(urlparse(link).query)["token"][0])
    return signed_in.token


async def fresh_sign_in_link(w: World, role: str) -> dict[str, Any]:
    async with w.rt.engine.begin() as conn:
        link = await customer_sign_in.mint_sign_in_link(conn, w.rt.settings, w.customer, w.rt.clock.now())
    return {"t": parse_qs(urlparse(link).query)["token"][0]}


async def _notify(rt: Runtime, agent_id: int, ticket_id: int) -> int:
    async with rt.transaction() as tx:
        await notify_agents(tx, [agent_id], NotificationKind.AUTOMATION, ticket_id, "yours", rt.clock.now())
        pk: int = (
            await tx.conn.execute(text("SELECT max(id) FROM notifications WHERE agent_id = :a"), {"a": agent_id})
        ).scalar_one()
    return pk


async def world_webhook(rt: Runtime, admin: Principal, event_id: int, ticket_id: int) -> dict[str, int]:
    webhook = (await webhooks.create_webhook(rt, admin, webhook_input(enabled=False))).webhook.id
    async with rt.engine.begin() as conn:
        delivery = await conn.scalar(
            insert(tables.webhook_deliveries)
            .values(webhook_id=webhook, event_id=event_id, ticket_id=ticket_id, body="{}", status="SUCCEEDED")
            .returning(tables.webhook_deliveries.c.id)
        )
    assert delivery is not None
    return {"webhook": webhook, "webhook_delivery": delivery}


def webhook_input(enabled: bool = True) -> WebhookData:
    # A public address (no DNS needed): the session's server refuses private ones.
    return WebhookData(name=unique("partner"), url="https://93.184.215.14/hooks", enabled=enabled)


async def fresh_webhook(w: World, role: str) -> dict[str, Any]:
    created = await webhooks.create_webhook(w.rt, w.admin, webhook_input(enabled=False))
    return {"id": gid("Webhook", created.webhook.id)}


async def new_webhook(w: World, role: str) -> dict[str, Any]:
    return {"input": {"name": unique("partner"), "url": "https://93.184.215.14/hooks", "enabled": False}}


async def fresh_webhook_and_input(w: World, role: str) -> dict[str, Any]:
    return {**await fresh_webhook(w, role), **await new_webhook(w, role)}


async def fresh_customers_to_merge(w: World, role: str) -> dict[str, Any]:
    """Two new customers, each with a ticket of the group: source and target of a merge."""
    pair = []
    for _ in range(2):
        ticket = await make_ticket(w.rt, w.admin, CustomerRef(email=f"{unique('twin')}@example.com"), w.group)
        pair.append(gid("Customer", ticket.customer_id))
    return {"s": pair[0], "t": pair[1]}


async def fresh_customer_to_erase(w: World, role: str) -> dict[str, Any]:
    """A new customer with a ticket of the group: what an erasure removes."""
    ticket = await make_ticket(w.rt, w.admin, CustomerRef(email=f"{unique('erased')}@example.com"), w.group)
    return {"id": gid("Customer", ticket.customer_id)}


def automation_input() -> AutomationData:
    return AutomationData(
        name=unique("rule"),
        trigger=AutomationTrigger.TICKET_CREATED,
        enabled=False,
        actions=[ActionInput(AutomationActionType.ADD_TAGS, {"tags": ["x"]})],
    )


async def fresh_automation(w: World, role: str) -> dict[str, Any]:
    return {"id": gid("Automation", (await automations.create_automation(w.rt, w.admin, automation_input())).id)}


async def new_automation(w: World, role: str) -> dict[str, Any]:
    return {
        "input": {
            "name": unique("rule"),
            "trigger": "TICKET_CREATED",
            "enabled": False,
            "conditions": [{"field": "priority", "operator": "EQUALS", "value": "URGENT"}],
            "actions": [{"type": "ADD_TAGS", "value": {"tags": ["x"]}}],
        }
    }


async def fresh_automation_and_input(w: World, role: str) -> dict[str, Any]:
    return {**await fresh_automation(w, role), **await new_automation(w, role)}


# ---------------------------------------------------------------- the table

Variables = Callable[[World, str], Awaitable[dict[str, Any]]]


async def no_variables(w: World, role: str) -> dict[str, Any]:
    return {}


def fixed(build: Callable[[World], dict[str, Any]]) -> Variables:
    async def variables(w: World, role: str) -> dict[str, Any]:
        return build(w)

    return variables


def on_fresh_ticket(status: str = "NEW", **extra: Any) -> Variables:
    """`id` of a new ticket of the group in `status` (mutations change what they touch)."""

    async def variables(w: World, role: str) -> dict[str, Any]:
        return {"id": gid("Ticket", await new_ticket(w, status)), **extra}

    return variables


async def fresh_survey_token(w: World, role: str) -> dict[str, Any]:
    """The token of a survey of a new RESOLVED ticket (only its digest is stored, so the row is
    written here, as the survey mail would be)."""
    ticket_id = await new_ticket(w, "RESOLVED")
    token = secrets.token_urlsafe(32)
    sv = tables.satisfaction_surveys
    async with w.rt.engine.begin() as conn:
        created = await conn.scalar(text("SELECT min(id) FROM ticket_events WHERE ticket_id = :t"), {"t": ticket_id})
        now = datetime.now(UTC)
        await conn.execute(
            insert(sv).values(
                ticket_id=ticket_id,
                resolution_event_id=created,
                token_hash=hashlib.sha256(token.encode()).hexdigest(),
                created_at=now,
                expires_at=now + timedelta(days=1),
            )
        )
    return {"token": token}


async def web_form_from_a_new_visitor(w: World, role: str) -> dict[str, Any]:
    """Every caller of the matrix comes from 127.0.0.1: the web form's per-address count is
    reset so each one is tried within HELPDESK_WEB_FORM_LIMIT (test_web_form.py tests the limit)."""
    async with w.rt.engine.begin() as conn:
        await conn.execute(text("DELETE FROM web_form_submissions"))
    email = f"{unique('visitor')}@example.com"
    return {"input": {"name": "访客", "email": email, "subject": "退款", "description": "还没到账"}}


async def two_fresh_tickets(w: World, role: str) -> dict[str, Any]:
    return {"a": gid("Ticket", await new_ticket(w)), "b": gid("Ticket", await new_ticket(w))}


async def fresh_draft(w: World, role: str) -> dict[str, Any]:
    draft = await knowledge.create_article(w.rt, w.admin, knowledge.ArticleInput(title="Another draft", body="WIP"))
    return {"id": gid("KnowledgeArticle", draft.id)}


async def fresh_policy(w: World, role: str) -> dict[str, Any]:
    policy = await sla.create_policy(
        w.rt, w.admin, sla.PolicyInput(name="doomed", match_categories=["never"], first_response_seconds=60)
    )
    return {"id": gid("SlaPolicy", policy.id)}


async def fresh_rule(w: World, role: str) -> dict[str, Any]:
    rule = await routing_rules.create_rule(w.rt, w.admin, routing_rules.RuleInput(name="doomed"))
    return {"id": gid("RoutingRule", rule.id)}


async def new_field_key(w: World, role: str) -> dict[str, Any]:
    return {"key": f"new_{role}_{secrets.token_hex(3)}"}


async def fresh_ticket_field(w: World, role: str) -> dict[str, Any]:
    field = await ticket_fields.create_field(
        w.rt, w.admin, FieldDefinitionInput(key=f"doomed_{role}_{secrets.token_hex(3)}", label="Doomed", type="TEXT")
    )
    return {"id": gid("TicketFieldDefinition", field.id)}


async def own_fresh_token(w: World, role: str) -> dict[str, Any]:
    created = await auth.create_api_token(w.rt, w.admin, "own", w.acting(role).agent_id, None)
    return {"id": gid("ApiToken", created.token.id)}


async def someone_elses_fresh_token(w: World, role: str) -> dict[str, Any]:
    created = await auth.create_api_token(w.rt, w.admin, "theirs", w.spare_agent, None)
    return {"id": gid("ApiToken", created.token.id)}


async def fresh_mailbox(w: World, role: str) -> dict[str, Any]:
    created = await mailboxes.create_mailbox(
        w.rt, w.admin, MailboxData(name="doomed", address=f"{unique('box')}@example.cn", group_id=w.group)
    )
    return {"id": gid("Mailbox", created.id)}


async def new_mailbox(w: World, role: str) -> dict[str, Any]:
    return {"input": mailbox_input()}


async def fresh_mailbox_and_input(w: World, role: str) -> dict[str, Any]:
    return {**await fresh_mailbox(w, role), "input": mailbox_input()}


def mailbox_input() -> dict[str, Any]:
    return {
        "name": "Support",
        "address": f"{unique('support')}@example.cn",
        "imap": {"host": "imap.example.cn", "port": 993, "username": "support", "password": "secret"},
    }


def macro_input(name: str, *, shared: bool) -> MacroInput:
    tag = ActionInput(AutomationActionType.ADD_TAGS, {"tags": ["matrix"]})
    return MacroInput(name=name, body="We are on it.", actions=[tag], shared=shared)


async def fresh_shared_macro(w: World, role: str) -> dict[str, Any]:
    return {"id": gid("Macro", (await macros.create_macro(w.rt, w.admin, macro_input("doomed", shared=True))).id)}


async def own_fresh_macro(w: World, role: str) -> dict[str, Any]:
    created = await macros.create_macro(w.rt, w.acting(role), macro_input("mine", shared=False))
    return {"id": gid("Macro", created.id)}


async def someone_elses_fresh_macro(w: World, role: str) -> dict[str, Any]:
    spare = Principal(agent_id=w.spare_agent, role=AgentRole.AGENT)
    return {"id": gid("Macro", (await macros.create_macro(w.rt, spare, macro_input("theirs", shared=False))).id)}


def macro_input_variables(shared: bool) -> Variables:
    async def variables(w: World, role: str) -> dict[str, Any]:
        return {"input": {"name": unique("macro"), "body": "Hello {{customer.name}}", "shared": shared}}

    return variables


def with_macro_input(target: Variables, shared: bool) -> Variables:
    async def variables(w: World, role: str) -> dict[str, Any]:
        return {**await target(w, role), **await macro_input_variables(shared)(w, role)}

    return variables


async def fresh_ticket_and_macro(w: World, role: str) -> dict[str, Any]:
    return {"t": gid("Ticket", await new_ticket(w)), "m": gid("Macro", w.macro)}


def a_customers_mail() -> dict[str, tuple[str, bytes, str]]:
    raw = (
        f"From: Li Lei <li.lei@example.cn>\r\nTo: support@example.cn\r\nSubject: Refund\r\n"
        f"Message-ID: <{unique('m')}@example.cn>\r\n\r\nThe parcel never arrived.\r\n"
    ).encode()
    return {"variables.message": ("message.eml", raw, "message/rfc822")}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def notification_for(w: World, agent_id: int, message: str) -> int:
    async with w.rt.transaction() as tx:
        await notify_agents(tx, [agent_id], NotificationKind.AUTOMATION, None, message, w.rt.clock.now())
        pk: int = (
            await tx.conn.execute(text("SELECT max(id) FROM notifications WHERE agent_id = :a"), {"a": agent_id})
        ).scalar_one()
    return pk


MY_NOTIFICATION = "a notification of the caller's own"


async def own_fresh_notification(w: World, role: str) -> dict[str, Any]:
    return {"ids": [gid("Notification", await notification_for(w, w.acting(role).agent_id, MY_NOTIFICATION))]}


async def someone_elses_fresh_notification(w: World, role: str) -> dict[str, Any]:
    return {"ids": [gid("Notification", await notification_for(w, w.spare_agent, "the spare agent's"))]}


async def notifications_while_subscribed(w: World, role: str) -> dict[str, Any]:
    """The subscription shows what is created after it starts: the caller is told a few times
    over the next second, while the row waits for a delivery."""

    async def keep_telling() -> None:
        for _ in range(5):
            await asyncio.sleep(0.25)
            await notification_for(w, w.acting(role).agent_id, MY_NOTIFICATION)

    task = asyncio.get_running_loop().create_task(keep_telling())
    TELLING.add(task)
    task.add_done_callback(TELLING.discard)
    return {}


TELLING: set[asyncio.Task[None]] = set()


def in_edges(target: Callable[[World], str]) -> Callable[[World, Any], bool]:
    return lambda w, value: target(w) in {edge["node"]["id"] for edge in value["edges"]}


def present(w: World, value: Any) -> bool:
    return value is not None


def answered(w: World, value: Any) -> bool:
    return True


# What "nothing delivered" waits for: the rows' events are already in the log and are replayed
# at once (`after`), so a subscriber allowed to see them gets them well within this.
NOTHING_DELIVERED_SECONDS = 1.5


@dataclass(frozen=True)
class Row:
    field: str  # the root field (Query.x, Mutation.x or Subscription.x)
    document: str
    outcomes: dict[str, str]
    variables: Variables = no_variables
    # Queries and subscriptions: whether the answer shows the target (OK) or not (HIDDEN).
    shows: Callable[[World, Any], bool] = present
    label: str = ""
    # Files (variable path -> (name, bytes, type)), built per call: the row is sent as a GraphQL
    # multipart request.
    uploads: Callable[[], dict[str, tuple[str, bytes, str]]] | None = None
    # Subscriptions: how long "nothing delivered" waits.
    wait: float = NOTHING_DELIVERED_SECONDS

    @property
    def kind(self) -> str:
        return self.document.split("(")[0].split("{")[0].split()[0]

    @property
    def id(self) -> str:
        return f"{self.kind}.{self.field}" + (f"[{self.label}]" if self.label else "")


def node_row(label: str, type_name: str, pk: Callable[[World], int], outcomes: dict[str, str]) -> Row:
    return Row(
        "node",
        "query($id: ID!) { node(id: $id) { id __typename } }",
        outcomes,
        fixed(lambda w: {"id": gid(type_name, pk(w))}),
        label=label,
    )


TICKET_PAYLOAD = "{ ticket { id } userErrors { code } }"
UPDATE_MACRO = (
    "mutation($id: ID!, $input: MacroInput!) { updateMacro(id: $id, input: $input) "
    "{ macro { id } userErrors { code } } }"
)
ARTICLE_PAYLOAD = "{ article { id } userErrors { code } }"

MATRIX: list[Row] = [
    # ------------------------------------------------------------ queries
    node_row("ticket", "Ticket", lambda w: w.ticket, OWN_TICKET),
    node_row("public comment", "Comment", lambda w: w.public_comment, OWN_TICKET),
    node_row("INTERNAL note", "Comment", lambda w: w.internal_comment, TEAM_NOT_TOKENS),
    node_row("public file", "Attachment", lambda w: w.public_file, OWN_TICKET),
    node_row("file on an INTERNAL note", "Attachment", lambda w: w.internal_file, TEAM_NOT_TOKENS),
    node_row("ticket event", "TicketEvent", lambda w: w.event, TEAM_NODE),
    node_row("DRAFT article", "KnowledgeArticle", lambda w: w.draft, STAFF),
    node_row("PUBLISHED article", "KnowledgeArticle", lambda w: w.published, PUBLIC),
    node_row(
        "customer",
        "Customer",
        lambda w: w.customer,
        expect(UNAUTHENTICATED, OK, OK, OK, OK, OK, customer=OK, other_customer=HIDDEN),
    ),
    node_row("agent", "Agent", lambda w: w.spare_agent, SIGNED_IN_NODE),
    node_row("group", "Group", lambda w: w.other_group, SIGNED_IN_NODE),
    node_row("routing rule", "RoutingRule", lambda w: w.rule, ADMINS_NODE),
    # Its name and targets (every signed-in caller); its configuration fields are the admins'
    # (tests/security/test_sla_policy_visibility.py).
    node_row("SLA policy", "SlaPolicy", lambda w: w.policy, SIGNED_IN_NODE),
    node_row("business calendar", "BusinessCalendar", lambda w: w.calendar, ADMINS_NODE),
    node_row("mailbox", "Mailbox", lambda w: w.mailbox, ADMINS_NODE),
    # The group agent's own notification: nobody else's node, whatever their role.
    node_row(
        "the group agent's notification",
        "Notification",
        lambda w: w.member_notification,
        expect(UNAUTHENTICATED, HIDDEN, OK, HIDDEN, HIDDEN, HIDDEN, **HIDDEN_FROM_CUSTOMERS),
    ),
    node_row("webhook", "Webhook", lambda w: w.webhook, ADMINS_NODE),
    node_row("webhook delivery", "WebhookDelivery", lambda w: w.webhook_delivery, ADMINS_NODE),
    node_row("automation", "Automation", lambda w: w.automation, ADMINS_NODE),
    node_row(
        "the group agent's API token",
        "ApiToken",
        lambda w: w.group_agent_token,
        expect(UNAUTHENTICATED, HIDDEN, OK, HIDDEN, OK, HIDDEN, **HIDDEN_FROM_CUSTOMERS),
    ),
    Row("me", "query { me { id } }", SIGNED_IN),
    Row(
        "ticket",
        "query($id: ID) { ticket(id: $id) { id } }",
        OWN_TICKET,
        fixed(lambda w: {"id": gid("Ticket", w.ticket)}),
    ),
    Row(
        "ticket",
        "query($n: Int) { ticket(number: $n) { id } }",
        OWN_TICKET,
        fixed(lambda w: {"n": w.ticket_number}),
        label="by number",
    ),
    Row(
        "tickets",
        "query { tickets(first: 100) { edges { node { id } } } }",
        TEAM,
        shows=in_edges(lambda w: gid("Ticket", w.ticket)),
    ),
    Row(
        "tickets",
        "query($q: String) { tickets(filter: {search: $q}) { edges { node { id } } } }",
        expect(UNAUTHENTICATED, HIDDEN, OK, OK, OK, HIDDEN, **NOT_CUSTOMERS),
        fixed(lambda w: {"q": INTERNAL_WORD}),
        shows=in_edges(lambda w: gid("Ticket", w.ticket)),
        label="search for a word only in an INTERNAL note",
    ),
    Row(
        "customer",
        "query($id: ID!) { customer(id: $id) { id } }",
        SIGNED_IN,
        fixed(lambda w: {"id": gid("Customer", w.customer)}),
    ),
    Row("customers", "query { customers { totalCount } }", SIGNED_IN, shows=lambda w, v: v["totalCount"] >= 1),
    Row("agents", "query { agents { id } }", SIGNED_IN, shows=lambda w, v: len(v) >= 1),
    # (The world's groups, whatever groups the createGroup row has added by then.)
    Row(
        "groups",
        "query { groups { id } }",
        SIGNED_IN,
        shows=lambda w, v: {gid("Group", w.group), gid("Group", w.other_group)} <= {g["id"] for g in v},
    ),
    Row(
        "knowledgeArticle",
        "query($id: ID!) { knowledgeArticle(id: $id) { id } }",
        STAFF,
        fixed(lambda w: {"id": gid("KnowledgeArticle", w.draft)}),
        label="DRAFT",
    ),
    Row(
        "knowledgeArticle",
        "query($id: ID!) { knowledgeArticle(id: $id) { id } }",
        PUBLIC,
        fixed(lambda w: {"id": gid("KnowledgeArticle", w.published)}),
        label="PUBLISHED",
    ),
    Row(
        "knowledgeArticles",
        "query { knowledgeArticles(first: 100) { edges { node { id } } } }",
        STAFF,
        shows=in_edges(lambda w: gid("KnowledgeArticle", w.draft)),
        label="lists the DRAFT",
    ),
    Row(
        "searchArticles",
        "query($q: String!) { searchArticles(query: $q) { article { id } } }",
        PUBLIC,
        fixed(lambda w: {"q": PUBLIC_WORD}),
        shows=lambda w, v: [m["article"]["id"] for m in v] == [gid("KnowledgeArticle", w.published)],
    ),
    Row(
        "suggestArticles",
        "query($s: String!) { suggestArticles(subject: $s) { article { id } } }",
        PUBLIC,
        fixed(lambda w: {"s": f"how do refunds work {PUBLIC_WORD}"}),
        shows=lambda w, v: [m["article"]["id"] for m in v] == [gid("KnowledgeArticle", w.published)],
    ),
    Row("slaPolicies", "query { slaPolicies { id } }", ADMINS),
    Row("routingRules", "query { routingRules { id } }", ADMINS),
    # Everyone reads the definitions their forms need: agents (and partner tokens) every one,
    # anonymous callers (the web form) and customers the visibleToCustomer ones.
    Row("ticketFields", "query { ticketFields { id key } }", PUBLIC),
    Row("mailboxes", "query { mailboxes { id } }", ADMINS),
    Row("webhooks", "query { webhooks { id deliveries { totalCount } } }", ADMINS),
    Row("automations", "query { automations { id firedCount } }", ADMINS),
    Row(
        "previewAutomation",
        "query($input: AutomationInput!) { previewAutomation(input: $input) { matchingOpenTickets sample { id } } }",
        ADMINS,
        new_automation,
    ),
    Row("businessCalendars", "query { businessCalendars { id } }", ADMINS),
    Row(
        "customerDataExport",
        "query($id: ID!) { customerDataExport(id: $id) { export userErrors { code } } }",
        SUPERVISORS,
        fixed(lambda w: {"id": gid("Customer", w.customer)}),
        shows=lambda w, value: value["export"]["customer"]["id"] == w.customer,
    ),
    Row(
        "wallboard",
        "query($g: ID) { wallboard(groupId: $g) { unassigned } }",
        GROUP_WALLBOARD,
        fixed(lambda w: {"g": gid("Group", w.group)}),
        label="of the group",
    ),
    Row("wallboard", "query { wallboard { unassigned } }", SUPERVISORS, label="whole helpdesk"),
    Row(
        "report",
        "query($from: DateTime!, $to: DateTime!) { report(from: $from, to: $to) { ticketsCreated } }",
        SUPERVISORS,
        fixed(
            lambda w: {"from": (datetime.now(UTC) - timedelta(days=7)).isoformat(), "to": datetime.now(UTC).isoformat()}
        ),
    ),
    Row("apiTokens", "query { apiTokens { id } }", SIGNED_IN, shows=answered),
    Row(
        "notifications",
        "query { notifications(first: 100) { edges { node { message } } } }",
        SIGNED_IN,
        own_fresh_notification,
        shows=lambda w, v: MY_NOTIFICATION in {e["node"]["message"] for e in v["edges"]},
    ),
    # The signed-in customer: customer sessions only (null for everyone else).
    Row(
        "currentCustomer",
        "query { currentCustomer { id } }",
        expect(HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN, customer=OK, other_customer=OK),
    ),
    # ------------------------------------------------------------ mutations
    # Anonymous: a fresh unknown address each time, so the per-address limit never answers.
    Row(
        "requestCustomerSignIn",
        "mutation($e: String!) { requestCustomerSignIn(email: $e) { accepted userErrors { code } } }",
        PUBLIC,
        fixed(lambda w: {"e": f"{unique('visitor')}@example.com"}),
    ),
    Row(
        "customerSignIn",
        "mutation($t: String!) { customerSignIn(linkToken: $t) { token customer { id } userErrors { code } } }",
        PUBLIC,
        fresh_sign_in_link,
    ),
    Row(
        "login",
        "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token userErrors { code } } }",
        AGENTS_AND_ANONYMOUS,
        fixed(lambda w: {"e": w.login_email, "p": PASSWORD}),
    ),
    Row(
        "submitWebForm",
        "mutation($input: WebFormInput!) { submitWebForm(input: $input) { ticketNumber userErrors { code } } }",
        PUBLIC,
        web_form_from_a_new_visitor,
    ),
    Row(
        "submitSatisfactionSurvey",
        "mutation($token: String!) { submitSatisfactionSurvey(surveyToken: $token, score: 4) "
        "{ rating { score } userErrors { code } } }",
        PUBLIC,
        fresh_survey_token,
    ),
    Row(
        "setPresence",
        "mutation { setPresence(presence: AWAY) { agent { id } userErrors { code } } }",
        SIGNED_IN,
    ),
    Row(
        "createCustomer",
        "mutation($n: String!) { createCustomer(input: {name: $n}) { customer { id } userErrors { code } } }",
        SIGNED_IN,
        fixed(lambda w: {"n": unique("customer")}),
    ),
    Row(
        "updateCustomer",
        'mutation($id: ID!) { updateCustomer(id: $id, input: {company: "ACME"}) '
        "{ customer { id } userErrors { code } } }",
        SIGNED_IN,
        fixed(lambda w: {"id": gid("Customer", w.customer)}),
    ),
    Row(
        "mergeCustomers",
        "mutation($s: ID!, $t: ID!) { mergeCustomers(sourceId: $s, targetId: $t) "
        "{ customer { id } userErrors { code } } }",
        SUPERVISORS,
        fresh_customers_to_merge,
    ),
    Row(
        "eraseCustomer",
        'mutation($id: ID!) { eraseCustomer(id: $id, reason: "DSR-1") { customer { id } userErrors { code } } }',
        ADMINS,
        fresh_customer_to_erase,
    ),
    Row(
        "createTicket",
        'mutation($e: String!) { createTicket(input: {subject: "Broken mug", description: "It arrived broken.", '
        "channel: API, customer: {email: $e}}) " + TICKET_PAYLOAD + " }",
        SIGNED_IN,
        fixed(lambda w: {"e": f"{unique('buyer')}@example.com"}),
    ),
    Row(
        "updateTicket",
        'mutation($id: ID!) { updateTicket(id: $id, input: {tags: ["checked"]}) ' + TICKET_PAYLOAD + " }",
        TEAM,
        on_fresh_ticket(),
    ),
    Row(
        "createSubTicket",
        'mutation($id: ID!) { createSubTicket(parentId: $id, input: {subject: "Pick up", description: "Collect '
        'the parcel.", channel: PHONE, customer: {email: "li.lei@example.cn"}}) ' + TICKET_PAYLOAD + " }",
        TEAM,
        on_fresh_ticket(),
    ),
    Row(
        "linkTickets",
        "mutation($a: ID!, $b: ID!) { linkTickets(id: $a, otherId: $b, kind: RELATED) " + TICKET_PAYLOAD + " }",
        TEAM,
        two_fresh_tickets,
    ),
    Row(
        "mergeTickets",
        "mutation($a: ID!, $b: ID!) { mergeTickets(sourceId: $a, targetId: $b) " + TICKET_PAYLOAD + " }",
        TEAM,
        two_fresh_tickets,
    ),
    Row(
        "assignTicket",
        "mutation($id: ID!, $g: ID) { assignTicket(id: $id, groupId: $g) " + TICKET_PAYLOAD + " }",
        SUPERVISORS,
        lambda w, role: on_fresh_ticket(g=gid("Group", w.other_group))(w, role),
    ),
    Row(
        "autoAssignTicket",
        "mutation($id: ID!) { autoAssignTicket(id: $id) " + TICKET_PAYLOAD + " }",
        TEAM,
        on_fresh_ticket(),
    ),
    Row(
        "addCollaborator",
        "mutation($id: ID!, $g: ID) { addCollaborator(id: $id, groupId: $g) " + TICKET_PAYLOAD + " }",
        TEAM,
        lambda w, role: on_fresh_ticket(g=gid("Group", w.other_group))(w, role),
    ),
    Row(
        "addComment",
        'mutation($id: ID!) { addComment(ticketId: $id, body: "Any news?") { comment { id } userErrors { code } } }',
        TEAM,
        on_fresh_ticket(),
    ),
    Row(
        "addCustomerReply",
        'mutation($id: ID!) { addCustomerReply(ticketId: $id, body: "Still waiting.") '
        "{ comment { id } userErrors { code } } }",
        OWN_TICKET,
        on_fresh_ticket(),
    ),
    Row("startTicket", "mutation($id: ID!) { startTicket(id: $id) " + TICKET_PAYLOAD + " }", TEAM, on_fresh_ticket()),
    Row(
        "setTicketPending",
        "mutation($id: ID!) { setTicketPending(id: $id) " + TICKET_PAYLOAD + " }",
        TEAM,
        on_fresh_ticket("OPEN"),
    ),
    Row(
        "holdTicket", "mutation($id: ID!) { holdTicket(id: $id) " + TICKET_PAYLOAD + " }", TEAM, on_fresh_ticket("OPEN")
    ),
    Row(
        "resumeTicket",
        "mutation($id: ID!) { resumeTicket(id: $id) " + TICKET_PAYLOAD + " }",
        TEAM,
        on_fresh_ticket("ON_HOLD"),
    ),
    Row(
        "resolveTicket",
        'mutation($id: ID!) { resolveTicket(id: $id, resolution: "Refunded.") ' + TICKET_PAYLOAD + " }",
        TEAM,
        on_fresh_ticket("OPEN"),
    ),
    Row(
        "reopenTicket",
        "mutation($id: ID!) { reopenTicket(id: $id) " + TICKET_PAYLOAD + " }",
        OWN_TICKET,
        on_fresh_ticket("RESOLVED"),
    ),
    Row(
        "closeTicket",
        "mutation($id: ID!) { closeTicket(id: $id) " + TICKET_PAYLOAD + " }",
        TEAM,
        on_fresh_ticket("RESOLVED"),
    ),
    Row(
        "escalateTicket",
        'mutation($id: ID!) { escalateTicket(id: $id, reason: "Angry customer") ' + TICKET_PAYLOAD + " }",
        TEAM,
        on_fresh_ticket("OPEN"),
    ),
    Row(
        "rateTicket",
        "mutation($id: ID!) { rateTicket(id: $id, score: 5) " + TICKET_PAYLOAD + " }",
        OWN_TICKET,
        on_fresh_ticket("RESOLVED"),
    ),
    Row(
        "createArticle",
        'mutation { createArticle(input: {title: "Returns", body: "How to return."}) ' + ARTICLE_PAYLOAD + " }",
        SIGNED_IN,
    ),
    Row(
        "updateArticle",
        'mutation($id: ID!) { updateArticle(id: $id, input: {title: "Returns", body: "Edited."}) '
        + ARTICLE_PAYLOAD
        + " }",
        expect(UNAUTHENTICATED, OK, OK, OK, OK, HIDDEN, **NOT_CUSTOMERS),
        fresh_draft,
        label="a DRAFT",
    ),
    Row(
        "publishArticle",
        "mutation($id: ID!) { publishArticle(id: $id) " + ARTICLE_PAYLOAD + " }",
        SUPERVISORS,
        fresh_draft,
    ),
    Row(
        "archiveArticle",
        "mutation($id: ID!) { archiveArticle(id: $id) " + ARTICLE_PAYLOAD + " }",
        SUPERVISORS,
        fresh_draft,
    ),
    Row(
        "createArticleFromTicket",
        "mutation($id: ID!) { createArticleFromTicket(ticketId: $id) " + ARTICLE_PAYLOAD + " }",
        TEAM,
        on_fresh_ticket("RESOLVED"),
    ),
    Row(
        "rateArticle",
        "mutation($id: ID!) { rateArticle(id: $id, helpful: true) " + ARTICLE_PAYLOAD + " }",
        PUBLIC,
        fixed(lambda w: {"id": gid("KnowledgeArticle", w.published)}),
    ),
    Row(
        "createAgent",
        'mutation($e: String!) { createAgent(input: {name: "Eve", email: $e, password: "long enough password"}) '
        "{ agent { id } userErrors { code } } }",
        ADMINS,
        fixed(lambda w: {"e": f"{unique('eve')}@example.com"}),
    ),
    Row(
        "updateAgent",
        "mutation($id: ID!) { updateAgent(id: $id, input: {capacity: 12}) { agent { id } userErrors { code } } }",
        ADMINS,
        fixed(lambda w: {"id": gid("Agent", w.spare_agent)}),
    ),
    Row(
        "createGroup",
        "mutation($n: String!) { createGroup(input: {name: $n}) { group { id } userErrors { code } } }",
        ADMINS,
        fixed(lambda w: {"n": unique("group")}),
    ),
    Row(
        "createBusinessCalendar",
        'mutation($n: String!) { createBusinessCalendar(input: {name: $n, timezone: "Asia/Shanghai", '
        'hours: [{weekday: 0, start: "09:00", end: "18:00"}]}) { calendar { id } userErrors { code } } }',
        ADMINS,
        fixed(lambda w: {"n": unique("calendar")}),
    ),
    Row(
        "createSlaPolicy",
        'mutation { createSlaPolicy(input: {name: "new", matchCategories: ["never"], firstResponseSeconds: 60}) '
        "{ policy { id } userErrors { code } } }",
        ADMINS,
    ),
    Row(
        "updateSlaPolicy",
        'mutation($id: ID!) { updateSlaPolicy(id: $id, input: {name: "spare", matchCategories: ["never"], '
        "firstResponseSeconds: 60}) { policy { id } userErrors { code } } }",
        ADMINS,
        fixed(lambda w: {"id": gid("SlaPolicy", w.policy)}),
    ),
    Row(
        "deleteSlaPolicy",
        "mutation($id: ID!) { deleteSlaPolicy(id: $id) { deletedId userErrors { code } } }",
        ADMINS,
        fresh_policy,
    ),
    Row(
        "createRoutingRule",
        'mutation { createRoutingRule(input: {name: "new"}) { rule { id } userErrors { code } } }',
        ADMINS,
    ),
    Row(
        "updateRoutingRule",
        'mutation($id: ID!) { updateRoutingRule(id: $id, input: {name: "spare rule"}) '
        "{ rule { id } userErrors { code } } }",
        ADMINS,
        fixed(lambda w: {"id": gid("RoutingRule", w.rule)}),
    ),
    Row(
        "deleteRoutingRule",
        "mutation($id: ID!) { deleteRoutingRule(id: $id) { deletedId userErrors { code } } }",
        ADMINS,
        fresh_rule,
    ),
    Row(
        "createTicketField",
        'mutation($key: String!) { createTicketField(input: {key: $key, label: "New", type: TEXT}) '
        "{ field { id } userErrors { code } } }",
        ADMINS,
        new_field_key,
    ),
    Row(
        "updateTicketField",
        'mutation($id: ID!) { updateTicketField(id: $id, input: {key: "renamed", label: "Renamed", type: NUMBER}) '
        "{ field { id } userErrors { code } } }",
        ADMINS,
        fresh_ticket_field,
    ),
    Row(
        "deleteTicketField",
        "mutation($id: ID!) { deleteTicketField(id: $id) { deletedId userErrors { code } } }",
        ADMINS,
        fresh_ticket_field,
    ),
    Row(
        "createApiToken",
        'mutation { createApiToken(name: "bot") { token apiToken { id } userErrors { code } } }',
        # A token cannot mint tokens: a leaked one would outlive its own revocation.
        expect(UNAUTHENTICATED, OK, OK, OK, OK, FORBIDDEN, **NOT_CUSTOMERS),
        label="own",
    ),
    Row(
        "createApiToken",
        'mutation($a: ID) { createApiToken(name: "bot", agentId: $a) { token apiToken { id } userErrors { code } } }',
        ADMINS,
        fixed(lambda w: {"a": gid("Agent", w.spare_agent)}),
        label="for another agent",
    ),
    Row(
        "revokeApiToken",
        "mutation($id: ID!) { revokeApiToken(id: $id) { deletedId userErrors { code } } }",
        SIGNED_IN,
        own_fresh_token,
        label="own",
    ),
    Row(
        "revokeApiToken",
        "mutation($id: ID!) { revokeApiToken(id: $id) { deletedId userErrors { code } } }",
        expect(UNAUTHENTICATED, HIDDEN, HIDDEN, HIDDEN, OK, HIDDEN, **NOT_CUSTOMERS),
        someone_elses_fresh_token,
        label="another agent's",
    ),
    Row(
        "markNotificationsRead",
        "mutation($ids: [ID!]) { markNotificationsRead(ids: $ids) { userErrors { code } } }",
        SIGNED_IN,
        own_fresh_notification,
        label="own",
    ),
    Row(
        "markNotificationsRead",
        "mutation($ids: [ID!]) { markNotificationsRead(ids: $ids) { userErrors { code } } }",
        expect(UNAUTHENTICATED, HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN, **NOT_CUSTOMERS),
        someone_elses_fresh_notification,
        label="another agent's",
    ),
    # ------------------------------------------------------------ subscriptions
    Row(
        "notifications",
        "subscription { notifications { message } }",
        SIGNED_IN,
        notifications_while_subscribed,
        shows=lambda w, v: v["message"] == MY_NOTIFICATION,
        # No ticket event announces these notifications: they come with the stream's periodic look.
        wait=POLL_SECONDS + 1.5,
    ),
    Row(
        "ticketEvents",
        "subscription($t: ID, $after: String) { ticketEvents(ticketId: $t, after: $after) { ticket { id } } }",
        OWN_TICKET,
        fixed(lambda w: {"t": gid("Ticket", w.ticket), "after": w.first_cursor}),
        shows=lambda w, v: v["ticket"]["id"] == gid("Ticket", w.ticket),
    ),
    Row(
        "assignmentEvents",
        "subscription($g: ID, $after: String) { assignmentEvents(groupId: $g, after: $after) { ticket { id } } }",
        TEAM,
        fixed(lambda w: {"g": gid("Group", w.group), "after": w.first_cursor}),
        shows=lambda w, v: v["ticket"]["id"] == gid("Ticket", w.ticket),
    ),
    Row(
        "slaEvents",
        "subscription($g: ID, $after: String) { slaEvents(groupId: $g, after: $after) { kind ticket { id } } }",
        TEAM,
        fixed(lambda w: {"g": gid("Group", w.group), "after": w.first_cursor}),
        shows=lambda w, v: v["ticket"]["id"] == gid("Ticket", w.sla_ticket),
    ),
    Row(
        "wallboard",
        "subscription($g: ID) { wallboard(groupId: $g) { unassigned } }",
        GROUP_WALLBOARD,
        fixed(lambda w: {"g": gid("Group", w.group)}),
        label="of the group",
    ),
    Row("wallboard", "subscription { wallboard { unassigned } }", SUPERVISORS, label="whole helpdesk"),
    # ------------------------------------------------------------ email
    Row(
        "createMailbox",
        "mutation($input: MailboxInput!) { createMailbox(input: $input) { mailbox { id } userErrors { code } } }",
        ADMINS,
        new_mailbox,
    ),
    Row(
        "updateMailbox",
        "mutation($id: ID!, $input: MailboxInput!) { updateMailbox(id: $id, input: $input) "
        "{ mailbox { id } userErrors { code } } }",
        ADMINS,
        fresh_mailbox_and_input,
    ),
    Row(
        "deleteMailbox",
        "mutation($id: ID!) { deleteMailbox(id: $id) { deletedId userErrors { code } } }",
        ADMINS,
        fresh_mailbox,
    ),
    # ------------------------------------------------------------ macros
    node_row("shared macro", "Macro", lambda w: w.macro, SIGNED_IN_NODE),
    Row(
        "macros", "query { macros { id } }", SIGNED_IN, shows=lambda w, v: gid("Macro", w.macro) in {m["id"] for m in v}
    ),
    # A ticket the caller may not see is NOT_FOUND: the preview is not nullable.
    Row(
        "renderMacro",
        "query($t: ID!, $m: ID!) { renderMacro(ticketId: $t, macroId: $m) { body missingPlaceholders } }",
        expect(UNAUTHENTICATED, "NOT_FOUND", OK, OK, OK, OK, **NOT_CUSTOMERS),
        fixed(lambda w: {"t": gid("Ticket", w.ticket), "m": gid("Macro", w.macro)}),
    ),
    Row(
        "createMacro",
        "mutation($input: MacroInput!) { createMacro(input: $input) { macro { id } userErrors { code } } }",
        SIGNED_IN,
        macro_input_variables(shared=False),
        label="personal",
    ),
    Row(
        "createMacro",
        "mutation($input: MacroInput!) { createMacro(input: $input) { macro { id } userErrors { code } } }",
        SUPERVISORS,
        macro_input_variables(shared=True),
        label="shared",
    ),
    Row(
        "updateMacro",
        UPDATE_MACRO,
        SIGNED_IN,
        with_macro_input(own_fresh_macro, shared=False),
        label="own personal",
    ),
    Row(
        "updateMacro",
        UPDATE_MACRO,
        SUPERVISORS,
        with_macro_input(fresh_shared_macro, shared=True),
        label="shared",
    ),
    Row(
        "deleteMacro",
        "mutation($id: ID!) { deleteMacro(id: $id) { deletedId userErrors { code } } }",
        SUPERVISORS,
        fresh_shared_macro,
        label="shared",
    ),
    Row(
        "deleteMacro",
        "mutation($id: ID!) { deleteMacro(id: $id) { deletedId userErrors { code } } }",
        expect(UNAUTHENTICATED, HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN, **NOT_CUSTOMERS),
        someone_elses_fresh_macro,
        label="someone else's personal",
    ),
    Row(
        "applyMacro",
        "mutation($t: ID!, $m: ID!) { applyMacro(ticketId: $t, macroId: $m) " + TICKET_PAYLOAD + " }",
        TEAM,
        fresh_ticket_and_macro,
    ),
    # ------------------------------------------------------------ automations
    Row(
        "createAutomation",
        "mutation($input: AutomationInput!) { createAutomation(input: $input) "
        "{ automation { id } userErrors { code } } }",
        ADMINS,
        new_automation,
    ),
    Row(
        "updateAutomation",
        "mutation($id: ID!, $input: AutomationInput!) { updateAutomation(id: $id, input: $input) "
        "{ automation { id } userErrors { code } } }",
        ADMINS,
        fresh_automation_and_input,
    ),
    Row(
        "deleteAutomation",
        "mutation($id: ID!) { deleteAutomation(id: $id) { deletedId userErrors { code } } }",
        ADMINS,
        fresh_automation,
    ),
    # ------------------------------------------------------------ webhooks
    Row(
        "createWebhook",
        "mutation($input: WebhookInput!) { createWebhook(input: $input) "
        "{ webhook { id } secret userErrors { code } } }",
        ADMINS,
        new_webhook,
    ),
    Row(
        "updateWebhook",
        "mutation($id: ID!, $input: WebhookInput!) { updateWebhook(id: $id, input: $input) "
        "{ webhook { id } userErrors { code } } }",
        ADMINS,
        fresh_webhook_and_input,
    ),
    Row(
        "deleteWebhook",
        "mutation($id: ID!) { deleteWebhook(id: $id) { deletedId userErrors { code } } }",
        ADMINS,
        fresh_webhook,
    ),
    Row(
        "rotateWebhookSecret",
        "mutation($id: ID!) { rotateWebhookSecret(id: $id) { webhook { id } secret userErrors { code } } }",
        ADMINS,
        fresh_webhook,
    ),
    Row(
        "redeliverWebhookDelivery",
        "mutation($id: ID!) { redeliverWebhookDelivery(id: $id) { delivery { id } userErrors { code } } }",
        ADMINS,
        fixed(lambda w: {"id": gid("WebhookDelivery", w.webhook_delivery)}),
    ),
    # Mail relays (API tokens, whatever their agent's role) and admins; console agents and
    # supervisors get FORBIDDEN.
    Row(
        "ingestEmail",
        "mutation($m: ID!, $message: Upload!) { ingestEmail(mailboxId: $m, message: $message) "
        "{ outcome ticket { id } userErrors { code } } }",
        expect(UNAUTHENTICATED, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK, OK, **NOT_CUSTOMERS),
        fixed(lambda w: {"m": gid("Mailbox", w.mailbox), "message": None}),
        uploads=a_customers_mail,
    ),
]

# Files travel only in multipart HTTP requests (graphql-transport-ws cannot carry one), so rows
# with uploads are left out of the open-socket tests.
SOCKET_ROWS = [row for row in MATRIX if row.uploads is None]


# ---------------------------------------------------------------- running a row


def error_code(errors: list[dict[str, Any]]) -> str:
    codes = {e.get("extensions", {}).get("code") for e in errors}
    return codes.pop() if len(codes) == 1 else f"ERRORS {sorted(map(str, codes))}"


def mutation_outcome(payload: dict[str, Any]) -> str:
    codes = [e["code"] for e in payload["userErrors"]]
    if not codes:
        return OK
    leaked = {k: v for k, v in payload.items() if k != "userErrors" and v is not None}
    if leaked:
        return f"REFUSED WITH DATA {leaked}"
    if codes == ["NOT_FOUND"]:
        return HIDDEN
    return codes[0] if len(codes) == 1 else f"USER_ERRORS {codes}"


async def http_outcome(row: Row, w: World, role: str, client: GraphQLClient) -> str:
    variables = await row.variables(w, role)
    if row.uploads is not None:
        result = await post_multipart(client, w.tokens[role], row.document, variables, row.uploads())
    else:
        result = await client.as_(w.tokens[role]).post(row.document, variables)
    if result.get("errors"):
        return error_code(result["errors"])
    value = result["data"][row.field]
    if row.kind == "mutation":
        return mutation_outcome(value)
    return OK if row.shows(w, value) else HIDDEN


async def post_multipart(
    client: GraphQLClient,
    token: str | None,
    document: str,
    variables: dict[str, Any],
    files: dict[str, tuple[str, bytes, str]],
) -> dict[str, Any]:
    operations = {"query": document, "variables": variables}
    response = await client.http.post(
        f"{client.base_url}/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({str(i): [p] for i, p in enumerate(files)})},
        files={str(i): upload for i, upload in enumerate(files.values())},
        headers={"Authorization": f"Bearer {token}"} if token else {},
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def connect(url: str, token: str | None) -> Any | None:
    """A graphql-transport-ws connection, or None when the server refuses the credential."""
    ws = await websockets.connect(url.replace("http", "ws", 1) + "/graphql", subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"} if token else {}})
    )
    try:
        reply = json.loads(await ws.recv())
    except websockets.ConnectionClosed:
        return None
    assert reply["type"] == "connection_ack", reply
    return ws


async def messages(ws: Any, within: float, op: str = "1") -> AsyncIterator[dict[str, Any]]:
    """Messages of operation `op` (pings answered) until `within` seconds pass."""
    deadline = asyncio.get_running_loop().time() + within
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        try:
            message = json.loads(await asyncio.wait_for(ws.recv(), left))
        except TimeoutError:
            return
        if message.get("type") == "ping":
            await ws.send(json.dumps({"type": "pong"}))
        elif message.get("id") == op:
            yield message


async def subscription_outcome(row: Row, w: World, role: str, server: ServerThread) -> str:
    variables = await row.variables(w, role)
    ws = await connect(server.url, w.tokens[role])
    if ws is None:
        return UNAUTHENTICATED
    try:
        payload = {"query": row.document, "variables": variables}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        # Deliveries about other objects (tickets other rows moved into the caller's group) are
        # skipped: the question is whether the target ever arrives.
        async for message in messages(ws, row.wait):
            if message["type"] == "error":
                return error_code(message["payload"])
            assert message["type"] == "next", message
            if message["payload"].get("errors"):
                return error_code(message["payload"]["errors"])
            if row.shows(w, message["payload"]["data"][row.field]):
                return OK
        return HIDDEN
    finally:
        await ws.close()


@pytest.mark.parametrize("row", MATRIX, ids=lambda row: row.id)
async def test_each_caller_gets_the_documented_outcome(
    row: Row, world: World, server: ServerThread, anonymous: GraphQLClient
) -> None:
    observed = {}
    for role in ROLES:
        if row.kind == "subscription":
            observed[role] = await subscription_outcome(row, world, role, server)
        else:
            observed[role] = await http_outcome(row, world, role, anonymous)
    assert observed == row.outcomes


# ---------------------------------------------------------------- credentials that change under an open socket


async def socket_outcome(row: Row, w: World, role: str, ws: Any, op: str) -> str:
    """The row's outcome on an open graphql-transport-ws socket (queries and mutations too);
    a socket closed with 4403 (the credential is gone) is UNAUTHENTICATED."""
    variables = await row.variables(w, role)
    payload = {"query": row.document, "variables": variables}
    try:
        await ws.send(json.dumps({"id": op, "type": "subscribe", "payload": payload}))
        within = row.wait if row.kind == "subscription" else 10
        async for message in messages(ws, within, op):
            if message["type"] == "error":
                return error_code(message["payload"])
            assert message["type"] == "next", message
            result = message["payload"]
            if result.get("errors"):
                return error_code(result["errors"])
            value = result["data"][row.field]
            if row.kind == "mutation":
                return mutation_outcome(value)
            if row.shows(w, value):
                return OK
            if row.kind == "query":
                return HIDDEN
        if row.kind != "subscription":
            return "NO ANSWER"
        await ws.send(json.dumps({"id": op, "type": "complete"}))
        return HIDDEN
    except websockets.ConnectionClosed as closed:
        return UNAUTHENTICATED if closed.rcvd is not None and closed.rcvd.code == 4403 else f"CLOSED {closed}"


def recheck_seconds(server: ServerThread) -> float:
    period: float = server.app.state.runtime.settings.credential_recheck_seconds
    return period


async def test_a_credential_revoked_after_the_socket_opened_runs_no_row(world: World, server: ServerThread) -> None:
    # An admin's API token, so any row the revocation failed to stop would run (OK) instead.
    token = await auth.create_api_token(world.rt, world.admin, "revoked under an open socket", None, None)
    # One socket per row, all opened before the revocation: each row is sent on a socket that
    # was live when the credential was revoked (a socket closed by one row serves no other).
    sockets = await asyncio.gather(*(connect(server.url, token.secret) for _ in SOCKET_ROWS))
    assert all(ws is not None for ws in sockets)
    try:
        await auth.revoke_api_token(world.rt, world.admin, token.token.id)
        await asyncio.sleep(recheck_seconds(server) + 0.3)
        observed = {
            row.id: await socket_outcome(row, world, "admin", ws, "1")
            for row, ws in zip(SOCKET_ROWS, sockets, strict=True)
        }
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets if ws is not None))
    assert observed == {row.id: UNAUTHENTICATED for row in SOCKET_ROWS}


async def test_a_customer_session_revoked_after_the_socket_opened_runs_no_row(
    world: World, server: ServerThread
) -> None:
    session = await customer_session_of(world.rt, world.customer)
    sockets = await asyncio.gather(*(connect(server.url, session) for _ in SOCKET_ROWS))
    assert all(ws is not None for ws in sockets)
    try:
        async with world.rt.engine.begin() as conn:
            await customer_sign_in.revoke_customer_credentials(conn, world.customer, world.rt.clock.now())
        await asyncio.sleep(recheck_seconds(server) + 0.3)
        observed = {
            row.id: await socket_outcome(row, world, "customer", ws, "1")
            for row, ws in zip(SOCKET_ROWS, sockets, strict=True)
        }
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets if ws is not None))
        # The world's customer signs in again for the rows that follow.
        world.tokens["customer"] = await customer_session_of(world.rt, world.customer)
    assert observed == {row.id: UNAUTHENTICATED for row in SOCKET_ROWS}


async def test_an_admin_demoted_after_the_socket_opened_gets_what_an_agent_without_groups_gets(
    world: World, server: ServerThread
) -> None:
    demoted, session, _ = await make_agent(world.rt, AgentRole.ADMIN, [], "demoted")
    ws = await connect(server.url, session)
    assert ws is not None
    world.principals["demoted"] = demoted  # rows about the caller's own things (API tokens) use this agent
    try:
        changes = agent_service.AgentChanges(role=AgentRole.AGENT, group_ids=[])
        await agent_service.update_agent(world.rt, world.admin, demoted.agent_id, changes)
        await asyncio.sleep(recheck_seconds(server) + 0.3)
        observed = {
            row.id: await socket_outcome(row, world, "demoted", ws, str(n)) for n, row in enumerate(SOCKET_ROWS)
        }
    finally:
        del world.principals["demoted"]
        await ws.close()
    assert observed == {row.id: row.outcomes["other_group_agent"] for row in SOCKET_ROWS}


INTROSPECTION = """
query { __schema {
  queryType { fields { name } }
  mutationType { fields { name } }
  subscriptionType { fields { name } }
} }
"""


async def test_the_matrix_covers_every_operation_the_server_serves(anonymous: GraphQLClient) -> None:
    # A new root field without a row fails here.
    schema = (await anonymous.execute(INTROSPECTION))["__schema"]
    served = {
        f"{kind}.{f['name']}"
        for kind, key in (("query", "queryType"), ("mutation", "mutationType"), ("subscription", "subscriptionType"))
        for f in schema[key]["fields"]
    }
    covered = {f"{row.kind}.{row.field}" for row in MATRIX}
    assert served - covered == set(), "operations without a row in MATRIX"
    assert covered - served == set(), "rows for operations the server does not serve"
    assert all(set(row.outcomes) == set(ROLES) for row in MATRIX)


# ---------------------------------------------------------------- beside the GraphQL operations

DOWNLOADS = {
    "public file": {
        "anonymous": 401,
        "other_group_agent": 404,
        "group_agent": 200,
        "supervisor": 200,
        "admin": 200,
        "partner_token": 200,
        "revoked_token": 401,
        "expired_token": 401,
        "customer": 200,
        "other_customer": 404,
    },
    "file on an INTERNAL note": {
        "anonymous": 401,
        "other_group_agent": 404,
        "group_agent": 200,
        "supervisor": 200,
        "admin": 200,
        "partner_token": 404,
        "revoked_token": 401,
        "expired_token": 401,
        "customer": 404,
        "other_customer": 404,
    },
}


@pytest.mark.parametrize("which", DOWNLOADS)
async def test_attachment_downloads_follow_the_same_rules(
    which: str, world: World, server: ServerThread, http: httpx.AsyncClient
) -> None:
    pk = world.public_file if which == "public file" else world.internal_file
    content = b"public bytes" if which == "public file" else b"internal bytes"
    observed = {}
    for role in ROLES:
        token = world.tokens[role]
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await http.get(f"{server.url}/attachments/{gid('Attachment', pk)}", headers=headers)
        assert (response.content == content) == (response.status_code == 200)
        observed[role] = response.status_code
    assert observed == DOWNLOADS[which]


SUBSCRIBED_CONVERSATION = """
subscription($t: ID, $after: String) {
  ticketEvents(ticketId: $t, after: $after) {
    type
    data
    ticket {
      comments(first: 50) { totalCount edges { node { body visibility attachments { filename } } } }
      internal: comments(visibility: INTERNAL) { totalCount edges { node { body } } }
      attachments { filename }
    }
  }
}
"""


@pytest.mark.parametrize(("role", "sees_internal"), [("group_agent", True), ("partner_token", False)])
async def test_internal_notes_never_reach_a_partner_token_through_a_subscription(
    role: str, sees_internal: bool, world: World, server: ServerThread
) -> None:
    async with world.rt.engine.connect() as conn:
        events = (
            await conn.execute(text("SELECT count(*) FROM ticket_events WHERE ticket_id = :t"), {"t": world.ticket})
        ).scalar_one()
    ws = await connect(server.url, world.tokens[role])
    assert ws is not None
    try:
        variables = {"t": gid("Ticket", world.ticket), "after": world.first_cursor}
        subscribe = {
            "id": "1",
            "type": "subscribe",
            "payload": {"query": SUBSCRIBED_CONVERSATION, "variables": variables},
        }
        await ws.send(json.dumps(subscribe))
        delivered = []
        async for message in messages(ws, 10):
            assert message["type"] == "next" and not message["payload"].get("errors"), message
            delivered.append(message["payload"]["data"]["ticketEvents"])
            if len(delivered) == events - 1:  # every event after the first cursor, replayed
                break
    finally:
        await ws.close()
    assert len(delivered) == events - 1
    assert "COMMENTED" in {e["type"] for e in delivered}
    raw = json.dumps(delivered, ensure_ascii=False)
    assert (INTERNAL_BODY in raw) is sees_internal
    assert ("fraud-check.txt" in raw) is sees_internal
    assert "We are on it." in raw and "receipt.txt" in raw
