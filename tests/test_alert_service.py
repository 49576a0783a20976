"""Breaking and topic alerts end to end on a real database: items -> stories -> alerts -> edits.

Posts and edits go out through the outbox dispatcher (to a recording in-memory Discord); the
alert service itself has no way to call Discord.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from bot.alerts import AlertSettingsError, KeywordError
from bot.alerts.service import AlertService
from bot.delivery.dispatcher import OutboxDispatcher
from bot.delivery.memory import MemoryPublisher
from bot.delivery.message import MessageSpec
from bot.storage import Database
from bot.storage.alerts import AlertStore
from bot.storage.outbox import OutboxRow, OutboxStore
from bot.storage.stories import StoryStore
from bot.stories.service import StoryAssigner
from tests.test_story_service import QUAKE, FakeClock, NewItem, add_feed, add_items

START = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
GUILD = 1
BREAKING_ON, BREAKING_OFF, WITH_ROLE, TOPIC = 701, 702, 703, 704
ROLE = 4242
OUTLETS = ("reuters.com", "bbc.co.uk", "apnews.com", "nhk.or.jp", "cnn.com")


class RecordingPublisher(MemoryPublisher):
    """Discord as the outbox sees it, recording edits."""

    def __init__(self) -> None:
        super().__init__()
        self.edits: list[tuple[int, int, MessageSpec]] = []

    async def edit(self, channel_id: int, message_id: int, spec: MessageSpec) -> None:
        self.edits.append((channel_id, message_id, spec))
        await super().edit(channel_id, message_id, spec)


@dataclass
class World:
    db: Database
    clock: FakeClock
    alerts: AlertService
    assigner: StoryAssigner
    publisher: RecordingPublisher
    feeds: dict[str, int]

    async def report(self, outlet: str, title: str, *, minutes_ago: float = 0, slug: str = "") -> None:
        """``outlet`` publishes ``title``; the poller sees it now; the assigner groups it."""
        now = self.clock()
        published = now - timedelta(minutes=minutes_ago)
        url = f"https://{outlet}/{slug or abs(hash(title))}"
        await add_items(
            self.db, self.feeds[outlet], [NewItem(title, url, published, f"{title}. More soon.")], seen=now
        )
        await self.assigner.assign_pending(now)

    async def deliver(self) -> int:
        """Run the outbox dispatcher until nothing is due; how many rows it sent (posts and edits)."""
        store = OutboxStore(self.db)
        before = len(await store.rows(status="sent", limit=10_000))
        dispatcher = OutboxDispatcher(store, self.publisher, clock=self.clock, poll_interval_s=0.02)
        task = asyncio.create_task(dispatcher.run())
        try:
            await dispatcher.drain(10)
        finally:
            await dispatcher.stop(grace_s=1)
            await asyncio.wait_for(task, 5)
        return len(await store.rows(status="sent", limit=10_000)) - before

    async def alerts_of(self, channel_id: int) -> list[OutboxRow]:
        """The channel's alert posts (not their edits)."""
        rows = await OutboxStore(self.db).rows(channel_id=channel_id)
        return [r for r in rows if r.kind == "alert" and r.message_destination().edit_of is None]

    async def edits_of(self, channel_id: int) -> list[OutboxRow]:
        rows = await OutboxStore(self.db).rows(channel_id=channel_id)
        return [r for r in rows if r.message_destination().edit_of is not None]


@pytest.fixture
async def world(db: Database) -> AsyncIterator[World]:
    clock = FakeClock(START)
    publisher = RecordingPublisher()
    stories = StoryStore(db)
    alerts = AlertService(AlertStore(db), stories, clock=clock)
    assigner = StoryAssigner(stories, clock=clock, on_assigned=alerts.check_stories)
    feeds = {outlet: await add_feed(db, outlet) for outlet in OUTLETS}
    try:
        yield World(db, clock, alerts, assigner, publisher, feeds)
    finally:
        await assigner.close()


async def test_three_outlets_within_the_window_give_one_alert_then_a_fourth_edits_it(world: World) -> None:
    await world.alerts.set_breaking(GUILD, BREAKING_ON, True, min_sources=3, window_minutes=60)
    await world.alerts.set_breaking(GUILD, BREAKING_OFF, False)

    await world.report(OUTLETS[0], QUAKE[0], minutes_ago=20)
    await world.report(OUTLETS[1], QUAKE[1], minutes_ago=10)
    assert await world.alerts_of(BREAKING_ON) == []  # two outlets: not yet
    await world.report(OUTLETS[2], QUAKE[2])
    [alert] = await world.alerts_of(BREAKING_ON)
    assert await world.alerts_of(BREAKING_OFF) == []
    spec = alert.message_spec()
    assert spec.content is not None and spec.content.startswith("**Breaking:**")
    assert spec.embeds[0].footer_text == "3 outlets so far"
    assert spec.allowed_role_ids == () and "<@&" not in spec.content
    # Checking the same story again posts nothing new.
    story_id = alert.dedup_key.split(":")[2]
    stats = await world.alerts.check_stories([story_id], world.clock())
    assert stats.posted == 0 and len(await world.alerts_of(BREAKING_ON)) == 1

    # The dispatcher sends it; a fourth outlet joins: an edit is queued, not a second post, and
    # nothing reaches Discord until the dispatcher sends it.
    assert await world.deliver() == 1
    [posted] = world.publisher.channel(BREAKING_ON)
    world.clock.advance(minutes=5)
    await world.report(OUTLETS[3], QUAKE[3])
    assert len(await world.alerts_of(BREAKING_ON)) == 1
    [edit] = await world.edits_of(BREAKING_ON)
    assert (edit.kind, edit.dedup_key) == ("alert", f"{alert.dedup_key}:edit:4")
    assert edit.message_destination().edit_of == alert.dedup_key
    assert world.publisher.edits == []
    assert await world.deliver() == 1
    assert [(c, m) for c, m, _ in world.publisher.edits] == [(BREAKING_ON, posted.message_id)]
    edited = world.publisher.edits[0][2]
    assert edited.embeds[0].footer_text == "4 outlets so far"
    assert "nhk.or.jp" in (edited.embeds[0].description or "")
    assert edited.allowed_role_ids == ()
    assert world.publisher.channel(BREAKING_ON)[0].spec == edited
    # Nothing new: no more edits queued.
    stats = await world.alerts.check_stories([story_id], world.clock())
    assert stats.edited == 0 and len(await world.edits_of(BREAKING_ON)) == 1
    assert await world.deliver() == 0 and len(world.publisher.edits) == 1


async def test_edits_queued_while_the_alert_is_unsent_follow_it_and_end_with_the_newest(world: World) -> None:
    await world.alerts.set_breaking(GUILD, BREAKING_ON, True, min_sources=3)
    for i in range(3):
        await world.report(OUTLETS[i], QUAKE[i], minutes_ago=3 - i)
    # Two outlets join while the alert is still in the outbox: two edits queued behind it.
    await world.report(OUTLETS[3], QUAKE[3])
    await world.report(OUTLETS[4], QUAKE[1] + " (update)")
    [alert] = await world.alerts_of(BREAKING_ON)
    keys = [r.dedup_key for r in await world.edits_of(BREAKING_ON)]
    assert keys == [f"{alert.dedup_key}:edit:4", f"{alert.dedup_key}:edit:5"]
    # The same check again queues nothing (each count once).
    story_id = alert.dedup_key.split(":")[2]
    assert (await world.alerts.check_stories([story_id], world.clock())).edited == 0

    assert await world.deliver() == 3
    [posted] = world.publisher.channel(BREAKING_ON)
    assert [m for _, m, _ in world.publisher.edits] == [posted.message_id] * 2
    assert posted.spec.embeds[0].footer_text == "5 outlets so far"
    sent = await OutboxStore(world.db).rows(channel_id=BREAKING_ON, status="sent")
    assert {r.message_id for r in sent} == {posted.message_id}


async def test_a_role_is_mentioned_only_where_the_channel_set_one(world: World) -> None:
    await world.alerts.set_breaking(GUILD, WITH_ROLE, True, role_id=ROLE)
    await world.alerts.set_breaking(GUILD, BREAKING_ON, True)
    for i in range(3):
        await world.report(OUTLETS[i], QUAKE[i], minutes_ago=3 - i)
    [with_role] = await world.alerts_of(WITH_ROLE)
    [without] = await world.alerts_of(BREAKING_ON)
    spec = with_role.message_spec()
    assert spec.allowed_role_ids == (ROLE,) and spec.content is not None
    assert spec.content.startswith(f"<@&{ROLE}> **Breaking:**")
    plain = without.message_spec()
    assert plain.allowed_role_ids == () and "<@&" not in (plain.content or "")


async def test_old_news_reaching_three_outlets_is_not_breaking(world: World) -> None:
    await world.alerts.set_breaking(GUILD, BREAKING_ON, True, min_sources=3, window_minutes=60)
    # Three outlets, but spread over three hours: never three within one hour.
    await world.report(OUTLETS[0], QUAKE[0], minutes_ago=180)
    await world.report(OUTLETS[1], QUAKE[1], minutes_ago=90)
    await world.report(OUTLETS[2], QUAKE[2])
    assert await world.alerts_of(BREAKING_ON) == []


async def test_a_keyword_alert_fires_once_per_story(world: World) -> None:
    assert await world.alerts.keywords_add(GUILD, TOPIC, "  Tsunami ")
    assert not await world.alerts.keywords_add(GUILD, TOPIC, "TSUNAMI")  # already there
    assert await world.alerts.keywords_add(GUILD, TOPIC, "climate change")
    assert await world.alerts.keywords_list(TOPIC) == ["Tsunami", "climate change"]
    with pytest.raises(KeywordError):
        await world.alerts.keywords_add(GUILD, TOPIC, "   ")

    await world.report(OUTLETS[0], "Stocks rally as Fed signals rate cut in December")
    assert await world.alerts_of(TOPIC) == []
    await world.report(OUTLETS[1], QUAKE[1], minutes_ago=5)  # mentions a tsunami warning
    [alert] = await world.alerts_of(TOPIC)
    assert alert.dedup_key.endswith(":keyword")
    assert (alert.message_spec().content or "").startswith("**Topic: Tsunami:**")
    await world.report(OUTLETS[2], QUAKE[2])  # same story, tsunami again
    await world.report(OUTLETS[3], QUAKE[3])
    assert len(await world.alerts_of(TOPIC)) == 1

    assert await world.alerts.keywords_remove(TOPIC, "tsunami")
    assert not await world.alerts.keywords_remove(TOPIC, "tsunami")
    assert await world.alerts.keywords_list(TOPIC) == ["climate change"]


async def test_a_channel_gets_one_message_per_story_even_when_breaking_and_on_topic(world: World) -> None:
    await world.alerts.set_breaking(GUILD, BREAKING_ON, True, min_sources=3)
    await world.alerts.keywords_add(GUILD, BREAKING_ON, "earthquake")
    await world.report(OUTLETS[0], QUAKE[0], minutes_ago=2)  # on topic: a topic alert
    for i in (1, 2):
        await world.report(OUTLETS[i], QUAKE[i])  # now breaking too: no second message
    [alert] = await world.alerts_of(BREAKING_ON)
    assert alert.dedup_key.endswith(":keyword")


async def test_settings_are_validated_and_stored(world: World) -> None:
    with pytest.raises(AlertSettingsError):
        await world.alerts.set_breaking(GUILD, BREAKING_ON, True, min_sources=1)
    with pytest.raises(AlertSettingsError):
        await world.alerts.set_breaking(GUILD, BREAKING_ON, True, window_minutes=0)
    stored = await world.alerts.set_breaking(
        GUILD, BREAKING_ON, True, min_sources=4, window_minutes=30, role_id=ROLE
    )
    assert (stored.breaking_enabled, stored.settings.min_sources, stored.settings.window_minutes) == (
        True,
        4,
        30,
    )
    off = await world.alerts.set_breaking(GUILD, BREAKING_ON, False)
    assert off.breaking_enabled is False and off.settings.role_id is None
    assert await world.alerts.get_settings(BREAKING_ON) == off
    assert await world.alerts.get_settings(999) is None
