"""The subscription-management queries of the feed store: find, count, list, filter, resume,
pause and remove subscriptions (what the ``/feed`` commands read and change besides adding).

:class:`SubscriptionQueries` is a base of :class:`bot.storage.feeds.FeedStore`: callers use the
one store. Every method may raise :class:`~bot.errors.StorageError`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, or_, select, update

from bot.feeds.destinations import PostDelivery
from bot.storage.database import Database
from bot.storage.feed_records import ACTIVE, PAUSED, ItemRow, SubscriptionRecord, SubscriptionStatus
from bot.storage.feed_sql import (
    aware,
    chunks,
    clean,
    escape_like,
    feed_columns,
    feed_record,
    guild_is,
    subscription_record,
)
from bot.storage.feed_tables import feed_items, feeds, subscriptions
from bot.storage.guild_settings import guild_settings
from bot.storage.leases import FREE
from bot.storage.outbox import OutboxMessage, enqueue


class SubscriptionQueries:
    """Subscriptions of guilds and channels on a :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self._db = db

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
        return subscription_record(row) if row is not None else None

    async def followed_urls(self, channel_id: int, urls: Collection[str]) -> set[str]:
        """Which of ``urls`` ``channel_id`` follows already (an import skips them unfetched)."""
        found: set[str] = set()
        async with self._db.session() as conn:
            for chunk in chunks(sorted(set(urls)), 500):
                stmt = (
                    select(feeds.c.url)
                    .join(subscriptions, feeds.c.id == subscriptions.c.feed_id)
                    .where(feeds.c.url.in_(chunk), subscriptions.c.channel_id == channel_id)
                )
                found.update((await conn.execute(stmt)).scalars())
        return found

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
                .where(subscriptions.c.id == subscription_id, guild_is(guild_id))
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
        stmt = select(subscriptions, *feed_columns()).join(feeds, feeds.c.id == subscriptions.c.feed_id)
        stmt = stmt.where(guild_is(guild_id))
        if channel_id is not None:
            stmt = stmt.where(subscriptions.c.channel_id == channel_id)
        if channel_ids is not None:
            stmt = stmt.where(subscriptions.c.channel_id.in_(list(channel_ids)))
        if query:
            pattern = f"%{escape_like(query.lower())}%"
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
        return [SubscriptionStatus(subscription=subscription_record(r), feed=feed_record(r)) for r in rows]

    async def get_subscription(self, guild_id: int | None, subscription_id: int) -> SubscriptionStatus | None:
        """One subscription of ``guild_id`` with its feed (and its server's default template,
        for a post built from it), or ``None``.
        """
        stmt = (
            select(subscriptions, *feed_columns(), guild_settings.c.post_template)
            .join(feeds, feeds.c.id == subscriptions.c.feed_id)
            .outerjoin(guild_settings, guild_settings.c.guild_id == subscriptions.c.guild_id)
            .where(subscriptions.c.id == subscription_id, guild_is(guild_id))
        )
        async with self._db.session() as conn:
            row = (await conn.execute(stmt)).one_or_none()
        return (
            SubscriptionStatus(subscription=subscription_record(row), feed=feed_record(row)) if row else None
        )

    async def set_filters(
        self, guild_id: int | None, subscription_id: int, include: Sequence[str], exclude: Sequence[str]
    ) -> bool:
        """Replace a subscription's filter patterns (already validated). ``False`` if not found."""
        stmt = (
            update(subscriptions)
            .where(subscriptions.c.id == subscription_id, guild_is(guild_id))
            .values(include=list(include), exclude=list(exclude))
        )
        async with self._db.session() as conn:
            return (await conn.execute(stmt)).rowcount > 0

    async def set_template(self, guild_id: int | None, subscription_id: int, template: Any) -> bool:
        """Set a subscription's post template (JSON, already checked; ``None`` clears it: the
        server's default applies). ``False`` if not found.
        """
        stmt = (
            update(subscriptions)
            .where(subscriptions.c.id == subscription_id, guild_is(guild_id))
            .values(template=template)
        )
        async with self._db.session() as conn:
            return (await conn.execute(stmt)).rowcount > 0

    async def newest_item(self, feed_id: int) -> ItemRow | None:
        """The feed's newest remembered item (latest published, else last seen), for previews."""
        stmt = (
            select(feed_items)
            .where(feed_items.c.feed_id == feed_id)
            .order_by(feed_items.c.published_at.is_(None), feed_items.c.published_at.desc(), feed_items.c.id)
            .limit(1)
        )
        async with self._db.session() as conn:
            row = (await conn.execute(stmt)).one_or_none()
        return _item_row(row) if row is not None else None

    async def set_mention(
        self,
        guild_id: int | None,
        subscription_id: int,
        role_id: int | None,
        include: Sequence[str] | None,
    ) -> bool:
        """Set the role a subscription's posts ping and the patterns a post must match to ping
        (``None``: every post; already validated); ``role_id=None`` clears both. ``False`` if
        not found.
        """
        patterns = list(include) if include and role_id is not None else None
        stmt = (
            update(subscriptions)
            .where(subscriptions.c.id == subscription_id, guild_is(guild_id))
            .values(mention_role_id=role_id, mention_include=patterns)
        )
        async with self._db.session() as conn:
            return (await conn.execute(stmt)).rowcount > 0

    async def set_delivery(self, guild_id: int | None, subscription_id: int, delivery: PostDelivery) -> bool:
        """Set how a subscription's posts are delivered (webhook, threads). ``False`` if not found."""
        stmt = (
            update(subscriptions)
            .where(subscriptions.c.id == subscription_id, guild_is(guild_id))
            .values(delivery=delivery.to_json())
        )
        async with self._db.session() as conn:
            return (await conn.execute(stmt)).rowcount > 0

    async def queue_posts(self, messages: Sequence[OutboxMessage], *, now: datetime) -> int:
        """Queue ``messages`` in the outbox (one transaction); how many were new (see
        :func:`bot.storage.outbox.enqueue`: a dedup key already queued is skipped).
        """
        aware(now)
        async with self._db.session(write=True) as conn:
            return await enqueue(conn, messages, now=now)

    async def resume(self, guild_id: int | None, subscription_id: int, *, now: datetime) -> bool:
        """Resume a subscription and its feed: failures forgotten, the feed due at ``now``.
        ``False`` if not found.
        """
        aware(now)
        async with self._db.session(write=True) as conn:
            stmt = (
                update(subscriptions)
                .where(subscriptions.c.id == subscription_id, guild_is(guild_id))
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
                    **FREE,
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
            .values(status=PAUSED, paused_reason=clean(reason))
        )
        async with self._db.session() as conn:
            return (await conn.execute(stmt)).rowcount

    async def items(self, feed_id: int) -> list[ItemRow]:
        """Every remembered item of a feed, in the order first seen. For digests and tests."""
        stmt = select(feed_items).where(feed_items.c.feed_id == feed_id).order_by(feed_items.c.id)
        async with self._db.session() as conn:
            rows = (await conn.execute(stmt)).all()
        return [_item_row(r) for r in rows]


def _item_row(r: Any) -> ItemRow:
    return ItemRow(
        entry_key=r.entry_key,
        link_key=r.link_key,
        title=r.title,
        url=r.url,
        summary=r.summary,
        image_url=r.image_url,
        author=r.author,
        published_at=r.published_at,
    )
