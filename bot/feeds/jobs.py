"""What the parse workers run: top-level functions, in a module that imports no storage or
network code, so a worker process starts fast and stays small.
"""

from __future__ import annotations

import dataclasses

from bot.feeds.decide import EntryKeys
from bot.feeds.identity import entry_keys
from bot.feeds.parse import parse_feed
from bot.feeds.types import FeedEntry, ParsedFeed

#: Entries read from one feed at most (feeds list newest first): a 5 MB archive feed of 20,000
#: entries must not cost 20,000 rows and lookups per poll.
MAX_ENTRIES = 500


def parse_for_posting(body: bytes, url: str, content_type: str | None) -> ParsedFeed:
    """:func:`parse_feed` without the entries' full HTML (posts use the summary), so less
    crosses the process boundary, and without entries past :data:`MAX_ENTRIES`. Top-level, so
    a process pool can run it.
    """
    parsed = parse_feed(body, url=url, content_type=content_type)
    entries = tuple(_without_content(e) for e in parsed.entries[:MAX_ENTRIES])
    return dataclasses.replace(parsed, entries=entries)


def _without_content(e: FeedEntry) -> FeedEntry:
    # Spelt out: dataclasses.replace inspects the fields on every call, per entry.
    return FeedEntry(
        guid=e.guid,
        link=e.link,
        title=e.title,
        summary=e.summary,
        content_html=None,
        author=e.author,
        published=e.published,
        updated=e.updated,
        categories=e.categories,
        image_url=e.image_url,
        enclosure_url=e.enclosure_url,
    )


def parse_with_keys(
    body: bytes, url: str, content_type: str | None
) -> tuple[ParsedFeed, tuple[EntryKeys, ...]]:
    """:func:`parse_for_posting` plus each entry's ``(entry_key, link_key)``: URL
    canonicalisation is CPU work too, better done in the worker than on the event loop.
    """
    parsed = parse_for_posting(body, url, content_type)
    return parsed, tuple(entry_keys(e) for e in parsed.entries)
