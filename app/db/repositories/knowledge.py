"""Knowledge base reads: articles by id and by page, ranked full-text search, title trigram
matching for misspellings, and the feedback figures a report shows."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    Float,
    FromClause,
    Integer,
    Select,
    Text,
    and_,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
    union,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import fulltext, tables
from app.db.repositories.rows import by_id, columns_for, to_records
from app.domain.enums import ArticleStatus
from app.domain.records import ArticleRecord

ka = tables.knowledge_articles
ARTICLE_COLUMNS = columns_for(ka, ArticleRecord)
_PUBLISHED = ArticleStatus.PUBLISHED.value
# How alike a misspelt word and a title word must be (pg_trgm word similarity, 0-1).
TITLE_SIMILARITY_THRESHOLD = 0.4
# A ticket created this soon after a search or suggestion, about the same thing, means the
# articles did not answer the question.
SELF_SERVICE_WINDOW = timedelta(hours=1)

Scored = tuple[ArticleRecord, float]


async def articles_by_ids(conn: AsyncConnection, ids: Collection[int]) -> dict[int, ArticleRecord]:
    rows = await conn.execute(select(*ARTICLE_COLUMNS).where(ka.c.id.in_(list(ids))))
    return by_id(to_records(ArticleRecord, rows))


async def articles_by_title(conn: AsyncConnection, titles: Collection[str]) -> dict[str, ArticleRecord]:
    """Articles of any status by exact title (the oldest when several share one)."""
    rows = await conn.execute(select(*ARTICLE_COLUMNS).where(ka.c.title.in_(list(titles))).order_by(ka.c.id.desc()))
    return {record.title: record for record in to_records(ArticleRecord, rows)}


async def list_articles(
    conn: AsyncConnection,
    statuses: Collection[str],
    category: str | None,
    after: tuple[datetime, int] | None,
    limit: int,
) -> list[ArticleRecord]:
    """Newest first, keyset-paged on (created_at, id)."""
    query = select(*ARTICLE_COLUMNS).where(*_list_filter(statuses, category))
    if after is not None:
        query = query.where(tuple_(ka.c.created_at, ka.c.id) < tuple_(*after))
    rows = await conn.execute(query.order_by(ka.c.created_at.desc(), ka.c.id.desc()).limit(limit))
    return to_records(ArticleRecord, rows)


async def count_articles(conn: AsyncConnection, statuses: Collection[str], category: str | None) -> int:
    query = select(func.count()).select_from(ka).where(*_list_filter(statuses, category))
    return int((await conn.execute(query)).scalar_one())


def _list_filter(statuses: Collection[str], category: str | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [ka.c.status.in_(list(statuses))]
    if category is not None:
        conditions.append(ka.c.category == category)
    return conditions


# Ranking reads an article's whole document (out of line, compressed: the costly part), so
# only a bounded set of candidates is ranked: the articles whose title or tags match best
# (ranked on the small title document, itself over a bounded set of title matches), and the
# first articles the full-text index yields. Below the bounds nothing is left out; above,
# title matches win their place, which is where the answer to a common word usually is.
TITLE_MATCHES = 1_000
TITLE_CANDIDATES = 100
OTHER_CANDIDATES = 400


def ranked_published(tsquery: ColumnElement[Any], limit: int, outer: FromClause | None = None) -> Select[Any]:
    """Published articles matching `tsquery` (GIN indexes), best ts_rank first, with the score.
    `outer` is the enclosing FROM the query comes from when this runs as a LATERAL subquery."""

    def inner(query: Select[Any]) -> Select[Any]:
        return query.correlate(outer) if outer is not None else query

    c = ka.alias("c")
    published = c.c.status == _PUBLISHED
    title_hits = (
        inner(select(c.c.id, c.c.title_vector).where(published, fulltext.matches(c.c.title_vector, tsquery)))
        .limit(TITLE_MATCHES)
        .subquery("title_hits")
    )
    best_titles = inner(
        select(title_hits.c.id)
        .order_by(fulltext.rank(title_hits.c.title_vector, tsquery).desc(), title_hits.c.id)
        .limit(TITLE_CANDIDATES)
    )
    anywhere = inner(
        select(c.c.id).where(published, fulltext.matches(c.c.search_vector, tsquery)).limit(OTHER_CANDIDATES)
    )
    candidates = union(best_titles, anywhere).subquery("candidates")
    r = ka.alias("r")
    score = fulltext.rank(r.c.search_vector, tsquery).label("score")
    top = (
        inner(select(r.c.id, score).join_from(r, candidates, candidates.c.id == r.c.id))
        .order_by(score.desc(), r.c.id)
        .limit(limit)
        .subquery("top")
    )
    return (
        select(*ARTICLE_COLUMNS, top.c.score)
        .join_from(ka, top, top.c.id == ka.c.id)
        .order_by(top.c.score.desc(), ka.c.id)
    )


async def prefer_index_scans(conn: AsyncConnection) -> None:
    """For this transaction only: no sequential scans. The planner prices `@@` as if documents
    were small, so for a rare word it would rather read the whole table in order and
    decompress every document than ask the GIN index (tens of milliseconds at 100,000
    articles)."""
    await conn.execute(select(func.set_config("enable_seqscan", "off", True)))


async def search_published(conn: AsyncConnection, tsquery_text: str, limit: int) -> list[Scored]:
    """Published articles matching any query term, best first, with their scores."""
    await prefer_index_scans(conn)
    rows = await conn.execute(ranked_published(fulltext.query(tsquery_text), limit))
    width = len(ARTICLE_COLUMNS)
    return [(ArticleRecord(*row[:width]), float(row[width])) for row in rows]


async def search_published_many(
    conn: AsyncConnection, tsquery_texts: Sequence[str], limit: int
) -> list[list[tuple[int, float]]]:
    """The best `limit` (article id, score) per query, for many queries in one statement."""
    if not tsquery_texts:
        return []
    keys = select(
        func.unnest(cast(literal(list(range(len(tsquery_texts)))), ARRAY(Integer))).label("i"),
        func.unnest(cast(literal(list(tsquery_texts)), ARRAY(Text))).label("q"),
    ).subquery("k")
    best = ranked_published(fulltext.query(keys.c.q), limit, outer=keys).lateral("best")
    await prefer_index_scans(conn)
    rows = await conn.execute(
        select(keys.c.i, best.c.id, best.c.score).select_from(keys.join(best, true())).order_by(keys.c.i)
    )
    found: list[list[tuple[int, float]]] = [[] for _ in tsquery_texts]
    for i, article_id, value in rows:
        found[i].append((article_id, float(value)))
    return found


async def similar_titles(
    conn: AsyncConnection, words: Sequence[str], exclude: Collection[int], limit: int
) -> list[Scored]:
    """Published articles whose title has a word like one of `words` (pg_trgm, typo tolerant),
    most similar first. Runs in the caller's transaction: it sets the threshold locally."""
    if not words or limit <= 0:
        return []
    await conn.execute(
        select(func.set_config("pg_trgm.word_similarity_threshold", str(TITLE_SIMILARITY_THRESHOLD), True))
    )
    similarity = func.greatest(*(func.word_similarity(w, ka.c.search_title) for w in words)).label("similarity")
    query = select(*ARTICLE_COLUMNS, cast(similarity, Float)).where(
        ka.c.status == _PUBLISHED, or_(*(literal(w).op("<%")(ka.c.search_title) for w in words))
    )
    if exclude:
        query = query.where(ka.c.id.notin_(list(exclude)))
    rows = await conn.execute(query.order_by(similarity.desc(), ka.c.id).limit(limit))
    width = len(ARTICLE_COLUMNS)
    return [(ArticleRecord(*row[:width]), float(row[width])) for row in rows]


async def helpful_rate(conn: AsyncConnection, start: datetime, end: datetime) -> float | None:
    """helpful / (helpful + not helpful) over feedback given in [start, end); None without feedback."""
    af = tables.article_feedback
    helpful, total = (
        await conn.execute(
            select(func.count().filter(af.c.helpful), func.count()).where(
                af.c.created_at >= start, af.c.created_at < end
            )
        )
    ).one()
    return helpful / total if total else None


async def self_service_rate(conn: AsyncConnection, start: datetime, end: datetime) -> float | None:
    """The share of customer-facing searchArticles / suggestArticles calls in [start, end) that
    served the caller themselves; None when there were none. See README, "Self-service rate".

    Customer-facing: made anonymously or with an API token (a portal, a bot), not by an agent in
    the console. Served: the caller rated one of the articles it was shown helpful, or it was
    shown at least one article, no ticket with the same subject as the question was created
    within the hour after, and the caller submitted no web form within the hour after."""
    s, f, t = tables.article_searches, tables.article_feedback, tables.tickets
    rated_helpful = exists().where(f.c.search_id == s.c.id, f.c.helpful)
    ticket_followed = exists().where(
        t.c.created_at >= s.c.created_at,
        t.c.created_at < s.c.created_at + SELF_SERVICE_WINDOW,
        func.lower(func.btrim(t.c.subject)) == func.lower(func.btrim(s.c.query)),
    )
    # A web-form ticket the same caller submitted afterwards (app.services.knowledge
    # link_suggestions_to_ticket) means it did not serve them, even under another subject.
    served = or_(rated_helpful, and_(s.c.result_count > 0, ~ticket_followed, s.c.ticket_id.is_(None)))
    total, self_served = (
        await conn.execute(
            select(func.count(), func.count().filter(served)).where(
                s.c.created_at >= start,
                s.c.created_at < end,
                or_(s.c.caller_key.is_(None), ~s.c.caller_key.startswith("agent:")),
            )
        )
    ).one()
    return self_served / total if total else None


async def latest_search_showing(conn: AsyncConnection, caller_key: str, article_id: int, since: datetime) -> int | None:
    """The caller's most recent search or suggestion since `since` that showed the article."""
    s = tables.article_searches
    return (
        await conn.execute(
            select(s.c.id)
            .where(
                s.c.caller_key == caller_key,
                s.c.created_at >= since,
                s.c.article_ids.contains(cast([article_id], ARRAY(BigInteger))),
            )
            .order_by(s.c.created_at.desc(), s.c.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
