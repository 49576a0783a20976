"""Post destinations (issue 13): the Destination of an outbox row, a subscription's PostDelivery,
and the dispatcher's exactly-once rule for destinations Discord gives no nonce (webhooks, forums).
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from bot.delivery.destination import PLAIN, Destination, ThreadPlan, WebhookIdentity
from bot.delivery.dispatcher import OutboxDispatcher
from bot.delivery.errors import TransientDeliveryError
from bot.delivery.memory import MemoryPublisher
from bot.delivery.message import MessageSpec
from bot.errors import DeliveryOptionError, SubscriptionNotFoundError
from bot.feeds.destinations import (
    DEFAULT_DELIVERY,
    PostDelivery,
    destination_for,
    thread_name,
    webhook_name,
    with_threads,
    with_webhook,
)
from bot.feeds.types import Feed, FeedEntry
from bot.storage import Database
from bot.storage.feed_records import SubscriptionStatus
from bot.storage.outbox import OutboxMessage, OutboxStore
from bot.storage.outbox_tables import outbox
from tests.feedserver import item
from tests.test_feed_poller import GUILD, Rig, posts, rig

__all__ = ["rig"]  # the fixture, imported for these tests

START = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
SOURCE = Feed(
    url="https://news.example/feed", title="Example News", icon_url="https://news.example/icon.png", id=7
)


def entry(title: str | None = "A headline", categories: tuple[str, ...] = ()) -> FeedEntry:
    # Fields by name from the dataclass, so a field added later with a default needs no change here.
    values = {f.name: None for f in dataclasses.fields(FeedEntry)}
    values.update(guid="g1", link="https://news.example/a", title=title, categories=categories)
    return FeedEntry(**values)


# --- Destination --------------------------------------------------------------------------------


def test_a_destination_round_trips_and_a_plain_one_is_stored_as_null() -> None:
    assert PLAIN.to_json() is None and Destination.from_json(None) == PLAIN
    full = Destination(
        webhook=WebhookIdentity("Example News", "https://news.example/icon.png"),
        thread=ThreadPlan("A headline", forum=True, tags=("World",), story_item="7:k"),
    )
    assert Destination.from_json(full.to_json()) == full
    edit = Destination(edit_of="alert:1:2")
    assert Destination.from_json(edit.to_json()) == edit


@pytest.mark.parametrize("data", [[], "x", {"webhook": {"avatar_url": None}}, {"thread": {"forum": True}}])
def test_a_malformed_destination_is_a_value_error(data: object) -> None:
    with pytest.raises(ValueError):
        Destination.from_json(data)


def test_only_the_bots_own_messages_take_a_nonce() -> None:
    assert PLAIN.uses_nonce
    assert Destination(thread=ThreadPlan("t")).uses_nonce  # the message is the bot's, the thread follows
    assert not Destination(webhook=WebhookIdentity("x")).uses_nonce
    assert not Destination(thread=ThreadPlan("t", forum=True)).uses_nonce


# --- PostDelivery and each post's destination -----------------------------------------------------


def test_the_default_delivery_is_a_plain_message_and_is_stored_as_null() -> None:
    assert DEFAULT_DELIVERY.to_json() is None
    assert destination_for(DEFAULT_DELIVERY, entry(), SOURCE, item_key="k") == PLAIN
    for garbage in (None, [], {"webhook": "yes", "threads": "everything"}):
        assert PostDelivery.from_json(garbage) == DEFAULT_DELIVERY


def test_a_webhook_post_shows_the_outlets_name_and_icon_unless_the_manager_set_them() -> None:
    delivery = with_webhook(DEFAULT_DELIVERY, enabled=True)
    assert PostDelivery.from_json(delivery.to_json()) == delivery
    assert destination_for(delivery, entry(), SOURCE, item_key="k") == Destination(
        webhook=WebhookIdentity("Example News", "https://news.example/icon.png")
    )
    custom = with_webhook(
        delivery, enabled=True, name="  Desk \n news ", avatar_url="https://cdn.example/a.png"
    )
    dest = destination_for(custom, entry(), SOURCE, item_key="k")
    assert dest.webhook == WebhookIdentity("Desk news", "https://cdn.example/a.png")
    assert with_webhook(custom, enabled=False) == DEFAULT_DELIVERY


@pytest.mark.parametrize(
    ("name", "avatar"),
    [("", None), ("x" * 81, None), (None, "http://cdn.example/a.png"), (None, "javascript:alert(1)")],
)
def test_a_webhook_name_or_avatar_discord_would_refuse_is_a_clear_error(
    name: str | None, avatar: str | None
) -> None:
    with pytest.raises(DeliveryOptionError):
        with_webhook(DEFAULT_DELIVERY, enabled=True, name=name, avatar_url=avatar)


def test_webhook_names_avoid_the_words_discord_refuses_and_fit_its_limit() -> None:
    for name in ("Discord News", "clyde's corner", "DISCORD"):
        made = webhook_name(name)
        assert "discord" not in made.lower() and "clyde" not in made.lower()
    assert len(webhook_name("é" * 200)) <= 80
    assert webhook_name("   ") == "News"


def test_threads_per_item_carry_the_title_and_forums_the_categories_as_tags() -> None:
    threads = with_threads(DEFAULT_DELIVERY, mode="item")
    dest = destination_for(threads, entry(categories=("World",)), SOURCE, item_key="k")
    assert dest.thread == ThreadPlan("A headline", forum=False, tags=(), story_item=None)
    forum = PostDelivery(forum=True, story_threads=True)
    dest = destination_for(forum, entry(categories=("World", "Europe")), SOURCE, item_key="k")
    assert dest.thread == ThreadPlan("A headline", forum=True, tags=("World", "Europe"), story_item="7:k")
    long = thread_name(entry(title="word " * 50), SOURCE)
    assert len(long) <= 100 and long.endswith("…")
    assert thread_name(entry(title=None), SOURCE) == "https://news.example/a"


def test_story_threads_need_threads_and_an_unknown_mode_is_refused() -> None:
    with pytest.raises(DeliveryOptionError):
        with_threads(DEFAULT_DELIVERY, mode="none", story_threads=True)
    with pytest.raises(DeliveryOptionError):
        with_threads(DEFAULT_DELIVERY, mode="forum")
    assert with_threads(PostDelivery(forum=True), mode="none", story_threads=True).story_threads


# --- storage and the dispatcher ------------------------------------------------------------------


def spec(text: str) -> MessageSpec:
    return MessageSpec(content=text)


async def test_the_outbox_keeps_each_rows_destination(db: Database) -> None:
    store = OutboxStore(db)
    webhook = Destination(webhook=WebhookIdentity("Example News"))
    await store.enqueue(
        [
            OutboxMessage(1, 5, "feed_item", "a", spec("a")),
            OutboxMessage(1, 5, "feed_item", "b", spec("b"), destination=webhook),
        ],
        now=START,
    )
    rows = await store.claim(owner="x", now=START, lease=timedelta(minutes=2), limit=5)
    assert [r.message_destination() for r in rows] == [PLAIN]
    a, b = await store.rows()
    assert (a.message_destination(), b.message_destination()) == (PLAIN, webhook)


class FlakyAnswerPublisher(MemoryPublisher):
    """Discord makes the message at the first send, but the answer is lost (a 502)."""

    def __init__(self) -> None:
        super().__init__()
        self.lost_answers = 1
        self.looked = 0

    async def send(
        self, channel_id: int, spec: MessageSpec, *, nonce: str, destination: Destination = PLAIN
    ) -> int:
        message_id = await super().send(channel_id, spec, nonce=nonce, destination=destination)
        if self.lost_answers:
            self.lost_answers -= 1
            raise TransientDeliveryError("Discord answered 502", channel_id)
        return message_id

    async def find_posted(
        self, channel_id: int, spec: MessageSpec, *, since: datetime, destination: Destination = PLAIN
    ) -> int | None:
        self.looked += 1
        return await super().find_posted(channel_id, spec, since=since, destination=destination)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.mark.parametrize(
    "destination",
    [
        Destination(webhook=WebhookIdentity("Example News")),
        Destination(thread=ThreadPlan("A headline", forum=True)),
        PLAIN,
    ],
    ids=["webhook", "forum", "plain"],
)
async def test_a_send_whose_answer_was_lost_is_posted_once(db: Database, destination: Destination) -> None:
    store, publisher, clock = OutboxStore(db), FlakyAnswerPublisher(), Clock()
    await store.enqueue(
        [OutboxMessage(1, 5, "feed_item", "a", spec("a"), destination=destination)], now=START
    )
    dispatcher = OutboxDispatcher(store, publisher, clock=clock, poll_interval_s=0.02)
    task = asyncio.create_task(dispatcher.run())
    try:
        await dispatcher.drain(10)
        assert len(publisher.messages) == 1  # made, but the row waits for its retry
        clock.now += timedelta(seconds=30)  # past the retry delay, within the nonce's memory
        await dispatcher.drain(10)
    finally:
        await dispatcher.stop()
        await task
    assert [m.spec.content for m in publisher.messages] == ["a"]
    (row,) = await store.rows()
    assert row.status == "sent" and row.message_id == publisher.messages[0].message_id
    # Without a nonce the dispatcher must look before sending again; with one, the nonce suffices.
    assert publisher.looked == (0 if destination.uses_nonce else 1)


async def test_a_row_whose_destination_does_not_decode_is_given_up_not_sent(db: Database) -> None:
    store, publisher = OutboxStore(db), MemoryPublisher()
    await store.enqueue([OutboxMessage(1, 5, "feed_item", "a", spec("a"))], now=START)
    async with db.session() as conn:
        await conn.execute(update(outbox).values(destination={"thread": "not an object"}))
    dispatcher = OutboxDispatcher(store, publisher, clock=Clock(), poll_interval_s=0.02)
    task = asyncio.create_task(dispatcher.run())
    try:
        await dispatcher.drain(10)
    finally:
        await dispatcher.stop()
        await task
    (row,) = await store.rows()
    assert row.status == "failed" and "destination" in (row.last_error or "")
    assert publisher.messages == []


# --- a subscription's posts (the poller's real pipeline, SQLite and PostgreSQL) -----------------


async def test_a_subscriptions_delivery_is_stored_and_its_posts_carry_it(rig: Rig) -> None:
    feed = rig.server.add_feed("/a.xml", items=[item(1)])
    url = rig.server.url("/a.xml")
    branded = await rig.service.subscribe(GUILD, 1, url, user_id=None)
    plain = await rig.service.subscribe(GUILD, 2, url, user_id=None)
    sid = branded.subscription.id
    status = await rig.service.set_delivery(
        GUILD, sid, lambda d: with_threads(with_webhook(d, enabled=True, name="Desk"), mode="item")
    )
    assert status.subscription.delivery == PostDelivery(webhook=True, webhook_name="Desk", threads="item")
    with pytest.raises(SubscriptionNotFoundError):  # another server's subscription
        await rig.service.set_delivery(GUILD + 1, sid, lambda d: with_webhook(d, enabled=False))

    feed.publish(item(2, title="Launch day"))
    await rig.poll()
    (new_branded,) = (await posts(rig.db, 1))[1:]
    (new_plain,) = (await posts(rig.db, 2))[1:]
    assert Destination.from_json(new_branded.destination) == Destination(
        webhook=WebhookIdentity("Desk", feed_icon(status)), thread=ThreadPlan("Launch day")
    )
    assert Destination.from_json(new_plain.destination) == PLAIN
    assert plain.subscription.delivery == DEFAULT_DELIVERY


def feed_icon(status: SubscriptionStatus) -> str | None:
    return status.feed.icon_url
