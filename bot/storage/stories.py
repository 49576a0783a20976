"""The stories repository: items waiting for a story, the grouper's saved state, story rows.

Written by one process at a time: the story assigner holds a lease row (``service_leases``), and
every write checks the lease in its own transaction (a *fence*), so a process whose lease expired
(or whose instance row expired: it is held dead, see :mod:`bot.storage.leases`) while it was
grouping cannot overwrite the work of the one that took over.

Also read by digests and alerts: the articles of stories, and of a channel's subscriptions.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.ops import metrics
from bot.outlets import outlet_name
from bot.storage import leases
from bot.storage.alert_tables import channel_alerts
from bot.storage.database import Database
from bot.storage.feed_tables import feed_items, feeds, subscriptions
from bot.storage.schema import insert
from bot.storage.story_tables import grouper_state, stories

log = logging.getLogger(__name__)

#: Bound parameters per IN list (SQLite allows 32,766 per statement; PostgreSQL 32,767).
_IN_CHUNK = 500


@dataclass(frozen=True, slots=True)
class StoryItemRow:
    """A feed item as story grouping, digests and alerts see it."""

    #: ``feed_items.id``: also the arrival order.
    id: int
    feed_id: int
    title: str
    url: str | None
    summary: str | None
    #: The outlet: the host of the feed's site, else the feed's title, else the feed's host.
    source: str
    #: When it was published, capped at when it was first seen (feed clocks run fast), or when it
    #: was first seen if the feed gave no date.
    published: datetime
    first_seen_at: datetime
    #: None until the assigner has grouped it.
    story_id: str | None
    #: The feed's own title ("BBC News - World"), for display; ``source`` tells outlets apart.
    source_title: str | None = None


@dataclass(frozen=True, slots=True)
class SavedState:
    """The grouper's state as last saved."""

    #: zlib-compressed JSON of ``StoryGrouper.to_state()``.
    blob: bytes
    #: The highest ``feed_items.id`` the state includes; later items are replayed on load.
    last_item_id: int
    saved_at: datetime


@dataclass(frozen=True, slots=True)
class StorySummary:
    """A row of ``stories``."""

    id: str
    first_seen_at: datetime
    last_seen_at: datetime
    item_count: int
    source_count: int
    title: str | None


@dataclass(frozen=True, slots=True)
class BatchWrite:
    """What one assigner batch writes, in one transaction."""

    #: ``(feed_items.id, story id)`` to set, in arrival order.
    assignments: Sequence[tuple[int, str]]
    #: Stories merged away by the grouper: old id -> the id it went into.
    merged: Mapping[str, str]
    #: Current rows of the stories the batch touched (inserted or replaced).
    stories: Sequence[StorySummary]
    #: The grouper's state, when it is time to save it: ``(blob, last_item_id)``.
    state: tuple[bytes, int] | None = None


class StoryStore:
    """Story storage on a :class:`Database`. Every method may raise :class:`StorageError`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # --- the assigner's lease ----------------------------------------------------------

    async def acquire_lease(self, name: str, owner: str, *, now: datetime, until: datetime) -> bool:
        """Take or renew the lease ``name`` for ``owner`` until ``until``; False if another holds it."""
        async with self._db.session(write=True) as conn:
            return await leases.acquire(conn, name, owner, now=now, until=until)

    async def renew_lease(self, name: str, owner: str, *, now: datetime, until: datetime) -> bool:
        """Extend ``owner``'s lease to ``until`` if it still holds it at ``now``; else False."""
        async with self._db.session() as conn:
            return await leases.renew(conn, name, owner, now=now, until=until)

    async def release_lease(self, name: str, owner: str) -> bool:
        """Give the lease up (at stop), so another process may take over at once."""
        async with self._db.session() as conn:
            return await leases.release(conn, name, owner)

    # --- grouper state -----------------------------------------------------------------

    async def load_state(self, name: str) -> SavedState | None:
        query = select(grouper_state).where(grouper_state.c.name == name)
        async with self._db.session() as conn:
            row = (await conn.execute(query)).one_or_none()
        if row is None:
            return None
        return SavedState(blob=bytes(row.state), last_item_id=row.last_item_id, saved_at=row.saved_at)

    # --- items -------------------------------------------------------------------------

    async def pending_items(self, *, limit: int) -> list[StoryItemRow]:
        """Items without a story, oldest first (``feed_items.id`` order)."""
        query = _items_query().where(feed_items.c.story_id.is_(None)).order_by(feed_items.c.id).limit(limit)
        async with self._db.session() as conn:
            return [_item(r) for r in await conn.execute(query)]

    async def assigned_items_after(self, after_id: int, *, limit: int) -> list[StoryItemRow]:
        """Items with a story and an id above ``after_id``, in id order: replayed into a loaded state."""
        query = (
            _items_query()
            .where(feed_items.c.id > after_id, feed_items.c.story_id.is_not(None))
            .order_by(feed_items.c.id)
            .limit(limit)
        )
        async with self._db.session() as conn:
            return [_item(r) for r in await conn.execute(query)]

    async def story_items(self, story_ids: Iterable[str]) -> dict[str, list[StoryItemRow]]:
        """The items of each story (from every feed the bot polls), in id order."""
        result: dict[str, list[StoryItemRow]] = {}
        ids = sorted(set(story_ids))
        async with self._db.session() as conn:
            for start in range(0, len(ids), _IN_CHUNK):
                chunk = ids[start : start + _IN_CHUNK]
                query = _items_query().where(feed_items.c.story_id.in_(chunk)).order_by(feed_items.c.id)
                for row in await conn.execute(query):
                    result.setdefault(row.story_id, []).append(_item(row))
        return result

    async def channel_items(
        self, channel_id: int, *, after: datetime | None, until: datetime
    ) -> list[StoryItemRow]:
        """Items of the channel's active subscriptions first seen in ``(after, until]``, in id order.

        Items the assigner has not reached yet have ``story_id`` None.
        """
        conditions = [
            feed_items.c.first_seen_at <= until,
            exists().where(
                subscriptions.c.feed_id == feed_items.c.feed_id,
                subscriptions.c.channel_id == channel_id,
                subscriptions.c.status == "active",
            ),
        ]
        if after is not None:
            conditions.append(feed_items.c.first_seen_at > after)
        query = _items_query().where(and_(*conditions)).order_by(feed_items.c.id)
        async with self._db.session() as conn:
            return [_item(r) for r in await conn.execute(query)]

    # --- the assigner's writes ---------------------------------------------------------

    async def write_batch(
        self, batch: BatchWrite, *, lease: str, owner: str, now: datetime, lease_until: datetime
    ) -> bool:
        """Write a batch in one transaction if ``owner`` still holds ``lease`` (renewing it).

        False, writing nothing, if the lease was lost: the caller's in-memory grouping is then
        stale and must be reloaded. Merges rename the stories of items already written, and of the
        alerts already sent about them (unless the surviving story has its own alert there).
        """
        formed = 0
        async with self._db.session(write=True) as conn:
            if not await leases.renew(conn, lease, owner, now=now, until=lease_until):
                return False
            for old, new in batch.merged.items():
                await _rename_story(conn, old, new)
            if batch.assignments:
                stmt = (
                    update(feed_items)
                    .where(feed_items.c.id == bindparam("b_id"))
                    .values(story_id=bindparam("b_story"))
                )
                await conn.execute(stmt, [{"b_id": i, "b_story": s} for i, s in batch.assignments])
            if batch.stories:
                formed = await _newly_formed(conn, batch.stories)
                await _upsert_stories(conn, batch.stories)
            if batch.state is not None:
                blob, last_item_id = batch.state
                save = insert(conn.dialect.name, grouper_state).values(
                    name=lease, state=blob, last_item_id=last_item_id, saved_at=now
                )
                await conn.execute(
                    save.on_conflict_do_update(
                        index_elements=[grouper_state.c.name],
                        set_={
                            "state": save.excluded.state,
                            "last_item_id": save.excluded.last_item_id,
                            "saved_at": save.excluded.saved_at,
                        },
                    )
                )
        metrics.STORIES_FORMED.inc(formed)
        return True


async def _rename_story(conn: AsyncConnection, old: str, new: str) -> None:
    await conn.execute(update(feed_items).where(feed_items.c.story_id == old).values(story_id=new))
    other = channel_alerts.alias("other")
    await conn.execute(
        update(channel_alerts)
        .where(
            channel_alerts.c.story_id == old,
            ~exists().where(
                other.c.channel_id == channel_alerts.c.channel_id,
                other.c.story_id == new,
                other.c.kind == channel_alerts.c.kind,
            ),
        )
        .values(story_id=new)
    )
    await conn.execute(delete(stories).where(stories.c.id == old))


async def _newly_formed(conn: AsyncConnection, rows: Sequence[StorySummary]) -> int:
    """How many of ``rows`` reach two items with this write: a story formed (one item is news
    nobody else carries yet)."""
    grown = {s.id: s.item_count for s in rows if s.item_count >= 2}
    if not grown:
        return 0
    result = await conn.execute(_ITEM_COUNTS, {"b_ids": list(grown)})
    before = {story_id: count for story_id, count in result.all()}
    return sum(1 for story_id in grown if before.get(story_id, 0) < 2)


_ITEM_COUNTS = select(stories.c.id, stories.c.item_count).where(
    stories.c.id.in_(bindparam("b_ids", expanding=True))
)


async def _upsert_stories(conn: AsyncConnection, rows: Sequence[StorySummary]) -> None:
    values = [
        {
            "id": s.id,
            "first_seen_at": s.first_seen_at,
            "last_seen_at": s.last_seen_at,
            "item_count": s.item_count,
            "source_count": s.source_count,
            "title": s.title,
        }
        for s in rows
    ]
    stmt = insert(conn.dialect.name, stories)
    stmt = stmt.on_conflict_do_update(
        index_elements=[stories.c.id],
        set_={
            "first_seen_at": stmt.excluded.first_seen_at,
            "last_seen_at": stmt.excluded.last_seen_at,
            "item_count": stmt.excluded.item_count,
            "source_count": stmt.excluded.source_count,
            # The first headline stays: a story's name should not change under the reader.
            "title": stories.c.title,
        },
    )
    await conn.execute(stmt, values)


def _items_query() -> Any:
    return select(
        feed_items.c.id,
        feed_items.c.feed_id,
        feed_items.c.title,
        feed_items.c.url,
        feed_items.c.summary,
        feed_items.c.published_at,
        feed_items.c.first_seen_at,
        feed_items.c.story_id,
        feeds.c.title.label("feed_title"),
        feeds.c.site_url.label("feed_site_url"),
        feeds.c.url.label("feed_url"),
    ).join(feeds, feeds.c.id == feed_items.c.feed_id)


def _item(r: Any) -> StoryItemRow:
    published = r.published_at
    return StoryItemRow(
        id=r.id,
        feed_id=r.feed_id,
        title=" ".join((r.title or "").split()),
        url=r.url,
        summary=r.summary,
        source=outlet_name(r.feed_site_url, r.feed_title, r.feed_url),
        published=r.first_seen_at if published is None else min(published, r.first_seen_at),
        first_seen_at=r.first_seen_at,
        story_id=r.story_id,
        source_title=_one_line(r.feed_title),
    )


def _one_line(text: str | None) -> str | None:
    return " ".join(text.split()) or None if text else None
