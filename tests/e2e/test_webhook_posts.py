"""/feed webhook end to end: the real bot process, the Discord emulator and a local feed server.

A subscription's posts come through the channel's webhook under the outlet's name and icon (or
the manager's), pinging nobody; the bot makes one webhook per channel, makes it again when it
is deleted, and neither loses nor repeats a post across a kill -9 (webhooks take no nonce: the
bot looks for the post before sending it again).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.e2e.feed_support import FAST_POLLING, subscribe, titles, wait_until
from tests.e2e.harness import Harness, merge
from tests.e2e.test_roles import WorkerProcess, pg_url  # noqa: F401 (pg_url: a fixture)
from tests.emulator import Perm
from tests.feedserver import FeedServer, ServedFeed, item, render_rss

pytestmark = pytest.mark.e2e

ICON = "https://harbour.example/icon.png"


@pytest.fixture
def bot_config(request: pytest.FixtureRequest) -> dict[str, dict[str, Any]]:
    """Fast polling; a ``postgres`` test runs a gateway-only bot on PostgreSQL (workers post)."""
    if not request.node.get_closest_marker("postgres"):
        return FAST_POLLING
    url = request.getfixturevalue("pg_url")
    return merge(dict(FAST_POLLING), {"database": {"url": url}, "run": {"roles": "gateway", "takeover_s": 6}})


class IconFeed:
    """A feed with an icon (``<image>``), served raw; :meth:`publish` serves its new items."""

    def __init__(self, feeds: FeedServer, path: str = "/harbour.xml") -> None:
        self.feeds, self.path = feeds, path
        self.feed = ServedFeed(path=path, title="Harbour Gazette", items=[item(1)])
        self._serve()

    def publish(self, *items: Any) -> None:
        self.feed.publish(*items)
        self._serve()

    def _serve(self) -> None:
        image = f"<image><url>{ICON}</url><title>Harbour Gazette</title><link>https://harbour.example/</link></image>"
        self.feeds.serve_raw(self.path, render_rss(self.feed).replace("<channel>", "<channel>" + image, 1))

    @property
    def url(self) -> str:
        return self.feeds.url(self.path)


async def subscription_of(newsdesk: Harness, title: str) -> str:
    result = await newsdesk.autocomplete(
        "feed webhook", {"subscription": title}, "subscription", user=newsdesk.admin
    )
    found = [c["value"] for c in result.choices or [] if c["name"].startswith(title)]
    assert len(found) == 1, result.choices
    return str(found[0])


async def followed(newsdesk: Harness, feeds: FeedServer) -> tuple[IconFeed, str]:
    """The Harbour Gazette followed in #news, its first item posted (as the bot); its subscription."""
    feed = IconFeed(feeds)
    news = newsdesk.emu.default.news
    await subscribe(newsdesk, feed.url, news)
    await wait_until(lambda: titles(newsdesk, news) == ["Story 1"], what="the newest item")
    return feed, await subscription_of(newsdesk, "Harbour Gazette")


async def webhook_on(newsdesk: Harness, sub: str, **options: Any) -> str:
    result = await newsdesk.invoke(
        "feed webhook", {"subscription": sub, "enabled": True, **options}, user=newsdesk.admin
    )
    assert result.errors == [] and result.ephemeral, result
    return result.text


def webhooks(newsdesk: Harness) -> list[dict[str, Any]]:
    news = newsdesk.emu.default.news
    return [w for w in newsdesk.emu.webhooks.values() if w["channel_id"] == str(news.id)]


def executes(newsdesk: Harness, title: str) -> list[Any]:
    """The webhook executes that carried the post ``title``."""
    return [
        r
        for r in newsdesk.emu.recorder.calls("POST", "/webhooks/")
        if r.body and [e.get("title") for e in r.body.get("embeds") or []] == [title]
    ]


def by_title(newsdesk: Harness, title: str) -> dict[str, Any]:
    [message] = [m for m in newsdesk.messages(newsdesk.emu.default.news) if m["embeds"][0]["title"] == title]
    return message


def avatar_hash(url: str) -> str:
    return hashlib.md5(url.encode()).hexdigest()  # the emulator's stand-in for Discord's


async def test_posts_come_as_the_outlet_then_under_a_name_and_avatar_the_manager_sets(
    newsdesk: Harness, feeds: FeedServer
) -> None:
    feed, sub = await followed(newsdesk, feeds)
    news = newsdesk.emu.default.news
    text = await webhook_on(newsdesk, sub)
    assert "as **the feed's title** with the feed's icon" in text, text

    feed.publish(item(2, title="Ferry timetable"))
    await wait_until(lambda: len(titles(newsdesk, news)) == 2, what="the first webhook post")
    [hook] = webhooks(newsdesk)
    message = by_title(newsdesk, "Ferry timetable")
    assert message["webhook_id"] == hook["id"]
    assert message["author"]["username"] == "Harbour Gazette"
    assert message["author"]["avatar"] == avatar_hash(ICON)
    [call] = executes(newsdesk, "Ferry timetable")
    assert call.query.get("wait") == "true"
    assert call.body["allowed_mentions"] == {"parse": []} and call.body["avatar_url"] == ICON

    custom = "https://cdn.example/gazette-live.png"
    text = await webhook_on(newsdesk, sub, name="Gazette Live", avatar=custom)
    assert "as **Gazette Live** with the avatar you gave" in text, text
    feed.publish(item(3))
    await wait_until(lambda: len(titles(newsdesk, news)) == 3, what="a post under the new name")
    message = by_title(newsdesk, "Story 3")
    assert (message["author"]["username"], message["author"]["avatar"]) == (
        "Gazette Live",
        avatar_hash(custom),
    )
    assert message["webhook_id"] == hook["id"] and len(webhooks(newsdesk)) == 1  # reused

    off = await newsdesk.invoke("feed webhook", {"subscription": sub, "enabled": False}, user=newsdesk.admin)
    assert "Posts come from me again" in off.text
    feed.publish(item(4))
    await wait_until(lambda: len(titles(newsdesk, news)) == 4, what="a post as the bot again")
    message = by_title(newsdesk, "Story 4")
    assert "webhook_id" not in message and int(message["author"]["id"]) == newsdesk.emu.bot_user_id


async def test_without_manage_webhooks_the_command_refuses_and_posts_wait_for_it(
    newsdesk: Harness, feeds: FeedServer
) -> None:
    feed, sub = await followed(newsdesk, feeds)
    world = newsdesk.emu.default
    news = world.news

    async def manage_webhooks(allowed: bool) -> None:
        if allowed:
            world.guild.set_overwrite(news, world.bot_role)
        else:
            world.guild.set_overwrite(news, world.bot_role, deny=Perm.MANAGE_WEBHOOKS)
        await newsdesk.emu.publish_channel(news)
        await asyncio.sleep(0.3)  # the bot's cache takes the update

    await manage_webhooks(False)
    refused = await newsdesk.invoke(
        "feed webhook", {"subscription": sub, "enabled": True}, user=newsdesk.admin
    )
    assert refused.ephemeral and f"I need Manage Webhooks in <#{news.id}>" in refused.text, refused.text

    # Allowed when set, taken away before the first post: the post waits, and /feed list says why.
    await manage_webhooks(True)
    await webhook_on(newsdesk, sub)
    await manage_webhooks(False)
    feed.publish(item(2))

    async def listing() -> str:
        return (await newsdesk.invoke("feed list", {}, user=newsdesk.admin)).text

    deadline = asyncio.get_running_loop().time() + 20
    while "paused" not in (text := await listing()):
        assert asyncio.get_running_loop().time() < deadline, text
        await asyncio.sleep(0.5)
    assert "I need Manage Webhooks in #news to post as the outlet: give it back, then /feed resume" in text
    assert titles(newsdesk, news) == ["Story 1"] and webhooks(newsdesk) == []

    await manage_webhooks(True)
    resumed = await newsdesk.invoke("feed resume", {"subscription": sub}, user=newsdesk.admin)
    assert "Resumed" in resumed.text, resumed.text
    await wait_until(lambda: titles(newsdesk, news) == ["Story 1", "Story 2"], what="the held post")
    assert by_title(newsdesk, "Story 2")["webhook_id"] == webhooks(newsdesk)[0]["id"]


async def test_a_deleted_webhook_is_made_again_and_each_post_arrives_once(
    newsdesk: Harness, feeds: FeedServer
) -> None:
    feed, sub = await followed(newsdesk, feeds)
    news = newsdesk.emu.default.news
    await webhook_on(newsdesk, sub)
    feed.publish(item(2))
    await wait_until(lambda: len(titles(newsdesk, news)) == 2, what="the first webhook post")
    [first] = webhooks(newsdesk)

    # A moderator deletes the webhook in Discord's settings.
    newsdesk.emu.webhooks.pop(int(first["id"]))
    feed.publish(item(3), item(4))
    await wait_until(lambda: len(titles(newsdesk, news)) == 4, what="posts after the deletion")
    [second] = webhooks(newsdesk)
    assert second["id"] != first["id"]
    assert titles(newsdesk, news) == ["Story 1", "Story 2", "Story 3", "Story 4"]
    assert by_title(newsdesk, "Story 4")["webhook_id"] == second["id"]
    # Story 3 went first to the deleted webhook (10015), then once through the new one.
    assert [c.path.split("/")[2] for c in executes(newsdesk, "Story 3")] == [first["id"], second["id"]]


@pytest.mark.emulator(interaction_deadline_s=3.0)
async def test_killed_mid_delivery_no_webhook_post_is_lost_or_repeated(
    newsdesk: Harness, feeds: FeedServer
) -> None:
    feed, sub = await followed(newsdesk, feeds)
    news, emu = newsdesk.emu.default.news, newsdesk.emu
    await webhook_on(newsdesk, sub)
    feed.publish(item(2))
    await wait_until(lambda: len(titles(newsdesk, news)) == 2, what="the first webhook post")

    # Discord creates Story 3 but the bot never hears so; it is killed while waiting.
    emu.withhold_create_answers(1)
    feed.publish(item(3))
    await wait_until(lambda: emu.unanswered_creates == 0, what="Story 3 created, unanswered")
    assert await newsdesk.kill_bot() == -9
    await newsdesk.start_bot()
    feed.publish(item(4))
    await wait_until(lambda: len(titles(newsdesk, news)) >= 4, timeout_s=30, what="Story 4")

    # A burst spread over seconds by the channel's rate limit, killed in the middle.
    feed.publish(*(item(n) for n in range(5, 13)))
    await wait_until(lambda: len(titles(newsdesk, news)) >= 6, timeout_s=30, what="the burst to start")
    assert await newsdesk.kill_bot() == -9
    await newsdesk.start_bot()
    await wait_until(lambda: len(titles(newsdesk, news)) >= 12, timeout_s=60, what="every story")
    await asyncio.sleep(2)  # a few more polls and deliveries: nothing comes twice
    counts = Counter(titles(newsdesk, news))
    assert counts == Counter(f"Story {n}" for n in range(1, 13)), counts
    assert titles(newsdesk, news) == [f"Story {n}" for n in range(1, 13)]
    # The withheld execute is never recorded (no answer); a second one would be. The restarted
    # bot found Story 3 in the channel instead.
    assert executes(newsdesk, "Story 3") == []
    assert "already posted as message " + by_title(newsdesk, "Story 3")["id"] in newsdesk.log_path.read_text()
    assert {m.get("webhook_id") for m in newsdesk.messages(news)[1:]} == {webhooks(newsdesk)[0]["id"]}


@pytest.mark.postgres
async def test_workers_on_postgresql_find_the_webhook_again_and_survive_a_kill(
    newsdesk: Harness, feeds: FeedServer, tmp_path: Path
) -> None:
    emu, news = newsdesk.emu, newsdesk.emu.default.news
    first = WorkerProcess(tmp_path, newsdesk.config(), name="first")
    second = WorkerProcess(tmp_path, newsdesk.config(), name="second")
    await first.start()
    try:
        feed, sub = await followed(newsdesk, feeds)
        await webhook_on(newsdesk, sub)
        feed.publish(item(2))
        await wait_until(
            lambda: len(titles(newsdesk, news)) == 2, timeout_s=30, what="a worker's webhook post"
        )
        [hook] = webhooks(newsdesk)

        # The table lost the webhook (a restored backup): the worker finds the bot's own again.
        db = await asyncpg.connect(newsdesk.config()["database"]["url"].replace("+asyncpg", ""), timeout=10)
        try:
            await db.execute("DELETE FROM channel_webhooks")
        finally:
            await db.close()
        feed.publish(item(3))
        await wait_until(lambda: len(titles(newsdesk, news)) == 3, timeout_s=30, what="Story 3")
        assert by_title(newsdesk, "Story 3")["webhook_id"] == hook["id"]
        assert len(emu.recorder.calls("POST", f"/channels/{news.id}/webhooks")) == 1

        # The worker dies with Story 4 made on Discord but unanswered; the other takes it over.
        emu.withhold_create_answers(1)
        feed.publish(item(4))
        await wait_until(lambda: emu.unanswered_creates == 0, timeout_s=30, what="Story 4 unanswered")
        await second.start()
        await first.kill()
        feed.publish(item(5))
        await wait_until(lambda: len(titles(newsdesk, news)) >= 5, timeout_s=60, what="Story 5")
        await asyncio.sleep(2)
        assert titles(newsdesk, news) == [f"Story {n}" for n in range(1, 6)]
        assert executes(newsdesk, "Story 4") == []  # found in the channel by the other worker
    finally:
        await first.kill()
        assert await second.stop() == 0, second.log()[-3000:]
