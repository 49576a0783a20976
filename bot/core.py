"""The newsdesk core: builds the services from the settings and owns their lifetime.

The Discord client, the CLI and the tests all go through :class:`Newsdesk`; it knows nothing of
Discord. It also owns the process model: a long-running process calls :meth:`Newsdesk.start_duties`,
which registers it in the database (heartbeat, :mod:`bot.presence`) and, for the ``worker`` role,
starts the background work (:mod:`bot.duties`). The ``gateway`` role runs no background work: its
commands write to the database, and the workers (in this process or others) act on it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from types import TracebackType

from bot.alerts.service import AlertService
from bot.articles import ArticleService
from bot.background import BackgroundLoop
from bot.clock import clock_from
from bot.config import Role, Settings
from bot.delivery.dispatcher import OutboxDispatcher
from bot.delivery.publisher import Publisher
from bot.digests.scheduler import ELECTION_NAME as DIGESTS_ELECTION
from bot.digests.scheduler import DigestScheduler
from bot.digests.service import DigestService
from bot.duties import WorkerDuties
from bot.election import Election
from bot.extract import ExtractorPool
from bot.feeds.parser_pool import ParserPool
from bot.feeds.pipeline import FeedPipeline
from bot.feeds.poller import FeedPoller
from bot.feeds.service import FeedService
from bot.feeds.sources import Retrievers
from bot.fetch import Fetcher
from bot.ops.health import Readiness
from bot.ops.http import OpsListener, start_listener
from bot.presence import Presence
from bot.pruning import PRUNE_EVERY_S, prune
from bot.ratelimit import ProcessCount
from bot.storage import ArticleCache, Database, GuildSettingsStore
from bot.storage.alerts import AlertStore
from bot.storage.digests import DigestStore
from bot.storage.feeds import FeedStore
from bot.storage.instances import InstanceStore, default_instance_id
from bot.storage.notify import OutboxListener
from bot.storage.outbox import OutboxStore
from bot.storage.stories import StoryStore
from bot.storage.story_threads import StoryThreadStore
from bot.stories.service import StoryAssigner

log = logging.getLogger(__name__)


class Newsdesk:
    """Every service of the bot, wired together. Use as ``async with Newsdesk(settings) as core``."""

    def __init__(
        self,
        settings: Settings,
        *,
        publisher: Publisher | None = None,
        publisher_for: Callable[[Database], Publisher] | None = None,
        roles: Sequence[Role] | None = None,
    ) -> None:
        """``publisher`` posts to Discord: the ``worker`` role's delivery needs it (alert edits go
        through the outbox like posts). ``publisher_for`` builds one on the bot's database instead
        (the Discord publisher keeps its webhooks and threads there). ``roles`` default to ``run.roles``.
        """
        self.settings = settings
        self.roles: tuple[Role, ...] = tuple(roles) if roles is not None else settings.run.roles
        # Names this process in heartbeats and every lease it takes: a restarted process is a
        # new instance and never frees a live peer's leases.
        self.instance_id = settings.run.instance_id or default_instance_id()
        self.clock = clock_from(settings.testing.clock_file)
        self.db = Database(settings.database.url, echo=settings.database.echo)
        if publisher_for is not None:
            publisher = publisher_for(self.db)
        self.fetcher = Fetcher(settings.fetch)
        # The live processes, which share Discord's global limit (cogs/ratelimits.py) and the feed
        # hosts' limits (bot/fetch/limits.py): counted in the database every few seconds, read
        # from this cache at each request.
        self.processes = ProcessCount(self._count_processes)
        self._process_counter: BackgroundLoop | None = None
        self.extractor, self.article_cache, self.articles = self._article_services()
        # Feed parsing is CPU work: worker processes keep it off the loop and use every core.
        self.feed_parser = ParserPool(settings.extract.workers)
        self.feeds, self.poller = self._feed_services()
        self.outbox = OutboxStore(self.db)
        # Per-server settings (the manager role), read by the Discord cogs.
        self.guild_settings = GuildSettingsStore(self.db)
        self.alerts, self.stories, self.digests, self.digest_scheduler = self._news_services()
        self.dispatcher = self._dispatcher(publisher)
        self.presence: Presence | None = None
        self._duties: WorkerDuties | None = None
        self.listener: OpsListener | None = None

    # --- wiring ----------------------------------------------------------------------------

    def _article_services(self) -> tuple[ExtractorPool, ArticleCache, ArticleService]:
        extractor = ExtractorPool.from_settings(self.settings.extract)
        cache = ArticleCache(self.db)
        articles = ArticleService(
            self.fetcher, extractor, cache, ttl_s=self.settings.cache.article_ttl_s, clock=self.clock
        )
        return extractor, cache, articles

    def _feed_services(self) -> tuple[FeedService, FeedPoller]:
        settings = self.settings.feeds
        store = FeedStore(self.db)
        # One pipeline checks feeds for the poller and for /feed add alike.
        pipeline = FeedPipeline(
            store,
            Retrievers.http(self.fetcher),
            self.feed_parser,
            settings,
            extractor=self.articles,
            clock=self.clock,
        )
        service = FeedService(
            store, self.fetcher, settings, parser=self.feed_parser, clock=self.clock, pipeline=pipeline
        )
        poller = FeedPoller(
            store,
            self.fetcher,
            settings,
            parser=self.feed_parser,
            on_new_items=lambda: self.stories.notify(),
            clock=self.clock,
            pipeline=pipeline,
            owner=self.instance_id,
        )
        return service, poller

    def _news_services(self) -> tuple[AlertService, StoryAssigner, DigestService, DigestScheduler]:
        settings = self.settings
        story_store = StoryStore(self.db)
        alerts = AlertService(
            AlertStore(self.db),
            story_store,
            clock=self.clock,
            max_keywords=settings.alerts.max_keywords,
        )
        # Grouping (and the alerts it raises) and digest firing each run on one elected worker
        # at a time; another takes over within run.takeover_s.
        stories = StoryAssigner(
            story_store,
            clock=self.clock,
            on_assigned=alerts.check_stories,
            batch_size=settings.stories.batch_size,
            idle_s=settings.stories.idle_s,
            lease_s=settings.run.takeover_s,
            owner=self.instance_id,
        )
        digests = DigestService(DigestStore(self.db), story_store, articles=self.article_cache)
        scheduler = DigestScheduler(
            digests,
            clock=self.clock,
            tick_s=settings.digests.tick_s,
            grace_s=settings.digests.grace_s,
            election=Election(self.db, DIGESTS_ELECTION, self.instance_id, term_s=settings.run.takeover_s),
        )
        return alerts, stories, digests, scheduler

    def _dispatcher(self, publisher: Publisher | None) -> OutboxDispatcher | None:
        if publisher is None:
            return None
        return OutboxDispatcher(
            self.outbox,
            publisher,
            clock=self.clock,
            on_channel_unavailable=self._channel_unavailable,
            owner=self.instance_id,
        )

    # --- lifetime ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Bring the database schema up to date. Raises StorageError."""
        await self.db.upgrade()
        log.info("database ready dialect=%s", self.db.dialect_name)

    async def start_duties(
        self,
        *,
        healthy: Callable[[], bool] | None = None,
        shards: Callable[[], Mapping[int, bool]] | None = None,
    ) -> None:
        """Join the bot as a running process and start this process's background work.

        Registers the instance (refused with ConfigError when SQLite is already used by another
        live process) and keeps its heartbeat, which touches ``health.heartbeat_file`` while
        ``healthy()`` holds; for the ``worker`` role, starts polling, grouping, digests,
        delivery and pruning. One-shot commands (``newsdesk fetch``) never call it.
        With ``metrics.port`` set, first opens the operator's listener (bot/ops/http.py), whose
        /readyz reads ``shards`` (each shard this gateway runs: connected), else ``healthy``.
        """
        self.listener = await start_listener(self.settings, self.roles, self._readiness(healthy, shards))
        self.presence = Presence(
            self.db,
            self.instance_id,
            self.roles,
            clock=self.clock,
            takeover_s=self.settings.run.takeover_s,
            heartbeat_file=self.settings.health.heartbeat_file,
            healthy=healthy,
        )
        await self.presence.join()
        if self.db.dialect_name != "sqlite":  # one process on SQLite: it keeps the whole limits
            await self.processes.refresh()
            self.fetcher.limits.share_with(self.processes)
            self._process_counter = BackgroundLoop(
                "process count",
                self.processes.refresh,
                # Often enough that a newcomer is counted within seconds; one cheap SELECT.
                interval_s=min(5.0, self.settings.run.takeover_s / 3),
                logger=log,
            )
            self._process_counter.start()
        if "worker" not in self.roles:
            return
        if self.dispatcher is None:
            raise RuntimeError("the worker role delivers posts: build Newsdesk with a publisher")
        self._duties = WorkerDuties(
            poller=self.poller,
            stories=self.stories,
            digests=self.digest_scheduler,
            dispatcher=self.dispatcher,
            prune=self._prune,
            prune_every_s=PRUNE_EVERY_S,
            listener=OutboxListener(self.db, self.dispatcher.notify),
            poll_idle_s=min(30.0, self.settings.run.takeover_s / 3),
        )
        await self._duties.start()

    def _readiness(
        self, healthy: Callable[[], bool] | None, shards: Callable[[], Mapping[int, bool]] | None
    ) -> Readiness:
        return Readiness(
            self.db,
            self.roles,
            presence=lambda: self.presence,
            # Two beats missed: within a third of the takeover bound the others take over.
            beat_limit_s=self.settings.run.takeover_s * 2 / 3,
            shards=shards,
            connected=healthy,
            duties_running=lambda: self._duties is not None and self._duties.running,
        )

    def report_healthy(self) -> None:
        """Touch the heartbeat file now (the gateway just connected), not at the next beat."""
        if self.presence is not None:
            self.presence.touch_heartbeat_file()

    def wake_delivery(self) -> None:
        """Post what was just queued now rather than at the outbox's next poll (in this process;
        the others are woken by the database on PostgreSQL)."""
        if self.dispatcher is not None:
            self.dispatcher.notify()

    def wake_poller(self) -> None:
        """Check the feeds due now at once (a subscription was added or resumed)."""
        self.poller.wake()

    async def resume_delivery(self, channel_id: int) -> bool:
        """Deliver a held channel's rows again (access is back); True if it was held."""
        released = await self.outbox.release_channel(channel_id)
        self.wake_delivery()
        return released

    async def leave_guild(self, guild_id: int) -> int:
        """The bot was removed from a server: pause its subscriptions and give up the posts still
        queued for its channels (they could only fail); returns how many posts were cancelled.
        A member who adds the bot back resumes the subscriptions with /feed resume.
        """
        reason = "the bot was removed from the server"
        channels = {status.subscription.channel_id for status in await self.feeds.list(guild_id)}
        for channel_id in sorted(channels):
            await self.feeds.pause_channel(channel_id, reason)
        cancelled = await self.outbox.cancel_guild(guild_id, reason=reason)
        log.info("left guild=%s channels=%d cancelled posts=%d", guild_id, len(channels), cancelled)
        return cancelled

    async def _channel_unavailable(self, channel_id: int, reason: str) -> None:
        paused = await self.feeds.pause_channel(channel_id, reason)
        log.warning("channel unavailable channel=%s paused=%d reason=%s", channel_id, paused, reason)

    async def _count_processes(self) -> int:
        return len(await InstanceStore(self.db).live(self.clock()))

    async def _prune(self) -> None:
        ttl = timedelta(seconds=self.settings.cache.article_ttl_s)
        await prune(
            self.outbox,
            self.article_cache,
            now=self.clock(),
            article_ttl=ttl,
            story_threads=StoryThreadStore(self.db),
        )

    async def close(self) -> None:
        """Stop the background work, leave, and release the HTTP session, the worker processes
        and the database pool."""
        if self.listener is not None:
            await self.listener.close()
            self.listener = None
        if self._duties is not None:
            await self._duties.stop()
            self._duties = None
        if self._process_counter is not None:
            await self._process_counter.close()
            self._process_counter = None
        if self.presence is not None:
            await self.presence.leave()
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
