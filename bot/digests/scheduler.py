"""The digest tick: a background loop that posts whatever digests are due.

The schedules are rows of ours (``digest_schedules``), not apscheduler jobs: apscheduler 3's
SQLAlchemy job store is synchronous (it would block the event loop) and cannot be shared by
several processes. apscheduler computes the due times (its cron and interval triggers, in
:mod:`bot.digests.schedule`); this tick, a :class:`~bot.background.BackgroundLoop` like every
periodic job, runs :meth:`DigestService.fire_due`, which does the rest, safely from any number
of processes.

The clock is injectable: the tick asks ``clock()`` for "now", so a test can run days of
schedules in seconds with a fast tick and a clock it moves.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime

from bot.background import BackgroundLoop
from bot.clock import utcnow
from bot.digests.service import DigestService, FireStats
from bot.errors import StorageError

__all__ = ["DigestScheduler"]

log = logging.getLogger(__name__)


class DigestScheduler:
    """Calls ``service.fire_due(clock())`` every ``tick_s`` seconds, and once at start.

    The first tick runs at once, so a digest that fell due while the bot was down is posted on
    start (within the grace period). Ticks never overlap: a slow one makes the next wait. A tick
    that fails is logged and the next one comes after a backoff.
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
        self._grace_s = grace_s
        self._loop = BackgroundLoop(
            "digest tick", self._tick, interval_s=tick_s, quiet=(StorageError,), logger=log
        )
        self._started = False
        #: Totals over every tick, for status commands and tests.
        self.totals = FireStats()
        self.ticks = 0

    @property
    def running(self) -> bool:
        return self._started

    def start(self) -> None:
        """Start ticking on the running event loop (call from a coroutine, e.g. ``cog_load``)."""
        if not self._started:
            self._started = True
            self._loop.start()

    async def stop(self) -> None:
        """Stop ticking; a tick in progress finishes first."""
        self._started = False
        await self._loop.close()

    async def _tick(self) -> None:
        self.ticks += 1
        stats = await self._service.fire_due(self._clock(), grace_s=self._grace_s)
        for field in dataclasses.fields(FireStats):
            setattr(self.totals, field.name, getattr(self.totals, field.name) + getattr(stats, field.name))
