"""/feed end to end: the real bot process, the Discord emulator and a local feed server."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from tests.e2e.feed_support import FAST_POLLING, subscribe, titles, wait_until
from tests.e2e.harness import Harness
from tests.feedserver import FeedServer, item

pytestmark = pytest.mark.e2e


@pytest.fixture
def bot_config(request: pytest.FixtureRequest) -> dict[str, dict[str, Any]]:
    """Fast polling, plus what a test's ``bot_config`` marker adds."""
    marker = request.node.get_closest_marker("bot_config")
    return {**FAST_POLLING, **(marker.args[0] if marker else {})}


async def test_subscribe_then_each_new_item_is_posted_once(newsdesk: Harness, feeds: FeedServer) -> None:
    feed = feeds.add_feed("/news.xml", title="Local News", items=[item(n) for n in range(5, 0, -1)])
    news = newsdesk.emu.default.news
    result = await subscribe(newsdesk, feeds.url("/news.xml"), news)
    assert "Local News" in result.text
    assert "Story 5" in result.text  # the preview of the newest item

    # First add: only the newest item, no flood.
    await wait_until(lambda: titles(newsdesk, news) == ["Story 5"], what="the newest item")

    feed.publish(item(6), item(7))
    await wait_until(lambda: len(titles(newsdesk, news)) == 3, what="two new items")
    await asyncio.sleep(3)  # a few more polls: nothing is posted twice
    assert titles(newsdesk, news) == ["Story 5", "Story 6", "Story 7"]  # oldest first

    posts = newsdesk.emu.recorder.calls("POST", f"/channels/{news.id}/messages")
    assert posts and all(r.body.get("allowed_mentions") == {"parse": []} for r in posts)
    assert all(r.body.get("nonce") and r.body.get("enforce_nonce") for r in posts)
    message = newsdesk.messages(news)[-1]
    embed = message["embeds"][0]
    assert embed["url"] == "https://example.org/story/7"
    assert embed["author"]["name"] == "Local News"
    assert "Summary of story 7." in embed["description"]
    assert embed["timestamp"].startswith("2026-01-01T19:00:00")


async def test_a_member_without_permission_is_refused(newsdesk: Harness, feeds: FeedServer) -> None:
    feeds.add_feed("/news.xml", items=[item(1)])
    result = await newsdesk.invoke(
        "feed add", {"url": feeds.url("/news.xml")}, user=newsdesk.member, timeout_s=20
    )
    assert result.ephemeral
    assert "Manage Channels" in result.text
    listing = await newsdesk.invoke("feed list", {}, user=newsdesk.admin)
    assert "No feeds yet" in listing.text
    assert feeds.hits["/news.xml"] == 0


async def test_manage_channels_permission_may_subscribe(newsdesk: Harness, feeds: FeedServer) -> None:
    feeds.add_feed("/news.xml", title="Local News", items=[item(1)])
    result = await newsdesk.invoke("feed add", {"url": feeds.url("/news.xml")}, user=newsdesk.manager)
    assert result.ephemeral and "now follows" in result.text, result.text


@pytest.mark.bot_config({"commands": {"manager_role": "eddie-editor-role"}})
async def test_configured_role_may_subscribe(newsdesk: Harness, feeds: FeedServer) -> None:
    feeds.add_feed("/news.xml", title="Local News", items=[item(1)])
    # A member whose only role (named after them) grants no permission at all.
    editor = await newsdesk.emu.add_member("eddie-editor", permissions=0)
    result = await newsdesk.invoke("feed add", {"url": feeds.url("/news.xml")}, user=editor)
    assert result.ephemeral and "now follows" in result.text, result.text


async def test_site_url_discovery_and_list_remove(newsdesk: Harness, feeds: FeedServer) -> None:
    feeds.add_feed("/feed.xml", title="Site Feed", items=[item(2), item(1)])
    feeds.html_page("/", feed_links=[("/feed.xml", "application/rss+xml")], title="The Site")
    news = newsdesk.emu.default.news
    result = await subscribe(newsdesk, feeds.url("/"), news)
    assert "Site Feed" in result.text

    listing = await newsdesk.invoke("feed list", {}, user=newsdesk.admin)
    assert "Site Feed" in listing.text and f"<#{news.id}>" in listing.text

    choices = await newsdesk.autocomplete(
        "feed remove", {"subscription": "site"}, "subscription", user=newsdesk.admin
    )
    assert choices.choices and "Site Feed" in choices.choices[0]["name"]
    removed = await newsdesk.invoke(
        "feed remove", {"subscription": choices.choices[0]["value"]}, user=newsdesk.admin
    )
    assert removed.ephemeral and "Removed" in removed.text
    listing = await newsdesk.invoke("feed list", {}, user=newsdesk.admin)
    assert "No feeds yet" in listing.text


async def test_bad_feed_gives_a_clear_error(newsdesk: Harness, feeds: FeedServer) -> None:
    feeds.serve_raw(
        "/bomb.xml",
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        "<rss><channel><title>&b;</title></channel></rss>",
    )
    feeds.fail("/gone.xml", 410)
    for path in ("/bomb.xml", "/gone.xml"):
        result = await newsdesk.invoke(
            "feed add", {"url": feeds.url(path)}, user=newsdesk.admin, timeout_s=20
        )
        assert result.ephemeral and result.errors == []
        assert len(result.text) < 400
    listing = await newsdesk.invoke("feed list", {}, user=newsdesk.admin)
    assert "No feeds yet" in listing.text


@pytest.mark.emulator(interaction_deadline_s=3.0)
async def test_killed_during_delivery_each_item_still_posted_exactly_once(
    newsdesk: Harness, feeds: FeedServer
) -> None:
    feed = feeds.add_feed("/news.xml", title="Busy News", items=[item(1)])
    news = newsdesk.emu.default.news
    await subscribe(newsdesk, feeds.url("/news.xml"), news)
    await wait_until(lambda: titles(newsdesk, news) == ["Story 1"], what="the first item")

    # Twelve new stories: Discord's 5-per-5-s channel limit spreads their delivery over seconds.
    feed.publish(*(item(n) for n in range(2, 14)))
    await wait_until(lambda: len(titles(newsdesk, news)) >= 3, what="delivery to start")
    assert await newsdesk.kill_bot() == -9
    await newsdesk.start_bot()
    expected = [f"Story {n}" for n in range(1, 14)]
    await wait_until(lambda: len(titles(newsdesk, news)) >= 13, timeout_s=60, what="all stories")
    await asyncio.sleep(2)
    assert titles(newsdesk, news) == expected


async def import_opml(newsdesk: Harness, upload: dict[str, Any], channel: Any) -> str:
    """Run /feed import and return its final report (the reply is edited with progress first)."""
    rec = await newsdesk.emu.dispatch_command(
        "feed import", {"file": upload, "channel": channel}, user=newsdesk.admin
    )
    await wait_until(
        lambda: "done:" in ((rec.original or {}).get("content") or ""), timeout_s=60, what="the import report"
    )
    assert rec.errors == []
    assert rec.original is not None and rec.original["flags"] & 64  # private to the importer
    return rec.original["content"]


async def test_opml_import_and_export_round_trip(newsdesk: Harness, feeds: FeedServer) -> None:
    feeds.add_feed("/a.xml", title="Feed A", items=[item(1)])
    feeds.add_feed("/b.xml", title="Feed B", items=[item(2)])
    opml = f"""<?xml version="1.0"?><opml version="2.0"><head><title>mine</title></head><body>
<outline text="News"><outline type="rss" text="A" xmlUrl="{feeds.url("/a.xml")}"/>
<outline type="rss" text="B" xmlUrl="{feeds.url("/b.xml")}"/></outline>
<outline type="rss" text="Broken" xmlUrl="{feeds.url("/missing.xml")}"/>
<outline type="rss" text="Not a URL" xmlUrl="nope"/></body></opml>"""
    upload = newsdesk.emu.upload("feeds.opml", opml.encode(), "text/x-opml")
    news = newsdesk.emu.default.news
    text = await import_opml(newsdesk, upload, news)
    assert "2 added" in text, text
    assert "could not be added" in text

    exported = await newsdesk.invoke("feed export", {}, user=newsdesk.admin)
    assert exported.attachments and exported.attachments[0]["filename"].endswith(".opml")
    async with aiohttp.ClientSession() as session, session.get(exported.attachments[0]["url"]) as response:
        data = await response.text()
    assert feeds.url("/a.xml") in data and feeds.url("/b.xml") in data
    assert "missing.xml" not in data

    # Importing the export again into the same channel adds nothing new.
    again = newsdesk.emu.upload("again.opml", data.encode(), "text/x-opml")
    text = await import_opml(newsdesk, again, news)
    assert "0 added, 2 already followed" in text, text


async def test_unreachable_channel_pauses_its_subscriptions(newsdesk: Harness, feeds: FeedServer) -> None:
    from tests.emulator import permissions as p

    feed = feeds.add_feed("/news.xml", title="Local News", items=[item(1)])
    news = newsdesk.emu.default.news
    await subscribe(newsdesk, feeds.url("/news.xml"), news)
    await wait_until(lambda: titles(newsdesk, news) == ["Story 1"], what="the first item")

    bot_member = newsdesk.emu.default.bot_member
    await newsdesk.emu.set_overwrite(news, bot_member, deny=p.Perm.SEND_MESSAGES)
    feed.publish(item(2))
    await wait_until(
        lambda: any(
            r.status == 403 for r in newsdesk.emu.recorder.calls("POST", f"/channels/{news.id}/messages")
        ),
        what="a refused post",
    )

    async def paused() -> bool:
        listing = await newsdesk.invoke("feed list", {}, user=newsdesk.admin)
        return "paused" in listing.text

    deadline = time.monotonic() + 15
    while not await paused():
        assert time.monotonic() < deadline, "the subscription was not paused"
        await asyncio.sleep(0.5)
    assert titles(newsdesk, news) == ["Story 1"]

    # Access comes back and a manager resumes: the held post goes out, once.
    await newsdesk.emu.set_overwrite(news, bot_member)
    choices = await newsdesk.autocomplete(
        "feed resume", {"subscription": ""}, "subscription", user=newsdesk.admin
    )
    resumed = await newsdesk.invoke(
        "feed resume", {"subscription": choices.choices[0]["value"]}, user=newsdesk.admin
    )
    assert "Resumed" in resumed.text
    await wait_until(lambda: titles(newsdesk, news) == ["Story 1", "Story 2"], what="the held post")
