"""Scheduling: next_check_at precedence and should_pause, with a fixed clock and seeded jitter."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from bot.feeds import next_check_at, should_pause
from bot.feeds.schedule import DEFAULT_MAX_HINT_INTERVAL_S
from bot.http_dates import retry_after_at

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOUR = 3600
DAY = 86400


def delay(**kwargs: object) -> float:
    """Seconds from NOW to the next check, without jitter unless asked for."""
    # Hints uncapped unless a test says otherwise: the precedence is tested on its own.
    params: dict[str, object] = {
        "interval_s": 1800, "min_interval_s": 300, "max_interval_s": DAY, "max_hint_interval_s": DAY
    }  # fmt: skip
    params["jitter_fraction"] = 0.0
    params.update(kwargs)
    return (next_check_at(NOW, **params) - NOW).total_seconds()  # type: ignore[arg-type]


def http_date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


def test_configured_interval_alone() -> None:
    assert delay() == 1800


def test_interval_is_clamped_to_min_and_max() -> None:
    assert delay(interval_s=60) == 300
    assert delay(interval_s=3 * DAY) == DAY


@pytest.mark.parametrize(
    ("cache_control", "expected"),
    [
        ("public, max-age=7200", 7200),  # longer than the interval: respected
        ("max-age=60", 1800),  # shorter: never polls faster than configured
        ("max-age=999999", DAY),  # clamped to max_interval
        ('private, max-age="5400"', 5400),
        ("no-cache, max-age=7200", 1800),  # must revalidate: no freshness hint
        ("no-store", 1800),
        ("s-maxage=7200", 1800),  # shared caches only, not us
    ],
)
def test_cache_control_max_age(cache_control: str, expected: float) -> None:
    assert delay(cache_control=cache_control) == expected


def test_expires_used_without_max_age_and_ignored_with_it() -> None:
    expires = http_date(NOW + timedelta(hours=3))
    assert delay(expires=expires) == 3 * HOUR
    assert delay(expires=NOW + timedelta(hours=3)) == 3 * HOUR
    assert delay(expires=(NOW + timedelta(hours=3)).replace(tzinfo=None)) == 3 * HOUR
    assert delay(expires=expires, cache_control="max-age=3600") == HOUR
    assert delay(expires=http_date(NOW - timedelta(hours=1))) == 1800  # already stale
    assert delay(expires="0") == 1800  # the classic "already expired" value
    assert delay(expires=http_date(NOW + timedelta(days=30))) == DAY


def test_feed_hints_ttl_and_sy_update_period() -> None:
    assert delay(ttl_minutes=120) == 2 * HOUR
    assert delay(ttl_minutes=5) == 1800
    assert delay(update_period_s=6 * HOUR) == 6 * HOUR
    # The longest hint wins: each says "nothing new before then".
    assert delay(ttl_minutes=60, update_period_s=3 * HOUR, cache_control="max-age=7200") == 3 * HOUR
    assert delay(ttl_minutes=0, update_period_s=0) == 1800


@pytest.mark.parametrize(
    "hint",
    [
        {"ttl_minutes": 60},
        {"update_period_s": HOUR},  # WordPress's sy:updatePeriod hourly
        {"cache_control": "max-age=3600"},
        {"expires": http_date(NOW + timedelta(hours=1))},
        {"ttl_minutes": 60, "update_period_s": HOUR, "cache_control": "max-age=3600"},
    ],
)
def test_advisory_hints_lengthen_the_interval_only_up_to_the_cap(hint: dict[str, object]) -> None:
    # The default cap: a 10-minute feed saying "hourly" is checked every 15 minutes, not hourly.
    assert delay(interval_s=600, max_hint_interval_s=DEFAULT_MAX_HINT_INTERVAL_S, **hint) == 900
    assert (next_check_at(NOW, interval_s=600, jitter_fraction=0, **hint) - NOW).total_seconds() == 900  # type: ignore[arg-type]
    assert delay(interval_s=600, max_hint_interval_s=1200, **hint) == 1200
    # A cap shorter than the configured interval never shortens it; a hint shorter than the cap counts.
    assert delay(interval_s=1800, max_hint_interval_s=900, **hint) == 1800
    assert delay(interval_s=600, max_hint_interval_s=7200, **hint) == HOUR
    assert delay(interval_s=600, max_hint_interval_s=0, **hint) == 600


def test_retry_after_is_not_capped_like_the_hints() -> None:
    assert delay(interval_s=600, max_hint_interval_s=900, retry_after="7200", ttl_minutes=60) == 7200
    assert delay(interval_s=600, max_hint_interval_s=900, failures=3) == 4800  # backoff neither


@pytest.mark.parametrize(
    ("failures", "expected"), [(0, 1800), (1, 3600), (2, 7200), (4, 28800), (6, DAY), (500, DAY)]
)
def test_exponential_backoff_capped_at_a_day(failures: int, expected: float) -> None:
    assert delay(failures=failures) == expected


def test_backoff_never_shortens_a_longer_hint() -> None:
    assert delay(failures=1, ttl_minutes=180) == 3 * HOUR
    assert delay(failures=3, max_backoff_s=2 * HOUR) == 2 * HOUR


def test_retry_after_seconds_is_honoured_and_not_clamped() -> None:
    assert delay(retry_after="7200") == 7200
    assert delay(retry_after=120) == 1800  # sooner than we would come anyway
    assert delay(retry_after="172800") == 2 * DAY  # beyond max_interval: still honoured
    assert delay(retry_after=3 * HOUR, failures=1) == 3 * HOUR


def test_retry_after_http_date() -> None:
    assert delay(retry_after=http_date(NOW + timedelta(hours=5))) == 5 * HOUR
    assert delay(retry_after="not a date") == 1800
    assert retry_after_at(NOW, "Wed, 21 Oct 2015 07:28:00 GMT") == datetime(2015, 10, 21, 7, 28, tzinfo=UTC)
    assert retry_after_at(NOW, None) is None


def test_jitter_only_ever_delays_and_spreads_feeds() -> None:
    results = {
        (
            next_check_at(NOW, interval_s=3600, jitter_fraction=0.2, rng=random.Random(seed)) - NOW
        ).total_seconds()
        for seed in range(50)
    }
    assert all(3600 <= r < 3600 * 1.2 for r in results)
    assert len(results) > 40  # actually spread
    assert max(results) - min(results) > 0.1 * 3600


def test_jitter_is_reproducible_with_a_seeded_rng() -> None:
    def run() -> datetime:
        return next_check_at(NOW, interval_s=3600, jitter_fraction=0.1, rng=random.Random(7))

    assert run() == run()


def test_jitter_never_undercuts_retry_after() -> None:
    for seed in range(20):
        when = next_check_at(
            NOW, interval_s=300, retry_after="3600", jitter_fraction=0.5, rng=random.Random(seed)
        )
        assert when >= NOW + timedelta(hours=1)


def test_result_is_timezone_aware_utc() -> None:
    assert next_check_at(NOW, interval_s=600, jitter_fraction=0).tzinfo is not None


def test_should_pause() -> None:
    assert should_pause(0, status=410)  # Gone: at once
    assert not should_pause(0, status=404)
    assert not should_pause(9)
    assert should_pause(10)
    assert should_pause(3, max_failures=3, status=500)
    assert not should_pause(2, max_failures=3, status=503)
