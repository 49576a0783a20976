"""What the parse workers run: top-level functions, in a module that imports no storage or
network code, so a worker process starts fast and stays small.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import threading
from collections.abc import Iterator

from bot.errors import FeedParseError
from bot.feeds.decide import EntryKeys
from bot.feeds.identity import entry_keys
from bot.feeds.parse import parse_feed
from bot.feeds.types import ParsedFeed

#: Entries read from one feed at most (feeds list newest first): a 5 MB archive feed of 20,000
#: entries must not cost 20,000 rows and lookups per poll.
MAX_ENTRIES = 500
#: Seconds one feed may take to parse in a worker (a 5 MB feed takes well under one).
PARSE_TIME_LIMIT_S = 10.0


def parse_for_posting(body: bytes, url: str, content_type: str | None) -> ParsedFeed:
    """:func:`parse_feed` without the entries' full HTML (posts use the summary), so less
    crosses the process boundary, and without entries past :data:`MAX_ENTRIES`. Top-level, so
    a process pool can run it.
    """
    return parse_feed(
        body, url=url, content_type=content_type, include_content=False, max_entries=MAX_ENTRIES
    )


def parse_with_keys(
    body: bytes, url: str, content_type: str | None
) -> tuple[ParsedFeed, tuple[EntryKeys, ...]]:
    """:func:`parse_for_posting` plus each entry's ``(entry_key, link_key)``: URL
    canonicalisation is CPU work too, better done in the worker than on the event loop.

    In a worker process it gives up after :data:`PARSE_TIME_LIMIT_S` with
    :class:`FeedParseError`, so a feed that sends the parser into a spin costs that feed a
    failed check and the worker a moment, not the pool.
    """
    with _time_limit(PARSE_TIME_LIMIT_S):
        parsed = parse_for_posting(body, url, content_type)
        return parsed, tuple(map(entry_keys, parsed.entries))


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    # A timer signal is the one way to interrupt the work in place; it needs the main thread
    # of a process of our own (a pool worker), never the bot's (threads run the tests' jobs).
    if multiprocessing.parent_process() is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise FeedParseError(f"The feed took longer than {seconds:g} seconds to read.")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
