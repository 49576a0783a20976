"""ProcessPool: calls run in worker processes, batched while the workers are busy; a failing
call fails alone; a dead, spinning or stuck worker costs only the call that broke it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time

import pytest

from bot.errors import WorkerCrashedError, WorkerError, WorkerTimeoutError, WorkerUnavailableError
from bot.workers import ProcessPool
from bot.workers import pool as pool_module
from tests import workerfns


def fn(name: str) -> str:
    return f"tests.workerfns:{name}"


async def test_calls_run_in_the_worker_processes() -> None:
    async with ProcessPool(fn("nap"), 2, time_limit_s=5) as pool:
        pids = set(await asyncio.gather(*(pool.run(0.05) for _ in range(8))))
        assert pids == pool.worker_pids and len(pids) == 2
        assert os.getpid() not in pids


async def test_calls_wait_for_a_busy_worker_and_leave_together() -> None:
    async with ProcessPool(fn("square"), 1, time_limit_s=5) as pool:
        results = await asyncio.gather(*(pool.run(n) for n in range(40)))
        assert results == [n * n for n in range(40)]
        # The first two go at once, alone (one running, one queued); the rest in batches.
        assert pool.batches_sent <= 2 + -(-38 // pool_module.MAX_BATCH) + 1


async def test_a_failing_call_fails_alone_in_its_batch() -> None:
    async with ProcessPool("tests.workerfns:dispatch", 1, time_limit_s=5) as pool:
        busy = [pool.run("nap", 0.2), pool.run("square", 1)]  # running, and queued behind it
        batch = [pool.run("square", 2), pool.run("fail", "bad input"), pool.run("square", 3)]
        sent_before = pool.batches_sent
        results = await asyncio.gather(*busy, *batch, return_exceptions=True)
        assert results[1:3] == [1, 4] and results[4] == 9
        assert isinstance(results[3], ValueError) and str(results[3]) == "bad input"
        assert pool.batches_sent - sent_before == 3  # the three waiting calls left as one


async def test_errors_come_back_with_their_type_and_message() -> None:
    async with ProcessPool(fn("fail"), 1, time_limit_s=5) as pool:
        results = await asyncio.gather(*(pool.run(f"bad {n}") for n in range(5)), return_exceptions=True)
    assert [str(e) for e in results] == [f"bad {n}" for n in range(5)]
    assert all(type(e) is ValueError for e in results)


async def test_an_error_that_cannot_be_pickled_comes_back_as_a_worker_error() -> None:
    async with ProcessPool(fn("fail_unpicklably"), 1, time_limit_s=5) as pool:
        with pytest.raises(WorkerError, match="_Unpicklable: cannot travel"):
            await pool.run()


@pytest.mark.allow_error_logs("died")
async def test_a_worker_that_dies_costs_only_the_call_that_killed_it() -> None:
    async with ProcessPool("tests.workerfns:dispatch", 1, time_limit_s=5) as pool:
        first_pid = next(iter(pool.worker_pids))
        busy = asyncio.ensure_future(pool.run("nap", 0.3))
        await asyncio.sleep(0)
        queued = asyncio.ensure_future(pool.run("square", 1))
        await asyncio.sleep(0)
        # These wait for a free slot and leave as one batch, which the worker dies on.
        batch = [pool.run("square", 2), pool.run("die"), pool.run("square", 3)]
        results = await asyncio.gather(busy, queued, *batch, return_exceptions=True)
        assert results[0] == first_pid and results[1] == 1
        assert results[2] == 4 and results[4] == 9
        assert isinstance(results[3], WorkerCrashedError)
        # The pool is whole again, on new processes.
        assert await pool.run("square", 5) == 25
        assert len(pool.worker_pids) == 1 and first_pid not in pool.worker_pids


@pytest.mark.allow_error_logs("exited")
async def test_a_worker_killed_while_idle_is_replaced_before_it_gets_a_call() -> None:
    async with ProcessPool(fn("pid"), 1, time_limit_s=5) as pool:
        (old,) = pool.worker_pids
        os.kill(old, signal.SIGKILL)
        await asyncio.sleep(0.3)
        new = await pool.run()
        assert new != old and pool.worker_pids == {new}


async def test_a_spinning_call_is_interrupted_and_the_worker_kept() -> None:
    async with ProcessPool("tests.workerfns:dispatch", 1, time_limit_s=0.3) as pool:
        (pid,) = pool.worker_pids
        started = time.monotonic()
        with pytest.raises(WorkerTimeoutError, match=r"longer than 0\.3 seconds"):
            await pool.run("spin")
        assert time.monotonic() - started < 3
        assert await pool.run("pid") == pid


@pytest.mark.allow_error_logs("stuck past its time limit")
async def test_a_call_stuck_out_of_the_timers_reach_gets_its_worker_killed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pool_module, "KILL_GRACE_S", 0.3)
    async with ProcessPool("tests.workerfns:dispatch", 1, time_limit_s=0.2) as pool:
        (pid,) = pool.worker_pids
        started = time.monotonic()
        with pytest.raises(WorkerTimeoutError):
            await pool.run("stuck")
        assert time.monotonic() - started < 3
        assert await pool.run("square", 4) == 16
        assert pid not in pool.worker_pids
        await asyncio.sleep(0.2)
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # really gone


async def test_a_worker_running_only_abandoned_calls_is_replaced_not_waited_for() -> None:
    async with ProcessPool("tests.workerfns:dispatch", 1, time_limit_s=30) as pool:
        (pid,) = pool.worker_pids
        call = asyncio.ensure_future(pool.run("nap", 20))
        await asyncio.sleep(0.2)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        started = time.monotonic()
        assert await pool.run("square", 3) == 9
        assert time.monotonic() - started < 5
        assert pid not in pool.worker_pids


async def test_closing_fails_what_is_pending_and_stops_the_workers() -> None:
    pool = ProcessPool(fn("nap"), 1, time_limit_s=5)
    await pool.start()
    (pid,) = pool.worker_pids
    pending = [asyncio.ensure_future(pool.run(5)) for _ in range(3)]
    await asyncio.sleep(0.1)
    await pool.close()
    for call in pending:
        with pytest.raises(WorkerUnavailableError):
            await call
    with pytest.raises(WorkerUnavailableError):
        await pool.run(0)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_a_function_that_cannot_be_loaded_means_no_worker() -> None:
    pool = ProcessPool("tests.no_such_module:nothing", 1, time_limit_s=5, start_timeout_s=10)
    with pytest.raises(WorkerUnavailableError):
        await pool.start()
    await pool.close()


async def test_calls_made_while_the_workers_start_wait_for_them() -> None:
    async with contextlib.AsyncExitStack() as stack:
        pool = ProcessPool(fn("pid"), 2, time_limit_s=5)
        stack.push_async_callback(pool.close)
        pids = await asyncio.gather(*(pool.run() for _ in range(6)))  # the first starts the pool
        assert set(pids) <= pool.worker_pids and len(pool.worker_pids) == 2  # not 2 per call


async def test_calls_made_while_the_workers_fail_to_start_fail_too() -> None:
    pool = ProcessPool("tests.no_such_module:nothing", 1, time_limit_s=5, start_timeout_s=10)
    first = asyncio.ensure_future(pool.run())
    await asyncio.sleep(0.05)  # the worker is starting
    calls = [first, *(pool.run() for _ in range(2))]
    results = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 30)
    assert all(isinstance(r, WorkerUnavailableError) for r in results), results
    await pool.close()


@pytest.mark.allow_error_logs("died")
async def test_a_worker_that_could_not_be_replaced_is_started_again_later() -> None:
    async with ProcessPool(
        "tests.workerfns:dispatch",
        2,
        time_limit_s=5,
        warm_up="tests.workerfns:warm_up_unless_blocked",
        restart_delay_s=0.2,
    ) as pool:
        with workerfns.workers_blocked() as blocked:
            with pytest.raises(WorkerCrashedError):
                await pool.run("die")
            await asyncio.sleep(1.0)  # its replacement failed, more than once
            assert len(pool.worker_pids) == 1
            blocked.unlink()
        async with asyncio.timeout(10):
            while len(pool.worker_pids) < 2:  # noqa: ASYNC110 (no event tells of a new worker)
                await asyncio.sleep(0.05)


async def test_workers_get_only_an_allow_listed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = {"NEWSDESK_DISCORD__TOKEN": "t0ken", "DISCORD_TOKEN": "t0ken2", "NEWSDESK_DATABASE__URL": "x"}
    for name, value in {**secrets, "LC_ALL": "C.UTF-8", "TZ": "UTC"}.items():
        monkeypatch.setenv(name, value)
    async with ProcessPool(fn("environment"), 1, time_limit_s=5) as pool:
        env = await pool.run()
    assert not set(secrets) & set(env)
    assert (env["LC_ALL"], env["TZ"], env["PATH"], env["HOME"]) == (
        "C.UTF-8",
        "UTC",
        os.environ["PATH"],
        os.environ["HOME"],
    )
    assert set(env) <= set(os.environ) | {"PYTHONPATH"}


async def test_a_worker_is_replaced_after_its_quota_of_calls() -> None:
    async with ProcessPool(fn("pid"), 1, time_limit_s=5, max_calls_per_worker=3) as pool:
        first = [await pool.run() for _ in range(3)]
        assert len(set(first)) == 1
        later = await pool.run()
        assert later != first[0] and pool.worker_pids == {later}
        await asyncio.sleep(0.5)
        with pytest.raises(ProcessLookupError):
            os.kill(first[0], 0)  # the old one exited once it had answered


async def test_with_one_batch_per_worker_a_call_never_queues_behind_a_busy_worker() -> None:
    async with ProcessPool(
        "tests.workerfns:dispatch", 2, time_limit_s=5, max_batch=1, batches_per_worker=1
    ) as pool:
        slow = asyncio.ensure_future(pool.run("nap", 1.0))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        pids = {await pool.run("pid") for _ in range(3)}
        assert time.monotonic() - started < 0.8  # served by the free worker, not after the nap
        assert len(pids) == 1 and await slow not in pids


def test_pool_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        ProcessPool(fn("pid"), 0, time_limit_s=1)
    with pytest.raises(ValueError):
        ProcessPool(fn("pid"), 1, time_limit_s=0)
    with pytest.raises(ValueError):
        ProcessPool(fn("pid"), 1, time_limit_s=1, batches_per_worker=0)
