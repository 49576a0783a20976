"""Forums and threads, end to end (issue 13, point 3): the real bot process, the Discord
emulator and a local feed server.

A feed followed in a forum gets a forum post per item (the title as the post's name, the
forum's tags matching the item's categories); ``/feed threads mode:item`` opens a thread on
each post in a text channel; with story threads, a later outlet's item of the same story goes
into the story's thread; a kill -9 while a forum post is created does not post it twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.feed_support import FAST_POLLING, subscribe, titles, wait_until
from tests.e2e.harness import Harness, harness
from tests.emulator import Emulator, Perm
from tests.emulator.rest_threads import archive_thread, delete_thread
from tests.emulator.world import Channel, DefaultWorld, default_world
from tests.feedserver import FeedServer, Item, item

pytestmark = pytest.mark.e2e

TAGS = ("Science", "Space", "Politics", "Sport")


@dataclass
class Room:
    world: DefaultWorld
    forum: Channel
    """A forum with :data:`TAGS`."""
    closed_forum: Channel
    """A forum where the bot may not create posts."""


@pytest.fixture
def room() -> Room:
    world = default_world()
    forum = world.guild.add_forum_channel("headlines", tags=TAGS)
    closed = world.guild.add_forum_channel("closed-forum")
    world.guild.set_overwrite(closed, world.bot_role, deny=Perm.SEND_MESSAGES)
    return Room(world, forum, closed)


@pytest.fixture
def bot_config() -> dict[str, dict[str, Any]]:
    return {**FAST_POLLING, "stories": {"idle_s": 0.5}}


@pytest.fixture
async def newsdesk(
    tmp_path: Path, room: Room, bot_config: dict[str, dict[str, Any]]
) -> AsyncIterator[Harness]:
    async with harness(tmp_path, bot_config, Emulator(world=room.world)) as h:
        yield h


def threads_of(room: Room, parent: Channel) -> list[Channel]:
    """The threads (forum posts) of ``parent``, oldest first."""
    found = [c for c in room.world.guild.channels.values() if c.is_thread and c.parent_id == parent.id]
    return sorted(found, key=lambda c: c.id)


def tag_names(forum: Channel, thread: Channel) -> list[str]:
    names = {int(t["id"]): t["name"] for t in forum.available_tags}
    return [names[t] for t in thread.applied_tags]


async def subscription_of(newsdesk: Harness, title: str) -> str:
    result = await newsdesk.autocomplete(
        "feed threads", {"subscription": title}, "subscription", user=newsdesk.admin
    )
    found = [c["value"] for c in result.choices or [] if c["name"].startswith(title)]
    assert len(found) == 1, result.choices
    return str(found[0])


async def test_a_forum_gets_a_post_per_item_named_after_it_with_matching_tags(
    newsdesk: Harness, room: Room, feeds: FeedServer
) -> None:
    feed = feeds.add_feed(
        "/wire.xml",
        title="Wire",
        items=[item(1, title="Probe lands on a comet", categories=("space", "Tech"))],
    )
    refused = await newsdesk.invoke(
        "feed add", {"url": feeds.url("/wire.xml"), "channel": room.closed_forum}, user=newsdesk.admin
    )
    assert refused.ephemeral and "I need Send Messages (Create Posts) there" in refused.text, refused.text

    added = await subscribe(newsdesk, feeds.url("/wire.xml"), room.forum)
    assert "now follows" in added.text, added.text
    await wait_until(lambda: len(threads_of(room, room.forum)) == 1, what="the first forum post")
    feed.publish(
        item(
            2, title="Parliament passes the budget", categories=("POLITICS", "science ", "Space", "Economy")
        ),
        item(3, title="A headline with no matching tag", categories=("Weather",)),
    )
    await wait_until(lambda: len(threads_of(room, room.forum)) == 3, what="two more forum posts")
    await asyncio.sleep(1.5)  # more polls: nothing else
    posts = threads_of(room, room.forum)
    assert [p.name for p in posts] == [
        "Probe lands on a comet",
        "Parliament passes the budget",
        "A headline with no matching tag",
    ]
    assert [tag_names(room.forum, p) for p in posts] == [["Space"], ["Politics", "Science", "Space"], []]
    for post in posts:  # each post's first message is the item's embed, in the post itself
        (first,) = newsdesk.messages(post)
        assert int(first["id"]) == post.id and first["embeds"][0]["title"] == post.name
    assert newsdesk.messages(room.forum) == []  # nothing posted to the forum itself
    assert not newsdesk.emu.recorder.calls("POST", f"/channels/{room.forum.id}/messages")


async def test_a_thread_per_item_in_a_text_channel(newsdesk: Harness, room: Room, feeds: FeedServer) -> None:
    feed = feeds.add_feed("/wire.xml", title="Wire", items=[item(1)])
    news = room.world.news
    await subscribe(newsdesk, feeds.url("/wire.xml"), news)
    await wait_until(lambda: titles(newsdesk, news) == ["Story 1"], what="the first post")
    sub = await subscription_of(newsdesk, "Wire")
    set_mode = await newsdesk.invoke(
        "feed threads", {"subscription": sub, "mode": "item"}, user=newsdesk.admin
    )
    assert set_mode.errors == [] and set_mode.ephemeral, set_mode

    feed.publish(item(2, title="Markets rally"), item(3, title="Storm warning"))
    await wait_until(lambda: len(threads_of(room, news)) == 2, what="a thread on each new post")
    await asyncio.sleep(1.5)
    assert titles(newsdesk, news) == ["Story 1", "Markets rally", "Storm warning"]
    messages = {int(m["id"]): m for m in newsdesk.messages(news)}
    for thread in threads_of(room, news):
        assert messages[thread.id]["embeds"][0]["title"] == thread.name  # opened on the post itself
    assert [t.name for t in threads_of(room, news)] == ["Markets rally", "Storm warning"]


def quake(outlet: str, n: int = 0) -> Item:
    titles = (
        "Strong earthquake strikes off the coast of Chile",
        "Chile earthquake: strong quake strikes off the coast",
        "Earthquake off Chile coast, strong tremor strikes",
    )
    return Item(
        guid=f"{outlet}-quake-{n}",
        title=titles[n],
        link=f"https://{outlet}.example/world/chile-quake-{n}",
        summary="A strong earthquake struck off the coast of Chile on Saturday, officials said.",
        published=datetime.now(UTC),
    )


def unrelated(outlet: str, title: str) -> Item:
    return Item(
        guid=f"{outlet}-old",
        title=title,
        link=f"https://{outlet}.example/old",
        summary=f"{title}.",
        published=datetime(2024, 1, 1, tzinfo=UTC),
    )


async def story_room(newsdesk: Harness, feeds: FeedServer, channel: Channel) -> list[Any]:
    """Two outlets followed in ``channel`` with story threads on; their first posts made."""
    served = [
        feeds.add_feed(
            f"/{outlet}.xml",
            title=outlet.title(),
            site_url=f"https://{outlet}.example/",
            items=[unrelated(outlet, title)],
        )
        for outlet, title in (("alpha", "City council approves tram line"), ("beta", "Museum reopens"))
    ]
    for outlet in ("alpha", "beta"):
        await subscribe(newsdesk, feeds.url(f"/{outlet}.xml"), channel)
        sub = await subscription_of(newsdesk, outlet.title())
        if channel.type == 0:
            answer = await newsdesk.invoke(
                "feed threads", {"subscription": sub, "mode": "item", "story": True}, user=newsdesk.admin
            )
        else:
            answer = await newsdesk.invoke(
                "feed threads", {"subscription": sub, "mode": "none", "story": True}, user=newsdesk.admin
            )
        assert answer.errors == [] and "story" in answer.text.lower(), answer.text
    return served


async def test_a_later_outlet_of_the_same_story_goes_into_its_thread(
    newsdesk: Harness, room: Room, feeds: FeedServer
) -> None:
    news = room.world.news
    alpha, beta = await story_room(newsdesk, feeds, news)
    await wait_until(lambda: len(newsdesk.messages(news)) == 2, what="the first posts")

    alpha.publish(quake("alpha", 0))
    await wait_until(lambda: len(threads_of(room, news)) == 1, what="the story's thread")
    (thread,) = threads_of(room, news)
    beta.publish(quake("beta", 1))
    await wait_until(lambda: len(newsdesk.messages(thread)) == 1, timeout_s=30, what="beta in the thread")
    await asyncio.sleep(1.5)
    assert len(newsdesk.messages(news)) == 3  # beta's item made no post of its own
    assert newsdesk.messages(thread)[0]["embeds"][0]["title"] == quake("beta", 1).title
    assert len(threads_of(room, news)) == 1

    # The thread deleted: the next outlet of the story opens a new one, which is recorded.
    await delete_thread(newsdesk.emu, thread)
    alpha.publish(quake("alpha", 2))
    await wait_until(lambda: len(threads_of(room, news)) == 1 and threads_of(room, news)[0].id != thread.id,
                     timeout_s=30, what="a new story thread")  # fmt: skip
    (second,) = threads_of(room, news)
    assert second.name == quake("alpha", 2).title


async def test_a_story_thread_in_a_forum_and_a_closed_one_replaced(
    newsdesk: Harness, room: Room, feeds: FeedServer
) -> None:
    forum = room.forum
    guild = room.world.guild
    alpha, beta = await story_room(newsdesk, feeds, forum)
    await wait_until(lambda: len(threads_of(room, forum)) == 2, what="the first posts")

    alpha.publish(quake("alpha", 0))
    await wait_until(lambda: len(threads_of(room, forum)) == 3, what="the story's post")
    story_post = threads_of(room, forum)[-1]
    beta.publish(quake("beta", 1))
    await wait_until(lambda: len(newsdesk.messages(story_post)) == 2, timeout_s=30, what="beta in the post")
    assert len(threads_of(room, forum)) == 3

    # Archived and locked (the bot may not reopen it): the next outlet opens a new post.
    guild.set_overwrite(forum, room.world.bot_role, deny=Perm.MANAGE_THREADS)
    await newsdesk.emu.publish_channel(forum)
    await archive_thread(newsdesk.emu, story_post, locked=True)
    alpha.publish(quake("alpha", 2))
    await wait_until(lambda: len(threads_of(room, forum)) == 4, timeout_s=30, what="a new story post")
    assert threads_of(room, forum)[-1].name == quake("alpha", 2).title
    assert len(newsdesk.messages(story_post)) == 2


async def test_a_kill_mid_forum_post_does_not_post_it_twice(
    newsdesk: Harness, room: Room, feeds: FeedServer
) -> None:
    feed = feeds.add_feed("/wire.xml", title="Wire", items=[item(1)])
    forum = room.forum
    await subscribe(newsdesk, feeds.url("/wire.xml"), forum)
    await wait_until(lambda: len(threads_of(room, forum)) == 1, what="the first post")

    # The next post is created, but the bot never hears so: killed while it waits.
    newsdesk.emu.withhold_create_answers(1)
    feed.publish(item(2, title="The post made once"))
    await wait_until(lambda: len(threads_of(room, forum)) == 2, what="the post created")
    await newsdesk.kill_bot()
    newsdesk.emu.release_unanswered.set()
    await newsdesk.start_bot()
    feed.publish(item(3, title="The next one"))
    await wait_until(lambda: len(threads_of(room, forum)) >= 3, timeout_s=40, what="the next post")
    await asyncio.sleep(2)
    assert [t.name for t in threads_of(room, forum)] == ["Story 1", "The post made once", "The next one"]
    lookups = newsdesk.emu.recorder.calls("GET", f"/guilds/{room.world.guild.id}/threads/active")
    assert lookups, "the resend looked for the post first"


async def test_webhook_posts_open_forum_posts_and_join_the_storys_post(
    newsdesk: Harness, room: Room, feeds: FeedServer
) -> None:
    forum = room.forum
    alpha, beta = await story_room(newsdesk, feeds, forum)
    for outlet in ("Alpha", "Beta"):
        sub = await subscription_of(newsdesk, outlet)
        answer = await newsdesk.invoke(
            "feed webhook", {"subscription": sub, "enabled": True}, user=newsdesk.admin
        )
        assert answer.errors == [] and "webhook" in answer.text, answer.text
    await wait_until(lambda: len(threads_of(room, forum)) == 2, what="the first posts")

    alpha.publish(quake("alpha", 0))
    await wait_until(lambda: len(threads_of(room, forum)) == 3, what="the story's post")
    story_post = threads_of(room, forum)[-1]
    beta.publish(quake("beta", 1))
    await wait_until(lambda: len(newsdesk.messages(story_post)) == 2, timeout_s=30, what="beta in the post")
    first, second = newsdesk.messages(story_post)
    assert first["webhook_id"] and first["author"]["username"] == "Alpha"
    assert second["webhook_id"] and second["author"]["username"] == "Beta"
    assert story_post.name == quake("alpha", 0).title and len(threads_of(room, forum)) == 3
