"""GraphiQL (GET /graphql in a browser) with no internet: its scripts and styles come from the
package (app/static/graphiql/), so with every request off this machine refused, a newcomer still
types a query, runs it and reads the answer, and the page asks nothing of any other host."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import BrowserPage
from tests.support import ServerThread

pytestmark = pytest.mark.slow


async def test_graphiql_runs_a_query_offline(server: ServerThread, browser_page: BrowserPage) -> None:
    page = browser_page.page
    refused: list[str] = []

    async def loopback_only(route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            await route.continue_()
        else:
            refused.append(route.request.url)
            await route.abort("internetdisconnected")

    await page.route("**/*", loopback_only)
    response = await page.goto(f"{server.url}/graphql")
    assert response.ok
    assert response.headers["content-security-policy"].startswith("default-src 'self'")
    assert response.headers["x-frame-options"] == "DENY"

    editor = page.locator(".graphiql-query-editor .CodeMirror")
    await expect(editor).to_be_visible(timeout=20_000)
    await editor.click()
    await page.keyboard.press("Control+A")
    await page.keyboard.press("Delete")
    await page.keyboard.type("{ __typename }")
    await page.keyboard.press("Control+Enter")
    await expect(page.locator(".result-window")).to_contain_text('"__typename": "Query"', timeout=10_000)

    assert refused == []
    assert browser_page.problems == []
