"""Headless Chromium (Debian's `chromium` package) driven by Playwright, for the example pages.

Playwright's own browser download does not work here (nor is it wanted): the tests use the
system Chromium, and fail, not skip, when it is missing, so CI cannot pass without them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling Google's hosts, which this
# machine's closed network refuses. Playwright gives every launch a fresh, empty profile.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
# Live updates wait for the event log's horizon, which is cluster-wide: a long write transaction in
# any database of the same PostgreSQL server (a benchmark's bulk load, say) holds them back.
LIVE = 30_000
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


@dataclass
class BrowserPage:
    """A page in a fresh browser context, and what went wrong in it (console errors, exceptions)."""

    page: Any
    problems: list[str] = field(default_factory=list)


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium "
            "(`apt-get install -y chromium`; .ci/run installs it)",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Any]:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.fail("playwright is not installed: `pip install -e '.[dev]'`", pytrace=False)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def browser_page(browser: Any) -> AsyncIterator[BrowserPage]:
    context = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    opened = BrowserPage(page)
    page.on("console", lambda m: opened.problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: opened.problems.append(str(error)))
    try:
        yield opened
    finally:
        await context.close()
