"""Security review, finding 5: an anonymous fragment bomb stalled the whole server.

A 20-level fragment bomb (fragment i spreads fragment i+1 twice) was answered QUERY_TOO_COMPLEX
after 5.4 s of CPU on the event loop, and /healthz waited just as long: the depth and alias
limiters expanded every spread before the cost check ran. Now a linear pass refuses it before
any rule expands a fragment. (The timed assertion, /healthz under 100 ms while bombs run, is
in tests/fuzz/test_document_bombs.py.)

Also here: variables nested hundreds of levels deep answered 200 with Python's "maximum
recursion depth exceeded", and an exception raised by a schema extension reached the client
with its own message."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets
from strawberry.extensions import SchemaExtension

from app.settings import Settings
from resolvers.schema import build_schema
from tests.conftest import Actor
from tests.fuzz.bombs import BOMBS
from tests.support import GraphQLClient, ServerThread

TOO_COMPLEX = "QUERY_TOO_COMPLEX"


async def post(server: ServerThread, http: httpx.AsyncClient, body: Any) -> httpx.Response:
    return await http.post(f"{server.url}/graphql", json=body)


def codes(result: dict[str, Any]) -> list[str | None]:
    return [(e.get("extensions") or {}).get("code") for e in result.get("errors") or []]


@pytest.mark.parametrize("name", list(BOMBS))
async def test_each_bomb_is_refused_as_too_complex_without_a_token(
    server: ServerThread, http: httpx.AsyncClient, name: str
) -> None:
    response = await post(server, http, {"query": BOMBS[name]})

    assert response.status_code == 200, response.text
    result = response.json()
    assert result.get("data") is None, result
    assert codes(result) == [TOO_COMPLEX], result
    assert "too complex" in result["errors"][0]["message"]


@pytest.mark.parametrize(
    ("name", "named"),
    [
        ("doubling", "spreads fragments 2097151 times"),
        ("doubling-aliases", "spreads fragments 2097151 times"),
        ("doubling-inline", "spreads fragments 2097151 times"),
        ("wide", "spreads fragments 1000 times"),
        ("deep-inline", "nests selections 151 levels deep"),
    ],
)
async def test_the_refusal_names_the_figure_and_the_limit(
    server: ServerThread, http: httpx.AsyncClient, name: str, named: str
) -> None:
    settings = server.app.state.runtime.settings
    limit = settings.max_selection_nesting if name == "deep-inline" else settings.max_fragment_spreads

    result = (await post(server, http, {"query": BOMBS[name]})).json()

    (error,) = result["errors"]
    assert named in error["message"] and f"the limit is {limit}" in error["message"], error
    assert error["extensions"]["limit"] == limit


async def test_healthz_answers_while_bombs_are_in_flight(server: ServerThread, http: httpx.AsyncClient) -> None:
    bombs = [post(server, http, {"query": query}) for query in BOMBS.values()]
    health = [http.get(f"{server.url}/healthz") for _ in range(5)]

    *refused, h1, h2, h3, h4, h5 = await asyncio.gather(*bombs, *health)

    assert all(codes(r.json()) == [TOO_COMPLEX] for r in refused), [r.text for r in refused]
    assert [h.json()["status"] for h in (h1, h2, h3, h4, h5)] == ["ok"] * 5


async def test_a_document_within_the_limits_still_runs(admin: Actor) -> None:
    """A fragment spread at several places, as frontends do, is within every limit."""
    document = """
      query { me { ...Who groups { id } } again: me { ...Who } }
      fragment Who on Agent { id name }
    """
    data = await admin.client.execute(document)

    assert data["me"]["id"] == data["again"]["id"]


async def test_depth_and_aliases_are_refused_as_before(server: ServerThread, http: httpx.AsyncClient) -> None:
    """The depth and alias limits keep Strawberry's messages, and count through fragments."""
    settings = server.app.state.runtime.settings
    depth = settings.max_query_depth
    nested = "me { groups { " * depth + "id" + " } }" * depth
    deep = (await post(server, http, {"query": f"query Deep {{ ...D }} fragment D on Query {{ {nested} }}"})).json()
    aliases = " ".join(f"a{i}: __typename" for i in range(settings.max_aliases + 1))
    aliased = (await post(server, http, {"query": f"{{ ...A }} fragment A on Query {{ {aliases} }}"})).json()

    assert f"'Deep' exceeds maximum operation depth of {depth}" in [e["message"] for e in deep["errors"]]
    assert [e["message"] for e in aliased["errors"]] == [
        f"{settings.max_aliases + 1} aliases found. Allowed: {settings.max_aliases}"
    ]


async def test_an_unknown_fragment_is_a_validation_error(anonymous: GraphQLClient) -> None:
    # The old depth limiter looked the fragment up before validation did: a KeyError whose
    # message ("'Nope'") reached the client.
    result = await anonymous.post("{ ...Nope }")

    assert [e["message"] for e in result["errors"]] == ["Unknown fragment 'Nope'."]


def nested_object(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = {"a": value}
    return value


def nested_list(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = [value]
    return value


CREATE_TICKET = "mutation($input: CreateTicketInput!) { createTicket(input: $input) { ticket { id } } }"


@pytest.mark.parametrize("nested", [nested_object, nested_list], ids=["objects", "lists"])
async def test_variables_nested_too_deeply_are_a_bad_request(
    admin: Actor, server: ServerThread, http: httpx.AsyncClient, nested: Any
) -> None:
    variables = {
        "input": {
            "subject": "s",
            "description": "d",
            "channel": "EMAIL",
            "customer": {"email": "deep@example.com"},
            "customFields": {"deep": nested(500)},
        }
    }

    response = await http.post(
        f"{server.url}/graphql",
        json={"query": CREATE_TICKET, "variables": variables},
        headers={"Authorization": f"Bearer {admin.token}"},
    )

    assert response.status_code == 400, response.text
    limit = server.app.state.runtime.settings.max_json_nesting
    assert response.text == f"the request's JSON nests 504 levels deep, the limit is {limit}"
    assert "recursion" not in response.text


async def test_variables_within_the_nesting_limit_are_served(admin: Actor) -> None:
    result = await admin.client.post(
        CREATE_TICKET,
        {
            "input": {
                "subject": "s",
                "description": "d",
                "channel": "EMAIL",
                "customer": {"email": "nested@example.com"},
                "customFields": {"deep": nested_object(20)},
            }
        },
    )

    assert result["data"]["createTicket"]["ticket"]["id"], result


async def test_deep_variables_over_the_websocket_close_it_4400(server: ServerThread) -> None:
    url = server.url.replace("http", "ws", 1) + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        payload = {"query": "subscription($v: JSON) { __typename }", "variables": {"v": nested_list(500)}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)

    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4400
    assert "nests 503 levels deep" in closed.value.rcvd.reason


class _Failing(SchemaExtension):
    def on_execute(self) -> Any:
        raise ValueError("connection string postgresql://secret@db")


async def test_an_exception_raised_by_an_extension_is_masked() -> None:
    """A hook's exception leaves the operation before MaskUnexpectedErrors sees the result;
    Strawberry used to answer with the exception's message."""
    schema = build_schema(Settings(database_url="postgresql://unused"))
    schema.extensions = [*schema.extensions, _Failing]

    class Context:
        request_id = "req-1"

    result = await schema.execute("{ __typename }", context_value=Context())

    assert result.errors is not None
    assert [(e.message, e.extensions) for e in result.errors] == [
        ("Internal server error", {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-1"})
    ]
    assert result.errors[0].original_error is None
