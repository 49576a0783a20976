"""Process-wide runtime tuning applied once the bot (or a benchmark of it) has started."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine
from types import ModuleType
from typing import Any, TypeVar

T = TypeVar("T")

#: Allocations between two young-generation collections (CPython's default is 700).
GC_THRESHOLD = 50_000


def tune_gc(threshold: int = GC_THRESHOLD) -> None:
    """Make the cyclic garbage collector cheaper for a long-running, allocation-heavy service.

    A poll pass allocates millions of short-lived objects (parsed entries, rows, requests);
    with the default threshold the collector runs over a thousand times per 4,000 feeds, about
    a fifth of the poller's CPU (``gc.callbacks`` shows it). Collecting less
    often costs a few MB of garbage waiting longer; freezing what exists after start-up
    (modules, classes, settings) keeps full collections from walking it again and again.
    """
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(threshold, gen1, gen2)


def run_event_loop(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on uvloop where it is installed (Linux and macOS), else on asyncio.

    uvloop implements the same event loop in C over libuv: socket reads and writes, timers and
    callbacks cost a fraction of the pure-Python loop's, which is what a poller answering
    thousands of 304s per second mostly does.
    """
    uvloop = _uvloop()
    if uvloop is None:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def event_loop_name() -> str:
    """The loop :func:`run_event_loop` uses here ("uvloop" or "asyncio")."""
    return "asyncio" if _uvloop() is None else "uvloop"


def _uvloop() -> ModuleType | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop
