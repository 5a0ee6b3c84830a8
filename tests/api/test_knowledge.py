"""The knowledge base through the real server: the article lifecycle and who may do what
(anonymous readers included), search and suggestions, the learning loop from resolved
tickets, reader feedback, and the ticket list's full-text filter."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.db import tables
from app.db.repositories import knowledge as article_reads
from app.domain.enums import AgentRole
from app.services.runtime import Runtime
from schema import ids
from tests.conftest import Actor
from tests.support import GraphQLClient, load_document

CREATE = "console/knowledge/CreateArticle.graphql"
UPDATE = "console/knowledge/UpdateArticle.graphql"
PUBLISH = "console/knowledge/PublishArticle.graphql"
ARCHIVE = "console/knowledge/ArchiveArticle.graphql"
FROM_TICKET = "console/knowledge/CreateArticleFromTicket.graphql"
CONSOLE_ARTICLE = "console/knowledge/KnowledgeArticle.graphql"
CONSOLE_LIST = "console/knowledge/KnowledgeArticles.graphql"
CONSOLE_SEARCH = "console/knowledge/SearchArticles.graphql"
TICKET_SUGGESTIONS = "console/knowledge/TicketSuggestedArticles.graphql"
SEARCH = "portal/SearchArticles.graphql"
SUGGEST = "portal/SuggestArticles.graphql"
ARTICLE = "portal/Article.graphql"
ARTICLE_LIST = "portal/ArticleList.graphql"
RATE = "portal/RateArticle.graphql"
NODE = "console/Node.graphql"
CREATE_TICKET = "console/CreateTicket.graphql"
START_TICKET = "console/StartTicket.graphql"
RESOLVE_TICKET = "console/ResolveTicket.graphql"
ADD_COMMENT = "console/AddComment.graphql"
SEARCH_TICKETS = "console/SearchTickets.graphql"
CREATE_API_TOKEN = "console/admin/CreateApiToken.graphql"

MakeActor = Callable[..., Awaitable[Actor]]

REFUND = {
    "title": "退款到账时间说明",
    "body": "审核通过后 **1 个工作日内** 发起退款：支付宝 1-3 个工作日，银行卡 3-7 个工作日到账。",
    "category": "Refund",
    "tags": ["退款", "到账"],
}
PASSWORD = {
    "title": "Reset a forgotten password",
    "body": "Open the sign-in page, choose *Forgot password* and follow the link we email you.",
    "category": "account",
    "tags": ["login"],
}


async def payload_of(client: GraphQLClient, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    result = await client.post(load_document(document), variables)
    assert not result.get("errors"), result["errors"]
    (payload,) = result["data"].values()
    return payload  # type: ignore[no-any-return]


def codes(payload: dict[str, Any]) -> list[tuple[list[str], str]]:
    return [(e["field"], e["code"]) for e in payload["userErrors"]]


def error_codes(result: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors") or []]


async def draft(author: Actor, **fields: Any) -> dict[str, Any]:
    article: dict[str, Any] = (await author.client.mutate(CREATE, {"input": {**REFUND, **fields}}))["article"]
    return article


async def published(author: Actor, supervisor: Actor, **fields: Any) -> dict[str, Any]:
    article = await draft(author, **fields)
    await supervisor.client.mutate(PUBLISH, {"id": article["id"]})
    return article


async def search(client: GraphQLClient, query: str, first: int = 10) -> list[dict[str, Any]]:
    data = await client.run(SEARCH, {"query": query, "first": first})
    matches: list[dict[str, Any]] = data["searchArticles"]
    return matches


async def resolved_ticket(agent: Actor, subject: str, description: str, resolution: str, **extra: Any) -> str:
    """A ticket taken from intake to RESOLVED by `agent` (a supervisor: unrouted tickets are in no group)."""
    ticket = (
        await agent.client.mutate(
            CREATE_TICKET,
            {
                "input": {
                    "subject": subject,
                    "description": description,
                    "channel": "WEB_FORM",
                    "customer": {"email": "li.na@example.cn", "name": "李娜"},
                    **extra,
                }
            },
        )
    )["ticket"]
    await agent.client.mutate(START_TICKET, {"id": ticket["id"]})
    await agent.client.mutate(RESOLVE_TICKET, {"id": ticket["id"], "resolution": resolution})
    return str(ticket["id"])


# ---------------------------------------------------------------- lifecycle and permissions


async def test_agents_write_drafts_supervisors_publish_and_anonymous_readers_see_only_published(
    make_actor: MakeActor, anonymous: GraphQLClient
) -> None:
    agent = await make_actor(AgentRole.AGENT, name="Wang Fang")
    supervisor = await make_actor(AgentRole.SUPERVISOR)

    article = await draft(agent)
    assert article["status"] == "DRAFT"
    assert article["author"]["name"] == "Wang Fang"
    assert article["category"] == "refund"  # categories are lower-cased, like tickets'
    assert article["language"] == "zh"  # detected when not given
    article_id = article["id"]

    # A draft is invisible to the public in every way, and visible to agents.
    assert (await anonymous.run(ARTICLE, {"id": article_id}))["knowledgeArticle"] is None
    assert (await anonymous.run(NODE, {"id": article_id}))["node"] is None
    assert (await anonymous.run(ARTICLE_LIST, {}))["knowledgeArticles"]["totalCount"] == 0
    assert await search(anonymous, "退款多久到账") == []
    assert (await agent.client.run(CONSOLE_ARTICLE, {"id": article_id}))["knowledgeArticle"]["status"] == "DRAFT"
    listed = await agent.client.run(CONSOLE_LIST, {"status": "DRAFT"})
    assert [e["node"]["id"] for e in listed["knowledgeArticles"]["edges"]] == [article_id]

    # Agents may not publish; nothing changes.
    refused = await payload_of(agent.client, PUBLISH, {"id": article_id})
    assert codes(refused) == [([], "FORBIDDEN")] and refused["article"] is None
    assert (await agent.client.run(CONSOLE_ARTICLE, {"id": article_id}))["knowledgeArticle"]["status"] == "DRAFT"

    live = (await supervisor.client.mutate(PUBLISH, {"id": article_id}))["article"]
    assert live["status"] == "PUBLISHED" and live["publishedAt"] is not None

    page = (await anonymous.run(ARTICLE, {"id": article_id}))["knowledgeArticle"]
    assert page["title"] == REFUND["title"] and page["status"] == "PUBLISHED"
    node = (await anonymous.run(NODE, {"id": article_id}))["node"]
    assert node == {"id": article_id, "__typename": "KnowledgeArticle", "title": REFUND["title"], "status": "PUBLISHED"}
    assert [m["article"]["id"] for m in await search(anonymous, "退款多久到账")] == [article_id]

    # What customers read is edited by supervisors only.
    change = {"input": {**REFUND, "title": "退款到账需要几天"}}
    refused = await payload_of(agent.client, UPDATE, {"id": article_id, **change})
    assert codes(refused) == [([], "FORBIDDEN")]
    updated = (await supervisor.client.mutate(UPDATE, {"id": article_id, **change}))["article"]
    assert updated["title"] == "退款到账需要几天" and updated["status"] == "PUBLISHED"
    assert (await search(anonymous, "几天"))[0]["article"]["title"] == "退款到账需要几天"

    again = await payload_of(supervisor.client, PUBLISH, {"id": article_id})
    assert codes(again) == [(["id"], "INVALID_TRANSITION")]

    archived = (await supervisor.client.mutate(ARCHIVE, {"id": article_id}))["article"]
    assert archived["status"] == "ARCHIVED"
    assert (await anonymous.run(ARTICLE, {"id": article_id}))["knowledgeArticle"] is None
    assert await search(anonymous, "退款多久到账") == []
    assert (await agent.client.run(CONSOLE_ARTICLE, {"id": article_id}))["knowledgeArticle"]["status"] == "ARCHIVED"

    # An archived article can go back online.
    assert (await supervisor.client.mutate(PUBLISH, {"id": article_id}))["article"]["status"] == "PUBLISHED"


async def test_agents_edit_their_drafts_and_input_is_validated(make_actor: MakeActor) -> None:
    agent = await make_actor(AgentRole.AGENT)
    article = await draft(agent)

    edited = (
        await agent.client.mutate(
            UPDATE, {"id": article["id"], "input": {**PASSWORD, "tags": ["Login", "login", " SSO "], "language": "EN"}}
        )
    )["article"]
    assert edited["title"] == PASSWORD["title"] and edited["status"] == "DRAFT"
    assert edited["tags"] == ["login", "sso"] and edited["language"] == "en"

    bad = await payload_of(agent.client, CREATE, {"input": {"title": "  ", "body": "", "language": "not a tag!"}})
    assert sorted(codes(bad)) == [
        (["input", "body"], "INVALID_INPUT"),
        (["input", "language"], "INVALID_INPUT"),
        (["input", "title"], "INVALID_INPUT"),
    ]
    unknown = await payload_of(agent.client, UPDATE, {"id": ids.encode("KnowledgeArticle", 999), "input": PASSWORD})
    assert codes(unknown) == [(["id"], "NOT_FOUND")]
    wrong_type = await payload_of(agent.client, PUBLISH, {"id": ids.encode("Ticket", 1)})
    assert codes(wrong_type) == [(["id"], "NOT_FOUND")]


async def test_anonymous_callers_read_search_and_rate_but_write_nothing(
    make_actor: MakeActor, anonymous: GraphQLClient, rt: Runtime
) -> None:
    agent = await make_actor(AgentRole.AGENT)
    supervisor = await make_actor(AgentRole.SUPERVISOR)
    article = await published(agent, supervisor)

    for document, variables in (
        (CREATE, {"input": REFUND}),
        (UPDATE, {"id": article["id"], "input": REFUND}),
        (PUBLISH, {"id": article["id"]}),
        (ARCHIVE, {"id": article["id"]}),
        (FROM_TICKET, {"ticketId": ids.encode("Ticket", 1)}),
    ):
        result = await anonymous.post(load_document(document), variables)
        assert error_codes(result) == ["UNAUTHENTICATED"], document
        assert result["data"] is None

    # Reading the article does not reveal agents or tickets.
    page = await anonymous.execute(
        "query($id: ID!) { knowledgeArticle(id: $id) { author { id } sourceTicket { id } } }", {"id": article["id"]}
    )
    assert page["knowledgeArticle"] == {"author": None, "sourceTicket": None}
    # ...and the rest of the graph stays closed.
    result = await anonymous.post(load_document(NODE), {"id": ids.encode("Agent", agent.agent.id)})
    assert error_codes(result) == ["UNAUTHENTICATED"]

    rated = (await anonymous.mutate(RATE, {"id": article["id"], "helpful": True}))["article"]
    assert rated["helpfulCount"] == 1
    async with rt.engine.connect() as conn:
        assert (await conn.execute(select(tables.knowledge_articles.c.status))).scalars().all() == ["PUBLISHED"]


# ---------------------------------------------------------------- search and suggestions


async def test_search_ranks_titles_above_bodies_and_shows_a_snippet_around_the_match(
    make_actor: MakeActor, anonymous: GraphQLClient, rt: Runtime
) -> None:
    agent = await make_actor(AgentRole.AGENT)
    supervisor = await make_actor(AgentRole.SUPERVISOR)
    in_body = await published(
        agent,
        supervisor,
        title="会员权益一览",
        body="VIP 会员全场包邮。" + "积分规则与等级说明。" * 20 + "会员费可以申请退款，退款到账时间与原支付方式有关。",
        tags=["vip"],
        category="vip",
    )
    in_title = await published(agent, supervisor)
    await draft(agent, title="退款到账时间（草稿）")  # drafts never show

    matches = await search(anonymous, "退款多久到账")
    assert [m["article"]["id"] for m in matches] == [in_title["id"], in_body["id"]]
    assert matches[0]["score"] > matches[1]["score"] > 0
    # The body snippet is cut around the matched words, not the opening lines, and has no Markdown.
    assert "退款到账" in matches[1]["snippet"] and matches[1]["snippet"].startswith("…")
    assert "**" not in matches[0]["snippet"]

    english = await published(agent, supervisor, **PASSWORD, language="en")
    found = await search(anonymous, "FORGOT my passwords")
    assert found[0]["article"]["id"] == english["id"]
    assert await search(anonymous, "   ") == []
    assert len(await search(anonymous, "退款 password", first=1)) == 1

    async with rt.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(
                    tables.article_searches.c.kind,
                    tables.article_searches.c.query,
                    tables.article_searches.c.agent_id,
                    tables.article_searches.c.result_count,
                ).order_by(tables.article_searches.c.id)
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("SEARCH", "退款多久到账", None, 2),
        ("SEARCH", "FORGOT my passwords", None, 1),
        ("SEARCH", "退款 password", None, 1),
    ]


async def test_search_limits_and_misspellings(make_actor: MakeActor, anonymous: GraphQLClient) -> None:
    agent = await make_actor(AgentRole.AGENT)
    supervisor = await make_actor(AgentRole.SUPERVISOR)
    printer = await published(
        agent, supervisor, title="Printer shows offline", body="Restart the printer and the router.", tags=[]
    )

    # Words spelt wrong still find a title by trigram similarity.
    assert [m["article"]["id"] for m in await search(anonymous, "pritner ofline")] == [printer["id"]]

    too_many = await anonymous.post(load_document(SEARCH), {"query": "x", "first": 101})
    assert error_codes(too_many) == ["BAD_USER_INPUT"]
    too_long = await anonymous.post(load_document(SEARCH), {"query": "退款" * 600})
    assert error_codes(too_long) == ["BAD_USER_INPUT"]
    # Query syntax is just text: operators and quotes cannot break the tsquery.
    for hostile in ("a & | ! ( ' \\", "':* | '", "退款' | 'x"):
        assert isinstance(await search(anonymous, hostile), list)


async def test_suggestions_before_a_ticket_and_on_a_ticket_exclude_drafts_and_archived(
    make_actor: MakeActor, anonymous: GraphQLClient, rt: Runtime
) -> None:
    agent = await make_actor(AgentRole.AGENT)
    supervisor = await make_actor(AgentRole.SUPERVISOR)
    refund = await published(agent, supervisor)
    archived = await published(agent, supervisor, title="旧版退款规则", body="退款到账时间以旧规则为准。")
    await supervisor.client.mutate(ARCHIVE, {"id": archived["id"]})
    await draft(agent, title="退款到账（未发布）")

    suggested = (
        await anonymous.run(
            SUGGEST, {"subject": "钱什么时候退回来", "description": "退款申请通过三天了，银行卡还没到账"}
        )
    )["suggestArticles"]
    assert [m["article"]["id"] for m in suggested] == [refund["id"]]
    assert (await anonymous.run(SUGGEST, {"subject": "打印机离线"}))["suggestArticles"] == []

    tickets = []
    for subject in ("退款一直没到账", "Printer offline again"):
        created = await supervisor.client.mutate(
            CREATE_TICKET,
            {
                "input": {
                    "subject": subject,
                    "description": "客户来电询问",
                    "channel": "PHONE",
                    "customer": {"phone": "+86 138 0000 0000"},
                }
            },
        )
        tickets.append(created["ticket"]["id"])
    # Two tickets in one request: the loader answers both with one search statement.
    data = await supervisor.client.execute(
        """query($a: ID!, $b: ID!) {
             a: ticket(id: $a) { suggestedArticles { score article { id status } } }
             b: ticket(id: $b) { suggestedArticles(first: 1) { article { id } } }
           }""",
        {"a": tickets[0], "b": tickets[1]},
    )
    assert [m["article"]["id"] for m in data["a"]["suggestedArticles"]] == [refund["id"]]
    assert data["b"]["suggestedArticles"] == []
    panel = await supervisor.client.run(TICKET_SUGGESTIONS, {"id": tickets[0]})
    assert panel["ticket"]["suggestedArticles"][0]["snippet"]

    async with rt.engine.connect() as conn:
        kinds = (await conn.execute(select(tables.article_searches.c.kind))).scalars().all()
    assert sorted(kinds) == ["SUGGEST", "SUGGEST"]  # ticket panels are not customer searches


# ---------------------------------------------------------------- the learning loop


async def test_a_resolved_ticket_becomes_a_draft_that_answers_the_next_customer(
    make_actor: MakeActor, anonymous: GraphQLClient
) -> None:
    supervisor = await make_actor(AgentRole.SUPERVISOR, name="Zhao Lei")
    ticket_id = await resolved_ticket(
        supervisor,
        subject="跨境汇款被退回",
        description="我给德国供应商的汇款被退回了，手续费也扣了。",
        resolution="收款人姓名与银行登记的账户名不一致（少了 GmbH）。核对 SWIFT 与账户名后重新汇款即可。",
        category="transfer",
        tags=["跨境汇款"],
    )

    article = (await supervisor.client.mutate(FROM_TICKET, {"ticketId": ticket_id}))["article"]
    assert article["status"] == "DRAFT"
    assert article["title"] == "跨境汇款被退回"
    assert "德国供应商" in article["body"] and "账户名不一致" in article["body"]
    assert article["body"].index("问题描述") < article["body"].index("解决方法")
    assert article["category"] == "transfer" and "跨境汇款" in article["tags"]
    assert article["language"] == "zh"
    assert article["sourceTicket"]["id"] == ticket_id
    assert article["author"]["name"] == "Zhao Lei"

    twice = await payload_of(supervisor.client, FROM_TICKET, {"ticketId": ticket_id})
    assert codes(twice) == [(["ticketId"], "DUPLICATE")]

    # Published, it answers the next customer's question before a ticket is opened.
    assert await search(anonymous, "国际转账失败 钱被退回") == []
    await supervisor.client.mutate(PUBLISH, {"id": article["id"]})
    hits = await search(anonymous, "国际转账失败 钱被退回")
    assert hits[0]["article"]["id"] == article["id"]
    suggested = (await anonymous.run(SUGGEST, {"subject": "汇款退回 名字不对"}))["suggestArticles"]
    assert suggested[0]["article"]["id"] == article["id"]


async def test_only_resolved_tickets_the_caller_sees_become_articles(
    make_actor: MakeActor, make_group: Callable[..., Awaitable[Any]]
) -> None:
    agent = await make_actor(AgentRole.SUPERVISOR)
    created = await agent.client.mutate(
        CREATE_TICKET,
        {
            "input": {
                "subject": "Open question",
                "description": "still open",
                "channel": "EMAIL",
                "customer": {"email": "open@example.com"},
            }
        },
    )
    not_resolved = await payload_of(agent.client, FROM_TICKET, {"ticketId": created["ticket"]["id"]})
    assert codes(not_resolved) == [(["ticketId"], "PRECONDITION_FAILED")]

    outsider = await make_actor(AgentRole.AGENT, groups=[await make_group()])
    ticket_id = await resolved_ticket(agent, "Printer offline", "It says offline", "Gave it a fixed IP address.")
    hidden = await payload_of(outsider.client, FROM_TICKET, {"ticketId": ticket_id})
    assert codes(hidden) == [(["ticketId"], "NOT_FOUND")]
    english = (await agent.client.mutate(FROM_TICKET, {"ticketId": ticket_id}))["article"]
    assert "## Problem" in english["body"] and "## Resolution" in english["body"]


# ---------------------------------------------------------------- feedback and views


async def test_ratings_count_views_and_votes_atomically(
    make_actor: MakeActor, anonymous: GraphQLClient, rt: Runtime
) -> None:
    agent = await make_actor(AgentRole.AGENT)
    supervisor = await make_actor(AgentRole.SUPERVISOR)
    article = await published(agent, supervisor)

    votes = [True] * 12 + [False] * 8
    await asyncio.gather(*(anonymous.mutate(RATE, {"id": article["id"], "helpful": v}) for v in votes))

    page = (await anonymous.run(ARTICLE, {"id": article["id"]}))["knowledgeArticle"]
    # Twenty ratings and this visit are views; the counters agree with the feedback rows.
    assert (page["viewCount"], page["helpfulCount"], page["notHelpfulCount"]) == (21, 12, 8)
    async with rt.engine.connect() as conn:
        rows = (await conn.execute(select(tables.article_feedback.c.helpful))).scalars().all()
    assert sorted(rows) == sorted(votes)

    # Agents reading in the console do not inflate views.
    console = (await agent.client.run(CONSOLE_ARTICLE, {"id": article["id"]}))["knowledgeArticle"]
    assert console["viewCount"] == 21


async def test_only_published_articles_take_feedback(make_actor: MakeActor, anonymous: GraphQLClient) -> None:
    agent = await make_actor(AgentRole.AGENT)
    article = await draft(agent)
    assert codes(await payload_of(anonymous, RATE, {"id": article["id"], "helpful": True})) == [(["id"], "NOT_FOUND")]
    refused = await payload_of(agent.client, RATE, {"id": article["id"], "helpful": True})
    assert codes(refused) == [(["id"], "INVALID_TRANSITION")]


async def test_a_helpful_rating_after_a_search_counts_as_self_service(
    make_actor: MakeActor, anonymous: GraphQLClient, rt: Runtime
) -> None:
    agent = await make_actor(AgentRole.AGENT)
    supervisor = await make_actor(AgentRole.SUPERVISOR)
    refund = await published(agent, supervisor)
    await published(agent, supervisor, **PASSWORD)

    await search(anonymous, "退款多久到账")  # answered: rated helpful below
    await search(anonymous, "password")  # shown an article, no ticket followed: served
    await search(anonymous, "完全无关的问题")  # nothing found: not served
    await anonymous.run(SUGGEST, {"subject": "Reset password"})  # a ticket with that subject followed
    await agent.client.run(CONSOLE_SEARCH, {"query": "退款"})  # agents' searches are not self-service
    await anonymous.mutate(RATE, {"id": refund["id"], "helpful": True})
    await agent.client.mutate(
        CREATE_TICKET,
        {
            "input": {
                "subject": "reset password",
                "description": "The link never arrives.",
                "channel": "WEB_FORM",
                "customer": {"email": "x@example.com"},
            }
        },
    )

    async with rt.engine.connect() as conn:
        searches = dict(
            (await conn.execute(select(tables.article_searches.c.query, tables.article_searches.c.id))).all()
        )
        linked = (await conn.execute(select(tables.article_feedback.c.search_id))).scalars().all()
    assert linked == [searches["退款多久到账"]]

    now = rt.clock.now()
    async with rt.engine.connect() as conn:
        assert await article_reads.helpful_rate(conn, now - timedelta(hours=1), now) == 1.0
        assert await article_reads.self_service_rate(conn, now - timedelta(hours=1), now) == pytest.approx(2 / 4)
        assert await article_reads.self_service_rate(conn, now - timedelta(hours=3), now - timedelta(hours=2)) is None


# ---------------------------------------------------------------- ticket search


async def test_ticket_search_covers_subject_description_and_comments(admin: Actor, make_actor: MakeActor) -> None:
    agent = await make_actor(AgentRole.AGENT)

    async def ticket(subject: str, description: str) -> str:
        created = await admin.client.mutate(
            CREATE_TICKET,
            {
                "input": {
                    "subject": subject,
                    "description": description,
                    "channel": "EMAIL",
                    "customer": {"email": "zhou@example.cn"},
                }
            },
        )
        return str(created["ticket"]["id"])

    refund = await ticket("退款到账时间", "三天前申请的退款还没到账")
    printer = await ticket("Printer offline", "The office printers show offline since Monday.")
    watch = await ticket("手表问题", "步数不同步")
    await admin.client.mutate(ADD_COMMENT, {"ticketId": watch, "body": "已经尝试重新配对蓝牙，仍然无法同步"})
    await admin.client.mutate(
        ADD_COMMENT, {"ticketId": printer, "body": "内部备注：疑似固件 bug", "visibility": "INTERNAL"}
    )

    async def found(client: GraphQLClient, text: str) -> list[str]:
        data = await client.run(SEARCH_TICKETS, {"search": text})
        return sorted(e["node"]["id"] for e in data["tickets"]["edges"])

    assert await found(admin.client, "退款多久到账") == []  # every word must match: 多久 is in none
    assert await found(admin.client, "到账") == [refund]
    assert await found(admin.client, "退款 到账") == [refund]
    assert await found(admin.client, "PRINTER") == [printer]
    assert await found(admin.client, "蓝牙配对") == [watch]  # a comment's words
    assert await found(admin.client, "固件") == [printer]  # an internal note, for agents
    assert await found(admin.client, "   ") == sorted([refund, printer, watch])  # blank: no filter
    assert await found(admin.client, "the") == []  # only stop words: nothing to match

    # A partner token relays to customers: internal notes are not searchable through it.
    token = (await admin.client.mutate(CREATE_API_TOKEN, {"name": "portal"}))["token"]
    portal = admin.client.as_(token)
    assert await found(portal, "固件") == []
    assert await found(portal, "printer") == [printer]

    # Agents still only find tickets they may see.
    assert await found(agent.client, "到账") == []

    # Edits keep the document current.
    await admin.client.mutate("console/UpdateTicket.graphql", {"id": refund, "input": {"subject": "银行卡退款问题"}})
    assert await found(admin.client, "银行卡") == [refund]


async def test_knowledge_articles_pages_newest_first(make_actor: MakeActor, anonymous: GraphQLClient) -> None:
    agent = await make_actor(AgentRole.AGENT)
    supervisor = await make_actor(AgentRole.SUPERVISOR)
    made = [await published(agent, supervisor, title=f"文章 {i}", category="faq") for i in range(5)]
    await published(agent, supervisor, title="Other", category="other")

    seen: list[str] = []
    after = None
    while True:
        data = (await anonymous.run(ARTICLE_LIST, {"category": "FAQ", "first": 2, "after": after}))["knowledgeArticles"]
        assert data["totalCount"] == 5
        seen += [e["node"]["id"] for e in data["edges"]]
        if not data["pageInfo"]["hasNextPage"]:
            break
        after = data["pageInfo"]["endCursor"]
    assert seen == [a["id"] for a in reversed(made)]
    bad = await anonymous.post(load_document(ARTICLE_LIST), {"after": "nonsense"})
    assert error_codes(bad) == ["BAD_USER_INPUT"]
