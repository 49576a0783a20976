"""Framing between the pool and its workers: length-prefixed pickles over pipes.

Only the pool's own child processes are on the other end, so pickle is safe here.
"""

from __future__ import annotations

import contextlib
import fcntl
import pickle
import struct
from typing import Any, BinaryIO

_HEADER = struct.Struct("!I")
HEADER_SIZE = _HEADER.size


def encode(message: Any) -> bytes:
    """``message`` pickled, prefixed with its length."""
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(payload)) + payload


def payload_size(header: bytes) -> int:
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
