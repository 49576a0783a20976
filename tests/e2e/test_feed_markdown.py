"""Feed summaries posted as clean Discord Markdown (issue 13, point 6), end to end: the real bot
process, the Discord emulator and a local feed server. A summary written in HTML shows its links
as masked links, its list and quote, and its first image as the embed's image, on /feed add and
on later polls; an item with no picture of its own gets the page's og:image when the
subscription extracts articles. /newsdesk format previews the server default (point 1).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e import feed_support
from tests.e2e.feed_support import FAST_POLLING, wait_until
from tests.e2e.harness import Harness
from tests.feedserver import FeedServer, item
from tests.markdown_view import masked_link_targets, pings

pytestmark = pytest.mark.e2e

SUMMARY = (
    '<p>The council <b>voted</b> on <a href="https://city.example/budget">the budget</a>.</p>'
    '<img src="https://city.example/img/first.jpg"><ul><li>Trams</li><li>Buses</li></ul>'
    "<blockquote>We did it</blockquote>"
    '<p><a href="https://evil.example/">[fake](https://bank.example) @everyone</a></p>'
    '<img src="https://city.example/img/second.jpg">'
)
PAGE = """<!doctype html><html><head><title>Story</title>
<meta property="og:image" content="{og}"></head><body><article><h1>Story</h1>{paragraphs}
</article></body></html>"""


@pytest.fixture
def bot_config() -> dict[str, dict[str, Any]]:
    return FAST_POLLING


def embeds(newsdesk: Harness, channel: Any) -> list[dict[str, Any]]:
    return [m["embeds"][0] for m in newsdesk.messages(channel) if m.get("embeds")]


async def test_posts_show_markdown_links_and_the_image(newsdesk: Harness, feeds: FeedServer) -> None:
    feed = feeds.add_feed("/city.xml", title="City Post", items=[item(1, summary=SUMMARY)])
    news = newsdesk.emu.default.news
    added = await feed_support.subscribe(newsdesk, feeds.url("/city.xml"), news)
    assert "now follows" in added.text, added.text
    await wait_until(lambda: len(embeds(newsdesk, news)) == 1, what="the first post")
    (first,) = embeds(newsdesk, news)
    text = first["description"]
    assert text.startswith("The council **voted** on [the budget](https://city.example/budget).\n\n"), text
    assert "- Trams\n- Buses" in text and "> We did it" in text
    # The link's hostile text shows as written: one live link, to where it really goes.
    assert masked_link_targets(text) == ["https://city.example/budget"]
    assert "https://evil.example/" in text and "bank.example" not in text and pings(text) == []
    assert "img" not in text and first["image"]["url"] == "https://city.example/img/first.jpg"

    # A later item, by the poller, in a channel that extracts: no picture in the feed, so the
    # page's og:image; the plain channel shows none.
    paragraphs = "".join(f"<p>Paragraph {n} of a long story about trams and buses.</p>" for n in range(8))
    feeds.serve_raw("/story/2", PAGE.format(og=feeds.url("/og.jpg"), paragraphs=paragraphs), "text/html")
    general = newsdesk.emu.default.general
    extracting = await newsdesk.invoke(
        "feed add", {"url": feeds.url("/city.xml"), "channel": general, "extract": True},
        user=newsdesk.admin, timeout_s=30,
    )  # fmt: skip
    assert extracting.errors == [], extracting
    await wait_until(lambda: len(embeds(newsdesk, general)) == 1, what="the extracting channel's first post")
    feed.publish(item(2, link=feeds.url("/story/2"), summary="<p>Trams <em>tonight</em>.</p>"))
    await wait_until(
        lambda: len(embeds(newsdesk, news)) == 2 and len(embeds(newsdesk, general)) == 2,
        timeout_s=40, what="item 2 in both channels",
    )  # fmt: skip
    plain, extracted = embeds(newsdesk, news)[-1], embeds(newsdesk, general)[-1]
    assert plain["description"] == "Trams *tonight*." and "image" not in plain
    assert extracted["image"]["url"] == feeds.url("/og.jpg")


async def test_server_format_is_previewed_before_it_is_saved(newsdesk: Harness, feeds: FeedServer) -> None:
    feeds.add_feed("/city.xml", title="City Post", items=[item(1, title="")])
    news = newsdesk.emu.default.news
    await feed_support.subscribe(newsdesk, feeds.url("/city.xml"), news)
    await wait_until(lambda: len(newsdesk.messages(news)) == 1, what="the first post")
    preview = await newsdesk.invoke(
        "newsdesk format",
        {"preset": "headline", "title": "{source}", "url": "{image}", "preview": True},
        user=newsdesk.admin,
    )
    assert preview.errors == [] and preview.ephemeral and "nothing is saved" in preview.text, preview
    (shown,) = preview.embeds
    assert shown["title"] == "City Post"
    current = await newsdesk.invoke("newsdesk format", {}, user=newsdesk.admin)
    assert "No server default format is set" in current.text, current.text
    # Saved: the reply shows the newest item in it; compact with no title shows no empty bold.
    saved = await newsdesk.invoke("newsdesk format", {"preset": "compact"}, user=newsdesk.admin)
    assert "Server default format saved" in saved.text, saved.text
    assert "https://example.org/story/1" in saved.text and "****" not in saved.text, saved.text
