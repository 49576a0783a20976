"""Gauges read when Prometheus scrapes, and the event-loop lag sampler.

The outbox's depth and the age of its oldest waiting row come from one indexed query, reused
for :data:`REUSE_S` and never waited on for more than :data:`QUERY_WAIT_S`: a scrape stays fast
whatever the database does (a slow answer leaves the previous figures until it arrives).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from sqlalchemy import func, select

from bot.clock import utcnow
from bot.ops import metrics
from bot.storage import Database
from bot.storage.outbox import PENDING
from bot.storage.outbox_tables import outbox

log = logging.getLogger(__name__)

#: Outbox figures are reused this long (scrapes every 15 s or so; probes in a burst share one).
REUSE_S = 5.0
#: A scrape waits this long for the outbox query, then answers with the figures it has.
QUERY_WAIT_S = 0.5
#: The event-loop lag sampler's sleep.
LAG_TICK_S = 0.5

_OUTBOX_QUERY = select(func.count(), func.min(outbox.c.created_at)).where(outbox.c.status == PENDING)


class ScrapeGauges:
    """Refreshes the outbox and database-pool gauges of one process before a scrape."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._read_at: float | None = None
        self._query: asyncio.Task[None] | None = None

    async def refresh(self) -> None:
        self._pool()
        if self._read_at is not None and time.monotonic() - self._read_at < REUSE_S:
            return
        if self._query is None or self._query.done():
            self._query = asyncio.create_task(self._read_outbox(), name="metrics-outbox")
        await asyncio.wait({self._query}, timeout=QUERY_WAIT_S)

    async def _read_outbox(self) -> None:
        try:
            async with self._db.session() as conn:
                depth, oldest = (await conn.execute(_OUTBOX_QUERY)).one()
        except Exception as e:  # the figures stay as they were; /readyz reports the database
            log.debug("metrics: outbox query failed: %s", e)
            return
        metrics.OUTBOX_DEPTH.set(depth)
        metrics.OUTBOX_OLDEST_AGE.set(
            0.0 if oldest is None else max(0.0, (utcnow() - oldest).total_seconds())
        )
        self._read_at = time.monotonic()

    def _pool(self) -> None:
        pool = self._db.engine.pool
        # QueuePool (PostgreSQL, SQLite files) counts both; other pools leave the gauges unset.
        checked_out, checked_in = getattr(pool, "checkedout", None), getattr(pool, "checkedin", None)
        if callable(checked_out) and callable(checked_in):
            busy = checked_out()
            metrics.DB_POOL_CHECKED_OUT.set(busy)
            metrics.DB_POOL_SIZE.set(busy + checked_in())

    async def close(self) -> None:
        query, self._query = self._query, None
        if query is not None and not query.done():
            query.cancel()
            await asyncio.gather(query, return_exceptions=True)


class LoopLag:
    """Samples how late a :data:`LAG_TICK_S` sleep wakes, while started."""

    def __init__(self, tick_s: float = LAG_TICK_S) -> None:
        self._tick_s = tick_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="metrics-loop-lag")

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self._tick_s)
            lag = max(0.0, time.perf_counter() - before - self._tick_s)
            metrics.LOOP_LAG.observe(lag)
            metrics.LOOP_LAG_LAST.set(lag)

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
