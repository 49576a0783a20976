"""The autouse check of tests/conftest.py: an unexpected ERROR log fails the test that logged it."""

from __future__ import annotations

import pytest

from tests import logcheck

pytest_plugins = ["pytester"]

# The inner session uses this suite's own fixture and marker.
CONFTEST = "from tests.conftest import _no_unexpected_error_logs  # noqa: F401\n"
INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
markers =
    allow_error_logs(*patterns): expected ERROR records
"""

TESTS = """
import asyncio
import logging
from pathlib import Path

import pytest

from tests import logcheck

log = logging.getLogger("bot.delivery.dispatcher")


def test_warning_is_fine():
    log.warning("retrying in 30s")


def test_error_fails():
    log.error("outbox channel=1: delivery stopped")


async def test_exception_in_a_task_fails():
    try:
        raise AttributeError("'bool' object has no attribute 'id'")
    except AttributeError:
        log.exception("outbox channel=2: delivery stopped")


@pytest.mark.allow_error_logs("on_channel_unavailable failed")
def test_expected_error_passes():
    log.error("outbox channel=3: on_channel_unavailable failed")


@pytest.mark.allow_error_logs("on_channel_unavailable failed")
def test_only_the_expected_error_is_allowed():
    log.error("outbox channel=3: on_channel_unavailable failed")
    log.critical("outbox channel=4: delivery stopped")


@pytest.mark.allow_error_logs
def test_any_error_allowed():
    log.error("anything")


def test_error_line_in_a_bot_log_fails(tmp_path):
    path = tmp_path / "bot.log"
    path.write_text(
        "2026-12-07 12:00:00 INFO    bot.delivery.dispatcher: outbox row=1 attempt 1 failed, retrying\\n"
        "2026-12-07 12:00:00 ERROR   bot.delivery.dispatcher: outbox channel=1: delivery stopped\\n"
        "Traceback (most recent call last):\\n"
    )
    logcheck.watch_process_log(path)
"""


@pytest.mark.allow_error_logs  # the inner session's records are logged in this process too
def test_unexpected_error_records_fail_the_test_and_expected_ones_do_not(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makeini(INI)
    pytester.makepyfile(test_inner=TESTS)
    reports = _by_test(pytester.inline_run("-p", "no:cacheprovider"))
    assert {name: r.outcome for name, r in reports.items()} == {
        "test_warning_is_fine": "passed",
        "test_error_fails": "failed",
        "test_exception_in_a_task_fails": "failed",
        "test_expected_error_passes": "passed",
        "test_only_the_expected_error_is_allowed": "failed",
        "test_any_error_allowed": "passed",
        "test_error_line_in_a_bot_log_fails": "failed",
    }
    why = {name: r.longreprtext for name, r in reports.items()}
    assert "ERROR bot.delivery.dispatcher: outbox channel=1: delivery stopped" in why["test_error_fails"]
    assert "[AttributeError: 'bool' object has no attribute 'id']" in why["test_exception_in_a_task_fails"]
    only = why["test_only_the_expected_error_is_allowed"]
    assert "CRITICAL bot.delivery.dispatcher: outbox channel=4" in only and "channel=3" not in only
    assert "bot.log: 2026-12-07 12:00:00 ERROR   bot.delivery" in why["test_error_line_in_a_bot_log_fails"]


def _by_test(recorder: pytest.HookRecorder) -> dict[str, pytest.TestReport]:
    """Each test's report: its teardown's when the check failed it there, else its call's."""
    by_test: dict[str, pytest.TestReport] = {}
    for report in recorder.getreports("pytest_runtest_logreport"):
        name = report.nodeid.split("::")[-1]
        if (report.when == "call" and name not in by_test) or (report.when == "teardown" and report.failed):
            by_test[name] = report
    return by_test


def test_bot_log_lines_in_text_and_json_format() -> None:
    assert logcheck.is_error_line("2026-12-07 12:00:00 ERROR   newsdesk: crashed")
    assert logcheck.is_error_line("2026-12-07 12:00:00 CRITICAL newsdesk: crashed")
    assert not logcheck.is_error_line("2026-12-07 12:00:00 WARNING newsdesk: ERROR in a feed title")
    assert not logcheck.is_error_line("ERROR: not a log record line")
    assert logcheck.is_error_line('{"time": "x", "level": "ERROR", "logger": "a", "message": "b"}')
    assert not logcheck.is_error_line('{"time": "x", "level": "INFO", "logger": "a", "message": "ERROR"}')
    assert not logcheck.is_error_line("{not json")
