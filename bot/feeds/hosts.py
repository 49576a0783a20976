"""Turns of busy hosts: which claimed feeds wait, and until when, so a host is never asked
faster than its limits allow (:class:`bot.fetch.limits.HostLimiter`) while others go unslowed.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from bot.fetch.limits import HostLimiter
from bot.storage.feed_records import CheckDeferred, DueFeed

_HOST_MEMORY = 10_000


class HostTurns:
    """Defers the feeds of a paused host (429/503) past its pause, and those of a host spaced
    by ``min_interval_s`` to reserved turns.
    """

    def __init__(self, limits: HostLimiter, rng: random.Random, *, forget_after_s: float) -> None:
        self._limits = limits
        self._rng = rng
        self._forget_after_s = forget_after_s
        # host -> its next free turn, for hosts spaced by min_interval_s; forgotten once past.
        self._free_at: dict[str, datetime] = {}
        # feed id -> the turn reserved for it on its busy host.
        self._slots: dict[int, datetime] = {}

    def defer(self, feed: DueFeed, host: str, now: datetime) -> CheckDeferred | None:
        """A later time for ``feed`` (on ``host``, :func:`host_of` its URL) when its host is
        paused, or spaced and busy.
        """
        paused = self._limits.blocked_for(host)
        if paused > 0:
            # Spread over a tenth of the pause, so the host is not asked all at once after it.
            spread = paused * 0.1 * self._rng.random()
            return CheckDeferred(feed.id, now + timedelta(seconds=paused + spread))
        limit = self._limits.limit_for(host)
        if limit.min_interval_s <= 0:
            return None
        spacing = limit.min_interval_s / limit.concurrency
        slot = self._slots.pop(feed.id, None)
        if slot is not None and slot <= now:
            return None  # its reserved turn came
        free_at = self._free_at.get(host)
        if free_at is None or free_at <= now:
            self._free_at[host] = now + timedelta(seconds=spacing)
            return None
        # Not a failure: the feed gets the host's next free turn, reserved for it, so a host
        # with 300 due feeds costs 300 claims spread over time, not a re-deferral of all of
        # them at every turn.
        self._free_at[host] = free_at + timedelta(seconds=spacing)
        self._slots[feed.id] = free_at
        return CheckDeferred(feed.id, free_at)

    def forget(self, now: datetime) -> None:
        """Drop turns long past, once many hosts are remembered."""
        if len(self._free_at) > _HOST_MEMORY:
            self._free_at = {h: t for h, t in self._free_at.items() if t > now}
        if len(self._slots) > _HOST_MEMORY:
            stale = now - timedelta(seconds=self._forget_after_s)
            self._slots = {f: t for f, t in self._slots.items() if t > stale}


def host_of(url: str) -> str:
    """The lower-case host of ``url`` ("" when it has none)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""
