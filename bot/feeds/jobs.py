"""What the parse workers run: top-level functions, in a module that imports no storage or
network code, so a worker process starts fast and stays small.
"""

from __future__ import annotations

from bot.feeds.decide import EntryKeys
from bot.feeds.identity import entry_keys
from bot.feeds.parse import MAX_ENTRIES, parse_feed
from bot.feeds.types import ParsedFeed

__all__ = ["MAX_ENTRIES", "parse_for_posting", "parse_with_keys"]


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
    What :class:`~bot.feeds.parser_pool.ParserPool`'s workers run, within its time limit.
    """
    parsed = parse_for_posting(body, url, content_type)
    return parsed, tuple(map(entry_keys, parsed.entries))
