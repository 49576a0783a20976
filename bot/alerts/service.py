"""Breaking-story and topic alerts: channel settings, and checking stories as they grow.

The story assigner calls :meth:`AlertService.check_stories` after each batch with the stories it
touched. For each story and each channel that wants it:

* a channel with breaking alerts on gets one when the story is breaking (:func:`is_breaking`:
  ``min_sources`` distinct outlets among *every* feed the bot polls, within ``window_minutes``),
  whatever the channel subscribes to;
* a channel whose keywords match one of the story's headlines gets a topic alert.

A channel gets at most one alert message per story: a story that is both breaking and on topic
is posted once (breaking first), and either kind is then *edited* as more outlets join.

Posting goes through the outbox: the ``channel_alerts`` row (unique per channel, story and kind)
and the outbox row (dedup key ``alert:{channel}:{story}:{kind}``) are written in one transaction,
so a story never alerts a channel twice. Editing needs the posted message's id, which the outbox
learns when the dispatcher has sent it: until then the edit waits, and alerts still unsent are
checked again at every call until they are.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.alerts.breaking import decide_alert, distinct_outlets
from bot.alerts.content import alert_content
from bot.alerts.errors import KeywordError
from bot.alerts.keywords import KeywordAlert, match_keywords
from bot.alerts.types import AlertArticle, AlertSettings, AlertStory, ChannelAlertState
from bot.clock import utcnow
from bot.delivery.errors import DeliveryError
from bot.delivery.message import MessageSpec
from bot.delivery.publisher import Publisher
from bot.discord_text import escape_markdown, fit
from bot.storage.database import Database
from bot.storage.outbox import OutboxMessage, OutboxStore, enqueue
from bot.storage.schema import insert
from bot.storage.stories import StoryItemRow, StoryStore
from bot.storage.story_tables import alert_keywords, alert_settings, channel_alerts

__all__ = ["MAX_KEYWORDS", "AlertCheckStats", "AlertService", "ChannelAlertSettings"]

log = logging.getLogger(__name__)

#: Keywords a channel may have.
MAX_KEYWORDS = 25
#: Alerts posted but not yet sent are re-checked (to edit them) for this long.
PENDING_RECHECK = timedelta(hours=6)
BREAKING, KEYWORD = "breaking", "keyword"


@dataclass(frozen=True, slots=True)
class ChannelAlertSettings:
    """A channel's alert settings as stored."""

    channel_id: int
    guild_id: int | None
    breaking_enabled: bool
    settings: AlertSettings
    updated_at: datetime


@dataclass(slots=True)
class AlertCheckStats:
    """What one :meth:`AlertService.check_stories` call did."""

    stories: int = 0
    posted: int = 0
    edited: int = 0
    #: Edits waiting for the post to be sent.
    waiting: int = 0
    #: Edits Discord refused (logged; tried again at the next check).
    edit_errors: int = 0


@dataclass(frozen=True, slots=True)
class _AlertRow:
    channel_id: int
    guild_id: int | None
    story_id: str
    kind: str
    source_count: int
    dedup_key: str
    message_id: int | None
    alerted_at: datetime


@dataclass(frozen=True, slots=True)
class _Post:
    channel_id: int
    guild_id: int | None
    story_id: str
    kind: str
    source_count: int
    spec: MessageSpec

    @property
    def dedup_key(self) -> str:
        return f"alert:{self.channel_id}:{self.story_id}:{self.kind}"


class AlertService:
    """Alert settings and alert checks; the ``/alerts`` commands and the story assigner call it.

    ``publisher`` edits alert messages when more outlets join (None: no edits, e.g. in a CLI).
    Every method may raise :class:`~bot.errors.StorageError`; settings and keywords raise
    :class:`~bot.alerts.AlertSettingsError` / :class:`~bot.alerts.KeywordError` for bad input.
    """

    def __init__(
        self,
        db: Database,
        *,
        publisher: Publisher | None = None,
        clock: Callable[[], datetime] = utcnow,
        max_keywords: int = MAX_KEYWORDS,
    ) -> None:
        self._db = db
        self._stories = StoryStore(db)
        self._outbox = OutboxStore(db)
        self._publisher = publisher
        self._clock = clock
        self._max_keywords = max_keywords

    # --- settings ------------------------------------------------------------------------

    async def set_breaking(
        self,
        guild_id: int | None,
        channel_id: int,
        enabled: bool,
        min_sources: int = 3,
        window_minutes: int = 60,
        role_id: int | None = None,
    ) -> ChannelAlertSettings:
        """Turn breaking alerts on or off for a channel; ``role_id`` is mentioned with its alerts."""
        settings = AlertSettings(min_sources=min_sources, window_minutes=window_minutes, role_id=role_id)
        values = {
            "channel_id": channel_id,
            "guild_id": guild_id,
            "breaking_enabled": enabled,
            "min_sources": settings.min_sources,
            "window_minutes": settings.window_minutes,
            "role_id": settings.role_id,
            "updated_at": self._clock(),
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

    async def keywords_add(
        self, guild_id: int | None, channel_id: int, keyword: str, *, user_id: int | None = None
    ) -> bool:
        """Add a topic keyword; False if the channel has it already (any case).

        Raises KeywordError for an empty or too long keyword, or when the channel has
        ``max_keywords`` already.
        """
        text = KeywordAlert(keyword).keyword
        async with self._db.session(write=True) as conn:
            count = (
                await conn.execute(
                    select(func.count())
                    .select_from(alert_keywords)
                    .where(alert_keywords.c.channel_id == channel_id)
                )
            ).scalar_one()
            if count >= self._max_keywords:
                raise KeywordError(f"A channel can have at most {self._max_keywords} keywords.")
            stmt = (
                insert(self._db.dialect_name, alert_keywords)
                .values(
                    channel_id=channel_id,
                    guild_id=guild_id,
                    keyword=text,
                    keyword_key=text.casefold(),
                    created_by=user_id,
                    created_at=self._clock(),
                )
                .on_conflict_do_nothing(
                    index_elements=[alert_keywords.c.channel_id, alert_keywords.c.keyword_key]
                )
            )
            return (await conn.execute(stmt)).rowcount > 0

    async def keywords_remove(self, channel_id: int, keyword: str) -> bool:
        """Remove a keyword (any case); False if the channel did not have it."""
        key = " ".join(keyword.split()).casefold()
        stmt = delete(alert_keywords).where(
            alert_keywords.c.channel_id == channel_id, alert_keywords.c.keyword_key == key
        )
        async with self._db.session() as conn:
            return (await conn.execute(stmt)).rowcount > 0

    async def keywords_list(self, channel_id: int) -> list[str]:
        """The channel's keywords, oldest first."""
        query = (
            select(alert_keywords.c.keyword)
            .where(alert_keywords.c.channel_id == channel_id)
            .order_by(alert_keywords.c.id)
        )
        async with self._db.session() as conn:
            return list((await conn.execute(query)).scalars())

    # --- checks ----------------------------------------------------------------------------

    async def check_stories(self, story_ids: Sequence[str], now: datetime) -> AlertCheckStats:
        """Post or edit the alerts these stories call for (see the module docstring).

        Called by the story assigner after each batch (its ``on_assigned`` hook). Edit failures
        are logged and counted, not raised: the next check tries again.
        """
        stats = AlertCheckStats()
        async with self._db.session() as conn:
            breaking = await _breaking_channels(conn)
            keywords = await _keywords_by_channel(conn)
            role_of = await _roles(conn)
            waiting = await _unsent_alert_stories(conn, since=now - PENDING_RECHECK)
        ids = list(dict.fromkeys([*story_ids, *waiting]))
        if not ids or not (breaking or keywords or waiting):
            return stats
        items = await self._stories.story_items(ids)
        async with self._db.session() as conn:
            existing = await _alert_rows(conn, items)

        posts: list[_Post] = []
        edits: list[tuple[_AlertRow, AlertStory, AlertSettings, str | None]] = []
        for story_id, rows in items.items():
            stats.stories += 1
            story = _story(story_id, rows)
            titles = [r.title for r in rows if r.title]
            channels = set(breaking) | set(keywords) | {c for c, _ in existing.get(story_id, {})}
            for channel_id in sorted(channels):
                done = existing.get(story_id, {}).get((channel_id, story_id))
                settings = breaking[channel_id].settings if channel_id in breaking else None
                matched = match_keywords(titles, keywords.get(channel_id, {}).get("words", ()))
                if done is not None:
                    edit_settings = settings or AlertSettings(role_id=role_of.get(channel_id))
                    edits.append((done, story, edit_settings, matched[0] if matched else None))
                    continue
                if settings is not None:
                    action = decide_alert(story, None, now, settings=settings)
                    if action.kind == "post":
                        guild_id = breaking[channel_id].guild_id
                        posts.append(
                            _post(
                                channel_id, guild_id, story, BREAKING, action.source_count, settings.role_id
                            )
                        )
                        continue
                if matched:
                    guild_id = keywords[channel_id]["guild_id"]
                    count = len(distinct_outlets(story.sightings(), now=now))
                    posts.append(
                        _post(
                            channel_id,
                            guild_id,
                            story,
                            KEYWORD,
                            count,
                            role_of.get(channel_id),
                            topic=matched[0],
                        )
                    )
        if posts:
            stats.posted = await self._write_posts(posts, now)
        for row, story, settings, topic in edits:
            await self._maybe_edit(row, story, settings, topic, now, stats)
        return stats

    async def _write_posts(self, posts: list[_Post], now: datetime) -> int:
        posted = 0
        async with self._db.session(write=True) as conn:
            messages = []
            for p in posts:
                stmt = (
                    insert(conn.dialect.name, channel_alerts)
                    .values(
                        channel_id=p.channel_id,
                        guild_id=p.guild_id,
                        story_id=p.story_id,
                        kind=p.kind,
                        source_count=p.source_count,
                        dedup_key=p.dedup_key,
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
                if (await conn.execute(stmt)).first() is None:
                    continue  # another check got there first
                messages.append(OutboxMessage(p.channel_id, p.guild_id, "alert", p.dedup_key, p.spec))
                log.info(
                    "alert posted channel=%s story=%s kind=%s sources=%d",
                    p.channel_id,
                    p.story_id,
                    p.kind,
                    p.source_count,
                )
            posted = await enqueue(conn, messages, now=now)
        return posted

    async def _maybe_edit(
        self,
        row: _AlertRow,
        story: AlertStory,
        settings: AlertSettings,
        topic: str | None,
        now: datetime,
        stats: AlertCheckStats,
    ) -> None:
        message_id = row.message_id
        if message_id is None:
            sent = await self._outbox.get_by_dedup_key(row.dedup_key)
            message_id = sent.message_id if sent is not None else None
            if message_id is not None:
                async with self._db.session() as conn:
                    await conn.execute(
                        update(channel_alerts)
                        .where(channel_alerts.c.dedup_key == row.dedup_key)
                        .values(message_id=message_id)
                    )
        state = ChannelAlertState(row.story_id, row.source_count, message_id, row.alerted_at)
        action = decide_alert(story, state, now, settings=settings)
        if action.kind != "edit":
            if message_id is None and action.source_count > row.source_count:
                stats.waiting += 1
            return
        if self._publisher is None:
            return
        assert message_id is not None
        spec = _post(
            row.channel_id, row.guild_id, story, row.kind, action.source_count, settings.role_id, topic=topic
        ).spec
        try:
            await self._publisher.edit(row.channel_id, message_id, spec)
        except DeliveryError as e:
            stats.edit_errors += 1
            log.warning("alert edit failed channel=%s story=%s: %s", row.channel_id, row.story_id, e)
            return
        async with self._db.session() as conn:
            await conn.execute(
                update(channel_alerts)
                .where(channel_alerts.c.dedup_key == row.dedup_key)
                .values(source_count=action.source_count, updated_at=now)
            )
        stats.edited += 1
        log.info(
            "alert edited channel=%s story=%s sources=%d", row.channel_id, row.story_id, action.source_count
        )


# --- helpers ---------------------------------------------------------------------------------


def _post(
    channel_id: int,
    guild_id: int | None,
    story: AlertStory,
    kind: str,
    count: int,
    role_id: int | None,
    *,
    topic: str | None = None,
) -> _Post:
    label = "Breaking"
    if kind == KEYWORD:
        label = f"Topic: {fit(escape_markdown(topic), 200)}" if topic else "Topic alert"
    content, embed, allowed = alert_content(story, role_id=role_id, label=label)
    return _Post(channel_id, guild_id, story.story_id, kind, count, MessageSpec(content, (embed,), allowed))


def _story(story_id: str, rows: Iterable[StoryItemRow]) -> AlertStory:
    return AlertStory(
        story_id=story_id,
        articles=tuple(
            AlertArticle(
                source=r.source,
                published=r.published,
                title=r.title,
                url=r.url or "",
                summary=r.summary,
                display_name=r.source_title,
            )
            for r in rows
        ),
    )


async def _breaking_channels(conn: AsyncConnection) -> dict[int, ChannelAlertSettings]:
    query = select(alert_settings).where(alert_settings.c.breaking_enabled.is_(True))
    return {r.channel_id: _settings(r) for r in await conn.execute(query)}


async def _roles(conn: AsyncConnection) -> dict[int, int | None]:
    query = select(alert_settings.c.channel_id, alert_settings.c.role_id)
    return {r.channel_id: r.role_id for r in await conn.execute(query)}


async def _keywords_by_channel(conn: AsyncConnection) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    query = select(alert_keywords).order_by(alert_keywords.c.id)
    for r in await conn.execute(query):
        entry = out.setdefault(r.channel_id, {"guild_id": r.guild_id, "words": []})
        entry["words"].append(KeywordAlert(r.keyword))
    return out


async def _unsent_alert_stories(conn: AsyncConnection, *, since: datetime) -> list[str]:
    query = (
        select(channel_alerts.c.story_id)
        .where(channel_alerts.c.message_id.is_(None), channel_alerts.c.alerted_at >= since)
        .distinct()
        .limit(500)
    )
    return list((await conn.execute(query)).scalars())


async def _alert_rows(
    conn: AsyncConnection, items: dict[str, list[StoryItemRow]]
) -> dict[str, dict[tuple[int, str], _AlertRow]]:
    """Existing alerts by story, then by (channel, story); a breaking row wins over a keyword one."""
    out: dict[str, dict[tuple[int, str], _AlertRow]] = {}
    ids = sorted(items)
    for start in range(0, len(ids), 500):
        query = (
            select(channel_alerts)
            .where(channel_alerts.c.story_id.in_(ids[start : start + 500]))
            .order_by(channel_alerts.c.id)
        )
        for r in await conn.execute(query):
            row = _AlertRow(
                r.channel_id,
                r.guild_id,
                r.story_id,
                r.kind,
                r.source_count,
                r.dedup_key,
                r.message_id,
                r.alerted_at,
            )
            by_channel = out.setdefault(r.story_id, {})
            key = (r.channel_id, r.story_id)
            if key not in by_channel or row.kind == BREAKING:
                by_channel[key] = row
    return out


def _settings(r: Any) -> ChannelAlertSettings:
    return ChannelAlertSettings(
        channel_id=r.channel_id,
        guild_id=r.guild_id,
        breaking_enabled=bool(r.breaking_enabled),
        settings=AlertSettings(min_sources=r.min_sources, window_minutes=r.window_minutes, role_id=r.role_id),
        updated_at=r.updated_at,
    )
