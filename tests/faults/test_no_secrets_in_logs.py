"""No secret and no customer contact detail reaches the service's logs.

A real `helpdesk serve` with JSON logs at DEBUG (everything any library logs) and at INFO (the
default) goes through logins with good and bad passwords, agent creation, API tokens made and
used, customers with an email and a phone number, bad input, a bad credential, and internal
errors (the database restarting under requests: the unexpected-error path logs a traceback).
Then its whole stdout and stderr is searched for every password, session token, API token,
email address and phone number used: none may appear.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg2
import pytest

from tests.faults.harness import ADMIN_PASSWORD, create_admin, login, wait_until_healthy
from tests.private_servers import PrivatePostgres, private_postgres
from tests.processes import start_server
from tests.support import GraphQLClient, load_document

pytestmark = pytest.mark.slow


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        create_admin(server.url)
        yield server


def secrets() -> dict[str, str]:
    tag = uuid.uuid4().hex[:10]
    return {
        "agent password": f"Agent-pass-{tag}!",
        "wrong password": f"Wrong-guess-{tag}?",
        "agent email": f"agent.{tag}@example.com",
        "customer email": f"secret.customer.{tag}@example.cn",
        "customer phone": f"+86 138 {tag[:4].translate(str.maketrans('abcdef', '123456'))} 7{tag[4:7].translate(str.maketrans('abcdef', '123456'))}",  # noqa: E501
        "second email": f"second.{tag}@example.cn",
        "malformed email": f"not-an-email-{tag}",
        "bad bearer": f"bad-token-{tag}",
    }


async def exercise(base_url: str, postgres: PrivatePostgres, found: dict[str, str]) -> None:
    """Everything a day at the help desk logs; the tokens it gets are added to `found`."""
    async with httpx.AsyncClient(timeout=30) as http:
        admin_token, _ = await login(http, base_url)
        found["admin session token"] = admin_token
        admin = GraphQLClient(base_url, http, admin_token)
        created = await admin.mutate(
            "console/admin/CreateAgent.graphql",
            {"input": {"name": "Ann", "email": found["agent email"], "password": found["agent password"]}},
        )
        agent_id = created["agent"]["id"]
        anonymous = GraphQLClient(base_url, http)
        good = await anonymous.mutate(
            "console/Login.graphql", {"email": found["agent email"], "password": found["agent password"]}
        )
        found["agent session token"] = good["token"]
        bad = await anonymous.run(
            "console/Login.graphql", {"email": found["agent email"], "password": found["wrong password"]}
        )
        assert bad["login"]["token"] is None and bad["login"]["userErrors"]
        token = await admin.mutate("console/admin/CreateApiToken.graphql", {"name": "shop", "agentId": agent_id})
        found["API token"] = token["token"]
        partner = GraphQLClient(base_url, http, token["token"])
        await partner.mutate(
            "partner/CreateTicket.graphql",
            {
                "idempotencyKey": "order-1",
                "input": {
                    "subject": "Refund",
                    "description": "Please refund.",
                    "channel": "API",
                    "customer": {"email": found["customer email"], "phone": found["customer phone"]},
                },
            },
        )
        await partner.run("console/TicketList.graphql", {"first": 5})
        await admin.mutate(
            "console/CreateCustomer.graphql",
            {"input": {"name": "李雷", "email": found["second email"], "phone": found["customer phone"] + "9"}},
        )
        found["second phone"] = found["customer phone"] + "9"
        # Bad input: a userError, a GraphQL validation error, a syntax error, a bad credential.
        refused = await admin.run(
            "console/CreateTicket.graphql",
            {
                "input": {
                    "subject": "x",
                    "description": "x",
                    "channel": "EMAIL",
                    "customer": {"email": found["malformed email"]},
                }
            },
        )
        assert refused["createTicket"]["userErrors"]
        invalid = await admin.post(load_document("console/Login.graphql"), {"email": found["customer email"]})
        assert invalid.get("errors")
        await http.post(f"{base_url}/graphql", content=f'{{"query": "{{ {found["customer email"]}', headers={})
        await GraphQLClient(base_url, http, found["bad bearer"]).post("{ me { id } }")
        # Internal errors: the database goes away under requests that carry every kind of secret.
        await asyncio.to_thread(postgres.stop, "immediate")
        for token_used, query, variables in [
            (None, "console/Login.graphql", {"email": found["agent email"], "password": found["agent password"]}),
            (found["API token"], "partner/TicketStatus.graphql", {"id": "VGlja2V0OjE"}),
            (admin_token, "console/CreateTicket.graphql", {"input": ticket_for(found)}),
        ]:
            headers = {"Authorization": f"Bearer {token_used}"} if token_used else {}
            body = {"query": load_document(query), "variables": variables}
            response = await http.post(f"{base_url}/graphql", json=body, headers=headers)
            assert response.status_code in (200, 503), response.text
        # A statement refused by the database (tables locked, lock_timeout on the sessions the
        # restart gives the server): the error carries the statement and its parameters.
        await asyncio.to_thread(postgres.start)
        await wait_until_healthy(http, base_url, 60)
        with locked_out(postgres):
            for token_used, query, variables in [
                (None, "console/Login.graphql", {"email": found["agent email"], "password": found["agent password"]}),
                (admin_token, "console/CreateTicket.graphql", {"input": ticket_for(found)}),
            ]:
                # Not kept alive: the server closes a connection whose request ended in a 500.
                headers = {"Connection": "close"} | ({"Authorization": f"Bearer {token_used}"} if token_used else {})
                body = {"query": load_document(query), "variables": variables}
                response = await http.post(f"{base_url}/graphql", json=body, headers=headers)
                # A lock timeout is not the database being away: an internal error, without its text.
                assert response.status_code in (200, 500), response.text
                assert "lock" not in response.text, response.text
        await admin.mutate("console/CreateTicket.graphql", {"input": ticket_for(found)})


@contextlib.contextmanager
def locked_out(postgres: PrivatePostgres) -> Iterator[None]:
    """Every table the requests above touch is locked; the server's sessions give up waiting
    after 200 ms (lock_timeout, set for the database; its pool's sessions are new since the
    restart)."""
    conn = psycopg2.connect(host="127.0.0.1", port=postgres.port, user="postgres", dbname="helpdesk")
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute("ALTER DATABASE helpdesk SET lock_timeout = '200ms'")
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = 'helpdesk' AND pid <> pg_backend_pid()"
            )
        conn.autocommit = False
        with conn.cursor() as cursor:
            cursor.execute("LOCK TABLE agents, sessions, api_tokens, customers, tickets IN ACCESS EXCLUSIVE MODE")
        yield
    finally:
        conn.rollback()
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute("ALTER DATABASE helpdesk RESET lock_timeout")
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = 'helpdesk' AND pid <> pg_backend_pid()"
            )
        conn.close()


def ticket_for(found: dict[str, str]) -> dict[str, Any]:
    return {
        "subject": "Call back",
        "description": "Customer asked for a call back.",
        "channel": "PHONE",
        "customer": {"email": found["customer email"], "phone": found["customer phone"]},
    }


@pytest.mark.parametrize("level", ["DEBUG", "INFO"])
async def test_no_password_token_email_or_phone_in_the_logs(postgres: PrivatePostgres, level: str) -> None:
    found = secrets()
    found["admin password"] = ADMIN_PASSWORD
    with tempfile.TemporaryDirectory() as data_dir:
        server = start_server(postgres.url, Path(data_dir), {"HELPDESK_LOG_LEVEL": level, "BROADCAST_URL": ""})
        try:
            server.wait_healthy(60)
            await exercise(server.url, postgres, found)
        finally:
            server.stop()
            output = server.output()
            server.log_path.unlink(missing_ok=True)
    assert '"level":"ERROR"' in output  # the internal errors were logged (with their tracebacks)
    if level == "DEBUG":
        assert '"level":"DEBUG"' in output
    leaked = {name: value for name, value in found.items() if value in output}
    assert not leaked, f"found in the {level} logs: {sorted(leaked)}"
