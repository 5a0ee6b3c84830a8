"""Pages of knowledge articles (searching and suggesting rank them: app.services.knowledge)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from app.db.repositories import knowledge as articles
from app.domain.records import ArticleRecord
from app.reads.pages import CountedPage
from app.services.runtime import Runtime


async def articles_page(
    rt: Runtime, statuses: Collection[str], category: str | None, after: tuple[datetime, int] | None, first: int
) -> CountedPage[ArticleRecord]:
    """Articles in these statuses (and category), newest first after the (created_at, id) boundary."""
    async with rt.engine.connect() as conn:
        rows = await articles.list_articles(conn, statuses, category, after, first + 1)
        total = await articles.count_articles(conn, statuses, category)
    return CountedPage.of(rows, first, total)
