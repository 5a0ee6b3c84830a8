"""The knowledge base: writing and publishing articles, drafting them from resolved tickets,
reader feedback, and search (searchArticles, suggestArticles, a ticket's suggestions).

Each public function is one transaction. Searches and suggestions are recorded in
`article_searches` in the transaction that answers them, for the self-service rate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.policy import Action, allows, require
from app.db import fulltext, tables
from app.db.repositories import knowledge as reads
from app.db.repositories.knowledge import ARTICLE_COLUMNS
from app.db.repositories.tickets import visible_to
from app.domain import knowledge as rules
from app.domain import segmentation
from app.domain import validation as v
from app.domain.enums import ArticleStatus, TicketStatus
from app.domain.errors import Duplicate, Forbidden, InvalidTransition, NotFound
from app.domain.language import detect_language
from app.domain.principal import CredentialKind, Principal
from app.domain.records import ArticleMatchRecord, ArticleRecord, TicketRecord
from app.domain.snippets import snippet
from app.services.runtime import Runtime

ka, t = tables.knowledge_articles, tables.tickets

MAX_TITLE = 300
MAX_BODY = 100_000
MAX_QUERY = 1_000
# Suggestions read the subject and the start of the description: enough to know the topic.
SUGGEST_DESCRIPTION_CHARS = 2_000


class SearchKind:
    SEARCH = "SEARCH"
    SUGGEST = "SUGGEST"


@dataclass(frozen=True, slots=True)
class ArticleInput:
    title: str
    body: str
    category: str | None = None
    tags: list[str] | None = None
    language: str | None = None


def caller_key(principal: Principal | None, client_address: str | None) -> str | None:
    """Who is asking, stable across their calls, to link a rating to the search before it:
    the agent, the API token, or (anonymous) a hash of the client address."""
    if principal is not None:
        if principal.credential is CredentialKind.API_TOKEN:
            return f"token:{principal.credential_id}"
        return f"agent:{principal.agent_id}"
    if client_address:
        return "client:" + hashlib.sha256(client_address.encode()).hexdigest()[:24]
    return None


# ---------------------------------------------------------------- writing


def _validated(data: ArticleInput) -> dict[str, Any]:
    problems = v.Problems()
    title = v.required_text(problems, data.title, ["input", "title"], MAX_TITLE)
    body = v.required_text(problems, data.body, ["input", "body"], MAX_BODY)
    category = v.optional_text(problems, data.category, ["input", "category"], 64)
    values = {
        "title": title,
        "body": body,
        "category": category.lower() if category else None,
        "tags": v.tags(problems, data.tags, ["input", "tags"], v.TextLimits()),
        "language": v.language(problems, data.language, ["input", "language"]),
    }
    problems.raise_if_any()
    if values["language"] is None:
        values["language"] = detect_language(f"{title}\n{body}")
    return values


def _documents(values: dict[str, Any]) -> dict[str, Any]:
    everything, title = rules.search_documents(values["title"], values["body"], values["tags"], values["category"])
    return {"search_vector": fulltext.vector(everything), "title_vector": fulltext.vector(title)}


async def _insert(conn: AsyncConnection, values: dict[str, Any], **extra: Any) -> ArticleRecord:
    row = (
        await conn.execute(insert(ka).values(**values, **extra, **_documents(values)).returning(*ARTICLE_COLUMNS))
    ).one()
    return ArticleRecord(*row)


async def _lock(conn: AsyncConnection, principal: Principal, article_id: int) -> ArticleRecord:
    row = (await conn.execute(select(*ARTICLE_COLUMNS).where(ka.c.id == article_id).with_for_update())).one_or_none()
    if row is None or ArticleStatus(row.status) not in rules.readable_statuses(principal):
        raise NotFound("no such article", ["id"])
    return ArticleRecord(*row)


async def create_article(rt: Runtime, principal: Principal, data: ArticleInput) -> ArticleRecord:
    """A new DRAFT by the caller; customers see it once a supervisor publishes it."""
    require(principal, Action.WRITE_ARTICLE)
    values = _validated(data)
    now = rt.clock.now()
    async with rt.transaction() as tx:
        return await _insert(tx.conn, values, author_agent_id=principal.agent_id, created_at=now, updated_at=now)


async def update_article(rt: Runtime, principal: Principal, article_id: int, data: ArticleInput) -> ArticleRecord:
    """Replaces title, body, category, tags and language; the status stays. Agents edit drafts;
    an article customers read (or did) takes a supervisor."""
    require(principal, Action.WRITE_ARTICLE)
    values = _validated(data)
    async with rt.transaction() as tx:
        current = await _lock(tx.conn, principal, article_id)
        if rules.edit_needs_supervisor(ArticleStatus(current.status)) and not allows(principal, Action.PUBLISH_ARTICLE):
            raise Forbidden(f"a {current.status} article is edited by a supervisor; agents edit drafts")
        row = (
            await tx.conn.execute(
                update(ka)
                .where(ka.c.id == article_id)
                .values(**values, **_documents(values), updated_at=rt.clock.now())
                .returning(*ARTICLE_COLUMNS)
            )
        ).one()
    return ArticleRecord(*row)


async def publish_article(rt: Runtime, principal: Principal, article_id: int) -> ArticleRecord:
    """DRAFT or ARCHIVED -> PUBLISHED (publishedAt is the latest publication)."""
    return await _move(rt, principal, article_id, rules.published)


async def archive_article(rt: Runtime, principal: Principal, article_id: int) -> ArticleRecord:
    """PUBLISHED (or an abandoned DRAFT) -> ARCHIVED: out of search and suggestions."""
    return await _move(rt, principal, article_id, rules.archived)


async def _move(rt: Runtime, principal: Principal, article_id: int, transition: Any) -> ArticleRecord:
    require(principal, Action.PUBLISH_ARTICLE)
    async with rt.transaction() as tx:
        current = await _lock(tx.conn, principal, article_id)
        target: ArticleStatus = transition(ArticleStatus(current.status))
        now = rt.clock.now()
        values: dict[str, Any] = {"status": target.value, "updated_at": now}
        if target is ArticleStatus.PUBLISHED:
            values["published_at"] = now
        row = (
            await tx.conn.execute(update(ka).where(ka.c.id == article_id).values(**values).returning(*ARTICLE_COLUMNS))
        ).one()
    return ArticleRecord(*row)


async def create_article_from_ticket(rt: Runtime, principal: Principal, ticket_id: int) -> ArticleRecord:
    """A DRAFT from a RESOLVED or CLOSED ticket the caller can see: its subject, the customer's
    problem and the resolution, category, tags and language, linked as the source ticket.
    One live (draft or published) article per ticket: a second attempt is DUPLICATE."""
    require(principal, Action.WRITE_ARTICLE)
    async with rt.transaction() as tx:
        # Locked, so two agents turning the same ticket into an article cannot both succeed.
        row = (
            await tx.conn.execute(
                select(t.c.status, t.c.subject, t.c.description, t.c.resolution, t.c.category, t.c.tags, t.c.language)
                .where(t.c.id == ticket_id, visible_to(principal))
                .with_for_update(of=t)
            )
        ).one_or_none()
        if row is None:
            raise NotFound("no such ticket", ["ticketId"])
        draft = rules.draft_from_ticket(
            status=TicketStatus(row.status),
            subject=row.subject,
            description=row.description,
            resolution=row.resolution,
            category=row.category,
            tags=list(row.tags),
            language=row.language,
        )
        existing = (
            await tx.conn.execute(
                select(ka.c.id).where(ka.c.source_ticket_id == ticket_id, ka.c.status != ArticleStatus.ARCHIVED.value)
            )
        ).first()
        if existing is not None:
            raise Duplicate("an article was already drafted from this ticket", ["ticketId"])
        values = _validated(ArticleInput(draft.title, draft.body, draft.category, draft.tags, draft.language))
        now = rt.clock.now()
        return await _insert(
            tx.conn,
            values,
            author_agent_id=principal.agent_id,
            source_ticket_id=ticket_id,
            created_at=now,
            updated_at=now,
        )


# ---------------------------------------------------------------- reading and feedback


async def read_article(rt: Runtime, principal: Principal | None, article_id: int) -> ArticleRecord | None:
    """The article if the caller may read it, else None. A reader (anonymous or portal) reading
    a published article counts one view, in the same statement."""
    statuses = [s.value for s in rules.readable_statuses(principal)]
    async with rt.transaction() as tx:
        if rules.counts_views(principal):
            row = (
                await tx.conn.execute(
                    update(ka)
                    .where(ka.c.id == article_id, ka.c.status == ArticleStatus.PUBLISHED.value)
                    .values(view_count=ka.c.view_count + 1)
                    .returning(*ARTICLE_COLUMNS)
                )
            ).one_or_none()
        else:
            row = (
                await tx.conn.execute(select(*ARTICLE_COLUMNS).where(ka.c.id == article_id, ka.c.status.in_(statuses)))
            ).one_or_none()
    return ArticleRecord(*row) if row else None


async def rate_article(
    rt: Runtime, principal: Principal | None, key: str | None, article_id: int, helpful: bool
) -> ArticleRecord:
    """Reader feedback on a PUBLISHED article: one view and one helpful or not-helpful vote,
    counted atomically with the feedback row. The feedback is linked to the caller's latest
    search or suggestion in the past hour that showed this article (self-service rate)."""
    now = rt.clock.now()
    async with rt.transaction() as tx:
        row = (
            await tx.conn.execute(
                update(ka)
                .where(ka.c.id == article_id, ka.c.status == ArticleStatus.PUBLISHED.value)
                .values(
                    view_count=ka.c.view_count + 1,
                    helpful_count=ka.c.helpful_count + (1 if helpful else 0),
                    not_helpful_count=ka.c.not_helpful_count + (0 if helpful else 1),
                )
                .returning(*ARTICLE_COLUMNS)
            )
        ).one_or_none()
        if row is None:
            status = (await tx.conn.execute(select(ka.c.status).where(ka.c.id == article_id))).scalar_one_or_none()
            if status is not None and ArticleStatus(status) in rules.readable_statuses(principal):
                raise InvalidTransition(f"a {status} article takes no feedback; only published ones do", ["id"])
            raise NotFound("no such article", ["id"])
        search_id = None
        if key is not None:
            search_id = await reads.latest_search_showing(tx.conn, key, article_id, now - reads.SELF_SERVICE_WINDOW)
        await tx.conn.execute(
            insert(tables.article_feedback).values(
                article_id=article_id, helpful=helpful, search_id=search_id, created_at=now
            )
        )
    return ArticleRecord(*row)


# ---------------------------------------------------------------- search


def _query_text(problems: v.Problems, text: str, field: str) -> str:
    if len(text) > MAX_QUERY:
        problems.add(f"must be at most {MAX_QUERY} characters", [field])
    return text.strip()


async def search_articles(
    rt: Runtime, principal: Principal | None, key: str | None, query: str, first: int
) -> list[ArticleMatchRecord]:
    """Published articles for a question in any language, best first, each with a snippet
    around the matched words; recorded as a SEARCH for the self-service rate."""
    problems = v.Problems()
    text = _query_text(problems, query, "query")
    problems.raise_if_any()
    lexemes = segmentation.query_lexemes(text)
    async with rt.transaction() as tx:
        matches = await _best_matches(tx.conn, lexemes, segmentation.misspellable_words(text), first)
        await _record(tx.conn, SearchKind.SEARCH, text, principal, key, matches, rt.clock.now())
    return matches


async def suggest_articles(
    rt: Runtime,
    principal: Principal | None,
    key: str | None,
    subject: str,
    description: str | None,
    first: int,
) -> list[ArticleMatchRecord]:
    """Articles that may answer a question before it becomes a ticket (deflection): the subject's
    terms first, then the description's. Recorded as a SUGGEST (the subject is what is kept)."""
    problems = v.Problems()
    subject_text = _query_text(problems, subject, "subject")
    problems.raise_if_any()
    lexemes = _suggestion_lexemes(subject_text, description)
    async with rt.transaction() as tx:
        matches = await _best_matches(tx.conn, lexemes, segmentation.misspellable_words(subject_text), first)
        await _record(tx.conn, SearchKind.SUGGEST, subject_text, principal, key, matches, rt.clock.now())
    return matches


async def suggestions_for_tickets(
    rt: Runtime, tickets: Sequence[TicketRecord], first: int
) -> list[list[ArticleMatchRecord]]:
    """Published articles for each ticket (subject and description), in one statement for all."""
    queries = [segmentation.tsquery_literal(_suggestion_lexemes(tk.subject, tk.description)) for tk in tickets]
    asked = [(i, q) for i, q in enumerate(queries) if q is not None]
    results: list[list[ArticleMatchRecord]] = [[] for _ in tickets]
    if not asked or first <= 0:
        return results
    async with rt.engine.connect() as conn:
        found = await reads.search_published_many(conn, [q for _, q in asked], first)
        articles = await reads.articles_by_ids(conn, {aid for hits in found for aid, _ in hits})
    for (i, _), hits in zip(asked, found, strict=True):
        wanted = set(_suggestion_lexemes(tickets[i].subject, tickets[i].description))
        results[i] = [_match(articles[aid], score, wanted) for aid, score in hits if aid in articles]
    return results


def _suggestion_lexemes(subject: str, description: str | None) -> list[str]:
    lexemes = segmentation.query_lexemes(subject)
    if description:
        lexemes += segmentation.query_lexemes(description[:SUGGEST_DESCRIPTION_CHARS])
    return list(dict.fromkeys(lexemes))[: segmentation.MAX_QUERY_TERMS]


async def _best_matches(
    conn: AsyncConnection, lexemes: list[str], misspellable: list[str], first: int
) -> list[ArticleMatchRecord]:
    """Full-text hits; when they are fewer than asked, titles with a word like a misspelt one
    follow (scored below every full-text hit)."""
    if first <= 0:
        return []
    tsquery = segmentation.tsquery_literal(lexemes)
    hits = await reads.search_published(conn, tsquery, first) if tsquery else []
    if len(hits) < first and misspellable:
        seen = {article.id for article, _ in hits}
        floor = min((score for _, score in hits), default=1.0)
        similar = await reads.similar_titles(conn, misspellable, seen, first - len(hits))
        hits += [(article, floor * similarity * 0.5) for article, similarity in similar]
    wanted = set(lexemes)
    return [_match(article, score, wanted) for article, score in hits]


def _match(article: ArticleRecord, score: float, wanted: set[str]) -> ArticleMatchRecord:
    return ArticleMatchRecord(article, score, snippet(segmentation.strip_markdown(article.body), wanted))


async def _record(
    conn: AsyncConnection,
    kind: str,
    query: str,
    principal: Principal | None,
    key: str | None,
    matches: list[ArticleMatchRecord],
    now: datetime,
) -> None:
    if not query:
        return
    await conn.execute(
        insert(tables.article_searches).values(
            kind=kind,
            query=query,
            agent_id=principal.agent_id if principal else None,
            result_count=len(matches),
            caller_key=key,
            article_ids=[m.article.id for m in matches],
            created_at=now,
        )
    )


async def link_suggestions_to_ticket(conn: AsyncConnection, key: str | None, ticket_id: int, now: datetime) -> None:
    """In the web form's transaction: the caller's searches and suggestions of the past
    SELF_SERVICE_WINDOW were followed by this ticket, so they did not serve the caller (the
    self-service rate), whatever the subject they were typed under."""
    if key is None:
        return
    s = tables.article_searches
    await conn.execute(
        update(s)
        .where(s.c.caller_key == key, s.c.created_at >= now - reads.SELF_SERVICE_WINDOW, s.c.ticket_id.is_(None))
        .values(ticket_id=ticket_id)
    )


async def readable_articles(rt: Runtime, principal: Principal | None, ids: Sequence[int]) -> list[ArticleRecord | None]:
    """Articles by id as the caller may read them (others are None, like missing ones); no view is counted."""
    statuses = rules.readable_statuses(principal)
    async with rt.engine.connect() as conn:
        found = await reads.articles_by_ids(conn, ids)
    return [a if (a := found.get(pk)) is not None and ArticleStatus(a.status) in statuses else None for pk in ids]
