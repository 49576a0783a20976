"""Feed and page text shows as written in the real bot's posts: no masked link, formatting or
ping of its own (end to end: the bot process, the Discord emulator, a feed and a page server).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from tests.e2e.feed_support import FAST_POLLING, subscribe, titles, wait_until
from tests.e2e.harness import Harness
from tests.feedserver import FeedServer, item
from tests.loopback import serve
from tests.markdown_view import bold_spans, masked_link_targets, pings, shown

pytestmark = pytest.mark.e2e

GIFT = "[https://discord.com/gifts/abc](https://evil.example/steal)"
HOSTILE_TITLE = "**Free** nitro [x](https://evil.example/y) @everyone"


@pytest.fixture
def bot_config() -> dict[str, dict[str, Any]]:
    return FAST_POLLING


def sent_bodies(newsdesk: Harness, channel: Any) -> list[dict[str, Any]]:
    return [c.body for c in newsdesk.emu.recorder.calls("POST", f"/channels/{channel.id}/messages") if c.body]


async def test_feed_post_and_paused_notice_show_feed_text_as_written(
    newsdesk: Harness, feeds: FeedServer
) -> None:
    news = newsdesk.emu.default.news
    feeds.add_feed("/prize.xml", title=HOSTILE_TITLE, items=[item(1, summary=f"Claim it: {GIFT}")])
    added = await subscribe(newsdesk, feeds.url("/prize.xml"), news)
    assert masked_link_targets(added.text) == [] and pings(added.text) == []

    await wait_until(lambda: titles(newsdesk, news) == ["Story 1"], what="the feed post")
    post = newsdesk.messages(news)[0]["embeds"][0]
    assert masked_link_targets(post["description"]) == []
    assert shown(post["description"]) == f"Claim it: {GIFT}"
    assert post["url"] == "https://example.org/story/1"

    feeds.fail("/prize.xml", 410)
    await wait_until(lambda: titles(newsdesk, news)[-1:] == ["Feed paused"], what="the pause notice")
    notice = newsdesk.messages(news)[-1]["embeds"][0]["description"]
    assert masked_link_targets(notice) == [] and pings(notice) == []
    assert bold_spans(notice) == 2  # only the bot's own bold around the feed's name
    assert f"**{HOSTILE_TITLE}**" in shown(notice) and "410 Gone" in notice
    assert all(body.get("allowed_mentions") == {"parse": []} for body in sent_bodies(newsdesk, news))


PAGE = """<!doctype html><html lang="en"><head><title>Prize draw | City Post</title>
<meta property="og:title" content="Prize draw [x](https://evil.example/t)">
<meta property="og:site_name" content="City Post"></head><body><article><h1>Prize draw</h1>
<p>The city council announced on Tuesday that every resident may claim a prize online at
{gift} before the end of the month, officials said in a statement.</p>
<p>Residents who asked about the scheme were told that the prize draw is open to everyone living
in the northern districts, and that the council will publish the winners next week.</p>
<p>Critics of the council said the announcement was confusing and asked for the rules of the
draw to be printed in the local newspaper, so that older residents can read them too.</p>
</article></body></html>"""


@pytest.fixture
async def page_url() -> AsyncIterator[str]:
    app = web.Application()

    async def prize(request: web.Request) -> web.Response:
        return web.Response(text=PAGE.format(gift=GIFT), content_type="text/html")

    app.router.add_get("/prize", prize)
    async with serve(app) as base:
        yield f"{base}/prize"


async def test_fetch_shows_a_masked_link_in_page_text_as_written(newsdesk: Harness, page_url: str) -> None:
    result = await newsdesk.invoke("fetch", {"url": page_url}, timeout_s=30)
    assert result.errors == [], result
    embed = result.embeds[0]
    assert masked_link_targets(embed["title"]) == [] and "[x](https://evil.example/t)" in shown(
        embed["title"]
    )
    assert embed["url"] == page_url  # the bot's own link to the page is kept

    full = await newsdesk.invoke("fetch", {"url": page_url, "full": True}, timeout_s=30)
    assert full.errors == [], full
    text = full.embeds[0]["description"]
    assert masked_link_targets(text) == []
    assert GIFT in shown(text).replace("\n", " ")


@pytest.fixture
async def odd_status_url() -> AsyncIterator[str]:
    """Answers an unregistered status with the server's own reason phrase (?reason=...)."""
    app = web.Application()

    async def odd(request: web.Request) -> web.Response:
        return web.Response(status=520, reason=request.query["reason"], text="error")

    app.router.add_get("/odd", odd)
    async with serve(app) as base:
        yield f"{base}/odd"


async def test_a_reason_phrase_with_a_link_is_not_shown_in_replies(
    newsdesk: Harness, odd_status_url: str
) -> None:
    hostile = f"{odd_status_url}?reason=Claim+your+[free+Nitro](https://evil.example/x)+@everyone"
    for command, user in (("fetch", newsdesk.member), ("feed add", newsdesk.admin)):
        result = await newsdesk.invoke(command, {"url": hostile}, user=user, timeout_s=30)
        assert result.errors == [] and result.ephemeral, result
        assert result.text == "The site answered 520.", result.text
    # Plain words are the server's to say.
    plain = await newsdesk.invoke(
        "fetch", {"url": f"{odd_status_url}?reason=Web+Server+Is+Down"}, timeout_s=30
    )
    assert plain.text == "The site answered 520 Web Server Is Down.", plain.text
