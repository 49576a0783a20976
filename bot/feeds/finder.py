"""Finding the feeds of a URL: the feed itself with a preview, or the feeds a web page
announces (``<link rel=alternate>``), else the first of the usual addresses that is a feed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from bot.errors import (
    BlockedAddressError,
    ConnectError,
    FeedError,
    FeedParseError,
    FetchError,
    FetchTimeoutError,
    NotAFeedError,
)
from bot.feeds.decide import chronological
from bot.feeds.discovery import candidate_paths, discover_feed_links
from bot.feeds.parser_pool import FeedParser
from bot.feeds.pipeline import FeedPipeline
from bot.feeds.types import Feed, FeedEntry, ParsedFeed
from bot.fetch import FEED_TYPES, HTML_TYPES, Fetcher, FetchResult

log = logging.getLogger(__name__)

#: Feeds announced by a page that are validated (fetched) at most.
MAX_CANDIDATES = 8
#: Feeds validated at the same time (discovery).
VALIDATE_CONCURRENCY = 4


@dataclass(frozen=True, slots=True)
class FeedCandidate:
    """A feed found for a URL, validated by fetching and parsing it."""

    #: The feed's URL, after redirects: what to pass to :meth:`FeedService.subscribe`.
    url: str
    #: The feed's title.
    title: str | None
    #: The site the feed belongs to.
    site_url: str | None
    #: The newest entry, as a preview (``None`` for an empty feed).
    newest: FeedEntry | None
    #: Entries in the feed now.
    entry_count: int

    @property
    def source(self) -> Feed:
        """The feed as its preview post shows it (without an icon)."""
        return Feed(self.url, self.title, self.site_url)


@dataclass(frozen=True, slots=True)
class FeedCandidates:
    """What a URL leads to: the feed itself, or the feeds a web page announces."""

    #: The URL asked about.
    url: str
    #: Whether ``url`` is itself a feed (then there is exactly one candidate).
    direct: bool
    #: Valid feeds, in page order; several means the user picks one.
    candidates: tuple[FeedCandidate, ...]


class FeedFinder:
    """Finds feeds with a :class:`Fetcher` (pages and feeds) and the feed pipeline (feeds)."""

    def __init__(self, fetcher: Fetcher, pipeline: FeedPipeline, parser: FeedParser) -> None:
        self._fetcher = fetcher
        self._pipeline = pipeline
        self._parser = parser

    async def resolve(self, url: str) -> FeedCandidates:
        """The feed at ``url``, or the feeds of the web page at ``url``.

        A feed gives itself with a preview. A page gives the feeds its ``<link rel=alternate>``
        announce, else the first of the common paths (``/feed``, ``/rss.xml``...) that is a
        feed; each is fetched and parsed to be sure. Raises :class:`FeedError` ("No feed found
        at ...") when there is none, and :class:`FetchError` when ``url`` cannot be fetched.
        """
        result = await self._fetcher.fetch(url, accept_types=FEED_TYPES | HTML_TYPES)
        if result.content_type not in HTML_TYPES:
            try:
                parsed = await self._parse(result)
            except NotAFeedError:
                pass  # a page sent as XML or text: look for its feeds
            except FeedParseError as e:
                raise FeedParseError(f"{result.final_url} is not a readable feed: {e}") from e
            else:
                return FeedCandidates(url=url, direct=True, candidates=(candidate(result.final_url, parsed),))
        # lxml on a page of up to fetch.max_bytes: off the event loop.
        found = await asyncio.get_running_loop().run_in_executor(
            None, discover_feed_links, result.text(), result.final_url
        )
        links = [link.url for link in found]
        candidates = await self._validate_all(links[:MAX_CANDIDATES])
        if not candidates:
            candidates = await self._probe_common_paths(result.final_url)
        if not candidates:
            raise FeedError(
                f"No feed found at {url}: the page announces none and none of the usual "
                "addresses (/feed, /rss.xml, ...) is a feed. Try the feed's own address."
            )
        return FeedCandidates(url=url, direct=False, candidates=tuple(_unique(candidates)))

    async def _validate_all(self, urls: Sequence[str]) -> list[FeedCandidate]:
        semaphore = asyncio.Semaphore(VALIDATE_CONCURRENCY)

        async def one(url: str) -> FeedCandidate | None:
            async with semaphore:
                try:
                    fetched = await self._pipeline.fetch_new(url)
                except (FetchError, FeedError) as e:
                    log.info("feed=%s announced but not usable: %s", url, e)
                    return None
                return candidate(fetched.url, fetched.parsed)

        found = await asyncio.gather(*(one(url) for url in urls))
        return [c for c in found if c is not None]

    async def _probe_common_paths(self, page_url: str) -> list[FeedCandidate]:
        # In order, one at a time: the first hit is enough, and a site need not take 18 requests.
        for url in candidate_paths(page_url):
            try:
                fetched = await self._pipeline.fetch_new(url)
            except (ConnectError, FetchTimeoutError, BlockedAddressError):
                return []  # the site itself is the problem: the other paths would fail alike
            except (FetchError, FeedError):
                continue
            return [candidate(fetched.url, fetched.parsed)]
        return []

    async def _parse(self, result: FetchResult) -> ParsedFeed:
        parsed, _ = await self._parser.parse(result.body, result.final_url, result.content_type_header)
        return parsed


def candidate(url: str, parsed: ParsedFeed) -> FeedCandidate:
    """The preview of the feed at ``url``: its newest entry by date and how many it has."""
    ordered = chronological(parsed.entries)
    return FeedCandidate(
        url=url,
        title=parsed.title,
        site_url=parsed.link,
        newest=ordered[-1] if ordered else None,
        entry_count=len(parsed.entries),
    )


def _unique(candidates: Sequence[FeedCandidate]) -> list[FeedCandidate]:
    seen: set[str] = set()
    kept = []
    for found in candidates:
        if found.url not in seen:
            seen.add(found.url)
            kept.append(found)
    return kept
