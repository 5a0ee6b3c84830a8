"""Plain HTTP endpoints beside /graphql: health, attachment downloads, and GraphiQL's page and files."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import NoMatchFound
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from app.auth.policy import may_read_attachment
from app.auth.tokens import CUSTOMER_SESSION_PREFIX, bearer
from app.db.repositories import tickets as ticket_reads
from app.demo.sent_mail import sent_mail
from app.domain import global_ids
from app.domain.principal import CredentialKind, Viewer
from app.services import auth as auth_service
from app.services import customer_sign_in
from app.services.runtime import Runtime
from app.static_site import SecurityHeaders

log = logging.getLogger("helpdesk")

# GraphiQL 3.8.3 with React 18.2.0, vendored from their npm releases (app/static/graphiql/README.md):
# served from the package, so GraphiQL works without internet access.
STATIC_DIRECTORY = Path(__file__).resolve().parent / "static"
# GraphiQL loads only this server's files and talks only to this server. Its stylesheet carries
# its fonts and icons as data: URLs, and its editors set inline styles.
GRAPHIQL_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


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
    principal: Viewer | None = None
    if token and token.startswith(CUSTOMER_SESSION_PREFIX):
        # A customer signed in: files of their own tickets, on the ticket or on PUBLIC comments.
        principal = await customer_sign_in.authenticate_customer(rt, token)
    elif token:
        principal = await auth_service.authenticate(rt, token)
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


async def demo_sent_mail(request: Request) -> Response:
    """What the demo's mail sink caught (app.demo.sent_mail), for signed-in agents only: it is
    mail to customers. Exists only when `serve --demo` set HELPDESK_DEMO_MAIL_DIR."""
    rt: Runtime = request.app.state.runtime
    token = bearer(request.headers.get("authorization"))
    principal = await auth_service.authenticate(rt, token) if token else None
    if principal is None or principal.credential is not CredentialKind.SESSION:
        return JSONResponse(
            {"error": "authentication required"}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )
    spool = rt.settings.demo_mail_dir
    assert spool is not None  # the route exists only with it
    messages = await asyncio.to_thread(sent_mail, spool)
    return JSONResponse({"messages": messages}, headers={"Cache-Control": "no-store"})


@cache
def _graphiql_html() -> str:
    return (STATIC_DIRECTORY / "graphiql" / "graphiql.html").read_text(encoding="utf-8")


def graphiql_page() -> HTMLResponse:
    """GraphiQL's page (what GET /graphql shows a browser), loading its scripts from /static."""
    return HTMLResponse(_graphiql_html(), headers=dict(GRAPHIQL_HEADERS))


def static_files() -> ASGIApp:
    """The package's own browser files (app/static/, mounted at /static), with GraphiQL's headers."""
    return SecurityHeaders(StaticFiles(directory=STATIC_DIRECTORY), GRAPHIQL_HEADERS)
