"""Adding feeds to a channel in bulk: the one write path of ``/feed add`` and ``/feed import``.

A few statements per chunk of feeds, whatever their number: the feeds already known and the
channel's subscriptions to them are read at once, the new feeds inserted with their first
state (``INSERT ... ON CONFLICT DO NOTHING RETURNING``: a feed created meanwhile by another
transaction is found, not duplicated), their items remembered, paused feeds resumed, and the
subscriptions inserted the same way (one already there is "already followed").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.storage.feed_records import ACTIVE, PAUSED, LimitReached, NewFeed, Subscribed
from bot.storage.feed_sql import clean, insert_items, item_values, subscription_record
from bot.storage.feed_tables import feeds, subscriptions
from bot.storage.guild_settings import guild_settings
from bot.storage.schema import insert

Answer = Subscribed | LimitReached | None


@dataclass(slots=True)
class Room:
    """Subscriptions the guild may still have (``left`` is ``None`` without a limit)."""

    left: int | None
    limit: int = 0


@dataclass(frozen=True, slots=True)
class Adding:
    """One transaction adding feeds to one channel."""

    conn: AsyncConnection
    dialect: str
    guild_id: int | None
    channel_id: int
    created_by: int | None
    extract: bool
    now: datetime
    #: The new subscriptions' ``delivery`` (PostDelivery JSON); None: the default.
    delivery: dict[str, Any] | None = None

    async def chunk(self, new_feeds: Sequence[NewFeed], room: Room, taken: set[str]) -> list[Answer]:
        """Answers for ``new_feeds`` (see :meth:`bot.storage.feeds.FeedStore.subscribe`);
        ``taken`` holds the URLs answered in earlier chunks, ``room`` what the guild has left.
        """
        known = await self._known([f.url for f in new_feeds])
        followed = await self._followed([fid for fid, _ in known.values()])
        answers: list[Answer] = []
        planned: list[NewFeed] = []
        planned_at: set[int] = set()
        for n, feed in enumerate(new_feeds):
            answer: Answer = None  # already followed, or twice in new_feeds
            entry = known.get(feed.url)
            if feed.url not in taken and (entry is None or entry[0] not in followed):
                if room.left is not None and room.left <= 0:
                    answer = LimitReached(room.limit)
                else:
                    if room.left is not None:
                        room.left -= 1
                    planned.append(feed)
                    planned_at.add(n)
            taken.add(feed.url)
            answers.append(answer)
        created = await self._create([f for f in planned if f.url not in known])
        ids = {url: fid for url, (fid, _) in known.items()} | created
        raced = [f.url for f in planned if f.url not in ids]  # created meanwhile elsewhere
        if raced:
            ids |= {url: fid for url, (fid, _) in (await self._known(raced)).items()}
        wanted = {f.url for f in planned}
        await self._resume(
            [fid for url, (fid, status) in known.items() if url in wanted and status == PAUSED]
        )
        made = await self._subscribe([ids[f.url] for f in planned])  # in order: ids follow the file
        return [
            Subscribed(made[ids[f.url]], f.url in created) if n in planned_at and ids[f.url] in made else a
            for n, (f, a) in enumerate(zip(new_feeds, answers, strict=True))
        ]

    async def _known(self, urls: list[str]) -> dict[str, tuple[int, str]]:
        stmt = select(feeds.c.url, feeds.c.id, feeds.c.status).where(feeds.c.url.in_(urls))
        return {row.url: (row.id, row.status) for row in await self.conn.execute(stmt)}

    async def _followed(self, feed_ids: list[int]) -> set[int]:
        if not feed_ids:
            return set()
        stmt = select(subscriptions.c.feed_id).where(
            subscriptions.c.channel_id == self.channel_id, subscriptions.c.feed_id.in_(feed_ids)
        )
        return set((await self.conn.execute(stmt)).scalars())

    async def _create(self, new_feeds: list[NewFeed]) -> dict[str, int]:
        """Insert the feeds; their ids by URL (those created by this transaction only)."""
        if not new_feeds:
            return {}
        stmt = (
            insert(self.dialect, feeds)
            .values([self._feed_row(f) for f in new_feeds])
            .on_conflict_do_nothing(index_elements=[feeds.c.url])
            .returning(feeds.c.id, feeds.c.url)
        )
        created = {row.url: row.id for row in await self.conn.execute(stmt)}
        rows = (
            item_values(created[f.url], item, self.now)
            for f in new_feeds
            if f.url in created
            for item in f.items
        )
        await insert_items(self.conn, rows)
        return created

    def _feed_row(self, feed: NewFeed) -> dict[str, Any]:
        state = feed.state
        row: dict[str, Any] = {
            "url": feed.url, "failures": 0, "status": ACTIVE, "created_at": self.now,
            "title": None, "site_url": None, "icon_url": None, "etag": None, "last_modified": None,
            "body_hash": None, "update_hint_s": None, "next_check_at": self.now,
            "last_checked_at": None, "last_success_at": None,
        }  # fmt: skip
        if state is not None:
            row.update(
                title=clean(state.title), site_url=clean(state.site_url), icon_url=clean(state.icon_url),
                etag=clean(state.etag), last_modified=clean(state.last_modified), body_hash=state.body_hash,
                update_hint_s=state.update_hint_s, next_check_at=state.next_check_at,
                last_checked_at=self.now, last_success_at=self.now,
            )  # fmt: skip
        return row

    async def _resume(self, feed_ids: list[int]) -> None:
        # The fetch just worked: a paused feed someone subscribes to again is checked again.
        if feed_ids:
            await self.conn.execute(
                update(feeds)
                .where(feeds.c.id.in_(feed_ids), feeds.c.status == PAUSED)
                .values(
                    status=ACTIVE, paused_reason=None, failures=0, last_error=None, next_check_at=self.now
                )
            )

    async def _subscribe(self, feed_ids: list[int]) -> dict[int, Any]:
        """Insert the subscriptions; the records made, by feed id (a clash makes none)."""
        if not feed_ids:
            return {}
        values: list[dict[str, Any]] = [
            {"feed_id": fid, "guild_id": self.guild_id, "channel_id": self.channel_id,
             "created_by": self.created_by, "created_at": self.now, "include": [], "exclude": [],
             "extract": self.extract, "status": ACTIVE}
            for fid in feed_ids
        ]  # fmt: skip
        if self.delivery is not None:  # else NULL (a JSON null would read the same, but differ in SQL)
            for value in values:
                value["delivery"] = self.delivery
        stmt = (
            insert(self.dialect, subscriptions)
            .values(values)
            .on_conflict_do_nothing(index_elements=[subscriptions.c.feed_id, subscriptions.c.channel_id])
            .returning(subscriptions)
        )
        made = {row.feed_id: subscription_record(row) for row in await self.conn.execute(stmt)}
        if made and self.guild_id is not None:  # their first posts use the server's default template
            template_stmt = select(guild_settings.c.post_template).where(
                guild_settings.c.guild_id == self.guild_id
            )
            server_template = (await self.conn.execute(template_stmt)).scalar_one_or_none()
            if server_template is not None:
                made = {fid: replace(sub, server_template=server_template) for fid, sub in made.items()}
        return made
