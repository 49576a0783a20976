"""Breaking-story and topic alerts: channel settings, and checking stories as they grow.

The story assigner calls :meth:`AlertService.check_stories` after each batch with the stories it
touched. For each story and each channel that wants it:

* a channel with breaking alerts on gets one when the story is breaking (:func:`is_breaking`:
  ``min_sources`` distinct outlets among *every* feed the bot polls, within ``window_minutes``),
  whatever the channel subscribes to;
* a channel whose keywords match one of the story's headlines gets a topic alert.

A channel gets at most one alert message per story: a story that is both breaking and on topic
is posted once (breaking first), and either kind is then *edited* as more outlets join.

Posts and edits both go through the outbox; this service never calls Discord. A post is the
``channel_alerts`` row (unique per channel, story and kind) and the outbox row (dedup key
``alert:{channel}:{story}:{kind}``), written in one transaction, so a story never alerts a
channel twice. An edit is the row's new outlet count and an outbox row (dedup key
``{post key}:edit:{count}``, destination ``Destination(edit_of=post key)``), written in one
transaction too; the dispatcher sends it after the post (a channel's rows go in id order), so it
need not wait for the post to be sent, and a channel's edits end with the newest count.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.alerts.breaking import decide_alert
from bot.alerts.content import alert_content
from bot.alerts.errors import KeywordError
from bot.alerts.keywords import KeywordAlert, match_keywords
from bot.alerts.types import AlertArticle, AlertSettings, AlertStory, ChannelAlertState
from bot.alerts.voices import voice_count
from bot.clock import utcnow
from bot.delivery.destination import Destination
from bot.delivery.message import MessageSpec
from bot.discord_text import escape_markdown, fit
from bot.storage.alerts import (
    AlertEdit,
    AlertStore,
    AlertWatchers,
    ChannelAlertRow,
    ChannelAlertSettings,
    NewAlert,
)
from bot.storage.outbox import OutboxMessage
from bot.storage.stories import StoryItemRow, StoryStore

__all__ = ["MAX_KEYWORDS", "AlertCheckStats", "AlertService"]

log = logging.getLogger(__name__)

#: Keywords a channel may have.
MAX_KEYWORDS = 25
BREAKING, KEYWORD = "breaking", "keyword"


@dataclass(slots=True)
class AlertCheckStats:
    """What one :meth:`AlertService.check_stories` call did."""

    stories: int = 0
    #: Alert posts queued.
    posted: int = 0
    #: Alert edits queued.
    edited: int = 0


@dataclass(frozen=True, slots=True)
class _Edit:
    row: ChannelAlertRow
    story: AlertStory
    settings: AlertSettings
    topic: str | None


@dataclass(slots=True)
class _Plan:
    """What one check posts and edits."""

    posts: list[NewAlert] = field(default_factory=list)
    edits: list[_Edit] = field(default_factory=list)


class AlertService:
    """Alert settings and alert checks; the ``/alerts`` commands and the story assigner call it.

    Every method may raise :class:`~bot.errors.StorageError`; settings and keywords raise
    :class:`~bot.alerts.AlertSettingsError` / :class:`~bot.alerts.KeywordError` for bad input.
    """

    def __init__(
        self,
        alerts: AlertStore,
        stories: StoryStore,
        *,
        clock: Callable[[], datetime] = utcnow,
        max_keywords: int = MAX_KEYWORDS,
    ) -> None:
        self._alerts = alerts
        self._stories = stories
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
        count_reprints: bool = False,
    ) -> ChannelAlertSettings:
        """Turn breaking alerts on or off for a channel; ``role_id`` is mentioned with its alerts.

        ``count_reprints``: whether each word-for-word reprint of a story by another outlet counts
        as an outlet of its own (by default the copies count once).
        """
        settings = AlertSettings(
            min_sources=min_sources,
            window_minutes=window_minutes,
            role_id=role_id,
            count_reprints=count_reprints,
        )
        return await self._alerts.set_breaking(guild_id, channel_id, enabled, settings, now=self._clock())

    async def get_settings(self, channel_id: int) -> ChannelAlertSettings | None:
        return await self._alerts.get_settings(channel_id)

    async def keywords_add(
        self, guild_id: int | None, channel_id: int, keyword: str, *, user_id: int | None = None
    ) -> bool:
        """Add a topic keyword; False if the channel has it already (any case).

        Raises KeywordError for an empty or too long keyword, or when the channel has
        ``max_keywords`` already.
        """
        text = KeywordAlert(keyword).keyword
        added = await self._alerts.add_keyword(
            guild_id, channel_id, text, user_id=user_id, now=self._clock(), limit=self._max_keywords
        )
        if added == "full":
            raise KeywordError(f"A channel can have at most {self._max_keywords} keywords.")
        return added == "added"

    async def keywords_remove(self, channel_id: int, keyword: str) -> bool:
        """Remove a keyword (any case); False if the channel did not have it."""
        return await self._alerts.remove_keyword(channel_id, " ".join(keyword.split()).casefold())

    async def keywords_list(self, channel_id: int) -> list[str]:
        """The channel's keywords, oldest first."""
        return await self._alerts.keywords(channel_id)

    # --- checks ----------------------------------------------------------------------------

    async def check_stories(self, story_ids: Sequence[str], now: datetime) -> AlertCheckStats:
        """Post or edit the alerts these stories call for (see the module docstring).

        Called by the story assigner after each batch (its ``on_assigned`` hook).
        """
        stats = AlertCheckStats()
        ids = list(dict.fromkeys(story_ids))
        if not ids:
            return stats
        watchers = await self._alerts.watchers()
        if not (watchers.breaking or watchers.keywords):
            return stats
        items = await self._stories.story_items(ids)
        existing = _existing(await self._alerts.alerts_of(items))
        # Undated items of a backlog: their time is unknown (see AlertArticle.imported).
        imported = await self._alerts.undated_backlog([r.id for rows in items.values() for r in rows])
        plan = _Plan()
        for story_id, rows in items.items():
            stats.stories += 1
            _plan_story(plan, _story(story_id, rows, imported), watchers, existing.get(story_id, {}), now)
        if plan.posts:
            stats.posted = await self._write_posts(plan.posts, now)
        edits = [e for e in (_edit_of(edit, now) for edit in plan.edits) if e is not None]
        if edits:
            stats.edited = await self._write_edits(edits, now)
        return stats

    async def _write_posts(self, posts: list[NewAlert], now: datetime) -> int:
        recorded, enqueued = await self._alerts.record_posts(posts, now=now)
        for p in recorded:
            log.info(
                "alert posted channel=%s story=%s kind=%s sources=%d",
                p.message.channel_id,
                p.story_id,
                p.kind,
                p.source_count,
            )
        return enqueued

    async def _write_edits(self, edits: list[AlertEdit], now: datetime) -> int:
        recorded = await self._alerts.record_edits(edits, now=now)
        for e in recorded:
            log.info(
                "alert edit queued channel=%s post=%s sources=%d",
                e.message.channel_id,
                e.post_key,
                e.source_count,
            )
        return len(recorded)


# --- helpers ---------------------------------------------------------------------------------


def _plan_story(
    plan: _Plan,
    story: AlertStory,
    watchers: AlertWatchers,
    existing: dict[int, ChannelAlertRow],
    now: datetime,
) -> None:
    """Add to ``plan`` what ``story`` calls for in each channel: an edit where it was alerted,
    else a breaking post, else a topic post."""
    titles = [a.title for a in story.articles if a.title]
    breaking, keywords = watchers.breaking, watchers.keywords
    for channel_id in sorted(set(breaking) | set(keywords) | set(existing)):
        settings = breaking[channel_id].settings if channel_id in breaking else None
        matched = match_keywords(titles, keywords[channel_id].keywords if channel_id in keywords else ())
        done = existing.get(channel_id)
        if done is not None:
            # A topic alert's channel may have breaking alerts off: its stored settings still say
            # how to count reprints (and which role to mention).
            edit_settings = settings or watchers.settings_of(channel_id)
            plan.edits.append(_Edit(done, story, edit_settings, matched[0] if matched else None))
            continue
        if settings is not None:
            action = decide_alert(story, None, now, settings=settings)
            if action.kind == "post":
                guild_id = breaking[channel_id].guild_id
                plan.posts.append(_post(channel_id, guild_id, story, BREAKING, action.source_count, settings))
                continue
        if matched:
            topic_settings = watchers.settings_of(channel_id)
            count = voice_count(story, count_reprints=topic_settings.count_reprints)
            guild_id = keywords[channel_id].guild_id
            plan.posts.append(
                _post(channel_id, guild_id, story, KEYWORD, count, topic_settings, topic=matched[0])
            )


def _edit_of(edit: _Edit, now: datetime) -> AlertEdit | None:
    """The edit of an alert's post that ``edit.story`` calls for (more outlets), or None."""
    row = edit.row
    state = ChannelAlertState(row.story_id, row.source_count, row.alerted_at)
    action = decide_alert(edit.story, state, now, settings=edit.settings)
    if action.kind != "edit":
        return None
    count = action.source_count
    post = _post(row.channel_id, row.guild_id, edit.story, row.kind, count, edit.settings, topic=edit.topic)
    message = OutboxMessage(
        row.channel_id,
        row.guild_id,
        "alert",
        f"{row.dedup_key}:edit:{count}",
        post.message.spec,
        Destination(edit_of=row.dedup_key),
    )
    return AlertEdit(row.dedup_key, count, message)


def _existing(rows: Iterable[ChannelAlertRow]) -> dict[str, dict[int, ChannelAlertRow]]:
    """Existing alerts by story, then by channel; a breaking row wins over a keyword one."""
    out: dict[str, dict[int, ChannelAlertRow]] = {}
    for row in rows:
        by_channel = out.setdefault(row.story_id, {})
        if row.channel_id not in by_channel or row.kind == BREAKING:
            by_channel[row.channel_id] = row
    return out


def _post(
    channel_id: int,
    guild_id: int | None,
    story: AlertStory,
    kind: str,
    count: int,
    settings: AlertSettings,
    *,
    topic: str | None = None,
) -> NewAlert:
    label = "Breaking"
    if kind == KEYWORD:
        label = f"Topic: {fit(escape_markdown(topic), 200)}" if topic else "Topic alert"
    content, embed, allowed = alert_content(
        story, role_id=settings.role_id, label=label, count_reprints=settings.count_reprints
    )
    dedup_key = f"alert:{channel_id}:{story.story_id}:{kind}"
    message = OutboxMessage(channel_id, guild_id, "alert", dedup_key, MessageSpec(content, (embed,), allowed))
    return NewAlert(story.story_id, kind, count, message)


def _story(story_id: str, rows: Iterable[StoryItemRow], imported: set[int]) -> AlertStory:
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
                imported=r.id in imported,
            )
            for r in rows
        ),
    )
