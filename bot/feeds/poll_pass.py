"""One pass of the poller: claim the due feeds in batches and run the feed pipeline on each,
``concurrency`` at a time, recording the outcomes in batches while the next feeds are checked.

A host has its own few requests in flight: a worker never waits for a busy host but leaves the
feed to the workers on that host (its backlog) and checks another host's meanwhile.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from datetime import datetime, timedelta

from bot.feeds.hosts import HostTurns, host_of
from bot.feeds.pipeline import Checked, FeedPipeline
from bot.feeds.poll_types import Counts, Fetched, PollStats
from bot.fetch.limits import HostLimiter
from bot.ops import metrics
from bot.storage.feed_records import DueFeed

#: Feeds claimed per query, and outcomes written per transaction.
CLAIM_BATCH = 500
FLUSH_BATCH = 500
#: ... and entries of changed feeds per transaction (each becomes a row or a lookup): memory
#: stays flat however many feeds changed (about 1 kB per entry waits, two batches at most).
#: Large enough that fetching and parsing the next batch overlaps the writing of this one.
FLUSH_ENTRIES = 10_000
#: Feeds set aside for a busy host, in all; past this a worker waits for the host's place
#: (back-pressure: claiming stops) rather than hold more in memory.
BACKLOG_MAX = 2_000


class PollPass:
    """The state of one pass over the feeds due at ``now``."""

    def __init__(
        self,
        pipeline: FeedPipeline,
        turns: HostTurns,
        limits: HostLimiter,
        *,
        now: datetime,
        lease_s: float,
        owner: str,
        concurrency: int,
    ) -> None:
        self._pipeline = pipeline
        self._turns = turns
        self._limits = limits
        self._now = now
        self._lease_until = now + timedelta(seconds=lease_s)
        self._owner = owner
        self._concurrency = concurrency
        self._counts = Counts()
        # The producer claims the next batch while the workers check the current one.
        self._queue: asyncio.Queue[DueFeed | None] = asyncio.Queue(maxsize=CLAIM_BATCH)
        self._pending: list[Checked] = []
        self._weight = 0  # entries of the parsed feeds in pending
        self._writes: deque[asyncio.Task[None]] = deque()
        self._write_lock = asyncio.Lock()
        # host -> workers on it, and the feeds left for them (a worker moves on meanwhile).
        self._busy: Counter[str] = Counter()
        self._backlog: dict[str, deque[DueFeed]] = {}
        self._held = 0

    async def run(self) -> PollStats:
        """Check every due feed once and record what came of it. Raises
        :class:`~bot.errors.StorageError` only when feeds cannot even be claimed.
        """
        loop = asyncio.get_running_loop()
        started = loop.time()
        self._turns.forget(self._now)
        producer = asyncio.create_task(self._produce())
        workers = [asyncio.create_task(self._work()) for _ in range(self._concurrency)]
        try:
            await asyncio.gather(*workers)
            await producer  # raises StorageError when claiming failed
        finally:
            for task in (producer, *workers):
                task.cancel()
            # What was checked is written, even when claiming failed halfway.
            await asyncio.shield(self._start_write())
            await asyncio.shield(asyncio.gather(*self._writes))
        return self._counts.freeze(loop.time() - started)

    async def _produce(self) -> None:
        store = self._pipeline.store
        try:
            while True:
                batch = await store.claim_due(
                    self._now, limit=CLAIM_BATCH, lease_until=self._lease_until, owner=self._owner
                )
                self._counts.claimed += len(batch)
                for feed in batch:
                    await self._queue.put(feed)
                if len(batch) < CLAIM_BATCH:
                    return
        finally:
            for _ in range(self._concurrency):
                await self._queue.put(None)

    async def _work(self) -> None:
        busy, backlog = self._busy, self._backlog
        while (feed := await self._queue.get()) is not None:
            host = host_of(feed.url)
            if busy[host] >= self._limits.limit_for(host).concurrency and self._held < BACKLOG_MAX:
                backlog.setdefault(host, deque()).append(feed)
                self._held += 1
                continue
            busy[host] += 1
            try:
                next_feed: DueFeed | None = feed
                while next_feed is not None:
                    await self._check(next_feed, host)
                    # No await between finding the host's backlog empty and leaving it.
                    waiting = backlog.get(host)
                    next_feed = waiting.popleft() if waiting else None
                    if next_feed is not None:
                        self._held -= 1
                    if waiting is not None and not waiting:
                        del backlog[host]
            finally:
                busy[host] -= 1
                if not busy[host]:
                    del busy[host]

    async def _check(self, feed: DueFeed, host: str) -> None:
        # The host is the worker's (a backlog holds one host's feeds): parsed once per feed.
        outcome: Checked | None = self._turns.defer(feed, host, self._now)
        if outcome is not None:
            self._counts.deferred += 1
        else:
            metrics.poll_lag(feed.due_at)
            outcome = await self._pipeline.check(feed, self._now, self._counts)
        self._pending.append(outcome)
        if isinstance(outcome, Fetched):
            self._weight += len(outcome.parsed.entries)
        if len(self._pending) >= FLUSH_BATCH or self._weight >= FLUSH_ENTRIES:
            await self._start_write()

    async def _start_write(self) -> None:
        if self._pending:
            self._writes.append(asyncio.create_task(self._write(self._pending)))
            self._pending = []
            self._weight = 0
        # Back-pressure: parsed feeds wait in memory only while one batch is written.
        while len(self._writes) > 1:
            await self._writes.popleft()

    async def _write(self, batch: list[Checked]) -> None:
        async with self._write_lock:  # FIFO: batches are written in the order they were made
            await self._pipeline.record(batch, self._now, self._counts)
