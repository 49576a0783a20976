"""/feed filter, list, resume, autocomplete and the feed picker, end to end: the real bot
process, the Discord emulator and a local feed server, as a server admin sees them.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import feed_support
from tests.e2e.feed_support import FAST_POLLING, titles, wait_until
from tests.e2e.harness import Harness, harness
from tests.emulator import Emulator, InteractionResult, Perm
from tests.emulator.world import default_world
from tests.feedserver import FeedServer, item

pytestmark = pytest.mark.e2e

#: /feed list shows this many feeds a page (cogs.feed_views.LINES_PER_PAGE).
PAGE_SIZE = 10
RELATIVE_TIME = r"<t:\d+:R>"


@pytest.fixture
def bot_config() -> dict[str, dict[str, Any]]:
    return FAST_POLLING


# --- helpers ------------------------------------------------------------------------------------


async def subscribe(newsdesk: Harness, url: str, channel: Any) -> InteractionResult:
    result: InteractionResult = await feed_support.subscribe(newsdesk, url, channel)
    assert "now follows" in result.text, result.text
    return result


async def choices(
    newsdesk: Harness, typed: str, *, command: str = "feed remove", user: Any = None
) -> list[dict[str, Any]]:
    """What Discord shows under the ``subscription`` option while ``typed`` is in it."""
    result = await newsdesk.autocomplete(
        command, {"subscription": typed}, "subscription", user=user or newsdesk.admin
    )
    assert result.errors == [] and result.choices is not None, result
    return result.choices


async def subscription_of(newsdesk: Harness, title: str) -> str:
    """The subscription option's value for the feed titled ``title``, picked as an admin would."""
    found = [c for c in await choices(newsdesk, title) if c["name"].startswith(title)]
    assert len(found) == 1, found
    return found[0]["value"]


def components(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for row in message.get("components") or [] for c in row.get("components") or []]


def button(message: dict[str, Any], label: str) -> dict[str, Any]:
    found = [c for c in components(message) if c.get("type") == 2 and c.get("label") == label]
    assert len(found) == 1, components(message)
    return found[0]


def current(newsdesk: Harness, message: dict[str, Any]) -> dict[str, Any]:
    """The message as stored now (after the bot's edits)."""
    stored = newsdesk.emu.messages.get(int(message["channel_id"]), int(message["id"]))
    assert stored is not None
    return stored


async def turn(newsdesk: Harness, page: dict[str, Any], label: str) -> dict[str, Any]:
    """Click the page's ``label`` button as the admin; the message as the bot edited it."""
    clicked = await newsdesk.click(page, button(page, label)["custom_id"], user=newsdesk.admin)
    assert clicked.errors == []
    return current(newsdesk, page)


def description_lines(message: dict[str, Any]) -> list[str]:
    return message["embeds"][0]["description"].splitlines()


# --- /feed filter -------------------------------------------------------------------------------


async def test_filter_posts_only_matching_items_and_refuses_a_bad_regex(
    newsdesk: Harness, feeds: FeedServer
) -> None:
    feed = feeds.add_feed("/city.xml", title="City Post", items=[item(1)])
    news = newsdesk.emu.default.news
    await subscribe(newsdesk, feeds.url("/city.xml"), news)
    await wait_until(lambda: titles(newsdesk, news) == ["Story 1"], what="the newest item")
    sub = await subscription_of(newsdesk, "City Post")

    # Commas inside /.../ belong to the regex, not to the list of patterns.
    saved = await newsdesk.invoke(
        "feed filter",
        {"subscription": sub, "include": r"council, /tram\d{1,3}/i", "exclude": "sport"},
        user=newsdesk.admin,
    )
    assert saved.errors == [] and saved.ephemeral
    assert "Filter saved" in saved.text and "filter: +2 −1" in saved.text, saved.text

    feed.publish(
        item(2, title="Council approves the budget"),  # keyword in the title
        item(3, title="Weather stays mild"),  # matches nothing
        item(4, title="Councillors meet at noon"),  # "council" is a whole word, not a prefix
        item(5, title="New line TRAM42 opens"),  # the regex, case-insensitive
        item(6, title="Council funds the sport hall"),  # included, then excluded
        item(7, title="Budget night", summary="The council voted late."),  # keyword in the summary
        item(8, title="Sport results"),  # excluded, and not included anyway
    )
    expected = [
        "Story 1",
        "Council approves the budget",
        "New line TRAM42 opens",
        "Budget night",
    ]
    await wait_until(lambda: len(titles(newsdesk, news)) >= len(expected), what="the matching items")
    await asyncio.sleep(2)  # more polls: nothing else trickles in
    assert titles(newsdesk, news) == expected  # only matches, oldest first

    # A broken regex: a clear private error naming it, and the saved filter stays as it was.
    for bad, says in (("/tram[0-9/", "Invalid regex"), ("/tram/q", "Unknown regex flag")):
        refused = await newsdesk.invoke(
            "feed filter", {"subscription": sub, "include": bad}, user=newsdesk.admin
        )
        assert refused.errors == [] and refused.ephemeral
        assert says in refused.text and bad in refused.text, refused.text
        assert "Filter saved" not in refused.text and len(refused.text) < 400
    listing = await newsdesk.invoke("feed list", {}, user=newsdesk.admin)
    assert "filter: +2 −1" in listing.text, listing.text

    feed.publish(item(9, title="Tram7 delayed"), item(10, title="Sport: tram fans cheer"))
    await wait_until(lambda: len(titles(newsdesk, news)) >= 5, what="the item the old filter passes")
    await asyncio.sleep(2)
    assert titles(newsdesk, news) == [*expected, "Tram7 delayed"]

    # An empty filter lets everything through again.
    cleared = await newsdesk.invoke("feed filter", {"subscription": sub}, user=newsdesk.admin)
    assert "Filter saved" in cleared.text and "filter:" not in cleared.text, cleared.text
    feed.publish(item(11, title="Sport tonight"))
    await wait_until(lambda: titles(newsdesk, news)[-1:] == ["Sport tonight"], what="an unfiltered item")
    assert titles(newsdesk, news) == [*expected, "Tram7 delayed", "Sport tonight"]


async def test_a_member_cannot_change_a_filter(newsdesk: Harness, feeds: FeedServer) -> None:
    feed = feeds.add_feed("/city.xml", title="City Post", items=[item(1)])
    news = newsdesk.emu.default.news
    await subscribe(newsdesk, feeds.url("/city.xml"), news)
    sub = await subscription_of(newsdesk, "City Post")
    refused = await newsdesk.invoke(
        "feed filter", {"subscription": sub, "include": "nothing-matches-this"}, user=newsdesk.member
    )
    assert refused.ephemeral and "Manage Channels" in refused.text, refused.text
    await wait_until(lambda: titles(newsdesk, news) == ["Story 1"], what="the newest item")
    feed.publish(item(2))
    await wait_until(lambda: titles(newsdesk, news) == ["Story 1", "Story 2"], what="an unfiltered item")


# --- /feed list ---------------------------------------------------------------------------------


async def test_list_pages_and_shows_each_feeds_health(newsdesk: Harness, feeds: FeedServer) -> None:
    news, general = newsdesk.emu.default.news, newsdesk.emu.default.general
    count = PAGE_SIZE + 2
    for n in range(1, count + 1):
        feeds.add_feed(f"/f{n:02}.xml", title=f"Feed {n:02}", items=[item(n)])
        await subscribe(newsdesk, feeds.url(f"/f{n:02}.xml"), news)
    feeds.add_feed("/elsewhere.xml", title="Elsewhere", items=[item(1)])
    await subscribe(newsdesk, feeds.url("/elsewhere.xml"), general)

    feeds.fail("/f03.xml", 500)  # failing: checked again later
    feeds.fail("/f11.xml", 410)  # gone: paused at once, and the channel is told
    await wait_until(lambda: "Feed paused" in titles(newsdesk, news), what="the pause notice")

    async def first_page() -> InteractionResult:
        return await newsdesk.invoke("feed list", {"channel": news}, user=newsdesk.admin)

    listing = await first_page()
    deadline = time.monotonic() + 20
    while "failing" not in listing.text:
        assert time.monotonic() < deadline, listing.text
        await asyncio.sleep(0.5)
        listing = await first_page()

    assert listing.errors == [] and listing.ephemeral
    page = listing.message
    assert page is not None
    embed = page["embeds"][0]
    assert embed["title"] == f"Feeds ({count})"  # #general's feed is not in #news's list
    assert embed["footer"]["text"] == "Page 1 of 2"
    lines = description_lines(page)
    assert [re.search(r"Feed \d\d", line).group() for line in lines] == [  # type: ignore[union-attr]
        f"Feed {n:02}" for n in range(1, PAGE_SIZE + 1)
    ]
    for n, line in enumerate(lines, 1):
        assert f"<#{news.id}>" in line and feeds.url(f"/f{n:02}.xml") in line
        assert re.search(f"next check {RELATIVE_TIME}", line), line
        if n == 3:
            assert re.search(r"⚠️ failing \(\d+×\): .*500", line), line
            assert "last success" not in line
        else:
            assert re.search(f"✅ last success {RELATIVE_TIME}", line), line
    assert button(page, "Previous").get("disabled") is True
    assert not button(page, "Next").get("disabled")

    page = await turn(newsdesk, page, "Next")
    assert page["embeds"][0]["footer"]["text"] == "Page 2 of 2"
    eleven, twelve = description_lines(page)
    assert "Feed 11" in eleven and "⏸️ paused" in eleven and "410 Gone" in eleven, eleven
    assert "next check" not in eleven  # a paused feed is not checked at all
    assert "Feed 12" in twelve and re.search(f"✅ last success {RELATIVE_TIME}", twelve), twelve
    assert button(page, "Next").get("disabled") is True
    assert not button(page, "Previous").get("disabled")

    page = await turn(newsdesk, page, "Previous")
    assert page["embeds"][0]["footer"]["text"] == "Page 1 of 2"
    assert "Feed 01" in description_lines(page)[0]

    # The whole server: one more feed, still two pages.
    everything = await newsdesk.invoke("feed list", {}, user=newsdesk.admin)
    assert everything.embeds[0]["title"] == f"Feeds ({count + 1})"
    assert everything.embeds[0]["footer"]["text"] == "Page 1 of 2"
    assert "Elsewhere" in everything.text and f"<#{general.id}>" in everything.text
    # One channel's few feeds: a single page, no buttons.
    few = await newsdesk.invoke("feed list", {"channel": general}, user=newsdesk.admin)
    assert few.embeds[0]["title"] == "Feeds (1)" and "Elsewhere" in few.text
    assert not few.embeds[0].get("footer") and components(few.message or {}) == []


# --- /feed resume -------------------------------------------------------------------------------


async def test_resume_a_feed_paused_by_410_gone(newsdesk: Harness, feeds: FeedServer) -> None:
    feed = feeds.add_feed("/news.xml", title="Local News", items=[item(1)])
    news = newsdesk.emu.default.news
    await subscribe(newsdesk, feeds.url("/news.xml"), news)
    await wait_until(lambda: titles(newsdesk, news) == ["Story 1"], what="the newest item")
    sub = await subscription_of(newsdesk, "Local News")

    feeds.fail("/news.xml", 410)
    await wait_until(lambda: titles(newsdesk, news) == ["Story 1", "Feed paused"], what="the pause notice")
    notice = newsdesk.messages(news)[-1]["embeds"][0]["description"]
    assert "Local News" in notice and "410 Gone" in notice and "/feed resume" in notice, notice
    listing = await newsdesk.invoke("feed list", {}, user=newsdesk.admin)
    assert "paused" in listing.text and "410 Gone" in listing.text, listing.text

    # Paused means not checked: the site is not asked again, even once it works.
    hits = feeds.hits["/news.xml"]
    await asyncio.sleep(2.5)
    feeds.heal("/news.xml")
    feed.publish(item(2))
    await asyncio.sleep(2.5)
    assert feeds.hits["/news.xml"] == hits
    assert titles(newsdesk, news) == ["Story 1", "Feed paused"]

    resumed = await newsdesk.invoke("feed resume", {"subscription": sub}, user=newsdesk.admin)
    assert resumed.errors == [] and resumed.ephemeral
    assert "Resumed" in resumed.text and "paused" not in resumed.text, resumed.text
    await wait_until(
        lambda: titles(newsdesk, news) == ["Story 1", "Feed paused", "Story 2"], what="the held-back item"
    )
    feed.publish(item(3))
    await wait_until(lambda: len(titles(newsdesk, news)) >= 4, what="the next new item")
    await asyncio.sleep(1.5)
    assert titles(newsdesk, news) == ["Story 1", "Feed paused", "Story 2", "Story 3"]
    listing = await newsdesk.invoke("feed list", {}, user=newsdesk.admin)
    assert "paused" not in listing.text and "✅ last success" in listing.text, listing.text


async def test_resume_of_an_unknown_subscription_is_refused(newsdesk: Harness) -> None:
    for typed, says in (("12345", "no subscription #12345"), ("Local News", "Pick a subscription")):
        refused = await newsdesk.invoke("feed resume", {"subscription": typed}, user=newsdesk.admin)
        assert refused.errors == [] and refused.ephemeral
        assert says in refused.text, refused.text


# --- autocomplete -------------------------------------------------------------------------------


async def test_subscription_autocomplete(newsdesk: Harness, feeds: FeedServer) -> None:
    news, general = newsdesk.emu.default.news, newsdesk.emu.default.general
    long_title = "The Extremely Long Named Evening Chronicle of Everything Happening " * 3
    feeds.add_feed("/world.xml", title="World News", items=[item(1)])
    feeds.add_feed("/sport.xml", title="Sport Daily", items=[item(2)])
    feeds.add_feed("/tech/rss.xml", title="Tech Weekly", items=[item(3)])
    feeds.add_feed("/evening.xml", title=long_title.strip(), items=[item(4)])
    await subscribe(newsdesk, feeds.url("/world.xml"), news)
    await subscribe(newsdesk, feeds.url("/sport.xml"), general)
    await subscribe(newsdesk, feeds.url("/tech/rss.xml"), news)
    await subscribe(newsdesk, feeds.url("/evening.xml"), news)

    everything = await choices(newsdesk, "")
    assert [c["name"].split(" · ")[0][:10] for c in everything] == [
        "Sport Dail",
        "Tech Weekl",
        "The Extrem",
        "World News",
    ]  # every feed of the server, by title
    assert all(1 <= len(c["name"]) <= 100 and len(c["value"]) <= 100 for c in everything), everything
    assert f"Sport Daily · {feeds.url('/sport.xml')}" in [c["name"] for c in everything]

    assert [c["name"] for c in await choices(newsdesk, "sPoRt")] == [
        f"Sport Daily · {feeds.url('/sport.xml')}"
    ]  # the title, whatever the case
    assert [c["name"] for c in await choices(newsdesk, "tech/rss")] == [
        f"Tech Weekly · {feeds.url('/tech/rss.xml')}"
    ]  # or a part of the URL
    assert await choices(newsdesk, "no such feed") == []
    assert await choices(newsdesk, "%") == []  # typed text is matched literally
    assert await choices(newsdesk, "_") == []

    # /feed filter and /feed resume offer the same subscriptions.
    for command in ("feed filter", "feed resume"):
        assert await choices(newsdesk, "", command=command) == everything

    # The choice's value is what the command needs.
    sport = (await choices(newsdesk, "sport"))[0]["value"]
    removed = await newsdesk.invoke("feed remove", {"subscription": sport}, user=newsdesk.admin)
    assert removed.ephemeral and "Removed" in removed.text, removed.text
    assert [c["name"][:5] for c in await choices(newsdesk, "")] == ["Tech ", "The E", "World"]
    again = await newsdesk.invoke("feed remove", {"subscription": sport}, user=newsdesk.admin)
    assert again.ephemeral and "no subscription" in again.text, again.text


async def test_autocomplete_offers_nothing_to_members_who_may_not_manage_feeds(
    newsdesk: Harness, feeds: FeedServer
) -> None:
    feeds.add_feed("/world.xml", title="World News", items=[item(1)])
    await subscribe(newsdesk, feeds.url("/world.xml"), newsdesk.emu.default.news)
    assert [c["name"][:10] for c in await choices(newsdesk, "", user=newsdesk.manager)] == ["World News"]
    # The commands refuse a plain member; their autocomplete must not list the server's feeds either.
    for command in ("feed remove", "feed filter", "feed resume"):
        assert await choices(newsdesk, "", command=command, user=newsdesk.member) == []


async def test_autocomplete_and_commands_stay_within_their_server(tmp_path: Path, feeds: FeedServer) -> None:
    world = default_world()
    other = world.world.add_guild("Other Server", owner=world.owner)
    bot_role = other.add_role("newsdesk", world.bot_role.permissions, managed=True)
    admin_role = other.add_role("admin", Perm.ADMINISTRATOR)
    other_news = other.add_text_channel("headlines")
    other.add_member(world.bot, [bot_role])
    other_admin = other.add_member(world.world.add_user("olga-admin"), [admin_role])

    async with harness(tmp_path, FAST_POLLING, Emulator(world=world)) as newsdesk:
        feeds.add_feed("/world.xml", title="World News", items=[item(1)])
        feeds.add_feed("/secret.xml", title="Secret Plans", items=[item(2)])
        await subscribe(newsdesk, feeds.url("/world.xml"), world.news)
        added = await newsdesk.emu.invoke(
            "feed add",
            {"url": feeds.url("/secret.xml")},
            user=other_admin,
            channel=other_news,
            timeout_s=30,
        )
        assert added.ephemeral and "now follows" in added.text, added.text

        assert [c["name"][:10] for c in await choices(newsdesk, "")] == ["World News"]
        theirs = await newsdesk.emu.autocomplete(
            "feed remove", {"subscription": ""}, "subscription", user=other_admin, channel=other_news
        )
        assert [c["name"][:12] for c in theirs.choices or []] == ["Secret Plans"]

        # Knowing another server's subscription number is not enough to touch it.
        secret = (theirs.choices or [{}])[0]["value"]
        for command in ("feed remove", "feed resume", "feed filter"):
            refused = await newsdesk.invoke(command, {"subscription": secret}, user=newsdesk.admin)
            assert refused.ephemeral and (
                "does not exist" in refused.text or "no subscription" in refused.text
            ), refused.text
        still = await newsdesk.emu.autocomplete(
            "feed remove", {"subscription": ""}, "subscription", user=other_admin, channel=other_news
        )
        assert still.choices == theirs.choices


# --- the feed picker ----------------------------------------------------------------------------


async def test_a_site_with_several_feeds_asks_which_one(newsdesk: Harness, feeds: FeedServer) -> None:
    news_feed = feeds.add_feed("/news.xml", title="News Feed", items=[item(2), item(1)])
    sport_feed = feeds.add_feed("/sport.xml", title="Sport Feed", items=[item(12), item(11)])
    feeds.html_page(
        "/",
        feed_links=[("/news.xml", "application/rss+xml"), ("/sport.xml", "application/rss+xml")],
        title="The Site",
    )
    news = newsdesk.emu.default.news
    asked = await newsdesk.invoke(
        "feed add", {"url": feeds.url("/"), "channel": news}, user=newsdesk.admin, timeout_s=30
    )
    assert asked.errors == [] and asked.ephemeral
    assert "2 feeds" in asked.text and f"<#{news.id}>" in asked.text, asked.text
    prompt = asked.message
    assert prompt is not None
    (menu,) = [c for c in components(prompt) if c["type"] == 3]
    options = {o["label"]: o["value"] for o in menu["options"]}
    assert list(options) == ["News Feed", "Sport Feed"]  # in page order
    assert [o.get("description") for o in menu["options"]] == [
        feeds.url("/news.xml"),
        feeds.url("/sport.xml"),
    ]
    # Nothing is followed until the admin picks.
    await asyncio.sleep(1)
    assert newsdesk.messages(news) == []
    listing = await newsdesk.invoke("feed list", {}, user=newsdesk.admin)
    assert "No feeds yet" in listing.text

    picked = await newsdesk.click(
        prompt, menu["custom_id"], user=newsdesk.admin, values=[options["Sport Feed"]]
    )
    assert picked.errors == []
    record = newsdesk.emu.interactions[picked.id]
    await wait_until(lambda: bool(record.followups), what="the confirmation")
    confirmation = "\n".join(m.get("content") or "" for m in record.followups)
    assert f"<#{news.id}> now follows **Sport Feed**" in confirmation, confirmation
    assert all(m["flags"] & 64 for m in record.followups)  # private to the admin
    assert components(current(newsdesk, prompt)) == []  # the picker is gone once used

    await wait_until(lambda: titles(newsdesk, news) == ["Story 12"], what="the chosen feed's newest item")
    listing = await newsdesk.invoke("feed list", {}, user=newsdesk.admin)
    assert "Sport Feed" in listing.text and "News Feed" not in listing.text, listing.text

    # Only the chosen feed is followed from now on.
    news_hits = feeds.hits["/news.xml"]
    sport_feed.publish(item(13))
    news_feed.publish(item(3))
    await wait_until(lambda: len(titles(newsdesk, news)) >= 2, what="the chosen feed's new item")
    await asyncio.sleep(2)
    assert titles(newsdesk, news) == ["Story 12", "Story 13"]
    assert feeds.hits["/news.xml"] == news_hits
