"""frontend_examples/ is served at /examples/ with security headers; the API is left as it was."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.processes import running_servers
from tests.support import EXAMPLES, ServerThread, load_document

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


async def test_the_root_leads_to_a_landing_page_that_links_every_example_and_graphiql(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    root = await http.get(f"{server.url}/")
    assert root.status_code == 307 and root.headers["location"] == "/examples/"
    landing = await http.get(f"{server.url}/examples/")
    assert landing.status_code == 200 and landing.headers["content-type"].startswith("text/html")
    assert {name: landing.headers.get(name) for name in PAGE_HEADERS} == PAGE_HEADERS
    links = set(re.findall(r'href="([^"]+)"', landing.text))
    assert {"./console/", "./wallboard/", "./reports/", "/graphql"} <= links
    assert "<script" not in landing.text  # a static page: nothing for the CSP to refuse
    # GraphiQL stays where it was, for browsers and for API clients.
    graphiql = await http.get(f"{server.url}/graphql", headers={"Accept": "text/html"})
    assert graphiql.status_code == 200 and "graphiql" in graphiql.text.lower()
    answer = await http.post(f"{server.url}/graphql", json={"query": "{ __typename }"})
    assert answer.json() == {"data": {"__typename": "Query"}}


@pytest.mark.slow
async def test_helpdesk_serve_prints_the_addresses_a_newcomer_follows(
    database_url: str, http: httpx.AsyncClient
) -> None:
    with running_servers(database_url, 1) as (served,):
        printed = served.output()
        for line in ("GraphiQL:  {}/graphql", "Examples:  {}/examples/", "Console:   {}/examples/console/"):
            assert line.format(served.url) in printed, printed
        for link in re.findall(rf"{re.escape(served.url)}/\S*", printed):
            page = await http.get(link, headers={"Accept": "text/html"}, follow_redirects=True)
            assert page.status_code == 200, link


async def test_the_console_page_its_modules_and_every_document_it_sends_are_served(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    page = await http.get(f"{server.url}/examples/console/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert {name: page.headers.get(name) for name in PAGE_HEADERS} == PAGE_HEADERS
    assert '<script type="module" src="./console.js">' in page.text
    assert "<script>" not in page.text  # no inline script: the CSP would refuse it

    script = await http.get(f"{server.url}/examples/console/console.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert {name: script.headers.get(name) for name in PAGE_HEADERS} == PAGE_HEADERS
    # It shares the pages' common module and the wallboard's websocket client rather than copies of them.
    imports = re.findall(r'^import .* from "([^"]+)";$', script.text, re.MULTILINE)
    assert imports == ["../shared/graphql-page.js", "../wallboard/graphql-transport-ws.js", "./labels.js"]
    for module in imports:
        served = await http.get(f"{server.url}/examples/console/{module}")
        assert served.status_code == 200 and "javascript" in served.headers["content-type"]
        assert {name: served.headers.get(name) for name in PAGE_HEADERS} == PAGE_HEADERS

    # Every document the console fetches is served, byte for byte the file the tests run.
    files = re.findall(r'^  \w+: "([\w/]+\.graphql)",$', script.text, re.MULTILINE)
    assert "Queue.graphql" in files and "AddComment.graphql" in files and len(files) >= 15
    for file in files:
        assert (EXAMPLES / "console" / file).is_file(), file
        document = await http.get(f"{server.url}/examples/console/{file}")
        assert document.status_code == 200 and document.text == load_document(f"console/{file}")


async def test_the_api_does_not_get_the_pages_headers(server: ServerThread, http: httpx.AsyncClient) -> None:
    health = await http.get(f"{server.url}/healthz")
    assert "content-security-policy" not in health.headers
