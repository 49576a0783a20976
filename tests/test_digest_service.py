"""Digest schedules, content and firing on a real database, with a controllable clock."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from bot.delivery.message import MessageSpec
from bot.digests import ScheduleError
from bot.digests.scheduler import ELECTION_NAME, DigestScheduler
from bot.digests.service import DigestService, FireStats
from bot.election import Election
from bot.storage import Database, leases
from bot.storage.digests import DigestScheduleRow, DigestStore
from bot.storage.instances import InstanceStore
from bot.storage.outbox import OutboxRow, OutboxStore
from bot.storage.stories import StoryStore
from bot.stories.service import StoryAssigner
from tests.test_story_service import QUAKE, FakeClock, NewItem, add_feed, add_items, subscribe

CHANNEL = 500
GUILD = 1
START = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)

MARKETS = (
    "Fed signals interest rate cut as inflation cools",
    "Interest rate cut likely, Fed signals as inflation cools further",
)
PHONE = "Google unveils Pixel 11 phone with satellite messaging"


def digest_service(db: Database) -> DigestService:
    return DigestService(DigestStore(db), StoryStore(db))


async def digests_of(db: Database, channel_id: int = CHANNEL) -> list[OutboxRow]:
    return [r for r in await OutboxStore(db).rows(channel_id=channel_id, limit=1000) if r.kind == "digest"]


def text_of(row: OutboxRow) -> str:
    spec = MessageSpec.from_dict(row.spec_data)
    return "\n".join(
        filter(None, [e.description for e in spec.embeds] + [e.footer_text or "" for e in spec.embeds])
    )


async def group(db: Database, clock: FakeClock) -> None:
    assigner = StoryAssigner(StoryStore(db), clock=clock)
    try:
        await assigner.assign_pending(clock())
    finally:
        await assigner.close()


async def three_stories(db: Database, seen: datetime, *, channel_id: int = CHANNEL) -> dict[str, int]:
    """a, b, c report the quake; a and b the markets; c the phone. d (not subscribed) the quake too."""
    feeds = {name: await add_feed(db, f"{name}.example") for name in "abcd"}
    for name in "abc":
        await subscribe(db, feeds[name], channel_id, guild_id=GUILD)
    t = seen - timedelta(minutes=30)
    await add_items(
        db, feeds["a"], [NewItem(QUAKE[0], "https://a.example/q", t, "A strong quake hit.")], seen=seen
    )
    await add_items(
        db, feeds["b"], [NewItem(QUAKE[1], "https://b.example/q", t + timedelta(minutes=5))], seen=seen
    )
    await add_items(
        db, feeds["c"], [NewItem(QUAKE[2], "https://c.example/q", t + timedelta(minutes=9))], seen=seen
    )
    await add_items(
        db, feeds["d"], [NewItem(QUAKE[3], "https://d.example/q", t + timedelta(minutes=9))], seen=seen
    )
    await add_items(
        db, feeds["a"], [NewItem(MARKETS[0], "https://a.example/m", t + timedelta(minutes=1))], seen=seen
    )
    await add_items(
        db, feeds["b"], [NewItem(MARKETS[1], "https://b.example/m", t + timedelta(minutes=2))], seen=seen
    )
    await add_items(
        db, feeds["c"], [NewItem(PHONE, "https://c.example/p", t + timedelta(minutes=20))], seen=seen
    )
    return feeds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


async def test_digest_has_one_entry_per_story_ranked_by_sources_then_recency(
    db: Database, clock: FakeClock
) -> None:
    await three_stories(db, clock())
    await group(db, clock)
    service = digest_service(db)
    clock.advance(minutes=5)

    # Without a schedule: the last 24 hours, every time.
    assert await service.post_now(CHANNEL, clock(), guild_id=GUILD) == 1
    assert text_of((await digests_of(db))[0]).count("Japan") == 1
    await service.schedule(GUILD, CHANNEL, "daily", at="08:00", now=clock())
    assert await service.post_now(CHANNEL, clock.advance(seconds=1)) == 1
    [_, row] = await digests_of(db)
    assert row.guild_id == GUILD
    text = text_of(row)
    quake, markets, phone = text.index("Japan"), text.index("rate cut"), text.index("Pixel")
    assert quake < markets < phone
    assert text.count("Japan") == 1 and text.count("rate cut") == 1  # one entry per story
    assert (
        "reported by [a.example](https://a.example/q), [b.example](https://b.example/q) and [c.example](https://c.example/q)"
        in text
    )
    assert "d.example" not in text  # not one of the channel's feeds
    assert "reported by [a.example](https://a.example/m) and [b.example](https://b.example/m)" in text
    assert "A strong quake hit." in text
    assert "3 stories since" in text

    # The next digest only has what came after this one.
    assert await service.post_now(CHANNEL, clock.advance(minutes=1), guild_id=GUILD) == 1
    assert "No new stories" in text_of((await digests_of(db))[-1])


async def test_top_n_cuts_the_least_reported_stories(db: Database, clock: FakeClock) -> None:
    await three_stories(db, clock())
    await group(db, clock)
    service = digest_service(db)
    await service.schedule(GUILD, CHANNEL, "daily", at="08:00", top_n=2, now=clock())
    # Scheduled now: the first digest covers the day before its due time, so it sees the items.
    pages = await service.preview(CHANNEL, clock.advance(minutes=1))
    text = "\n".join(e.description or "" for page in pages for e in page) + pages[-1][-1].footer_text
    assert "Japan" in text and "rate cut" in text and "Pixel" not in text
    assert "Top 2 of 3 stories" in text
    assert await digests_of(db) == []  # a preview posts nothing


async def test_a_long_digest_is_split_across_messages(db: Database, clock: FakeClock) -> None:
    feed = await add_feed(db, "a.example")
    await subscribe(db, feed, CHANNEL)
    long = "word " * 150
    items = [
        NewItem(
            f"Unrelated event number {i} {chr(65 + i)}{chr(75 + i)}zz happens",
            f"https://a.example/{i}",
            clock(),
            f"{long}.",
        )
        for i in range(25)
    ]
    await add_items(db, feed, items, seen=clock())
    service = digest_service(db)
    await service.schedule(GUILD, CHANNEL, "daily", at="08:00", top_n=25, now=clock())
    assert await service.post_now(CHANNEL, clock.advance(minutes=1)) >= 2
    rows = await digests_of(db)
    assert rows[0].dedup_key.startswith(f"digest:{CHANNEL}:now:") and rows[1].dedup_key.endswith("#2")
    for row in rows:
        MessageSpec.from_dict(row.spec_data).validate()


async def test_a_daily_digest_fires_exactly_once_a_day_at_its_time(db: Database, clock: FakeClock) -> None:
    feed = await add_feed(db, "a.example")
    await subscribe(db, feed, CHANNEL)
    service = digest_service(db)
    row = await service.schedule(GUILD, CHANNEL, "daily", at="08:00", timezone="Europe/Paris", now=clock())
    # 08:00 in Paris is 07:00 UTC in winter.
    first_due = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)
    assert row.next_due_at == first_due

    end = clock() + timedelta(hours=48)
    fired_at = []
    while clock() < end:
        if clock().minute == 30 and clock().hour % 6 == 0:
            await add_items(
                db,
                feed,
                [NewItem(f"News at {clock():%d %H:%M}", f"https://a.example/{clock():%d%H}")],
                seen=clock(),
            )
        stats = await service.fire_due(clock())
        if stats.posted:
            fired_at.append(clock())
        clock.advance(minutes=1)

    assert fired_at == [first_due, first_due + timedelta(days=1)]
    rows = await digests_of(db)
    assert [r.created_at for r in rows] == fired_at
    assert [r.dedup_key for r in rows] == [f"digest:{CHANNEL}:{t.isoformat()}" for t in fired_at]
    # Each covers its own day: the first from 07:00 the day before, the second after the first.
    first, second = text_of(rows[0]), text_of(rows[1])
    assert "News at 28 12:30" in first and "News at 29 06:30" in first
    assert "News at 29 12:30" in second and "News at 29 06:30" not in second
    assert (await service.show(CHANNEL)).next_due_at == first_due + timedelta(days=2)  # type: ignore[union-attr]


async def test_a_digest_missed_during_downtime_is_posted_within_grace_and_skipped_beyond(
    db: Database, clock: FakeClock
) -> None:
    feed = await add_feed(db, "a.example")
    await subscribe(db, feed, CHANNEL)
    service = digest_service(db)
    await service.schedule(GUILD, CHANNEL, "daily", at="12:00", now=clock())
    await add_items(db, feed, [NewItem("Storm hits the coast", "https://a.example/1")], seen=clock())

    # Down from 11:00 to 12:40: posted once at start, 40 minutes late.
    assert (await service.fire_due(datetime(2026, 11, 28, 11, 0, tzinfo=UTC))).posted == 0
    restart = datetime(2026, 11, 28, 12, 40, tzinfo=UTC)
    assert (await service.fire_due(restart)).posted == 1
    assert (await service.fire_due(restart + timedelta(seconds=30))).posted == 0
    assert len(await digests_of(db)) == 1

    # Down from 11:00 the next day to 14:00: two hours late, skipped (and logged).
    await add_items(
        db,
        feed,
        [NewItem("Bridge reopens after repairs", "https://a.example/2")],
        seen=restart + timedelta(hours=1),
    )
    stats = await service.fire_due(datetime(2026, 11, 29, 14, 0, tzinfo=UTC))
    assert (stats.posted, stats.skipped) == (0, 1)
    assert len(await digests_of(db)) == 1
    row = await service.show(CHANNEL)
    assert row is not None and row.next_due_at == datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    # The skipped day's stories are not lost: the next digest covers them.
    assert (await service.fire_due(datetime(2026, 11, 30, 12, 0, tzinfo=UTC))).posted == 1
    assert "Bridge reopens" in text_of((await digests_of(db))[-1])


async def test_concurrent_fire_due_never_posts_twice(db: Database, db_url: str, clock: FakeClock) -> None:
    channels = list(range(600, 606))
    feed = await add_feed(db, "a.example")
    first = digest_service(db)
    for channel in channels:
        await subscribe(db, feed, channel)
        await first.schedule(GUILD, channel, "every_hours", hours=1, now=clock())
    await add_items(
        db,
        feed,
        [NewItem("Storm hits the coast", "https://a.example/1")],
        seen=clock() + timedelta(minutes=1),
    )
    other_db = Database(db_url)  # another process's connection pool
    try:
        second = digest_service(other_db)
        for _ in range(3):  # three due hours, each raced by two processes and two ticks
            now = clock.advance(hours=1)
            results = await asyncio.gather(
                first.fire_due(now), second.fire_due(now), first.fire_due(now), second.fire_due(now)
            )
            assert sum(r.posted + r.empty for r in results) == len(channels)
            assert sum(r.failed for r in results) == 0
    finally:
        await other_db.close()
    for channel in channels:
        rows = await digests_of(db, channel)
        # The first hour had the storm; the next two were empty (every_hours: not posted).
        assert len(rows) == 1, [r.dedup_key for r in rows]


async def test_schedule_replace_show_off_and_empty_periods(db: Database, clock: FakeClock) -> None:
    service = digest_service(db)
    with pytest.raises(ScheduleError):
        await service.schedule(GUILD, CHANNEL, "daily", at="25:00", now=clock())
    with pytest.raises(ScheduleError):
        await service.schedule(GUILD, CHANNEL, "daily", at="08:00", timezone="Mars/Olympus", now=clock())
    first = await service.schedule(GUILD, CHANNEL, "daily", at="08:00", now=clock(), user_id=7)
    weekly = await service.schedule(
        GUILD, CHANNEL, "weekly", at="9:30", day="fri", now=clock.advance(hours=1)
    )
    assert weekly.id == first.id and weekly.last_posted_at == first.last_posted_at
    assert weekly.describe() == "every Friday at 09:30 (UTC), top 10 stories"
    assert weekly.next_due_at == datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
    assert (await service.show(CHANNEL)) == weekly

    # An empty daily or weekly digest says so; an empty hourly one posts nothing.
    assert (await service.fire_due(weekly.next_due_at)).posted == 1
    assert "No new stories since" in text_of((await digests_of(db))[-1])
    hourly = await service.schedule(GUILD, CHANNEL, "every_hours", hours=6, now=clock())
    stats = await service.fire_due(hourly.next_due_at)
    assert (stats.posted, stats.empty) == (0, 1)

    assert await service.off(CHANNEL) is True
    assert await service.show(CHANNEL) is None
    assert await service.off(CHANNEL) is False
    assert (await service.fire_due(clock.advance(days=30))).posted == 0


class SlowService(DigestService):
    """fire_due waits until the test lets it finish."""

    def __init__(self, db: Database) -> None:
        super().__init__(DigestStore(db), StoryStore(db))
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.finished = 0

    async def fire_due(self, now: datetime, grace_s: float = 3600) -> FireStats:
        self.started.set()
        await self.release.wait()
        self.finished += 1
        return FireStats()


async def test_stop_lets_the_tick_in_flight_finish_instead_of_cancelling_it(db: Database) -> None:
    service = SlowService(db)
    scheduler = DigestScheduler(service, tick_s=3600)
    scheduler.start()
    await asyncio.wait_for(service.started.wait(), 5)  # the first tick runs at once
    stopping = asyncio.create_task(scheduler.stop())
    await asyncio.sleep(0.05)
    assert not stopping.done()  # it waits for the tick...
    service.release.set()
    await asyncio.wait_for(stopping, 5)
    # ... which finished, rather than being cancelled (and retried by the next process).
    assert service.finished == 1 and scheduler.ticks == 1
    assert not scheduler.running


async def test_the_tick_fires_due_digests_with_a_fake_clock(db: Database) -> None:
    feed = await add_feed(db, "a.example")
    await subscribe(db, feed, CHANNEL)
    service = digest_service(db)
    await service.schedule(GUILD, CHANNEL, "daily", at="07:00", now=START)

    # Each tick sees the clock 30 minutes later: 48 hours in 96 ticks of 10 ms.
    calls = 0

    def clock() -> datetime:
        nonlocal calls
        calls += 1
        return START + timedelta(minutes=30 * calls)

    scheduler = DigestScheduler(service, clock=clock, tick_s=0.01)
    scheduler.start()
    try:
        for _ in range(1000):
            if calls >= 96:
                break
            await asyncio.sleep(0.01)
    finally:
        await scheduler.stop()
    assert calls >= 96
    rows = await digests_of(db)
    due = [datetime(2026, 11, 29, 7, 0, tzinfo=UTC), datetime(2026, 11, 30, 7, 0, tzinfo=UTC)]
    assert [r.created_at for r in rows] == due
    assert scheduler.totals.posted == len(rows)


# --- several processes: one elected firer, fenced writes ---------------------------------------

TAKEOVER_S = 30.0  # run.takeover_s


class PausingDigestStore(DigestStore):
    """A process that stalls after reading the due rows (a long GC, a stalled machine)."""

    def __init__(self, db: Database, pause: Callable[[], Awaitable[None]]) -> None:
        super().__init__(db)
        self._pause = pause

    async def due(self, now: datetime, *, limit: int) -> list[DigestScheduleRow]:
        rows = await super().due(now, limit=limit)
        await self._pause()
        return rows


def elected_scheduler(
    db: Database, owner: str, clock: FakeClock, store: DigestStore | None = None
) -> DigestScheduler:
    service = DigestService(store or DigestStore(db), StoryStore(db))
    election = Election(db, ELECTION_NAME, owner, term_s=TAKEOVER_S)
    return DigestScheduler(service, clock=clock, election=election)


async def alive(db: Database, instance_id: str, now: datetime) -> None:
    """``instance_id`` registers or beats at ``now``, alive for the takeover bound."""
    store = InstanceStore(db)
    expires = now + timedelta(seconds=TAKEOVER_S)
    if not await store.beat(instance_id, now=now, expires_at=expires):
        await store.register(instance_id, host="h", pid=1, roles=("worker",), now=now, expires_at=expires)


async def noon_digest(db: Database, clock: FakeClock) -> datetime:
    feed = await add_feed(db, "a.example")
    await subscribe(db, feed, CHANNEL)
    await digest_service(db).schedule(GUILD, CHANNEL, "daily", at="12:00", now=clock())
    await add_items(db, feed, [NewItem("Storm hits the coast", "https://a.example/1")], seen=clock())
    return datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


async def test_a_digest_due_when_its_leader_dies_is_posted_once_by_the_successor(
    db: Database, db_url: str, clock: FakeClock
) -> None:
    due = await noon_digest(db, clock)
    peer = Database(db_url)  # the second process
    try:
        a = elected_scheduler(db, "a", clock)
        b = elected_scheduler(peer, "b", clock)
        clock.now = due - timedelta(seconds=20)
        for db_, name, scheduler in ((db, "a", a), (peer, "b", b)):
            await alive(db_, name, clock())
            await scheduler.tick()
        assert a.is_leader and not b.is_leader
        clock.now = due - timedelta(seconds=10)
        await alive(db, "a", clock())  # a's last beat and tick: it is killed at the due time
        await a.tick()
        assert a.is_leader and await digests_of(db) == []

        # b ticks every 10 s: a is alive for b until its row expires, 20 s after the due time.
        for seconds in (0, 10):
            clock.now = due + timedelta(seconds=seconds)
            await alive(peer, "b", clock())
            await b.tick()
            assert not b.is_leader and await digests_of(db) == []
        clock.now = due + timedelta(seconds=20)
        await alive(peer, "b", clock())
        await b.tick()
        assert b.is_leader and b.totals.posted == 1
        for _ in range(3):
            clock.advance(seconds=10)
            await alive(peer, "b", clock())
            await b.tick()
    finally:
        await peer.close()
    rows = await digests_of(db)
    assert [(r.dedup_key, r.created_at) for r in rows] == [
        (f"digest:{CHANNEL}:{due.isoformat()}", due + timedelta(seconds=20))
    ]
    assert "Storm hits the coast" in text_of(rows[0])
    assert b.totals.posted == 1 and a.totals.posted == 0


async def test_a_leader_that_lost_the_lead_while_firing_writes_nothing(
    db: Database, db_url: str, clock: FakeClock
) -> None:
    due = await noon_digest(db, clock)
    peer = Database(db_url)
    try:
        b = elected_scheduler(peer, "b", clock)
        b_election = Election(peer, ELECTION_NAME, "b", term_s=TAKEOVER_S)  # b's scheduler's own

        async def stall() -> None:
            # a stalls past the bound after reading the due digest; b takes the lead meanwhile
            # (and has not fired yet when a wakes up).
            clock.advance(seconds=40)
            await alive(peer, "b", clock())
            assert await b_election.campaign(clock())

        a = elected_scheduler(db, "a", clock, PausingDigestStore(db, stall))
        clock.now = due
        await alive(db, "a", clock())
        await a.tick()  # a leads, reads the due row, stalls, then its fenced write is refused
        assert (a.totals.fenced, a.totals.posted, a.totals.lost_races) == (1, 0, 0)
        assert not a.is_leader
        assert await digests_of(db) == []  # still due: the new leader posts it
        await b.tick()
        assert b.totals.posted == 1
        await a.tick()  # a campaigns again: b leads
        assert not a.is_leader and a.totals.posted == 0
    finally:
        await peer.close()
    assert [r.dedup_key for r in await digests_of(db)] == [f"digest:{CHANNEL}:{due.isoformat()}"]


async def test_an_elected_scheduler_fires_at_start_and_resigns_when_it_stops(
    db: Database, clock: FakeClock
) -> None:
    due = await noon_digest(db, clock)
    clock.now = due
    scheduler = elected_scheduler(db, "a", clock)
    scheduler.start()
    try:
        for _ in range(1000):  # the first tick runs at once
            if scheduler.totals.posted:
                break
            await asyncio.sleep(0.01)
    finally:
        await scheduler.stop()
    assert scheduler.totals.posted == 1 and not scheduler.is_leader
    async with db.session() as conn:  # another process takes over at its next tick
        assert await leases.holder(conn, ELECTION_NAME, now=clock()) is None
