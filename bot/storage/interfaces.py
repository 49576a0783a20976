"""What the rest of newsdesk may ask of storage, one Protocol per domain.

Services depend on these Protocols, not on the SQL classes, so a test can hand
them an in-memory fake. Each method says who calls it and what it raises; every
method may raise :class:`~bot.errors.StorageError` when the database is
unreachable or a query fails, and :class:`ValueError` for a naive datetime
(timestamps are always timezone-aware).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.types import Article


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


class ArticleCacheStore(Protocol):
    """Extracted articles by canonical URL, reused for ``cache.article_ttl_s``."""

    async def get(self, canonical_url: str, *, now: datetime, max_age_s: int) -> Article | None:
        """The article cached for ``canonical_url`` if fetched less than ``max_age_s`` before ``now``.

        ``None`` when absent, too old, ``max_age_s`` is 0 (caching off), or the
        stored row no longer decodes (written by an older version).
        Called by the article service before fetching a page.
        """
        ...

    async def get_entry(self, canonical_url: str) -> CachedArticle | None:
        """The cached entry for ``canonical_url`` whatever its age, or ``None``.

        Called by :meth:`get`, diagnostics and tests.
        """
        ...

    async def put(self, canonical_url: str, article: Article, *, fetched_at: datetime) -> None:
        """Store ``article`` under ``canonical_url``, replacing an older entry.

        An entry fetched *later* than ``fetched_at`` is kept (a slow fetch that
        finishes last must not replace a newer copy). URLs longer than
        :data:`~bot.storage.article_cache.MAX_KEY_BYTES` are not cached.
        Called by the article service after a successful extraction.
        """
        ...

    async def purge(self, *, older_than: datetime) -> int:
        """Delete entries fetched before ``older_than``; return how many.

        Called by a periodic maintenance task with ``now - cache.article_ttl_s``.
        """
        ...
