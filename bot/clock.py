"""The time, as every service sees it: injectable so schedules can be tested in seconds."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class FileClock:
    """The real time, shifted by a file: writing a time into it jumps "now" there.

    Only for end-to-end tests of a running bot (``testing.clock_file``). After a
    jump the clock keeps running, so everything timed by it (polls, leases,
    retries) goes on normally; without the file it is the real time.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._seen: tuple[float, timedelta] | None = None  # (file mtime, offset)

    def __call__(self) -> datetime:
        return utcnow() + self._offset()

    def _offset(self) -> timedelta:
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            return timedelta(0)
        if self._seen is not None and self._seen[0] == mtime:
            return self._seen[1]
        text = self.path.read_text(encoding="utf-8").strip()
        try:
            target = datetime.fromisoformat(text)
        except ValueError:
            log.warning("ignoring unreadable clock file %s: %r", self.path, text[:40])
            return timedelta(0)
        target = target if target.tzinfo else target.replace(tzinfo=UTC)
        # "Now" was `target` when the file was written; the clock runs on from there.
        offset = target - datetime.fromtimestamp(mtime, UTC)
        self._seen = (mtime, offset)
        return offset


def clock_from(clock_file: str | None) -> Clock:
    return FileClock(clock_file) if clock_file else utcnow
