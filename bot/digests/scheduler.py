"""The digest tick: a background loop that posts whatever digests are due.

The schedules are rows of ours (``digest_schedules``), not apscheduler jobs: apscheduler 3's
SQLAlchemy job store is synchronous (it would block the event loop) and cannot be shared by
several processes. apscheduler computes the due times (its cron and interval triggers, in
:mod:`bot.digests.schedule`); this tick, a :class:`~bot.background.BackgroundLoop` like every
periodic job, runs :meth:`DigestService.fire_due`, which does the rest.

With several processes (workers on PostgreSQL), give each scheduler an
:class:`~bot.election.Election` on the lease ``"digests"``: every tick campaigns, only the leader
fires, and each firing's write is fenced, so a leader that lost the lead (paused past its term)
writes nothing. When the leader dies at a due time, another takes over within the election's
term (the takeover bound) and posts the digest once: the firing is one transaction, so the dead
leader either posted it (the schedule moved on) or did not (it is still due). Without an
election (one process) every tick fires, as before; the compare-and-set on the due time still
keeps a digest from being posted twice.

The clock is injectable: the tick asks ``clock()`` for "now", so a test can run days of
schedules in seconds with a fast tick and a clock it moves.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.background import BackgroundLoop
from bot.clock import utcnow
from bot.digests.service import DigestService, FireStats
from bot.election import Election
from bot.errors import StorageError

__all__ = ["ELECTION_NAME", "DigestScheduler"]

log = logging.getLogger(__name__)

#: The ``service_leases`` name of the digest firing election.
ELECTION_NAME = "digests"


class DigestScheduler:
    """Calls ``service.fire_due(clock())`` every ``tick_s`` seconds, and once at start.

    The first tick runs at once, so a digest that fell due while the bot was down is posted on
    start (within the grace period). Ticks never overlap: a slow one makes the next wait. A tick
    that fails is logged and the next one comes after a backoff.

    With ``election``, a tick fires only while this process leads (see the module docstring);
    ticks come at least three times per term, so the leader never lets its term lapse, and
    :meth:`stop` resigns, so another process takes over at its next tick.
    """

    def __init__(
        self,
        service: DigestService,
        *,
        clock: Callable[[], datetime] = utcnow,
        tick_s: float = 30.0,
        grace_s: float = 3600.0,
        election: Election | None = None,
    ) -> None:
        if tick_s <= 0:
            raise ValueError("tick_s must be positive")
        if election is not None:
            tick_s = min(tick_s, election.campaign_every_s)
        self._service = service
        self._election = election
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
        if self._election is not None and self._election.is_leader:
            await self._election.resign()

    @property
    def is_leader(self) -> bool:
        """Whether this scheduler fires digests (always, without an election)."""
        return self._election is None or self._election.is_leader

    async def tick(self) -> None:
        """One tick now (what the loop runs): campaign if elected, then fire what is due."""
        await self._tick()

    async def _tick(self) -> None:
        self.ticks += 1
        now = self._clock()
        election = self._election
        if election is None:
            stats = await self._service.fire_due(now, grace_s=self._grace_s)
        elif await election.campaign(now):
            term = election.term

            async def fence(conn: AsyncConnection) -> bool:
                # The time of the write, not of the tick: rendering many digests takes a while.
                return await election.fence(conn, self._clock(), term=term)

            stats = await self._service.fire_due(now, grace_s=self._grace_s, fence=fence)
        else:
            return
        for field in dataclasses.fields(FireStats):
            setattr(self.totals, field.name, getattr(self.totals, field.name) + getattr(stats, field.name))
