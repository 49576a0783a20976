"""The feed subscriptions repository: feeds, subscriptions, and the items each feed has shown.

The poller's hot path is here, so it is written for throughput: due feeds are claimed in
batches with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write lock on SQLite), and
the bookkeeping of a whole batch (validators, next check, failures, new items and their outbox
rows) is written in one transaction with ``executemany``. Decisions (what is new, when to check
next) are made by the callers with the pure functions of :mod:`bot.feeds`.

The records and check outcomes live in :mod:`bot.storage.feed_records`, the batched seen-key
lookup in :mod:`bot.storage.feed_lookup`, the UPDATE statements of :meth:`FeedStore.record` in
:mod:`bot.storage.feed_statements`, adding feeds in bulk in :mod:`bot.storage.feed_add`, and
the subscription-management queries in :mod:`bot.storage.feed_subscriptions`.

Every method may raise :class:`~bot.errors.StorageError` (database unreachable, query failed)
and :class:`ValueError` for a naive datetime.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Text, case, exists, func, select, type_coerce, update

from bot.feeds.destinations import DEFAULT_DELIVERY, PostDelivery
from bot.storage.database import serialise_on
from bot.storage.feed_add import Adding, Room
from bot.storage.feed_lookup import IN_CHUNK, bind_lookup, key_groups, lookup_sql
from bot.storage.feed_records import (
    ACTIVE,
    CheckChanged,
    CheckDeferred,
    CheckFailed,
    CheckOk,
    CheckOutcome,
    DueFeed,
    LimitReached,
    NewFeed,
    Subscribed,
    SubscriptionRecord,
)
from bot.storage.feed_sql import aware, chunks, clean, insert_items, item_values, subscription_record
from bot.storage.feed_statements import (
    RECORD_CHANGED,
    RECORD_DEFER,
    RECORD_FAILED,
    RECORD_OK,
    RECORD_PAUSE,
)
from bot.storage.feed_subscriptions import SubscriptionQueries
from bot.storage.feed_tables import feeds, subscriptions
from bot.storage.guild_settings import guild_settings
from bot.storage.leases import held_by, is_free, release_rows, skip_locked
from bot.storage.outbox import OutboxMessage, enqueue
from bot.storage.schema import UTCDateTime

#: Feeds added per statement.
_ADD_CHUNK = 500
#: Advisory-lock namespace for per-guild subscription counting (PostgreSQL).
_SUBSCRIBE_LOCK_SPACE = 0x6E64_7362  # "ndsb"


class FeedStore(SubscriptionQueries):
    """Feeds, subscriptions and seen items on a :class:`~bot.storage.database.Database`."""

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
        aware(now, lease_until)
        has_subscriber = exists().where(
            subscriptions.c.feed_id == feeds.c.id, subscriptions.c.status == ACTIVE
        )
        due = (
            select(feeds.c.id)
            .where(
                feeds.c.status == ACTIVE,
                feeds.c.next_check_at <= now,
                is_free(feeds, now),
                has_subscriber,
            )
            .order_by(feeds.c.next_check_at)
            .limit(limit)
        )
        stmt = (
            update(feeds)
            .where(feeds.c.id.in_(skip_locked(due).scalar_subquery()))
            .values(**held_by(owner, lease_until))
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
                feeds.c.next_check_at,
            )
        )
        async with self._db.session(write=True) as conn:
            rows = (await conn.execute(stmt)).all()
        # The last two: first_fetch (whether last_success_at is NULL), due_at.
        return [DueFeed._make((*row[:-2], row[-2] is None, row[-1])) for row in rows]

    async def release_leases(self, owner: str) -> int:
        """Free every feed leased by ``owner``; return how many.

        Called by a poller when it starts under a stable owner name: the leases are its
        previous life's (it crashed or was stopped mid-pass), and its feeds are due again now
        rather than when those leases run out.
        """
        stmt = release_rows(feeds, owner, feeds.c.lease_until.is_not(None))
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
            for chunk in chunks(ids, IN_CHUNK):
                # With the server's default post template, for the posts built from them.
                stmt = (
                    select(subscriptions, guild_settings.c.post_template)
                    .outerjoin(guild_settings, guild_settings.c.guild_id == subscriptions.c.guild_id)
                    .where(subscriptions.c.feed_id.in_(chunk), subscriptions.c.status == ACTIVE)
                    .order_by(subscriptions.c.id)
                )
                for row in await conn.execute(stmt):
                    result.setdefault(row.feed_id, []).append(subscription_record(row))
        return result

    async def record(self, outcomes: Sequence[CheckOutcome], *, now: datetime) -> None:
        """Write the outcome of a batch of checks in one transaction, releasing their leases.

        For changed feeds, the new items and their outbox rows are written together: a crash
        loses neither or keeps both, so nothing is lost and nothing posted twice. Paused feeds
        get their notices enqueued. Called by the poller after each batch; when it raises, the
        poller retries feed by feed (:meth:`record` with one outcome) so one bad row cannot
        block the others.
        """
        aware(now)
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
                    [(o.feed_id, clean(o.etag), clean(o.last_modified), o.next_check_at, now) for o in ok],
                )
            if changed:
                rows = (item_values(o.feed_id, item, now) for o in changed for item in o.items)
                await insert_items(conn, rows)
                await RECORD_CHANGED.run(
                    conn,
                    [
                        (o.feed_id, clean(o.state.title), clean(o.state.site_url), clean(o.state.icon_url),
                         clean(o.state.etag), clean(o.state.last_modified), o.state.body_hash,
                         o.state.update_hint_s, o.state.next_check_at, now)
                        for o in changed
                    ],
                )  # fmt: skip
            if failed:
                await RECORD_FAILED.run(
                    conn,
                    [(o.feed_id, o.failures, clean(o.error), o.next_check_at, now) for o in failed],
                )
                paused = [(o.feed_id, clean(o.pause_reason)) for o in failed if o.pause_reason]
                if paused:
                    await RECORD_PAUSE.run(conn, paused)
            if deferred:
                await RECORD_DEFER.run(conn, [(o.feed_id, o.next_check_at) for o in deferred])
            if messages:
                await enqueue(conn, messages, now=now)

    # --- adding feeds ----------------------------------------------------------------

    async def subscribe(
        self,
        new_feeds: Sequence[NewFeed],
        *,
        guild_id: int | None,
        channel_id: int,
        created_by: int | None,
        extract: bool = False,
        now: datetime,
        max_per_guild: int | None = None,
        messages_for: Callable[[NewFeed, SubscriptionRecord], Sequence[OutboxMessage]] | None = None,
        delivery: PostDelivery = DEFAULT_DELIVERY,
    ) -> list[Subscribed | LimitReached | None]:
        """Subscribe ``channel_id`` to each of ``new_feeds``, creating the feeds no one follows
        yet, in one transaction; one answer per feed, in order.

        A :class:`Subscribed`; ``None`` when the channel already follows that feed (or it came
        twice); :class:`LimitReached` for each feed past ``max_per_guild`` subscriptions of the
        guild (concurrent adds in one guild count one after the other: the limit holds exactly).
        A created feed keeps its ``state`` and remembers its ``items`` as seen; an existing one
        keeps its own state (its unseen items are the poller's to post to every channel), and
        is resumed if paused. ``messages_for(new_feed, subscription)`` gives the outbox rows to enqueue
        for a new subscription, in the same transaction; ``delivery`` is how the new subscriptions
        post (a forum channel's). Called by the feed pipeline (and by
        benchmarks, with unfetched feeds).
        """
        aware(now, *(f.state.next_check_at for f in new_feeds if f.state is not None))
        answers: list[Subscribed | LimitReached | None] = []
        async with self._db.session(write=True) as conn:
            room = Room(None)
            if max_per_guild is not None and guild_id is not None:
                await serialise_on(conn, _SUBSCRIBE_LOCK_SPACE, guild_id)
                count = (
                    select(func.count())
                    .select_from(subscriptions)
                    .where(subscriptions.c.guild_id == guild_id)
                )
                room = Room(max_per_guild - (await conn.execute(count)).scalar_one(), max_per_guild)
            adding = Adding(
                conn, self._db.dialect_name, guild_id, channel_id, created_by, extract, now,
                delivery=delivery.to_json(),
            )  # fmt: skip
            taken: set[str] = set()
            for chunk in chunks(new_feeds, _ADD_CHUNK):
                done = await adding.chunk(chunk, room, taken)
                answers += done
                if messages_for is not None:
                    messages = [
                        m
                        for f, a in zip(chunk, done, strict=True)
                        if isinstance(a, Subscribed)
                        for m in messages_for(f, a.subscription)
                    ]
                    if messages:
                        await enqueue(conn, messages, now=now)
        return answers
