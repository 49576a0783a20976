"""The feed poller: the loop around the feed pipeline (:mod:`bot.feeds.pipeline`).

One pass (:meth:`FeedPoller.poll_due`, :class:`bot.feeds.poll_pass.PollPass`) claims the feeds
due in the database, in batches, and runs the pipeline on them with ``poll_concurrency`` workers:

- each host gets its own few requests in flight (``fetch.per_host_concurrency`` or its
  ``[fetch.host_limits]`` override); a worker never waits for a busy host but leaves the feed
  to the workers on that host and checks another host's meanwhile. A host spaced by
  ``min_interval_s`` defers its feeds to reserved turns, and a host that answered 429/503
  defers its feeds until its pause ends (:class:`bot.feeds.hosts.HostTurns`), others unslowed;
- what the checks found is recorded in batches, in the order they were made
  (:meth:`bot.feeds.pipeline.FeedPipeline.record`), while the next feeds are checked.

Between passes it sleeps until the next feed is due. Due times live in the database (no job
per feed in memory).
"""

from __future__ import annotations

import logging
import random
import secrets
from collections.abc import Callable
from datetime import datetime

from bot.background import BackgroundLoop
from bot.clock import utcnow
from bot.config import FeedSettings
from bot.feeds.fanout import Extractor
from bot.feeds.hosts import HostTurns
from bot.feeds.parser_pool import FeedParser, InThreadParser
from bot.feeds.pipeline import FeedPipeline
from bot.feeds.poll_pass import PollPass
from bot.feeds.poll_types import PollStats
from bot.feeds.sources import Retrievers
from bot.fetch import Fetcher
from bot.storage.feeds import FeedStore

log = logging.getLogger(__name__)

#: How long a claimed feed stays leased to this process (a crashed poller's feeds come back).
LEASE_S = 900


class FeedPoller:
    """Checks due feeds and fans new items out to their subscriptions through the outbox.

    ``owner`` names this poller in feed leases: give a stable one per process slot (``"bot"``)
    so that :meth:`run`, restarted after a crash, frees its previous life's leases at once; by
    default it is random, and a crashed poller's feeds wait for their lease (``LEASE_S``).
    """

    def __init__(
        self,
        store: FeedStore,
        fetcher: Fetcher,
        settings: FeedSettings,
        *,
        parser: FeedParser | None = None,
        clock: Callable[[], datetime] = utcnow,
        on_new_items: Callable[[], None] | None = None,
        extractor: Extractor | None = None,
        rng: random.Random | None = None,
        owner: str | None = None,
        pipeline: FeedPipeline | None = None,
    ) -> None:
        self._store = store
        rng = rng or random.Random()
        self._pipeline = pipeline or FeedPipeline(
            self._store,
            Retrievers.http(fetcher),
            parser or InThreadParser(),
            settings,
            extractor=extractor,
            rng=rng,
            clock=clock,
        )
        self._limits = fetcher.limits
        self._turns = HostTurns(fetcher.limits, rng, forget_after_s=LEASE_S)
        self._settings = settings
        self._clock = clock
        # Told after a pass that stored new items (the story assigner groups them at once
        # rather than at the end of its nap, so breaking alerts go out sooner).
        self._on_new_items = on_new_items
        self._stable_owner = owner is not None
        self.owner = owner or f"poller-{secrets.token_hex(6)}"
        self._loop = BackgroundLoop("feed poll pass", self._pass, interval_s=30.0, logger=log)
        if settings.per_host_spacing_s is not None:
            log.warning(
                "feeds.per_host_spacing_s is deprecated and ignored: hosts get "
                "fetch.per_host_concurrency requests in flight; set [fetch.host_limits] for a strict one"
            )

    # --- loop --------------------------------------------------------------------------

    async def run(self, *, idle_s: float = 30.0) -> None:
        """Poll until :meth:`stop` (or cancellation): a pass, then sleep until the next feed is
        due (at most ``idle_s``, so feeds added meanwhile are picked up). A pass that fails as a
        whole (database down) is logged and tried again after a backoff.
        """
        self._loop.interval_s = idle_s
        if self._stable_owner:
            try:
                # Feeds this poller claimed before it was killed mid-pass: due now, not in 15 min.
                released = await self._store.release_leases(self.owner)
                if released:
                    log.info("feed poll: released %d feeds leased before a restart", released)
            except Exception:
                log.exception("feed poll: freeing old leases failed; they run out on their own")
        await self._loop.run()

    async def _pass(self) -> float:
        """One pass; returns the seconds until the next feed is due (at most ``idle_s``)."""
        stats = await self.poll_due(self._clock())
        if stats.claimed:
            log.info("feed poll: %s", stats)
        if stats.new_items and self._on_new_items is not None:
            self._on_new_items()
        idle_s = self._loop.interval_s
        due = await self._store.next_due_at()
        if due is None:
            return idle_s
        return min(max((due - self._clock()).total_seconds(), 0.5), idle_s)

    def wake(self) -> None:
        """Look for due feeds now (a feed was just added or resumed) instead of after the nap."""
        self._loop.wake()

    def stop(self) -> None:
        """Ask :meth:`run` to return after the current pass."""
        self._loop.stop()

    async def poll_due(self, now: datetime) -> PollStats:
        """Check every feed due at ``now`` once, and write what came of it. Raises
        :class:`StorageError` only when feeds cannot even be claimed.
        """
        return await PollPass(
            self._pipeline,
            self._turns,
            self._limits,
            now=now,
            lease_s=LEASE_S,
            owner=self.owner,
            concurrency=self._settings.poll_concurrency,
        ).run()
