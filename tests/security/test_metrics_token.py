"""Security review: /metrics answered anyone. With HELPDESK_METRICS_TOKEN set it needs that
bearer token; unset, it stays open (a scraper inside the network needs no secret)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from app.settings import Settings
from tests.support import ServerThread

TOKEN = "metrics-scraper-secret"


@pytest.fixture
def guarded_server(settings: Settings) -> Iterator[ServerThread]:
    thread = ServerThread(settings.model_copy(update={"metrics_token": SecretStr(TOKEN)}))
    thread.start()
    yield thread
    thread.stop()


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong", f"Bearer {TOKEN}x", f"Basic {TOKEN}", "Bearer", TOKEN],
    ids=["none", "wrong", "longer", "basic", "empty", "no-scheme"],
)
async def test_with_a_token_set_metrics_refuse_any_other_credential(
    guarded_server: ServerThread, http: httpx.AsyncClient, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}

    response = await http.get(f"{guarded_server.url}/metrics", headers=headers)

    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert "helpdesk_http_requests_total" not in response.text


async def test_with_a_token_set_metrics_answer_it(guarded_server: ServerThread, http: httpx.AsyncClient) -> None:
    response = await http.get(f"{guarded_server.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    assert response.status_code == 200, response.text
    assert "helpdesk_http_requests_total" in response.text


async def test_without_a_token_metrics_stay_open(server: ServerThread, http: httpx.AsyncClient) -> None:
    response = await http.get(f"{server.url}/metrics")

    assert response.status_code == 200, response.text
    assert "helpdesk_http_requests_total" in response.text


def test_the_token_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPDESK_METRICS_TOKEN", TOKEN)

    settings = Settings()

    assert settings.metrics_token is not None and settings.metrics_token.get_secret_value() == TOKEN
    assert TOKEN not in repr(settings)
