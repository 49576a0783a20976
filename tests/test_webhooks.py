"""Branded posts through channel webhooks: the store (SQLite and PostgreSQL) and the sender
(cogs/webhook_delivery.py) driving the Discord emulator with a real discord.py client.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import discord
import pytest
from discord.ext import commands

from bot.delivery.destination import Destination, WebhookIdentity
from bot.delivery.errors import (
    ChannelUnavailableError,
    MessageRejectedError,
    RateLimitedError,
    TransientDeliveryError,
)
from bot.delivery.message import EmbedSpec, MessageSpec
from bot.storage import Database
from bot.storage.webhooks import ChannelWebhook, WebhookStore
from cogs.webhook_delivery import WEBHOOK_NAME, WebhookSender
from tests.e2e.inprocess import running
from tests.emulator import Emulator, Perm

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
OUTLET = WebhookIdentity("Harbour Gazette", "https://example.org/icon.png")


def post(n: int, *, roles: tuple[int, ...] = ()) -> MessageSpec:
    content = " ".join(f"<@&{r}>" for r in roles) or None
    embed = EmbedSpec(title=f"Story {n}", url=f"https://example.org/story/{n}", description="Text @everyone")
    return MessageSpec(content=content, embeds=(embed,), allowed_role_ids=roles)


# --- the store -----------------------------------------------------------------------------------


async def test_the_first_saved_webhook_wins_and_forget_drops_only_that_one(
    db: Database, peer: Database
) -> None:
    store, other = WebhookStore(db), WebhookStore(peer)
    assert await store.get(10) is None
    mine = ChannelWebhook(10, 111, "secret-a", guild_id=1)
    assert await store.save(mine, now=NOW) == mine
    # Another process made one for the same channel meanwhile: it gets ours back.
    assert await other.save(ChannelWebhook(10, 222, "secret-b", guild_id=1), now=NOW) == mine
    assert await other.get(10) == mine
    assert "secret" not in repr(mine)

    assert not await other.forget(10, 222)  # not the channel's webhook: nothing forgotten
    assert await store.get(10) == mine
    assert await other.forget(10, 111)
    assert await store.get(10) is None
    newer = ChannelWebhook(10, 333, "secret-c", guild_id=1)
    assert await other.save(newer, now=NOW) == newer
    assert not await store.forget(10, 111)  # a late forget of the old one keeps the newer
    assert await store.get(10) == newer


async def test_concurrent_saves_agree_on_one_winner(db: Database, peer: Database) -> None:
    stores = [WebhookStore(db), WebhookStore(peer)] * 4
    hooks = [ChannelWebhook(20, 1000 + n, f"t{n}") for n in range(len(stores))]
    winners = await asyncio.gather(*(s.save(h, now=NOW) for s, h in zip(stores, hooks, strict=True)))
    assert len({w.webhook_id for w in winners}) == 1
    assert await WebhookStore(db).get(20) == winners[0]


# --- the sender, through the emulator -------------------------------------------------------------


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as emulator:
        yield emulator


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[commands.Bot]:
    bot = commands.Bot(command_prefix="!", intents=discord.Intents(guilds=True))
    async with running(bot, emu):
        yield bot


def webhooks_in(emu: Emulator, channel_id: int) -> list[dict[str, object]]:
    return [w for w in emu.webhooks.values() if w["channel_id"] == str(channel_id)]


def executes(emu: Emulator) -> list[object]:
    return [r for r in emu.recorder.calls("POST", "/webhooks/") if "/messages" not in r.path]


async def test_a_post_goes_out_under_the_outlets_name_and_avatar_pinging_nobody(
    emu: Emulator, client: commands.Bot, db: Database
) -> None:
    news = emu.default.news
    sender = WebhookSender(client, db)
    message_id = await sender.send(news.id, post(1), nonce="n1", destination=Destination(webhook=OUTLET))

    [hook] = webhooks_in(emu, news.id)
    assert hook["name"] == WEBHOOK_NAME and hook["application_id"] == str(emu.application_id)
    [message] = emu.messages.history(news.id, limit=10)
    assert int(message["id"]) == message_id and message["webhook_id"] == hook["id"]
    assert message["author"]["username"] == "Harbour Gazette"
    assert message["author"]["avatar"] == hashlib.md5(b"https://example.org/icon.png").hexdigest()
    [call] = executes(emu)
    assert call.query.get("wait") == "true"
    assert call.body["allowed_mentions"] == {"parse": []}
    assert call.body["embeds"][0]["title"] == "Story 1"
    saved = await WebhookStore(db).get(news.id)
    assert saved is not None and saved.webhook_id == int(hook["id"])

    # The next post reuses the webhook; a role the spec names is the only mention allowed.
    await sender.send(news.id, post(2, roles=(77,)), nonce="n2", destination=Destination(webhook=OUTLET))
    assert len(webhooks_in(emu, news.id)) == 1
    assert executes(emu)[-1].body["allowed_mentions"] == {"parse": [], "roles": [77]}
    assert len(emu.recorder.calls("POST", f"/channels/{news.id}/webhooks")) == 1


async def test_a_deleted_webhook_is_made_again_and_the_post_still_sent_once(
    emu: Emulator, client: commands.Bot, db: Database
) -> None:
    news = emu.default.news
    sender = WebhookSender(client, db)
    await sender.execute(news.id, post(1), OUTLET)
    [first] = webhooks_in(emu, news.id)
    emu.webhooks.clear()  # a moderator deleted it

    message_id = await sender.execute(news.id, post(2), OUTLET)
    [second] = webhooks_in(emu, news.id)
    assert second["id"] != first["id"]
    titles = [m["embeds"][0]["title"] for m in emu.messages.history(news.id, limit=10)]
    assert titles.count("Story 2") == 1
    saved = await WebhookStore(db).get(news.id)
    assert saved is not None and saved.webhook_id == int(second["id"])
    # The post sent through the old webhook is still ours when looked for.
    since = NOW.replace(year=2000)
    assert await sender.find_in(news.id, post(2), since=since) == message_id
    assert await sender.find_in(news.id, post(1), since=since) is not None


async def test_the_bots_webhook_is_found_again_when_the_table_lost_it(
    emu: Emulator, client: commands.Bot, db: Database, peer: Database
) -> None:
    news = emu.default.news
    await WebhookSender(client, db).execute(news.id, post(1), OUTLET)
    [hook] = webhooks_in(emu, news.id)
    await WebhookStore(db).forget(news.id, int(hook["id"]))
    # Someone else's webhook in the channel is never used.
    emu.webhooks[1] = {**hook, "id": "1", "application_id": "42", "user": {"id": "42"}, "token": "x"}

    await WebhookSender(client, peer).execute(news.id, post(2), OUTLET)
    assert len(emu.recorder.calls("POST", f"/channels/{news.id}/webhooks")) == 1
    saved = await WebhookStore(db).get(news.id)
    assert saved is not None and saved.webhook_id == int(hook["id"])


async def test_processes_racing_to_make_the_webhook_keep_one(
    emu: Emulator, client: commands.Bot, db: Database, peer: Database
) -> None:
    news = emu.default.news
    senders = [WebhookSender(client, d) for d in (db, peer, db, peer)]
    ids = await asyncio.gather(*(s.execute(news.id, post(n), OUTLET) for n, s in enumerate(senders)))
    assert len(set(ids)) == 4
    [hook] = webhooks_in(emu, news.id)  # the losers deleted theirs
    made = emu.recorder.calls("POST", f"/channels/{news.id}/webhooks")
    assert len(emu.recorder.calls("DELETE", "/webhooks/")) == len(made) - 1
    assert {m["webhook_id"] for m in emu.messages.history(news.id, limit=10)} == {hook["id"]}
    saved = await WebhookStore(peer).get(news.id)
    assert saved is not None and saved.webhook_id == int(hook["id"])


class LateSender(WebhookSender):
    """A process whose webhook is made just after another process made and saved its own."""

    def __init__(self, client: commands.Bot, db: Database, other: WebhookSender) -> None:
        super().__init__(client, db)
        self.other = other

    async def _create(self, channel_id: int) -> ChannelWebhook:
        await self.other.webhook_for(channel_id)  # it listed none, and so did we
        return await super()._create(channel_id)


async def test_the_process_that_saves_second_deletes_its_webhook_and_uses_the_winners(
    emu: Emulator, client: commands.Bot, db: Database, peer: Database
) -> None:
    news = emu.default.news
    late = LateSender(client, peer, WebhookSender(client, db))
    message_id = await late.execute(news.id, post(1), OUTLET)
    made = [c.body for c in emu.recorder.calls("POST", f"/channels/{news.id}/webhooks")]
    assert len(made) == 2
    [winner] = webhooks_in(emu, news.id)
    [deleted] = emu.recorder.calls("DELETE", "/webhooks/")
    assert deleted.path.split("/")[2] != winner["id"]
    [message] = emu.messages.history(news.id, limit=10)
    assert int(message["id"]) == message_id and message["webhook_id"] == winner["id"]


async def test_find_posted_sees_only_our_webhooks_post_of_that_spec(
    emu: Emulator, client: commands.Bot, db: Database
) -> None:
    news = emu.default.news
    sender = WebhookSender(client, db)
    since = datetime.now(UTC)
    assert (
        await sender.find_posted(news.id, post(1), since=since, destination=Destination(webhook=OUTLET))
        is None
    )
    # The bot's own message of the same post is not the webhook's.
    await client.get_partial_messageable(news.id).send(
        embed=discord.Embed(title="Story 1", url="https://example.org/story/1")
    )
    message_id = await sender.execute(news.id, post(1), OUTLET)
    destination = Destination(webhook=OUTLET)
    assert await sender.find_posted(news.id, post(1), since=since, destination=destination) == message_id
    assert await sender.find_posted(news.id, post(3), since=since, destination=destination) is None
    # Posted long before the row was queued: not this row's post.
    later = since + timedelta(minutes=5)
    assert await sender.find_posted(news.id, post(1), since=later, destination=destination) is None


async def test_without_manage_webhooks_the_channel_is_held_with_a_clear_reason(
    emu: Emulator, client: commands.Bot, db: Database
) -> None:
    world = emu.default
    news, general = world.news, world.general
    sender = WebhookSender(client, db)
    await sender.execute(general.id, post(1), OUTLET)  # made while allowed
    world.guild.set_overwrite(news, world.bot_role, deny=Perm.MANAGE_WEBHOOKS)
    world.guild.set_overwrite(general, world.bot_role, deny=Perm.MANAGE_WEBHOOKS)

    with pytest.raises(ChannelUnavailableError, match="I need Manage Webhooks in") as raised:
        await sender.execute(news.id, post(1), OUTLET)
    assert "in #news to post as the outlet" in str(raised.value) and "/feed resume" in str(raised.value)
    assert webhooks_in(emu, news.id) == []
    # A webhook already made needs no permission to post through.
    assert await sender.execute(general.id, post(2), OUTLET)


async def test_posts_into_a_thread_of_the_channel(emu: Emulator, client: commands.Bot, db: Database) -> None:
    news = emu.default.news
    thread = emu.default.guild.add_thread(news, "Story thread", owner_id=emu.bot_user_id)
    sender = WebhookSender(client, db)
    message_id = await sender.execute(news.id, post(1), OUTLET, thread_id=thread.id)
    [message] = emu.messages.history(thread.id, limit=10)
    assert int(message["id"]) == message_id
    assert emu.messages.history(news.id, limit=10) == []
    assert (
        await sender.find_in(news.id, post(1), since=NOW.replace(year=2000), location_id=thread.id)
        == message_id
    )


async def test_the_token_is_never_logged(
    emu: Emulator, client: commands.Bot, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    news = emu.default.news
    sender = WebhookSender(client, db)
    await sender.execute(news.id, post(1), OUTLET)
    emu.webhooks.clear()
    await sender.execute(news.id, post(2), OUTLET)
    tokens = [str(w["token"]) for w in emu.webhooks.values()]
    saved = await WebhookStore(db).get(news.id)
    assert saved is not None
    tokens.append(saved.token)
    # newsdesk's own records (at DEBUG, libraries log SQL parameters and HTTP bodies).
    ours = [r for r in caplog.records if r.name.split(".")[0] in ("bot", "cogs")]
    text = "\n".join(r.getMessage() for r in ours)
    assert "made webhook" in text and not any(t in text for t in tokens)


async def test_a_forum_post_through_the_webhook_with_the_forums_tags(
    emu: Emulator, client: commands.Bot, db: Database
) -> None:
    forum = emu.default.guild.add_forum_channel("press", tags=("Space", "Sport"))
    await emu.publish_channel(forum)
    space = int(str(forum.available_tags[0]["id"]))
    sender = WebhookSender(client, db)
    post_id = await sender.execute(forum.id, post(1), OUTLET, thread_name="Story 1", applied_tags=[space])
    thread = emu.default.guild.channels[post_id]  # the post's id is its first message's
    assert thread.parent_id == forum.id and thread.name == "Story 1" and thread.applied_tags == [space]
    [message] = emu.messages.history(post_id, limit=10)
    assert message["author"]["username"] == "Harbour Gazette"
    # A forum takes posts, not messages.
    with pytest.raises(MessageRejectedError, match="thread_name"):
        await sender.execute(forum.id, post(2), OUTLET)


async def test_a_subscription_in_a_thread_posts_through_its_channels_webhook(
    emu: Emulator, client: commands.Bot, db: Database
) -> None:
    news = emu.default.news
    thread = emu.default.guild.add_thread(news, "Live", owner_id=emu.bot_user_id)
    await emu.publish_thread(thread)
    await asyncio.sleep(0.2)  # the client caches the thread
    sender = WebhookSender(client, db)
    destination = Destination(webhook=OUTLET)
    since = datetime.now(UTC)
    message_id = await sender.send(thread.id, post(1), nonce="n", destination=destination)
    assert [int(m["id"]) for m in emu.messages.history(thread.id, limit=10)] == [message_id]
    assert len(webhooks_in(emu, news.id)) == 1 and webhooks_in(emu, thread.id) == []
    assert await sender.find_posted(thread.id, post(1), since=since, destination=destination) == message_id


async def test_discords_refusals_are_never_retried_inside_a_send(
    emu: Emulator, client: commands.Bot, db: Database
) -> None:
    news, general = emu.default.news, emu.default.general
    sender = WebhookSender(client, db)
    await sender.execute(news.id, post(1), OUTLET)
    before = len(executes(emu))
    emu.inject("POST /webhooks/*/*", 502, count=1)
    with pytest.raises(TransientDeliveryError):
        await sender.execute(news.id, post(2), OUTLET)
    # A 5xx may have posted it: one request, the dispatcher looks before sending again.
    assert len(executes(emu)) == before + 1
    emu.inject("POST /webhooks/*/*", 429, count=1, retry_after=0.5)
    with pytest.raises(RateLimitedError) as limited:
        await sender.execute(news.id, post(2), OUTLET)
    assert limited.value.retry_after == pytest.approx(0.5)
    for n in range(15):  # other integrations' webhooks fill the channel
        emu.webhooks[n + 1] = {
            "id": str(n + 1),
            "channel_id": str(general.id),
            "token": "t",
            "application_id": "9",
        }
    with pytest.raises(ChannelUnavailableError, match="#general has the most webhooks Discord allows"):
        await sender.execute(general.id, post(3), OUTLET)
