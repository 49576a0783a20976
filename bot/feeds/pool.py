"""The feed parsers' process pool, which outlives the death of a worker.

A :class:`~concurrent.futures.ProcessPoolExecutor` whose worker dies (killed by the kernel
for memory, or a crash in a C parser on a hostile feed) is broken for good: every later job
fails at once. For a bot that would mean every feed failing its checks until they are all
paused. :class:`RenewingProcessPool` replaces a broken pool with a fresh one on the next
submission, so a dead worker costs the jobs it held and nothing after.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import ParamSpec, TypeVar

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


class RenewingProcessPool(Executor):
    """``ProcessPoolExecutor(max_workers)`` with ``spawn``ed workers, renewed when broken.

    "spawn" because forking a process that runs threads (aiosqlite, the pool's own) is unsafe.
    """

    def __init__(self, max_workers: int | None = None) -> None:
        self._max_workers = max_workers
        self._lock = threading.Lock()
        self._pool = self._new_pool()
        self._renewals = 0

    @property
    def renewals(self) -> int:
        """How many times a broken pool was replaced (for logs and tests)."""
        return self._renewals

    @property
    def worker_pids(self) -> frozenset[int]:
        """Process ids of the current pool's workers (for monitoring and the benchmark)."""
        return frozenset(self._pool._processes or {})

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        with self._lock:
            try:
                return self._pool.submit(fn, *args, **kwargs)
            except BrokenProcessPool:
                log.warning("feed parser pool: a worker died; starting a new pool")
                broken, self._pool = self._pool, self._new_pool()
                self._renewals += 1
            broken.shutdown(wait=False, cancel_futures=True)
            return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self._max_workers, mp_context=multiprocessing.get_context("spawn"))

    def __repr__(self) -> str:
        return f"RenewingProcessPool(max_workers={self._max_workers!r}, renewals={self._renewals})"
