"""Readiness: what ``/readyz`` checks, each check naming what is wrong.

A process is ready when its database answers within a short timeout, its heartbeat (which
keeps its feed and outbox leases, :mod:`bot.presence`) reached the database recently, and, by
role, a gateway's shards are connected to Discord and a worker's background jobs run.
``/healthz`` needs none of this: it only says the process answers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import text

from bot.errors import NewsdeskError
from bot.presence import Presence
from bot.storage import Database

#: Seconds the database has to answer ``SELECT 1`` before it counts as unreachable: well
#: within an orchestrator's probe timeout (compose and the Dockerfile give 10 s).
DB_TIMEOUT_S = 3.0
#: Answers are reused this long, so that probes and scrapes in a burst query the database once.
REUSE_S = 1.0

ShardStates = Callable[[], Mapping[int, bool]]


@dataclass(frozen=True)
class Verdict:
    """The checks' outcome: ``problems`` names each failed check and why."""

    checks: tuple[str, ...]
    problems: Mapping[str, str]

    @property
    def ready(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, object]:
        return {
            "ready": self.ready,
            "checks": {name: self.problems.get(name, "ok") for name in self.checks},
            "not_ready": dict(self.problems),
        }


class Readiness:
    """Evaluates the checks of one process (its roles decide which)."""

    def __init__(
        self,
        db: Database,
        roles: Sequence[str],
        *,
        presence: Callable[[], Presence | None],
        beat_limit_s: float,
        shards: ShardStates | None = None,
        connected: Callable[[], bool] | None = None,
        duties_running: Callable[[], bool] | None = None,
        db_timeout_s: float = DB_TIMEOUT_S,
    ) -> None:
        """``presence`` returns the process's Presence once it joined; ``beat_limit_s`` is the
        oldest a heartbeat may be; ``shards`` maps each shard this gateway runs to connected;
        ``connected`` says whether a gateway without a shard map is connected;
        ``duties_running`` says whether a worker's jobs run."""
        self._db = db
        self._roles = tuple(roles)
        self._presence = presence
        self._beat_limit_s = beat_limit_s
        self._shards = shards
        self._connected = connected
        self._duties_running = duties_running
        self._db_timeout_s = db_timeout_s
        self._last: tuple[float, Verdict] | None = None
        self._lock = asyncio.Lock()
        self._query: asyncio.Task[None] | None = None

    async def verdict(self) -> Verdict:
        async with self._lock:
            if self._last is not None and time.monotonic() - self._last[0] < REUSE_S:
                return self._last[1]
            problems: dict[str, str] = {}
            checks = ["database", "heartbeat"]
            _add(problems, "database", await self._database())
            _add(problems, "heartbeat", self.heartbeat())
            if "gateway" in self._roles:
                checks.append("gateway")
                _add(problems, "gateway", self.gateway())
            if "worker" in self._roles:
                checks.append("worker")
                _add(problems, "worker", self.worker())
            verdict = Verdict(tuple(checks), problems)
            self._last = (time.monotonic(), verdict)
            return verdict

    async def _database(self) -> str | None:
        # The query runs as a task of its own: past the timeout the answer goes out at once,
        # while the stuck connection is cancelled in the background (closing it can wait on the
        # network too). One query at a time: probes must not take the pool from the bot.
        if self._query is None or self._query.done():
            self._query = asyncio.create_task(self._select_one(), name="readyz-database")
        query = self._query
        done, _ = await asyncio.wait({query}, timeout=self._db_timeout_s)
        if not done:
            return f"no answer within {self._db_timeout_s:g} s"
        try:
            query.result()
        except NewsdeskError as e:
            return str(e)
        return None

    async def _select_one(self) -> None:
        async with self._db.session() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        """Stop a query still waiting for the database."""
        query, self._query = self._query, None
        if query is not None and not query.done():
            query.cancel()
            await asyncio.gather(query, return_exceptions=True)

    @property
    def db(self) -> Database:
        return self._db

    def presence(self) -> Presence | None:
        return self._presence()

    def heartbeat(self) -> str | None:
        presence = self._presence()
        if presence is None or not presence.joined:
            return "not registered in the database yet"
        age = presence.beat_age_s()
        if age is None:
            return "no heartbeat has reached the database yet"
        if age > self._beat_limit_s:
            # Past the limit the other processes are about to take this one's leases over.
            return f"last heartbeat {age:.0f} s ago (limit {self._beat_limit_s:g} s)"
        return None

    def gateway(self) -> str | None:
        if self._shards is None:
            connected = self._connected
            return None if connected is None or connected() else "not connected to Discord"
        states = self._shards()
        if not states:
            return "no shard connected yet"
        down = sorted(shard for shard, connected in states.items() if not connected)
        if down:
            return f"shard{'s' if len(down) > 1 else ''} {', '.join(map(str, down))} not connected"
        return None

    def worker(self) -> str | None:
        if self._duties_running is not None and not self._duties_running():
            return "background jobs not running"
        return None

    def shard_counts(self) -> tuple[int, int]:
        """(shards run, shards connected) for the metrics; (0, 0) without a gateway."""
        if self._shards is None:
            return 0, 0
        states = self._shards()
        return len(states), sum(states.values())


def _add(problems: dict[str, str], name: str, problem: str | None) -> None:
    if problem is not None:
        problems[name] = problem
