"""When to check a feed next, and when to stop trying. Pure: every function takes ``now``.

Precedence in :func:`next_check_at`, each step working on the delay left by the one before:

1. Start from the configured ``interval_s``.
2. Feed and HTTP hints may only *lengthen* it: Cache-Control ``max-age`` (or, without one,
   ``Expires``), RSS ``<ttl>`` and ``sy:updatePeriod``. The longest hint wins, since each says
   "nothing new before then". A hint never shortens the interval: a ``<ttl>`` of 1 minute does not
   make us poll every minute. Hints are advisory, and often a default rather than a promise
   (WordPress writes ``sy:updatePeriod hourly`` everywhere), so they lengthen it only up to
   ``max_hint_interval_s`` (15 minutes by default): a breaking story is never an hour late.
3. Clamp to ``[min_interval_s, max_interval_s]``: a server asking for a week still gets checked
   at ``max_interval_s``, and nothing is polled more often than ``min_interval_s``.
4. After ``failures`` consecutive failures, back off exponentially:
   ``interval_s * 2**failures`` capped at ``max_backoff_s`` (one day), if longer than step 3.
5. Add jitter: a random ``[0, jitter_fraction)`` share of the delay, only ever later, so feeds
   added together drift apart and a hint is never undercut.
6. ``Retry-After`` (seconds or an HTTP date) is honoured at least, whatever the steps above
   say, and is not clamped: the server said when it will talk to us again.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.http_dates import aware, http_date, retry_after_at

if TYPE_CHECKING:
    from bot.config import FeedSettings

_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", re.I)
_NO_CACHE = re.compile(r"(?:^|[,\s])(?:no-cache|no-store)(?:$|[,\s=])", re.I)
#: How far caching hints may lengthen the interval (``feeds.max_hint_interval_s``).
DEFAULT_MAX_HINT_INTERVAL_S = 900.0


def next_check_at(
    now: datetime,
    *,
    interval_s: float,
    min_interval_s: float = 300,
    max_interval_s: float = 86400,
    max_hint_interval_s: float = DEFAULT_MAX_HINT_INTERVAL_S,
    cache_control: str | None = None,
    expires: str | datetime | None = None,
    retry_after: str | float | datetime | None = None,
    ttl_minutes: int | None = None,
    update_period_s: float | None = None,
    failures: int = 0,
    max_backoff_s: float = 86400,
    jitter_fraction: float = 0.1,
    rng: random.Random | None = None,
) -> datetime:
    """The time to check a feed next (see the module docstring for the precedence)."""
    delay = float(interval_s)
    hints = [
        _cache_hint(now, cache_control, expires),
        ttl_minutes * 60 if ttl_minutes and ttl_minutes > 0 else None,
        update_period_s if update_period_s and update_period_s > 0 else None,
    ]
    longest = max((h for h in hints if h is not None), default=0.0)
    delay = max(delay, min(longest, max_hint_interval_s))
    delay = min(max(delay, min_interval_s), max_interval_s)
    if failures > 0:
        # 2**failures overflows float for absurd counts; the cap is reached long before.
        backoff = min(interval_s * 2 ** min(failures, 64), max_backoff_s)
        delay = max(delay, backoff)
    if jitter_fraction > 0:
        delay += delay * jitter_fraction * (rng or random).random()
    when = now + timedelta(seconds=delay)
    retry_at = retry_after_at(now, retry_after)
    if retry_at is not None and retry_at > when:
        when = retry_at
    return when


@dataclass(frozen=True, slots=True)
class Schedule:
    """The interval settings every next check is computed with (``[feeds]``), in one place."""

    interval_s: float
    min_interval_s: float
    max_interval_s: float
    max_hint_interval_s: float = DEFAULT_MAX_HINT_INTERVAL_S
    max_failures: int = 10

    @classmethod
    def from_settings(cls, settings: FeedSettings) -> Schedule:
        return cls(
            interval_s=settings.interval_s,
            min_interval_s=settings.min_interval_s,
            max_interval_s=settings.max_interval_s,
            max_hint_interval_s=settings.max_hint_interval_s,
            max_failures=settings.max_failures,
        )

    def after_success(
        self,
        now: datetime,
        headers: Mapping[str, str],
        update_hint_s: int | None,
        rng: random.Random | None = None,
        *,
        retry_after: bool = True,
    ) -> datetime:
        """The next check after a fetch that worked, from its caching headers and the feed's hint."""
        return next_check_at(
            now,
            interval_s=self.interval_s,
            min_interval_s=self.min_interval_s,
            max_interval_s=self.max_interval_s,
            max_hint_interval_s=self.max_hint_interval_s,
            cache_control=headers.get("Cache-Control"),
            expires=headers.get("Expires"),
            retry_after=headers.get("Retry-After") if retry_after else None,
            update_period_s=update_hint_s,
            rng=rng,
        )

    def after_failure(
        self,
        now: datetime,
        failures: int,
        retry_after: str | None,
        update_hint_s: int | None,
        rng: random.Random | None = None,
    ) -> datetime:
        """The next check after ``failures`` failures in a row (backing off)."""
        return next_check_at(
            now,
            interval_s=self.interval_s,
            min_interval_s=self.min_interval_s,
            max_interval_s=self.max_interval_s,
            max_hint_interval_s=self.max_hint_interval_s,
            retry_after=retry_after,
            update_period_s=update_hint_s,
            failures=failures,
            rng=rng,
        )


def should_pause(failures: int, max_failures: int = 10, status: int | None = None) -> bool:
    """Whether to stop polling a feed until someone resumes it.

    410 Gone pauses at once (the publisher removed the feed for good); anything else after
    ``max_failures`` consecutive failures.
    """
    if status == 410:
        return True
    return failures >= max_failures


def _cache_hint(now: datetime, cache_control: str | None, expires: str | datetime | None) -> float | None:
    """Seconds the response stays fresh, from Cache-Control max-age, else Expires (RFC 9111)."""
    if cache_control:
        if _NO_CACHE.search(cache_control):
            return None
        match = _MAX_AGE.search(cache_control)
        if match:
            return float(match.group(1))
    if expires is None:
        return None
    when = aware(expires) if isinstance(expires, datetime) else http_date(expires)
    if when is None or when <= now:
        return None
    return (when - now).total_seconds()
