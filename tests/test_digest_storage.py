"""The digests repository on real databases: schedules, due rows, and posting with a
compare-and-set on the due time in the transaction that enqueues the digest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.delivery.message import EmbedSpec, MessageSpec
from bot.digests.schedule import DigestSchedule
from bot.storage import Database
from bot.storage.digests import DigestStore, NewSchedule
from bot.storage.outbox import OutboxMessage, OutboxStore

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
GUILD = 1
DAILY = DigestSchedule(kind="daily", hour=8, minute=0)
HOURLY = DigestSchedule(kind="every_hours", hour=0, minute=0, every_hours=6)


def new(
    channel: int, schedule: DigestSchedule = DAILY, *, due: datetime, start: datetime = NOW
) -> NewSchedule:
    return NewSchedule(GUILD, channel, schedule, 10, due, start, created_by=7, created_at=NOW)


def message(channel: int, key: str, kind: str = "digest") -> OutboxMessage:
    return OutboxMessage(channel, GUILD, kind, key, MessageSpec(embeds=(EmbedSpec(title=key),)))


async def test_a_replaced_schedule_keeps_its_id_and_period_start(db: Database) -> None:
    store = DigestStore(db)
    assert await store.get(10) is None
    first = await store.set_schedule(new(10, due=NOW + timedelta(hours=23), start=NOW - timedelta(hours=1)))
    assert (first.schedule, first.top_n, first.status, first.created_by) == (DAILY, 10, "active", 7)
    later = NOW + timedelta(hours=2)
    replaced = await store.set_schedule(new(10, HOURLY, due=later, start=later))
    assert replaced.id == first.id and replaced.schedule == HOURLY and replaced.next_due_at == later
    assert replaced.last_posted_at == NOW - timedelta(hours=1)
    assert await store.get(10) == replaced
    assert await store.delete(10) is True
    assert (await store.delete(10), await store.get(10)) == (False, None)


async def test_due_rows_come_earliest_first_and_only_when_due(db: Database) -> None:
    store = DigestStore(db)
    assert await store.earliest_due() is None
    for channel, hours in ((10, 3), (11, 1), (12, 2)):
        await store.set_schedule(new(channel, due=NOW + timedelta(hours=hours)))
    assert await store.earliest_due() == NOW + timedelta(hours=1)
    due = await store.due(NOW + timedelta(hours=2), limit=10)
    assert [r.channel_id for r in due] == [11, 12]
    assert [r.channel_id for r in await store.due(NOW + timedelta(hours=5), limit=2)] == [11, 12]


async def test_moving_a_due_schedule_posts_once_whoever_races(db: Database) -> None:
    store = DigestStore(db)
    row = await store.set_schedule(new(10, due=NOW))
    tomorrow = NOW + timedelta(days=1)
    messages = [message(10, "digest:10:a"), message(10, "digest:10:a#2")]
    assert await store.move_due(row, tomorrow, posted_at=NOW, messages=messages, now=NOW) == 2
    # A second tick (or process) read the same due time: it moves nothing and posts nothing.
    assert await store.move_due(row, tomorrow, posted_at=NOW, messages=messages, now=NOW) is None
    moved = await store.get(10)
    assert moved is not None and (moved.next_due_at, moved.last_posted_at) == (tomorrow, NOW)
    assert [r.dedup_key for r in await OutboxStore(db).rows()] == ["digest:10:a", "digest:10:a#2"]

    # A skipped digest moves the due time but not the period start.
    later = NOW + timedelta(days=2)
    assert await store.move_due(moved, later, posted_at=None, messages=[], now=tomorrow) == 0
    skipped = await store.get(10)
    assert skipped is not None and (skipped.next_due_at, skipped.last_posted_at) == (later, NOW)


async def test_a_digest_whose_outbox_rows_fail_leaves_its_schedule_due(db: Database) -> None:
    store = DigestStore(db)
    row = await store.set_schedule(new(10, due=NOW))
    bad = [message(10, "digest:10:a"), message(10, "digest:10:a#2", kind="bogus")]
    with pytest.raises(ValueError, match="unknown outbox kind"):
        await store.move_due(row, NOW + timedelta(days=1), posted_at=NOW, messages=bad, now=NOW)
    assert await store.get(10) == row
    assert await OutboxStore(db).rows() == []


async def test_post_now_restarts_the_period_with_its_messages(db: Database) -> None:
    store = DigestStore(db)
    row = await store.set_schedule(new(10, due=NOW + timedelta(hours=5), start=NOW - timedelta(days=1)))
    posted = NOW + timedelta(hours=1)
    assert await store.post_now(row.id, [message(10, "digest:10:now")], now=posted) == 1
    after = await store.get(10)
    assert after is not None and (after.last_posted_at, after.next_due_at) == (posted, row.next_due_at)
    # A channel without a schedule: the messages only.
    assert await store.post_now(None, [message(11, "digest:11:now")], now=posted) == 1
    assert [r.channel_id for r in await OutboxStore(db).rows()] == [10, 11]
