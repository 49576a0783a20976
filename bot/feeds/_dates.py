"""Tolerant date parsing: every date newsdesk stores is tz-aware UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_tz

from dateutil import parser as dateutil_parser

# Named zones seen in real RSS dates that email.utils does not know (it knows UT, GMT, Z and
# the US zones). Ambiguous abbreviations (IST, CST) take their most common feed meaning.
_ZONES: dict[str, float] = {
    "UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "BST": 1, "WEST": 1, "CET": 1, "MET": 1,
    "CEST": 2, "MEST": 2, "EET": 2, "EEST": 3, "MSK": 3, "IST": 5.5, "SGT": 8, "HKT": 8,
    "AWST": 8, "JST": 9, "KST": 9, "ACST": 9.5, "AEST": 10, "AEDT": 11, "NZST": 12, "NZDT": 13,
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
    "AKST": -9, "AKDT": -8, "HST": -10,
}  # fmt: skip
_TZINFOS = {name: int(hours * 3600) for name, hours in _ZONES.items()}
_TRAILING_ZONE = re.compile(r"\s([A-Za-z]{1,5})\s*$")
_HAS_DIGIT = re.compile(r"\d")
# email.utils reads "4:45 PM" as 04:45 and takes "PM" for a zone; leave such dates to dateutil.
_AM_PM = re.compile(r"\d\s*[AaPp]\.?[Mm]\b")
# Dates before the web or far in the future are garbage, not news.
_MIN_YEAR, _MAX_YEAR = 1990, 2100


def to_utc(value: datetime) -> datetime:
    """``value`` as tz-aware UTC; a naive value is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_date(value: str | None) -> datetime | None:
    """A feed date (RFC 822 with named zones, ISO 8601 with or without zone, odd formats) in UTC.

    Returns ``None`` for garbage rather than guessing: a wrong date would reorder posts.
    """
    if not value:
        return None
    text = value.strip()
    if not text or not _HAS_DIGIT.search(text) or len(text) > 100:
        return None
    parsed = _parse_iso(text) or _parse_rfc822(text) or _parse_loose(text)
    if parsed is None or not _MIN_YEAR <= parsed.year <= _MAX_YEAR:
        return None
    return parsed


def _parse_iso(text: str) -> datetime | None:
    if not text[:4].isdigit():
        return None
    candidate = text.replace(" ", "T", 1) if len(text) > 10 and text[10] == " " else text
    try:
        return to_utc(datetime.fromisoformat(candidate))
    except ValueError:
        return None


def _parse_rfc822(text: str) -> datetime | None:
    if _AM_PM.search(text):
        return None
    zone = _TRAILING_ZONE.search(text)
    offset: int | None = None
    if zone and zone.group(1).upper() in _TZINFOS:
        offset = _TZINFOS[zone.group(1).upper()]
        text = text[: zone.start()]
    parts = parsedate_tz(text)
    if parts is None:
        return None
    year, month, day, hour, minute, second = parts[:6]
    parsed_offset = parts[9]
    try:
        naive = datetime(year, month, day, hour, minute, second)
    except (ValueError, TypeError):
        return None
    if offset is None:
        offset = parsed_offset or 0
    return naive.replace(tzinfo=timezone(timedelta(seconds=offset))).astimezone(UTC)


def _parse_loose(text: str) -> datetime | None:
    # Bare numbers are ambiguous (epoch? yyyymmdd?); refuse them rather than guess.
    if text.isdigit():
        return None
    try:
        return to_utc(dateutil_parser.parse(text, tzinfos=_TZINFOS))
    except (ValueError, OverflowError, TypeError):
        return None
