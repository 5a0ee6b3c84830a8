"""frontend_examples/ is served at /examples/ with security headers; the API is left as it was."""

from __future__ import annotations

import httpx

from tests.support import ServerThread, load_document

PAGE_HEADERS = {
    "content-security-policy": "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


async def test_the_wallboard_page_and_its_documents_are_served_with_security_headers(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    page = await http.get(f"{server.url}/examples/wallboard/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert {name: page.headers.get(name) for name in PAGE_HEADERS} == PAGE_HEADERS
    assert '<script type="module" src="./wallboard.js">' in page.text

    script = await http.get(f"{server.url}/examples/wallboard/wallboard.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    # The page sends the very documents the tests run.
    document = await http.get(f"{server.url}/examples/wallboard/WallboardSubscription.graphql")
    assert document.text == load_document("wallboard/WallboardSubscription.graphql")

    missing = await http.get(f"{server.url}/examples/wallboard/nothing-here.js")
    assert missing.status_code == 404 and missing.headers["x-frame-options"] == "DENY"
    redirect = await http.get(f"{server.url}/examples/wallboard")
    assert redirect.status_code in (301, 307) and redirect.headers["location"].endswith("/examples/wallboard/")


async def test_the_api_does_not_get_the_pages_headers(server: ServerThread, http: httpx.AsyncClient) -> None:
    health = await http.get(f"{server.url}/healthz")
    assert "content-security-policy" not in health.headers
