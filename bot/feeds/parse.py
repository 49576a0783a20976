"""``parse_feed``: bytes from the network in, a :class:`ParsedFeed` out. Synchronous and CPU-bound;
callers run it in an executor.

Order: settle the encoding (:mod:`._encoding`: UTF-16/32 become UTF-8, encodings that are not
ASCII-based are refused), refuse entity bombs and spot web pages (:mod:`._sniff`), JSON Feed with ``json``,
then fastfeedparser for well-formed XML (about 30x faster than feedparser on a 20-item feed,
see ``bench/parse_bench.py``), then feedparser for the malformed rest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

from bot.errors import FeedParseError, NotAFeedError
from bot.feeds._build import capped_feed
from bot.feeds._encoding import normalise
from bot.feeds._fallback import parse_fallback
from bot.feeds._fast import NeedsFallbackError, parse_fast
from bot.feeds._jsonfeed import parse_json_feed
from bot.feeds._sniff import Kind, sniff
from bot.feeds.types import ParsedFeed

log = logging.getLogger(__name__)

ParserChoice = Literal["auto", "fastfeedparser", "feedparser"]

#: Entries a parse returns at most (feeds list newest first): a 5 MB archive feed of 20,000
#: entries must not cost 20,000 rows and lookups per poll. Titles and summaries have their own
#: caps (:data:`bot.feeds._build.MAX_TITLE_CHARS`, :data:`~bot.feeds._build.MAX_SUMMARY_CHARS`).
MAX_ENTRIES = 500


def parse_feed(
    body: bytes,
    *,
    url: str,
    content_type: str | None = None,
    parser: ParserChoice = "auto",
    include_content: bool = True,
    max_entries: int | None = None,
) -> ParsedFeed:
    """Parse an RSS 0.9x/1.0/2.0, Atom or JSON Feed document fetched from ``url``.

    ``url`` is the address the body came from (after redirects): relative links resolve
    against it. ``content_type`` (the response header) only helps feedparser with a charset the
    document does not declare; whether the body is JSON, XML or a web page is read from the
    body. ``parser`` forces one XML path (tests, benchmarks); "auto" tries the fast one and
    falls back to feedparser.

    ``include_content=False`` leaves every entry's ``content_html`` out (``None``), and
    ``max_entries`` keeps only the first entries (never more than :data:`MAX_ENTRIES`): both
    as if done afterwards, but without the work.

    Raises :class:`NotAFeedError` for a web page (try discovery on it), and
    :class:`FeedParseError` for anything else unreadable or unsafe.
    """
    if not body or body.isspace():
        raise FeedParseError("The feed is empty.")
    max_entries = MAX_ENTRIES if max_entries is None else min(max_entries, MAX_ENTRIES)
    body = normalise(body, content_type)
    read = PARSERS.get(sniff(body))
    if read is None:
        raise NotAFeedError("This is a web page, not a feed.")
    return capped_feed(read(body, url, content_type, parser, include_content, max_entries))


def _parse_json(
    body: bytes,
    url: str,
    content_type: str | None,
    parser: ParserChoice,
    include_content: bool,
    max_entries: int,
) -> ParsedFeed:
    return parse_json_feed(body, url=url, include_content=include_content, max_entries=max_entries)


def _parse_xml(
    body: bytes,
    url: str,
    content_type: str | None,
    parser: ParserChoice,
    include_content: bool,
    max_entries: int,
) -> ParsedFeed:
    if parser != "feedparser":
        try:
            return parse_fast(body, url=url, include_content=include_content, max_entries=max_entries)
        except NeedsFallbackError as e:
            if parser == "fastfeedparser":
                raise FeedParseError(f"This feed could not be read: {e}") from e
            log.debug("feed=%s fast parser declined, using feedparser: %s", url, e)
    return parse_fallback(
        body, url=url, content_type=content_type, include_content=include_content, max_entries=max_entries
    )


Parser = Callable[[bytes, str, str | None, ParserChoice, bool, int], ParsedFeed]

#: The parser of each kind of body :func:`~bot.feeds._sniff.sniff` tells apart (a web page has
#: none: it is :class:`NotAFeedError`). A new format is a kind sniffed and a parser here.
PARSERS: dict[Kind, Parser] = {"json": _parse_json, "xml": _parse_xml}
