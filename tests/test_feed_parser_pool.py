"""ParserPool: feeds parsed in worker processes read exactly as in-process ones; a feed that
breaks the parser fails as a feed error; while no worker can run, feeds wait (they are never read
in the bot's own process)."""

from __future__ import annotations

import asyncio

import pytest

from bot.errors import FeedError, FeedParseError, NotAFeedError
from bot.feeds.jobs import parse_with_keys
from bot.feeds.parser_pool import InThreadParser, ParserPool, ParserUnavailableError
from tests import workerfns
from tests.feedserver import synthetic_feed

URL = "http://feeds.example/f.xml"
BROKEN = b"<rss><channel><title>T &amp; co</title><item><title>A & B</title><link>/a</link></item>"
BOMB = b'<?xml version="1.0" encoding="cp037"?>' + (
    '<!DOCTYPE rss [<!ENTITY a "xxxxxxxxxx">]>'
    '<rss version="2.0"><channel><title>&a;&a;</title></channel></rss>'
).encode("cp037")
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


async def test_without_workers_a_feed_is_not_read_in_the_bots_process() -> None:
    """No worker can start: the feed waits for one (a temporary failure of this check, a feed
    error), it is not parsed in the bot's process instead; once workers can start, it reads.
    """
    pool = ParserPool(1, warm_up="tests.workerfns:warm_up_unless_blocked", restart_delay_s=0.1)
    try:
        with workerfns.workers_blocked() as blocked:
            for body in (synthetic_feed(2), BOMB):
                with pytest.raises(ParserUnavailableError, match="not available right now") as info:
                    await pool.parse(body, URL, None)
                assert isinstance(info.value, FeedError)
            blocked.unlink()
            parsed, keys = await pool.parse(synthetic_feed(2), URL, None)
            assert len(parsed.entries) == len(keys) == 20 and pool.worker_pids
    finally:
        await pool.close()
    closed = ParserPool(1)
    await closed.close()
    with pytest.raises(ParserUnavailableError):
        await closed.parse(synthetic_feed(2), URL, None)


async def test_a_bomb_in_ebcdic_is_refused_in_the_worker() -> None:
    async with ParserPool(1) as pool:
        with pytest.raises(FeedParseError, match="character encoding 'cp037'"):
            await pool.parse(BOMB, URL, "application/xml")


async def test_the_in_thread_parser_gives_the_same() -> None:
    body = synthetic_feed(3)
    assert await InThreadParser().parse(body, URL, None) == parse_with_keys(body, URL, None)
