"""Forum posts, threads and story threads (issue 13, point 3): the tag matching, the story
threads store on SQLite and PostgreSQL, and the thread sender driving a real discord.py client
against the Discord emulator (crashes between a message and its thread, a forum post found
again, a story's later outlet in its thread, a gone thread replaced, the wait for the story).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import discord
import pytest
from discord.ext import commands
from sqlalchemy import insert, update

from bot.delivery.destination import Destination, ThreadPlan, WebhookIdentity
from bot.delivery.errors import ChannelUnavailableError, MessageRejectedError
from bot.delivery.message import EmbedSpec, MessageSpec
from bot.pruning import prune
from bot.storage import ArticleCache, Database, OutboxStore
from bot.storage.feed_tables import feed_items, feeds
from bot.storage.story_threads import STORY_THREAD_RETENTION, StoryThreadStore
from cogs import thread_delivery
from cogs.publisher import DiscordPublisher
from cogs.thread_delivery import ThreadSender
from cogs.thread_rest import ForumTags, choose_tags, match_tags
from tests.e2e.inprocess import running
from tests.emulator import Emulator
from tests.emulator.rest_threads import archive_thread, delete_thread
from tests.emulator.world import Channel, DefaultWorld, default_world

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


# --- tags ------------------------------------------------------------------------------


def test_tags_match_by_name_case_and_space_insensitively_each_once_at_most_five() -> None:
    available = [(1, "Science"), (2, "Space"), (3, "World  News"), (4, "a"), (5, "b"), (6, "c"), (7, "d")]
    assert match_tags(available, ["space", " SCIENCE ", "Tech", "world news", "Space"]) == [2, 1, 3]
    assert match_tags(available, ["d", "c", "b", "a", "space", "science"]) == [7, 6, 5, 4, 2]
    assert match_tags(available, []) == [] and match_tags([], ["space"]) == []


# --- the store -------------------------------------------------------------------------


async def add_item(db: Database, entry_key: str, *, story_id: str | None, seen: datetime = NOW) -> int:
    """A feed (one per call) with one stored item; the feed's id."""
    async with db.session() as conn:
        feed_id = (
            await conn.execute(
                insert(feeds)
                .values(url=f"https://example.org/{entry_key}.xml", next_check_at=seen, created_at=seen)
                .returning(feeds.c.id)
            )
        ).scalar_one()
        await conn.execute(
            insert(feed_items).values(
                feed_id=feed_id, entry_key=entry_key, first_seen_at=seen, story_id=story_id, title=entry_key
            )
        )
    return int(feed_id)


async def set_story(db: Database, feed_id: int, story_id: str) -> None:
    async with db.session() as conn:
        await conn.execute(
            update(feed_items).where(feed_items.c.feed_id == feed_id).values(story_id=story_id)
        )


async def test_story_threads_store_records_and_replaces_a_storys_thread(db: Database) -> None:
    store = StoryThreadStore(db)
    feed_id = await add_item(db, "guid:a", story_id="s41")
    found = await store.item_story(feed_id, "guid:a")
    assert found is not None and found.story_id == "s41" and found.first_seen_at == NOW
    assert await store.item_story(feed_id, "guid:other") is None

    assert await store.thread_for(10, "s41") is None
    await store.record(10, "s41", 1000, now=NOW)
    await store.record(11, "s41", 2000, now=NOW)  # another channel, its own thread
    assert await store.thread_for(10, "s41") == 1000 and await store.thread_for(11, "s41") == 2000
    await store.record(10, "s41", 3000, now=NOW + timedelta(hours=1))  # the old one was gone
    assert await store.thread_for(10, "s41") == 3000
    assert await store.thread_for(10, "s42") is None

    assert await store.purge(older_than=NOW + timedelta(minutes=30)) == 1  # channel 11's
    assert await store.thread_for(11, "s41") is None and await store.thread_for(10, "s41") == 3000


async def test_pruning_forgets_story_threads_past_their_retention(db: Database) -> None:
    store = StoryThreadStore(db)
    now = NOW + STORY_THREAD_RETENTION
    await store.record(10, "s1", 100, now=NOW - timedelta(days=1))  # past its retention
    await store.record(10, "s2", 200, now=NOW + timedelta(days=1))
    await prune(
        OutboxStore(db), ArticleCache(db), now=now, article_ttl=timedelta(days=1), story_threads=store
    )
    assert await store.thread_for(10, "s1") is None and await store.thread_for(10, "s2") == 200


# --- the sender, against the emulator ---------------------------------------------------


@dataclass
class Env:
    emu: Emulator
    world: DefaultWorld
    forum: Channel
    db: Database
    publisher: DiscordPublisher
    sender: ThreadSender

    @property
    def news(self) -> Channel:
        return self.world.news

    def threads(self, parent: Channel) -> list[Channel]:
        found = [c for c in self.world.guild.channels.values() if c.is_thread and c.parent_id == parent.id]
        return sorted(found, key=lambda c: c.id)


@pytest.fixture
async def env(db: Database) -> AsyncIterator[Env]:
    world = default_world()
    forum = world.guild.add_forum_channel("headlines", tags=("Space", "Science"))
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.1)
    async with Emulator(world=world) as emu, running(bot, emu):
        publisher = DiscordPublisher(bot, db)
        assert isinstance(publisher.threads, ThreadSender)
        yield Env(emu, world, forum, db, publisher, publisher.threads)


def spec(title: str) -> MessageSpec:
    return MessageSpec(embeds=(EmbedSpec(title=title, url=f"https://example.org/{len(title)}"),))


def plan(
    name: str, *, forum: bool = False, story_item: str | None = None, tags: tuple[str, ...] = ()
) -> Destination:
    return Destination(thread=ThreadPlan(name=name, forum=forum, tags=tags, story_item=story_item))


async def test_a_message_left_without_its_thread_gets_it_when_sent_again(env: Env) -> None:
    env.emu.inject("POST /channels/*/messages/*/threads", 403)
    with pytest.raises(ChannelUnavailableError):
        await env.sender.send(env.news.id, spec("Markets"), nonce="nd1-a", destination=plan("Markets"))
    assert len(env.emu.channel_messages(env.news)) == 1 and env.threads(env.news) == []

    message_id = await env.sender.send(
        env.news.id, spec("Markets"), nonce="nd1-a", destination=plan("Markets")
    )
    (thread,) = env.threads(env.news)
    assert thread.id == message_id and thread.name == "Markets"
    assert len(env.emu.channel_messages(env.news)) == 1  # the nonce gave the same message back
    # Sent again after that (the answer lost): the thread already there counts as done.
    again = await env.sender.send(env.news.id, spec("Markets"), nonce="nd1-a", destination=plan("Markets"))
    assert again == message_id and len(env.threads(env.news)) == 1


async def test_find_posted_gives_a_found_message_its_missing_thread(env: Env) -> None:
    since = datetime.now(UTC)
    env.emu.inject("POST /channels/*/messages/*/threads", 403)
    with pytest.raises(ChannelUnavailableError):
        await env.sender.send(env.news.id, spec("Storm"), nonce="nd2-a", destination=plan("Storm"))
    found = await env.sender.find_posted(env.news.id, spec("Storm"), since=since, destination=plan("Storm"))
    (thread,) = env.threads(env.news)
    assert found == thread.id and thread.name == "Storm"
    assert (
        await env.sender.find_posted(env.news.id, spec("Other"), since=since, destination=plan("Other"))
        is None
    )


async def test_a_forum_post_is_found_again_and_not_confused_with_another(env: Env) -> None:
    since = datetime.now(UTC)
    destination = plan("Probe lands", forum=True, tags=("space", "Tech"))
    post_id = await env.sender.send(env.forum.id, spec("Probe lands"), nonce="nd3-a", destination=destination)
    (post,) = env.threads(env.forum)
    assert post.id == post_id and post.name == "Probe lands"
    assert [t["name"] for t in env.forum.available_tags if int(t["id"]) in post.applied_tags] == ["Space"]

    find = env.sender.find_posted
    assert await find(env.forum.id, spec("Probe lands"), since=since, destination=destination) == post_id
    # Same name, another message; or made before the row (a minute of skew allowed): not it.
    assert await find(env.forum.id, spec("Probe lands!"), since=since, destination=destination) is None
    later = since + timedelta(minutes=5)
    assert await find(env.forum.id, spec("Probe lands"), since=later, destination=destination) is None
    other = plan("Another", forum=True)
    assert await find(env.forum.id, spec("Probe lands"), since=since, destination=other) is None


async def test_a_forum_that_requires_a_tag_gets_its_first_one_when_none_matches(env: Env) -> None:
    strict = env.world.guild.add_forum_channel("strict", tags=("Briefs", "Science"), require_tag=True)
    await env.emu.publish_channel(strict)
    await asyncio.sleep(0.2)  # the channel reaches the bot's cache over the gateway
    for title, tags in (("Untagged", ()), ("Tech news", ("Tech",)), ("Lab result", ("science",))):
        await env.sender.send(
            strict.id, spec(title), nonce=f"nd-{title}", destination=plan(title, forum=True, tags=tags)
        )
    names = {t["id"]: t["name"] for t in strict.available_tags}
    posted = [(post.name, [names[str(t)] for t in post.applied_tags]) for post in env.threads(strict)]
    assert posted == [("Untagged", ["Briefs"]), ("Tech news", ["Briefs"]), ("Lab result", ["Science"])]


def test_a_required_tag_falls_back_to_the_forums_first_only_when_none_matches() -> None:
    forum = ForumTags(((1, "Briefs"), (2, "Space")), required=True)
    assert choose_tags(forum, ["space"]) == [2]
    assert choose_tags(forum, ["tech"]) == [1] and choose_tags(forum, []) == [1]
    assert choose_tags(ForumTags(forum.available), ["tech"]) == []
    assert choose_tags(ForumTags((), required=True), ["tech"]) == []


async def test_a_storys_later_outlet_goes_into_its_thread_and_a_gone_thread_is_replaced(env: Env) -> None:
    first = await add_item(env.db, "guid:alpha", story_id="s7")
    second = await add_item(env.db, "guid:beta", story_id="s7")
    third = await add_item(env.db, "guid:gamma", story_id="s7")
    alpha = plan("Quake hits", story_item=f"{first}:guid:alpha")
    opened = await env.sender.send(env.news.id, spec("Quake hits"), nonce="nd4-a", destination=alpha)
    assert await StoryThreadStore(env.db).thread_for(env.news.id, "s7") == opened
    # The same row again (a crash after the record): its own thread, nothing new.
    assert await env.sender.send(env.news.id, spec("Quake hits"), nonce="nd4-a", destination=alpha) == opened

    beta = plan("Quake: the toll", story_item=f"{second}:guid:beta")
    in_thread = await env.sender.send(env.news.id, spec("Quake: the toll"), nonce="nd5-b", destination=beta)
    assert [m["id"] for m in env.emu.channel_messages(opened)] == [str(in_thread)]
    assert len(env.emu.channel_messages(env.news)) == 1 and len(env.threads(env.news)) == 1
    since = datetime.now(UTC) - timedelta(seconds=5)
    found = await env.sender.find_posted(env.news.id, spec("Quake: the toll"), since=since, destination=beta)
    assert found == in_thread

    (thread,) = env.threads(env.news)
    await delete_thread(env.emu, thread)
    gamma = plan("Quake aftermath", story_item=f"{third}:guid:gamma")
    replaced = await env.sender.send(env.news.id, spec("Quake aftermath"), nonce="nd6-c", destination=gamma)
    assert replaced != opened and [t.id for t in env.threads(env.news)] == [replaced]
    assert await StoryThreadStore(env.db).thread_for(env.news.id, "s7") == replaced


async def test_an_archived_and_locked_story_post_is_replaced_in_a_forum(env: Env) -> None:
    first = await add_item(env.db, "guid:alpha", story_id="s9")
    second = await add_item(env.db, "guid:beta", story_id="s9")
    alpha = plan("Vote", forum=True, story_item=f"{first}:guid:alpha")
    opened = await env.sender.send(env.forum.id, spec("Vote"), nonce="nd7-a", destination=alpha)
    (post,) = env.threads(env.forum)
    env.world.guild.set_overwrite(
        env.forum, env.world.bot_role, deny=discord.Permissions(manage_threads=True).value
    )
    await env.emu.publish_channel(env.forum)
    await archive_thread(env.emu, post, locked=True)
    await asyncio.sleep(0.2)  # the bot's cache hears of it

    beta = plan("Vote: results", forum=True, story_item=f"{second}:guid:beta")
    replaced = await env.sender.send(env.forum.id, spec("Vote: results"), nonce="nd8-b", destination=beta)
    assert replaced != opened and len(env.threads(env.forum)) == 2
    assert len(env.emu.channel_messages(post)) == 1


async def test_a_fresh_item_waits_for_its_story_an_old_one_does_not(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(thread_delivery, "STORY_WAIT_S", 3.0)
    store = StoryThreadStore(env.db)
    known = await add_item(env.db, "guid:known", story_id="s5")
    opened = await env.sender.send(
        env.news.id, spec("Fire"), nonce="nd9-a", destination=plan("Fire", story_item=f"{known}:guid:known")
    )
    fresh = await add_item(env.db, "guid:fresh", story_id=None, seen=datetime.now(UTC))

    async def assign_soon() -> None:
        await asyncio.sleep(0.6)
        await set_story(env.db, fresh, "s5")

    assigning = asyncio.create_task(assign_soon())
    destination = plan("Fire spreads", story_item=f"{fresh}:guid:fresh")
    posted = await env.sender.send(env.news.id, spec("Fire spreads"), nonce="nd10-b", destination=destination)
    await assigning
    assert [m["id"] for m in env.emu.channel_messages(opened)] == [str(posted)]

    # Never grouped (the assigner is behind): after the wait, a thread of its own, not recorded.
    late = await add_item(env.db, "guid:late", story_id=None, seen=datetime.now(UTC))
    started = asyncio.get_running_loop().time()
    destination = plan("Fire out", story_item=f"{late}:guid:late")
    alone = await env.sender.send(env.news.id, spec("Fire out"), nonce="nd11-c", destination=destination)
    assert 2.5 <= asyncio.get_running_loop().time() - started < 6
    assert (
        alone in [t.id for t in env.threads(env.news)] and await store.thread_for(env.news.id, "s5") == opened
    )
    # An old item without a story does not wait.
    old = await add_item(env.db, "guid:old", story_id=None, seen=datetime.now(UTC) - timedelta(hours=1))
    started = asyncio.get_running_loop().time()
    destination = plan("Old", story_item=f"{old}:guid:old")
    await env.sender.send(env.news.id, spec("Old"), nonce="nd12-d", destination=destination)
    assert asyncio.get_running_loop().time() - started < 1.5


async def test_a_forum_takes_posts_not_messages_and_needs_create_posts(env: Env) -> None:
    with pytest.raises(MessageRejectedError):  # 50008: a forum is no text channel
        await env.publisher.post_message(env.forum.id, spec("Plain"), nonce="nd13-a")
    env.world.guild.set_overwrite(
        env.forum, env.world.bot_role, deny=discord.Permissions(send_messages=True).value
    )
    with pytest.raises(ChannelUnavailableError):  # Send Messages is Create Posts
        await env.sender.send(
            env.forum.id, spec("Held"), nonce="nd14-a", destination=plan("Held", forum=True)
        )
    assert env.threads(env.forum) == []


async def test_a_webhook_post_gets_its_thread_and_is_found_again(env: Env) -> None:
    since = datetime.now(UTC)
    destination = Destination(webhook=WebhookIdentity("Wire"), thread=ThreadPlan(name="Budget"))
    message_id = await env.sender.send(env.news.id, spec("Budget"), nonce="nd15-a", destination=destination)
    (message,) = env.emu.channel_messages(env.news)
    assert (
        int(message["id"]) == message_id and message["webhook_id"] and message["author"]["username"] == "Wire"
    )
    (thread,) = env.threads(env.news)
    assert thread.id == message_id and thread.name == "Budget"
    found = await env.sender.find_posted(env.news.id, spec("Budget"), since=since, destination=destination)
    assert found == message_id and len(env.threads(env.news)) == 1
    # The bot's own message of the same look is not the webhook row's.
    own = plan("Budget")
    assert await env.sender.find_posted(env.news.id, spec("Budget"), since=since, destination=own) is None
