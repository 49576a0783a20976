"""The feed subscriptions repository: feeds, subscriptions, and the items each feed has shown.

The poller's hot path is here, so it is written for throughput: due feeds are claimed in
batches with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write lock on SQLite), and
the bookkeeping of a whole batch (validators, next check, failures, new items and their outbox
rows) is written in one transaction with ``executemany``. Decisions (what is new, when to check
next) are made by the callers with the pure functions of :mod:`bot.feeds`.

The records and check outcomes live in :mod:`bot.storage.feed_records` (re-exported here), the
batched seen-key lookup in :mod:`bot.storage.feed_lookup`, and the UPDATE statements of
:meth:`FeedStore.record` in :mod:`bot.storage.feed_statements`.

Every method may raise :class:`~bot.errors.StorageError` (database unreachable, query failed)
and :class:`ValueError` for a naive datetime.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Text, case, delete, exists, func, or_, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.storage.bulk import BulkInsert
from bot.storage.database import Database, serialise_on
from bot.storage.feed_lookup import IN_CHUNK, bind_lookup, key_groups, lookup_sql
from bot.storage.feed_records import (
    ACTIVE,
    PAUSED,
    CheckChanged,
    CheckDeferred,
    CheckFailed,
    CheckOk,
    CheckOutcome,
    DueFeed,
    FeedRecord,
    ItemRow,
    LimitReached,
    NewFeed,
    SubscriptionRecord,
    SubscriptionStatus,
)
from bot.storage.feed_statements import (
    RECORD_CHANGED,
    RECORD_DEFER,
    RECORD_FAILED,
    RECORD_OK,
    RECORD_PAUSE,
)
from bot.storage.feed_tables import feed_items, feeds, subscriptions
from bot.storage.outbox import OutboxMessage, enqueue
from bot.storage.schema import UTCDateTime, insert

# PostgreSQL refuses NUL in text; a feed may still contain one.
_NUL = "\x00"


#: Advisory-lock namespace for per-guild subscription counting (PostgreSQL).
_SUBSCRIBE_LOCK_SPACE = 0x6E64_7362  # "ndsb"


class FeedStore:
    """Feeds, subscriptions and seen items on a :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # --- poller ----------------------------------------------------------------------

    async def claim_due(
        self, now: datetime, *, limit: int, lease_until: datetime, owner: str | None = None
    ) -> list[DueFeed]:
        """Claim up to ``limit`` active feeds due at ``now`` with an active subscription, oldest
        due first, leasing them to ``owner`` until ``lease_until`` so another poller process
        skips them.

        A feed whose lease ran out (its poller died) is due again; its owner restarting frees it
        at once (:meth:`release_leases`). The lease is released by :meth:`record`. Called by the
        poller, in a loop, until it returns nothing.
        """
        _aware(now, lease_until)
        has_subscriber = exists().where(
            subscriptions.c.feed_id == feeds.c.id, subscriptions.c.status == ACTIVE
        )
        due = (
            select(feeds.c.id)
            .where(
                feeds.c.status == ACTIVE,
                feeds.c.next_check_at <= now,
                or_(feeds.c.lease_until.is_(None), feeds.c.lease_until <= now),
                has_subscriber,
            )
            .order_by(feeds.c.next_check_at)
            .limit(limit)
            # PostgreSQL: concurrent pollers take disjoint rows; SQLite ignores it (the write
            # transaction already serialises claims).
            .with_for_update(skip_locked=True)
        )
        stmt = (
            update(feeds)
            .where(feeds.c.id.in_(due.scalar_subquery()))
            .values(lease_until=lease_until, lease_owner=owner)
            # In DueFeed's field order.
            .returning(
                feeds.c.id,
                feeds.c.url,
                feeds.c.title,
                feeds.c.etag,
                feeds.c.last_modified,
                feeds.c.body_hash,
                feeds.c.failures,
                feeds.c.update_hint_s,
                # Only compared with None: read as it is stored, not made a datetime. (Not
                # "last_success_at IS NULL" in SQL: SQLite's UPDATE ... RETURNING gives 0 for it.)
                type_coerce(feeds.c.last_success_at, Text),
            )
        )
        async with self._db.session(write=True) as conn:
            rows = (await conn.execute(stmt)).all()
        return [DueFeed._make((*row[:-1], row[-1] is None)) for row in rows]  # the last: first_fetch

    async def release_leases(self, owner: str) -> int:
        """Free every feed leased by ``owner``; return how many.

        Called by a poller when it starts under a stable owner name: the leases are its
        previous life's (it crashed or was stopped mid-pass), and its feeds are due again now
        rather than when those leases run out.
        """
        stmt = (
            update(feeds)
            .where(feeds.c.lease_owner == owner, feeds.c.lease_until.is_not(None))
            .values(lease_until=None, lease_owner=None)
        )
        async with self._db.session() as conn:
            return (await conn.execute(stmt)).rowcount

    async def next_due_at(self) -> datetime | None:
        """When the next active feed is due (``None`` without any); a leased feed counts from
        the end of its lease. Called by the poll loop to know how long to sleep.
        """
        has_subscriber = exists().where(
            subscriptions.c.feed_id == feeds.c.id, subscriptions.c.status == ACTIVE
        )
        leased = feeds.c.lease_until.is_not(None) & (feeds.c.lease_until > feeds.c.next_check_at)
        due_at = case((leased, feeds.c.lease_until), else_=feeds.c.next_check_at)
        stmt = select(func.min(due_at, type_=UTCDateTime)).where(feeds.c.status == ACTIVE, has_subscriber)
        async with self._db.session() as conn:
            due: datetime | None = (await conn.execute(stmt)).scalar_one_or_none()
        return due

    async def seen_keys(
        self, wanted: dict[int, tuple[Sequence[str], Sequence[str]]]
    ) -> dict[int, tuple[set[str], set[str]]]:
        """Of the entry keys and link keys each feed shows now (``{feed_id: (keys, link_keys)}``),
        those already remembered: ``{feed_id: (seen_keys, seen_link_keys)}``.

        Only the keys asked about are read, never a feed's whole history. Called by the poller
        for a batch of changed feeds.
        """
        result: dict[int, tuple[set[str], set[str]]] = {fid: (set(), set()) for fid in wanted}
        if not wanted:
            return result
        async with self._db.session() as conn:
            for group, size, slots in key_groups(wanted):
                # One indexed lookup per feed and kind of key, sent as one UNION ALL: "feed_id
                # IN (...) AND key IN (...)" makes the planner probe every combination, an OR
                # of the two indexes makes it scan, and row-value IN is slow on PostgreSQL.
                # Every IN list has ``size`` values and every query ``slots`` lookups (padded
                # with "", which no key is), so the SQL text takes a handful of shapes, each
                # written, compiled and prepared once.
                params: dict[str, Any] = {}
                slot = 0
                for fid in group:
                    for values in wanted[fid]:
                        bind_lookup(params, slot, fid, values, size)
                        slot += 1
                while slot < slots:
                    bind_lookup(params, slot, -1, (), size)
                    slot += 1
                for row in await conn.execute(lookup_sql(size, slots), params):
                    seen, seen_links = result[row.feed_id]
                    seen.add(row.entry_key)
                    if row.link_key is not None:
                        seen_links.add(row.link_key)
        return result

    async def active_subscriptions(self, feed_ids: Iterable[int]) -> dict[int, list[SubscriptionRecord]]:
        """The active subscriptions of each feed, oldest first. Called by the poller to fan out."""
        result: dict[int, list[SubscriptionRecord]] = {}
        ids = sorted(set(feed_ids))
        async with self._db.session() as conn:
            for chunk in _chunks(ids, IN_CHUNK):
                stmt = (
                    select(subscriptions)
                    .where(subscriptions.c.feed_id.in_(chunk), subscriptions.c.status == ACTIVE)
                    .order_by(subscriptions.c.id)
                )
                for row in await conn.execute(stmt):
                    result.setdefault(row.feed_id, []).append(_subscription(row))
        return result

    async def record(self, outcomes: Sequence[CheckOutcome], *, now: datetime) -> None:
        """Write the outcome of a batch of checks in one transaction, releasing their leases.

        For changed feeds, the new items and their outbox rows are written together: a crash
        loses neither or keeps both, so nothing is lost and nothing posted twice. Paused feeds
        get their notices enqueued. Called by the poller after each batch; when it raises, the
        poller retries feed by feed (:meth:`record` with one outcome) so one bad row cannot
        block the others.
        """
        _aware(now)
        ok = [o for o in outcomes if isinstance(o, CheckOk)]
        changed = [o for o in outcomes if isinstance(o, CheckChanged)]
        failed = [o for o in outcomes if isinstance(o, CheckFailed)]
        deferred = [o for o in outcomes if isinstance(o, CheckDeferred)]
        messages: list[OutboxMessage] = [m for o in changed for m in o.messages]
        messages += [m for o in failed for m in o.notices]
        async with self._db.session() as conn:
            if ok:
                await RECORD_OK.run(
                    conn,
                    [(o.feed_id, _clean(o.etag), _clean(o.last_modified), o.next_check_at, now) for o in ok],
                )
            if changed:
                rows = (_item_values(o.feed_id, item, now) for o in changed for item in o.items)
                await _insert_items(conn, rows)
                await RECORD_CHANGED.run(
                    conn,
                    [
                        (o.feed_id, _clean(o.title), _clean(o.site_url), _clean(o.icon_url),
                         _clean(o.etag), _clean(o.last_modified), o.body_hash, o.update_hint_s,
                         o.next_check_at, now)
                        for o in changed
                    ],
                )  # fmt: skip
            if failed:
                await RECORD_FAILED.run(
                    conn,
                    [(o.feed_id, o.failures, _clean(o.error), o.next_check_at, now) for o in failed],
                )
                paused = [(o.feed_id, _clean(o.pause_reason)) for o in failed if o.pause_reason]
                if paused:
                    await RECORD_PAUSE.run(conn, paused)
            if deferred:
                await RECORD_DEFER.run(conn, [(o.feed_id, o.next_check_at) for o in deferred])
            if messages:
                await enqueue(conn, messages, now=now)

    # --- service: subscriptions --------------------------------------------------------

    async def subscribe(
        self,
        *,
        new_feed: NewFeed,
        guild_id: int | None,
        channel_id: int,
        created_by: int | None,
        extract: bool,
        items: Sequence[ItemRow],
        messages_for: Callable[[SubscriptionRecord], Sequence[OutboxMessage]],
        now: datetime,
        max_per_guild: int | None = None,
    ) -> tuple[SubscriptionRecord, bool] | None:
        """Subscribe ``channel_id`` to the feed at ``new_feed.url``, creating the feed if needed.

        Returns ``(subscription, feed_created)``, or ``None`` when the channel already follows
        that feed. When the feed is created here, ``items`` are remembered as seen and the
        validators of ``new_feed`` kept; an existing feed keeps its own state (its unseen
        items are the poller's to post to every channel). ``messages_for(subscription)`` gives
        the outbox rows to enqueue for the new subscription, in the same transaction. A paused
        feed is resumed (the fetch just worked). Raises :class:`LimitReached` when the guild
        already has ``max_per_guild`` subscriptions. Called by the feed service.
        """
        _aware(now, new_feed.next_check_at)
        async with self._db.session(write=True) as conn:
            if max_per_guild is not None and guild_id is not None:
                # Concurrent adds in one guild count one after the other: the limit holds exactly.
                await serialise_on(conn, _SUBSCRIBE_LOCK_SPACE, guild_id)
                count_stmt = (
                    select(func.count())
                    .select_from(subscriptions)
                    .where(subscriptions.c.guild_id == guild_id)
                )
                if (await conn.execute(count_stmt)).scalar_one() >= max_per_guild:
                    raise LimitReached(max_per_guild)
            feed_id = (await conn.execute(select(feeds.c.id).where(feeds.c.url == new_feed.url))).scalar()
            created = feed_id is None
            if created:
                stmt = insert(self._db.dialect_name, feeds).values(
                    url=new_feed.url,
                    title=_clean(new_feed.title),
                    site_url=_clean(new_feed.site_url),
                    icon_url=_clean(new_feed.icon_url),
                    etag=_clean(new_feed.etag),
                    last_modified=_clean(new_feed.last_modified),
                    body_hash=new_feed.body_hash,
                    update_hint_s=new_feed.update_hint_s,
                    next_check_at=new_feed.next_check_at,
                    last_checked_at=now,
                    last_success_at=now,
                    failures=0,
                    status=ACTIVE,
                    created_at=now,
                )
                feed_id = (await conn.execute(stmt.returning(feeds.c.id))).scalar_one()
                await _insert_items(conn, [_item_values(feed_id, item, now) for item in items])
            else:
                await conn.execute(
                    update(feeds)
                    .where(feeds.c.id == feed_id, feeds.c.status == PAUSED)
                    .values(status=ACTIVE, paused_reason=None, failures=0, last_error=None, next_check_at=now)
                )
            subscribe = (
                insert(self._db.dialect_name, subscriptions)
                .values(
                    feed_id=feed_id,
                    guild_id=guild_id,
                    channel_id=channel_id,
                    created_by=created_by,
                    created_at=now,
                    include=[],
                    exclude=[],
                    extract=extract,
                    status=ACTIVE,
                )
                .on_conflict_do_nothing(index_elements=[subscriptions.c.feed_id, subscriptions.c.channel_id])
                .returning(subscriptions)
            )
            row = (await conn.execute(subscribe)).one_or_none()
            if row is None:
                # Nothing written yet for an existing feed; a created feed cannot clash.
                return None
            subscription = _subscription(row)
            messages = messages_for(subscription)
            if messages:
                await enqueue(conn, messages, now=now)
        return subscription, created

    async def find_subscription(self, feed_url: str, channel_id: int) -> SubscriptionRecord | None:
        """The subscription of ``channel_id`` to the feed at ``feed_url``, if any. Called by the
        service before fetching, to refuse a duplicate early.
        """
        stmt = (
            select(subscriptions)
            .join(feeds, feeds.c.id == subscriptions.c.feed_id)
            .where(feeds.c.url == feed_url, subscriptions.c.channel_id == channel_id)
        )
        async with self._db.session() as conn:
            row = (await conn.execute(stmt)).one_or_none()
        return _subscription(row) if row is not None else None

    async def count_subscriptions(self, guild_id: int) -> int:
        """How many subscriptions ``guild_id`` has (active or paused)."""
        stmt = select(func.count()).select_from(subscriptions).where(subscriptions.c.guild_id == guild_id)
        async with self._db.session() as conn:
            return (await conn.execute(stmt)).scalar_one()

    async def remove_subscription(self, guild_id: int | None, subscription_id: int) -> bool:
        """Delete a subscription of ``guild_id``; a feed left without subscribers is deleted with
        its items. ``False`` when there is no such subscription in that guild.
        """
        async with self._db.session(write=True) as conn:
            stmt = (
                delete(subscriptions)
                .where(subscriptions.c.id == subscription_id, _guild_is(guild_id))
                .returning(subscriptions.c.feed_id)
            )
            feed_id = (await conn.execute(stmt)).scalar()
            if feed_id is None:
                return False
            orphan = ~exists().where(subscriptions.c.feed_id == feed_id)
            await conn.execute(delete(feed_items).where(feed_items.c.feed_id == feed_id, orphan))
            await conn.execute(delete(feeds).where(feeds.c.id == feed_id, orphan))
        return True

    async def list_subscriptions(
        self,
        guild_id: int | None,
        *,
        channel_id: int | None = None,
        channel_ids: Collection[int] | None = None,
        query: str | None = None,
        limit: int | None = None,
    ) -> list[SubscriptionStatus]:
        """The subscriptions of a guild (of one channel when given), by feed title then id.
        ``channel_ids`` keeps those of these channels only (the ones a member may see).
        ``query`` keeps those whose feed title or URL contains it (case-insensitive).
        """
        stmt = select(subscriptions, *_feed_columns()).join(feeds, feeds.c.id == subscriptions.c.feed_id)
        stmt = stmt.where(_guild_is(guild_id))
        if channel_id is not None:
            stmt = stmt.where(subscriptions.c.channel_id == channel_id)
        if channel_ids is not None:
            stmt = stmt.where(subscriptions.c.channel_id.in_(list(channel_ids)))
        if query:
            pattern = f"%{_escape_like(query.lower())}%"
            stmt = stmt.where(
                or_(
                    func.lower(func.coalesce(feeds.c.title, "")).like(pattern, escape="\\"),
                    func.lower(feeds.c.url).like(pattern, escape="\\"),
                )
            )
        stmt = stmt.order_by(func.lower(func.coalesce(feeds.c.title, feeds.c.url)), subscriptions.c.id)
        if limit is not None:
            stmt = stmt.limit(limit)
        async with self._db.session() as conn:
            rows = (await conn.execute(stmt)).all()
        return [SubscriptionStatus(subscription=_subscription(r), feed=_feed(r)) for r in rows]

    async def get_subscription(self, guild_id: int | None, subscription_id: int) -> SubscriptionStatus | None:
        """One subscription of ``guild_id`` with its feed, or ``None``."""
        stmt = (
            select(subscriptions, *_feed_columns())
            .join(feeds, feeds.c.id == subscriptions.c.feed_id)
            .where(subscriptions.c.id == subscription_id, _guild_is(guild_id))
        )
        async with self._db.session() as conn:
            row = (await conn.execute(stmt)).one_or_none()
        return SubscriptionStatus(subscription=_subscription(row), feed=_feed(row)) if row else None

    async def set_filters(
        self, guild_id: int | None, subscription_id: int, include: Sequence[str], exclude: Sequence[str]
    ) -> bool:
        """Replace a subscription's filter patterns (already validated). ``False`` if not found."""
        stmt = (
            update(subscriptions)
            .where(subscriptions.c.id == subscription_id, _guild_is(guild_id))
            .values(include=list(include), exclude=list(exclude))
        )
        async with self._db.session() as conn:
            return (await conn.execute(stmt)).rowcount > 0

    async def resume(self, guild_id: int | None, subscription_id: int, *, now: datetime) -> bool:
        """Resume a subscription and its feed: failures forgotten, the feed due at ``now``.
        ``False`` if not found.
        """
        _aware(now)
        async with self._db.session(write=True) as conn:
            stmt = (
                update(subscriptions)
                .where(subscriptions.c.id == subscription_id, _guild_is(guild_id))
                .values(status=ACTIVE, paused_reason=None)
                .returning(subscriptions.c.feed_id)
            )
            feed_id = (await conn.execute(stmt)).scalar()
            if feed_id is None:
                return False
            await conn.execute(
                update(feeds)
                .where(feeds.c.id == feed_id)
                .values(
                    status=ACTIVE,
                    paused_reason=None,
                    failures=0,
                    last_error=None,
                    next_check_at=now,
                    lease_until=None,
                    lease_owner=None,
                )
            )
        return True

    async def pause_channel(self, channel_id: int, reason: str) -> int:
        """Pause every active subscription of ``channel_id``; return how many. Called when the
        channel became unreachable (deleted, access lost).
        """
        stmt = (
            update(subscriptions)
            .where(subscriptions.c.channel_id == channel_id, subscriptions.c.status == ACTIVE)
            .values(status=PAUSED, paused_reason=_clean(reason))
        )
        async with self._db.session() as conn:
            return (await conn.execute(stmt)).rowcount

    async def get_feed(self, feed_id: int) -> FeedRecord | None:
        """A feed row, or ``None``. For status views and tests."""
        stmt = select(*_feed_columns()).where(feeds.c.id == feed_id)
        async with self._db.session() as conn:
            row = (await conn.execute(stmt)).one_or_none()
        return _feed(row) if row is not None else None

    async def feed_by_url(self, url: str) -> FeedRecord | None:
        """The feed row for ``url``, or ``None``."""
        stmt = select(*_feed_columns()).where(feeds.c.url == url)
        async with self._db.session() as conn:
            row = (await conn.execute(stmt)).one_or_none()
        return _feed(row) if row is not None else None

    async def items(self, feed_id: int) -> list[ItemRow]:
        """Every remembered item of a feed, in the order first seen. For digests and tests."""
        stmt = select(feed_items).where(feed_items.c.feed_id == feed_id).order_by(feed_items.c.id)
        async with self._db.session() as conn:
            rows = (await conn.execute(stmt)).all()
        return [
            ItemRow(
                entry_key=r.entry_key,
                link_key=r.link_key,
                title=r.title,
                url=r.url,
                summary=r.summary,
                image_url=r.image_url,
                author=r.author,
                published_at=r.published_at,
            )
            for r in rows
        ]

    async def add_feeds_bulk(
        self, urls: Sequence[str], *, channel_id: int, guild_id: int | None, now: datetime
    ) -> None:
        """Create feeds due at ``now`` and subscribe ``channel_id`` to each, without fetching.

        For benchmarks and load tests only: a real subscription goes through the service, which
        validates the feed first.
        """
        _aware(now)
        async with self._db.session(write=True) as conn:
            for chunk in _chunks(list(urls), 5000):
                await conn.execute(
                    feeds.insert(),
                    [
                        {"url": u, "next_check_at": now, "failures": 0, "status": ACTIVE, "created_at": now}
                        for u in chunk
                    ],
                )
            ids = (await conn.execute(select(feeds.c.id).where(feeds.c.url.in_(list(urls))))).scalars().all()
            await conn.execute(
                subscriptions.insert(),
                [
                    {
                        "feed_id": fid,
                        "guild_id": guild_id,
                        "channel_id": channel_id,
                        "created_at": now,
                        "include": [],
                        "exclude": [],
                        "extract": False,
                        "status": ACTIVE,
                    }
                    for fid in ids
                ],
            )


# --- helpers ------------------------------------------------------------------------------


_ITEM_INSERT = BulkInsert(
    feed_items,
    ("feed_id", "entry_key", "link_key", "title", "url", "summary", "image_url", "author", "published_at",
     "first_seen_at"),
    skip_conflicts_on=("feed_id", "entry_key"),
)  # fmt: skip


async def _insert_items(conn: AsyncConnection, rows: Iterable[tuple[Any, ...]]) -> None:
    # Chunk by chunk, rows made just before they are sent: between two chunks the event
    # loop runs (a batch of changed feeds can hold ten thousand items).
    rows = iter(rows)
    while chunk := list(itertools.islice(rows, 1000)):
        await _ITEM_INSERT.run(conn, chunk)


def _item_values(feed_id: int, item: ItemRow, now: datetime) -> tuple[Any, ...]:
    """An item row in :data:`_ITEM_INSERT`'s column order."""
    return (
        feed_id,
        _clean(item.entry_key),
        _clean(item.link_key),
        _clean(item.title),
        _clean(item.url),
        _clean(item.summary),
        _clean(item.image_url),
        _clean(item.author),
        item.published_at,
        now,
    )


def _feed_columns() -> list[Any]:
    return [
        feeds.c.id.label("f_id"),
        feeds.c.url.label("f_url"),
        feeds.c.title.label("f_title"),
        feeds.c.site_url.label("f_site_url"),
        feeds.c.icon_url.label("f_icon_url"),
        feeds.c.next_check_at.label("f_next_check_at"),
        feeds.c.last_checked_at.label("f_last_checked_at"),
        feeds.c.last_success_at.label("f_last_success_at"),
        feeds.c.last_error.label("f_last_error"),
        feeds.c.failures.label("f_failures"),
        feeds.c.status.label("f_status"),
        feeds.c.paused_reason.label("f_paused_reason"),
        feeds.c.created_at.label("f_created_at"),
    ]


def _feed(row: Any) -> FeedRecord:
    return FeedRecord(
        id=row.f_id,
        url=row.f_url,
        title=row.f_title,
        site_url=row.f_site_url,
        icon_url=row.f_icon_url,
        next_check_at=row.f_next_check_at,
        last_checked_at=row.f_last_checked_at,
        last_success_at=row.f_last_success_at,
        last_error=row.f_last_error,
        failures=row.f_failures,
        status=row.f_status,
        paused_reason=row.f_paused_reason,
        created_at=row.f_created_at,
    )


def _subscription(row: Any) -> SubscriptionRecord:
    return SubscriptionRecord(
        id=row.id,
        feed_id=row.feed_id,
        guild_id=row.guild_id,
        channel_id=row.channel_id,
        created_by=row.created_by,
        created_at=row.created_at,
        include=tuple(row.include or ()),
        exclude=tuple(row.exclude or ()),
        extract=bool(row.extract),
        status=row.status,
        paused_reason=row.paused_reason,
    )


def _guild_is(guild_id: int | None) -> Any:
    return subscriptions.c.guild_id.is_(None) if guild_id is None else subscriptions.c.guild_id == guild_id


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _clean(text: str | None) -> str | None:
    if text is None or _NUL not in text:
        return text
    return text.replace(_NUL, "")


def _chunks(values: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _aware(*values: datetime) -> None:
    for value in values:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"timestamps must be timezone-aware, got {value!r}")


__all__ = [
    "ACTIVE",
    "PAUSED",
    "CheckChanged",
    "CheckDeferred",
    "CheckFailed",
    "CheckOk",
    "CheckOutcome",
    "DueFeed",
    "FeedRecord",
    "FeedStore",
    "ItemRow",
    "LimitReached",
    "NewFeed",
    "SubscriptionRecord",
    "SubscriptionStatus",
]
