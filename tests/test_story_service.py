"""The story assigner on a real database: grouping, persistence across restarts, one leader."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.storage import Database
from bot.storage.feed_tables import feed_items, feeds, subscriptions
from bot.storage.instances import InstanceStore
from bot.storage.stories import StoryStore
from bot.storage.story_tables import grouper_state, stories
from bot.stories.service import StoryAssigner

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)

QUAKE = (
    "Earthquake of magnitude 7.1 strikes off the coast of Japan",
    "Japan earthquake: magnitude 7.1 quake hits off coast, tsunami warning issued",
    "Tsunami warning after 7.1 magnitude earthquake strikes Japan coast",
    "Japan lifts tsunami warning after magnitude 7.1 earthquake off coast",
)
OTHERS = (
    "Stocks rally as Fed signals rate cut in December",
    "Google unveils new Pixel phone with bigger battery",
    "Champions League: Arsenal beat Bayern 3-1 at the Emirates",
)


# --- helpers shared with the digest and alert tests --------------------------------------------


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass(frozen=True)
class NewItem:
    title: str
    url: str
    published: datetime | None = None
    summary: str | None = None


async def add_feed(db: Database, name: str, *, now: datetime = T0, title: str | None = None) -> int:
    """A feed of the outlet ``name`` (its site is https://{name}/)."""
    async with db.session() as conn:
        result = await conn.execute(
            feeds.insert()
            .values(
                url=f"https://{name}/feed.xml",
                title=title or name,
                site_url=f"https://{name}/",
                next_check_at=now,
                created_at=now,
            )
            .returning(feeds.c.id)
        )
        return result.scalar_one()


async def subscribe(
    db: Database, feed_id: int, channel_id: int, *, guild_id: int = 1, now: datetime = T0
) -> None:
    async with db.session() as conn:
        await conn.execute(
            subscriptions.insert().values(
                feed_id=feed_id,
                guild_id=guild_id,
                channel_id=channel_id,
                created_at=now,
                include=[],
                exclude=[],
            )
        )


async def add_items(db: Database, feed_id: int, items: Sequence[NewItem], *, seen: datetime) -> list[int]:
    """Items as the poller writes them: first seen at ``seen``, no story yet."""
    ids = []
    async with db.session() as conn:
        for item in items:
            result = await conn.execute(
                feed_items.insert()
                .values(
                    feed_id=feed_id,
                    entry_key=item.url,
                    link_key=item.url,
                    title=item.title,
                    url=item.url,
                    summary=item.summary,
                    published_at=item.published,
                    first_seen_at=seen,
                )
                .returning(feed_items.c.id)
            )
            ids.append(result.scalar_one())
    return ids


async def story_of(db: Database, item_ids: Sequence[int]) -> list[str | None]:
    async with db.session() as conn:
        rows = dict((await conn.execute(select(feed_items.c.id, feed_items.c.story_id))).all())
    return [rows[i] for i in item_ids]


def quake_item(outlet: str, index: int, *, published: datetime) -> NewItem:
    return NewItem(QUAKE[index], f"https://{outlet}/quake-{index}", published)


# --- tests -----------------------------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def assigner_for(db: Database, clock: FakeClock, **options: object) -> StoryAssigner:
    return StoryAssigner(StoryStore(db), clock=clock, **options)  # type: ignore[arg-type]


async def test_three_outlets_reporting_one_event_share_one_story(db: Database, clock: FakeClock) -> None:
    outlets = ["reuters.com", "bbc.co.uk", "apnews.com"]
    feed_ids = [await add_feed(db, o) for o in outlets]
    quake_ids, other_ids = [], []
    for i, (outlet, feed_id) in enumerate(zip(outlets, feed_ids, strict=True)):
        other = NewItem(OTHERS[i], f"https://{outlet}/other-{i}", T0)
        other_ids += await add_items(db, feed_id, [other], seen=T0)
        quake_ids += await add_items(
            db,
            feed_id,
            [quake_item(outlet, i, published=T0 + timedelta(minutes=i))],
            seen=T0 + timedelta(minutes=5),
        )

    assigner = assigner_for(db, clock)
    try:
        assert await assigner.assign_pending(clock()) == 6
        assert await assigner.assign_pending(clock()) == 0  # nothing left
    finally:
        await assigner.close()

    quake = await story_of(db, quake_ids)
    others = await story_of(db, other_ids)
    assert len(set(quake)) == 1 and quake[0] is not None
    assert len(set(others)) == 3 and quake[0] not in others
    async with db.session() as conn:
        row = (await conn.execute(select(stories).where(stories.c.id == quake[0]))).one()
    assert (row.item_count, row.source_count) == (3, 3)
    assert row.title == QUAKE[0]
    assert row.first_seen_at == T0 and row.last_seen_at == T0 + timedelta(minutes=2)


async def test_the_assigner_reads_each_items_link_slug(db: Database, clock: FakeClock) -> None:
    # Headlines worded apart, links with one slug: the story is found through the links.
    slug = "gm-ignition-switch-recall-congress-hearing"
    titles = ("Carmaker faces questions over recall", "GM ignition switch recall: Congress sets hearing")
    ids = []
    for outlet, title in zip(("a.example", "b.example"), titles, strict=True):
        feed_id = await add_feed(db, outlet)
        ids += await add_items(db, feed_id, [NewItem(title, f"https://{outlet}/2014/{slug}", T0)], seen=T0)
    assigner = assigner_for(db, clock)
    try:
        assert await assigner.assign_pending(clock()) == 2
    finally:
        await assigner.close()
    first, second = await story_of(db, ids)
    assert first is not None and first == second


@pytest.mark.parametrize("save_every_items", [1, 10_000], ids=["saved-each-batch", "replayed"])
async def test_a_restart_keeps_story_ids_for_new_items_of_the_same_story(
    db: Database, clock: FakeClock, save_every_items: int
) -> None:
    feed_ids = [await add_feed(db, o) for o in ("a.example", "b.example", "c.example", "d.example")]
    first = await add_items(db, feed_ids[0], [quake_item("a.example", 0, published=T0)], seen=T0)
    first += await add_items(db, feed_ids[1], [NewItem(OTHERS[0], "https://b.example/o", T0)], seen=T0)

    one = assigner_for(db, clock, save_every_items=save_every_items)
    assert await one.assign_pending(clock()) == 2
    clock.advance(minutes=5)
    second = await add_items(db, feed_ids[1], [quake_item("b.example", 1, published=clock())], seen=clock())
    assert await one.assign_pending(clock()) == 1
    # A crash: no save at stop, the lease is left to expire.
    one._executor.shutdown()
    async with db.session() as conn:
        saved_upto = (await conn.execute(select(grouper_state.c.last_item_id))).scalar_one()
    assert saved_upto == (second[0] if save_every_items == 1 else first[-1])

    clock.advance(minutes=1)  # past nothing: the dead process's lease still runs...
    two = assigner_for(db, clock, save_every_items=save_every_items)
    third = await add_items(db, feed_ids[2], [quake_item("c.example", 2, published=clock())], seen=clock())
    assert await two.assign_pending(clock()) == 0  # ...so the new one waits for it
    clock.advance(minutes=2)
    try:
        assert await two.assign_pending(clock()) == 1
        if save_every_items != 1:
            assert two.stats.replayed == 1  # the item grouped after the last save
        fourth = await add_items(
            db, feed_ids[3], [quake_item("d.example", 3, published=clock())], seen=clock()
        )
        assert await two.assign_pending(clock()) == 1
    finally:
        await two.close()
    ids = await story_of(db, [first[0], second[0], third[0], fourth[0]])
    assert len(set(ids)) == 1, ids
    assert (await story_of(db, [first[1]]))[0] != ids[0]


async def test_only_one_process_assigns_at_a_time(db: Database, db_url: str, clock: FakeClock) -> None:
    feed_ids = [await add_feed(db, f"o{i}.example") for i in range(4)]
    items: list[int] = []
    for i, feed_id in enumerate(feed_ids):
        items += await add_items(
            db,
            feed_id,
            [NewItem(f"{t} ({i})", f"https://o{i}.example/{n}", T0) for n, t in enumerate(OTHERS + QUAKE)],
            seen=T0,
        )
    other_db = Database(db_url)  # another process's connections
    a = assigner_for(db, clock, owner="a", batch_size=5)
    b = assigner_for(other_db, clock, owner="b", batch_size=5)
    try:
        counts = await asyncio.gather(a.assign_pending(clock()), b.assign_pending(clock()))
        assert sorted(counts) == [0, len(items)]
        assert a.is_leader != b.is_leader
        leader, follower = (a, b) if a.is_leader else (b, a)

        # The leader stops renewing (hung); once its lease has run out the other takes over and
        # continues the same grouping (state reloaded from the database).
        clock.advance(seconds=121)
        late = await add_items(
            db, feed_ids[0], [quake_item("o0.example", 1, published=clock())], seen=clock()
        )
        assert await follower.assign_pending(clock()) == 1
        assert follower.is_leader
        # The old leader wakes up: its lease is gone, it writes nothing and idles.
        await add_items(
            db,
            feed_ids[1],
            [NewItem("Unrelated headline here", "https://o1.example/x", clock())],
            seen=clock(),
        )
        assert await leader.assign_pending(clock()) == 0
        assert not leader.is_leader
        assert await follower.assign_pending(clock()) == 1
    finally:
        await a.close()
        await b.close()
        await other_db.close()
    assert None not in await story_of(db, items)
    quake_story = (await story_of(db, [items[len(OTHERS)]]))[0]
    assert (await story_of(db, late))[0] == quake_story


@pytest.mark.allow_error_logs(r"on_assigned hook failed for \d+ stories \[RuntimeError: alerts are down\]")
async def test_the_hook_gets_the_stories_of_each_batch_and_its_errors_do_not_stop_grouping(
    db: Database, clock: FakeClock
) -> None:
    calls: list[tuple[list[str], datetime]] = []

    async def hook(story_ids: Sequence[str], now: datetime) -> None:
        calls.append((list(story_ids), now))
        raise RuntimeError("alerts are down")

    feed_id = await add_feed(db, "a.example")
    ids = await add_items(
        db, feed_id, [NewItem(t, f"https://a.example/{i}", T0) for i, t in enumerate(OTHERS)], seen=T0
    )
    with ThreadPoolExecutor(1) as pool:
        assigner = assigner_for(db, clock, on_assigned=hook, batch_size=2, executor=pool)
        assert await assigner.assign_pending(clock()) == 3
        await assigner.close()
    assert [len(c[0]) for c in calls] == [2, 1]
    assert sorted(s for c in calls for s in c[0]) == sorted(await story_of(db, ids))  # type: ignore[type-var]
    assert assigner.stats.hook_errors == 2


async def test_run_loop_assigns_new_items_when_notified(db: Database, clock: FakeClock) -> None:
    feed_id = await add_feed(db, "a.example")
    assigner = assigner_for(db, clock, idle_s=30.0)
    task = asyncio.create_task(assigner.run())
    try:
        ids = await add_items(db, feed_id, [NewItem(OTHERS[0], "https://a.example/0", T0)], seen=T0)
        assigner.notify()
        for _ in range(200):
            if (await story_of(db, ids))[0] is not None:
                break
            await asyncio.sleep(0.02)
        assert (await story_of(db, ids))[0] is not None
    finally:
        await assigner.stop()
        await asyncio.wait_for(task, 10)
        await assigner.close()
    async with db.session() as conn:
        assert (await conn.execute(select(grouper_state.c.last_item_id))).scalar_one() == ids[0]


async def test_a_notify_during_a_round_is_not_lost(db: Database, clock: FakeClock) -> None:
    feed_id = await add_feed(db, "a.example")
    later: list[int] = []

    async def while_grouping(story_ids: Sequence[str], now: datetime) -> None:
        # The poller stores an item and says so while the assigner is still in its round.
        if not later:
            later.extend(
                await add_items(db, feed_id, [NewItem(OTHERS[1], "https://a.example/1", T0)], seen=T0)
            )
            assigner.notify()

    assigner = assigner_for(db, clock, idle_s=30.0, on_assigned=while_grouping)
    await add_items(db, feed_id, [NewItem(OTHERS[0], "https://a.example/0", T0)], seen=T0)
    task = asyncio.create_task(assigner.run())
    try:
        for _ in range(250):  # well under idle_s: the next round follows at once
            if later and (await story_of(db, later))[0] is not None:
                break
            await asyncio.sleep(0.02)
        assert later and (await story_of(db, later))[0] is not None
    finally:
        await assigner.stop()
        await asyncio.wait_for(task, 10)
        await assigner.close()


async def test_a_batch_renames_merged_stories_and_is_fenced_by_the_lease(db: Database) -> None:
    from bot.storage.alert_tables import channel_alerts
    from bot.storage.stories import BatchWrite, StorySummary

    store = StoryStore(db)
    feed_id = await add_feed(db, "a.example")
    ids = await add_items(
        db, feed_id, [NewItem(t, f"https://a.example/{i}", T0) for i, t in enumerate(QUAKE)], seen=T0
    )
    until = T0 + timedelta(minutes=2)
    assert await store.acquire_lease("test", "me", now=T0, until=until)
    assert not await store.acquire_lease("test", "other", now=T0, until=until)

    def summary(story_id: str, count: int) -> StorySummary:
        return StorySummary(story_id, T0, T0, count, 1, f"title {story_id}")

    first = BatchWrite(
        assignments=[(ids[0], "s1"), (ids[1], "s1"), (ids[2], "s2"), (ids[3], "s2")],
        merged={},
        stories=[summary("s1", 2), summary("s2", 2)],
    )
    assert await store.write_batch(first, lease="test", owner="me", now=T0, lease_until=until)
    async with db.session() as conn:
        for channel, story in ((1, "s2"), (2, "s2"), (2, "s1")):
            await conn.execute(
                channel_alerts.insert().values(
                    channel_id=channel,
                    story_id=story,
                    kind="breaking",
                    source_count=3,
                    dedup_key=f"alert:{channel}:{story}:breaking",
                    alerted_at=T0,
                    updated_at=T0,
                )
            )

    # Someone else's batch (or ours after the lease ran out) writes nothing.
    late = BatchWrite(assignments=[(ids[0], "s9")], merged={}, stories=[])
    assert not await store.write_batch(late, lease="test", owner="other", now=T0, lease_until=until)
    assert not await store.write_batch(late, lease="test", owner="me", now=until, lease_until=until)

    merge = BatchWrite(assignments=[], merged={"s2": "s1"}, stories=[summary("s1", 4)])
    assert await store.write_batch(merge, lease="test", owner="me", now=T0, lease_until=until)
    assert await story_of(db, ids) == ["s1"] * 4
    async with db.session() as conn:
        rows = (await conn.execute(select(stories.c.id, stories.c.item_count, stories.c.title))).all()
        alerts = sorted(
            (await conn.execute(select(channel_alerts.c.channel_id, channel_alerts.c.story_id))).all()
        )
    assert rows == [("s1", 4, "title s1")]
    # Channel 1's alert follows the story; channel 2 already had one about s1: its s2 row stays.
    assert alerts == [(1, "s1"), (2, "s1"), (2, "s2")]


async def test_items_carry_the_outlet_host_for_grouping_and_the_feed_title_for_display(db: Database) -> None:
    titled = await add_feed(db, "bbc.example", title="  BBC News -\nWorld ")
    ids = await add_items(db, titled, [NewItem(QUAKE[0], "https://bbc.example/q", T0)], seen=T0)
    [row] = await StoryStore(db).pending_items(limit=10)
    assert row.id == ids[0]
    assert row.source == "bbc.example"
    assert row.source_title == "BBC News - World"


# --- owners that are instances: the lead moves within the takeover bound ------------------------


async def test_a_dead_leaders_grouping_moves_within_the_bound_and_keeps_story_ids(
    db: Database, db_url: str, clock: FakeClock
) -> None:
    bound = timedelta(seconds=30)  # run.takeover_s: how long a silent instance stays alive

    async def alive(database: Database, name: str) -> None:
        store = InstanceStore(database)
        now = clock()
        if not await store.beat(name, now=now, expires_at=now + bound):
            await store.register(name, host="h", pid=1, roles=("worker",), now=now, expires_at=now + bound)

    feed_ids = [await add_feed(db, o) for o in ("a.example", "b.example", "c.example", "d.example")]
    first = await add_items(db, feed_ids[0], [quake_item("a.example", 0, published=T0)], seen=T0)
    first += await add_items(db, feed_ids[1], [NewItem(OTHERS[0], "https://b.example/o", T0)], seen=T0)
    other_db = Database(db_url)  # the second process
    # A lease far longer than the bound: the move must follow the leader's heartbeat, not its lease.
    a = assigner_for(db, clock, owner="a", lease_s=600, save_every_items=10_000)
    b = assigner_for(other_db, clock, owner="b", lease_s=600, save_every_items=10_000)
    try:
        await alive(db, "a")
        await alive(other_db, "b")
        assert await a.assign_pending(clock()) == 2  # saved once (the first batch), then...
        clock.advance(seconds=10)
        await alive(db, "a")  # a's last beat: it is killed after it
        second = await add_items(
            db, feed_ids[1], [quake_item("b.example", 1, published=clock())], seen=clock()
        )
        assert await a.assign_pending(clock()) == 1  # ...grouped after the save: replayed by b

        third = await add_items(
            db, feed_ids[2], [quake_item("c.example", 2, published=clock())], seen=clock()
        )
        for _ in range(2):  # a is alive for b until its row expires, 30 s after its last beat
            clock.advance(seconds=10)
            await alive(other_db, "b")
            assert await b.assign_pending(clock()) == 0
            assert not b.is_leader
        clock.advance(seconds=10)
        await alive(other_db, "b")
        assert await b.assign_pending(clock()) == 1  # within the bound, not after the 10-minute lease
        assert b.is_leader and b.stats.replayed == 1
        fourth = await add_items(
            db, feed_ids[3], [quake_item("d.example", 3, published=clock())], seen=clock()
        )
        assert await b.assign_pending(clock()) == 1
        # a was only paused, and wakes up: it writes nothing and idles.
        await alive(db, "a")
        assert await a.assign_pending(clock()) == 0 and not a.is_leader
    finally:
        await b.close()
        await a.close()
        await other_db.close()
    ids = await story_of(db, [first[0], second[0], third[0], fourth[0]])
    assert len(set(ids)) == 1, ids  # the same story id before and after the move
    assert (await story_of(db, [first[1]]))[0] != ids[0]


async def test_the_lease_may_be_as_short_as_the_takeover_bound(clock: FakeClock) -> None:
    # run.takeover_s may be 3 s, under the default idle_s (10 s): the rounds come faster instead.
    database = Database("sqlite+aiosqlite://")
    assigner = StoryAssigner(StoryStore(database), clock=clock, lease_s=3)
    await assigner.close()
    await database.close()
