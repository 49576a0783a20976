"""A worker's duties: the background work the ``worker`` role runs, started and stopped as one.

Polling feeds, grouping stories (which raises breaking alerts), firing digests, delivering the
outbox and pruning old rows. Each runs on its own loop; every one of them is safe to run in
several processes at once (leases and elections in the database decide who does what), so any
number of workers may share one PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot.background import BackgroundLoop
from bot.delivery.dispatcher import OutboxDispatcher
from bot.digests.scheduler import DigestScheduler
from bot.feeds.poller import FeedPoller
from bot.storage.notify import OutboxListener
from bot.stories.service import StoryAssigner

log = logging.getLogger(__name__)

#: Seconds a stopping worker lets the posts in flight finish before cutting them short.
STOP_GRACE_S = 10.0


class WorkerDuties:
    """Starts and stops the worker's background jobs together."""

    def __init__(
        self,
        *,
        poller: FeedPoller,
        stories: StoryAssigner,
        digests: DigestScheduler,
        dispatcher: OutboxDispatcher,
        prune: Callable[[], Awaitable[None]],
        prune_every_s: float,
        listener: OutboxListener | None = None,
        poll_idle_s: float = 30.0,
    ) -> None:
        """``listener`` wakes the dispatcher when any process queues a post (PostgreSQL);
        ``poll_idle_s`` bounds the poller's nap (so a dead peer's feeds, free once its heartbeat
        expires, are seen within a third of the takeover bound).
        """
        self._poll_idle_s = poll_idle_s
        self._poller = poller
        self._stories = stories
        self._digests = digests
        self._dispatcher = dispatcher
        self._listener = listener
        self._pruning = BackgroundLoop("pruning", prune, interval_s=prune_every_s, logger=log)
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    async def start(self) -> None:
        """Start every job on the running loop (each makes its first round at once)."""
        if self._tasks:
            return
        if self._listener is not None:
            await self._listener.start()
        self._tasks = [
            asyncio.create_task(self._poller.run(idle_s=self._poll_idle_s), name="feed-poller"),
            asyncio.create_task(self._stories.run(), name="story-assigner"),
            asyncio.create_task(self._dispatcher.run(), name="outbox-dispatcher"),
        ]
        self._digests.start()
        self._pruning.start()

    async def stop(self) -> None:
        """Stop every job; each finishes its round in flight (sends get ``STOP_GRACE_S``)."""
        if not self._tasks:
            return
        self._poller.stop()
        await self._stories.stop()
        if self._listener is not None:
            await self._listener.stop()
        stops = (
            self._dispatcher.stop(grace_s=STOP_GRACE_S),
            self._digests.stop(),
            self._pruning.close(),
        )
        for outcome in await asyncio.gather(*stops, return_exceptions=True):
            if isinstance(outcome, BaseException):
                log.error("stopping a worker job failed: %r", outcome)
        tasks, self._tasks = self._tasks, []
        _, late = await asyncio.wait(tasks, timeout=STOP_GRACE_S + 5)
        for task in late:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
