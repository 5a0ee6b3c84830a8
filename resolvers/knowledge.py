"""Root fields of the knowledge base.

Reading published articles, searching, suggesting and rating are open to anonymous callers
(a customer portal before sign-in), so those resolvers never require a principal; writing,
publishing and drafting from tickets do.
"""

from __future__ import annotations

import strawberry

from app.domain import knowledge as rules
from app.domain.errors import DomainError
from app.reads.knowledge import articles_page
from app.services import knowledge as knowledge_service
from resolvers.access import Info, principal_of
from resolvers.payloads import decode_id, reports_user_errors
from schema import errors, ids
from schema.common import PageInfo, page_size
from schema.enums import ArticleStatus
from schema.knowledge import (
    ArticleInput,
    ArticleMatch,
    ArticlePayload,
    KnowledgeArticle,
    KnowledgeArticleConnection,
    KnowledgeArticleEdge,
    article_cursor,
    decode_article_cursor,
)


def _caller_key(info: Info) -> str | None:
    return knowledge_service.caller_key(info.context.principal, info.context.client_address)


def _article_input(input: ArticleInput) -> knowledge_service.ArticleInput:
    return knowledge_service.ArticleInput(
        title=input.title, body=input.body, category=input.category, tags=input.tags, language=input.language
    )


@strawberry.type
class KnowledgeQuery:
    @strawberry.field
    async def knowledge_article(self, info: Info, id: strawberry.ID) -> KnowledgeArticle | None:
        pk = ids.decode_as(id, "KnowledgeArticle")
        if pk is None:
            return None
        record = await knowledge_service.read_article(info.context.rt, info.context.principal, pk)
        return KnowledgeArticle.of(record) if record else None

    @strawberry.field
    async def knowledge_articles(
        self,
        info: Info,
        status: ArticleStatus | None = None,
        category: str | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> KnowledgeArticleConnection:
        size = page_size(first, info.context.rt.settings.max_page_size)
        readable = {s.value for s in rules.readable_statuses(info.context.principal)}
        statuses = readable & {status.value} if status is not None else readable
        wanted_category = category.strip().lower() if category else None
        boundary = decode_article_cursor(after) if after else None
        page = await articles_page(info.context.rt, statuses, wanted_category, boundary, size)
        edges = [KnowledgeArticleEdge(cursor=article_cursor(r), node=KnowledgeArticle.of(r)) for r in page.items]
        return KnowledgeArticleConnection(
            edges=edges,
            page_info=PageInfo.of([e.cursor for e in edges], page.has_next, after is not None),
            total_count=page.total_count,
        )

    @strawberry.field(
        description="Full-text search over published articles (Chinese and other scripts included), best first."
    )
    async def search_articles(self, info: Info, query: str, first: int | None = 10) -> list[ArticleMatch]:
        size = page_size(first, info.context.rt.settings.max_page_size)
        try:
            matches = await knowledge_service.search_articles(
                info.context.rt, info.context.principal, _caller_key(info), query, size
            )
        except DomainError as error:
            raise errors.from_domain(error, field=error.field) from None
        return [ArticleMatch.of(m) for m in matches]

    @strawberry.field(
        description="Articles that may answer a question before it becomes a ticket (self-service deflection)."
    )
    async def suggest_articles(
        self, info: Info, subject: str, description: str | None = None, first: int | None = 3
    ) -> list[ArticleMatch]:
        size = page_size(first, info.context.rt.settings.max_page_size)
        try:
            matches = await knowledge_service.suggest_articles(
                info.context.rt, info.context.principal, _caller_key(info), subject, description, size
            )
        except DomainError as error:
            raise errors.from_domain(error, field=error.field) from None
        return [ArticleMatch.of(m) for m in matches]


@strawberry.type
class KnowledgeMutation:
    @strawberry.mutation
    @reports_user_errors(ArticlePayload)
    async def create_article(self, info: Info, input: ArticleInput) -> ArticlePayload:
        principal = principal_of(info)
        record = await knowledge_service.create_article(info.context.rt, principal, _article_input(input))
        return ArticlePayload(article=KnowledgeArticle.of(record))

    @strawberry.mutation
    @reports_user_errors(ArticlePayload)
    async def update_article(self, info: Info, id: strawberry.ID, input: ArticleInput) -> ArticlePayload:
        principal = principal_of(info)
        pk = decode_id(id, "KnowledgeArticle", ["id"])
        record = await knowledge_service.update_article(info.context.rt, principal, pk, _article_input(input))
        return ArticlePayload(article=KnowledgeArticle.of(record))

    @strawberry.mutation
    @reports_user_errors(ArticlePayload)
    async def publish_article(self, info: Info, id: strawberry.ID) -> ArticlePayload:
        principal = principal_of(info)
        pk = decode_id(id, "KnowledgeArticle", ["id"])
        return ArticlePayload(
            article=KnowledgeArticle.of(await knowledge_service.publish_article(info.context.rt, principal, pk))
        )

    @strawberry.mutation
    @reports_user_errors(ArticlePayload)
    async def archive_article(self, info: Info, id: strawberry.ID) -> ArticlePayload:
        principal = principal_of(info)
        pk = decode_id(id, "KnowledgeArticle", ["id"])
        return ArticlePayload(
            article=KnowledgeArticle.of(await knowledge_service.archive_article(info.context.rt, principal, pk))
        )

    @strawberry.mutation(description="Drafts an article from a resolved ticket's subject, description and resolution.")
    @reports_user_errors(ArticlePayload)
    async def create_article_from_ticket(self, info: Info, ticket_id: strawberry.ID) -> ArticlePayload:
        principal = principal_of(info)
        pk = decode_id(ticket_id, "Ticket", ["ticketId"])
        record = await knowledge_service.create_article_from_ticket(info.context.rt, principal, pk)
        return ArticlePayload(article=KnowledgeArticle.of(record))

    @strawberry.mutation(description="Reader feedback; also counts a view.")
    @reports_user_errors(ArticlePayload)
    async def rate_article(self, info: Info, id: strawberry.ID, helpful: bool) -> ArticlePayload:
        # Readers rate without signing in, like they read.
        pk = decode_id(id, "KnowledgeArticle", ["id"])
        record = await knowledge_service.rate_article(
            info.context.rt, info.context.principal, _caller_key(info), pk, helpful
        )
        return ArticlePayload(article=KnowledgeArticle.of(record))
