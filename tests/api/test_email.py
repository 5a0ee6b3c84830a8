"""The email channel through the real server: mailbox administration (passwords write-only and
encrypted at rest) and raw mail handed in by `ingestEmail` as a GraphQL multipart upload."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.db import tables
from app.domain.enums import AgentRole
from app.domain.lifecycle import Action
from app.domain.records import GroupRecord
from app.services import auth, lifecycle
from app.services.runtime import Runtime
from schema import ids
from tests.conftest import Actor
from tests.fixtures.inbound_mail import MALFORMED, RECEIPT, SUPPORT, gbk_mail_with_attachment, reply_to
from tests.support import ServerThread, load_document

MakeActor = Callable[..., Awaitable[Actor]]
MakeGroup = Callable[..., Awaitable[GroupRecord]]

MAILBOXES = "console/admin/Mailboxes.graphql"
CREATE = "console/admin/CreateMailbox.graphql"
UPDATE = "console/admin/UpdateMailbox.graphql"
DELETE = "console/admin/DeleteMailbox.graphql"
INGEST = "partner/IngestEmail.graphql"
NODE = "console/Node.graphql"
TICKET = "console/TicketDetail.graphql"

IMAP_PASSWORD = "imap-Geheimnis-4711"
SMTP_PASSWORD = "smtp-Geheimnis-0815"


def mailbox_input(group_id: str | None = None, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "售后邮箱",
        "address": SUPPORT,
        "groupId": group_id,
        "imap": {"host": "imap.example.cn", "port": 993, "username": "support", "password": IMAP_PASSWORD},
        "smtp": {
            "host": "smtp.example.cn",
            "port": 587,
            "username": "support",
            "password": SMTP_PASSWORD,
            "fromName": "客服中心",
        },
        "acknowledgementTemplate": "我们已收到您的邮件，工单号 {{ticket.number}}。",
    }
    data.update(overrides)
    return data


async def ingest(
    http: httpx.AsyncClient, server: ServerThread, token: str | None, mailbox_id: str, raw: bytes
) -> dict[str, Any]:
    """ingestEmail as a relay sends it: the message is the one file part of a multipart request."""
    operations = {"query": load_document(INGEST), "variables": {"mailboxId": mailbox_id, "message": None}}
    response = await http.post(
        f"{server.url}/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.message"]})},
        files={"0": ("message.eml", raw, "message/rfc822")},
        headers={"Authorization": f"Bearer {token}"} if token else {},
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    assert not result.get("errors"), result["errors"]
    payload: dict[str, Any] = result["data"]["ingestEmail"]
    return payload


@pytest.fixture
async def mailbox(admin: Actor, make_group: MakeGroup) -> dict[str, Any]:
    group = await make_group("邮件客服")
    payload = await admin.client.mutate(CREATE, {"input": mailbox_input(ids.encode("Group", group.id))})
    mailbox: dict[str, Any] = payload["mailbox"]
    return mailbox


# ---------------------------------------------------------------- mailboxes


async def test_an_admin_creates_lists_updates_and_deletes_a_mailbox(
    admin: Actor, mailbox: dict[str, Any], rt: Runtime
) -> None:
    assert mailbox["address"] == SUPPORT and mailbox["group"]["name"] == "邮件客服"
    assert mailbox["imap"] == {
        "host": "imap.example.cn",
        "port": 993,
        "security": "TLS",
        "username": "support",
        "folder": "INBOX",
    }
    assert mailbox["smtp"]["security"] == "STARTTLS" and mailbox["smtp"]["fromName"] == "客服中心"
    listed = (await admin.client.run(MAILBOXES))["mailboxes"]
    assert [m["id"] for m in listed] == [mailbox["id"]]

    # An update without the SMTP password keeps the stored one.
    changed = mailbox_input(None, name="Support CN", enabled=False)
    del changed["smtp"]["password"]
    updated = (await admin.client.mutate(UPDATE, {"id": mailbox["id"], "input": changed}))["mailbox"]
    assert (updated["name"], updated["enabled"], updated["group"]) == ("Support CN", False, None)
    async with rt.engine.connect() as conn:
        smtp_secret = await conn.scalar(select(tables.mailboxes.c.smtp_password_encrypted))
    assert smtp_secret is not None

    deleted = await admin.client.mutate(DELETE, {"id": mailbox["id"]})
    assert deleted["deletedId"] == mailbox["id"]
    assert (await admin.client.run(MAILBOXES))["mailboxes"] == []


async def test_passwords_are_never_readable_and_stored_encrypted(
    admin: Actor, mailbox: dict[str, Any], rt: Runtime
) -> None:
    schema = await admin.client.execute('{ __type(name: "ImapSettings") { fields { name } } }')
    assert "password" not in {f["name"] for f in schema["__type"]["fields"]}
    async with rt.engine.connect() as conn:
        row = (await conn.execute(select(tables.mailboxes))).one()._mapping
    stored = json.dumps({k: str(v) for k, v in row.items()})
    assert IMAP_PASSWORD not in stored and SMTP_PASSWORD not in stored
    from app.services.mailboxes import mailbox_passwords

    assert await mailbox_passwords(rt, ids.decode_as(mailbox["id"], "Mailbox") or 0) == (IMAP_PASSWORD, SMTP_PASSWORD)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"address": "not-an-address"}, ["input", "address"]),
        ({"address": "support@example.cn\r\nBcc: all@example.cn"}, ["input", "address"]),
        ({"imap": {"host": "imap.example.cn", "port": 0, "username": "u", "password": "p"}}, ["input", "imap", "port"]),
        (
            {"imap": {"host": "imap.example.cn", "port": 993, "username": "u", "password": "p\r\nA2 DELETE INBOX"}},
            ["input", "imap", "password"],
        ),
        ({"smtp": {"host": "smtp.example.cn", "port": 70000}}, ["input", "smtp", "port"]),
        (
            {"smtp": {"host": "smtp.example.cn", "port": 25, "fromName": "客服\r\nBcc: x@y.cn"}},
            ["input", "smtp", "fromName"],
        ),
        (
            {"imap": {"host": "imap.example.cn", "port": 993, "username": "u\nA1 LOGOUT", "password": "p"}},
            ["input", "imap", "username"],
        ),
        ({"acknowledgementTemplate": "x" * 10_001}, ["input", "acknowledgementTemplate"]),
    ],
)
async def test_bad_mailbox_settings_are_refused_at_their_field(
    admin: Actor, overrides: dict[str, Any], field: list[str], rt: Runtime
) -> None:
    result = await admin.client.run(CREATE, {"input": mailbox_input(**overrides)})
    payload = result["createMailbox"]
    assert payload["mailbox"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(field, "INVALID_INPUT")]
    async with rt.engine.connect() as conn:
        assert (await conn.execute(select(tables.mailboxes))).first() is None


async def test_an_address_is_taken_once_whatever_its_case(admin: Actor, mailbox: dict[str, Any]) -> None:
    result = await admin.client.run(CREATE, {"input": mailbox_input(address=SUPPORT.upper())})
    assert [(e["field"], e["code"]) for e in result["createMailbox"]["userErrors"]] == [
        (["input", "address"], "DUPLICATE")
    ]


async def test_mailboxes_are_for_admins_only(make_actor: MakeActor, mailbox: dict[str, Any]) -> None:
    supervisor = await make_actor(AgentRole.SUPERVISOR)
    result = await supervisor.client.post(load_document(MAILBOXES))
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    node = await supervisor.client.run(NODE, {"id": mailbox["id"]})
    assert node["node"] is None
    created = await supervisor.client.run(CREATE, {"input": mailbox_input(address="other@example.cn")})
    assert [e["code"] for e in created["createMailbox"]["userErrors"]] == ["FORBIDDEN"]


# ---------------------------------------------------------------- ingestEmail


async def test_a_gbk_mail_with_an_attachment_becomes_an_email_ticket(
    admin: Actor, mailbox: dict[str, Any], server: ServerThread, http: httpx.AsyncClient
) -> None:
    raw = gbk_mail_with_attachment("<gbk-1@mail.example.cn>")
    payload = await ingest(http, server, admin.token, mailbox["id"], raw)
    assert payload["userErrors"] == [] and payload["outcome"] == "CREATED_TICKET"
    ticket = payload["ticket"]
    assert (ticket["channel"], ticket["subject"], ticket["status"]) == ("EMAIL", "退款没有到账", "NEW")
    assert ticket["mailbox"] == {"id": mailbox["id"], "address": SUPPORT}
    assert ticket["customer"]["email"] == "wang.fang@example.cn"

    detail = (await admin.client.run(TICKET, {"id": ticket["id"]}))["ticket"]
    assert "退款还没有到账" in detail["description"]
    files = detail["attachments"]
    assert [(f["filename"], f["size"]) for f in files] == [("收据.pdf", len(RECEIPT))]
    download = await http.get(f"{server.url}{files[0]['url']}", headers={"Authorization": f"Bearer {admin.token}"})
    assert download.content == RECEIPT

    again = await ingest(http, server, admin.token, mailbox["id"], raw)
    assert again["outcome"] == "DUPLICATE" and again["ticket"]["id"] == ticket["id"]
    tickets = await admin.client.execute("{ tickets(first: 10) { totalCount } }")
    assert tickets["tickets"]["totalCount"] == 1


async def test_a_reply_by_mail_reopens_work_on_a_pending_ticket(
    admin: Actor, mailbox: dict[str, Any], server: ServerThread, http: httpx.AsyncClient, rt: Runtime
) -> None:
    first = await ingest(http, server, admin.token, mailbox["id"], gbk_mail_with_attachment("<p1@mail.example.cn>"))
    ticket_pk = ids.decode_as(first["ticket"]["id"], "Ticket") or 0
    for action in (Action.START, Action.SET_PENDING):
        await lifecycle.transition(rt, admin.principal, ticket_pk, action)
    reply = reply_to("<p1@mail.example.cn>", "<p2@mail.example.cn>", sender="王芳 <wang.fang@example.cn>")
    payload = await ingest(http, server, admin.token, mailbox["id"], reply)
    assert payload["outcome"] == "ADDED_REPLY"
    assert payload["ticket"]["id"] == first["ticket"]["id"] and payload["ticket"]["status"] == "OPEN"
    assert payload["comment"]["messageId"] == "<p2@mail.example.cn>"


async def test_a_malformed_message_is_rejected_and_quarantined(
    admin: Actor, mailbox: dict[str, Any], server: ServerThread, http: httpx.AsyncClient, rt: Runtime
) -> None:
    payload = await ingest(http, server, admin.token, mailbox["id"], MALFORMED)
    assert (payload["outcome"], payload["ticket"], payload["userErrors"]) == ("REJECTED", None, [])
    async with rt.engine.connect() as conn:
        assert (await conn.execute(select(tables.mail_quarantine.c.reason))).all() == [("NO_SENDER",)]


async def test_relays_with_api_tokens_may_ingest_but_agents_at_the_console_may_not(
    admin: Actor,
    make_actor: MakeActor,
    mailbox: dict[str, Any],
    server: ServerThread,
    http: httpx.AsyncClient,
    rt: Runtime,
) -> None:
    supervisor = await make_actor(AgentRole.SUPERVISOR)
    refused = await ingest(http, server, supervisor.token, mailbox["id"], gbk_mail_with_attachment("<s1@x.cn>"))
    assert [e["code"] for e in refused["userErrors"]] == ["FORBIDDEN"] and refused["outcome"] is None
    relay_agent = await make_actor(AgentRole.AGENT)
    token = await auth.create_api_token(rt, admin.principal, "mail relay", relay_agent.agent.id, None)
    taken = await ingest(http, server, token.secret, mailbox["id"], gbk_mail_with_attachment("<s1@x.cn>"))
    assert taken["outcome"] == "CREATED_TICKET" and taken["userErrors"] == []
    # The relay's agent is in no group: the ticket it made is shown to it once, in this answer.
    assert taken["ticket"] is not None


async def test_an_unknown_mailbox_is_not_found(admin: Actor, server: ServerThread, http: httpx.AsyncClient) -> None:
    payload = await ingest(http, server, admin.token, ids.encode("Mailbox", 999999), MALFORMED)
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(["mailboxId"], "NOT_FOUND")]


async def test_the_customer_shows_when_mail_to_them_bounced(
    admin: Actor, mailbox: dict[str, Any], server: ServerThread, http: httpx.AsyncClient
) -> None:
    from tests.fixtures.inbound_mail import customer_mail, permanent_bounce

    created = await ingest(
        http, server, admin.token, mailbox["id"], customer_mail("<b1@x.cn>", sender="nobody@example.com")
    )
    query = "query($id: ID!) { node(id: $id) { ... on Customer { emailBouncedAt } } }"
    customer_id = created["ticket"]["customer"]["id"]
    assert (await admin.client.execute(query, {"id": customer_id}))["node"]["emailBouncedAt"] is None
    bounce = await ingest(http, server, admin.token, mailbox["id"], permanent_bounce())
    assert bounce["outcome"] == "IGNORED_BOUNCE"
    assert (await admin.client.execute(query, {"id": customer_id}))["node"]["emailBouncedAt"] is not None


async def test_agents_see_a_tickets_mailbox_but_not_its_server_settings(
    admin: Actor,
    make_actor: MakeActor,
    make_group: MakeGroup,
    server: ServerThread,
    http: httpx.AsyncClient,
) -> None:
    group = await make_group("华东")
    box = await admin.client.mutate(CREATE, {"input": mailbox_input(ids.encode("Group", group.id))})
    created = await ingest(http, server, admin.token, box["mailbox"]["id"], gbk_mail_with_attachment("<v1@x.cn>"))
    agent = await make_actor(AgentRole.AGENT, [group])
    query = """query($id: ID!) { ticket(id: $id) { mailbox {
      address group { id } imap { host username } smtp { host }
    } } }"""
    seen = (await agent.client.execute(query, {"id": created["ticket"]["id"]}))["ticket"]["mailbox"]
    assert seen == {"address": SUPPORT, "group": {"id": ids.encode("Group", group.id)}, "imap": None, "smtp": None}
    as_admin = (await admin.client.execute(query, {"id": created["ticket"]["id"]}))["ticket"]["mailbox"]
    assert as_admin["imap"] == {"host": "imap.example.cn", "username": "support"}


async def test_a_refused_caller_is_refused_before_the_message_is_read(
    make_actor: MakeActor, mailbox: dict[str, Any], settings: Any, http: httpx.AsyncClient
) -> None:
    # On a server that takes messages of at most 1 KiB, a console agent's 4 KiB message is
    # refused as FORBIDDEN, not as too large: the caller was checked before the bytes were read.
    small = ServerThread(settings.model_copy(update={"max_email_bytes": 1024}))
    small.start()
    try:
        supervisor = await make_actor(AgentRole.SUPERVISOR)
        raw = gbk_mail_with_attachment("<big@x.cn>") + b"\r\n" + b"x" * 4096
        refused = await ingest(http, small, supervisor.token, mailbox["id"], raw)
    finally:
        small.stop()
    assert [e["code"] for e in refused["userErrors"]] == ["FORBIDDEN"]


async def test_a_message_over_the_size_limit_is_rejected_and_only_its_first_bytes_kept(
    admin: Actor, mailbox: dict[str, Any], settings: Any, http: httpx.AsyncClient, rt: Runtime
) -> None:
    small = ServerThread(settings.model_copy(update={"max_email_bytes": 1024}))
    small.start()
    try:
        raw = gbk_mail_with_attachment("<huge@x.cn>") + b"\r\n" + b"x" * 50_000
        payload = await ingest(http, small, admin.token, mailbox["id"], raw)
    finally:
        small.stop()
    assert (payload["outcome"], payload["ticket"], payload["userErrors"]) == ("REJECTED", None, [])
    async with rt.engine.connect() as conn:
        held = (await conn.execute(select(tables.mail_quarantine))).one()
    assert (held.reason, held.size) == ("TOO_LARGE", 1025)
    assert b"".join([chunk async for chunk in rt.blobs.read(held.raw_sha256)]) == raw[:1025]
