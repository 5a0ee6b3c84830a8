"""How fast `searchArticles` answers over a large knowledge base.

Bulk-loads N published articles (COPY through asyncpg; each document built by the same
segmentation the service uses), made from the search-quality fixture: every article is a
fixture article under a varied title, with sentences of other articles and product codes
mixed in, so common helpdesk words appear in thousands of articles, as in a real base.
Then asks every fixture question `--rounds` times through the search service (ranking,
snippets and the self-service record included) and prints JSON with p50 / p95 / p99 and
the plan of one query (it must use the GIN index).

    .venv/bin/python -m benchmarks.kb_search --articles 100000

The database (`helpdesk_bench_kb_<N>` next to HELPDESK_BENCH_DATABASE_URL, else
HELPDESK_TEST_DATABASE_URL, else DATABASE_URL) is kept and reused by the next run with the
same N unless `--reload`. tests/integration/test_knowledge_search.py runs it with a small N.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.dialects import postgresql

from app.db import fulltext
from app.db.engine import async_url, create_engine
from app.db.repositories.knowledge import prefer_index_scans, ranked_published
from app.domain import segmentation
from app.domain.knowledge import search_documents
from app.services import knowledge as knowledge_service
from app.services.runtime import Runtime
from app.settings import Settings
from benchmarks import databases
from tests.fixtures.knowledge_base import ARTICLES, QUERIES, FixtureArticle

COLUMNS = ["title", "body", "category", "tags", "language", "status", "search_vector", "title_vector", "published_at"]
VARIANTS_ZH = ["常见问题", "操作指南", "客服答疑", "2026 版", "新手必读", "详细说明", "企业版", "海外版"]
VARIANTS_EN = ["FAQ", "guide", "how-to", "2026 edition", "for business", "troubleshooting", "explained"]
BATCH = 5_000
SEED = 7


def database_url(base: str, articles: int) -> str:
    return make_url(async_url(base)).set(database=f"helpdesk_bench_kb_{articles}").render_as_string(False)


def _sentences(article: FixtureArticle) -> list[str]:
    plain = segmentation.strip_markdown(article.body)
    return [s.strip() for s in re.split(r"(?<=[。；！？.;!?])\s*|\n", plain) if len(s.strip()) > 8]


def synthetic_article(index: int, seed: int = SEED) -> tuple[str, ...]:
    """One synthetic article: a fixture article, varied, with sentences of others mixed in."""
    rng = random.Random(seed * 1_000_003 + index)
    base = ARTICLES[index % len(ARTICLES)]
    chinese = base.language == "zh"
    variant = rng.choice(VARIANTS_ZH if chinese else VARIANTS_EN)
    code = f"{rng.choice('ABCDEFGHJKLMNPQRSTUVWXYZ')}{rng.randint(100, 9999)}"
    title = f"{base.title}（{variant} {code}）" if chinese else f"{base.title} ({variant}, {code})"
    others = [s for other in rng.sample(ARTICLES, 4) for s in _sentences(other)[:2]]
    extra = "\n".join(rng.sample(others, min(4, len(others))))
    models = " ".join(f"{rng.choice('XYZ')}{rng.randint(1, 99)}-{rng.randint(100, 999)}" for _ in range(3))
    body = f"{base.body}\n\n{extra}\n\n适用型号 / models: {models}"
    tags = "{" + ",".join(f'"{t}"' for t in base.tags) + "}"
    vector, title_vector = search_documents(title, body, base.tags, base.category)
    published = "2026-01-01T00:00:00Z"
    return (title, body, base.category, tags, base.language, "PUBLISHED", vector, title_vector, published)


def _csv_batch(start: int, stop: int, seed: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    for i in range(start, stop):
        writer.writerow(synthetic_article(i, seed))
    return out.getvalue().encode()


def prepare_database(base: str, url: str, reload: bool) -> bool:
    return databases.prepare_database(base, url, reload, "knowledge_articles")


async def load(url: str, articles: int, seed: int = SEED, workers: int | None = None) -> float:
    """Builds and COPYs `articles` articles; returns the seconds it took."""
    started = time.perf_counter()
    conn = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(False))
    try:
        ranges = [(s, min(s + BATCH, articles)) for s in range(0, articles, BATCH)]
        loop = asyncio.get_running_loop()
        with ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
            futures = [loop.run_in_executor(pool, _csv_batch, s, e, seed) for s, e in ranges]
            for done, future in enumerate(futures, 1):
                data = await future
                await conn.copy_to_table("knowledge_articles", source=io.BytesIO(data), columns=COLUMNS, format="csv")
                print(f"loaded {min(done * BATCH, articles)}/{articles}", file=sys.stderr, flush=True)
        await conn.execute("VACUUM ANALYZE knowledge_articles")
    finally:
        await conn.close()
    return time.perf_counter() - started


async def explain(rt: Runtime, question: str) -> str:
    """The plan of the service's own search statement for one question."""
    tsquery = segmentation.tsquery_literal(segmentation.query_lexemes(question)) or "''"
    statement = ranked_published(fulltext.query(tsquery), 10).compile(
        dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
    )
    async with rt.engine.connect() as conn:
        await prefer_index_scans(conn)
        rows = await conn.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {statement}"))
        return "\n".join(r[0] for r in rows)


_BY_TITLE = sorted(ARTICLES, key=lambda a: -len(a.title))


def _fixture_key(title: str) -> str | None:
    """The fixture article a synthetic article was made from (its title starts with it)."""
    return next((a.key for a in _BY_TITLE if title.startswith(a.title)), None)


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(url: str, rounds: int, first: int = 10, explain_question: str | None = None) -> dict[str, Any]:
    """Latency of the search service over the fixture questions, in milliseconds."""
    engine = create_engine(url, pool_size=2, max_overflow=0)
    rt = Runtime(engine=engine, settings=Settings(database_url=url, log_json=False))
    try:
        for q in QUERIES[:5]:  # warm the pool, the caches and the segmenter's dictionary
            await knowledge_service.search_articles(rt, None, "bench", q.text, first)
        timings: list[float] = []
        results: list[int] = []
        hits_at_3 = 0
        for round_ in range(rounds):
            for q in QUERIES:
                started = time.perf_counter()
                matches = await knowledge_service.search_articles(rt, None, "bench", q.text, first)
                timings.append((time.perf_counter() - started) * 1000)
                results.append(len(matches))
                if round_ == 0:
                    hits_at_3 += q.expected in [_fixture_key(m.article.title) for m in matches[:3]]
        plan = await explain(rt, explain_question or QUERIES[0].text)
    finally:
        await engine.dispose()
    return {
        "searches": len(timings),
        "p50_ms": round(statistics.median(timings), 2),
        "p95_ms": round(_percentile(timings, 0.95), 2),
        "p99_ms": round(_percentile(timings, 0.99), 2),
        "max_ms": round(max(timings), 2),
        "mean_results": round(statistics.mean(results), 2),
        # A copy of the expected fixture article among the first three.
        "recall_at_3": round(hits_at_3 / len(QUERIES), 3),
        "uses_gin_index": bool(re.search(r"Bitmap Index Scan on ix_knowledge_articles_(title_)?search", plan)),
        "plan": plan,
    }


async def run(
    base: str, articles: int, rounds: int, reload: bool = False, explain_question: str | None = None
) -> dict[str, Any]:
    url = database_url(base, articles)
    loaded_seconds = None
    # Alembic runs its own event loop: in a thread, so `run` can be awaited from one.
    if not await asyncio.to_thread(prepare_database, base, url, reload):
        loaded_seconds = round(await load(url, articles), 1)
    figures = await measure(url, rounds, explain_question=explain_question)
    return {"articles": articles, "load_seconds": loaded_seconds, **figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--reload", action="store_true", help="drop and load the data set again")
    parser.add_argument("--plan", action="store_true", help="print the query plan too")
    args = parser.parse_args()
    base = (
        os.environ.get("HELPDESK_BENCH_DATABASE_URL")
        or os.environ.get("HELPDESK_TEST_DATABASE_URL")
        or os.environ.get("DATABASE_URL")
    )
    if not base:
        raise SystemExit("set HELPDESK_BENCH_DATABASE_URL (or HELPDESK_TEST_DATABASE_URL / DATABASE_URL)")
    result = asyncio.run(run(base, args.articles, args.rounds, args.reload))
    if not args.plan:
        result.pop("plan")
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
