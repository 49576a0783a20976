"""HTTP dates and ``Retry-After`` values (RFC 9110), shared by feed scheduling and the fetcher."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime


def retry_after_at(now: datetime, value: str | float | datetime | None) -> datetime | None:
    """The instant a ``Retry-After`` value (delay in seconds, or HTTP date) points at."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return aware(value)
    if isinstance(value, int | float):
        return now + timedelta(seconds=max(0.0, float(value)))
    text = value.strip()
    if text.isdigit():
        return now + timedelta(seconds=int(text))
    return http_date(text)


def http_date(text: str) -> datetime | None:
    """An HTTP date as an aware UTC datetime, or ``None`` when it is not one."""
    try:
        return aware(parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError):
        return None


def aware(value: datetime) -> datetime:
    """``value`` in UTC (a naive one is taken to be UTC already)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
