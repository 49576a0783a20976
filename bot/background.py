"""Background loops: every job the bot repeats until it stops runs on a :class:`BackgroundLoop`.

The feed poller's passes, the outbox dispatcher's claims, the story assigner's rounds, the digest
tick, the heartbeat file and the pruning of old rows are each one ``step`` coroutine run by a
loop; the loop owns the waiting, the waking and the error handling, so the jobs do not:

- a round runs ``step()``; it returns how many seconds to wait before the next round (``None``:
  ``interval_s``). The first round runs at once.
- :meth:`~BackgroundLoop.wake` starts the next round now; a wake during a round makes the next
  one start right after it (nothing asked for during a round is lost).
- a round that raises is logged (an exception of a ``quiet`` type as a one-line warning, any
  other with its traceback) and the loop goes on after a backoff: ``interval_s``, doubled for
  each failure in a row up to ``max_backoff_s``, so one failure never ends the loop and a
  lasting one (the database down) is not retried in a tight loop.
- :meth:`~BackgroundLoop.stop` lets the round in flight finish; :meth:`~BackgroundLoop.run`
  returns after it. Only cancelling the task cuts a round short.

apscheduler is not a loop runner here: it only computes when digests fall due (its cron and
interval triggers, in :mod:`bot.digests.schedule`); the digest tick that looks for due digests is
a loop like the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

__all__ = ["BackgroundLoop", "Step"]

#: One round of a loop: returns the seconds until the next round, or None for ``interval_s``.
Step = Callable[[], Awaitable[float | None]]

_log = logging.getLogger(__name__)


class BackgroundLoop:
    """Runs ``step`` in rounds until :meth:`stop`; see the module docstring.

    ``name`` names the job in log records ("feed poll pass failed; trying again in 30 s"), which
    go to ``logger`` (the job's module's, so they read as the job's own). Use :meth:`run` from a
    task of one's own (when something must happen before or after the rounds), or :meth:`start`
    and :meth:`close`.
    """

    def __init__(
        self,
        name: str,
        step: Step,
        *,
        interval_s: float,
        max_backoff_s: float = 60.0,
        quiet: tuple[type[Exception], ...] = (),
        logger: logging.Logger | None = None,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.name = name
        self.interval_s = interval_s
        self._step = step
        self._max_backoff_s = max_backoff_s
        self._quiet = quiet
        self._log = logger or _log
        self._wake = asyncio.Event()
        self._stopping = False
        self._running = False
        self._done = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        #: Rounds that raised in a row (0 after a round that did not).
        self.failures = 0

    @property
    def running(self) -> bool:
        """Whether :meth:`run` is running."""
        return self._running

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called and :meth:`run` has not returned yet."""
        return self._stopping

    def wake(self) -> None:
        """Start the next round now (or right after the round in flight)."""
        self._wake.set()

    def stop(self) -> None:
        """Ask :meth:`run` to return once the round in flight (if any) is done.

        Called before :meth:`run` starts, it makes :meth:`run` return at once.
        """
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Run rounds until :meth:`stop`. Never raises for a failing round; raises RuntimeError if
        already running.
        """
        if self._running:
            raise RuntimeError(f"{self.name} is already running")
        self._running = True
        self._done.clear()
        try:
            while not self._stopping:
                delay = await self._round()
                if self._stopping:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
        finally:
            self._running = self._stopping = False
            self._done.set()

    def start(self) -> asyncio.Task[None]:
        """:meth:`run` in a task of its own (kept until :meth:`close`)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name=self.name)
        return self._task

    async def close(self) -> None:
        """:meth:`stop`, then wait until :meth:`run` has returned. Safe when not running."""
        self.stop()
        task, self._task = self._task, None
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
        elif self._running:
            await self._done.wait()

    async def _round(self) -> float:
        self._wake.clear()  # a wake from now on asks for another round
        try:
            delay = await self._step()
        except Exception as e:
            self.failures += 1
            backoff = self._backoff()
            if isinstance(e, self._quiet):
                self._log.warning("%s failed: %s; trying again in %.0f s", self.name, e, backoff)
            else:
                self._log.exception("%s failed; trying again in %.0f s", self.name, backoff)
            return backoff
        self.failures = 0
        return self.interval_s if delay is None else max(delay, 0.0)

    def _backoff(self) -> float:
        doubled: float = self.interval_s * 2.0 ** min(self.failures - 1, 30)
        return min(doubled, max(self._max_backoff_s, self.interval_s))
