"""Retry-After values as servers send them, hostile ones included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.http_dates import MAX_RETRY_AFTER_S, retry_after_at

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
CAP = NOW + timedelta(seconds=MAX_RETRY_AFTER_S)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", NOW + timedelta(seconds=120)),
        (" 30 ", NOW + timedelta(seconds=30)),
        (45.0, NOW + timedelta(seconds=45)),
        (-5, NOW),
        ("Mon, 07 Dec 2026 12:10:00 GMT", NOW + timedelta(minutes=10)),
        ("999999999999", CAP),
        (1e308, CAP),
        (float("inf"), CAP),
        ("Fri, 31 Dec 9999 23:59:59 GMT", CAP),
        ("\u00b2", None),
        ("\u0663", None),
        ("soon", None),
        (float("nan"), None),
        (None, None),
    ],
)
def test_retry_after_is_parsed_and_capped(value: str | float | None, expected: datetime | None) -> None:
    assert retry_after_at(NOW, value) == expected
