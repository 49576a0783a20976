"""Event-loop lag, as the benchmarks measure it: how late a short sleep wakes, over and over."""

from __future__ import annotations

import asyncio
import time
from types import TracebackType

#: The ticker's sleep.
TICK_S = 0.001


class LagTicker:
    """``async with LagTicker() as lags:`` — ``lags`` fills with how late (seconds) each
    :data:`TICK_S` sleep woke while the block ran.
    """

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> list[float]:
        self._task = asyncio.create_task(self._tick())
        return self.lags

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _tick(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(TICK_S)
            self.lags.append(max(0.0, time.perf_counter() - before - TICK_S))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
