"""PostgreSQL's side of the scale benchmark: a database of its own, the counters of
``pg_stat_database``, and a sampler of lock waits and of the CPU of the database's backends.

The sampler reads ``pg_stat_activity`` every ``interval_s``: it counts the backends of the
benchmark's database waiting on a heavyweight lock (``wait_event_type = 'Lock'``), and follows
each client backend's CPU in ``/proc/<pid>/stat`` (PostgreSQL runs on this machine). A backend's
CPU is counted from its first sample to its last one, so a backend that ends between two samples
loses at most one interval of its CPU; backends that start during the pass count from zero.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from bench.poll_bench import _proc_cpu_s

#: ``pg_stat_database`` columns whose deltas the benchmark reports.
COUNTERS = (
    "xact_commit",
    "xact_rollback",
    "tup_returned",
    "tup_fetched",
    "tup_inserted",
    "tup_updated",
    "tup_deleted",
    "blks_read",
    "blks_hit",
    "deadlocks",
    "active_time",
    "sessions",
)


def admin_dsn(url: str, database: str | None = None) -> str:
    """An asyncpg DSN for the SQLAlchemy ``url`` (on ``database`` if given)."""
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


async def create_database(url: str) -> str:
    """A fresh database ``scale_bench_<pid>`` next to the one in ``url``; returns its URL.

    Dropped by :func:`bench.poll_bench._postgres_drop`. Nothing else of the server is touched.
    """
    name = f"scale_bench_{os.getpid()}"
    conn = await asyncpg.connect(admin_dsn(url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def counters(conn: asyncpg.Connection, database: str) -> dict[str, float]:
    """The :data:`COUNTERS` of ``database`` now (a fresh snapshot, not the transaction's)."""
    await conn.execute("SELECT pg_stat_clear_snapshot()")
    row = await conn.fetchrow(
        f"SELECT {', '.join(COUNTERS)} FROM pg_stat_database WHERE datname = $1",
        database,
    )
    assert row is not None, database
    return {name: float(row[name] or 0) for name in COUNTERS}


def deltas(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: after[name] - before[name] for name in COUNTERS}


@dataclass
class Sampler:
    """Samples ``pg_stat_activity`` for ``database`` until stopped (see the module's docstring)."""

    conn: asyncpg.Connection
    database: str
    interval_s: float = 0.05
    samples: int = 0
    #: Samples in which at least one backend waited on a lock, and backend-samples waiting.
    samples_waiting: int = 0
    backends_waiting: int = 0
    #: Lock-wait events seen (``wait_event``: count of backend-samples), e.g. ``transactionid``.
    wait_events: dict[str, int] = field(default_factory=dict)
    #: Lightweight-lock waits (``LWLock``), for the record: contention inside the server.
    lwlock_waits: int = 0
    #: pid -> (CPU seconds at the first sample, at the last one).
    _cpu: dict[int, tuple[float, float]] = field(default_factory=dict)
    _primed: bool = False

    async def prime(self) -> None:
        """Take the first CPU reading of the backends alive now (call just before the pass)."""
        await self._sample()
        self._primed = True
        self.samples = self.samples_waiting = self.backends_waiting = self.lwlock_waits = 0
        self.wait_events.clear()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._sample()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval_s)
        await self._sample()  # the last CPU readings, with the workers still connected

    async def _sample(self) -> None:
        rows = await self.conn.fetch(
            "SELECT pid, wait_event_type, wait_event FROM pg_stat_activity "
            "WHERE datname = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
            self.database,
        )
        self.samples += 1
        waiting = [r for r in rows if r["wait_event_type"] == "Lock"]
        if waiting:
            self.samples_waiting += 1
            self.backends_waiting += len(waiting)
            for r in waiting:
                self.wait_events[r["wait_event"]] = self.wait_events.get(r["wait_event"], 0) + 1
        self.lwlock_waits += sum(1 for r in rows if r["wait_event_type"] == "LWLock")
        for r in rows:
            pid, cpu = r["pid"], _proc_cpu_s(r["pid"])
            if pid in self._cpu:
                first, last = self._cpu[pid]
                self._cpu[pid] = (first, max(last, cpu))
            elif cpu > 0.0:  # 0: gone already, or not readable
                # Alive before the pass: counted from now; started during it: from its start.
                self._cpu[pid] = (0.0 if self._primed else cpu, cpu)

    @property
    def backend_cpu_s(self) -> float:
        return sum(last - first for first, last in self._cpu.values())

    @property
    def backends(self) -> int:
        return len(self._cpu)

    def summary(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "samples_waiting": self.samples_waiting,
            "backends_waiting": self.backends_waiting,
            "wait_events": dict(self.wait_events),
            "lwlock_waits": self.lwlock_waits,
            "backend_cpu_s": self.backend_cpu_s,
            "backends": self.backends,
        }


async def add_idle_feeds(url: str, base_url: str, count: int, now: datetime) -> int:
    """Add ``count`` subscribed feeds that are not due in any pass (due in a day or two), and
    return the highest id of the feeds there were before: the ones the rounds poll.

    A bot with a million feeds checked every ten minutes has a thousandth of them due at a
    time: the claim's cost in a large table of feeds that are mostly not due is what the
    arithmetic for it needs. Inserted in SQL (a million in seconds); never requested.
    """
    conn = await asyncpg.connect(admin_dsn(url))
    try:
        polled: int = await conn.fetchval("SELECT coalesce(max(id), 0) FROM feeds")
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO feeds (url, title, etag, next_check_at, created_at) "
                "SELECT $1 || '/idle/' || g || '.xml', 'Idle feed ' || g, '\"i' || g || '\"', "
                "$2::timestamptz + make_interval(secs => 86400 + g % 86400), $2 "
                "FROM generate_series(1, $3) AS g",
                base_url,
                now,
                count,
            )
            await conn.execute(
                "INSERT INTO subscriptions (feed_id, guild_id, channel_id, created_at, include, exclude) "
                "SELECT id, 2, 2, $2, '[]', '[]' FROM feeds WHERE id > $1",
                polled,
                now,
            )
        await conn.execute("VACUUM (ANALYZE) feeds")
        await conn.execute("VACUUM (ANALYZE) subscriptions")
    finally:
        await conn.close()
    return polled


async def split_copies(url: str, parts: int) -> list[str]:
    """``parts`` copies of the database at ``url`` (``CREATE DATABASE ... TEMPLATE``), copy ``i``
    keeping the feeds whose ``id % parts == i`` (the others deleted, with their subscriptions
    and items): the same feeds, split over databases that share nothing. Dropped with
    :func:`bench.poll_bench._postgres_drop`. Nobody may be connected to ``url`` meanwhile.
    """
    source = make_url(url).database
    urls = []
    for i in range(parts):
        name = f"{source}_part{i + 1}"
        conn = await asyncpg.connect(admin_dsn(url, "postgres"))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            for attempt in range(20):  # autovacuum may be in the source for a moment
                try:
                    await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
                    break
                except asyncpg.ObjectInUseError:
                    if attempt == 19:
                        raise
                    await asyncio.sleep(0.5)
        finally:
            await conn.close()
        part_url = make_url(url).set(database=name).render_as_string(hide_password=False)
        conn = await asyncpg.connect(admin_dsn(part_url))
        try:
            await conn.execute("DELETE FROM feeds WHERE id % $1 <> $2", parts, i)
            await conn.execute("VACUUM (ANALYZE)")
        finally:
            await conn.close()
        urls.append(part_url)
    return urls
