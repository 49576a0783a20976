"""End-to-end fixtures: ``newsdesk`` (emulator + ``newsdesk run`` subprocess).

Per-test config overrides: ``@pytest.mark.bot_config({"commands": {"manager_role": "manager"}})``;
emulator options: ``@pytest.mark.emulator(rate_limits=RateLimitConfig(...), interaction_deadline_s=3.0)``.

    async def test_fetch(newsdesk: Harness) -> None:
        result = await newsdesk.invoke("fetch", {"url": url}, user=newsdesk.member)
        assert result.ephemeral and "not a valid link" in result.text

A failing test gets the emulator's requests, gateway frames, messages and the
bot's log tail appended to its report.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import Harness, harness
from tests.emulator import Emulator
from tests.feedserver import FeedServer


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "bot_config(overrides): config sections merged into the e2e bot's TOML"
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
    if report.failed and report.when in ("setup", "call"):
        for value in getattr(item, "funcargs", {}).values():
            describe = getattr(value, "failure_report", None)
            if callable(describe):
                try:
                    report.sections.append(("what the Discord emulator saw", describe()))
                except Exception as e:  # a broken report must not hide the test's own failure
                    report.sections.append(("what the Discord emulator saw", f"(report failed: {e!r})"))


@pytest.fixture
def bot_config(request: pytest.FixtureRequest) -> dict[str, dict[str, Any]]:
    """Overrides for the bot's config; a test may also override this fixture."""
    marker = request.node.get_closest_marker("bot_config")
    return dict(marker.args[0]) if marker else {}


@pytest.fixture
async def feeds() -> AsyncIterator[FeedServer]:
    """A local feed server (RSS, Atom, conditional GET, faults on demand)."""
    async with FeedServer() as server:
        yield server


@pytest.fixture
def emulator_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    marker = request.node.get_closest_marker("emulator")
    return dict(marker.kwargs) if marker else {}


@pytest.fixture
async def newsdesk(
    tmp_path: Path, bot_config: dict[str, dict[str, Any]], emulator_options: dict[str, Any]
) -> AsyncIterator[Harness]:
    """The emulator with ``newsdesk run`` connected to it, ready and with its commands synced."""
    async with harness(tmp_path, bot_config, Emulator(**emulator_options)) as h:
        yield h
