"""The example frontends (frontend_examples/) served as static files, with security headers."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import app

# The pages load only their own scripts and documents and talk only to this server, over
# HTTP and websockets; nothing may frame them.
EXAMPLE_PAGE_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def examples_directory() -> Path | None:
    """frontend_examples/ beside the package in a source checkout (editable install); None when
    the package was installed without it, so the app serves no example pages."""
    folder = Path(app.__file__).resolve().parents[1] / "frontend_examples"
    return folder if folder.is_dir() else None


class SecurityHeaders:
    """Wraps an ASGI app so that every HTTP response it starts carries `headers`."""

    def __init__(self, inner: ASGIApp, headers: Mapping[str, str] = EXAMPLE_PAGE_HEADERS) -> None:
        self.inner = inner
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    response_headers[name] = value
            await send(message)

        try:
            await self.inner(scope, receive, send_with_headers)
        except HTTPException as exc:  # StaticFiles raises its 404s: answer them here, headers and all
            response = PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)
            await response(scope, receive, send_with_headers)
