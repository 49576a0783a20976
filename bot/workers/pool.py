"""``ProcessPool``: one CPU-bound function run in worker processes, called from the event loop.

Built for many small calls (a poll pass parses thousands of feeds). Compared with
``loop.run_in_executor(ProcessPoolExecutor(), ...)``:

- no helper threads: requests and answers go through asyncio's own pipe transports, so
  nothing competes with the event loop for the GIL;
- batching: while a worker is busy, calls wait and leave together as one message (one pickle
  each way) when it frees up; an idle worker gets a call at once, alone;
- pipelining: each worker has a second batch queued behind the one it runs, so it never
  waits for the event loop between batches;
- a worker that dies or hangs is replaced and costs only the call that killed it: the other
  calls of its batch are sent again, one by one, so the culprit fails alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.errors import WorkerCrashedError, WorkerError, WorkerTimeoutError, WorkerUnavailableError
from bot.ops import metrics
from bot.workers import pipe

log = logging.getLogger(__name__)

#: Calls sent in one message at most.
MAX_BATCH = 16
#: Batches sent to a worker at once: one running, one queued behind it.
BATCHES_PER_WORKER = 2
#: Calls a worker serves before it is replaced, bounding what a leaky library can hold on to.
MAX_CALLS_PER_WORKER = 100_000
#: How long a new worker may take to import its function and warm up.
START_TIMEOUT_S = 60.0
#: Past its time limit, a call stuck where the timer signal cannot reach it (in C) gets this
#: much longer before its worker is killed.
KILL_GRACE_S = 5.0
# A worker asked to stop gets this long to exit before it is killed.
_EXIT_GRACE_S = 2.0
#: A worker that could not be replaced is tried again after this long, then twice as long
#: each time, up to :data:`MAX_RESTART_DELAY_S`: the pool gets back to its size by itself.
RESTART_DELAY_S = 5.0
MAX_RESTART_DELAY_S = 300.0


@dataclass(eq=False, slots=True)
class _Call:
    args: tuple[Any, ...]
    future: asyncio.Future[Any]
    #: Sent again alone after its batch's worker died: if it kills this one too, it fails.
    alone: bool = False


@dataclass(eq=False)
class _Worker:
    process: asyncio.subprocess.Process
    in_flight: deque[list[_Call]] = field(default_factory=deque)
    has_work: asyncio.Event = field(default_factory=asyncio.Event)
    #: Calls sent to it so far.
    calls: int = 0
    #: Sent nothing more: it stops once it has answered what it holds.
    retired: bool = False
    #: The task reading its answers.
    reader: asyncio.Task[None] | None = None

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    @property
    def pid(self) -> int:
        return self.process.pid

    def send(self, batch: list[_Call]) -> None:
        assert self.process.stdin is not None
        # No drain: what is in flight is bounded (BATCHES_PER_WORKER batches of MAX_BATCH).
        self.process.stdin.write(pipe.encode([call.args for call in batch]))
        self.in_flight.append(batch)
        self.calls += len(batch)
        self.has_work.set()

    def kill(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):  # it exited meanwhile
                self.process.kill()


class ProcessPool:
    """Runs ``function(*args)`` in ``workers`` processes, each call within ``time_limit_s``.

    ``function`` and ``warm_up`` are named ``"package.module:function"`` (the workers import
    them); arguments and results must pickle. Workers run ``niceness`` below the caller's
    priority, so that on busy cores the event loop wins.

    For many small calls, the defaults batch and pipeline. For few large ones where latency
    counts (a page a user waits for), ``max_batch=1, batches_per_worker=1``: a call never
    queues behind another on one worker while a second worker is free.

    Workers start on first use (or :meth:`start`); :meth:`close` stops them. A pool belongs to
    the event loop that starts it.
    """

    def __init__(
        self,
        function: str,
        workers: int,
        *,
        time_limit_s: float,
        warm_up: str | None = None,
        niceness: int = pipe.DEFAULT_NICENESS,
        max_batch: int = MAX_BATCH,
        batches_per_worker: int = BATCHES_PER_WORKER,
        max_calls_per_worker: int = MAX_CALLS_PER_WORKER,
        start_timeout_s: float = START_TIMEOUT_S,
        restart_delay_s: float = RESTART_DELAY_S,
    ) -> None:
        if min(workers, max_batch, batches_per_worker, max_calls_per_worker) < 1:
            raise ValueError("workers, batches and calls per worker must be at least 1")
        if time_limit_s <= 0:
            raise ValueError("time_limit_s must be positive")
        self._function = function
        self._size = workers
        self._time_limit_s = time_limit_s
        self._warm_up = warm_up
        self._niceness = niceness
        self._max_batch = max_batch
        self._batches_per_worker = batches_per_worker
        self._max_calls = max_calls_per_worker
        self._start_timeout_s = start_timeout_s
        self._restart_delay_s = restart_delay_s
        self._waiting: deque[_Call] = deque()
        self._workers: list[_Worker] = []
        self._retiring: set[_Worker] = set()
        self._starting = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._batches_sent = 0

    @property
    def worker_pids(self) -> frozenset[int]:
        """Process ids of the live workers (for monitoring, tests and benchmarks)."""
        return frozenset(w.pid for w in self._workers)

    @property
    def batches_sent(self) -> int:
        """Messages sent to the workers so far, each holding one or more calls."""
        return self._batches_sent

    async def __aenter__(self) -> ProcessPool:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Start the missing workers and wait until they are ready. Raises
        :class:`WorkerUnavailableError` when none could start.
        """
        if self._closed:
            raise WorkerUnavailableError("The worker pool is closed.")
        missing = self._size - len(self._workers) - self._starting
        # Counted as starting at once, not when gather first runs them: calls made meanwhile
        # wait for these workers rather than start more.
        self._starting += missing
        started = await asyncio.gather(*(self._add_worker() for _ in range(missing)), return_exceptions=True)
        if not self._workers:
            error = next((e for e in started if isinstance(e, BaseException)), None)
            unavailable = WorkerUnavailableError("No worker process could start.")
            # Calls made while the workers were starting waited for them: they fail too.
            _fail(self._waiting, unavailable)
            self._waiting.clear()
            raise unavailable from error

    async def run(self, *args: Any) -> Any:
        """``function(*args)`` in a worker; raises what it raised, or a :class:`WorkerError`
        (:class:`WorkerTimeoutError`, :class:`WorkerCrashedError`, :class:`WorkerUnavailableError`).
        """
        if self._closed:
            raise WorkerUnavailableError("The worker pool is closed.")
        if not self._workers and not self._starting:
            await self.start()
        call = _Call(args, asyncio.get_running_loop().create_future())
        self._waiting.append(call)
        self._dispatch()
        try:
            return await call.future
        except asyncio.CancelledError:
            self._abandon(call)
            raise

    async def close(self) -> None:
        """Stop every worker; calls not yet answered fail with :class:`WorkerUnavailableError`."""
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        closed = WorkerUnavailableError("The worker pool was closed.")
        workers = [*self._workers, *self._retiring]
        self._workers, self._retiring = [], set()
        for worker in workers:
            for batch in worker.in_flight:
                _fail(batch, closed)
        _fail(self._waiting, closed)
        self._waiting.clear()
        await asyncio.gather(*(_stop(w) for w in workers), return_exceptions=True)

    # --- calls ---------------------------------------------------------------------------

    def _dispatch(self) -> None:
        """Send waiting calls to the workers with room for a batch, least loaded first."""
        for worker in [w for w in self._workers if not w.alive and not w.in_flight]:
            # Died while idle (its reader only hears of it once it has work): replaced now,
            # before a call is sent to it for nothing.
            log.error("worker pid=%s exited (code %s)", worker.pid, worker.process.returncode)
            self._lose(worker, WorkerCrashedError("The worker process died."))
        while self._waiting:
            free = [w for w in self._workers if w.alive and len(w.in_flight) < self._batches_per_worker]
            if not free:
                break
            batch = self._next_batch()
            if not batch:
                break
            worker = min(free, key=lambda w: len(w.in_flight))
            worker.send(batch)
            self._batches_sent += 1
            if worker.calls >= self._max_calls:
                self._retire(worker)

    def _next_batch(self) -> list[_Call]:
        batch: list[_Call] = []
        while self._waiting and len(batch) < self._max_batch:
            call = self._waiting[0]
            if call.future.done():  # its caller gave up
                self._waiting.popleft()
                continue
            if call.alone and batch:
                break
            batch.append(self._waiting.popleft())
            if call.alone:
                break
        return batch

    async def _serve(self, worker: _Worker) -> None:
        """Read ``worker``'s answers, in the order its batches were sent."""
        assert worker.process.stdout is not None
        try:
            while True:
                while not worker.in_flight:
                    if worker.retired:
                        self._retiring.discard(worker)
                        await _stop(worker)
                        return
                    worker.has_work.clear()
                    await worker.has_work.wait()
                running = worker.in_flight[0]
                # Each call's own limit is enforced in the worker; this catches a worker
                # that cannot even do that (stuck in C).
                async with asyncio.timeout(self._time_limit_s * len(running) + KILL_GRACE_S):
                    answers = await pipe.receive(worker.process.stdout)
                worker.in_flight.popleft()
                _settle(running, answers)
                self._dispatch()
        except TimeoutError:
            log.error("worker pid=%s stuck past its time limit: killed", worker.pid)
            limit = self._time_limit_s
            self._lose(worker, WorkerTimeoutError(f"The call took longer than {limit:g} seconds."))
        except (OSError, EOFError, asyncio.IncompleteReadError, ValueError) as e:
            if self._closed:
                return
            log.error("worker pid=%s died (%s)", worker.pid, type(e).__name__)
            self._lose(worker, WorkerCrashedError("The worker process died during the call."))
        self._dispatch()

    def _abandon(self, call: _Call) -> None:
        """A caller gave up on ``call``: a worker running only abandoned calls is working for
        nobody (a large page can take seconds), so it is replaced rather than waited for.
        """
        for worker in self._workers:
            if worker.in_flight and call in worker.in_flight[0]:
                if all(c.future.done() for c in worker.in_flight[0]):
                    log.info("worker pid=%s replaced: its callers gave up", worker.pid)
                    self._lose(worker, WorkerCrashedError("Abandoned."))  # fails nobody: all done
                    self._dispatch()
                return

    def _retire(self, worker: _Worker) -> None:
        """Send ``worker`` nothing more (its reader stops it once it has answered); a new one starts."""
        self._workers.remove(worker)
        self._retiring.add(worker)
        metrics.worker_restarted(self._function, "recycled")
        worker.retired = True
        worker.has_work.set()
        self._spawn_in_background()

    def _lose(self, worker: _Worker, error: WorkerError) -> None:
        """Replace a dead or stuck worker. Its running batch is sent again call by call, so the
        call that killed it fails alone; its queued batch is sent again as it was.
        """
        worker.kill()
        metrics.worker_restarted(
            self._function, "timeout" if isinstance(error, WorkerTimeoutError) else "crashed"
        )
        if worker.reader is not None and worker.reader is not asyncio.current_task():
            worker.reader.cancel()
        with contextlib.suppress(ValueError):
            self._workers.remove(worker)
        retry: list[_Call] = []
        for position, batch in enumerate(worker.in_flight):
            if position == 0 and (len(batch) == 1 or batch[0].alone):
                _fail(batch, error)
                continue
            for call in batch:
                call.alone = call.alone or position == 0
                retry.append(call)
        worker.in_flight.clear()
        self._waiting.extendleft(reversed(retry))  # they were first in line
        if worker.retired:
            self._retiring.discard(worker)  # its replacement was started when it retired
        else:
            self._spawn_in_background()

    # --- workers -------------------------------------------------------------------------

    def _spawn_in_background(self) -> None:
        if self._closed:
            return
        task = asyncio.get_running_loop().create_task(self._replace())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _replace(self) -> None:
        delay = self._restart_delay_s
        while not self._closed and len(self._workers) + self._starting < self._size:
            self._starting += 1
            try:
                await self._add_worker()
                return
            except WorkerUnavailableError as e:
                log.warning("could not replace a worker (%s); trying again in %g s", e.__cause__ or e, delay)
            if not self._workers and not self._starting:
                # Nothing will serve the waiting calls: they fail rather than hang.
                _fail(self._waiting, WorkerUnavailableError("No worker process could start."))
                self._waiting.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RESTART_DELAY_S)

    async def _add_worker(self) -> None:
        """Start a worker the caller has counted in ``_starting``."""
        try:
            worker = await self._start_worker()
        finally:
            self._starting -= 1
        if self._closed:
            await _stop(worker)
            return
        self._workers.append(worker)
        worker.reader = asyncio.get_running_loop().create_task(self._serve(worker))
        self._tasks.add(worker.reader)
        worker.reader.add_done_callback(self._tasks.discard)
        self._dispatch()

    async def _start_worker(self) -> _Worker:
        args = [self._function, str(self._niceness), repr(self._time_limit_s)]
        if self._warm_up:
            args.append(self._warm_up)
        try:
            process = await pipe.spawn("bot.workers.worker", *args)
        except OSError as e:
            raise WorkerUnavailableError("A worker process could not start.") from e
        worker = _Worker(process)
        assert process.stdout is not None
        try:
            async with asyncio.timeout(self._start_timeout_s):
                ready = await pipe.receive(process.stdout)
            if not (isinstance(ready, tuple) and ready[0] == "ready"):
                raise ValueError(f"unexpected greeting {ready!r}")
        except BaseException as e:
            worker.kill()
            await process.wait()
            if isinstance(e, Exception):
                raise WorkerUnavailableError("A worker process failed to start.") from e
            raise
        return worker


def _settle(batch: Sequence[_Call], answers: Sequence[tuple[bool, Any]]) -> None:
    for call, (ok, value) in zip(batch, answers, strict=True):
        if call.future.done():
            continue
        if ok:
            call.future.set_result(value)
        else:
            call.future.set_exception(value)


def _fail(calls: Sequence[_Call] | deque[_Call], error: BaseException) -> None:
    for call in calls:
        if not call.future.done():
            call.future.set_exception(error)


async def _stop(worker: _Worker) -> None:
    """Close the worker's input (it exits once idle); kill it if it does not exit soon."""
    process = worker.process
    if worker.in_flight:
        worker.kill()
    elif process.stdin is not None and not process.stdin.is_closing():
        process.stdin.close()
    try:
        async with asyncio.timeout(_EXIT_GRACE_S):
            await process.wait()
    except TimeoutError:
        worker.kill()
        await process.wait()
