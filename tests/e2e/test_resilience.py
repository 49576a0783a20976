"""Faults the bot must ride out: gateway drops while commands run, and 429 bursts on posting."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from tests.e2e.harness import Harness
from tests.e2e.test_feeds import FAST_POLLING, subscribe, titles, wait_until
from tests.feedserver import FeedServer, item
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


@pytest.mark.bot_config(FAST_POLLING)
async def test_burst_of_429s_on_posting_delays_but_loses_nothing(newsdesk: Harness) -> None:
    async with FeedServer() as feeds:
        feed = feeds.add_feed("/news.xml", title="Busy", items=[item(1)])
        news = newsdesk.emu.default.news
        await subscribe(newsdesk, feeds.url("/news.xml"), news)
        await wait_until(lambda: titles(newsdesk, news) == ["Story 1"], what="the first item")

        injection = newsdesk.inject(f"POST /channels/{news.id}/messages", 429, count=4, retry_after=0.5)
        feed.publish(*(item(n) for n in range(2, 8)))
        await wait_until(lambda: len(titles(newsdesk, news)) >= 7, timeout_s=60, what="all stories")
        await asyncio.sleep(2)
        assert titles(newsdesk, news) == [f"Story {n}" for n in range(1, 8)]
        refused = [
            r for r in newsdesk.emu.recorder.calls("POST", f"/channels/{news.id}/messages") if r.status == 429
        ]
        assert len(refused) == 4, injection
