"""Faults the bot must ride out: gateway drops while commands run, 429 bursts on posting, and a
crash between Discord creating a post and the bot learning of it."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.e2e.harness import Harness
from tests.e2e.test_feeds import FAST_POLLING, subscribe, titles, wait_until
from tests.feedserver import FeedServer, ServedFeed, item
from tests.loopback import serve

pytestmark = pytest.mark.e2e

PAGE = """<!doctype html><html lang="en"><head><title>Storm closes the harbour</title></head><body>
<article><h1>Storm closes the harbour</h1>
<p>A winter storm closed the harbour on Monday, stranding two ferries and dozens of fishing boats
while coast guard crews checked the sea walls along the northern shore for damage overnight.</p>
<p>Officials said the harbour would reopen once the wind dropped below gale force, probably by
Wednesday morning, and asked residents to stay away from the piers until then.</p></article>
</body></html>"""


@pytest.fixture
async def slow_page() -> AsyncIterator[str]:
    async def handler(request: web.Request) -> web.Response:
        await asyncio.sleep(1.5)
        return web.Response(text=PAGE, content_type="text/html")

    app = web.Application()
    app.router.add_get("/{name}", handler)
    async with serve(app) as base:
        yield base


async def test_gateway_drop_while_commands_run_loses_and_repeats_nothing(
    newsdesk: Harness, slow_page: str
) -> None:
    emu = newsdesk.emu
    # Three commands in flight (each page takes 1.5 s), then the connection drops under them.
    in_flight = [
        await emu.dispatch_command("fetch", {"url": f"{slow_page}/a{n}"}, user=newsdesk.member)
        for n in range(3)
    ]
    await newsdesk.drop_gateway()
    await emu.gateway.wait_for(lambda: any(g.event == "RESUMED" for g in emu.recorder.events()), timeout_s=15)
    # And three more once it is back.
    after = [await emu.dispatch_command("fetch", {"url": f"{slow_page}/b{n}"}) for n in range(3)]

    results = [await emu.await_result(rec, timeout_s=30, settle=1.0) for rec in in_flight + after]
    for result in results:
        assert result.errors == [], result.timeline
        assert result.ack_ms is not None and result.ack_ms < 3000
        assert result.embeds and result.embeds[0]["title"] == "Storm closes the harbour"
        # Exactly one answer: the deferral filled once, no extra follow-up.
        assert len(result.followups) == 1, result.timeline
    assert emu.gateway.identifies == 1  # resumed, not restarted


async def follow_busy_feed(newsdesk: Harness, feeds: FeedServer) -> tuple[ServedFeed, Any]:
    """A feed of one story followed in #news, its first story posted."""
    feed = feeds.add_feed("/news.xml", title="Busy", items=[item(1)])
    news = newsdesk.emu.default.news
    await subscribe(newsdesk, feeds.url("/news.xml"), news)
    await wait_until(lambda: titles(newsdesk, news) == ["Story 1"], what="the first item")
    return feed, news


@pytest.mark.bot_config(FAST_POLLING)
async def test_burst_of_429s_on_posting_delays_but_loses_nothing(newsdesk: Harness) -> None:
    async with FeedServer() as feeds:
        feed, news = await follow_busy_feed(newsdesk, feeds)

        injection = newsdesk.inject(f"POST /channels/{news.id}/messages", 429, count=4, retry_after=0.5)
        feed.publish(*(item(n) for n in range(2, 8)))
        await wait_until(lambda: len(titles(newsdesk, news)) >= 7, timeout_s=60, what="all stories")
        await asyncio.sleep(2)
        assert titles(newsdesk, news) == [f"Story {n}" for n in range(1, 8)]
        refused = [
            r for r in newsdesk.emu.recorder.calls("POST", f"/channels/{news.id}/messages") if r.status == 429
        ]
        assert len(refused) == 4, injection


CLOCK = Path(tempfile.mkdtemp(prefix="newsdesk-e2e-clock-")) / "clock"


@pytest.mark.bot_config({**FAST_POLLING, "testing": {"clock_file": str(CLOCK)}})
async def test_a_post_whose_answer_was_lost_is_not_repeated_after_a_long_outage(newsdesk: Harness) -> None:
    async with FeedServer() as feeds:
        feed, news = await follow_busy_feed(newsdesk, feeds)

        # Discord creates Story 2 but the bot never hears back, and dies waiting.
        newsdesk.emu.withhold_create_answers(1)
        feed.publish(item(2))
        await wait_until(lambda: titles(newsdesk, news) == ["Story 1", "Story 2"], what="Story 2 created")
        assert await newsdesk.kill_bot() == -9

        # It comes back ten minutes later, when Discord no longer remembers the nonce.
        newsdesk.emu.messages.forget_nonces()
        CLOCK.write_text((datetime.now(UTC) + timedelta(minutes=10)).isoformat())
        await newsdesk.start_bot()
        feed.publish(item(3))
        await wait_until(lambda: len(titles(newsdesk, news)) >= 3, timeout_s=60, what="Story 3")
        await asyncio.sleep(2)
        assert titles(newsdesk, news) == ["Story 1", "Story 2", "Story 3"]
        # It looked in the channel before sending Story 2 again, and found it there.
        assert newsdesk.emu.recorder.calls("GET", f"/channels/{news.id}/messages")
