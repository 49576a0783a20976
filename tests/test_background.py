"""The background loop every periodic job runs on: rounds, waking, errors with backoff, stopping."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.background import BackgroundLoop
from bot.errors import StorageError


class Job:
    """A step that records when it ran and does what the test queues for each round."""

    def __init__(self) -> None:
        self.started: list[float] = []
        self.finished = 0
        self.plan: list[BaseException | asyncio.Event | float | None] = []
        self.round_started = asyncio.Event()

    async def __call__(self) -> float | None:
        self.started.append(asyncio.get_running_loop().time())
        self.round_started.set()
        todo = self.plan.pop(0) if self.plan else None
        if isinstance(todo, BaseException):
            raise todo
        if isinstance(todo, asyncio.Event):
            await todo.wait()
            todo = None
        self.finished += 1
        return todo

    async def rounds(self, n: int, within_s: float = 5.0) -> None:
        async with asyncio.timeout(within_s):
            while len(self.started) < n:
                self.round_started.clear()
                await self.round_started.wait()


async def test_the_first_round_runs_at_once_then_every_interval() -> None:
    job = Job()
    loop = BackgroundLoop("job", job, interval_s=0.05)
    loop.start()
    try:
        await job.rounds(3)
    finally:
        await loop.close()
    gaps = [b - a for a, b in zip(job.started, job.started[1:], strict=False)]
    assert all(gap >= 0.045 for gap in gaps)


async def test_stop_lets_the_round_in_flight_finish() -> None:
    job = Job()
    release = asyncio.Event()
    job.plan = [release]
    loop = BackgroundLoop("job", job, interval_s=0.01)
    loop.start()
    await job.rounds(1)
    closing = asyncio.create_task(loop.close())
    await asyncio.sleep(0.05)
    assert not closing.done()  # it waits for the round...
    release.set()
    await asyncio.wait_for(closing, 5)
    assert job.finished == 1  # ... which finished rather than being cancelled
    assert len(job.started) == 1  # and no round starts after a stop
    assert not loop.running


@pytest.mark.allow_error_logs(r"job failed; trying again in .* \[RuntimeError: a bug\]")
async def test_a_failing_round_is_logged_and_the_loop_goes_on_after_a_backoff(
    caplog: pytest.LogCaptureFixture,
) -> None:
    job = Job()
    job.plan = [RuntimeError("a bug"), 0.0]
    loop = BackgroundLoop("job", job, interval_s=0.2)
    loop.start()
    try:
        await job.rounds(2)
        assert job.finished == 1
    finally:
        await loop.close()
    assert job.started[1] - job.started[0] >= 0.19  # after the backoff, not at once
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == ["job failed; trying again in 0 s"]
    assert errors[0].exc_info is not None  # with its traceback
    assert loop.failures == 0  # reset by the round that worked


async def test_failures_in_a_row_double_the_backoff_up_to_the_cap(caplog: pytest.LogCaptureFixture) -> None:
    job = Job()
    job.plan = [StorageError("database down")] * 4
    loop = BackgroundLoop("job", job, interval_s=0.01, max_backoff_s=0.05, quiet=(StorageError,))
    loop.start()
    try:
        await job.rounds(5)
    finally:
        await loop.close()
    warnings = [r for r in caplog.records if r.name == "bot.background"]
    # A quiet error: one line, no traceback, and the waits 10, 20, 40 ms, then the 50 ms cap.
    assert [r.levelno for r in warnings] == [logging.WARNING] * 4
    assert all(r.exc_info is None for r in warnings)
    assert [r.args[-1] for r in warnings] == pytest.approx([0.01, 0.02, 0.04, 0.05])  # type: ignore[index]
    assert warnings[0].getMessage().startswith("job failed: database down; trying again in")


async def test_wake_starts_the_next_round_at_once() -> None:
    job = Job()
    loop = BackgroundLoop("job", job, interval_s=60)
    loop.start()
    try:
        await job.rounds(1)
        loop.wake()
        await job.rounds(2, within_s=5)  # not after 60 s
    finally:
        await loop.close()


async def test_a_wake_during_a_round_starts_another_right_after_it() -> None:
    job = Job()
    release = asyncio.Event()
    job.plan = [release]
    loop = BackgroundLoop("job", job, interval_s=60)
    loop.start()
    try:
        await job.rounds(1)
        loop.wake()  # while the first round is still running
        release.set()
        await job.rounds(2, within_s=5)
    finally:
        await loop.close()


async def test_the_step_sets_the_wait_before_the_next_round() -> None:
    job = Job()
    job.plan = [0.0, 0.0]
    loop = BackgroundLoop("job", job, interval_s=60)
    loop.start()
    try:
        await job.rounds(3, within_s=5)  # two rounds asked for no wait: not 60 s
    finally:
        await loop.close()


async def test_stop_before_run_returns_at_once_and_run_twice_is_refused() -> None:
    job = Job()
    loop = BackgroundLoop("job", job, interval_s=60)
    loop.stop()
    await asyncio.wait_for(loop.run(), 1)
    assert job.started == []

    task = loop.start()
    await job.rounds(1)
    with pytest.raises(RuntimeError):
        await loop.run()
    await loop.close()
    assert task.done() and not loop.running
