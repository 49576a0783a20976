"""The figures of /newsdesk status (bot/storage/server_status.py), on SQLite and PostgreSQL: one
server, only the channels the member sees, posts counted per hour; the same figures as
``newsdesk stats`` when every channel is visible."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import ScalarSelect, select, update

from bot.alerts.types import AlertSettings
from bot.delivery.message import MessageSpec
from bot.digests.schedule import DigestSchedule
from bot.storage import Database
from bot.storage.alerts import AlertStore
from bot.storage.digests import DigestStore, NewSchedule
from bot.storage.feed_records import NewFeed
from bot.storage.feed_tables import feeds, subscriptions
from bot.storage.feeds import FeedStore
from bot.storage.operator import OperatorStore
from bot.storage.outbox import OutboxMessage, OutboxStore
from bot.storage.outbox_tables import outbox
from bot.storage.server_status import server_status

NOW = datetime.now(UTC).replace(microsecond=0)
GUILD, OTHER = 501, 502
#: #news (10) and #held (12) are visible; #secret (11) is not.
NEWS, SECRET, HELD = 10, 11, 12
VISIBLE = {NEWS, HELD}


def ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


async def subscribe(db: Database, url: str, guild: int, channel: int) -> int:
    (made,) = await FeedStore(db).subscribe(
        [NewFeed(url)], guild_id=guild, channel_id=channel, created_by=None, now=NOW
    )
    assert made.subscription is not None  # type: ignore[union-attr]
    return int(made.subscription.id)  # type: ignore[union-attr]


async def post(db: Database, key: str, channel: int, *, queued: datetime, status: str = "pending",
               sent: datetime | None = None, guild: int = GUILD) -> None:  # fmt: skip
    store = OutboxStore(db)
    await store.enqueue(
        [OutboxMessage(channel, guild, "feed_item", key, MessageSpec(content=key))], now=queued
    )
    if status != "pending":
        async with db.session() as conn:
            await conn.execute(
                update(outbox).where(outbox.c.dedup_key == key).values(status=status, sent_at=sent)
            )


async def seed(db: Database) -> None:
    await subscribe(db, "https://a.example/feed", GUILD, NEWS)
    failing = await subscribe(db, "https://b.example/feed", GUILD, NEWS)
    paused = await subscribe(db, "https://c.example/feed", GUILD, SECRET)
    await subscribe(db, "https://d.example/feed", OTHER, 20)
    async with db.session() as conn:
        b = update(feeds).where(feeds.c.id == select_feed(failing))
        await conn.execute(b.values(failures=2, last_error="HTTP 503"))
        c = update(subscriptions).where(subscriptions.c.id == paused)
        await conn.execute(c.values(status="paused", paused_reason="too noisy"))
    # Sent: 1.5 h ago, twice 5.5 h ago, 30 h ago (too old) in #news; 2.5 h ago in #secret.
    for key, hours in (("s1", 1.5), ("s2", 5.5), ("s3", 5.5), ("s4", 30)):
        await post(db, key, NEWS, queued=ago(hours), status="sent", sent=ago(hours))
    await post(db, "s5", SECRET, queued=ago(2.5), status="sent", sent=ago(2.5))
    await post(db, "other", 20, queued=ago(1), status="sent", sent=ago(1), guild=OTHER)
    await post(db, "f1", NEWS, queued=ago(3), status="failed")
    await post(db, "w1", NEWS, queued=ago(2))
    await post(db, "w2", SECRET, queued=ago(3))  # older, but hidden
    await post(db, "w3", HELD, queued=ago(0.5))
    await OutboxStore(db).hold_channel(HELD, reason="Missing Access", now=NOW)
    digests = DigestStore(db)
    for channel in (NEWS, SECRET):
        daily = DigestSchedule(kind="daily", hour=8, minute=0)
        await digests.set_schedule(NewSchedule(GUILD, channel, daily, 10, NOW + timedelta(hours=channel),
                                               NOW, created_by=None, created_at=NOW))  # fmt: skip
    alerts = AlertStore(db)
    await alerts.set_breaking(GUILD, NEWS, True, AlertSettings(min_sources=4), now=NOW)
    await alerts.set_breaking(GUILD, SECRET, True, AlertSettings(), now=NOW)
    await alerts.add_keyword(GUILD, SECRET, "merger", user_id=None, now=NOW, limit=5)
    await alerts.add_keyword(GUILD, NEWS, "storm", user_id=None, now=NOW, limit=5)


def select_feed(subscription_id: int) -> ScalarSelect[int]:
    return select(subscriptions.c.feed_id).where(subscriptions.c.id == subscription_id).scalar_subquery()


async def test_the_status_counts_only_the_channels_the_member_sees(db: Database) -> None:
    await seed(db)
    status = await server_status(db, GUILD, now=NOW, channel_ids=VISIBLE)
    assert [s.feed.url for s in status.subscriptions] == ["https://a.example/feed", "https://b.example/feed"]
    f = status.figures
    assert (f.feeds_active, f.feeds_failing, f.feeds_paused) == (1, 1, 0)
    assert (f.posts_24h, f.failed_24h, f.waiting) == (3, 1, 2)
    assert f.oldest_waiting_at == ago(2) and status.oldest_waiting_channel == NEWS
    assert len(status.hourly) == 24 and sum(status.hourly) == 3
    assert status.hourly[22] == 1 and status.hourly[18] == 2  # 1.5 h and 5.5 h ago
    assert status.held == {HELD: "Missing Access"}
    assert [d.channel_id for d in status.digests] == [NEWS]
    assert [a.channel_id for a in status.alerts] == [NEWS] and status.alerts[0].settings.min_sources == 4
    assert status.keywords == {NEWS: ["storm"]}
    assert "merger" not in repr(status) and "too noisy" not in repr(status)


async def test_every_channel_gives_the_figures_of_newsdesk_stats(db: Database) -> None:
    await seed(db)
    status = await server_status(db, GUILD, now=NOW)
    f = status.figures
    assert (f.feeds_active, f.feeds_failing, f.feeds_paused) == (1, 1, 1)
    assert (f.posts_24h, f.failed_24h, f.waiting) == (4, 1, 3)
    assert f.oldest_waiting_at == ago(3) and status.oldest_waiting_channel == SECRET
    assert status.hourly[21] == 1  # #secret's, 2.5 h ago
    assert [d.channel_id for d in status.digests] == [NEWS, SECRET]  # the soonest due first
    assert status.keywords == {NEWS: ["storm"], SECRET: ["merger"]}
    (stats,) = await OperatorStore(db).figures(now=NOW, guild_id=GUILD)
    assert f == stats


async def test_a_server_without_news_has_empty_figures(db: Database) -> None:
    status = await server_status(db, GUILD, now=NOW, channel_ids=set())
    assert status.subscriptions == [] and status.hourly == (0,) * 24
    assert status.figures.posts_24h == 0 and status.figures.oldest_waiting_at is None
    assert status.digests == [] and status.alerts == [] and status.keywords == {}
