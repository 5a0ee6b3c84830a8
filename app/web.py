"""Plain HTTP endpoints beside /graphql: health, and attachment downloads."""

from __future__ import annotations

import logging
from urllib.parse import quote

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import NoMatchFound

from app.auth.policy import may_read_attachment
from app.auth.tokens import bearer
from app.db.repositories import tickets as ticket_reads
from app.domain import global_ids
from app.services import auth as auth_service
from app.services.runtime import Runtime

log = logging.getLogger("helpdesk")


async def healthz(request: Request) -> JSONResponse:
    rt: Runtime = request.app.state.runtime
    try:
        async with rt.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # the point of a health check is to report, not raise
        log.warning("health check: database unreachable: %s", type(exc).__name__)
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


async def root(request: Request) -> RedirectResponse:
    """The example pages' landing page when they are served (it links GraphiQL too), else GraphiQL."""
    try:
        return RedirectResponse(str(request.app.url_path_for("examples", path="/")))
    except NoMatchFound:
        return RedirectResponse("/graphql")


async def download_attachment(request: Request) -> Response:
    """The bytes of an attachment, to a caller who may see its ticket (and, for a file on an
    INTERNAL note, may read internal notes). Anything else is 404, so IDs leak nothing."""
    rt: Runtime = request.app.state.runtime
    token = bearer(request.headers.get("authorization"))
    principal = await auth_service.authenticate(rt, token) if token else None
    if principal is None:
        return JSONResponse(
            {"error": "authentication required"}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )
    not_found = JSONResponse({"error": "not found"}, status_code=404)
    pk = global_ids.decode_as(request.path_params["attachment_id"], "Attachment")
    if pk is None:
        return not_found
    async with rt.engine.connect() as conn:
        attachment = (await ticket_reads.attachments_by_ids(conn, [pk])).get(pk)
        if attachment is None or not await ticket_reads.visible_ticket_ids(conn, principal, [attachment.ticket_id]):
            return not_found
        if attachment.comment_id is not None:
            comment = (await ticket_reads.comments_by_ids(conn, [attachment.comment_id])).get(attachment.comment_id)
            if comment is None or not may_read_attachment(principal, comment.visibility):
                return not_found
    headers = {
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(attachment.filename)}",
        "Content-Length": str(attachment.size),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, max-age=0",
        "ETag": f'"{attachment.sha256}"',
    }
    return StreamingResponse(rt.blobs.read(attachment.sha256), media_type=attachment.content_type, headers=headers)
