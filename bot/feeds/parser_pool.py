"""Where fetched feeds are parsed: worker processes for the bot, a thread for tests and tools.

Both give :func:`bot.feeds.jobs.parse_with_keys` (the feed, its entries' keys) and raise
:class:`~bot.errors.FeedParseError` (or :class:`~bot.errors.NotAFeedError`) for a body that is
no readable feed, including one that makes the parser crash or run past its time limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from bot.errors import (
    FeedError,
    FeedParseError,
    WorkerCrashedError,
    WorkerTimeoutError,
    WorkerUnavailableError,
)
from bot.feeds.decide import EntryKeys
from bot.feeds.jobs import parse_with_keys
from bot.feeds.types import ParsedFeed
from bot.ops import metrics
from bot.workers import ProcessPool
from bot.workers.pool import RESTART_DELAY_S

log = logging.getLogger(__name__)

#: Seconds one feed may take to parse in a worker (a 5 MB feed takes well under one).
PARSE_TIME_LIMIT_S = 10.0

ParseResult = tuple[ParsedFeed, tuple[EntryKeys, ...]]


#: Seconds after which the poller tries again a feed it could not parse for want of workers.
UNAVAILABLE_RETRY_S = 60


class ParserUnavailableError(FeedError):
    """No parse worker could read the feed: a failure of this check, not of the feed (the
    poller tries it again after :data:`UNAVAILABLE_RETRY_S` without counting it against the feed).
    """


class FeedParser(Protocol):
    async def parse(self, body: bytes, url: str, content_type: str | None) -> ParseResult:
        """The feed in ``body`` (fetched from ``url``) and its entries' keys."""
        ...


class InThreadParser:
    """Parses in the event loop's default thread pool: off the loop, but on one core and
    without a time limit. For tests and one-off tools; the bot uses :class:`ParserPool`.
    """

    async def parse(self, body: bytes, url: str, content_type: str | None) -> ParseResult:
        with metrics.FEED_PARSE_SECONDS.time():
            return await asyncio.to_thread(parse_with_keys, body, url, content_type)


class ParserPool:
    """Parses in ``workers`` processes (:class:`~bot.workers.ProcessPool`): every core, and a
    hostile feed costs one worker at most, never the bot.

    Feeds are never parsed in the bot's own process: while no worker can run,
    :meth:`parse` raises :class:`ParserUnavailableError`, and the pool starts workers again
    (on the next call, and in the background for one it could not replace).
    """

    def __init__(
        self,
        workers: int,
        *,
        time_limit_s: float = PARSE_TIME_LIMIT_S,
        warm_up: str = "bot.feeds.parser_pool:warm_up",
        restart_delay_s: float = RESTART_DELAY_S,
    ) -> None:
        self._time_limit_s = time_limit_s
        self._pool = ProcessPool(
            "bot.feeds.jobs:parse_with_keys",
            workers,
            time_limit_s=time_limit_s,
            warm_up=warm_up,
            restart_delay_s=restart_delay_s,
        )

    @property
    def worker_pids(self) -> frozenset[int]:
        return self._pool.worker_pids

    async def start(self) -> None:
        """Start the workers now rather than on the first feed. Raises WorkerUnavailableError."""
        await self._pool.start()

    async def close(self) -> None:
        await self._pool.close()

    async def __aenter__(self) -> ParserPool:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def parse(self, body: bytes, url: str, content_type: str | None) -> ParseResult:
        try:
            with metrics.FEED_PARSE_SECONDS.time():
                parsed: ParseResult = await self._pool.run(body, url, content_type)
        except WorkerTimeoutError as e:
            raise FeedParseError(f"The feed took longer than {self._time_limit_s:g} seconds to read.") from e
        except WorkerCrashedError as e:
            raise FeedParseError("The feed crashed the parser.") from e
        except WorkerUnavailableError as e:
            # Not read here instead: a hostile feed must cost a worker, never the bot's process.
            log.warning("feed parser workers unavailable (%s); %s will be checked again", e, url)
            raise ParserUnavailableError(
                "The feed reader is not available right now (its worker processes could not start); "
                "try again in a minute."
            ) from e
        return parsed


_WARM_UP_FEEDS = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>Warm-up</title><item><title>A &amp; B'
    b"</title><link>https://example.org/a</link><description>&lt;p&gt;Text&lt;/p&gt;</description>"
    b"<pubDate>Fri, 02 Jan 2026 08:00:00 GMT</pubDate></item></channel></rss>",
    b'<feed xmlns="http://www.w3.org/2005/Atom"><title>Warm-up</title><entry><id>urn:a</id>'
    b'<title>A</title><link href="https://example.org/a"/><updated>2026-01-02T08:00:00Z</updated>'
    b"</entry></feed>",
    b'{"version": "https://jsonfeed.org/version/1.1", "title": "Warm-up", "items": '
    b'[{"id": "1", "url": "https://example.org/a", "title": "A"}]}',
    b"<rss><channel><title>Broken & unclosed</title><item><title>A</title></item>",  # the fallback
)


def warm_up() -> None:
    """Run every parser path once in a new worker, so the first real feed pays no imports."""
    for body in _WARM_UP_FEEDS:
        with contextlib.suppress(FeedParseError):
            parse_with_keys(body, "https://example.org/feed", None)
