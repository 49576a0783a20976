"""The digest tick: one apscheduler interval job that posts whatever digests are due.

The schedules are rows of ours (``digest_schedules``), not apscheduler jobs: apscheduler 3's
SQLAlchemy job store is synchronous (it would block the event loop) and cannot be shared by
several processes. apscheduler computes the due times (its cron and interval triggers, in
:mod:`bot.digests.schedule`) and runs this one job; :meth:`DigestService.fire_due` does the rest,
safely from any number of processes.

The clock is injectable: the job asks ``clock()`` for "now", so a test can run days of
schedules in seconds with a fast tick and a clock it moves.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.clock import utcnow
from bot.digests.service import DigestService, FireStats
from bot.errors import StorageError

__all__ = ["DigestScheduler"]

log = logging.getLogger(__name__)

_JOB_ID = "digests-fire-due"


class DigestScheduler:
    """Calls ``service.fire_due(clock())`` every ``tick_s`` seconds, and once at start.

    The first tick runs at once, so a digest that fell due while the bot was down is posted on
    start (within the grace period). Ticks never overlap: a slow one makes the next wait.
    """

    def __init__(
        self,
        service: DigestService,
        *,
        clock: Callable[[], datetime] = utcnow,
        tick_s: float = 30.0,
        grace_s: float = 3600.0,
    ) -> None:
        if tick_s <= 0:
            raise ValueError("tick_s must be positive")
        self._service = service
        self._clock = clock
        self._tick_s = tick_s
        self._grace_s = grace_s
        self._scheduler: AsyncIOScheduler | None = None
        self._lock = asyncio.Lock()
        #: Totals over every tick, for status commands and tests.
        self.totals = FireStats()
        self.ticks = 0

    @property
    def running(self) -> bool:
        return self._scheduler is not None

    def start(self) -> None:
        """Start ticking on the running event loop (call from a coroutine, e.g. ``cog_load``)."""
        if self._scheduler is not None:
            return
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(
            self._job,
            IntervalTrigger(seconds=self._tick_s, timezone=UTC),
            id=_JOB_ID,
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
            # A late tick still runs: fire_due decides what is too late, not apscheduler.
            misfire_grace_time=None,
        )
        scheduler.start()
        self._scheduler = scheduler

    async def stop(self) -> None:
        """Stop ticking and wait for a tick in progress to finish."""
        scheduler, self._scheduler = self._scheduler, None  # _job starts no tick from now on
        if scheduler is None:
            return
        scheduler.pause()
        # apscheduler's shutdown cancels the runs in flight (and logs each as a failed job), so
        # the tick in flight finishes first, and a run submitted just before returns at once.
        async with self._lock:
            pass
        await asyncio.sleep(0)
        scheduler.shutdown(wait=False)

    async def _job(self) -> None:
        # A run apscheduler submitted just before stop() must not start a tick after it.
        if self._scheduler is not None:
            await self.tick()

    async def tick(self) -> FireStats | None:
        """Fire what is due now; never raises (errors are logged). Returns None if a tick was running."""
        if self._lock.locked():
            return None
        async with self._lock:
            now = self._clock()
            self.ticks += 1
            try:
                stats = await self._service.fire_due(now, grace_s=self._grace_s)
            except StorageError as e:
                log.warning("digest tick failed: %s", e)
                return None
            except Exception:
                log.exception("digest tick failed")
                return None
            for name in ("posted", "messages", "skipped", "empty", "lost_races", "failed"):
                setattr(self.totals, name, getattr(self.totals, name) + getattr(stats, name))
            return stats
