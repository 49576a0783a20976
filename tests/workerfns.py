"""Functions for the worker-pool tests, run inside the workers (``tests.workerfns:<name>``)."""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path


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


def environment() -> dict[str, str]:
    """What the worker was given of its parent's environment."""
    return dict(os.environ)


def blocked_flag(pid: int) -> Path:
    """While this file exists, the workers of the pools of process ``pid`` cannot start (see
    :func:`warm_up_unless_blocked`): a pool whose workers are unavailable, for real.
    """
    return Path(tempfile.gettempdir()) / f"newsdesk-test-workers-blocked-{pid}"


@contextlib.contextmanager
def workers_blocked() -> Iterator[Path]:
    """Keeps new workers of this process's pools from starting until the block ends or the
    returned file is deleted."""
    flag = blocked_flag(os.getpid())
    flag.touch()
    try:
        yield flag
    finally:
        flag.unlink(missing_ok=True)


def warm_up_unless_blocked() -> None:
    """A warm-up that fails (the worker exits before it is ready) while :func:`blocked_flag`
    exists for the process that started this worker."""
    if blocked_flag(os.getppid()).exists():
        raise RuntimeError("workers are blocked by the test")
