"""Errors of digests: schedules a user typed that we cannot use."""

from __future__ import annotations

from bot.errors import NewsdeskError

__all__ = ["DigestError", "ScheduleError"]


class DigestError(NewsdeskError):
    """Root of the digest errors."""


class ScheduleError(DigestError, ValueError):
    """A digest schedule is invalid: an unknown time zone, a time like "25:00", a bad day or interval."""
