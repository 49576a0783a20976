"""Unexpected ERROR logs fail tests: the check behind the autouse fixture in tests/conftest.py.

A retry that logs a traceback while the post still goes out passes every assertion; this
check makes it fail. In-process records come from pytest's ``caplog``; a process a test
starts (the e2e bot) registers its log file with :func:`watch_process_log`. A test that
expects errors says so: ``@pytest.mark.allow_error_logs`` allows any,
``@pytest.mark.allow_error_logs("regex", ...)`` only those whose line matches one of them.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

#: A record line of bot.logs' text format: "2026-12-07 12:00:00 ERROR   bot.x: message".
_TEXT_ERROR = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (?:ERROR|CRITICAL) ")

_process_logs: list[Path] = []


def watch_process_log(path: Path) -> None:
    """Check ``path`` (a child process's log) for ERROR lines at the end of the current test."""
    if path not in _process_logs:
        _process_logs.append(path)


def reset() -> None:
    """Forget the logs watched by an earlier test."""
    _process_logs.clear()


def describe(record: logging.LogRecord) -> str:
    """One line for a record: level, logger, message, and the exception it carries."""
    line = f"{record.levelname} {record.name}: {record.getMessage()}"
    if record.exc_info and record.exc_info[1] is not None:
        error = record.exc_info[1]
        line += f" [{type(error).__name__}: {error}]"
    return line


def is_error_line(line: str) -> bool:
    """Whether a line of a bot log (text or JSON format) is an ERROR or CRITICAL record."""
    if _TEXT_ERROR.match(line):
        return True
    if line.startswith("{"):
        try:
            entry = json.loads(line)
        except ValueError:
            return False
        return isinstance(entry, dict) and entry.get("level") in ("ERROR", "CRITICAL")
    return False


def process_errors() -> list[str]:
    """The ERROR lines of the watched process logs."""
    found: list[str] = []
    for path in _process_logs:
        if path.exists():
            text = path.read_text(encoding="utf-8", errors="replace")
            found += [f"{path.name}: {line}" for line in text.splitlines() if is_error_line(line)]
    return found


def unexpected(lines: Iterable[str], allowed: Sequence[str]) -> list[str]:
    """The lines no pattern of ``allowed`` matches (``re.search``)."""
    patterns = [re.compile(p) for p in allowed]
    return [line for line in lines if not any(p.search(line) for p in patterns)]
