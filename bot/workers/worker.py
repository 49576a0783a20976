"""A worker of :class:`~bot.workers.ProcessPool`: runs one function on batches of calls.

Started by the pool as ``python -m bot.workers.worker <module:function> <niceness>
<time limit s> [<module:warm-up function>]``. Each request is a list of argument tuples;
each answer the list of their outcomes, ``(True, result)`` or ``(False, exception)``, so a
call that fails fails alone. A call that runs past the time limit is interrupted by a timer
signal and answered with :class:`~bot.errors.WorkerTimeoutError`.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import pickle
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, BinaryIO

from bot.errors import WorkerError, WorkerTimeoutError
from bot.tuning import tune_gc
from bot.workers import pipe

log = logging.getLogger(__name__)


def resolve(name: str) -> Callable[..., Any]:
    """The function named ``"package.module:function"``."""
    module, _, attribute = name.partition(":")
    function: Callable[..., Any] = getattr(importlib.import_module(module), attribute)
    return function


def serve(requests: BinaryIO, responses: BinaryIO, function: Callable[..., Any], time_limit_s: float) -> None:
    """Answer batches until the pool closes the pipe."""
    while (batch := pipe.read_message(requests)) is not None:
        pipe.answer(responses, [_call(function, args, time_limit_s) for args in batch])


class _Expired(BaseException):
    """Raised into the call by the timer. A BaseException, so that the libraries' own
    ``except Exception`` (turning any error into "could not read") let it through."""


def _call(function: Callable[..., Any], args: Sequence[Any], time_limit_s: float) -> tuple[bool, Any]:
    try:
        with _time_limit(time_limit_s):
            return True, function(*args)
    except _Expired:
        return False, WorkerTimeoutError(f"The call took longer than {time_limit_s:g} seconds.")
    except Exception as e:
        return False, _sendable(e)


def _sendable(error: Exception) -> Exception:
    """``error`` if it survives pickling, else a :class:`WorkerError` saying what it was."""
    try:
        pickle.loads(pickle.dumps(error, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception:
        log.exception("worker: an error that cannot be sent back")
        return WorkerError(f"The call failed: {type(error).__name__}: {error}")
    return error


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    # A timer signal is the one way to interrupt Python code in place. Code stuck in C does
    # not see it: the pool kills the worker after a grace period instead.
    def expire(signum: int, frame: object) -> None:
        raise _Expired

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def main() -> None:
    function_name, niceness, time_limit_s, *warm_up = sys.argv[1:]
    requests, responses = pipe.worker_pipes(int(niceness))
    function = resolve(function_name)
    if warm_up:
        # Imports and caches filled before the first real call, not during it.
        resolve(warm_up[0])()
    # What is alive now (modules, caches) lives as long as the worker: out of the collector's
    # sight, and collections made rarer for a process that allocates in bursts.
    tune_gc()
    pipe.answer(responses, ("ready", os.getpid()))
    # The pool going away is the normal way for a worker to end.
    with contextlib.suppress(BrokenPipeError, KeyboardInterrupt):
        serve(requests, responses, function, float(time_limit_s))


if __name__ == "__main__":
    main()
