"""The newsdesk core: builds the services from the settings and owns their lifetime.

The Discord client, the CLI and the tests all go through :class:`Newsdesk`;
it knows nothing of Discord.
"""

from __future__ import annotations

import logging
from types import TracebackType

from bot.alerts.service import AlertService
from bot.articles import ArticleService
from bot.clock import clock_from
from bot.config import Settings
from bot.delivery.publisher import Publisher
from bot.digests.scheduler import DigestScheduler
from bot.digests.service import DigestService
from bot.extract import ExtractorPool
from bot.feeds.parser_pool import ParserPool
from bot.feeds.pipeline import FeedPipeline
from bot.feeds.poller import FeedPoller
from bot.feeds.service import FeedService
from bot.feeds.sources import Retrievers
from bot.fetch import Fetcher
from bot.storage import ArticleCache, Database, GuildSettingsStore
from bot.storage.alerts import AlertStore
from bot.storage.digests import DigestStore
from bot.storage.feeds import FeedStore
from bot.storage.outbox import OutboxStore
from bot.storage.stories import StoryStore
from bot.stories.service import StoryAssigner

log = logging.getLogger(__name__)


class Newsdesk:
    """Every service of the bot, wired together. Use as ``async with Newsdesk(settings) as core``."""

    def __init__(self, settings: Settings, *, publisher: Publisher | None = None) -> None:
        """``publisher`` edits posted alerts in place; without one, alerts are only posted."""
        self.settings = settings
        self.clock = clock_from(settings.testing.clock_file)
        self.db = Database(settings.database.url, echo=settings.database.echo)
        self.fetcher = Fetcher(settings.fetch)
        self.extractor = ExtractorPool.from_settings(settings.extract)
        self.article_cache = ArticleCache(self.db)
        self.articles = ArticleService(
            self.fetcher,
            self.extractor,
            self.article_cache,
            ttl_s=settings.cache.article_ttl_s,
            clock=self.clock,
        )
        # Feed parsing is CPU work: worker processes keep it off the loop and use every core.
        self.feed_parser = ParserPool(settings.extract.workers)
        feed_store = FeedStore(self.db)
        # One pipeline checks feeds for the poller and for /feed add alike.
        feed_pipeline = FeedPipeline(
            feed_store,
            Retrievers.http(self.fetcher),
            self.feed_parser,
            settings.feeds,
            extractor=self.articles,
            clock=self.clock,
        )
        self.feeds = FeedService(
            feed_store,
            self.fetcher,
            settings.feeds,
            parser=self.feed_parser,
            clock=self.clock,
            pipeline=feed_pipeline,
        )
        self.poller = FeedPoller(
            feed_store,
            self.fetcher,
            settings.feeds,
            parser=self.feed_parser,
            on_new_items=lambda: self.stories.notify(),
            clock=self.clock,
            pipeline=feed_pipeline,
            # Stable across restarts (as the outbox dispatcher's), so a restarted bot takes back
            # at once the feeds it had claimed when it died, instead of after their lease.
            owner="bot",
        )
        self.outbox = OutboxStore(self.db)
        # Per-server settings (the manager role), read by the Discord cogs.
        self.guild_settings = GuildSettingsStore(self.db)
        story_store = StoryStore(self.db)
        self.alerts = AlertService(
            AlertStore(self.db),
            story_store,
            self.outbox,
            publisher=publisher,
            clock=self.clock,
            max_keywords=settings.alerts.max_keywords,
        )
        self.stories = StoryAssigner(
            story_store,
            clock=self.clock,
            on_assigned=self.alerts.check_stories,
            batch_size=settings.stories.batch_size,
            idle_s=settings.stories.idle_s,
        )
        self.digests = DigestService(DigestStore(self.db), story_store)
        self.digest_scheduler = DigestScheduler(
            self.digests, clock=self.clock, tick_s=settings.digests.tick_s, grace_s=settings.digests.grace_s
        )

    async def start(self) -> None:
        """Bring the database schema up to date. Raises StorageError."""
        await self.db.upgrade()
        log.info("database ready dialect=%s", self.db.dialect_name)

    async def close(self) -> None:
        """Release the HTTP session, the worker processes and the database pool."""
        # Each is closed even if another fails: a half-closed bot must not leak processes.
        self.poller.stop()
        closers = (
            self.digest_scheduler.stop,
            self.feed_parser.close,
            self.stories.close,
            self.fetcher.close,
            self.extractor.close,
            self.db.close,
        )
        for closer in closers:
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
