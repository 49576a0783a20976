"""The alerts repository: channels' alert settings and keywords, and the alerts already sent.

A posted alert is a ``channel_alerts`` row (unique per channel, story and kind) and an outbox row,
written in one transaction by :meth:`AlertStore.record_posts`, so a story never alerts a channel
twice. An edit is the alert's new outlet count and an outbox row that edits the post (its
destination's ``edit_of``), written in one transaction by :meth:`AlertStore.record_edits`.
Merged stories rename their alerts in :meth:`bot.storage.stories.StoryStore.write_batch`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import delete, exists, func, select, update

from bot.alerts.keywords import KeywordAlert
from bot.alerts.types import AlertSettings
from bot.storage.alert_tables import alert_keywords, alert_settings, channel_alerts
from bot.storage.database import Database
from bot.storage.feed_tables import feed_items
from bot.storage.outbox import OutboxMessage, enqueue
from bot.storage.schema import insert

#: Bound parameters per IN list (SQLite allows 32,766 per statement; PostgreSQL 32,767).
_IN_CHUNK = 500
#: New undated items of one feed in one fetch from which it is a backlog, not news (see undated_backlog).
UNDATED_BACKLOG_SIZE = 5

KeywordAdded = Literal["added", "exists", "full"]


@dataclass(frozen=True, slots=True)
class ChannelAlertSettings:
    """A channel's alert settings as stored."""

    channel_id: int
    guild_id: int | None
    breaking_enabled: bool
    settings: AlertSettings
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ChannelKeywords:
    """A channel's topic keywords, oldest first."""

    guild_id: int | None
    keywords: list[KeywordAlert] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class AlertWatchers:
    """Who wants alerts, read at the start of a check."""

    #: Channels with breaking alerts on.
    breaking: dict[int, ChannelAlertSettings]
    #: Channels with topic keywords.
    keywords: dict[int, ChannelKeywords]
    #: The role each channel with settings mentions (None: nobody).
    roles: dict[int, int | None]
    #: The stored settings of every channel that has some (breaking alerts on or off).
    stored: dict[int, AlertSettings] = field(default_factory=dict)

    def settings_of(self, channel_id: int) -> AlertSettings:
        """The channel's stored settings, else the defaults."""
        return self.stored.get(channel_id) or AlertSettings()


@dataclass(frozen=True, slots=True)
class ChannelAlertRow:
    """A row of ``channel_alerts``: an alert posted to a channel about a story."""

    channel_id: int
    guild_id: int | None
    story_id: str
    kind: str
    source_count: int
    #: The outbox row of the post (its edits' rows name it in ``edit_of``).
    dedup_key: str
    alerted_at: datetime


@dataclass(frozen=True, slots=True)
class NewAlert:
    """An alert to post: its ``channel_alerts`` row and its outbox message (which names the
    channel, the guild and the dedup key)."""

    story_id: str
    kind: str
    source_count: int
    message: OutboxMessage


@dataclass(frozen=True, slots=True)
class AlertEdit:
    """An alert's new outlet count and the outbox message that edits its post to show it."""

    #: The dedup key of the alert's post (``channel_alerts.dedup_key``).
    post_key: str
    source_count: int
    message: OutboxMessage


class AlertStore:
    """Alert storage on a :class:`Database`. Every method may raise :class:`StorageError`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # --- settings ------------------------------------------------------------------------

    async def set_breaking(
        self, guild_id: int | None, channel_id: int, enabled: bool, settings: AlertSettings, *, now: datetime
    ) -> ChannelAlertSettings:
        """Insert or replace the channel's settings; returns them as stored."""
        values = {
            "channel_id": channel_id,
            "guild_id": guild_id,
            "breaking_enabled": enabled,
            "min_sources": settings.min_sources,
            "window_minutes": settings.window_minutes,
            "role_id": settings.role_id,
            "count_reprints": settings.count_reprints,
            "updated_at": now,
        }
        new = insert(self._db.dialect_name, alert_settings).values(**values)
        upsert = new.on_conflict_do_update(
            index_elements=[alert_settings.c.channel_id],
            set_={name: new.excluded[name] for name in values if name != "channel_id"},
        ).returning(*alert_settings.c)
        async with self._db.session(write=True) as conn:
            return _settings((await conn.execute(upsert)).one())

    async def get_settings(self, channel_id: int) -> ChannelAlertSettings | None:
        query = select(alert_settings).where(alert_settings.c.channel_id == channel_id)
        async with self._db.session() as conn:
            row = (await conn.execute(query)).one_or_none()
        return None if row is None else _settings(row)

    async def add_keyword(
        self,
        guild_id: int | None,
        channel_id: int,
        keyword: str,
        *,
        user_id: int | None,
        now: datetime,
        limit: int,
    ) -> KeywordAdded:
        """Add ``keyword`` (unique per channel by its casefold): "exists" if the channel has it,
        "full" if it has ``limit`` keywords already; the count and the insert are one transaction.
        """
        count = (
            select(func.count()).select_from(alert_keywords).where(alert_keywords.c.channel_id == channel_id)
        )
        stmt = (
            insert(self._db.dialect_name, alert_keywords)
            .values(
                channel_id=channel_id,
                guild_id=guild_id,
                keyword=keyword,
                keyword_key=keyword.casefold(),
                created_by=user_id,
                created_at=now,
            )
            .on_conflict_do_nothing(
                index_elements=[alert_keywords.c.channel_id, alert_keywords.c.keyword_key]
            )
        )
        async with self._db.session(write=True) as conn:
            if (await conn.execute(count)).scalar_one() >= limit:
                return "full"
            return "added" if (await conn.execute(stmt)).rowcount > 0 else "exists"

    async def remove_keyword(self, channel_id: int, keyword_key: str) -> bool:
        """Remove the keyword whose casefold is ``keyword_key``; False if the channel had none."""
        stmt = delete(alert_keywords).where(
            alert_keywords.c.channel_id == channel_id, alert_keywords.c.keyword_key == keyword_key
        )
        async with self._db.session() as conn:
            return (await conn.execute(stmt)).rowcount > 0

    async def keywords(self, channel_id: int) -> list[str]:
        """The channel's keywords, oldest first."""
        query = (
            select(alert_keywords.c.keyword)
            .where(alert_keywords.c.channel_id == channel_id)
            .order_by(alert_keywords.c.id)
        )
        async with self._db.session() as conn:
            return list((await conn.execute(query)).scalars())

    async def for_guild(self, guild_id: int) -> tuple[list[ChannelAlertSettings], dict[int, list[str]]]:
        """The server's alert settings by channel, and its channels' keywords oldest first
        (for /newsdesk status)."""
        settings = select(alert_settings).where(alert_settings.c.guild_id == guild_id)
        words = (
            select(alert_keywords.c.channel_id, alert_keywords.c.keyword)
            .where(alert_keywords.c.guild_id == guild_id)
            .order_by(alert_keywords.c.id)
        )
        keywords: dict[int, list[str]] = {}
        async with self._db.session() as conn:
            found = [_settings(r) for r in await conn.execute(settings.order_by(alert_settings.c.channel_id))]
            for r in await conn.execute(words):
                keywords.setdefault(r.channel_id, []).append(r.keyword)
        return found, keywords

    # --- checks ----------------------------------------------------------------------------

    async def watchers(self) -> AlertWatchers:
        """Every channel's breaking settings, keywords and role, in one read."""
        breaking = select(alert_settings).where(alert_settings.c.breaking_enabled.is_(True))
        every = select(alert_settings)
        words = select(alert_keywords).order_by(alert_keywords.c.id)
        keywords: dict[int, ChannelKeywords] = {}
        async with self._db.session() as conn:
            breaking_of = {r.channel_id: _settings(r) for r in await conn.execute(breaking)}
            for r in await conn.execute(words):
                keywords.setdefault(r.channel_id, ChannelKeywords(r.guild_id)).keywords.append(
                    KeywordAlert(r.keyword)
                )
            stored = {r.channel_id: _settings(r).settings for r in await conn.execute(every)}
        role_of = {channel_id: s.role_id for channel_id, s in stored.items()}
        return AlertWatchers(breaking_of, keywords, role_of, stored)

    async def undated_backlog(self, item_ids: Iterable[int]) -> set[int]:
        """Which of these ``feed_items`` are undated and came in a backlog, so their time is unknown.

        A backlog is a feed's first fetch (a new feed, every feed of an OPML import), or a fetch
        that brought at least ``UNDATED_BACKLOG_SIZE`` new undated items at once (the first fetch
        after an outage, a feed that re-published its archive): every item of it is first seen at
        the same moment, whenever it was published. A poll of a live feed brings a few items.
        Only undated items pay the lookup.
        """
        ids = sorted(set(item_ids))
        earlier = feed_items.alias("earlier")
        before = exists().where(
            earlier.c.feed_id == feed_items.c.feed_id, earlier.c.first_seen_at < feed_items.c.first_seen_at
        )
        fetched_with = (
            select(func.count())
            .select_from(earlier)
            .where(
                earlier.c.feed_id == feed_items.c.feed_id,
                earlier.c.first_seen_at == feed_items.c.first_seen_at,
                earlier.c.published_at.is_(None),
            )
            .scalar_subquery()
        )
        out: set[int] = set()
        async with self._db.session() as conn:
            for start in range(0, len(ids), _IN_CHUNK):
                query = select(feed_items.c.id).where(
                    feed_items.c.id.in_(ids[start : start + _IN_CHUNK]),
                    feed_items.c.published_at.is_(None),
                    ~before | (fetched_with >= UNDATED_BACKLOG_SIZE),
                )
                out.update((await conn.execute(query)).scalars())
        return out

    async def alerts_of(self, story_ids: Iterable[str]) -> list[ChannelAlertRow]:
        """The alerts posted about these stories."""
        ids = sorted(set(story_ids))
        out: list[ChannelAlertRow] = []
        async with self._db.session() as conn:
            for start in range(0, len(ids), _IN_CHUNK):
                query = (
                    select(channel_alerts)
                    .where(channel_alerts.c.story_id.in_(ids[start : start + _IN_CHUNK]))
                    .order_by(channel_alerts.c.id)
                )
                out.extend(_alert(r) for r in await conn.execute(query))
        return out

    async def record_posts(self, posts: Sequence[NewAlert], *, now: datetime) -> tuple[list[NewAlert], int]:
        """Record each alert and enqueue its message, in one transaction.

        An alert the channel already has (same story and kind: another check got there first) is
        left out. Returns the alerts recorded and the number of messages enqueued.
        """
        recorded: list[NewAlert] = []
        async with self._db.session(write=True) as conn:
            for post in posts:
                m = post.message
                stmt = (
                    insert(conn.dialect.name, channel_alerts)
                    .values(
                        channel_id=m.channel_id,
                        guild_id=m.guild_id,
                        story_id=post.story_id,
                        kind=post.kind,
                        source_count=post.source_count,
                        dedup_key=m.dedup_key,
                        message_id=None,
                        alerted_at=now,
                        updated_at=now,
                    )
                    .on_conflict_do_nothing(
                        index_elements=[
                            channel_alerts.c.channel_id,
                            channel_alerts.c.story_id,
                            channel_alerts.c.kind,
                        ]
                    )
                    .returning(channel_alerts.c.id)
                )
                if (await conn.execute(stmt)).first() is not None:
                    recorded.append(post)
            enqueued = await enqueue(conn, [p.message for p in recorded], now=now)
        return recorded, enqueued

    async def record_edits(self, edits: Sequence[AlertEdit], *, now: datetime) -> list[AlertEdit]:
        """Record each alert's new outlet count and enqueue the edit of its post, in one transaction.

        Compare-and-set: an edit whose count is not above the stored one (another check got
        there first, or saw more) is left out, so each count is queued once and a channel's
        edits, sent in id order, end with the highest. Returns the edits recorded.
        """
        recorded: list[AlertEdit] = []
        async with self._db.session(write=True) as conn:
            for edit in edits:
                stmt = (
                    update(channel_alerts)
                    .where(
                        channel_alerts.c.dedup_key == edit.post_key,
                        channel_alerts.c.source_count < edit.source_count,
                    )
                    .values(source_count=edit.source_count, updated_at=now)
                )
                if (await conn.execute(stmt)).rowcount > 0:
                    recorded.append(edit)
            await enqueue(conn, [e.message for e in recorded], now=now)
        return recorded


def _settings(r: Any) -> ChannelAlertSettings:
    return ChannelAlertSettings(
        channel_id=r.channel_id,
        guild_id=r.guild_id,
        breaking_enabled=bool(r.breaking_enabled),
        settings=AlertSettings(
            min_sources=r.min_sources,
            window_minutes=r.window_minutes,
            role_id=r.role_id,
            count_reprints=bool(r.count_reprints),
        ),
        updated_at=r.updated_at,
    )


def _alert(r: Any) -> ChannelAlertRow:
    return ChannelAlertRow(
        r.channel_id, r.guild_id, r.story_id, r.kind, r.source_count, r.dedup_key, r.alerted_at
    )
