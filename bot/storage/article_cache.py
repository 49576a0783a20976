"""The article cache repository: extracted articles by canonical URL.

A fetch plus extraction costs seconds; the same link is often posted many
times, so articles are reused for ``cache.article_ttl_s``. Freshness is a pure
decision (:func:`is_fresh`); the SQL only stores and loads.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from bot.storage.database import Database
from bot.storage.schema import article_cache, insert
from bot.types import Article

log = logging.getLogger(__name__)

#: Longest cache key, in UTF-8 bytes. PostgreSQL refuses b-tree keys over about
#: 2,700 bytes; longer URLs are rare enough to simply not cache.
MAX_KEY_BYTES = 2048


@dataclass(frozen=True, slots=True)
class CachedArticle:
    """An article as the cache holds it."""

    #: The cache key: the canonical URL, tracking parameters removed.
    canonical_url: str
    #: The URL the page was fetched from, after redirects.
    url: str | None
    #: When the page was fetched (timezone-aware UTC).
    fetched_at: datetime
    #: The extracted article.
    article: Article


def is_fresh(fetched_at: datetime, *, now: datetime, max_age_s: int) -> bool:
    """Whether an article fetched at ``fetched_at`` may still be reused at ``now``.

    ``max_age_s <= 0`` turns caching off. A ``fetched_at`` after ``now`` (another
    host's clock ahead of ours) counts as fresh.
    """
    return max_age_s > 0 and now - fetched_at < timedelta(seconds=max_age_s)


class ArticleCache:
    """Extracted articles by canonical URL, reused for ``cache.article_ttl_s``, on a :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, canonical_url: str, *, now: datetime, max_age_s: int) -> Article | None:
        """The article cached for ``canonical_url`` if fetched less than ``max_age_s`` before ``now``.

        ``None`` when absent, too old, ``max_age_s`` is 0 (caching off), or the
        stored row no longer decodes (written by an older version).
        Called by the article service before fetching a page.
        """
        _require_aware("now", now)
        if max_age_s <= 0:
            return None
        entry = await self.get_entry(canonical_url)
        if entry is None or not is_fresh(entry.fetched_at, now=now, max_age_s=max_age_s):
            return None
        return entry.article

    async def get_entry(self, canonical_url: str) -> CachedArticle | None:
        """The cached entry for ``canonical_url`` whatever its age, or ``None``.

        Called by :meth:`get`, diagnostics and tests.
        """
        if not _cacheable(canonical_url):
            return None
        query = select(article_cache.c.url, article_cache.c.fetched_at, article_cache.c.article).where(
            article_cache.c.canonical_url == canonical_url
        )
        async with self._db.session() as conn:
            row = (await conn.execute(query)).one_or_none()
        if row is None:
            return None
        article = _decode(canonical_url, row.article)
        if article is None:
            return None
        return CachedArticle(
            canonical_url=canonical_url, url=row.url, fetched_at=row.fetched_at, article=article
        )

    async def put(self, canonical_url: str, article: Article, *, fetched_at: datetime) -> None:
        """Store ``article`` under ``canonical_url``, replacing an older entry.

        An entry fetched *later* than ``fetched_at`` is kept (a slow fetch that
        finishes last must not replace a newer copy). URLs longer than
        :data:`~bot.storage.article_cache.MAX_KEY_BYTES` are not cached.
        Called by the article service after a successful extraction.
        """
        _require_aware("fetched_at", fetched_at)
        if not _cacheable(canonical_url):
            log.debug("not caching %.80s...: URL longer than %d bytes", canonical_url, MAX_KEY_BYTES)
            return
        stmt = insert(self._db.dialect_name, article_cache).values(
            canonical_url=canonical_url, url=article.url, fetched_at=fetched_at, article=article.to_dict()
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[article_cache.c.canonical_url],
            set_={
                "url": stmt.excluded.url,
                "fetched_at": stmt.excluded.fetched_at,
                "article": stmt.excluded.article,
            },
            where=article_cache.c.fetched_at <= stmt.excluded.fetched_at,
        )
        async with self._db.session(write=True) as conn:
            await conn.execute(stmt)

    async def purge(self, *, older_than: datetime) -> int:
        """Delete entries fetched before ``older_than``; return how many.

        Called by a periodic maintenance task with ``now - cache.article_ttl_s``.
        """
        _require_aware("older_than", older_than)
        stmt = delete(article_cache).where(article_cache.c.fetched_at < older_than)
        async with self._db.session(write=True) as conn:
            result = await conn.execute(stmt)
        return result.rowcount


def _cacheable(canonical_url: str) -> bool:
    return len(canonical_url.encode("utf-8", "surrogatepass")) <= MAX_KEY_BYTES


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")


def _decode(canonical_url: str, data: Any) -> Article | None:
    # A row written before Article changed shape is a cache miss, not an error:
    # the next put() overwrites it.
    try:
        return Article.from_dict(data)
    except (TypeError, ValueError, AttributeError) as e:
        log.warning("ignoring undecodable cached article for %s: %s", canonical_url, e)
        return None
