"""Alerts that are never fooled, on a real database (SQLite and PostgreSQL): items -> stories -> alerts.

An OPML import shows every new feed's backlog at once, undated items all first seen together:
they never look breaking, nor does the backlog a feed shows after an outage. A few new undated
items of a feed polled before do count. A
channel's ``count_reprints`` is stored and decides whether word-for-word copies count apart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from bot.alerts.service import AlertService
from bot.storage import Database
from bot.storage.alerts import UNDATED_BACKLOG_SIZE, AlertStore
from bot.storage.outbox import OutboxRow, OutboxStore
from bot.storage.stories import StoryStore
from bot.stories.service import StoryAssigner
from tests.test_story_service import QUAKE, FakeClock, NewItem, add_feed, add_items, story_of

START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
GUILD, CHANNEL, REPRINTS = 1, 801, 802
OLD_NEWS = (
    "City council approves new tram line",
    "Museum reopens after two years of renovation",
    "Farmers expect a record apple harvest",
)
WIRE = "Magnitude 7.1 earthquake strikes off the coast of Japan, tsunami warning issued"


@dataclass
class World:
    db: Database
    clock: FakeClock
    alerts: AlertService
    assigner: StoryAssigner

    async def posts(self, channel_id: int) -> list[OutboxRow]:
        rows = await OutboxStore(self.db).rows(channel_id=channel_id)
        return [r for r in rows if r.kind == "alert" and r.message_destination().edit_of is None]


@pytest.fixture
async def world(db: Database) -> AsyncIterator[World]:
    clock = FakeClock(START)
    stories = StoryStore(db)
    alerts = AlertService(AlertStore(db), stories, clock=clock)
    assigner = StoryAssigner(stories, clock=clock, on_assigned=alerts.check_stories)
    try:
        yield World(db, clock, alerts, assigner)
    finally:
        await assigner.close()


def undated(outlet: str, titles: tuple[str, ...]) -> list[NewItem]:
    return [NewItem(t, f"https://{outlet}/{i}", None, f"{t}.") for i, t in enumerate(titles)]


async def test_undated_items_of_an_opml_import_never_look_breaking(world: World) -> None:
    await world.alerts.set_breaking(GUILD, CHANNEL, True, min_sources=3, window_minutes=60)
    now = world.clock()
    # Five feeds imported together: each first fetch shows its backlog, undated, all seen now.
    for i in range(5):
        feed = await add_feed(world.db, f"imported{i}.example", now=now)
        await add_items(world.db, feed, undated(f"imported{i}.example", (QUAKE[i % 4], *OLD_NEWS)), seen=now)
    assert await world.assigner.assign_pending(now) == 20
    assert await world.posts(CHANNEL) == []

    # Feeds polled before show new undated items: published since their last poll, so their
    # first-seen time is near enough, and they count.
    world.clock.advance(minutes=10)
    now = world.clock()
    for i in range(3):
        feed = await add_feed(world.db, f"polled{i}.example", now=now - timedelta(days=1))
        await add_items(
            world.db, feed, undated(f"polled{i}.example", OLD_NEWS[:1]), seen=now - timedelta(days=1)
        )
        url = f"https://polled{i}.example/quake"
        await add_items(world.db, feed, [NewItem(QUAKE[i], url, None, "More soon.")], seen=now)
    await world.assigner.assign_pending(now)
    [alert] = await world.posts(CHANNEL)
    # The imported feeds still count as outlets that reported it (those grouped with the quake).
    footer = alert.message_spec().embeds[0].footer_text or ""
    assert footer.endswith(" outlets so far") and int(footer.split()[0]) > 3


async def test_count_reprints_is_stored_and_decides_whether_copies_count_apart(world: World) -> None:
    default = await world.alerts.set_breaking(GUILD, CHANNEL, True, min_sources=3)
    assert default.settings.count_reprints is False
    stored = await world.alerts.set_breaking(GUILD, REPRINTS, True, min_sources=3, count_reprints=True)
    assert stored.settings.count_reprints is True
    assert await world.alerts.get_settings(REPRINTS) == stored

    lead = "TOKYO (AP) - A powerful earthquake struck off Japan's northeast coast on Monday."
    for outlet in ("apnews.com", "paper1.example", "paper2.example"):
        feed = await add_feed(world.db, outlet, now=START - timedelta(days=1))
        now = world.clock.advance(minutes=2)
        await add_items(world.db, feed, [NewItem(WIRE, f"https://{outlet}/q", now, lead)], seen=now)
        await world.assigner.assign_pending(now)
    assert await world.posts(CHANNEL) == []
    [alert] = await world.posts(REPRINTS)
    assert alert.message_spec().embeds[0].footer_text == "3 outlets so far"

    # Off and on again without the option: back to the default.
    again = await world.alerts.set_breaking(GUILD, REPRINTS, True)
    assert again.settings.count_reprints is False


async def test_only_undated_items_of_a_backlog_are_taken_for_imported(db: Database) -> None:
    store = AlertStore(db)
    feed = await add_feed(db, "imported.example", now=START)
    first = await add_items(db, feed, undated("imported.example", OLD_NEWS), seen=START)
    dated = await add_items(
        db, feed, [NewItem("Dated in the first fetch", "https://imported.example/d", START)], seen=START
    )
    late = START + timedelta(minutes=10)
    later = await add_items(
        db, feed, [NewItem("A later undated item", "https://imported.example/l")], seen=late
    )
    other = await add_feed(db, "other.example", now=START)
    others = await add_items(
        db, other, undated("other.example", OLD_NEWS[:1]), seen=START + timedelta(minutes=10)
    )
    assert await store.undated_backlog([*first, *dated, *later, *others]) == {*first, *others}
    assert await store.undated_backlog([]) == set()


async def test_many_undated_items_in_one_later_fetch_are_a_backlog(db: Database) -> None:
    store = AlertStore(db)
    feed = await add_feed(db, "outage.example", now=START)
    await add_items(db, feed, undated("outage.example/old", OLD_NEWS[:1]), seen=START)
    back = START + timedelta(hours=6)
    titles = tuple(f"Story {i} of the hours the bot was down" for i in range(UNDATED_BACKLOG_SIZE - 1))
    # One fewer than the backlog size is a poll of a live feed: its items are timed.
    few = await add_items(db, feed, undated("outage.example/few", titles), seen=back)
    assert await store.undated_backlog(few) == set()
    # As many, first seen together, are a backlog; a dated item among them keeps its date.
    titles = tuple(f"Story {i} of the hours it was down" for i in range(UNDATED_BACKLOG_SIZE))
    backlog = await add_items(db, feed, undated("outage.example/all", titles), seen=back + timedelta(hours=1))
    dated = await add_items(
        db, feed, [NewItem("Dated", "https://outage.example/d", back)], seen=back + timedelta(hours=1)
    )
    assert await store.undated_backlog([*backlog, *dated]) == set(backlog)


async def test_the_backlog_a_feed_shows_after_an_outage_never_looks_breaking(world: World) -> None:
    await world.alerts.set_breaking(GUILD, CHANNEL, True, min_sources=3, window_minutes=60)
    feeds = []
    for i in range(3):
        feed = await add_feed(world.db, f"down{i}.example", now=START - timedelta(days=1))
        day_before = START - timedelta(days=1)
        await add_items(world.db, feed, undated(f"down{i}.example/old", OLD_NEWS[:1]), seen=day_before)
        feeds.append(feed)
    await world.assigner.assign_pending(world.clock())
    # Back after a day down: each feed shows the quake among the day's undated items, at once.
    now = world.clock.advance(minutes=5)
    day = tuple(f"Yesterday's story number {n}" for n in range(UNDATED_BACKLOG_SIZE))
    for i, feed in enumerate(feeds):
        await add_items(world.db, feed, undated(f"down{i}.example", (QUAKE[i], *day)), seen=now)
    await world.assigner.assign_pending(now)
    assert await world.posts(CHANNEL) == []


async def test_recurring_titles_make_no_story_and_no_alert(world: World) -> None:
    await world.alerts.set_breaking(GUILD, CHANNEL, True, min_sources=3)
    now = world.clock()
    ids = []
    for i, title in enumerate(
        ("Today's weather", "Today’s Weather", "Weather forecast for Monday", "Weather")
    ):
        feed = await add_feed(world.db, f"paper{i}.example", now=now - timedelta(days=1))
        ids += await add_items(world.db, feed, [NewItem(title, f"https://paper{i}.example/w", now)], seen=now)
    quake = await add_feed(world.db, "quake.example", now=now - timedelta(days=1))
    ids += await add_items(world.db, quake, [NewItem(QUAKE[0], "https://quake.example/q", now)], seen=now)
    assert await world.assigner.assign_pending(now) == 5
    stories = await story_of(world.db, ids)
    assert len(set(stories)) == 5 and all(s is not None and s.startswith("r") for s in stories[:4])
    assert await world.posts(CHANNEL) == []
    # Another assigner (the saved state loaded) keeps them where they are.
    await world.assigner.close()
    again = StoryAssigner(StoryStore(world.db), clock=world.clock)
    try:
        assert await again.assign_pending(world.clock()) == 0
        assert await story_of(world.db, ids) == stories
    finally:
        await again.close()
