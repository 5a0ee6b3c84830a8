"""Logging in, bearer tokens, login throttling, partner API tokens, presence and roles,
through the real server and the console's own documents."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import text

from app.domain.enums import AgentRole
from app.services.runtime import Runtime
from schema import ids
from tests.conftest import PASSWORD, Actor
from tests.support import GraphQLClient, load_document

MakeActor = Callable[..., Awaitable[Actor]]

LOGIN = "console/Login.graphql"
ME = "console/Me.graphql"
SET_PRESENCE = "console/SetPresence.graphql"
CUSTOMERS = "console/Customers.graphql"
AGENTS = "console/Agents.graphql"
GROUPS = "console/Groups.graphql"
NODE = "console/Node.graphql"
API_TOKENS = "console/admin/ApiTokens.graphql"
CREATE_API_TOKEN = "console/admin/CreateApiToken.graphql"
REVOKE_API_TOKEN = "console/admin/RevokeApiToken.graphql"
CREATE_AGENT = "console/admin/CreateAgent.graphql"
UPDATE_AGENT = "console/admin/UpdateAgent.graphql"
CREATE_GROUP = "console/admin/CreateGroup.graphql"


def error_codes(result: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in result.get("errors") or []]


async def login(client: GraphQLClient, email: str, password: str) -> dict[str, Any]:
    data = await client.run(LOGIN, {"email": email, "password": password})
    payload: dict[str, Any] = data["login"]
    return payload


async def me_code(client: GraphQLClient) -> list[str]:
    """The error codes `me` answers with for this client's credential."""
    return error_codes(await client.post(load_document(ME)))


async def failure_count(rt: Runtime, subject: str) -> int:
    async with rt.engine.connect() as conn:
        return int(
            (
                await conn.execute(text("SELECT count(*) FROM login_failures WHERE subject = :s"), {"s": subject})
            ).scalar_one()
        )


async def execute_sql(rt: Runtime, sql: str, params: dict[str, Any]) -> None:
    async with rt.engine.begin() as conn:
        await conn.execute(text(sql), params)


# ---------------------------------------------------------------- login and sessions


async def test_login_returns_a_bearer_token_that_me_accepts(anonymous: GraphQLClient, make_actor: MakeActor) -> None:
    agent = await make_actor(AgentRole.SUPERVISOR, name="Sam Supervisor", email="sam@example.com")

    payload = await login(anonymous, "sam@example.com", PASSWORD)

    assert payload["userErrors"] == []
    assert payload["token"]
    assert payload["agent"]["id"] == ids.encode("Agent", agent.agent.id)
    assert payload["agent"]["role"] == "SUPERVISOR"
    me = (await anonymous.as_(payload["token"]).run(ME))["me"]
    assert me["id"] == payload["agent"]["id"]
    assert me["name"] == "Sam Supervisor"
    assert me["email"] == "sam@example.com"


async def test_login_email_is_case_insensitive(anonymous: GraphQLClient, make_actor: MakeActor) -> None:
    await make_actor(email="mixed.case@example.com")

    payload = await login(anonymous, "  Mixed.CASE@Example.COM ", PASSWORD)

    assert payload["userErrors"] == []
    me = (await anonymous.as_(payload["token"]).run(ME))["me"]
    assert me["email"] == "mixed.case@example.com"


async def test_wrong_password_and_unknown_email_are_indistinguishable(
    anonymous: GraphQLClient, make_actor: MakeActor
) -> None:
    await make_actor(email="known@example.com")

    wrong_password = await login(anonymous, "known@example.com", "not the password")
    unknown_email = await login(anonymous, "nobody@example.com", PASSWORD)

    assert wrong_password["token"] is None and wrong_password["agent"] is None
    assert unknown_email["token"] is None and unknown_email["agent"] is None
    assert wrong_password["userErrors"] == unknown_email["userErrors"]
    [error] = wrong_password["userErrors"]
    assert error["code"] == "INVALID_INPUT"


async def test_login_works_even_with_a_stale_authorization_header(
    anonymous: GraphQLClient, make_actor: MakeActor
) -> None:
    # A console with an expired token in its storage must still be able to log in again.
    await make_actor(email="stale@example.com")

    payload = await login(anonymous.as_("hds_stale-token"), "stale@example.com", PASSWORD)

    assert payload["userErrors"] == [] and payload["token"]


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer hds_not-a-real-session", "Bearer garbage", "Bearer hdp_not-a-real-token", "Basic dXNlcjpwYXNz"],
)
async def test_me_without_a_valid_credential_is_unauthenticated(
    anonymous: GraphQLClient, admin: Actor, authorization: str | None
) -> None:
    client = anonymous.as_(None)
    if authorization is not None:
        client.headers["Authorization"] = authorization

    result = await client.post(load_document(ME))

    assert error_codes(result) == ["UNAUTHENTICATED"]
    assert result["data"] is None or result["data"]["me"] is None


# Each mutation a console sends, with variables that would be valid for a logged-in admin.
ANONYMOUS_MUTATIONS = [
    pytest.param("console/CreateCustomer.graphql", {"input": {"name": "Mallory"}}, "customers", id="createCustomer"),
    pytest.param(
        "console/UpdateCustomer.graphql",
        {"id": ids.encode("Customer", 1), "input": {"name": "Mallory"}},
        "customers",
        id="updateCustomer",
    ),
    pytest.param(
        "console/CreateTicket.graphql",
        {"input": {"subject": "s", "description": "d", "channel": "PHONE", "customer": {"email": "m@example.com"}}},
        "tickets",
        id="createTicket",
    ),
    pytest.param(
        "partner/CreateTicket.graphql",
        {
            "input": {"subject": "s", "description": "d", "channel": "API", "customer": {"email": "m@example.com"}},
            "idempotencyKey": "k1",
        },
        "tickets",
        id="partnerCreateTicket",
    ),
    pytest.param(
        CREATE_AGENT,
        {"input": {"name": "Mallory", "email": "mallory@example.com", "password": "long enough password"}},
        "agents",
        id="createAgent",
    ),
    pytest.param(UPDATE_AGENT, {"id": ids.encode("Agent", 1), "input": {"role": "AGENT"}}, "agents", id="updateAgent"),
    pytest.param(CREATE_GROUP, {"input": {"name": "Intruders"}}, "groups", id="createGroup"),
    pytest.param(SET_PRESENCE, {"presence": "ONLINE"}, "agents", id="setPresence"),
    pytest.param(CREATE_API_TOKEN, {"name": "stolen"}, "api_tokens", id="createApiToken"),
    pytest.param(REVOKE_API_TOKEN, {"id": ids.encode("ApiToken", 1)}, "api_tokens", id="revokeApiToken"),
]


@pytest.mark.parametrize(("document", "variables", "table"), ANONYMOUS_MUTATIONS)
async def test_mutations_without_a_token_are_unauthenticated_errors(
    anonymous: GraphQLClient, admin: Actor, rt: Runtime, document: str, variables: dict[str, Any], table: str
) -> None:
    async def snapshot() -> list[Any]:
        async with rt.engine.connect() as conn:
            return [tuple(r) for r in await conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))]

    # Something to update or revoke: customer 1, agent 1 (the admin) and API token 1 exist.
    await admin.client.mutate("console/CreateCustomer.graphql", {"input": {"name": "Existing"}})
    await admin.client.mutate(CREATE_API_TOKEN, {"name": "existing"})
    before = await snapshot()

    result = await anonymous.post(load_document(document), variables)

    assert error_codes(result) == ["UNAUTHENTICATED"]
    assert result["data"] is None  # not a payload with userErrors
    assert await snapshot() == before


async def test_queries_without_a_token_are_unauthenticated(anonymous: GraphQLClient) -> None:
    for document in (CUSTOMERS, AGENTS, GROUPS, API_TOKENS):
        result = await anonymous.post(load_document(document))
        assert error_codes(result) == ["UNAUTHENTICATED"], document
    result = await anonymous.post(load_document(NODE), {"id": ids.encode("Agent", 1)})
    assert error_codes(result) == ["UNAUTHENTICATED"]


async def test_expired_session_is_unauthenticated(anonymous: GraphQLClient, make_actor: MakeActor, rt: Runtime) -> None:
    await make_actor(email="expiring@example.com")
    token = (await login(anonymous, "expiring@example.com", PASSWORD))["token"]
    client = anonymous.as_(token)
    # A session about to run out: served while it lasts (and cached with its expiry), refused
    # the moment it has expired, cached or not.
    await execute_sql(
        rt,
        "UPDATE sessions SET expires_at = now() + interval '1 second' WHERE token_hash = :h",
        {"h": hashlib.sha256(token.encode()).hexdigest()},
    )
    assert await me_code(client) == []

    await asyncio.sleep(1.1)

    assert await me_code(client) == ["UNAUTHENTICATED"]


async def test_sessions_are_stored_as_digests(anonymous: GraphQLClient, make_actor: MakeActor, rt: Runtime) -> None:
    await make_actor(email="digest@example.com")
    token = (await login(anonymous, "digest@example.com", PASSWORD))["token"]

    async with rt.engine.connect() as conn:
        stored = (await conn.execute(text("SELECT token_hash FROM sessions"))).scalars().all()

    assert token not in stored
    assert hashlib.sha256(token.encode()).hexdigest() in stored


async def test_passwords_are_stored_as_argon2_hashes(admin: Actor, rt: Runtime) -> None:
    variables = {"input": {"name": "Hana", "email": "hana@example.com", "password": "s3cret password"}}
    await admin.client.mutate(CREATE_AGENT, variables)

    async with rt.engine.connect() as conn:
        stored = (
            await conn.execute(text("SELECT password_hash FROM agents WHERE email = 'hana@example.com'"))
        ).scalar_one()

    assert stored.startswith("$argon2id$")
    assert "s3cret password" not in stored
    assert PasswordHasher().verify(stored, "s3cret password")


# ---------------------------------------------------------------- login throttling


async def test_failed_logins_are_recorded_and_a_success_clears_them(
    anonymous: GraphQLClient, make_actor: MakeActor, rt: Runtime
) -> None:
    await make_actor(email="forgetful@example.com")

    for _ in range(2):
        failed = await login(anonymous, "Forgetful@Example.com", "wrong guess")
        assert failed["token"] is None
    assert await failure_count(rt, "email:forgetful@example.com") == 2

    payload = await login(anonymous, "forgetful@example.com", PASSWORD)

    assert payload["token"]
    assert await failure_count(rt, "email:forgetful@example.com") == 0


async def test_locked_out_email_is_refused_even_with_the_right_password(
    anonymous: GraphQLClient, make_actor: MakeActor, rt: Runtime
) -> None:
    # Ten failures within the window (recorded directly: real ones past the third are slowed down).
    await make_actor(email="victim@example.com")
    other = await make_actor(email="bystander@example.com")
    await execute_sql(
        rt,
        "INSERT INTO login_failures (subject, failed_at) "
        "SELECT 'email:victim@example.com', now() - interval '1 minute' FROM generate_series(1, 10)",
        {},
    )

    payload = await login(anonymous, "Victim@example.com", PASSWORD)

    assert payload["token"] is None and payload["agent"] is None
    [error] = payload["userErrors"]
    assert error["code"] == "FORBIDDEN"
    assert "try again" in error["message"].lower()
    # Another account from the same address is unaffected.
    assert (await login(anonymous, other.agent.email, PASSWORD))["token"]


async def test_nine_recent_failures_do_not_lock_the_account_out(
    anonymous: GraphQLClient, make_actor: MakeActor, rt: Runtime
) -> None:
    # Nine recent failures (one short of the lockout) plus old ones outside the 15-minute window.
    await make_actor(email="almost@example.com")
    await execute_sql(
        rt,
        "INSERT INTO login_failures (subject, failed_at) "
        "SELECT 'email:almost@example.com', now() - interval '16 minutes' FROM generate_series(1, 20)",
        {},
    )
    await execute_sql(
        rt,
        "INSERT INTO login_failures (subject, failed_at) "
        "SELECT 'email:almost@example.com', now() - interval '1 minute' FROM generate_series(1, 3)",
        {},
    )

    payload = await login(anonymous, "almost@example.com", PASSWORD)

    assert payload["userErrors"] == [] and payload["token"]


# ---------------------------------------------------------------- API tokens


async def create_api_token(client: GraphQLClient, name: str, **variables: Any) -> dict[str, Any]:
    return await client.mutate(CREATE_API_TOKEN, {"name": name, **variables})


async def test_api_token_secret_is_shown_once_and_acts_as_its_agent(
    anonymous: GraphQLClient, make_actor: MakeActor
) -> None:
    shop = await make_actor(name="Shop integration")

    created = await create_api_token(shop.client, "checkout")

    secret = created["token"]
    assert secret.startswith("hdp_")
    assert created["apiToken"]["name"] == "checkout"
    assert created["apiToken"]["agent"]["id"] == ids.encode("Agent", shop.agent.id)
    me = (await anonymous.as_(secret).run(ME))["me"]
    assert me["id"] == ids.encode("Agent", shop.agent.id)
    listed = await shop.client.post(load_document(API_TOKENS))
    assert secret not in str(listed)


async def test_api_tokens_lists_own_tokens_for_agents_and_all_for_admins(admin: Actor, make_actor: MakeActor) -> None:
    alice = await make_actor(name="Alice")
    bob = await make_actor(name="Bob")
    alice_token = (await create_api_token(alice.client, "alice-bot"))["apiToken"]["id"]
    bob_token = (await create_api_token(bob.client, "bob-bot"))["apiToken"]["id"]
    admin_token = (await create_api_token(admin.client, "admin-bot"))["apiToken"]["id"]

    seen_by_alice = (await alice.client.run(API_TOKENS))["apiTokens"]
    seen_by_admin = (await admin.client.run(API_TOKENS))["apiTokens"]

    assert [(t["id"], t["name"], t["agent"]["name"]) for t in seen_by_alice] == [(alice_token, "alice-bot", "Alice")]
    assert {t["id"] for t in seen_by_admin} == {alice_token, bob_token, admin_token}


async def test_supervisor_sees_only_own_api_tokens(make_actor: MakeActor) -> None:
    supervisor = await make_actor(AgentRole.SUPERVISOR)
    agent = await make_actor()
    await create_api_token(agent.client, "agent-bot")
    own = (await create_api_token(supervisor.client, "supervisor-bot"))["apiToken"]["id"]

    assert [t["id"] for t in (await supervisor.client.run(API_TOKENS))["apiTokens"]] == [own]


async def test_last_used_at_is_set_once_the_token_is_used(anonymous: GraphQLClient, make_actor: MakeActor) -> None:
    owner = await make_actor()
    created = await create_api_token(owner.client, "crm")
    [before] = (await owner.client.run(API_TOKENS))["apiTokens"]
    assert before["lastUsedAt"] is None

    await anonymous.as_(created["token"]).run(ME)

    [after] = (await owner.client.run(API_TOKENS))["apiTokens"]
    used_at = datetime.fromisoformat(after["lastUsedAt"])
    assert abs(datetime.now(UTC) - used_at) < timedelta(minutes=1)


async def test_revoked_api_token_stops_working(anonymous: GraphQLClient, make_actor: MakeActor) -> None:
    owner = await make_actor()
    created = await create_api_token(owner.client, "chat bridge")
    partner = anonymous.as_(created["token"])
    assert await me_code(partner) == []

    revoked = await owner.client.mutate(REVOKE_API_TOKEN, {"id": created["apiToken"]["id"]})

    assert revoked["deletedId"] == created["apiToken"]["id"]
    assert await me_code(partner) == ["UNAUTHENTICATED"]
    [listed] = (await owner.client.run(API_TOKENS))["apiTokens"]
    assert listed["revokedAt"] is not None


async def test_agent_cannot_revoke_another_agents_token(anonymous: GraphQLClient, make_actor: MakeActor) -> None:
    owner = await make_actor()
    other = await make_actor()
    created = await create_api_token(owner.client, "shop")

    result = (await other.client.run(REVOKE_API_TOKEN, {"id": created["apiToken"]["id"]}))["revokeApiToken"]

    assert result["deletedId"] is None
    assert [e["code"] for e in result["userErrors"]] == ["NOT_FOUND"]
    assert await me_code(anonymous.as_(created["token"])) == []
    [listed] = (await owner.client.run(API_TOKENS))["apiTokens"]
    assert listed["revokedAt"] is None


async def test_admin_can_revoke_any_token(anonymous: GraphQLClient, admin: Actor, make_actor: MakeActor) -> None:
    owner = await make_actor()
    created = await create_api_token(owner.client, "shop")

    await admin.client.mutate(REVOKE_API_TOKEN, {"id": created["apiToken"]["id"]})

    assert await me_code(anonymous.as_(created["token"])) == ["UNAUTHENTICATED"]


async def test_agent_cannot_create_a_token_for_another_agent(make_actor: MakeActor, rt: Runtime) -> None:
    caller = await make_actor(AgentRole.SUPERVISOR)
    other = await make_actor()

    result = await caller.client.run(
        CREATE_API_TOKEN, {"name": "sneaky", "agentId": ids.encode("Agent", other.agent.id)}
    )

    payload = result["createApiToken"]
    assert payload["token"] is None and payload["apiToken"] is None
    assert [e["code"] for e in payload["userErrors"]] == ["FORBIDDEN"]
    async with rt.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM api_tokens"))).scalar_one() == 0


async def test_admin_creates_a_token_for_another_agent(
    anonymous: GraphQLClient, admin: Actor, make_actor: MakeActor
) -> None:
    integration = await make_actor(name="CRM integration")
    integration_id = ids.encode("Agent", integration.agent.id)

    created = await create_api_token(admin.client, "crm", agentId=integration_id)

    assert created["apiToken"]["agent"] == {"id": integration_id, "name": "CRM integration"}
    assert (await anonymous.as_(created["token"]).run(ME))["me"]["id"] == integration_id
    # The token belongs to the integration agent, so it is listed as theirs.
    assert [t["id"] for t in (await integration.client.run(API_TOKENS))["apiTokens"]] == [created["apiToken"]["id"]]


async def test_admin_token_for_unknown_agent_is_not_found(admin: Actor) -> None:
    result = await admin.client.run(CREATE_API_TOKEN, {"name": "ghost", "agentId": ids.encode("Agent", 999_999)})

    payload = result["createApiToken"]
    assert payload["token"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("NOT_FOUND", ["agentId"])]


async def test_api_token_expiry_must_be_in_the_future(admin: Actor) -> None:
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()

    result = await admin.client.run(CREATE_API_TOKEN, {"name": "stale", "expiresAt": past})

    payload = result["createApiToken"]
    assert payload["token"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("INVALID_INPUT", ["expiresAt"])]


async def test_api_token_expiry_without_a_time_zone_is_taken_as_utc(admin: Actor) -> None:
    # The contract's times are UTC; a client that leaves the zone out gets an answer, not a 500.
    past = (datetime.now(UTC) - timedelta(hours=1)).replace(tzinfo=None)
    future = (datetime.now(UTC) + timedelta(days=1)).replace(tzinfo=None, microsecond=0)

    refused = await admin.client.run(CREATE_API_TOKEN, {"name": "naive", "expiresAt": past.isoformat()})
    created = await create_api_token(admin.client, "naive", expiresAt=future.isoformat())

    errors = refused["createApiToken"]["userErrors"]
    assert [(e["code"], e["field"]) for e in errors] == [("INVALID_INPUT", ["expiresAt"])]
    assert datetime.fromisoformat(created["apiToken"]["expiresAt"]) == future.replace(tzinfo=UTC)


async def test_api_token_with_future_expiry_works_until_it_expires(
    anonymous: GraphQLClient, admin: Actor, rt: Runtime
) -> None:
    expires = datetime.now(UTC) + timedelta(days=30)
    created = await create_api_token(admin.client, "temporary", expiresAt=expires.isoformat())
    assert datetime.fromisoformat(created["apiToken"]["expiresAt"]) == expires
    partner = anonymous.as_(created["token"])
    assert await me_code(partner) == []

    # Its end brought near: it works until then, and not a moment after, cached or not.
    await execute_sql(
        rt,
        "UPDATE api_tokens SET expires_at = now() + interval '1 second' WHERE token_hash = :h",
        {"h": hashlib.sha256(created["token"].encode()).hexdigest()},
    )
    await asyncio.sleep(rt.settings.credential_recheck_seconds)
    assert await me_code(partner) == []
    await asyncio.sleep(1.1)

    assert await me_code(partner) == ["UNAUTHENTICATED"]


async def test_api_tokens_are_stored_as_sha256_digests(admin: Actor, rt: Runtime) -> None:
    secret = (await create_api_token(admin.client, "hashed"))["token"]

    async with rt.engine.connect() as conn:
        stored = (await conn.execute(text("SELECT token_hash FROM api_tokens"))).scalar_one()

    assert stored != secret
    assert stored == hashlib.sha256(secret.encode()).hexdigest()


async def test_node_shows_api_tokens_only_to_those_who_may_list_them(admin: Actor, make_actor: MakeActor) -> None:
    owner = await make_actor()
    other = await make_actor()
    token_id = (await create_api_token(owner.client, "shop"))["apiToken"]["id"]

    assert (await owner.client.run(NODE, {"id": token_id}))["node"]["name"] == "shop"
    assert (await admin.client.run(NODE, {"id": token_id}))["node"]["name"] == "shop"
    assert (await other.client.run(NODE, {"id": token_id}))["node"] is None


# ---------------------------------------------------------------- presence


async def test_new_agent_is_offline_and_login_does_not_change_presence(anonymous: GraphQLClient, admin: Actor) -> None:
    variables = {"input": {"name": "Nina", "email": "nina@example.com", "password": "long enough password"}}
    created = await admin.client.mutate(CREATE_AGENT, variables)
    assert created["agent"]["presence"] == "OFFLINE"

    first = await login(anonymous, "nina@example.com", "long enough password")
    assert first["agent"]["presence"] == "OFFLINE"
    nina = anonymous.as_(first["token"])
    assert (await nina.run(ME))["me"]["presence"] == "OFFLINE"

    changed = await nina.mutate(SET_PRESENCE, {"presence": "ONLINE"})
    assert changed["agent"] == {"id": created["agent"]["id"], "presence": "ONLINE"}
    assert (await nina.run(ME))["me"]["presence"] == "ONLINE"

    again = await login(anonymous, "nina@example.com", "long enough password")
    assert again["agent"]["presence"] == "ONLINE"


async def test_set_presence_changes_only_the_callers_presence(admin: Actor, make_actor: MakeActor) -> None:
    caller = await make_actor(name="Caller")
    bystander = await make_actor(name="Bystander")

    await caller.client.mutate(SET_PRESENCE, {"presence": "AWAY"})

    presence = {a["name"]: a["presence"] for a in (await admin.client.run(AGENTS))["agents"]}
    assert presence[caller.agent.name] == "AWAY"
    assert presence[bystander.agent.name] == "OFFLINE"
    assert presence["Ada Admin"] == "OFFLINE"


# ---------------------------------------------------------------- roles


@pytest.mark.parametrize("role", [AgentRole.AGENT, AgentRole.SUPERVISOR])
async def test_only_admins_create_agents(role: AgentRole, admin: Actor, make_actor: MakeActor) -> None:
    caller = await make_actor(role)
    variables = {"input": {"name": "Eve", "email": "eve@example.com", "password": "long enough password"}}

    payload = (await caller.client.run(CREATE_AGENT, variables))["createAgent"]

    assert payload["agent"] is None
    assert [e["code"] for e in payload["userErrors"]] == ["FORBIDDEN"]
    emails = {a["email"] for a in (await admin.client.run(AGENTS))["agents"]}
    assert "eve@example.com" not in emails

    created = await admin.client.mutate(CREATE_AGENT, variables)
    assert created["agent"]["email"] == "eve@example.com"


@pytest.mark.parametrize("role", [AgentRole.AGENT, AgentRole.SUPERVISOR])
async def test_only_admins_update_agents(role: AgentRole, admin: Actor, make_actor: MakeActor) -> None:
    caller = await make_actor(role, name="Climber", skills=["billing"])
    own_id = ids.encode("Agent", caller.agent.id)
    changes = {"role": "ADMIN", "skills": ["everything"], "capacity": 500}

    payload = (await caller.client.run(UPDATE_AGENT, {"id": own_id, "input": changes}))["updateAgent"]

    assert payload["agent"] is None
    assert [e["code"] for e in payload["userErrors"]] == ["FORBIDDEN"]
    me = (await caller.client.run(ME))["me"]
    assert (me["role"], me["skills"], me["capacity"]) == (role.value, ["billing"], 10)

    updated = await admin.client.mutate(UPDATE_AGENT, {"id": own_id, "input": changes})
    assert (updated["agent"]["role"], updated["agent"]["capacity"]) == ("ADMIN", 500)


@pytest.mark.parametrize("role", [AgentRole.AGENT, AgentRole.SUPERVISOR])
async def test_only_admins_create_groups(role: AgentRole, admin: Actor, make_actor: MakeActor) -> None:
    caller = await make_actor(role)

    payload = (await caller.client.run(CREATE_GROUP, {"input": {"name": "Shadow IT"}}))["createGroup"]

    assert payload["group"] is None
    assert [e["code"] for e in payload["userErrors"]] == ["FORBIDDEN"]
    assert (await admin.client.run(GROUPS))["groups"] == []

    created = await admin.client.mutate(CREATE_GROUP, {"input": {"name": "Shadow IT"}})
    assert created["group"]["name"] == "Shadow IT"


async def test_every_role_may_read_people(make_actor: MakeActor) -> None:
    caller = await make_actor(AgentRole.AGENT)

    for document in (CUSTOMERS, AGENTS, GROUPS):
        await caller.client.run(document)
