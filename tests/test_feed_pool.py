"""The feed parsers' pool: a dead worker costs its own jobs, not the pool; a spinning parse
is cut short in the worker."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from bot.errors import FeedParseError
from bot.feeds import jobs
from bot.feeds.batching import BatchingExecutor
from bot.feeds.jobs import parse_with_keys
from bot.feeds.pool import RenewingProcessPool
from tests.feedserver import synthetic_feed

URL = "http://x/f.xml"


def die() -> None:
    """What a worker crashing in C looks like to the pool."""
    os.kill(os.getpid(), signal.SIGKILL)


def spin_then_parse(body: bytes, url: str) -> object:
    """A parse that never ends, cut short by the worker's time limit."""
    jobs.PARSE_TIME_LIMIT_S = 0.3  # this worker's copy only
    original = jobs.parse_for_posting

    def forever(*args: object) -> object:
        while True:
            time.sleep(0.01)
        return original(*args)  # pragma: no cover

    jobs.parse_for_posting = forever  # type: ignore[assignment]
    try:
        return parse_with_keys(body, url, None)
    finally:
        jobs.parse_for_posting = original


async def test_a_dead_worker_fails_its_job_and_the_next_jobs_run_on_a_new_pool() -> None:
    pool = RenewingProcessPool(1)
    loop = asyncio.get_running_loop()
    try:
        with pytest.raises(Exception, match="terminated abruptly"):
            await loop.run_in_executor(pool, die)
        parsed, keys = await loop.run_in_executor(pool, parse_with_keys, synthetic_feed(1), URL, None)
        assert len(parsed.entries) == 20 and len(keys) == 20
        assert pool.renewals == 1
    finally:
        pool.shutdown()


async def test_the_poller_batches_survive_a_dead_worker() -> None:
    pool = RenewingProcessPool(2)
    batcher = BatchingExecutor(pool, parse_with_keys, slots=2)
    try:
        await batcher.run(synthetic_feed(0), URL, None)  # the workers are up
        for pid in pool.worker_pids:  # the kernel kills them (memory, a crash)
            os.kill(pid, signal.SIGKILL)
        await asyncio.sleep(0.2)
        results = await asyncio.gather(
            *(batcher.run(synthetic_feed(n), URL, None) for n in range(6)), return_exceptions=True
        )
        ok = [r for r in results if not isinstance(r, BaseException)]
        assert ok, results  # the jobs after the first failing batch run on the new pool
        later = await batcher.run(synthetic_feed(9), URL, None)
        assert len(later[0].entries) == 20
    finally:
        pool.shutdown()


async def test_a_parse_that_spins_is_cut_short_in_the_worker() -> None:
    pool = RenewingProcessPool(1)
    loop = asyncio.get_running_loop()
    try:
        started = time.monotonic()
        with pytest.raises(FeedParseError, match=r"longer than 0\.3 seconds"):
            await loop.run_in_executor(pool, spin_then_parse, synthetic_feed(1), URL)
        assert time.monotonic() - started < 5
        # The worker is still fine.
        parsed, _ = await loop.run_in_executor(pool, parse_with_keys, synthetic_feed(2), URL, None)
        assert len(parsed.entries) == 20 and pool.renewals == 0
    finally:
        pool.shutdown()


def test_the_time_limit_is_left_alone_in_the_bots_own_process() -> None:
    # Signals belong to the bot's main thread; in-process parses (tests, thread pools) are not timed.
    parsed, _ = parse_with_keys(synthetic_feed(3), URL, None)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert len(parsed.entries) == 20
