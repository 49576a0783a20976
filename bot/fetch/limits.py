"""Per-host politeness: requests in flight, spacing, and slowing down for a host that asks.

- Each host gets ``concurrency`` requests in flight (``fetch.per_host_concurrency``, or its
  override in ``[fetch.host_limits]``, which also covers its subdomains), optionally started at
  least ``min_interval_s`` apart.
- A host that answers 429 (or 503 with a Retry-After) is slowed down, alone: it may not be
  asked again before its ``Retry-After`` (at most a day), and each further refusal pauses it longer (at least
  :data:`BACKOFF_BASE_S`, doubled at each, up to :data:`BACKOFF_MAX_S`); each success takes
  one doubling back.
  Callers that can do something else meanwhile (the poller) ask :meth:`HostLimiter.blocked_for`.

The limits hold for the whole bot: given ``share`` (the number N of live processes that fetch,
a cheap callable read at each request, see :class:`bot.ratelimit.ProcessCount`; or later through
:meth:`HostLimiter.share_with`), each process takes its share of every host's limit:

- ``max(1, floor(concurrency / N))`` requests in flight: rounded down, so N processes together
  stay within the limit (4 places over 3 processes: 1 each, 3 in all), except that a process
  always keeps one place (more processes than places: at most N in flight);
- starts at least ``min_interval_s * N`` apart, so N processes together start no more often
  than the limit allows.

Without ``share``, or with N = 1, a process has the whole limit, as a single process always had.
A changed N applies from the next request on; requests already in flight finish.

Pauses after a 429 are per process: each learns a host's 429 from its own first refused
request. Feeds' own next checks (Retry-After included) live in the database, so no feed is asked
early whichever process checks it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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
    """A host's places: a semaphore whose size (this process's share) is read at each turn."""

    limit: Limit
    held: int = 0
    users: int = 0
    waiters: deque[asyncio.Future[None]] = field(default_factory=deque)


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
        share: Callable[[], int] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._share = share
        self.default = limit if isinstance(limit, Limit) else Limit(limit)
        self._overrides = {_key(host): value for host, value in (overrides or {}).items()}
        self._clock = clock
        self._slots: dict[str, _Slot] = {}
        self._next_start: dict[str, float] = {}
        self._penalties: dict[str, _Penalty] = {}

    def share_with(self, share: Callable[[], int] | None) -> None:
        """From now on, take a share of the limits among ``share()`` processes (None: alone)."""
        self._share = share

    def processes(self) -> int:
        """N, the processes sharing the limits now (1 without ``share``)."""
        return max(1, self._share()) if self._share is not None else 1

    def share_of(self, limit: Limit) -> Limit:
        """This process's share of a whole-bot ``limit`` (see the module docstring)."""
        n = self.processes()
        if n == 1:
            return limit
        return Limit(max(1, limit.concurrency // n), limit.min_interval_s * n)

    def limit_for(self, host: str) -> Limit:
        """How this process may ask ``host`` now: its share of :meth:`bot_limit_for` (all of it
        when alone). The poller plans its turns with it."""
        if self._share is None:
            return self.bot_limit_for(host)
        return self.share_of(self.bot_limit_for(host))

    def bot_limit_for(self, host: str) -> Limit:
        """The limit of ``host`` for the whole bot: its own override, else its closest parent
        domain's."""
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
        return _Hold(self, key, self.bot_limit_for(key))

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
            slot = slots[self._key] = _Slot(self._limit)
        slot.users += 1
        self._slot = slot
        try:
            await self._acquire(slot)
        except BaseException:
            self._leave()
            raise
        spacing = self._limiter.share_of(self._limit).min_interval_s
        if spacing > 0:
            try:
                await asyncio.sleep(self._limiter._turn(self._key, spacing))
            except BaseException:
                self._release(slot)
                self._leave()
                raise

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._slot is not None
        self._release(self._slot)
        self._leave()

    async def _acquire(self, slot: _Slot) -> None:
        # A semaphore whose size is this process's share now (it changes with N).
        if not slot.waiters and slot.held < self._limiter.share_of(slot.limit).concurrency:
            slot.held += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        slot.waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._release(slot)  # given a place, then cancelled: pass it on
            else:
                slot.waiters.remove(waiter)
            raise

    def _release(self, slot: _Slot) -> None:
        slot.held -= 1
        concurrency = self._limiter.share_of(slot.limit).concurrency
        while slot.waiters and slot.held < concurrency:
            waiter = slot.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                slot.held += 1

    def _leave(self) -> None:
        assert self._slot is not None
        self._slot.users -= 1
        if self._slot.users == 0:
            del self._limiter._slots[self._key]


def _key(host: str) -> str:
    return host.rstrip(".").lower()
