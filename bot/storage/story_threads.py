"""Story threads: the thread a channel opened for a story, where its later outlets go.

``story_threads`` holds one thread per (channel, story): the forum post or the thread opened
on the message of the story's first post in that channel. The thread sender
(``cogs/thread_delivery.py``) reads an item's story from ``feed_items.story_id`` (set by the
story assigner, a moment after the item is stored), looks the story's thread up here, and
records the thread it opens when there is none (or the recorded one is gone).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, select

from bot.storage.database import Database
from bot.storage.destination_tables import story_threads
from bot.storage.feed_tables import feed_items
from bot.storage.schema import insert

#: A story's thread is kept this long: the grouper adds no item to a story older than its
#: retention (14 days), so no later outlet comes for it.
STORY_THREAD_RETENTION = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class ItemStory:
    """A stored feed item's story, as far as the assigner got."""

    #: None until the story assigner has grouped the item.
    story_id: str | None
    first_seen_at: datetime


class StoryThreadStore:
    """``story_threads`` and the item lookups the thread sender needs. Raises StorageError."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def item_story(self, feed_id: int, item_key: str) -> ItemStory | None:
        """The story of the item ``item_key`` (``feed_items.entry_key``) of ``feed_id``; None
        when no such item is stored.
        """
        query = select(feed_items.c.story_id, feed_items.c.first_seen_at).where(
            feed_items.c.feed_id == feed_id, feed_items.c.entry_key == item_key
        )
        async with self._db.session() as conn:
            row = (await conn.execute(query)).one_or_none()
        return None if row is None else ItemStory(row.story_id, row.first_seen_at)

    async def thread_for(self, channel_id: int, story_id: str) -> int | None:
        """The thread recorded for ``story_id`` in ``channel_id``, or None."""
        query = select(story_threads.c.thread_id).where(
            and_(story_threads.c.channel_id == channel_id, story_threads.c.story_id == story_id)
        )
        async with self._db.session() as conn:
            return (await conn.execute(query)).scalar_one_or_none()

    async def record(self, channel_id: int, story_id: str, thread_id: int, *, now: datetime) -> None:
        """Record (or replace) the story's thread in the channel."""
        async with self._db.session() as conn:
            stmt = insert(conn.dialect.name, story_threads).values(
                channel_id=channel_id, story_id=story_id, thread_id=thread_id, created_at=now
            )
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[story_threads.c.channel_id, story_threads.c.story_id],
                    set_={"thread_id": stmt.excluded.thread_id, "created_at": stmt.excluded.created_at},
                )
            )

    async def purge(self, *, older_than: datetime) -> int:
        """Forget the threads recorded before ``older_than``; how many."""
        async with self._db.session() as conn:
            result = await conn.execute(delete(story_threads).where(story_threads.c.created_at < older_than))
        return result.rowcount or 0
