"""BatchingExecutor: jobs batched while the pool is busy, failures kept to their own job."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest

from bot.feeds.batching import BatchingExecutor, run_batch


def square_slowly(n: int) -> tuple[int, int]:
    """n squared, and the worker's pid; n < 0 fails."""
    if n < 0:
        raise ValueError(f"negative: {n}")
    time.sleep(0.01)
    return n * n, os.getpid()


def test_run_batch_keeps_each_jobs_outcome() -> None:
    outcomes = run_batch(square_slowly, [(2,), (-1,), (3,)])
    assert [ok for ok, _ in outcomes] == [True, False, True]
    assert outcomes[0][1][0] == 4 and outcomes[2][1][0] == 9
    assert isinstance(outcomes[1][1], ValueError)


async def test_results_reach_their_callers_through_a_process_pool() -> None:
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        batcher = BatchingExecutor(pool, square_slowly, slots=2)
        results = await asyncio.gather(*(batcher.run(n) for n in range(40)), return_exceptions=True)
    assert [r[0] for r in results] == [n * n for n in range(40)]  # type: ignore[index]
    assert len({pid for _, pid in results}) == 2  # type: ignore[misc]


async def test_a_busy_pool_gets_fewer_larger_batches() -> None:
    sent: list[int] = []

    def counting_batch(fn, jobs):  # type: ignore[no-untyped-def]
        sent.append(len(jobs))
        return run_batch(fn, jobs)

    with ThreadPoolExecutor(1) as pool:
        batcher = BatchingExecutor(pool, square_slowly, slots=1, max_batch=8)
        import bot.feeds.batching as batching

        original = batching.run_batch
        batching.run_batch = counting_batch  # the one seam: count what leaves for the pool
        try:
            results = await asyncio.gather(*(batcher.run(n) for n in range(20)))
        finally:
            batching.run_batch = original
    assert [r[0] for r in results] == [n * n for n in range(20)]
    # The first job leaves alone at once; the rest queue behind it and leave 8 at a time.
    assert sent == [1, 8, 8, 3]


async def test_a_failing_job_fails_alone() -> None:
    with ThreadPoolExecutor(2) as pool:
        batcher = BatchingExecutor(pool, square_slowly, slots=1)
        results = await asyncio.gather(*(batcher.run(n) for n in (1, -2, 3)), return_exceptions=True)
    assert results[0][0] == 1 and results[2][0] == 9  # type: ignore[index]
    assert isinstance(results[1], ValueError) and "negative: -2" in str(results[1])


async def test_a_broken_pool_fails_every_waiting_job() -> None:
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    batcher = BatchingExecutor(pool, os._exit, slots=1)  # the worker dies mid-batch
    results = await asyncio.gather(*(batcher.run(1) for _ in range(3)), return_exceptions=True)
    pool.shutdown(wait=False)
    assert all(isinstance(r, Exception) for r in results)


def test_slots_must_be_positive() -> None:
    with pytest.raises(ValueError):
        BatchingExecutor(None, square_slowly, slots=0)
