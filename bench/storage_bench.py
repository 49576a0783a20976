"""Micro-benchmark of the article cache on SQLite and PostgreSQL.

    python3 -m bench.storage_bench [-n 500] [--postgres postgresql://postgres@127.0.0.1:5432/test]

SQLite runs on a temporary file. For PostgreSQL, a database ``newsdesk_bench_<random>``
is created through the given (admin) URL and dropped afterwards; ``--postgres ''`` skips it.
Articles are ~6 KB (a 900-word article). Prints per-operation latency and throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.storage.article_cache import ArticleCache
from bot.storage.database import Database
from bot.types import Article

CONCURRENCY = 8


def _article(i: int) -> Article:
    text = " ".join(f"word{j % 97}" for j in range(900))
    return Article(
        url=f"https://news.example.com/{i}?utm_source=bench",
        canonical_url=f"https://news.example.com/{i}",
        title=f"Story number {i}",
        author="A. Writer",
        published=datetime(2026, 1, 1, tzinfo=UTC),
        site_name="Example News",
        description="A description of the story.",
        image_url="https://news.example.com/lead.jpg",
        language="en",
        text=text,
        word_count=900,
        reading_minutes=4,
        summary=text[:300],
    )


async def _timed(n: int, op: Callable[[int], Awaitable[object]]) -> list[float]:
    times = []
    for i in range(n):
        start = time.perf_counter()
        await op(i)
        times.append(time.perf_counter() - start)
    return times


def _report(label: str, times: list[float]) -> None:
    ms = sorted(t * 1000 for t in times)
    p95 = ms[int(len(ms) * 0.95) - 1]
    mean, p50 = statistics.fmean(ms), ms[len(ms) // 2]
    print(f"  {label:<22} n={len(ms):<5} mean {mean:6.2f} ms  p50 {p50:6.2f}  p95 {p95:6.2f}")


async def bench(url: str, n: int) -> None:
    db = Database(url)
    try:
        start = time.perf_counter()
        await db.upgrade()
        print(f"{db.dialect_name}: upgrade from empty {1000 * (time.perf_counter() - start):.0f} ms")
        cache = ArticleCache(db)
        now = datetime.now(UTC)
        articles = [_article(i) for i in range(n)]

        _report("put (insert)", await _timed(n, lambda i: cache.put(f"k{i}", articles[i], fetched_at=now)))
        later = now + timedelta(seconds=1)
        _report("put (update)", await _timed(n, lambda i: cache.put(f"k{i}", articles[i], fetched_at=later)))
        _report("get (hit)", await _timed(n, lambda i: cache.get(f"k{i}", now=later, max_age_s=3600)))
        _report("get (miss)", await _timed(n, lambda i: cache.get(f"m{i}", now=later, max_age_s=3600)))

        async def worker(w: int) -> None:
            for i in range(w, n, CONCURRENCY):
                await cache.put(f"c{i}", articles[i], fetched_at=now)
                await cache.get(f"c{i}", now=now, max_age_s=3600)

        start = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(CONCURRENCY)))
        elapsed = time.perf_counter() - start
        print(f"  {CONCURRENCY} tasks put+get        {2 * n / elapsed:6.0f} ops/s")

        start = time.perf_counter()
        purged = await cache.purge(older_than=later)
        print(f"  purge {purged} rows         {1000 * (time.perf_counter() - start):6.1f} ms")
    finally:
        await db.close()


async def main(n: int, postgres: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        await bench(f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}", n)
    if not postgres:
        return
    import asyncpg  # only here: the admin connection creates and drops the database
    from sqlalchemy.engine import make_url

    admin_url = make_url(postgres).set(drivername="postgresql")
    name = f"newsdesk_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_url.render_as_string(hide_password=False))
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = admin_url.set(drivername="postgresql+asyncpg", database=name)
        await bench(url.render_as_string(hide_password=False), n)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=500, help="articles per operation (default 500)")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    asyncio.run(main(args.n, args.postgres))
