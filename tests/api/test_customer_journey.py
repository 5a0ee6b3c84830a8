"""Issue 18's worked example, end to end through a real server and a real SMTP sink: a customer
writes in by the web form, is acknowledged with a sign-in link, signs in and sees only their own
ticket; an agent replies and resolves; the survey mail comes, the customer rates 2/5 and the
group's supervisor is told; an admin exports the customer's data and erases the customer, after
which searching for their name finds nothing."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from app.demo.mail_sink import CapturedMail, MailSink
from app.domain.enums import AgentRole
from app.domain.records import GroupRecord
from app.settings import Settings
from schema import ids
from tests.conftest import Actor
from tests.support import GraphQLClient, ServerThread

NAME = "林晓雯"
EMAIL = "lin.xiaowen@example.cn"
SUBJECT = "退货后还没有收到退款"


@pytest.fixture
def mail_server(settings: Settings, sink: MailSink) -> Iterator[ServerThread]:
    thread = ServerThread(
        settings.model_copy(update={"run_mail": True, "smtp_url": SecretStr(f"smtp://127.0.0.1:{sink.port}")})
    )
    thread.start()
    yield thread
    thread.stop()


def link_token(mail: CapturedMail, path_part: str) -> str:
    """The token of the first link in the mail whose path contains `path_part`."""
    for url in re.findall(r"https?://\S+", mail.text):
        parts = urlsplit(url)
        if path_part in parts.path:
            return parse_qs(parts.query)["token"][0]
    raise AssertionError(f"no {path_part} link in {mail.text!r}")


async def for_customer(sink: MailSink, address: str, count: int) -> list[CapturedMail]:
    """The first `count` mails to `address`, waiting for them."""
    async with asyncio.timeout(30):
        while len(sink.to(address)) < count:
            await sink.wait_for(len(sink.messages) + 1)
    return sink.to(address)[:count]


WEB_FORM = """mutation($input: WebFormInput!, $key: String) {
  submitWebForm(input: $input, idempotencyKey: $key) { ticketNumber userErrors { field code message } } }"""
SIGN_IN = """mutation($t: String!) { customerSignIn(linkToken: $t) {
  token customer { id name } userErrors { code } } }"""
MY_TICKETS = """{ currentCustomer { name tickets(first: 20) { totalCount edges { node { number subject status
  comments(first: 20) { edges { node { body visibility } } } } } } } }"""
ASSIGN = """mutation($id: ID!, $a: ID!, $g: ID!) {
  assignTicket(id: $id, agentId: $a, groupId: $g) { userErrors { code message } } }"""
ADD_COMMENT = """mutation($t: ID!, $b: String!, $v: CommentVisibility!) {
  addComment(ticketId: $t, body: $b, visibility: $v) { userErrors { code message } } }"""
RESOLVE = 'mutation($id: ID!) { resolveTicket(id: $id, resolution: "已退款") { userErrors { code message } } }'
ERASE = """mutation($id: ID!) { eraseCustomer(id: $id, reason: "DSR-2041") {
  customer { name email } userErrors { code } } }"""
INTERNAL_NOTE = "内部：财务已确认"
PUBLIC_REPLY = "您好，退款已提交，3 个工作日内到账。"
BY_NUMBER = "query($n: Int!) { ticket(number: $n) { id number subject } }"
SURVEY = """mutation($t: String!) { submitSatisfactionSurvey(surveyToken: $t, score: 2, speed: 1,
  professionalism: 3, attitude: 2, comment: "退款太慢了") { rating { score speed professionalism attitude }
  userErrors { code } } }"""


async def succeeds(client: GraphQLClient, mutation: str, variables: dict[str, Any]) -> None:
    (payload,) = (await client.execute(mutation, variables)).values()
    assert payload["userErrors"] == [], payload["userErrors"]


async def test_web_form_to_erasure(
    mail_server: ServerThread,
    sink: MailSink,
    http: httpx.AsyncClient,
    make_group: Callable[..., Awaitable[GroupRecord]],
    make_actor: Callable[..., Awaitable[Actor]],
) -> None:
    anonymous = GraphQLClient(mail_server.url, http)
    group = await make_group("售后")
    agent = await make_actor(AgentRole.AGENT, [group], name="周工")
    supervisor = await make_actor(AgentRole.SUPERVISOR, [group], name="陈主管")
    admin = await make_actor(AgentRole.ADMIN, name="Ada Admin")
    agent_client, supervisor_client, admin_client = (anonymous.as_(actor.token) for actor in (agent, supervisor, admin))
    # Someone else's ticket, which the customer must never reach.
    other = await agent_client.execute(
        """mutation { createTicket(input: {subject: "别人的工单", description: "x", channel: PHONE,
        customer: {name: "别人", email: "someone.else@example.cn"}}) { ticket { number } userErrors { code } } }"""
    )
    other_number = other["createTicket"]["ticket"]["number"]

    # 1. The web form; its acknowledgement carries the number and a sign-in link.
    form = {"name": NAME, "email": EMAIL, "subject": SUBJECT, "description": "订单 SO-2026-1107 退货已签收两周。"}
    submitted = (await anonymous.execute(WEB_FORM, {"input": form, "key": "journey-1"}))["submitWebForm"]
    assert submitted["userErrors"] == []
    number = submitted["ticketNumber"]
    (ack,) = await for_customer(sink, EMAIL, 1)
    assert str(number) in ack.subject + ack.text
    session = (await anonymous.execute(SIGN_IN, {"t": link_token(ack, "sign-in")}))["customerSignIn"]
    assert session["userErrors"] == [] and session["customer"]["name"] == NAME
    customer = anonymous.as_(session["token"])
    customer_id = session["customer"]["id"]

    # 2. Only their own ticket; another customer's number looks like one that does not exist.
    mine = (await customer.execute(MY_TICKETS))["currentCustomer"]["tickets"]
    assert [e["node"]["number"] for e in mine["edges"]] == [number] and mine["totalCount"] == 1
    assert (await customer.execute(BY_NUMBER, {"n": other_number}))["ticket"] is None
    assert (await customer.execute(BY_NUMBER, {"n": 999_999}))["ticket"] is None

    # 3. The supervisor gives it to the agent, who writes an internal note and a public reply,
    # and resolves.
    ticket_id = (await supervisor_client.execute(BY_NUMBER, {"n": number}))["ticket"]["id"]
    agent_id, group_id = ids.encode("Agent", agent.agent.id), ids.encode("Group", group.id)
    await succeeds(supervisor_client, ASSIGN, {"id": ticket_id, "a": agent_id, "g": group_id})
    await succeeds(agent_client, ADD_COMMENT, {"t": ticket_id, "b": INTERNAL_NOTE, "v": "INTERNAL"})
    await succeeds(agent_client, ADD_COMMENT, {"t": ticket_id, "b": PUBLIC_REPLY, "v": "PUBLIC"})
    await succeeds(agent_client, RESOLVE, {"id": ticket_id})

    # The customer reads the public reply and never the internal note.
    thread = (await customer.execute(MY_TICKETS))["currentCustomer"]["tickets"]["edges"][0]["node"]
    assert thread["status"] == "RESOLVED"
    bodies = [e["node"]["body"] for e in thread["comments"]["edges"]]
    assert PUBLIC_REPLY in bodies and INTERNAL_NOTE not in bodies

    # 4. The reply and the survey arrive by mail; a 2/5 tags the ticket and tells the supervisor.
    mails = await for_customer(sink, EMAIL, 3)
    # A web-form ticket has no mailbox: the agent's public reply is mailed from HELPDESK_MAIL_FROM.
    (reply,) = [m for m in mails if PUBLIC_REPLY in m.text]
    assert f"[#{number}]" in reply.subject and INTERNAL_NOTE not in "".join(m.text for m in mails)
    survey_mail = next(m for m in mails if "survey" in m.text)
    rated = (await anonymous.execute(SURVEY, {"t": link_token(survey_mail, "survey")}))["submitSatisfactionSurvey"]
    assert rated == {"rating": {"score": 2, "speed": 1, "professionalism": 3, "attitude": 2}, "userErrors": []}
    tagged = await agent_client.execute("query($n: Int!) { ticket(number: $n) { tags } }", {"n": number})
    assert "low-csat" in tagged["ticket"]["tags"]
    told = await supervisor_client.execute("{ notifications { edges { node { kind ticket { number } } } } }")
    notes = [e["node"] for e in told["notifications"]["edges"]]
    assert {"kind": "LOW_SATISFACTION", "ticket": {"number": number}} in notes

    # 5. The admin exports, then erases; the name is found nowhere afterwards.
    exported = await admin_client.execute(
        "query($id: ID!) { customerDataExport(id: $id) { export userErrors { code } } }", {"id": customer_id}
    )
    held = exported["customerDataExport"]["export"]
    assert held["customer"]["email"] == EMAIL and [t["number"] for t in held["tickets"]] == [number]
    erased = await admin_client.execute(ERASE, {"id": customer_id})
    assert erased["eraseCustomer"]["customer"] == {"name": "已删除客户 / Erased customer", "email": None}
    for term in (NAME, EMAIL, "SO-2026-1107"):
        found = await admin_client.execute(
            "query($s: String!) { customers(search: $s) { totalCount } tickets(filter: {search: $s}) { totalCount } }",
            {"s": term},
        )
        assert found == {"customers": {"totalCount": 0}, "tickets": {"totalCount": 0}}, term
    # The erased customer's session is gone.
    gone = await customer.post("{ currentCustomer { name } }")
    assert gone.get("data", {}).get("currentCustomer") is None
