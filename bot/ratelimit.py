"""A process's share of a request rate that binds the whole bot, not each process.

Discord lets a bot make 50 requests per second, however many processes make them. Without a
shared REST proxy, each of the N live processes keeps to its share: at most ``floor(total / N)``
request starts in any rolling second (:class:`RequestBudget`), so N processes together stay
under ``total`` in every second, whichever second Discord counts in. The share is rounded down
(3 processes of a 50/s bot get 16/s each, 48/s in all); past ``total`` processes each gets one
start per ``N / total`` seconds.

N comes from a callable read at every request, so it must be cheap: :class:`ProcessCount` keeps
the last count of live processes, which a background loop refreshes from the database (no
database call per request). No discord import here: ``cogs/ratelimits.py`` hooks this into
discord.py's HTTP client.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: How many processes share a limit; read at every request, so it must be cheap.
Share = Callable[[], int]

#: Added to the window: a start is counted where it lands, a little after it was allowed here
#: (the event loop, the network), so two starts a window apart here must not land closer.
SLACK_S = 0.05


def alone() -> int:
    """The share of a single process: the whole limit."""
    return 1


@dataclass(slots=True)
class BudgetStats:
    """What a :class:`RequestBudget` did, for metrics and tests."""

    taken: int = 0
    """Requests let through."""
    delayed: int = 0
    """Of them, those that had to wait for a place."""
    delay_s: float = 0.0
    """The seconds they waited, in all."""


class RequestBudget:
    """At most ``per_s / share()`` request starts in any rolling ``window_s`` (see the module).

    ``await budget.take()`` before each request: it returns at once while the window has room,
    else it waits for the oldest start to leave it. Waiters go in the order they came. A changed
    share applies from the next request on (a shrunk share waits for the window to drain to it).
    """

    def __init__(
        self,
        per_s: float,
        share: Share = alone,
        *,
        window_s: float = 1.0,
        slack_s: float = SLACK_S,
    ) -> None:
        if per_s <= 0 or window_s <= 0:
            raise ValueError("per_s and window_s must be positive")
        self.per_s = per_s
        self._share = share
        self._window_s = window_s
        self._slack_s = slack_s
        self._starts: deque[float] = deque()
        self._lock = asyncio.Lock()
        self.stats = BudgetStats()
        #: The times requests were let through (tests check the rate on them); None: not kept.
        self.log: list[float] | None = None

    def share_with(self, share: Share) -> None:
        """From now on, take a share among ``share()`` processes."""
        self._share = share

    def allowance(self) -> tuple[int, float]:
        """(starts, seconds): at most that many starts in any window of that length, now."""
        rate = self.per_s / max(1, self._share())
        if rate * self._window_s >= 1:
            return math.floor(rate * self._window_s), self._window_s
        return 1, 1 / rate

    def rate(self) -> float:
        """This process's requests per second now."""
        starts, window_s = self.allowance()
        return starts / window_s

    async def take(self) -> None:
        """Wait for a place in the window and take it."""
        if not self._lock.locked() and self._wait_s() == 0.0:
            return
        began = time.monotonic()
        async with self._lock:  # FIFO: the first to wait is the first let through
            wait = self._wait_s()
            while wait > 0:  # a sleep per freed place: nothing else frees one
                await asyncio.sleep(wait)
                wait = self._wait_s()
        self.stats.delayed += 1
        self.stats.delay_s += time.monotonic() - began

    def _wait_s(self) -> float:
        """Take a place and return 0, or return the seconds until one frees."""
        starts, window_s = self.allowance()
        window_s += self._slack_s
        now = time.monotonic()
        recent = self._starts
        while recent and recent[0] <= now - window_s:
            recent.popleft()
        if len(recent) < starts:
            recent.append(now)
            self.stats.taken += 1
            if self.log is not None:
                self.log.append(now)
            return 0.0
        # The start whose leaving brings the window under ``starts`` (more than one when the
        # share just shrank).
        return max(recent[len(recent) - starts] + window_s - now, 0.001)


class ProcessCount:
    """The number of live processes sharing a limit, as last counted: a cheap :data:`Share`.

    ``count`` asks the database (for example ``len(await InstanceStore(db).live(now))``); run
    :meth:`refresh` once before the first request, then from a background loop. A failed refresh
    keeps the last count (the loop logs it); a count below 1 counts as 1 (this process).
    """

    def __init__(self, count: Callable[[], Awaitable[int]], *, initial: int = 1) -> None:
        self._count = count
        self.value = max(1, initial)

    def __call__(self) -> int:
        return self.value

    async def refresh(self) -> None:
        value = max(1, await self._count())
        if value != self.value:
            log.info("processes sharing the rate limits: %d (were %d)", value, self.value)
        self.value = value
