"""The newsdesk core: builds the services from the settings and owns their lifetime.

The Discord client, the CLI and the tests all go through :class:`Newsdesk`;
it knows nothing of Discord.
"""

from __future__ import annotations

import logging
from types import TracebackType

from bot.articles import ArticleService
from bot.config import Settings
from bot.extract import ExtractorPool
from bot.fetch import Fetcher
from bot.storage import ArticleCache, Database

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

    async def start(self) -> None:
        """Bring the database schema up to date. Raises StorageError."""
        await self.db.upgrade()
        log.info("database ready dialect=%s", self.db.dialect_name)

    async def close(self) -> None:
        """Release the HTTP session, the worker processes and the database pool."""
        # Each is closed even if another fails: a half-closed bot must not leak processes.
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
