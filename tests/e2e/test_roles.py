"""Process roles end to end: a gateway process and a worker process sharing PostgreSQL.

The gateway answers commands and runs no background work; the worker polls and posts over REST
without ever opening the gateway. On SQLite a second process is refused.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from tests import logcheck
from tests.conftest import empty_postgres
from tests.e2e.feed_support import FAST_POLLING, subscribe, titles, wait_until
from tests.e2e.harness import REPO_ROOT, Harness, bot_environment, merge, to_toml
from tests.feedserver import FeedServer, item

pytestmark = pytest.mark.e2e


class WorkerProcess:
    """``newsdesk run --role worker`` on a config of its own, beside the harness's bot."""

    def __init__(self, workdir: Path, config: dict[str, dict[str, Any]], name: str = "worker") -> None:
        self.config_path = workdir / f"{name}.toml"
        self.log_path = workdir / f"{name}.log"
        self.config_path.write_text(to_toml(config), encoding="utf-8")
        self.process: asyncio.subprocess.Process | None = None
        logcheck.watch_process_log(self.log_path)

    async def start(self, *extra: str) -> None:
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot.cli",
                "--config",
                str(self.config_path),
                "run",
                "--role",
                "worker",
                *extra,
                cwd=REPO_ROOT,
                env=bot_environment(),
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                stdin=asyncio.subprocess.DEVNULL,
            )

    async def wait(self, timeout_s: float = 30.0) -> int:
        assert self.process is not None
        return await asyncio.wait_for(self.process.wait(), timeout_s)

    async def kill(self) -> None:
        """SIGKILL: a crash, no cleanup."""
        process, self.process = self.process, None
        if process is not None and process.returncode is None:
            process.kill()
            await process.wait()

    async def stop(self) -> int | None:
        process, self.process = self.process, None
        if process is None or process.returncode is not None:
            return None if process is None else process.returncode
        process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:
            process.kill()
            return await process.wait()

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""


@pytest.fixture
async def pg_url(request: pytest.FixtureRequest) -> str:
    """An empty PostgreSQL database for this test (the ``db_url`` fixture's PostgreSQL case)."""
    return await empty_postgres(request.getfixturevalue("postgres_database"))


@pytest.fixture
def bot_config(request: pytest.FixtureRequest) -> dict[str, dict[str, Any]]:
    marker = request.node.get_closest_marker("bot_config")
    overrides = marker.args[0] if marker else {}
    if request.node.get_closest_marker("postgres"):
        url = request.getfixturevalue("pg_url")
        overrides = merge(overrides, {"database": {"url": url}, "run": {"roles": "gateway"}})
    return merge(dict(FAST_POLLING), overrides)


@pytest.mark.postgres
async def test_a_worker_posts_without_a_gateway_and_the_gateway_runs_no_background_work(
    newsdesk: Harness, feeds: FeedServer, tmp_path: Path
) -> None:
    feed = feeds.add_feed("/news.xml", title="Local News", items=[item(2), item(1)])
    news = newsdesk.emu.default.news
    worker = WorkerProcess(tmp_path, newsdesk.config())
    await worker.start()
    try:
        await subscribe(newsdesk, feeds.url("/news.xml"), news)
        await wait_until(lambda: titles(newsdesk, news) == ["Story 2"], what="the newest item, by the worker")

        # The gateway goes away: the worker alone goes on polling and posting.
        await newsdesk.stop_bot()
        feed.publish(item(3), item(4))
        await wait_until(
            lambda: titles(newsdesk, news) == ["Story 2", "Story 3", "Story 4"],
            timeout_s=30,
            what="new items posted with no gateway process",
        )
    finally:
        assert await worker.stop() == 0, worker.log()[-3000:]

    assert newsdesk.emu.gateway.identifies == 1, "only the gateway process opens the gateway"
    gateway_log = newsdesk.log_path.read_text(encoding="utf-8")
    assert "starting roles=gateway" in gateway_log
    assert "feed poll" not in gateway_log and "outbox" not in gateway_log
    assert "starting roles=worker" in worker.log()
    assert "feed poll:" in worker.log()  # what the gateway's log must not show


@pytest.mark.postgres
@pytest.mark.bot_config({"run": {"takeover_s": 6}})
async def test_a_worker_killed_mid_poll_has_its_feed_taken_over_within_the_bound(
    newsdesk: Harness, feeds: FeedServer, tmp_path: Path
) -> None:
    feed = feeds.add_feed("/news.xml", title="Local News", items=[item(1)])
    news = newsdesk.emu.default.news
    first = WorkerProcess(tmp_path, newsdesk.config(), name="first")
    second = WorkerProcess(tmp_path, newsdesk.config(), name="second")
    await first.start()
    try:
        await subscribe(newsdesk, feeds.url("/news.xml"), news)
        await wait_until(lambda: titles(newsdesk, news) == ["Story 1"], what="the first post")

        # The first worker's next check hangs, holding the feed's lease (15 minutes long) ...
        feeds.slow("/news.xml", 120)
        feed.publish(item(2))
        await wait_until(lambda: feeds.in_flight > 0, what="a check in flight")
        await second.start()
        await first.kill()  # ... when it dies
        feeds.heal("/news.xml")

        # The second worker takes the feed over once the first's heartbeat expires (6 s).
        await wait_until(
            lambda: titles(newsdesk, news) == ["Story 1", "Story 2"],
            timeout_s=40,
            what="the dead worker's feed checked by the other",
        )
    finally:
        await first.kill()
        assert await second.stop() == 0, second.log()[-3000:]
    assert "starting roles=worker" in second.log()


async def test_a_second_process_on_sqlite_is_refused(newsdesk: Harness, tmp_path: Path) -> None:
    worker = WorkerProcess(tmp_path, newsdesk.config())
    await worker.start()
    code = await worker.wait()
    assert code == 1
    assert "SQLite is for one process" in worker.log()
    assert newsdesk.running  # the first process is untouched
    result = await newsdesk.invoke("feed list", {}, user=newsdesk.admin)
    assert "No feeds yet" in result.text


async def test_a_restart_after_kill_is_not_refused_on_sqlite(newsdesk: Harness) -> None:
    await newsdesk.kill_bot()
    await newsdesk.start_bot()  # its old row looks alive for run.takeover_s, but its pid is gone
    result = await newsdesk.invoke("feed list", {}, user=newsdesk.admin)
    assert "No feeds yet" in result.text
