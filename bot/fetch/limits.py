"""Per-host politeness: requests in flight, spacing, and slowing down for a host that asks.

- Each host gets ``concurrency`` requests in flight (``fetch.per_host_concurrency``, or its
  override in ``[fetch.host_limits]``, which also covers its subdomains), optionally started at
  least ``min_interval_s`` apart.
- A host that answers 429 (or 503 with a Retry-After) is slowed down, alone: it may not be
  asked again before its ``Retry-After`` (at most a day), and each further refusal pauses it longer (at least
  :data:`BACKOFF_BASE_S`, doubled at each, up to :data:`BACKOFF_MAX_S`); each success takes
  one doubling back.
  Callers that can do something else meanwhile (the poller) ask :meth:`HostLimiter.blocked_for`.

All of this is per process: N processes ask a host at most N times as often, and each learns
a host's 429 from its own first refused request. Feeds' own next checks (Retry-After included)
live in the database, so no feed is asked early whichever process checks it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.http_dates import retry_after_at

#: The pause after a host's first 429/503 without a Retry-After, doubled at each further one.
BACKOFF_BASE_S = 30.0
BACKOFF_MAX_S = 3600.0
#: The longest a host's Retry-After pauses it (a feed's own Retry-After is kept in full).
RETRY_AFTER_MAX_S = 86400.0
#: Hosts whose pause or spacing is remembered; past this the stale ones are forgotten.
_MEMORY = 4096


@dataclass(frozen=True, slots=True)
class Limit:
    """How a host may be asked."""

    concurrency: int
    min_interval_s: float = 0.0


@dataclass(slots=True)
class _Slot:
    semaphore: asyncio.Semaphore
    users: int = 0


@dataclass(slots=True)
class _Penalty:
    strikes: int
    until: float


class HostLimiter:
    """Per-host limits; idle hosts are forgotten, so memory stays bounded."""

    def __init__(
        self,
        limit: int | Limit,
        overrides: Mapping[str, Limit] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.default = limit if isinstance(limit, Limit) else Limit(limit)
        self._overrides = {_key(host): value for host, value in (overrides or {}).items()}
        self._clock = clock
        self._slots: dict[str, _Slot] = {}
        self._next_start: dict[str, float] = {}
        self._penalties: dict[str, _Penalty] = {}

    def limit_for(self, host: str) -> Limit:
        """The limit of ``host``: its own override, else its closest parent domain's."""
        if not self._overrides:
            return self.default
        key = _key(host)
        while True:
            found = self._overrides.get(key)
            if found is not None:
                return found
            _, dot, key = key.partition(".")
            if not dot:
                return self.default

    def hold(self, host: str) -> _Hold:
        """``async with limiter.hold(host):`` — one of the host's places, at its pace."""
        key = _key(host)
        return _Hold(self, key, self.limit_for(key))

    def in_use(self) -> int:
        """Hosts currently waited on or held (for tests and metrics)."""
        return len(self._slots)

    def busy(self, host: str) -> int:
        """Requests to ``host`` in flight or waiting for a place."""
        slot = self._slots.get(_key(host))
        return slot.users if slot is not None else 0

    # --- slowing down ------------------------------------------------------------------

    def refused(self, host: str, retry_after: str | None = None) -> float:
        """``host`` answered 429 (or 503 with a Retry-After): pause it. Returns the pause in seconds."""
        key, now = _key(host), self._clock()
        penalty = self._penalties.get(key) or _Penalty(0, now)
        penalty.strikes += 1
        # 30 s, 60 s, 120 s...; a first refusal with a Retry-After waits just what it asks.
        pause = min(BACKOFF_BASE_S * 2.0 ** min(penalty.strikes - 1, 32), BACKOFF_MAX_S)
        wall = datetime.now(UTC)
        asked = retry_after_at(wall, retry_after)
        if asked is not None:
            asked_s = min(max((asked - wall).total_seconds(), 0.0), RETRY_AFTER_MAX_S)
            pause = max(asked_s, pause if penalty.strikes > 1 else 0.0)
        penalty.until = max(penalty.until, now + pause)
        if len(self._penalties) >= _MEMORY and key not in self._penalties:
            self._penalties = {h: p for h, p in self._penalties.items() if p.until > now}
        self._penalties[key] = penalty
        return pause

    def answered(self, host: str) -> None:
        """``host`` answered normally: one step back towards its full pace."""
        if not self._penalties:
            return
        key = _key(host)
        penalty = self._penalties.get(key)
        if penalty is not None:
            penalty.strikes -= 1
            if penalty.strikes <= 0:
                del self._penalties[key]

    def blocked_for(self, host: str) -> float:
        """Seconds before ``host`` may be asked again after a 429/503 (0: now)."""
        if not self._penalties:
            return 0.0
        penalty = self._penalties.get(_key(host))
        return max(0.0, penalty.until - self._clock()) if penalty is not None else 0.0

    def _turn(self, key: str, spacing: float) -> float:
        """Book the next start for a spaced host; the seconds to wait for it."""
        now = self._clock()
        start = max(now, self._next_start.get(key, now))
        if len(self._next_start) >= _MEMORY and key not in self._next_start:
            self._next_start = {h: t for h, t in self._next_start.items() if t > now}
        self._next_start[key] = start + spacing
        return start - now


class _Hold:
    # A plain class rather than @asynccontextmanager: it is entered for every request.
    __slots__ = ("_key", "_limit", "_limiter", "_slot")

    def __init__(self, limiter: HostLimiter, key: str, limit: Limit) -> None:
        self._limiter = limiter
        self._key = key
        self._limit = limit
        self._slot: _Slot | None = None

    async def __aenter__(self) -> None:
        slots = self._limiter._slots
        slot = slots.get(self._key)
        if slot is None:
            slot = slots[self._key] = _Slot(asyncio.Semaphore(self._limit.concurrency))
        slot.users += 1
        self._slot = slot
        try:
            await slot.semaphore.acquire()
        except BaseException:
            self._leave()
            raise
        if self._limit.min_interval_s > 0:
            try:
                await asyncio.sleep(self._limiter._turn(self._key, self._limit.min_interval_s))
            except BaseException:
                slot.semaphore.release()
                self._leave()
                raise

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._slot is not None
        self._slot.semaphore.release()
        self._leave()

    def _leave(self) -> None:
        assert self._slot is not None
        self._slot.users -= 1
        if self._slot.users == 0:
            del self._limiter._slots[self._key]


def _key(host: str) -> str:
    return host.rstrip(".").lower()
