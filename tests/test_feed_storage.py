"""The feed repository on real databases: claiming with leases, batched bookkeeping, atomicity."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.delivery.message import EmbedSpec, FieldSpec, MessageSpec
from bot.errors import StorageError
from bot.storage import Database
from bot.storage.feed_records import (
    CheckChanged,
    CheckDeferred,
    CheckFailed,
    CheckOk,
    FeedState,
    ItemRow,
    LimitReached,
    NewFeed,
    Subscribed,
)
from bot.storage.feed_tables import feed_items, feeds, subscriptions
from bot.storage.feeds import FeedStore
from bot.storage.outbox import OutboxMessage
from bot.storage.outbox_tables import outbox

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
LEASE = NOW + timedelta(minutes=15)


def new_feed(url: str, items: tuple[ItemRow, ...] = (), **values: object) -> NewFeed:
    base: dict[str, object] = dict(
        title=f"Feed {url}", site_url=None, icon_url=None, etag='"1"', last_modified=None,
        body_hash="h1", update_hint_s=None, next_check_at=NOW,
    )  # fmt: skip
    return NewFeed(url, FeedState(**(base | values)), items)  # type: ignore[arg-type]


def row(key: str, link: str | None = None) -> ItemRow:
    return ItemRow(
        entry_key=key, link_key=link, title=key, url=link, summary=None, image_url=None, author=None,
        published_at=NOW,
    )  # fmt: skip


def message(channel: int, key: str) -> OutboxMessage:
    spec = MessageSpec(embeds=(EmbedSpec(title=key),))
    return OutboxMessage(channel_id=channel, guild_id=1, kind="feed_item", dedup_key=key, spec=spec)


async def add(store: FeedStore, url: str, channel: int = 10, **values: object) -> int:
    (added,) = await store.subscribe(
        [new_feed(url, (row(f"{url}#1"),), **values)], guild_id=1, channel_id=channel, created_by=None,
        extract=False, messages_for=lambda f, s: [], now=NOW,
    )  # fmt: skip
    assert isinstance(added, Subscribed)
    return added.subscription.feed_id


async def test_claim_takes_due_feeds_with_active_subscribers_oldest_first(db: Database) -> None:
    store = FeedStore(db)
    assert await store.next_due_at() is None
    late = await add(store, "https://a.example/late", next_check_at=NOW - timedelta(minutes=1))
    early = await add(store, "https://a.example/early", next_check_at=NOW - timedelta(minutes=5))
    future = await add(store, "https://a.example/future", next_check_at=NOW + timedelta(minutes=5))
    paused_feed = await add(store, "https://a.example/paused")
    paused_sub = await add(store, "https://a.example/paused-sub")
    async with db.session() as conn:
        await conn.execute(update(feeds).where(feeds.c.id == paused_feed).values(status="paused"))
        await conn.execute(
            update(subscriptions).where(subscriptions.c.feed_id == paused_sub).values(status="paused")
        )
    claimed = await store.claim_due(NOW, limit=10, lease_until=LEASE)
    assert {f.id for f in claimed} == {early, late}
    assert all(not f.first_fetch and f.etag == '"1"' and f.body_hash == "h1" for f in claimed)
    # Leased: not claimed again, until the lease runs out (its poller died).
    assert await store.claim_due(NOW, limit=10, lease_until=LEASE) == []
    again = await store.claim_due(LEASE, limit=10, lease_until=LEASE + timedelta(minutes=15))
    assert {f.id for f in again} == {early, late, future}
    assert await store.next_due_at() == LEASE + timedelta(minutes=15)


async def test_claim_marks_a_feed_never_fetched_successfully_as_first_fetch(db: Database) -> None:
    store = FeedStore(db)
    await store.subscribe(
        [NewFeed("https://a.example/new")], channel_id=10, guild_id=1, created_by=None, now=NOW
    )
    (claimed,) = await store.claim_due(NOW, limit=10, lease_until=LEASE)
    assert claimed.first_fetch and claimed.etag is None and claimed.body_hash is None
    await store.record([CheckOk(claimed.id, '"2"', None, NOW)], now=NOW)
    (again,) = await store.claim_due(NOW, limit=10, lease_until=LEASE)
    assert not again.first_fetch and again.etag == '"2"'


async def test_concurrent_claims_never_overlap(db: Database) -> None:
    store = FeedStore(db)
    for n in range(12):
        await add(store, f"https://a.example/{n}")
    other = FeedStore(db)
    batches = await asyncio.gather(
        *(s.claim_due(NOW, limit=5, lease_until=LEASE) for s in (store, other, store, other))
    )
    ids = [f.id for batch in batches for f in batch]
    assert len(ids) == len(set(ids)) == 12


async def test_release_leases_frees_only_that_owners_feeds(db: Database) -> None:
    store = FeedStore(db)
    first, second, third = [await add(store, f"https://a.example/{n}") for n in range(3)]
    assert [f.id for f in await store.claim_due(NOW, limit=1, lease_until=LEASE, owner="x")] == [first]
    assert [f.id for f in await store.claim_due(NOW, limit=1, lease_until=LEASE, owner="y")] == [second]
    # "x" restarted after a crash: its feed is due again at once, "y"'s stays leased.
    assert await store.release_leases("x") == 1
    again = await store.claim_due(NOW, limit=10, lease_until=LEASE, owner="z")
    assert sorted(f.id for f in again) == [first, third]
    # Recording a check releases the lease and forgets its owner.
    await store.record([CheckOk(f.id, None, None, LEASE) for f in again], now=NOW)
    assert await store.release_leases("z") == 0
    async with db.session() as conn:
        owners = dict((await conn.execute(select(feeds.c.id, feeds.c.lease_owner))).all())
    assert owners == {first: None, second: "y", third: None}


async def test_record_writes_a_batch_and_releases_leases(db: Database) -> None:
    store = FeedStore(db)
    ok, changed, failed, deferred = [await add(store, f"https://a.example/{n}") for n in range(4)]
    await store.claim_due(NOW, limit=10, lease_until=LEASE)
    later = NOW + timedelta(minutes=10)
    await store.record(
        [
            CheckOk(ok, '"2"', "Mon, 01 Jun 2026 07:00:00 GMT", later),
            CheckChanged(
                feed_id=changed,
                state=FeedState(
                    title="New title",
                    site_url=None,
                    icon_url=None,
                    etag=None,
                    last_modified=None,
                    body_hash="h2",
                    update_hint_s=3600,
                    next_check_at=later,
                ),
                items=(row("k2", "https://a.example/2"), row("https://a.example/1#1")),
                messages=(message(10, "m1"), message(10, "m2")),
            ),
            CheckFailed(failed, 3, "The site answered 500 Internal Server Error.", later),
            CheckDeferred(deferred, later),
        ],
        now=NOW,
    )
    async with db.session() as conn:
        rows = {r.id: r for r in await conn.execute(select(feeds))}
        sent = (await conn.execute(select(outbox.c.dedup_key).order_by(outbox.c.id))).scalars().all()
    assert all(r.lease_until is None and r.next_check_at == later for r in rows.values())
    assert (rows[ok].etag, rows[ok].last_success_at, rows[ok].failures) == ('"2"', NOW, 0)
    assert (rows[changed].title, rows[changed].body_hash, rows[changed].update_hint_s) == (
        "New title",
        "h2",
        3600,
    )
    assert (rows[failed].failures, rows[failed].last_error) == (
        3,
        "The site answered 500 Internal Server Error.",
    )
    assert rows[failed].status == "active"
    assert list(sent) == ["m1", "m2"]
    seen = await store.seen_keys({changed: (["k2", "nope"], ["https://a.example/2", "https://x/"])})
    assert seen == {changed: ({"k2"}, {"https://a.example/2"})}
    # The item already remembered at subscription time was not duplicated.
    assert len(await store.items(changed)) == 2


async def test_items_and_posts_are_written_together_or_not_at_all(db: Database) -> None:
    store = FeedStore(db)
    feed_id = await add(store, "https://a.example/feed")
    # A value the outbox cannot serialise, slipped past the spec's fitting to fail the write midway.
    field = FieldSpec("n", "v")
    unserialisable = MessageSpec(embeds=(EmbedSpec(title="x", fields=(field,)),))
    object.__setattr__(field, "value", object())
    bad = OutboxMessage(channel_id=10, guild_id=1, kind="feed_item", dedup_key="bad", spec=unserialisable)
    state = FeedState(
        title=None, site_url=None, icon_url=None, etag='"9"', last_modified=None, body_hash="h9",
        update_hint_s=None, next_check_at=NOW,
    )  # fmt: skip
    outcome = CheckChanged(
        feed_id=feed_id, state=state, items=(row("new-item"),), messages=(message(10, "good"), bad)
    )
    with pytest.raises((StorageError, TypeError, ValueError)):
        await store.record([outcome], now=NOW)
    async with db.session() as conn:
        keys = (await conn.execute(select(feed_items.c.entry_key))).scalars().all()
        posted = (await conn.execute(select(outbox.c.dedup_key))).scalars().all()
        etag = (await conn.execute(select(feeds.c.etag))).scalar_one()
    assert (list(keys), list(posted), etag) == (["https://a.example/feed#1"], [], '"1"')


async def test_subscribe_is_unique_per_feed_and_channel(db: Database) -> None:
    store = FeedStore(db)
    await add(store, "https://a.example/feed", channel=10)
    again = await store.subscribe(
        [new_feed("https://a.example/feed")], guild_id=1, channel_id=10, created_by=None,
        extract=False, messages_for=lambda f, s: [message(10, "dup")], now=NOW,
    )  # fmt: skip
    assert again == [None]
    await add(store, "https://a.example/feed", channel=11)
    async with db.session() as conn:
        assert (await conn.execute(select(outbox))).all() == []
        assert len((await conn.execute(select(feeds))).all()) == 1


async def test_the_per_guild_limit_holds_under_concurrent_adds(db: Database) -> None:
    store = FeedStore(db)

    async def try_add(n: int) -> bool:
        (added,) = await store.subscribe(
            [new_feed(f"https://{n}.example/feed")], guild_id=7, channel_id=10, created_by=None,
            extract=False, now=NOW, max_per_guild=3,
        )  # fmt: skip
        if isinstance(added, LimitReached):
            return False
        assert isinstance(added, Subscribed)
        return True

    outcomes = await asyncio.gather(*(try_add(n) for n in range(8)))
    assert sum(outcomes) == 3
    assert await store.count_subscriptions(7) == 3


async def test_naive_datetimes_are_refused(db: Database) -> None:
    store = FeedStore(db)
    with pytest.raises(ValueError, match="timezone-aware"):
        await store.claim_due(datetime(2026, 1, 1), limit=1, lease_until=LEASE)


async def test_a_new_subscription_to_a_paused_feed_resumes_it_and_keeps_its_state(db: Database) -> None:
    store = FeedStore(db)
    feed_id = await add(store, "https://a.example/feed")
    later = NOW + timedelta(hours=1)
    await store.record([CheckFailed(feed_id, 3, "boom", later, pause_reason="3 failures")], now=NOW)
    answers = await store.subscribe(
        [new_feed("https://a.example/feed", (row("other"),), etag='"new"'), NewFeed("https://b.example/feed")],
        guild_id=1, channel_id=11, created_by=None, now=later,
    )  # fmt: skip
    assert [(a.created, a.subscription.channel_id) for a in answers if isinstance(a, Subscribed)] == [
        (False, 11),
        (True, 11),
    ]
    async with db.session() as conn:
        row_a = (await conn.execute(select(feeds).where(feeds.c.id == feed_id))).one()
        keys = (
            await conn.execute(select(feed_items.c.entry_key).where(feed_items.c.feed_id == feed_id))
        ).scalars()
        row_b = (await conn.execute(select(feeds).where(feeds.c.url == "https://b.example/feed"))).one()
    # Resumed and due now; its own validators and items kept (the new fetch's are not its).
    assert (row_a.status, row_a.failures, row_a.next_check_at, row_a.etag) == ("active", 0, later, '"1"')
    assert list(keys) == ["https://a.example/feed#1"]
    # A feed added unfetched is due at once and never succeeded (its first check posts the newest).
    assert (row_b.next_check_at, row_b.last_success_at, row_b.etag) == (later, None, None)
