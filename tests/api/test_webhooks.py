"""Webhook administration through the real server: the SSRF guard and every other refusal at
its field path with nothing stored, the secret shown only at creation and rotation, updates,
deletion, redelivery of what does not exist. (Deliveries themselves: tests/integration/
test_webhook_delivery.py and tests/faults/test_webhooks_kill_serve.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from schema import ids
from tests.conftest import Actor

PUBLIC_URL = "https://93.184.215.14/hooks/helpdesk"


async def create(admin: Actor, **input: Any) -> dict[str, Any]:
    data = await admin.client.run("console/admin/CreateWebhook.graphql", {"input": {"name": "ERP", **input}})
    return data["createWebhook"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://files.example.cn/in", "must be an http or https URL"),
        ("not a url", "must not contain spaces or control characters"),
        ("https://", "must name a host"),
        ("http://[::1", "is not a valid URL"),
        ("https://user:pw@93.184.215.14/", "must not contain a user name or password"),
        ("https://93.184.215.14/" + "a" * 2000, "must be at most 2000 characters"),
        ("http://127.0.0.1:8080/hook", "is refused: the host resolves to a loopback address (127.0.0.1)"),
        ("http://localhost/hook", "is refused: the host resolves to a loopback address"),
        ("http://[::1]/hook", "is refused: the host resolves to a loopback address (::1)"),
        ("http://10.0.0.8/hook", "is refused: the host resolves to a private address (10.0.0.8)"),
        ("http://192.168.1.20/hook", "is refused: the host resolves to a private address (192.168.1.20)"),
        ("http://169.254.169.254/latest/meta-data", "is refused: the host resolves to a link-local address"),
        ("http://[::ffff:10.0.0.8]/hook", "is refused: the host resolves to a private address"),
        ("http://0.0.0.0/hook", "is refused: the host resolves to a"),
        ("http://100.64.0.1/hook", "is refused: the host resolves to a"),
        ("http://no-such-host.invalid/hook", "is refused: the host does not resolve"),
    ],
)
async def test_urls_that_are_malformed_or_not_public_are_refused_at_input_url(
    admin: Actor, url: str, message: str
) -> None:
    payload = await create(admin, url=url)
    assert payload["webhook"] is None and payload["secret"] is None
    (error,) = payload["userErrors"]
    assert error["field"] == ["input", "url"]
    assert error["code"] == "INVALID_INPUT"
    assert error["message"].startswith(message)
    assert (await admin.client.run("console/admin/Webhooks.graphql"))["webhooks"] == []


async def test_other_refusals_name_their_field_and_store_nothing(admin: Actor) -> None:
    payload = await create(admin, url=PUBLIC_URL, groupIds=[ids.encode("Group", 999_999)])
    assert payload["userErrors"] == [
        {"field": ["input", "groupIds", "0"], "message": "no such group", "code": "NOT_FOUND"}
    ]
    payload = await create(admin, url=PUBLIC_URL, name="  ")
    assert [e["field"] for e in payload["userErrors"]] == [["input", "name"]]
    payload = await create(admin, url=PUBLIC_URL, groupIds=["not-an-id"])
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(["input", "groupIds"], "NOT_FOUND")]
    assert (await admin.client.run("console/admin/Webhooks.graphql"))["webhooks"] == []


async def test_the_secret_is_shown_at_creation_and_rotation_only(admin: Actor, make_group: Any) -> None:
    group = await make_group("售后")
    created = await create(
        admin,
        url=PUBLIC_URL,
        eventTypes=["STATUS_CHANGED", "COMMENTED"],
        enabled=False,
        groupIds=[ids.encode("Group", group.id)],
    )
    assert created["userErrors"] == []
    webhook, secret = created["webhook"], created["secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    assert webhook["eventTypes"] == ["COMMENTED", "STATUS_CHANGED"]
    assert webhook["groups"] == [{"id": ids.encode("Group", group.id), "name": "售后"}]
    assert (webhook["enabled"], webhook["consecutiveFailures"], webhook["disabledAt"]) == (False, 0, None)

    listed = (await admin.client.run("console/admin/Webhooks.graphql"))["webhooks"]
    assert [w["id"] for w in listed] == [webhook["id"]]
    assert listed[0]["deliveries"] == {
        "totalCount": 0,
        "pageInfo": {"hasNextPage": False, "endCursor": None},
        "edges": [],
    }
    assert secret not in str(listed)

    rotated = await admin.client.mutate("console/admin/RotateWebhookSecret.graphql", {"id": webhook["id"]})
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != secret

    updated = await admin.client.mutate(
        "console/admin/UpdateWebhook.graphql",
        {"id": webhook["id"], "input": {"name": "ERP 2", "url": PUBLIC_URL + "?v=2"}},
    )
    assert updated["webhook"]["name"] == "ERP 2" and updated["webhook"]["eventTypes"] == []
    assert updated["webhook"]["enabled"] is True
    refused = await admin.client.run(
        "console/admin/UpdateWebhook.graphql",
        {"id": webhook["id"], "input": {"name": "ERP 3", "url": "http://127.0.0.1/"}},
    )
    assert [e["field"] for e in refused["updateWebhook"]["userErrors"]] == [["input", "url"]]

    deleted = await admin.client.mutate("console/admin/DeleteWebhook.graphql", {"id": webhook["id"]})
    assert deleted["deletedId"] == webhook["id"]
    again = await admin.client.run("console/admin/DeleteWebhook.graphql", {"id": webhook["id"]})
    assert again["deleteWebhook"]["userErrors"][0]["code"] == "NOT_FOUND"


async def test_redelivering_what_does_not_exist_is_not_found(admin: Actor) -> None:
    # (A malformed id is just an unknown one: the same answer, from the resolver's id decoding.)
    for missing in (ids.encode("WebhookDelivery", 424242), "garbage", ids.encode("Ticket", 1)):
        data = await admin.client.run("console/admin/RedeliverWebhookDelivery.graphql", {"id": missing})
        payload = data["redeliverWebhookDelivery"]
        assert payload["delivery"] is None
        assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(["id"], "NOT_FOUND")]
