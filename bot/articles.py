"""Read an article from a URL: fetch → extract → cache.

The one code path behind ``/fetch`` and ``newsdesk fetch``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from bot.clock import utcnow
from bot.extract import ExtractorPool
from bot.fetch import HTML_TYPES, Fetcher
from bot.storage import ArticleCache
from bot.types import Article
from bot.urls import canonicalize_url, normalize_url, same_site

log = logging.getLogger(__name__)


class ArticleService:
    """Gets articles by URL, reusing cached extractions for ``ttl_s`` seconds."""

    def __init__(
        self,
        fetcher: Fetcher,
        extractor: ExtractorPool,
        cache: ArticleCache | None,
        *,
        ttl_s: int,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._fetcher = fetcher
        self._extractor = extractor
        self._cache = cache
        self._ttl_s = ttl_s
        self._clock = clock
        # Concurrent requests for the same page share one fetch (a link posted
        # in a busy channel is often fetched by several members at once).
        self._in_flight: dict[str, asyncio.Future[Article]] = {}

    async def get(self, url: str, *, use_cache: bool = True) -> Article:
        """The article at ``url``.

        Raises:
            InvalidURLError: ``url`` is not an http(s) URL.
            FetchError: the page could not be fetched (blocked, timeout, status, too large...).
            ExtractError: the page holds no article, or extraction timed out.
        """
        url = normalize_url(url)
        key = canonicalize_url(url)
        if use_cache:
            cached = await self._cached(key)
            if cached is not None:
                return cached

        pending = self._in_flight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Article] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        try:
            article = await self._fetch_and_extract(url, key)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as e:
            future.set_exception(e)
            # Nobody else may be waiting; retrieve it so asyncio does not warn.
            future.exception()
            raise
        else:
            future.set_result(article)
            return article
        finally:
            del self._in_flight[key]

    async def _cached(self, key: str) -> Article | None:
        if self._cache is None or self._ttl_s <= 0:
            return None
        return await self._cache.get(key, now=self._clock(), max_age_s=self._ttl_s)

    async def _fetch_and_extract(self, url: str, key: str) -> Article:
        result = await self._fetcher.fetch(url, accept_types=HTML_TYPES)
        article = await self._extractor.extract(result.text(), result.final_url)
        if self._cache is not None and self._ttl_s > 0:
            fetched_at = self._clock()
            # Stored under the URL asked for and the page's canonical URL, so a
            # later request through either (or a short link's target) is a hit. The cache
            # is shared by every server: a page answers only for URLs of its own site.
            keys = {key, canonicalize_url(result.final_url)}
            if article.canonical_url and same_site(article.canonical_url, result.final_url):
                keys.add(article.canonical_url)
            for cache_key in keys:
                await self._cache.put(cache_key, article, fetched_at=fetched_at)
        log.info("extracted url=%s words=%d", result.final_url, article.word_count)
        return article
