"""A sign-in submitted while a page is still fetching its .graphql documents waits for them.

On a slow network (or a busy CI machine) the form can be submitted before the documents have
arrived; the page used to send a request with no query and show the server's 400 as a failed
sign-in. Here every .graphql file is held back for a second and the form is sent at once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from playwright.async_api import expect

from tests.conftest import PASSWORD, Actor
from tests.e2e.conftest import BrowserPage
from tests.support import ServerThread

pytestmark = pytest.mark.slow

HOLD_SECONDS = 1.0


@pytest.mark.parametrize(
    ("path", "signed_in"),
    [("console", "#workspace"), ("wallboard", "#board"), ("reports", "#reports")],
)
async def test_signing_in_before_the_documents_arrive_waits_for_them(
    path: str, signed_in: str, admin: Actor, server: ServerThread, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    held: list[str] = []

    async def hold_back(route: Any) -> None:
        held.append(route.request.url)
        await asyncio.sleep(HOLD_SECONDS)
        await route.continue_()

    await page.route("**/*.graphql", hold_back)
    response = await page.goto(f"{server.url}/examples/{path}/")
    assert response.ok
    await page.fill("input[name=email]", admin.agent.email)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("#login-form button[type=submit]")
    await expect(page.locator(signed_in)).to_be_visible(timeout=10_000)
    await expect(page.locator("#login-error")).to_have_text("")
    # The submit happened while the documents were held: the hold is what this test is about.
    assert any(url.endswith("Login.graphql") for url in held)
    assert browser_page.problems == []
