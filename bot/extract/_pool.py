"""``ExtractorPool``: extraction in worker processes, so the event loop never parses HTML.

Each worker is a fresh interpreter (``python -m bot.extract._worker``) talking
length-prefixed pickles over its stdin/stdout, read and written by asyncio's own
pipe transports: the event loop does no blocking I/O and needs no helper threads.
A worker serves one page at a time. A page that overruns the time limit gets its
worker killed and replaced, so a hostile page costs one worker for ``timeout_s``
and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.errors import ExtractError, ExtractTimeoutError, NotAnArticleError
from bot.extract import _load
from bot.types import Article
from bot.workers import pipe
from bot.workers.pipe import DEFAULT_NICENESS

if TYPE_CHECKING:
    from bot.config import ExtractSettings

log = logging.getLogger(__name__)

#: Pages a worker extracts before it is replaced, bounding what a leaky parser can hold on to.
DEFAULT_MAX_PAGES_PER_WORKER = 1000
#: How long a new worker may take to import trafilatura and warm up.
DEFAULT_START_TIMEOUT_S = 60.0
# A worker asked to stop gets this long to exit before it is killed.
_EXIT_GRACE_S = 2.0


@dataclass(eq=False)
class _Worker:
    process: asyncio.subprocess.Process
    pages: int = 0
    busy: bool = False

    @property
    def pid(self) -> int:
        return self.process.pid

    async def request(self, frame: bytes) -> Any:
        """The answer to ``frame``, a message framed by :func:`pipe.encode`."""
        assert self.process.stdin is not None
        self.process.stdin.write(frame)
        await self.process.stdin.drain()
        return await self.receive()

    async def receive(self) -> Any:
        assert self.process.stdout is not None
        return await pipe.receive(self.process.stdout)


class ExtractorPool:
    """Extracts articles in ``workers`` processes, each page within ``timeout_s`` seconds.

    Workers run ``niceness`` below the caller's priority, so that on busy cores the event
    loop wins over extraction (0 keeps them at the caller's priority).

    Workers start on first use (or :meth:`start`); :meth:`close` stops them all.
    Also an async context manager. A pool belongs to the event loop that starts it.
    """

    def __init__(
        self,
        workers: int,
        timeout_s: float,
        *,
        max_pages_per_worker: int = DEFAULT_MAX_PAGES_PER_WORKER,
        start_timeout_s: float = DEFAULT_START_TIMEOUT_S,
        niceness: int = DEFAULT_NICENESS,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self._size = workers
        self._timeout_s = timeout_s
        self._max_pages = max_pages_per_worker
        self._start_timeout_s = start_timeout_s
        self._niceness = niceness
        # Created in start(): asyncio objects belong to the loop that uses them.
        self._idle: asyncio.Queue[_Worker | None] | None = None
        self._start_lock: asyncio.Lock | None = None
        self._workers: set[_Worker] = set()
        self._background: set[asyncio.Task[None]] = set()
        self._waiting = 0
        # Replacements scheduled or starting: the pool will have a worker for waiters.
        self._replacing = 0
        self._started = False
        self._closed = False

    @classmethod
    def from_settings(cls, settings: ExtractSettings) -> ExtractorPool:
        return cls(settings.workers, settings.timeout_s)

    @property
    def worker_pids(self) -> frozenset[int]:
        """Process ids of the live workers (for monitoring and tests)."""
        return frozenset(w.pid for w in self._workers)

    async def __aenter__(self) -> ExtractorPool:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Start the workers and wait until they are ready; does nothing if they are."""
        if self._closed:
            raise ExtractError("The extractor is closed.")
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
            self._idle = asyncio.Queue()
        async with self._start_lock:
            if self._started:
                return
            results = await asyncio.gather(
                *(self._spawn() for _ in range(self._size)), return_exceptions=True
            )
            failures = [r for r in results if isinstance(r, BaseException)]
            for result in results:
                if isinstance(result, _Worker):
                    self._idle.put_nowait(result)  # type: ignore[union-attr]
            if failures:
                await self.close()
                raise ExtractError("The extractor could not start.") from failures[0]
            self._started = True

    async def extract(self, html: str, url: str | None = None) -> Article:
        """:func:`bot.extract.extract` in a worker process.

        Raises :class:`ExtractTimeoutError` when the page takes longer than
        ``timeout_s`` (its worker is replaced), :class:`NotAnArticleError` and
        :class:`ExtractError` as ``extract`` does.
        """
        await self.start()
        # Encoded before a worker is free, so that handing it over is a single write
        # and the worker waits for nothing between pages. Bytes, which it parses as they are.
        frame = pipe.encode((_load.encode(html), url))
        worker = await self._acquire()
        worker.busy = True
        try:
            async with asyncio.timeout(self._timeout_s):
                status, value = await worker.request(frame)
        except TimeoutError as e:
            self._retire(worker, kill=True)
            raise ExtractTimeoutError(
                f"Reading the article took longer than {self._timeout_s:g} seconds."
            ) from e
        except (OSError, asyncio.IncompleteReadError) as e:
            self._retire(worker, kill=True)
            if self._closed:
                raise ExtractError("The extractor was closed.") from e
            raise ExtractError("The extractor failed on this page.") from e
        except BaseException:
            # Cancelled mid-request: the worker may still answer, so it cannot be reused.
            self._retire(worker, kill=True)
            raise
        worker.busy = False
        worker.pages += 1
        if worker.pages >= self._max_pages:
            self._retire(worker, kill=False)
        else:
            self._release(worker)
        if status == "ok":
            assert isinstance(value, Article)
            return value
        if status == "not-an-article":
            raise NotAnArticleError(value)
        raise ExtractError(value)

    async def close(self) -> None:
        """Stop every worker and wait for it to exit. Pending and later calls fail."""
        self._closed = True
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        workers, self._workers = list(self._workers), set()
        # Idle workers exit on end of input; busy ones would finish their page first, so they are killed.
        await asyncio.gather(*(self._stop(w, kill=w.busy) for w in workers), return_exceptions=True)
        if self._idle is not None:
            # Wake the callers still waiting for a worker; they see None and fail.
            for _ in range(self._waiting):
                self._idle.put_nowait(None)

    # --- workers -------------------------------------------------------------------

    async def _acquire(self) -> _Worker:
        assert self._idle is not None
        self._waiting += 1
        try:
            while True:
                if self._closed:
                    raise ExtractError("The extractor is closed.")
                if not self._workers and not self._replacing:
                    raise ExtractError("The extractor has no working process left.")
                worker = await self._idle.get()
                if worker is not None and worker in self._workers:
                    return worker
        finally:
            self._waiting -= 1

    def _release(self, worker: _Worker) -> None:
        assert self._idle is not None
        self._idle.put_nowait(worker)

    def _retire(self, worker: _Worker, *, kill: bool) -> None:
        """Stop ``worker`` and start its replacement, in the background."""
        self._workers.discard(worker)
        if kill:
            # Killed now, not in the task: a stuck worker must not burn CPU a moment longer.
            _kill(worker)
        self._replacing += 1
        task = asyncio.get_running_loop().create_task(self._replace(worker, kill=kill))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _replace(self, old: _Worker, *, kill: bool) -> None:
        try:
            await self._stop(old, kill=kill)
            if self._closed:
                return
            try:
                worker = await self._spawn()
            except ExtractError:
                log.exception(
                    "extract: could not replace worker pid=%s; the pool has one worker less", old.pid
                )
                return
            if self._closed:
                await self._stop(worker, kill=True)
                return
            self._release(worker)
        finally:
            self._replacing -= 1
            if not self._workers and not self._replacing and self._idle is not None:
                # Wake the callers waiting for a worker that will never come; they fail.
                for _ in range(self._waiting):
                    self._idle.put_nowait(None)

    async def _spawn(self) -> _Worker:
        try:
            process = await pipe.spawn("bot.extract._worker", str(self._niceness))
        except OSError as e:
            raise ExtractError("The extractor could not start a worker.") from e
        worker = _Worker(process)
        self._workers.add(worker)
        try:
            async with asyncio.timeout(self._start_timeout_s):
                ready = await worker.receive()
        except (TimeoutError, OSError, asyncio.IncompleteReadError) as e:
            self._workers.discard(worker)
            await self._stop(worker, kill=True)
            raise ExtractError("An extractor worker failed to start.") from e
        except BaseException:
            self._workers.discard(worker)
            await self._stop(worker, kill=True)
            raise
        if not (isinstance(ready, tuple) and ready[0] == "ready"):
            self._workers.discard(worker)
            await self._stop(worker, kill=True)
            raise ExtractError("An extractor worker failed to start.")
        return worker

    async def _stop(self, worker: _Worker, *, kill: bool) -> None:
        process = worker.process
        if kill:
            _kill(worker)
        elif process.stdin is not None and not process.stdin.is_closing():
            process.stdin.close()  # end of input: the worker exits after its current page
        try:
            async with asyncio.timeout(_EXIT_GRACE_S):
                await process.wait()
        except TimeoutError:
            _kill(worker)
            await process.wait()


def _kill(worker: _Worker) -> None:
    if worker.process.returncode is None:
        with contextlib.suppress(ProcessLookupError):  # it exited meanwhile
            worker.process.kill()
