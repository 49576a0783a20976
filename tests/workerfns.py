"""Functions for the worker-pool tests, run inside the workers (``tests.workerfns:<name>``)."""

from __future__ import annotations

import os
import signal
import threading
import time


def square(x: int) -> int:
    return x * x


def pid() -> int:
    return os.getpid()


def nap(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def fail(message: str) -> None:
    raise ValueError(message)


def die() -> None:
    """What a crash in C (or the kernel's OOM killer) looks like to the pool."""
    os.kill(os.getpid(), signal.SIGKILL)


def spin() -> None:
    """Python that never returns: the worker's timer signal interrupts it."""
    while True:
        pass


def stuck() -> None:
    """A call the timer signal cannot reach, as one stuck in C: only killing the worker ends it."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    threading.Event().wait()


class _Unpicklable(Exception):
    def __init__(self) -> None:
        super().__init__("cannot travel")
        self.callback = lambda: None


def fail_unpicklably() -> None:
    raise _Unpicklable()


def dispatch(name: str, *args: object) -> object:
    """Any function of this module by name: one pool, several behaviours."""
    return globals()[name](*args)
