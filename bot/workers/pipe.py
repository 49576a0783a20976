"""Worker processes of the bot's pools (extraction, feed parsing) and the framing they speak.

A worker is a fresh interpreter (``python -m <module>``) reading requests on its stdin and
writing answers on its stdout, each a length-prefixed pickle. A fresh interpreter rather than
``multiprocessing`` keeps the parent's ``__main__`` (a notebook, a test runner, a benchmark
script) from being imported again in every worker; pipes read by asyncio's own transports
need no helper threads in the bot. Only the pool's own child processes are on the other end,
so pickle is safe here.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pickle
import struct
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

# The directory holding the ``bot`` package, for the workers' import path.
_PROJECT_ROOT = Path(__file__).resolve().parents[2]

_HEADER = struct.Struct("!I")
HEADER_SIZE = _HEADER.size


def encode(message: Any) -> bytes:
    """``message`` pickled, prefixed with its length."""
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(payload)) + payload


def payload_size(header: bytes) -> int:
    size: int
    (size,) = _HEADER.unpack(header)
    return size


def decode(payload: bytes) -> Any:
    return pickle.loads(payload)


def read_message(stream: BinaryIO) -> Any | None:
    """The next message on a blocking stream; ``None`` at end of stream."""
    header = _read_exactly(stream, HEADER_SIZE)
    if header is None:
        return None
    payload = _read_exactly(stream, payload_size(header))
    if payload is None:
        return None
    return decode(payload)


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


#: Added to the worker's nice value unless the pool says otherwise (first argument).
DEFAULT_NICENESS = 5

# Linux's limit for an unprivileged process (/proc/sys/fs/pipe-max-size).
_PIPE_SIZE = 1 << 20


def enlarge_pipe(fd: int) -> None:
    """Let a whole page through the pipe ``fd`` in one write, where the system allows it.

    The default 64 KiB takes a page (often 100-500 KB) in several writes, each a turn
    of the pool's event loop.
    """
    with contextlib.suppress(OSError, AttributeError):  # not Linux, or over the limit
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)


# --- the pool's side -----------------------------------------------------------------------

# What a worker gets of the bot's environment: enough for Python, locale, time zone and temporary
# files. Nothing else: workers read hostile input, and the bot's secrets (NEWSDESK_DISCORD__TOKEN,
# the database URL...) have no business there.
_ENV_NAMES = frozenset(
    {
        "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TZDIR", "TMPDIR", "TEMP", "TMP",
        "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONHASHSEED", "PYTHONIOENCODING", "PYTHONUTF8",
        "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX", "PYTHONWARNINGS", "PYTHONFAULTHANDLER",
        "PYTHONMALLOC", "PYTHONDEVMODE", "PYTHONSAFEPATH", "COVERAGE_PROCESS_START",
    }
)  # fmt: skip
_ENV_PREFIXES = ("LC_", "XDG_")


def worker_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The allow-listed part of ``environ``, the project on ``PYTHONPATH``."""
    env = {k: v for k, v in environ.items() if k in _ENV_NAMES or k.startswith(_ENV_PREFIXES)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_PROJECT_ROOT), env.get("PYTHONPATH")]))
    return env


async def spawn(module: str, *args: str) -> asyncio.subprocess.Process:
    """``python -m module args...`` with pipes on its stdin and stdout, and only
    :func:`worker_environment`. Raises OSError.
    """
    env = worker_environment(os.environ)
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip


async def receive(stream: asyncio.StreamReader) -> Any:
    """The next message on a worker's stdout. Raises ``asyncio.IncompleteReadError`` at its end."""
    header = await stream.readexactly(HEADER_SIZE)
    return decode(await stream.readexactly(payload_size(header)))


# --- the worker's side ---------------------------------------------------------------------


def worker_pipes(niceness: int) -> tuple[BinaryIO, BinaryIO]:
    """The request and answer streams of a worker process, set up once at its start.

    Answers go on a private copy of stdout; anything a library prints goes to stderr instead
    of corrupting the framing. ``niceness`` is added to the process's nice value: when the
    cores are busy, the bot's event loop (answering Discord) wins over the workers.
    """
    if niceness:
        with contextlib.suppress(OSError):
            os.nice(niceness)
    responses = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    for pipe in (sys.stdin, responses):
        enlarge_pipe(pipe.fileno())
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return sys.stdin.buffer, responses


def answer(stream: BinaryIO, message: object) -> None:
    """Write ``message`` to the pool, whole."""
    stream.write(encode(message))
    stream.flush()
