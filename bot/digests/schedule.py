"""When a channel's digest is due. Pure: every function takes the current time as an argument.

Each schedule is stored as a row of ours with its next due time; one apscheduler job (the "tick")
looks for due rows. apscheduler's own job store is not used: it is synchronous and not safe with
several processes. Per due row the caller does::

    action = decide_missed(row.due_at, now=now)
    if action != "not_due":
        new_due = advance(schedule, due_at=row.due_at, now=now)
        # compare-and-set: UPDATE ... SET due_at = new_due WHERE id = ? AND due_at = row.due_at
        if updated and action == "post":
            post the digest            # a lost race or a crash after the update never posts twice
        elif updated:
            log the skipped digest

Due times come from apscheduler 3. Its ``CronTrigger`` is wrong across DST changes when given a
time zone: it skips days (a daily 00:00 in Europe/Paris jumps from 29 to 31 March), returns a
repeated wall time twice and then loops inside the repeated hour. So cron schedules run on
*wall-clock* time, a ``CronTrigger`` in UTC (which has no DST) fed the local wall time, and the
wall times are placed in the zone with ``zoneinfo``:

* a wall time that does not exist (the skipped hour) takes the offset before the change, so
  02:30 on a spring-forward night fires at 03:30 new time, once;
* a wall time that happens twice (the repeated hour) fires at its first occurrence only, except
  for an hourly schedule, where the second one is a different hour and fires too.

Intervals that do not divide a day ("every 5 hours") use ``IntervalTrigger``, which counts real
time and is right across DST.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.digests.errors import ScheduleError

__all__ = [
    "DAY_NAMES",
    "DigestSchedule",
    "MissedAction",
    "ScheduleKind",
    "advance",
    "decide_missed",
    "next_due_at",
    "parse_schedule",
    "timezone_choices",
]

ScheduleKind = Literal["daily", "weekly", "every_hours"]
_KINDS: dict[str, ScheduleKind] = {"daily": "daily", "weekly": "weekly", "every_hours": "every_hours"}
MissedAction = Literal["post", "skip", "not_due"]

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_CRON_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Longest interval for ``every_hours``: a week (a weekly schedule covers anything rarer).
MAX_EVERY_HOURS = 168
#: A fixed Monday: non-divisors of 24 ("every 5 hours") count from here, at the schedule's time.
_INTERVAL_EPOCH = (2024, 1, 1)
_TIME = re.compile(r"^\s*(\d{1,2})(?:[:h.](\d{2}))?\s*$", re.I)


@dataclass(frozen=True, slots=True)
class DigestSchedule:
    """When a channel gets its digest. Build it with :func:`parse_schedule` from user input."""

    #: ``daily``, ``weekly`` or ``every_hours``.
    kind: ScheduleKind
    #: Local time of day (for ``every_hours``: the anchor, e.g. 02:00 with 6 h gives 02, 08, 14, 20).
    hour: int = 8
    minute: int = 0
    #: ``weekly`` only: 0 = Monday ... 6 = Sunday.
    day_of_week: int | None = None
    #: ``every_hours`` only: the interval in hours (1 to 168).
    every_hours: int | None = None
    #: IANA time zone name, canonical spelling ("Europe/Paris").
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if self.kind not in ("daily", "weekly", "every_hours"):
            raise ScheduleError(f"Unknown schedule kind {self.kind!r}: use daily, weekly or every_hours.")
        if not (0 <= self.hour <= 23 and 0 <= self.minute <= 59):
            raise ScheduleError(f"{self.hour:02d}:{self.minute:02d} is not a valid time of day.")
        if self.kind == "weekly":
            if self.day_of_week is None or not 0 <= self.day_of_week <= 6:
                raise ScheduleError("A weekly digest needs a day of the week.")
        elif self.day_of_week is not None:
            raise ScheduleError("Only a weekly digest takes a day of the week.")
        if self.kind == "every_hours":
            if self.every_hours is None or not 1 <= self.every_hours <= MAX_EVERY_HOURS:
                raise ScheduleError(f"The interval must be between 1 and {MAX_EVERY_HOURS} hours.")
        elif self.every_hours is not None:
            raise ScheduleError("Only an every_hours digest takes an interval.")
        if self.timezone != _canonical_timezone(self.timezone):
            raise ScheduleError(f"Use the canonical time zone name {_canonical_timezone(self.timezone)!r}.")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def describe(self) -> str:
        """For humans: "every day at 08:00 (Europe/Paris)"."""
        at = f"{self.hour:02d}:{self.minute:02d}"
        if self.kind == "daily":
            return f"every day at {at} ({self.timezone})"
        if self.kind == "weekly":
            assert self.day_of_week is not None
            return f"every {DAY_NAMES[self.day_of_week]} at {at} ({self.timezone})"
        if self.every_hours == 1:
            return f"every hour at :{self.minute:02d} ({self.timezone})"
        return f"every {self.every_hours} hours from {at} ({self.timezone})"


def parse_schedule(
    kind: str,
    at: str | None = None,
    day: str | int | None = None,
    hours: int | str | None = None,
    timezone: str = "UTC",
) -> DigestSchedule:
    """A schedule from user input; raises ScheduleError with a message fit to show the user.

    ``at`` is "HH:MM" (also "8", "8:30", "08h30"); ``day`` a day name, its first three letters or
    0-6 (Monday = 0); ``hours`` the interval of ``every_hours``. The time zone name is
    case-insensitive and stored in its canonical spelling.
    """
    kind_key = _KINDS.get(kind.strip().lower().replace("-", "_").replace(" ", "_"))
    if kind_key is None:
        raise ScheduleError(f"Unknown schedule kind {kind!r}: use daily, weekly or every_hours.")
    if at is not None:
        hour, minute = _parse_time(at)
    elif kind_key == "every_hours":
        hour, minute = 0, 0
    else:
        raise ScheduleError("Give the time of day, like 08:00.")
    if kind_key != "weekly":
        _reject(day, "a day of the week")
    if kind_key != "every_hours":
        _reject(hours, "an interval")
    return DigestSchedule(
        kind=kind_key,
        hour=hour,
        minute=minute,
        day_of_week=_parse_day(day) if kind_key == "weekly" else None,
        every_hours=_parse_hours(hours) if kind_key == "every_hours" else None,
        timezone=_canonical_timezone(timezone),
    )


def next_due_at(schedule: DigestSchedule, *, after: datetime) -> datetime:
    """The first due time strictly after ``after`` (timezone-aware), in UTC."""
    after = _aware_utc(after, "after")
    hours = schedule.every_hours
    if hours is not None and 24 % hours != 0:
        return _next_interval(schedule, hours, after)
    return _next_wall_clock(schedule, after)


def decide_missed(due_at: datetime, *, now: datetime, grace_s: float = 3600) -> MissedAction:
    """What to do with a row due at ``due_at``: post it, skip it (too late), or wait.

    A digest that fell due while the bot was down is posted on start if at most ``grace_s`` late,
    otherwise skipped: yesterday's morning digest at teatime is noise. The caller logs a skip.
    """
    due_at = _aware_utc(due_at, "due_at")
    now = _aware_utc(now, "now")
    if now < due_at:
        return "not_due"
    if (now - due_at).total_seconds() <= grace_s:
        return "post"
    return "skip"


def advance(schedule: DigestSchedule, *, due_at: datetime, now: datetime) -> datetime:
    """The row's next due time once ``due_at`` is handled (posted or skipped).

    Strictly after both ``due_at`` and ``now``: after an outage, every missed occurrence is
    jumped over at once instead of being skipped one by one.
    """
    due_at = _aware_utc(due_at, "due_at")
    now = _aware_utc(now, "now")
    return next_due_at(schedule, after=max(due_at, now))


def timezone_choices(query: str, limit: int = 25) -> list[str]:
    """Time zone names for autocomplete: prefix matches first, then substring; case-insensitive.

    A prefix of any part counts as a prefix ("par" finds "Europe/Paris"), and a space matches "_"
    ("new york"). An empty query offers the most used zones.
    """
    if limit <= 0:
        return []
    needle = query.strip().casefold().replace(" ", "_")
    names = _timezone_names()
    if not needle:
        return [name for name in _COMMON_ZONES if name in _timezone_lookup().values()][:limit]
    whole: list[str] = []
    part: list[str] = []
    inside: list[str] = []
    for name in names:
        folded = name.casefold()
        if folded.startswith(needle):
            whole.append(name)
        elif any(p.startswith(needle) for p in folded.split("/")[1:]):
            part.append(name)
        elif needle in folded:
            inside.append(name)
    return (whole + part + inside)[:limit]


# --- parsing helpers ------------------------------------------------------


def _parse_time(text: str) -> tuple[int, int]:
    match = _TIME.match(text)
    if not match:
        raise ScheduleError(f"{text!r} is not a time of day: use HH:MM, like 08:00.")
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    if hour > 23 or minute > 59:
        raise ScheduleError(f"{text.strip()} is not a valid time of day: use 00:00 to 23:59.")
    return hour, minute


def _parse_day(day: str | int | None) -> int:
    if day is None:
        raise ScheduleError("A weekly digest needs a day of the week, like Monday.")
    if isinstance(day, int) and not isinstance(day, bool):
        if 0 <= day <= 6:
            return day
        raise ScheduleError(f"{day} is not a day of the week: use 0 (Monday) to 6 (Sunday).")
    key = str(day).strip().casefold()
    for index, name in enumerate(DAY_NAMES):
        if key and (key == name.casefold() or (len(key) >= 3 and name.casefold().startswith(key))):
            return index
    raise ScheduleError(f"{day!r} is not a day of the week: use a name like Monday.")


def _parse_hours(hours: int | str | None) -> int:
    if hours is None:
        raise ScheduleError("Give the interval in hours, like 6.")
    try:
        value = int(str(hours).strip().removesuffix("h"))
    except ValueError as e:
        raise ScheduleError(f"{hours!r} is not a number of hours.") from e
    if not 1 <= value <= MAX_EVERY_HOURS:
        raise ScheduleError(f"The interval must be between 1 and {MAX_EVERY_HOURS} hours, not {value}.")
    return value


def _reject(value: object, what: str) -> None:
    if value is not None:
        raise ScheduleError(f"This kind of schedule does not take {what}.")


# --- time zones -------------------------------------------------------------

_COMMON_ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
)


@cache
def _timezone_lookup() -> dict[str, str]:
    """Case-folded name -> canonical name, for every zone zoneinfo can load."""
    names = (name for name in available_timezones() if not name.startswith(("posix/", "right/")))
    return {name.casefold(): name for name in names}


@cache
def _timezone_names() -> tuple[str, ...]:
    return tuple(sorted(_timezone_lookup().values()))


def _canonical_timezone(name: str) -> str:
    key = name.strip()
    canonical = _timezone_lookup().get(key.casefold())
    if canonical is None:
        raise ScheduleError(f"Unknown time zone {name!r}: use an IANA name like Europe/Paris.")
    try:
        ZoneInfo(canonical)
    except (ZoneInfoNotFoundError, ValueError) as e:  # pragma: no cover - listed but unloadable
        raise ScheduleError(f"Time zone {name!r} cannot be loaded.") from e
    return canonical


# --- due time computation ---------------------------------------------------------

#: More than any zone's DST shift (2 h at most): how far wall time and UTC order can disagree.
_SLACK = timedelta(hours=3)


@lru_cache(maxsize=1024)
def _wall_trigger(schedule: DigestSchedule) -> CronTrigger:
    """The schedule as a cron on wall-clock time (labelled UTC, so no DST arithmetic happens)."""
    if schedule.kind == "daily":
        return CronTrigger(hour=schedule.hour, minute=schedule.minute, timezone=UTC)
    if schedule.kind == "weekly":
        assert schedule.day_of_week is not None
        day = _CRON_DAYS[schedule.day_of_week]
        return CronTrigger(day_of_week=day, hour=schedule.hour, minute=schedule.minute, timezone=UTC)
    hours = schedule.every_hours
    assert hours is not None and 24 % hours == 0
    # Divisors of 24 keep to the same wall-clock times every day (00, 06, 12, 18), DST or not.
    return CronTrigger(hour=f"{schedule.hour % hours}-23/{hours}", minute=schedule.minute, timezone=UTC)


def _next_wall_clock(schedule: DigestSchedule, after: datetime) -> datetime:
    tz = schedule.tz
    trigger = _wall_trigger(schedule)
    keep_repeats = schedule.every_hours == 1
    # Wall order and real order disagree near a DST change (02:30 in the skipped hour is later
    # than 03:10 new time), so look at wall times from a little before `after` and keep the
    # earliest real instant, until the wall times are too far on to be earlier.
    # Away from a change (nearly always) the first wall time after `after` is the answer.
    cursor = _wall(after, tz) - (timedelta(0) if _steady(after, tz) else _SLACK)
    best: datetime | None = None
    horizon: datetime | None = None
    for _ in range(1000):
        wall = trigger.get_next_fire_time(None, cursor)
        if wall is None:  # pragma: no cover - our triggers have no end date
            raise ScheduleError("This schedule never fires.")
        if best is not None and horizon is not None and wall > horizon:
            return best  # the horizon is set only once a best instant was found
        for instant in _instants(wall, tz, keep_repeats):
            if instant > after and (best is None or instant < best):
                best = instant
        if best is not None and horizon is None:
            if _steady(best, tz):
                return best
            horizon = wall + _SLACK
        cursor = wall + timedelta(microseconds=1)
    raise RuntimeError(f"no due time found for {schedule!r} after {after.isoformat()}")  # pragma: no cover


def _next_interval(schedule: DigestSchedule, hours: int, after: datetime) -> datetime:
    tz = schedule.tz
    # Anchored at a fixed date, so a restart does not shift the grid.
    anchor = datetime(*_INTERVAL_EPOCH, schedule.hour, schedule.minute, tzinfo=tz)
    trigger = IntervalTrigger(hours=hours, start_date=anchor, timezone=tz)
    fire: datetime | None = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    if fire is None:  # pragma: no cover - no end date
        raise ScheduleError("This schedule never fires.")
    return fire.astimezone(UTC)


def _steady(moment: datetime, tz: ZoneInfo) -> bool:
    """Whether the zone's UTC offset is the same for ``_SLACK`` on either side of ``moment``."""
    return (moment - _SLACK).astimezone(tz).utcoffset() == (moment + _SLACK).astimezone(tz).utcoffset()


def _wall(moment: datetime, tz: ZoneInfo) -> datetime:
    """The local wall-clock time of ``moment``, labelled UTC (the cron triggers' time line)."""
    return moment.astimezone(tz).replace(tzinfo=UTC, fold=0)


def _instants(wall: datetime, tz: ZoneInfo, keep_repeats: bool) -> list[datetime]:
    """The real instants of a wall time: one, or two in a repeated hour if ``keep_repeats``."""
    first = wall.replace(tzinfo=tz, fold=0)
    # fold=0 is the first occurrence of a repeated time; in a skipped hour it is the offset
    # before the change (02:30 -> 03:30 new time).
    out = [first.astimezone(UTC)]
    second = wall.replace(tzinfo=tz, fold=1)
    offset_first, offset_second = first.utcoffset(), second.utcoffset()
    repeated = offset_first is not None and offset_second is not None and offset_first > offset_second
    if keep_repeats and repeated:
        out.append(second.astimezone(UTC))
    return out


# --- time helpers -------------------------------------------------------------


def _aware_utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(UTC)
