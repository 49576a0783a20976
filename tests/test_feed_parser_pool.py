"""ParserPool: feeds parsed in worker processes read exactly as in-process ones; a feed that
breaks the parser fails as a feed error, and a pool that cannot run never fails a feed."""

from __future__ import annotations

import asyncio

import pytest

from bot.errors import FeedParseError, NotAFeedError
from bot.feeds.jobs import parse_with_keys
from bot.feeds.parser_pool import InThreadParser, ParserPool
from tests.feedserver import synthetic_feed

URL = "http://feeds.example/f.xml"
BROKEN = b"<rss><channel><title>T &amp; co</title><item><title>A & B</title><link>/a</link></item>"
PAGE = b"<!doctype html><html><head><title>A page</title></head><body><p>Hello</p></body></html>"


async def test_workers_parse_as_the_bots_own_process_does() -> None:
    bodies = [synthetic_feed(n) for n in range(30)] + [BROKEN]
    async with ParserPool(2) as pool:
        results = await asyncio.gather(*(pool.parse(body, URL, None) for body in bodies))
        assert len(pool.worker_pids) == 2
    assert results == [parse_with_keys(body, URL, None) for body in bodies]
    assert (
        results[-1][0].parser == "feedparser" and results[-1][0].entries[0].link == "http://feeds.example/a"
    )


async def test_a_page_is_not_a_feed_across_the_process_boundary() -> None:
    async with ParserPool(1) as pool:
        with pytest.raises(NotAFeedError):
            await pool.parse(PAGE, URL, "text/html")


async def test_a_feed_over_the_time_limit_is_a_parse_error_and_the_next_one_reads() -> None:
    huge = synthetic_feed(1, items=3000)
    async with ParserPool(1, time_limit_s=0.01) as pool:
        with pytest.raises(FeedParseError, match=r"longer than 0\.01 seconds"):
            await pool.parse(huge, URL, None)
    async with ParserPool(1) as pool:
        parsed, keys = await pool.parse(huge, URL, None)
        assert len(parsed.entries) == len(keys) == 500  # MAX_ENTRIES


async def test_without_workers_feeds_are_parsed_in_a_thread_not_failed() -> None:
    pool = ParserPool(1)
    await pool.close()  # no worker will ever run
    parsed, keys = await pool.parse(synthetic_feed(2), URL, None)
    assert len(parsed.entries) == len(keys) == 20


async def test_the_in_thread_parser_gives_the_same() -> None:
    body = synthetic_feed(3)
    assert await InThreadParser().parse(body, URL, None) == parse_with_keys(body, URL, None)
