"""Finding 8: uploads were stored before the permission check, and refused ones stayed on disk.
Now a request is checked (permission, the ticket exists and is visible) before any byte is
received; whatever a refused request received is discarded; bytes that no row references are
swept an hour after they were written."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.background import blob_sweep_loop
from app.domain.enums import Channel
from app.domain.lifecycle import Action
from app.domain.records import GroupRecord
from app.services import assignment, lifecycle
from app.services import tickets as ticket_service
from app.services.attachments import sweep_unreferenced_blobs
from app.services.customers import CustomerRef
from app.services.runtime import Runtime
from app.settings import Settings
from app.storage import IncomingFile, LocalBlobStore
from schema import ids
from tests.api.test_attachments import CREATE, comment_with_files, multipart, ticket_input
from tests.conftest import Actor
from tests.support import ServerThread

SMALL_LIMIT = 1024
MakeActor = Callable[..., Awaitable[Actor]]
MakeGroup = Callable[..., Awaitable[GroupRecord]]
SUB_TICKET = "console/CreateSubTicket.graphql"


async def new_ticket(rt: Runtime, admin: Actor, uploads: list[IncomingFile] | None = None) -> int:
    record, _ = await ticket_service.create_ticket(
        rt,
        admin.principal,
        ticket_service.NewTicket(
            subject="杯子碎了",
            description="The mug arrived broken.",
            channel=Channel.EMAIL,
            customer=CustomerRef(email="liu.yang@example.cn"),
            attachments=uploads or [],
        ),
    )
    return record.id


def everything_under(root: Path) -> list[Path]:
    """Every file the store holds, staged uploads included."""
    return sorted(p for p in (root / "attachments").rglob("*") if p.is_file())


@pytest.fixture
async def small_server(settings: Settings, tmp_path: Path) -> AsyncIterator[ServerThread]:
    """A server on the test database with a 1 KiB upload limit and its own blob directory."""
    assert settings.database_url is not None
    thread = ServerThread(settings.model_copy(update={"max_attachment_bytes": SMALL_LIMIT, "data_dir": tmp_path}))
    thread.start()
    try:
        yield thread
    finally:
        thread.stop()


async def test_a_comment_on_a_missing_or_hidden_ticket_is_refused_before_any_byte_is_read(
    make_actor: MakeActor,
    make_group: MakeGroup,
    admin: Actor,
    rt: Runtime,
    small_server: ServerThread,
    http: httpx.AsyncClient,
    tmp_path: Path,
) -> None:
    agent = await make_actor(groups=[await make_group()])
    hidden = await new_ticket(rt, admin)
    await assignment.assign_ticket(rt, admin.principal, hidden, None, (await make_group()).id, None)
    # Over the size limit: had the bytes been read first, the answer would name the file's size.
    too_big = os.urandom(SMALL_LIMIT * 4)
    for ticket_id in (ids.encode("Ticket", 999_999), ids.encode("Ticket", hidden)):
        payload = await comment_with_files(
            http, small_server.url, agent.token, ticket_id, [("big.bin", too_big, "image/png")]
        )
        assert payload["comment"] is None
        assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(["ticketId"], "NOT_FOUND")]
    assert everything_under(tmp_path) == []


async def test_a_sub_ticket_under_a_hidden_parent_stores_nothing(
    make_actor: MakeActor, make_group: MakeGroup, small_server: ServerThread, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    agent = await make_actor(groups=[await make_group()])
    variables = {"parentId": ids.encode("Ticket", 999_999), "input": ticket_input(attachments=[None])}
    files = {"variables.input.attachments.0": ("a.txt", os.urandom(SMALL_LIMIT * 2), "text/plain")}
    data = await multipart(http, small_server.url, agent.token, SUB_TICKET, variables, files)
    assert [(e["field"], e["code"]) for e in data["createSubTicket"]["userErrors"]] == [(["parentId"], "NOT_FOUND")]
    assert everything_under(tmp_path) == []


async def test_a_request_refused_after_its_files_arrived_keeps_none_of_them(
    admin: Actor, rt: Runtime, small_server: ServerThread, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    ticket = await new_ticket(rt, admin)
    for action in (Action.START, Action.RESOLVE, Action.CLOSE):
        await lifecycle.transition(rt, admin.principal, ticket, action, resolution="Refunded.")

    # A public reply on a CLOSED ticket is refused once the ticket is locked: the files had arrived.
    fine = os.urandom(SMALL_LIMIT)
    closed = ids.encode("Ticket", ticket)
    payload = await comment_with_files(http, small_server.url, admin.token, closed, [("a.bin", fine, "image/png")])
    assert [e["code"] for e in payload["userErrors"]] == ["INVALID_TRANSITION"]
    assert everything_under(tmp_path) == []

    # Two files, the second over the limit: the first is not kept either.
    variables = {"input": ticket_input(attachments=[None, None])}
    files = {
        "variables.input.attachments.0": ("ok.bin", fine, "image/png"),
        "variables.input.attachments.1": ("big.bin", os.urandom(SMALL_LIMIT + 1), "image/png"),
    }
    data = await multipart(http, small_server.url, admin.token, CREATE, variables, files)
    assert [e["field"] for e in data["createTicket"]["userErrors"]] == [["input", "attachments", "1"]]
    assert everything_under(tmp_path) == []


# ---------------------------------------------------------------- the sweep


def upload(content: bytes) -> IncomingFile:
    chunks = [content]

    async def read(size: int) -> bytes:
        return chunks.pop() if chunks else b""

    return IncomingFile(filename="x.bin", content_type="application/octet-stream", read=read)


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


@pytest.fixture
def store_rt(engine: AsyncEngine, settings: Settings, tmp_path: Path) -> Runtime:
    return Runtime(engine=engine, settings=settings.model_copy(update={"data_dir": tmp_path}))


async def test_the_sweep_removes_old_unreferenced_bytes_and_nothing_else(
    store_rt: Runtime, admin: Actor, tmp_path: Path
) -> None:
    store = store_rt.blobs
    assert isinstance(store, LocalBlobStore)
    # Referenced: an attachment row points at these bytes (written through the real service).
    referenced = os.urandom(64)
    sha_referenced = hashlib.sha256(referenced).hexdigest()
    await new_ticket(store_rt, admin, [upload(referenced)])
    # Orphans: published bytes whose transaction never committed, and an abandoned staged upload.
    orphan = await store.stage(upload(os.urandom(64)), SMALL_LIMIT, ["f"])
    await store.publish(orphan)
    young = await store.stage(upload(os.urandom(64)), SMALL_LIMIT, ["f"])
    await store.publish(young)
    abandoned = await store.stage(upload(os.urandom(64)), SMALL_LIMIT, ["f"])
    for path in everything_under(tmp_path):
        if path.name != young.file.sha256:
            age(path, 2 * 3600)

    removed = await sweep_unreferenced_blobs(store_rt)

    assert removed == 1
    left = {p.name for p in everything_under(tmp_path)}
    assert left == {sha_referenced, young.file.sha256}
    assert not await asyncio.to_thread(os.path.exists, abandoned.handle)


async def test_the_sweep_keeps_bytes_an_upload_publishes_again_meanwhile(store_rt: Runtime, tmp_path: Path) -> None:
    store = store_rt.blobs
    assert isinstance(store, LocalBlobStore)
    content = os.urandom(64)
    first = await store.stage(upload(content), SMALL_LIMIT, ["f"])
    await store.publish(first)
    (old,) = everything_under(tmp_path)
    age(old, 2 * 3600)
    cutoff = time.time() - 3600
    # The same bytes arrive again after the sweep listed them as old and unreferenced.
    again = await store.stage(upload(content), SMALL_LIMIT, ["f"])
    await store.publish(again)

    assert await store.remove_if_before(first.file.sha256, cutoff) is False
    assert [p.name for p in everything_under(tmp_path)] == [first.file.sha256]


async def test_the_worker_loop_sweeps(store_rt: Runtime, tmp_path: Path) -> None:
    store = store_rt.blobs
    orphan = await store.stage(upload(os.urandom(64)), SMALL_LIMIT, ["f"])
    await store.publish(orphan)
    age(everything_under(tmp_path)[0], 2 * 3600)
    loop = asyncio.create_task(blob_sweep_loop(store_rt, every=0.05))
    try:
        for _ in range(100):
            if not everything_under(tmp_path):
                break
            await asyncio.sleep(0.05)
    finally:
        loop.cancel()
    assert everything_under(tmp_path) == []
