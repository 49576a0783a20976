"""The newsdesk core: builds the services from the settings and owns their lifetime.

The Discord client, the CLI and the tests all go through :class:`Newsdesk`;
it knows nothing of Discord.
"""

from __future__ import annotations

import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from types import TracebackType

from bot.articles import ArticleService
from bot.config import Settings
from bot.extract import ExtractorPool
from bot.feeds.poller import FeedPoller
from bot.feeds.service import FeedService
from bot.fetch import Fetcher
from bot.storage import ArticleCache, Database
from bot.storage.outbox import OutboxStore

log = logging.getLogger(__name__)


class Newsdesk:
    """Every service of the bot, wired together. Use as ``async with Newsdesk(settings) as core``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(settings.database.url, echo=settings.database.echo)
        self.fetcher = Fetcher(settings.fetch)
        self.extractor = ExtractorPool(settings.extract.workers, settings.extract.timeout_s)
        self.article_cache = ArticleCache(self.db)
        self.articles = ArticleService(
            self.fetcher,
            self.extractor,
            self.article_cache,
            ttl_s=settings.cache.article_ttl_s,
        )
        # Feed parsing is CPU work: worker processes keep it off the loop and use every core.
        # "spawn" because forking a process that runs threads (aiosqlite) is unsafe.
        self.parse_executor = ProcessPoolExecutor(
            max_workers=settings.extract.workers, mp_context=multiprocessing.get_context("spawn")
        )
        self.feeds = FeedService(self.db, self.fetcher, settings.feeds, parse_executor=self.parse_executor)
        self.poller = FeedPoller(
            self.db, self.fetcher, settings.feeds, parse_executor=self.parse_executor, extractor=self.articles
        )
        self.outbox = OutboxStore(self.db)

    async def start(self) -> None:
        """Bring the database schema up to date. Raises StorageError."""
        await self.db.upgrade()
        log.info("database ready dialect=%s", self.db.dialect_name)

    async def close(self) -> None:
        """Release the HTTP session, the worker processes and the database pool."""
        # Each is closed even if another fails: a half-closed bot must not leak processes.
        self.poller.stop()
        self.parse_executor.shutdown(wait=False, cancel_futures=True)
        for closer in (self.fetcher.close, self.extractor.close, self.db.close):
            try:
                await closer()
            except Exception:
                log.exception("error while closing %s", closer.__qualname__)

    async def __aenter__(self) -> Newsdesk:
        try:
            await self.start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
