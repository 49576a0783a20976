"""Digest schedules: parsing, due times across DST, missed digests, and a simulated clock.

Expected instants come from the standard library (``zoneinfo`` wall times), never from the code
under test, so these tests check apscheduler's answers and our corrections to them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo, available_timezones

import pytest

from bot.digests import (
    DigestSchedule,
    ScheduleError,
    advance,
    decide_missed,
    next_due_at,
    parse_schedule,
    timezone_choices,
)

PARIS = "Europe/Paris"
NEW_YORK = "America/New_York"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(tz: str, *args: int, fold: int = 0) -> datetime:
    """A wall time in ``tz`` as a UTC instant (stdlib semantics: fold=0 is the first occurrence)."""
    return datetime(*args, tzinfo=ZoneInfo(tz), fold=fold).astimezone(UTC)


def chain(schedule: DigestSchedule, start: datetime, end: datetime) -> list[datetime]:
    """Every due time in (start, end], following next_due_at."""
    out = []
    when = next_due_at(schedule, after=start)
    while when <= end:
        out.append(when)
        when = next_due_at(schedule, after=when)
    return out


# --- parsing ------------------------------------------------------------------


def test_parse_daily_weekly_every_hours_and_describe():
    daily = parse_schedule("daily", at="08:00", timezone=PARIS)
    assert (daily.kind, daily.hour, daily.minute, daily.timezone) == ("daily", 8, 0, PARIS)
    assert daily.describe() == "every day at 08:00 (Europe/Paris)"

    weekly = parse_schedule("weekly", at="7:05", day="fri", timezone=NEW_YORK)
    assert weekly.day_of_week == 4
    assert weekly.describe() == "every Friday at 07:05 (America/New_York)"
    assert parse_schedule("weekly", at="9", day="Sunday").day_of_week == 6
    assert parse_schedule("weekly", at="9", day=0).day_of_week == 0

    hourly = parse_schedule("every_hours", hours="6", timezone="UTC")
    assert (hourly.every_hours, hourly.hour, hourly.minute) == (6, 0, 0)
    assert hourly.describe() == "every 6 hours from 00:00 (UTC)"
    assert parse_schedule("every-hours", hours=1, at="00:15").describe() == "every hour at :15 (UTC)"


def test_timezone_names_are_case_insensitive_and_stored_canonically():
    assert parse_schedule("daily", at="08:00", timezone="europe/PARIS").timezone == PARIS
    with pytest.raises(ScheduleError):
        DigestSchedule(kind="daily", timezone="europe/paris")


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"kind": "daily", "at": "25:00"}, "25:00"),
        ({"kind": "daily", "at": "08:60"}, "08:60"),
        ({"kind": "daily", "at": "eight"}, "eight"),
        ({"kind": "daily"}, "time of day"),
        ({"kind": "daily", "at": "08:00", "timezone": "Mars/Olympus_Mons"}, "Mars/Olympus_Mons"),
        ({"kind": "daily", "at": "08:00", "timezone": "../../etc/passwd"}, "time zone"),
        ({"kind": "daily", "at": "08:00", "timezone": ""}, "time zone"),
        ({"kind": "weekly", "at": "08:00"}, "day of the week"),
        ({"kind": "weekly", "at": "08:00", "day": "Funday"}, "Funday"),
        ({"kind": "weekly", "at": "08:00", "day": 7}, "7"),
        ({"kind": "every_hours", "hours": 0}, "between 1 and 168"),
        ({"kind": "every_hours", "hours": 169}, "between 1 and 168"),
        ({"kind": "every_hours", "hours": "often"}, "often"),
        ({"kind": "every_hours"}, "interval"),
        ({"kind": "daily", "at": "08:00", "day": "monday"}, "day of the week"),
        ({"kind": "monthly", "at": "08:00"}, "monthly"),
    ],
)
def test_invalid_schedules_raise_a_clear_schedule_error(kwargs, fragment):
    with pytest.raises(ScheduleError) as info:
        parse_schedule(**kwargs)
    assert isinstance(info.value, ValueError)
    assert fragment in str(info.value)


# --- due times ------------------------------------------------------------------


def test_next_due_is_utc_and_strictly_after():
    daily = parse_schedule("daily", at="08:00", timezone=PARIS)
    due = next_due_at(daily, after=utc(2026, 1, 10, 6, 0))
    assert due == utc(2026, 1, 10, 7, 0)
    assert due.tzinfo is UTC
    # Exactly at a due time: the next one, not the same (advance relies on it).
    assert next_due_at(daily, after=due) == utc(2026, 1, 11, 7, 0)
    assert next_due_at(daily, after=due - timedelta(microseconds=1)) == due
    # Any aware `after` works; its zone does not matter.
    assert next_due_at(daily, after=datetime(2026, 1, 10, 7, 0, tzinfo=ZoneInfo(PARIS))) == due
    with pytest.raises(ValueError):
        next_due_at(daily, after=datetime(2026, 1, 10, 6, 0))


@pytest.mark.parametrize(
    ("tz", "day_before"),
    [
        (PARIS, date(2026, 3, 28)),  # spring forward: 02:00 -> 03:00 on the 29th
        (PARIS, date(2026, 10, 24)),  # fall back: 03:00 -> 02:00 on the 25th
        (NEW_YORK, date(2026, 3, 7)),  # spring forward on the 8th
        (NEW_YORK, date(2026, 10, 31)),  # fall back on 1 November
    ],
)
def test_daily_at_8_keeps_local_time_across_dst(tz, day_before):
    schedule = parse_schedule("daily", at="08:00", timezone=tz)
    start = datetime.combine(day_before, time(0, 0), tzinfo=ZoneInfo(tz)).astimezone(UTC)
    fires = chain(schedule, start, start + timedelta(days=3))
    expected = [local(tz, *(day_before + timedelta(days=d)).timetuple()[:3], 8, 0) for d in range(3)]
    assert fires == expected
    offsets = {f.astimezone(ZoneInfo(tz)).utcoffset() for f in fires}
    assert len(offsets) == 2, "the window must cross the DST change"
    assert all(f.astimezone(ZoneInfo(tz)).time() == time(8, 0) for f in fires)


def test_known_utc_instants_around_dst():
    daily = parse_schedule("daily", at="08:00", timezone=PARIS)
    assert chain(daily, utc(2026, 3, 28, 0), utc(2026, 3, 30, 0)) == [
        utc(2026, 3, 28, 7),
        utc(2026, 3, 29, 6),
    ]
    assert chain(daily, utc(2026, 10, 24, 0), utc(2026, 10, 26, 0)) == [
        utc(2026, 10, 24, 6),
        utc(2026, 10, 25, 7),
    ]
    ny = parse_schedule("daily", at="08:00", timezone=NEW_YORK)
    assert chain(ny, utc(2026, 3, 7, 0), utc(2026, 3, 9, 0)) == [utc(2026, 3, 7, 13), utc(2026, 3, 8, 12)]
    assert chain(ny, utc(2026, 10, 31, 0), utc(2026, 11, 2, 0)) == [
        utc(2026, 10, 31, 12),
        utc(2026, 11, 1, 13),
    ]


@pytest.mark.parametrize("tz", [PARIS, NEW_YORK])
def test_a_wall_time_in_the_repeated_hour_fires_once(tz):
    # 01:30 in New York and 02:30 in Paris happen twice on the fall-back night; a zone-aware
    # apscheduler 3 CronTrigger returns both (and then loops on the second). A daily digest comes once.
    at = "01:30" if tz == NEW_YORK else "02:30"
    schedule = parse_schedule("daily", at=at, timezone=tz)
    night = date(2026, 11, 1) if tz == NEW_YORK else date(2026, 10, 25)
    start = datetime.combine(night - timedelta(days=1), time(12), tzinfo=UTC)
    fires = chain(schedule, start, start + timedelta(days=2))
    hour = int(at[:2])
    assert fires == [local(tz, night.year, night.month, night.day, hour, 30, fold=0), fires[1]]
    assert fires[1].astimezone(ZoneInfo(tz)).date() == night + timedelta(days=1)
    # Asked from inside the repeated hour, it goes to the next day.
    inside = local(tz, night.year, night.month, night.day, hour, 10, fold=1)
    assert next_due_at(schedule, after=inside) == fires[1]


@pytest.mark.parametrize("tz", [PARIS, NEW_YORK])
def test_a_wall_time_in_the_skipped_hour_fires_once_that_day(tz):
    at = "02:30"
    schedule = parse_schedule("daily", at=at, timezone=tz)
    day = date(2026, 3, 8) if tz == NEW_YORK else date(2026, 3, 29)
    start = datetime.combine(day - timedelta(days=1), time(12), tzinfo=UTC)
    fires = chain(schedule, start, start + timedelta(days=2))
    assert len(fires) == 2
    # 02:30 does not exist that day; it fires once, an hour later in wall time (stdlib fold=0).
    assert fires[0] == local(tz, day.year, day.month, day.day, 2, 30)
    assert fires[0].astimezone(ZoneInfo(tz)).time() == time(3, 30)


def _oracle(schedule: DigestSchedule, first: date, last: date) -> list[datetime]:
    """Due times from wall-clock rules alone: each local date's times, first occurrence."""
    tz = ZoneInfo(schedule.timezone)
    if schedule.kind == "every_hours":
        assert schedule.every_hours is not None and 24 % schedule.every_hours == 0
        hours = range(schedule.hour % schedule.every_hours, 24, schedule.every_hours)
    else:
        hours = range(schedule.hour, schedule.hour + 1)
    out: set[datetime] = set()
    day = first
    while day <= last:
        if schedule.kind != "weekly" or day.weekday() == schedule.day_of_week:
            for hour in hours:
                first = datetime.combine(day, time(hour, schedule.minute), tzinfo=tz)
                out.add(first.astimezone(UTC))
                second = first.replace(fold=1)
                if schedule.every_hours == 1 and second.utcoffset() < first.utcoffset():  # repeated hour
                    out.add(second.astimezone(UTC))
        day += timedelta(days=1)
    return sorted(out)


@pytest.mark.parametrize("tz", [PARIS, NEW_YORK, "Australia/Lord_Howe", "UTC"])
@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "daily", "at": "08:00"},
        {"kind": "daily", "at": "02:30"},
        {"kind": "daily", "at": "00:00"},
        {"kind": "weekly", "at": "01:30", "day": "sunday"},
        {"kind": "every_hours", "hours": 1, "at": "00:30"},
        {"kind": "every_hours", "hours": 6, "at": "02:00"},
        {"kind": "every_hours", "hours": 8},
    ],
)
def test_a_year_of_due_times_matches_the_wall_clock(tz, spec):
    schedule = parse_schedule(**spec, timezone=tz)
    # A whole year; hourly ones only the weeks around the changes (both hemispheres), for speed.
    spans = [(utc(2026, 1, 2), utc(2026, 12, 30))]
    if schedule.every_hours == 1:
        spans = [(utc(2026, 3, 1), utc(2026, 4, 10)), (utc(2026, 9, 28), utc(2026, 11, 5))]
    oracle = _oracle(schedule, date(2026, 1, 1), date(2026, 12, 31))
    for start, end in spans:
        assert chain(schedule, start, end) == [t for t in oracle if start < t <= end]


@pytest.mark.parametrize("tz", [PARIS, NEW_YORK])
@pytest.mark.parametrize("hours", [5, 7, 36])
def test_intervals_that_do_not_divide_a_day_count_real_hours(tz, hours):
    schedule = parse_schedule("every_hours", hours=hours, at="03:00", timezone=tz)
    fires = chain(schedule, utc(2026, 1, 1), utc(2026, 12, 31))
    gaps = {b - a for a, b in pairwise(fires)}
    assert gaps == {timedelta(hours=hours)}
    # Anchored: restarting at any moment gives the same grid (2024-01-01 03:00 local, in winter).
    anchor = local(tz, 2024, 1, 1, 3, 0)
    assert all((f - anchor) % timedelta(hours=hours) == timedelta(0) for f in fires)
    assert next_due_at(schedule, after=fires[10] - timedelta(minutes=1)) == fires[10]


# --- missed digests and advancing -------------------------------------------------


def test_decide_missed_grace_boundaries():
    due = utc(2026, 5, 1, 6, 0)
    assert decide_missed(due, now=due - timedelta(seconds=1)) == "not_due"
    assert decide_missed(due, now=due) == "post"
    assert decide_missed(due, now=due + timedelta(seconds=3600)) == "post"
    assert decide_missed(due, now=due + timedelta(seconds=3601)) == "skip"
    assert decide_missed(due, now=due + timedelta(minutes=10), grace_s=300) == "skip"
    assert decide_missed(due, now=due + timedelta(days=3)) == "skip"
    with pytest.raises(ValueError):
        decide_missed(datetime(2026, 5, 1, 6), now=due)


def test_advance_jumps_over_an_outage_and_is_strictly_later():
    daily = parse_schedule("daily", at="08:00", timezone=PARIS)
    due = utc(2026, 5, 1, 6, 0)  # 08:00 CEST
    # Back after three days: one decision, and the row moves to the next future occurrence.
    now = utc(2026, 5, 4, 9, 0)
    assert decide_missed(due, now=now) == "skip"
    assert advance(daily, due_at=due, now=now) == utc(2026, 5, 5, 6, 0)
    # Back 20 minutes late: posted, and the next one is tomorrow, not today again.
    late = due + timedelta(minutes=20)
    assert decide_missed(due, now=late) == "post"
    assert advance(daily, due_at=due, now=late) == utc(2026, 5, 2, 6, 0)
    # Called early (clock skew between workers): still after the due time it handles.
    assert advance(daily, due_at=due, now=due - timedelta(minutes=5)) == utc(2026, 5, 2, 6, 0)


class _Row:
    """A stored schedule row with a compare-and-set on its due time, like the caller's UPDATE."""

    def __init__(self, due_at: datetime) -> None:
        self.due_at = due_at

    def compare_and_set(self, old: datetime, new: datetime) -> bool:
        if self.due_at != old:
            return False
        self.due_at = new
        return True


def _tick(schedule: DigestSchedule, row: _Row, now: datetime, posted: list, skipped: list) -> None:
    """What the scheduler loop does with one row at one tick."""
    seen = row.due_at
    action = decide_missed(seen, now=now)
    if action == "not_due":
        return
    if row.compare_and_set(seen, advance(schedule, due_at=seen, now=now)):
        (posted if action == "post" else skipped).append(seen)


def _simulate(schedule: DigestSchedule, start: datetime, hours: int, *, down=None) -> tuple[list, list]:
    row = _Row(next_due_at(schedule, after=start))
    posted: list[datetime] = []
    skipped: list[datetime] = []
    for minute in range(hours * 60 + 1):
        now = start + timedelta(minutes=minute)
        if down is not None and down[0] <= now < down[1]:
            continue
        _tick(schedule, row, now, posted, skipped)
    return posted, skipped


def test_simulated_48h_daily_paris_fires_twice_at_the_right_instants():
    daily = parse_schedule("daily", at="08:00", timezone=PARIS)
    posted, skipped = _simulate(daily, utc(2026, 3, 28, 0), 48)
    assert posted == [utc(2026, 3, 28, 7), utc(2026, 3, 29, 6)]  # CET, then CEST
    assert skipped == []


def test_simulated_48h_over_fall_back_with_a_time_in_the_repeated_hour():
    daily = parse_schedule("daily", at="02:30", timezone=PARIS)
    posted, _ = _simulate(daily, utc(2026, 10, 24, 12), 48)
    assert posted == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]


def test_simulated_15_days_weekly_fires_twice():
    weekly = parse_schedule("weekly", at="09:00", day="wednesday", timezone=NEW_YORK)
    start = utc(2026, 10, 26, 0)  # a Monday; 15 days hold two Wednesdays, one on each side of DST
    posted, _ = _simulate(weekly, start, 15 * 24)
    assert posted == [local(NEW_YORK, 2026, 10, 28, 9, 0), local(NEW_YORK, 2026, 11, 4, 9, 0)]
    assert posted == [utc(2026, 10, 28, 13), utc(2026, 11, 4, 14)]


def test_simulated_48h_every_6_hours_fires_8_times():
    every6 = parse_schedule("every_hours", hours=6, timezone=PARIS)
    posted, _ = _simulate(every6, utc(2026, 3, 28, 0), 48)
    assert len(posted) == 8
    assert all(p.astimezone(ZoneInfo(PARIS)).hour in (0, 6, 12, 18) for p in posted)
    assert len(set(posted)) == 8


def test_simulated_outage_posts_within_grace_and_skips_beyond():
    daily = parse_schedule("daily", at="08:00", timezone=PARIS)
    start = utc(2026, 6, 1, 0)
    # Down 05:30-06:40 UTC on day 1 (due 06:00, back 40 min late: post on start).
    # Down 05:00-08:00 UTC on day 2 (due 06:00, back 2 h late: skip, no catch-up later).
    posted, skipped = _simulate(daily, start, 24, down=(utc(2026, 6, 1, 5, 30), utc(2026, 6, 1, 6, 40)))
    assert posted == [utc(2026, 6, 1, 6)] and skipped == []
    posted, skipped = _simulate(daily, start, 48, down=(utc(2026, 6, 2, 5), utc(2026, 6, 2, 8)))
    assert posted == [utc(2026, 6, 1, 6)]
    assert skipped == [utc(2026, 6, 2, 6)]


def test_two_workers_racing_on_one_row_post_once():
    daily = parse_schedule("daily", at="08:00", timezone=PARIS)
    row = _Row(utc(2026, 6, 1, 6))
    now = utc(2026, 6, 1, 6, 0, 30)
    seen_a, seen_b = row.due_at, row.due_at  # both read the row before either writes
    new_a = advance(daily, due_at=seen_a, now=now)
    new_b = advance(daily, due_at=seen_b, now=now + timedelta(seconds=5))
    assert new_a == new_b == utc(2026, 6, 2, 6)
    assert [row.compare_and_set(seen_a, new_a), row.compare_and_set(seen_b, new_b)] == [True, False]
    # The next tick sees the moved row: nothing due.
    assert decide_missed(row.due_at, now=now + timedelta(minutes=1)) == "not_due"


# --- time zone autocomplete ------------------------------------------------------------


def test_timezone_choices_prefix_first_then_substring():
    assert timezone_choices("europe/par")[0] == "Europe/Paris"
    assert timezone_choices("EUROPE/PA") == ["Europe/Paris"]
    assert "Europe/Paris" in timezone_choices("paris")
    assert timezone_choices("new york")[0] == "America/New_York"
    results = timezone_choices("an", limit=200)
    whole = [r for r in results if r.casefold().startswith("an")]
    assert whole and results[: len(whole)] == whole
    assert all("an" in r.casefold() for r in results)
    # Substring-only matches come last ("Asia/Tehran" contains "ran" in the middle of a word).
    ran = timezone_choices("ran", limit=500)
    kinds = [0 if r.casefold().startswith("ran") else 1 if "/ran" in r.casefold() else 2 for r in ran]
    assert kinds == sorted(kinds) and 2 in kinds
    assert timezone_choices("zzzz-not-a-zone") == []


def test_timezone_choices_limit_and_validity():
    zones = available_timezones()
    for query in ("", "a", "america", "utc", "gmt"):
        got = timezone_choices(query)
        assert 0 < len(got) <= 25
        assert len(set(got)) == len(got)
        assert set(got) <= zones
        for name in got:
            parse_schedule("daily", at="08:00", timezone=name)  # every choice is accepted
    assert timezone_choices("", limit=3) == ["UTC", "Europe/London", "Europe/Paris"]
    assert timezone_choices("america", limit=0) == []


def test_midnight_daily_does_not_skip_the_day_after_spring_forward():
    # A zone-aware apscheduler 3 CronTrigger jumps from 29 to 31 March here.
    midnight = parse_schedule("daily", at="00:00", timezone=PARIS)
    assert next_due_at(midnight, after=utc(2026, 3, 28, 23, 0)) == local(PARIS, 2026, 3, 30, 0, 0)
    assert next_due_at(midnight, after=utc(2026, 3, 28, 23, 0)) == utc(2026, 3, 29, 22, 0)
