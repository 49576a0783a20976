"""Parse jobs sent to a process pool in batches when the pool is busy.

Every job sent to a :class:`~concurrent.futures.ProcessPoolExecutor` costs a round trip through
its manager thread and two pickles, and the manager thread competes with the event loop for the
GIL. A poller checking thousands of feeds sends thousands of small jobs, so that overhead is
paid per feed. :class:`BatchingExecutor` keeps at most ``slots`` batches in flight: while they
run, new jobs wait, and leave together as one batch when a slot frees up. An idle pool still
gets each job at once, alone (no added latency); a busy one gets fewer, larger batches.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Any

#: Jobs per batch at most (a batch is one pickle each way; keep it well under a pipe's worth).
MAX_BATCH = 16


def run_batch(fn: Callable[..., Any], jobs: Sequence[tuple[Any, ...]]) -> list[tuple[bool, Any]]:
    """``fn(*job)`` for each job, in the worker: ``(True, result)`` or ``(False, exception)``,
    so one failing job fails alone. Top-level, so a process pool can run it.
    """
    outcomes: list[tuple[bool, Any]] = []
    for job in jobs:
        try:
            outcomes.append((True, fn(*job)))
        except Exception as e:
            outcomes.append((False, e))
    return outcomes


class BatchingExecutor:
    """Runs ``fn(*args)`` in ``executor``, batching jobs while ``slots`` batches are in flight.

    ``fn`` must be picklable (top-level) for a process pool. ``slots`` is best about twice the
    pool's workers: each worker runs one batch while the next waits in its queue.
    """

    def __init__(
        self,
        executor: Executor | None,
        fn: Callable[..., Any],
        *,
        slots: int,
        max_batch: int = MAX_BATCH,
    ) -> None:
        if slots < 1 or max_batch < 1:
            raise ValueError("slots and max_batch must be at least 1")
        self._executor = executor
        self._fn = fn
        self._slots = slots
        self._max_batch = max_batch
        self._waiting: list[tuple[tuple[Any, ...], asyncio.Future[Any]]] = []
        self._in_flight = 0

    async def run(self, *args: Any) -> Any:
        """``fn(*args)``, computed in the executor; raises what ``fn`` raised."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.append((args, future))
        self._send()
        return await future

    def _send(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting and self._in_flight < self._slots:
            batch = [job for job in self._waiting[: self._max_batch] if not job[1].cancelled()]
            del self._waiting[: self._max_batch]
            if not batch:
                continue
            try:
                sent = loop.run_in_executor(self._executor, run_batch, self._fn, [args for args, _ in batch])
            except Exception as e:  # a broken or shut-down pool refuses new work
                for _, future in batch:
                    if not future.done():
                        future.set_exception(e)
                continue
            self._in_flight += 1
            sent.add_done_callback(lambda done, batch=batch: self._settle(done, batch))

    def _settle(self, done: asyncio.Future[list[tuple[bool, Any]]], batch: list[Any]) -> None:
        self._in_flight -= 1
        if done.cancelled():
            outcomes: list[tuple[bool, Any]] = [(False, None)] * len(batch)
        elif (error := done.exception()) is not None:
            # The pool itself broke (a worker died): every job of the batch fails with it.
            outcomes = [(False, error)] * len(batch)
        else:
            outcomes = done.result()
        for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if value is None and not ok:
                future.cancel()
            elif ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        self._send()
