"""Finding 4: parallel logins got past the lock-out. 30 concurrent logins for one account (29
wrong, then the right one) gave 29 "wrong email or password", 0 "too many" and a token: the
failure count was read before the password check and written after it. Now each attempt is
counted, under a lock, before its password is checked."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from app.settings import Settings
from tests.api.test_auth import login
from tests.conftest import PASSWORD, Actor
from tests.support import GraphQLClient, ServerThread

MakeActor = Callable[..., Awaitable[Actor]]


@pytest.fixture
async def anonymous(settings: Settings, http: httpx.AsyncClient) -> AsyncIterator[GraphQLClient]:
    """A client of a server that locks out but never slows down: the burst then takes a second,
    not the eight-second back-off (which is not what these tests are about)."""
    thread = ServerThread(settings.model_copy(update={"login_slowdown_after": 1_000}))
    thread.start()
    try:
        yield GraphQLClient(thread.url, http)
    finally:
        thread.stop()


def outcome(payload: dict[str, object]) -> str:
    if payload["token"]:
        return "token"
    errors = payload["userErrors"]
    assert isinstance(errors, list) and len(errors) == 1, payload
    return "too many" if errors[0]["code"] == "FORBIDDEN" else "wrong"


async def test_thirty_parallel_wrong_passwords_get_exactly_the_configured_number_of_checks(
    anonymous: GraphQLClient, make_actor: MakeActor, settings: Settings
) -> None:
    victim = await make_actor(email="victim@example.com")
    limit = settings.login_lockout_after

    results = await asyncio.gather(*(login(anonymous, victim.agent.email, f"guess-{i}") for i in range(30)))

    assert Counter(outcome(r) for r in results) == {"wrong": limit, "too many": 30 - limit}
    # Locked out: the right password is refused too, for the rest of the window.
    assert outcome(await login(anonymous, victim.agent.email, PASSWORD)) == "too many"


async def test_the_reviewers_burst_is_locked_out(
    anonymous: GraphQLClient, make_actor: MakeActor, settings: Settings
) -> None:
    victim = await make_actor(email="victim@example.com")
    limit = settings.login_lockout_after
    attempts = [login(anonymous, victim.agent.email, f"guess-{i}") for i in range(29)]
    attempts.append(login(anonymous, victim.agent.email, PASSWORD))

    seen = Counter(outcome(r) for r in await asyncio.gather(*attempts))

    # A right password forgives the failures counted before it, never those counted after it:
    # at most `limit` checks before it and `limit - 1` after.
    assert seen["wrong"] <= 2 * limit - 2
    assert seen["too many"] >= 30 - (2 * limit - 1)
    assert seen["wrong"] + seen["too many"] + seen["token"] == 30
