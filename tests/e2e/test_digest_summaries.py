"""A digest's headline and summary end to end: the real bot, the Discord emulator, local feeds
and a loopback page server. A page someone /fetched is cached; the digest's entry for its story
then shows that page's summary when its article carries the story's best headline."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web

from tests.e2e.feed_support import FAST_POLLING, subscribe, wait_until
from tests.e2e.harness import Harness
from tests.feedserver import FeedServer, Item
from tests.loopback import serve

pytestmark = [pytest.mark.e2e, pytest.mark.bot_config({**FAST_POLLING, "stories": {"idle_s": 0.5}})]

OUTLETS = ["alpha", "beta", "gamma"]
TITLES = {
    # Alpha's is the most informative once its outlet suffix is dropped; beta's is a ticker.
    "alpha": "Magnitude 6.8 earthquake strikes off the coast of Chile - Alpha News",
    "beta": "WATCH: Strong 6.8 magnitude earthquake hits off Chile coast",
    "gamma": "Chile earthquake: magnitude 6.8 quake strikes off the coast",
}


def page(outlet: str) -> str:
    # Every sentence names the outlet, so whichever the extractive summary picks, it tells whose.
    body = "".join(
        f"<p>The {outlet} desk reports that the earthquake struck {n} kilometres off the coast of Chile, "
        f"and the {outlet} desk adds that no damage was reported in the towns nearby on Saturday.</p>"
        for n in range(10, 16)
    )
    return (
        f"<!doctype html><html lang='en'><head><title>Quake | {outlet}</title></head>"
        f"<body><article><h1>Quake off Chile</h1>{body}</article></body></html>"
    )


@pytest.fixture
async def pages() -> AsyncIterator[str]:
    async def handle(request: web.Request) -> web.Response:
        return web.Response(text=page(request.match_info["outlet"]), content_type="text/html")

    app = web.Application()
    app.router.add_get("/{outlet}/quake", handle)
    async with serve(app) as base_url:
        yield base_url


def bot_messages(newsdesk: Harness, channel: Any) -> list[dict[str, Any]]:
    return [m for m in newsdesk.messages(channel) if m["author"].get("bot")]


async def test_digest_entry_shows_the_best_sources_fetched_page(
    newsdesk: Harness, feeds: FeedServer, pages: str
) -> None:
    served = {
        outlet: feeds.add_feed(
            f"/{outlet}.xml",
            title=f"{outlet.title()} News",
            site_url=f"https://{outlet}.example/",
            items=[
                Item(
                    guid=f"{outlet}-old",
                    title=f"{outlet.title()} opens a new office downtown",
                    link=f"https://{outlet}.example/office",
                    summary="An office.",
                    published=datetime.now(UTC) - timedelta(days=3),
                )
            ],
        )
        for outlet in OUTLETS
    }
    news = newsdesk.emu.default.news
    for outlet in OUTLETS:
        await subscribe(newsdesk, feeds.url(f"/{outlet}.xml"), news)
    for outlet in OUTLETS:
        served[outlet].publish(
            Item(
                guid=f"{outlet}-quake",
                title=TITLES[outlet],
                link=f"{pages}/{outlet}/quake",
                summary=f"Feed teaser from {outlet}.",
                published=datetime.now(UTC),
            )
        )
    await wait_until(lambda: len(bot_messages(newsdesk, news)) == 6, timeout_s=40, what="the items")

    before = await newsdesk.invoke("digest preview", {"channel": news}, user=newsdesk.member)
    assert "Feed teaser from alpha." in before.text  # nothing cached yet: the feed's summary

    # Two readers /fetch two of the story's links: the pages are now in the article cache.
    for outlet in ("gamma", "alpha"):
        fetched = await newsdesk.invoke("fetch", {"url": f"{pages}/{outlet}/quake"}, timeout_s=30)
        assert fetched.errors == [], fetched

    after = await newsdesk.invoke("digest preview", {"channel": news}, user=newsdesk.member)
    text = after.text
    assert "Magnitude 6.8 earthquake strikes off the coast of Chile" in text
    assert "Alpha News" not in text.split("reported by")[0]  # the suffix is not in the headline
    assert "WATCH:" not in text
    assert "The alpha desk reports" in text or "the alpha desk adds" in text, text
    assert "gamma desk" not in text and "Feed teaser" not in text
