"""The time, as every service sees it: injectable so schedules can be tested in seconds."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class FileClock:
    """Reads "now" from a file holding an ISO 8601 time; the real time when the file is absent.

    Only for end-to-end tests of a running bot (``testing.clock_file``): the test
    writes a time into the file to move the bot's schedules forward.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __call__(self) -> datetime:
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return utcnow()
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            log.warning("ignoring unreadable clock file %s: %r", self.path, text[:40])
            return utcnow()
        return value if value.tzinfo else value.replace(tzinfo=UTC)


def clock_from(clock_file: str | None) -> Clock:
    return FileClock(clock_file) if clock_file else utcnow
