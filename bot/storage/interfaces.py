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
