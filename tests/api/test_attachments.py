"""Attachments through the real server: GraphQL multipart uploads, content-addressed storage,
and the download endpoint's headers and access rules."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
from sqlalchemy import func, select, update

from app.db import tables
from app.domain.enums import AgentRole
from app.domain.records import GroupRecord
from app.services.runtime import Runtime
from app.settings import Settings
from schema import ids
from tests.conftest import Actor
from tests.support import GraphQLClient, ServerThread, load_document

CREATE = "console/CreateTicket.graphql"
ADD_COMMENT = "console/AddComment.graphql"
DETAIL = "console/TicketDetail.graphql"
NODE = "console/Node.graphql"
CREATE_API_TOKEN = "console/admin/CreateApiToken.graphql"

MakeActor = Callable[..., Awaitable[Actor]]
MakeGroup = Callable[..., Awaitable[GroupRecord]]
Upload = tuple[str, bytes, str]

SMALL_LIMIT = 1024


def ticket_input(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "subject": "收到的杯子是碎的",
        "description": "The mug arrived broken; photos attached.",
        "channel": "WEB_FORM",
        "customer": {"email": "liu.yang@example.cn", "name": "刘洋"},
    }
    data.update(overrides)
    return data


async def multipart(
    http: httpx.AsyncClient,
    base_url: str,
    token: str | None,
    document: str,
    variables: dict[str, Any],
    files: dict[str, Upload],
) -> dict[str, Any]:
    """A GraphQL multipart request (operations, map, one form part per file); `files` maps a
    variable path such as "variables.input.attachments.0" to (filename, bytes, content type)."""
    operations = {"query": load_document(document), "variables": variables}
    mapping = {str(i): [path] for i, path in enumerate(files)}
    parts = {str(i): upload for i, upload in enumerate(files.values())}
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await http.post(
        f"{base_url}/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps(mapping)},
        files=parts,
        headers=headers,
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    assert not result.get("errors"), result["errors"]
    return result["data"]


async def create_with_files(
    http: httpx.AsyncClient, base_url: str, token: str, uploads: list[Upload], **overrides: Any
) -> dict[str, Any]:
    variables = {"input": ticket_input(attachments=[None] * len(uploads), **overrides)}
    files = {f"variables.input.attachments.{i}": upload for i, upload in enumerate(uploads)}
    payload: dict[str, Any] = (await multipart(http, base_url, token, CREATE, variables, files))["createTicket"]
    return payload


async def comment_with_files(
    http: httpx.AsyncClient,
    base_url: str,
    token: str,
    ticket_id: str,
    uploads: list[Upload],
    visibility: str = "PUBLIC",
    body: str = "Photos attached.",
) -> dict[str, Any]:
    variables = {"ticketId": ticket_id, "body": body, "visibility": visibility, "attachments": [None] * len(uploads)}
    files = {f"variables.attachments.{i}": upload for i, upload in enumerate(uploads)}
    payload: dict[str, Any] = (await multipart(http, base_url, token, ADD_COMMENT, variables, files))["addComment"]
    return payload


async def detail(client: GraphQLClient, ticket_id: str) -> dict[str, Any]:
    ticket: dict[str, Any] = (await client.run(DETAIL, {"id": ticket_id}))["ticket"]
    assert ticket is not None
    return ticket


async def counts(rt: Runtime) -> dict[str, int]:
    result = {}
    async with rt.engine.connect() as conn:
        for table in (tables.tickets, tables.comments, tables.attachments, tables.ticket_events):
            result[table.name] = (await conn.execute(select(func.count()).select_from(table))).scalar_one()
    return result


def blob_path(root: Path, sha256: str) -> Path:
    return root / "attachments" / sha256[:2] / sha256[2:4] / sha256


def stored_blobs(root: Path) -> list[Path]:
    return sorted(p for p in (root / "attachments").rglob("*") if p.is_file())


def random_bytes(n: int) -> bytes:
    return os.urandom(n)


async def api_token(admin: Actor, agent_id: str | None = None) -> str:
    created = await admin.client.mutate(CREATE_API_TOKEN, {"name": "shop portal", "agentId": agent_id})
    token: str = created["token"]
    return token


@pytest.fixture
async def small_server(settings: Settings, tmp_path: Path) -> AsyncIterator[ServerThread]:
    """A second server on the same database with a 1 KiB upload limit and its own blob directory."""
    assert settings.database_url is not None
    thread = ServerThread(
        Settings(
            database_url=settings.database_url, max_attachment_bytes=SMALL_LIMIT, data_dir=tmp_path, log_json=False
        )
    )
    thread.start()
    try:
        yield thread
    finally:
        thread.stop()


# ---------------------------------------------------------------- uploads


async def test_files_uploaded_with_a_new_ticket_are_listed_with_their_metadata(
    admin: Actor, server: ServerThread, http: httpx.AsyncClient, settings: Settings
) -> None:
    photo = random_bytes(3000)
    invoice = b"%PDF-1.4\n" + random_bytes(500)
    payload = await create_with_files(
        http,
        server.url,
        admin.token,
        [("../../etc/broken-mug.png", photo, "image/png"), ("C:\\Users\\liu\\发票.pdf", invoice, "application/pdf")],
    )
    assert payload["userErrors"] == []
    ticket = await detail(admin.client, payload["ticket"]["id"])

    files = ticket["attachments"]
    assert [(a["filename"], a["contentType"], a["size"], a["sha256"]) for a in files] == [
        ("broken-mug.png", "image/png", len(photo), hashlib.sha256(photo).hexdigest()),
        ("发票.pdf", "application/pdf", len(invoice), hashlib.sha256(invoice).hexdigest()),
    ]
    for attachment in files:
        assert attachment["url"] == f"/attachments/{attachment['id']}"
        assert blob_path(settings.data_dir, attachment["sha256"]).is_file()
    assert blob_path(settings.data_dir, files[0]["sha256"]).read_bytes() == photo

    added = [e["node"] for e in ticket["history"]["edges"] if e["node"]["type"] == "ATTACHMENT_ADDED"]
    assert [(e["data"]["filename"], e["data"]["size"]) for e in added] == [
        ("broken-mug.png", len(photo)),
        ("发票.pdf", len(invoice)),
    ]
    assert all(e["actorAgent"]["id"] == ids.encode("Agent", admin.agent.id) for e in added)


async def test_files_uploaded_with_a_comment_belong_to_the_comment_and_the_ticket(
    admin: Actor, server: ServerThread, http: httpx.AsyncClient
) -> None:
    ticket = (await admin.client.mutate(CREATE, {"input": ticket_input()}))["ticket"]
    label = random_bytes(700)
    payload = await comment_with_files(
        http, server.url, admin.token, ticket["id"], [("return/label.pdf", label, "application/pdf; charset=binary")]
    )
    assert payload["userErrors"] == []
    (attachment,) = payload["comment"]["attachments"]
    assert attachment["filename"] == "label.pdf"
    assert attachment["contentType"] == "application/pdf"  # parameters dropped
    assert attachment["size"] == 700
    assert attachment["sha256"] == hashlib.sha256(label).hexdigest()

    after = await detail(admin.client, ticket["id"])
    assert [a["id"] for a in after["attachments"]] == [attachment["id"]]
    (node,) = [e["node"] for e in after["comments"]["edges"]]
    assert [a["id"] for a in node["attachments"]] == [attachment["id"]]
    assert (await admin.client.run(NODE, {"id": attachment["id"]}))["node"]["filename"] == "label.pdf"


async def test_identical_bytes_are_stored_once(
    admin: Actor, small_server: ServerThread, http: httpx.AsyncClient, tmp_path: Path, rt: Runtime
) -> None:
    content = random_bytes(600)
    sha = hashlib.sha256(content).hexdigest()
    first = await create_with_files(
        http, small_server.url, admin.token, [("a.bin", content, "application/octet-stream")]
    )
    assert first["userErrors"] == []
    second = await comment_with_files(
        http, small_server.url, admin.token, first["ticket"]["id"], [("copy-of-a.bin", content, "image/png")]
    )
    assert second["userErrors"] == []
    other = await create_with_files(
        http, small_server.url, admin.token, [("b.bin", content, "application/octet-stream")], subject="Another"
    )
    assert other["userErrors"] == []

    assert (await counts(rt))["attachments"] == 3
    assert stored_blobs(tmp_path) == [blob_path(tmp_path, sha)]
    assert blob_path(tmp_path, sha).read_bytes() == content

    ticket = await detail(admin.client, first["ticket"]["id"])
    assert [(a["filename"], a["sha256"]) for a in ticket["attachments"]] == [("a.bin", sha), ("copy-of-a.bin", sha)]
    # Each row keeps its own name and type; both serve the same bytes.
    for attachment, content_type in zip(ticket["attachments"], ["application/octet-stream", "image/png"], strict=True):
        response = await http.get(
            f"{small_server.url}{attachment['url']}", headers={"Authorization": f"Bearer {admin.token}"}
        )
        assert response.status_code == 200
        assert response.content == content
        assert response.headers["content-type"] == content_type


# ---------------------------------------------------------------- downloads


async def test_download_serves_the_exact_bytes_with_safe_headers(
    admin: Actor, server: ServerThread, http: httpx.AsyncClient
) -> None:
    name = "退货单 2024-05.pdf"
    content = b"%PDF-1.7\n" + random_bytes(100_000)
    payload = await create_with_files(http, server.url, admin.token, [(name, content, "application/pdf")])
    (attachment,) = (await detail(admin.client, payload["ticket"]["id"]))["attachments"]

    partner_token = await api_token(admin)
    for token in (admin.token, partner_token):
        response = await http.get(f"{server.url}{attachment['url']}", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200
        assert response.content == content
        assert response.headers["content-type"] == "application/pdf"
        assert response.headers["content-length"] == str(len(content))
        assert response.headers["x-content-type-options"] == "nosniff"
        disposition = response.headers["content-disposition"]
        assert disposition == f"attachment; filename*=UTF-8''{quote(name)}"
        assert unquote(disposition.split("''", 1)[1]) == name
        assert hashlib.sha256(response.content).hexdigest() == attachment["sha256"]


async def test_an_html_upload_is_served_as_a_download_never_rendered(
    admin: Actor, server: ServerThread, http: httpx.AsyncClient
) -> None:
    page = b"<html><script>alert(document.cookie)</script></html>"
    payload = await create_with_files(http, server.url, admin.token, [("page.html", page, "text/html")])
    (attachment,) = (await detail(admin.client, payload["ticket"]["id"]))["attachments"]
    response = await http.get(f"{server.url}{attachment['url']}", headers={"Authorization": f"Bearer {admin.token}"})
    assert response.status_code == 200
    assert response.content == page
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_download_needs_a_caller_who_may_see_the_ticket(
    admin: Actor,
    server: ServerThread,
    http: httpx.AsyncClient,
    make_actor: MakeActor,
    make_group: MakeGroup,
    rt: Runtime,
) -> None:
    content = random_bytes(256)
    payload = await create_with_files(http, server.url, admin.token, [("photo.jpg", content, "image/jpeg")])
    ticket_id = payload["ticket"]["id"]
    (attachment,) = (await detail(admin.client, ticket_id))["attachments"]
    url = f"{server.url}{attachment['url']}"

    response = await http.get(url)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert content not in response.content
    assert (await http.get(url, headers={"Authorization": "Bearer hds_forged"})).status_code == 401
    assert (await http.get(url, headers={"Authorization": f"Basic {admin.token}"})).status_code == 401

    group = await make_group("物流部")
    outsider = await make_actor(AgentRole.AGENT)
    member = await make_actor(AgentRole.AGENT, groups=[group])
    outsider_response = await http.get(url, headers={"Authorization": f"Bearer {outsider.token}"})
    assert outsider_response.status_code == 404
    assert content not in outsider_response.content
    # Exactly what an unknown attachment looks like.
    as_admin = {"Authorization": f"Bearer {admin.token}"}
    unknown = await http.get(f"{server.url}/attachments/{ids.encode('Attachment', 987654)}", headers=as_admin)
    assert (unknown.status_code, unknown.json()) == (outsider_response.status_code, outsider_response.json())
    garbage = await http.get(f"{server.url}/attachments/not-an-id", headers=as_admin)
    assert garbage.status_code == 404

    assert (await http.get(url, headers={"Authorization": f"Bearer {member.token}"})).status_code == 404
    async with rt.engine.begin() as conn:
        await conn.execute(
            update(tables.tickets)
            .where(tables.tickets.c.id == ids.decode_as(ticket_id, "Ticket"))
            .values(group_id=group.id)
        )
    allowed = await http.get(url, headers={"Authorization": f"Bearer {member.token}"})
    assert allowed.status_code == 200
    assert allowed.content == content
    assert (await http.get(url, headers={"Authorization": f"Bearer {outsider.token}"})).status_code == 404


async def test_a_file_on_an_internal_note_is_hidden_from_api_tokens(
    admin: Actor, server: ServerThread, http: httpx.AsyncClient
) -> None:
    ticket = (await admin.client.mutate(CREATE, {"input": ticket_input()}))["ticket"]
    public_bytes, internal_bytes = random_bytes(300), random_bytes(300)
    public = await comment_with_files(
        http, server.url, admin.token, ticket["id"], [("receipt.png", public_bytes, "image/png")]
    )
    internal = await comment_with_files(
        http,
        server.url,
        admin.token,
        ticket["id"],
        [("fraud-check.png", internal_bytes, "image/png")],
        visibility="INTERNAL",
        body="Fraud check screenshot.",
    )
    (public_file,) = public["comment"]["attachments"]
    (internal_file,) = internal["comment"]["attachments"]

    partner_token = await api_token(admin)
    partner = admin.client.as_(partner_token)
    seen = await detail(partner, ticket["id"])
    assert [a["id"] for a in seen["attachments"]] == [public_file["id"]]
    # Not even its name, which would otherwise travel in the ATTACHMENT_ADDED event.
    assert "fraud-check" not in json.dumps(seen, ensure_ascii=False)
    assert (await partner.run(NODE, {"id": internal_file["id"]}))["node"] is None
    assert (await partner.run(NODE, {"id": public_file["id"]}))["node"]["filename"] == "receipt.png"

    as_partner = {"Authorization": f"Bearer {partner_token}"}
    hidden = await http.get(f"{server.url}{internal_file['url']}", headers=as_partner)
    assert hidden.status_code == 404
    assert internal_bytes not in hidden.content
    shown = await http.get(f"{server.url}{public_file['url']}", headers=as_partner)
    assert (shown.status_code, shown.content) == (200, public_bytes)

    # Logged in, the same admin sees and downloads both.
    logged_in = await detail(admin.client, ticket["id"])
    assert [a["id"] for a in logged_in["attachments"]] == [public_file["id"], internal_file["id"]]
    response = await http.get(f"{server.url}{internal_file['url']}", headers={"Authorization": f"Bearer {admin.token}"})
    assert (response.status_code, response.content) == (200, internal_bytes)


# ---------------------------------------------------------------- size limit


async def test_a_file_over_the_limit_is_refused_and_nothing_is_written(
    admin: Actor, small_server: ServerThread, http: httpx.AsyncClient, tmp_path: Path, rt: Runtime
) -> None:
    before = await counts(rt)
    too_big = random_bytes(SMALL_LIMIT + 1)
    payload = await create_with_files(http, small_server.url, admin.token, [("big.bin", too_big, "image/png")])
    assert payload["ticket"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["input", "attachments", "0"], "INVALID_INPUT")
    ]
    assert str(SMALL_LIMIT) in payload["userErrors"][0]["message"]

    # The second of two files is named by its index; the first, fine on its own, is not kept either.
    fine = random_bytes(SMALL_LIMIT)
    payload = await create_with_files(
        http, small_server.url, admin.token, [("ok.bin", fine, "image/png"), ("big.bin", too_big, "image/png")]
    )
    assert payload["ticket"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["input", "attachments", "1"], "INVALID_INPUT")
    ]
    assert await counts(rt) == before
    assert hashlib.sha256(too_big).hexdigest() not in {p.name for p in stored_blobs(tmp_path)}

    # Exactly at the limit is accepted.
    ticket = (await create_with_files(http, small_server.url, admin.token, [("ok.bin", fine, "image/png")]))["ticket"]
    assert ticket is not None
    at_limit = await counts(rt)

    refused = await comment_with_files(
        http, small_server.url, admin.token, ticket["id"], [("big.bin", too_big, "image/png")]
    )
    assert refused["comment"] is None
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [(["attachments", "0"], "INVALID_INPUT")]
    assert await counts(rt) == at_limit
    assert [p.name for p in stored_blobs(tmp_path)] == [hashlib.sha256(fine).hexdigest()]
    after = await detail(admin.client, ticket["id"])
    assert after["comments"]["totalCount"] == 0
    assert [a["filename"] for a in after["attachments"]] == ["ok.bin"]
