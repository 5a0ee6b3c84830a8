"""Knowledge base types: articles, search hits, their connection, input and payload."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from app.domain import cursors
from app.domain.errors import DomainError
from app.domain.global_ids import is_row_id
from app.domain.records import ArticleMatchRecord, ArticleRecord
from schema import errors, ids
from schema.common import Node, PageInfo, Payload, lazy_class, page_size
from schema.context import Context
from schema.enums import ArticleStatus
from schema.people import Agent, load_agent

if TYPE_CHECKING:
    from schema.tickets import Ticket

TicketRef = Annotated["Ticket", strawberry.lazy("schema.tickets")]
Info = strawberry.Info[Context, None]


@strawberry.type
class KnowledgeArticle(Node):
    id: strawberry.ID
    title: str
    body: str = strawberry.field(description="Markdown.")
    category: str | None
    tags: list[str]
    language: str | None
    status: ArticleStatus
    view_count: int
    helpful_count: int
    not_helpful_count: int
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    record: strawberry.Private[ArticleRecord]

    @classmethod
    def of(cls, r: ArticleRecord) -> KnowledgeArticle:
        return cls(
            id=ids.encode("KnowledgeArticle", r.id),
            record=r,
            title=r.title,
            body=r.body,
            category=r.category,
            tags=r.tags,
            language=r.language,
            status=ArticleStatus(r.status),
            view_count=r.view_count,
            helpful_count=r.helpful_count,
            not_helpful_count=r.not_helpful_count,
            created_at=r.created_at,
            updated_at=r.updated_at,
            published_at=r.published_at,
        )

    @strawberry.field
    async def author(self, info: Info) -> Agent | None:
        # Agents are not public: anonymous readers see the article, not who wrote it.
        if info.context.principal is None:
            return None
        return await load_agent(info, self.record.author_agent_id)

    @strawberry.field(description="The resolved ticket this article was distilled from, if any.")
    async def source_ticket(self, info: Info) -> TicketRef | None:
        if self.record.source_ticket_id is None:
            return None
        record = await info.context.loaders.ticket.load(self.record.source_ticket_id)
        return lazy_class(TicketRef).of(record) if record else None


@strawberry.type
class ArticleMatch:
    article: KnowledgeArticle
    score: float
    snippet: str = strawberry.field(description="A short excerpt around the matched words.")

    @classmethod
    def of(cls, r: ArticleMatchRecord) -> ArticleMatch:
        return cls(article=KnowledgeArticle.of(r.article), score=r.score, snippet=r.snippet)


@strawberry.type
class KnowledgeArticleEdge:
    cursor: str
    node: KnowledgeArticle


@strawberry.type
class KnowledgeArticleConnection:
    edges: list[KnowledgeArticleEdge]
    page_info: PageInfo
    total_count: int


@strawberry.input
class ArticleInput:
    title: str
    body: str
    category: str | None = None
    tags: list[str] | None = None
    language: str | None = None


@strawberry.type
class ArticlePayload(Payload):
    article: KnowledgeArticle | None = None


def article_cursor(r: ArticleRecord) -> str:
    return cursors.encode(cursors.CursorKind.ARTICLES, [r.created_at.isoformat(), r.id])


def decode_article_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        created_at, pk = cursors.decode(cursors.CursorKind.ARTICLES, cursor)
        moment = datetime.fromisoformat(created_at)
        if moment.tzinfo is None or not is_row_id(pk):
            raise ValueError("shape")
        moment.astimezone(UTC)  # OverflowError: out of range in UTC (0001-01-01T00:00+14:00)
        return moment, pk
    except DomainError as exc:
        raise errors.from_domain(exc) from exc
    except (ValueError, TypeError, OverflowError) as exc:
        raise errors.invalid_argument("not a valid article list cursor") from exc


async def load_article(info: Info, pk: int) -> KnowledgeArticle | None:
    """The article if the caller may read it (anonymous callers: published ones only)."""
    record = await info.context.loaders.article.load(pk)
    return KnowledgeArticle.of(record) if record else None


async def suggested_articles(info: Info, ticket_pk: int, first: int | None) -> list[ArticleMatch]:
    size = page_size(first, info.context.rt.settings.max_page_size)
    matches: list[ArticleMatchRecord] = await info.context.loaders.suggested_articles.load((ticket_pk, size))
    return [ArticleMatch.of(m) for m in matches]
