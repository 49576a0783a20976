"""HTTP dates and ``Retry-After`` values (RFC 9110), shared by feed scheduling and the fetcher."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

#: The longest delay a ``Retry-After`` is taken at (30 days): it is honoured in full up to
#: there, but a hostile or broken server's huge value must neither overflow a datetime nor
#: silence a feed for years.
MAX_RETRY_AFTER_S = 30 * 86_400.0


def retry_after_at(now: datetime, value: str | float | datetime | None) -> datetime | None:
    """The instant a ``Retry-After`` value (delay in seconds, or HTTP date) points at,
    at most :data:`MAX_RETRY_AFTER_S` ahead; ``None`` when the value is not one."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return min(aware(value), now + timedelta(seconds=MAX_RETRY_AFTER_S))
    if isinstance(value, int | float):
        return _after(now, float(value))
    text = value.strip()
    if text.isascii() and text.isdigit():  # str.isdigit() also accepts "²", which int() refuses
        return _after(now, float(text))
    when = http_date(text)
    return None if when is None else min(when, now + timedelta(seconds=MAX_RETRY_AFTER_S))


def _after(now: datetime, seconds: float) -> datetime | None:
    if seconds != seconds:  # NaN
        return None
    return now + timedelta(seconds=min(max(0.0, seconds), MAX_RETRY_AFTER_S))


def http_date(text: str) -> datetime | None:
    """An HTTP date as an aware UTC datetime, or ``None`` when it is not one."""
    try:
        return aware(parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError):
        return None


def aware(value: datetime) -> datetime:
    """``value`` in UTC (a naive one is taken to be UTC already)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
