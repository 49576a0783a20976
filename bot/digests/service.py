"""Digest schedules in the database, and posting the digests that are due.

Each channel has at most one schedule row (``digest_schedules``) with its next due time, computed
by :func:`bot.digests.next_due_at` (apscheduler's triggers). :meth:`DigestService.fire_due`,
called every tick by :class:`bot.digests.scheduler.DigestScheduler`, posts what is due:

* per due row, one transaction moves ``next_due_at`` forward with a compare-and-set (``WHERE
  next_due_at = <the due time read>``) *before* enqueueing the digest in the outbox. Two
  processes (or two ticks) racing on one row: one moves it, the other updates nothing and posts
  nothing. A crash between the two: the transaction rolls back, the row is still due. The outbox
  dedup key ``digest:{channel}:{due time}`` is a second lock on the same door.
* with several processes, one elected process fires (:class:`bot.digests.scheduler.DigestScheduler`
  with an :class:`~bot.election.Election`), and each firing's transaction runs the election's
  fence first: a process that lost the lead writes nothing, the row stays due, and the new leader
  posts it (within the takeover bound of the old one's death).
* a digest that fell due while the bot was down is posted at start if it is at most ``grace_s``
  late, otherwise skipped and logged (:func:`bot.digests.decide_missed`). A skipped digest does
  not move ``last_posted_at``: the next one covers its stories too, so nothing is lost.

A digest covers the items of the channel's subscriptions first seen in ``(last_posted_at, now]``,
one entry per story. An empty period posts a short "No new stories since ..." for daily and
weekly digests (a reader waiting for the morning digest wants to know it was not forgotten), and
nothing for ``every_hours`` ones (hourly "nothing new" would be noise); either way the period
moves on.

Sources are limited to the channel's own subscriptions: another guild's feeds may be private.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.delivery.message import EmbedSpec, MessageSpec
from bot.digests.compose import DigestArticle, compose_digest, summary_candidates
from bot.digests.errors import ScheduleError
from bot.digests.render import render_digest
from bot.digests.schedule import DigestSchedule, advance, decide_missed, next_due_at, parse_schedule
from bot.errors import InvalidURLError
from bot.storage.article_cache import ArticleCache
from bot.storage.digests import DigestScheduleRow, DigestStore, NewSchedule
from bot.storage.leases import Fence, LeaseLost
from bot.storage.outbox import OutboxMessage
from bot.storage.stories import StoryItemRow, StoryStore
from bot.urls import canonicalize_url, normalize_url

__all__ = ["DEFAULT_TOP_N", "MAX_TOP_N", "DigestService", "FireStats"]

log = logging.getLogger(__name__)

DEFAULT_TOP_N = 10
MAX_TOP_N = 25
#: How many due rows one ``fire_due`` call handles (the next tick takes the rest).
FIRE_BATCH = 100
#: The period of a digest posted from a channel without a schedule.
UNSCHEDULED_PERIOD = timedelta(hours=24)
#: Per story shown, how many of its links are looked up in the article cache for a summary.
SUMMARY_LOOKUPS_PER_STORY = 8


@dataclass(slots=True)
class FireStats:
    """What one :meth:`DigestService.fire_due` call did."""

    #: Digests enqueued (one per schedule, whatever its number of messages).
    posted: int = 0
    #: Messages enqueued.
    messages: int = 0
    #: Due rows too late to post (beyond the grace period).
    skipped: int = 0
    #: Empty periods of ``every_hours`` digests, not posted.
    empty: int = 0
    #: Rows another process (or an earlier tick) handled first.
    lost_races: int = 0
    #: Rows that failed (logged; they stay due and are tried again at the next tick).
    failed: int = 0
    #: Firings refused by the fence (this process lost the lead; the rest of the batch is left).
    fenced: int = 0


class DigestService:
    """Digest schedules and digest content; the ``/digest`` commands and the scheduler call it.

    Every method may raise :class:`~bot.errors.StorageError`; ``schedule`` raises
    :class:`~bot.digests.ScheduleError` for input it cannot use.
    """

    def __init__(
        self,
        digests: DigestStore,
        stories: StoryStore,
        *,
        title: str = "News digest",
        articles: ArticleCache | None = None,
    ) -> None:
        self._digests = digests
        self._stories = stories
        self._title = title
        # Extractions already made (extract:true subscriptions, /fetch) give better summaries.
        self._cache = articles

    # --- commands ------------------------------------------------------------------------

    async def schedule(
        self,
        guild_id: int | None,
        channel_id: int,
        kind: str,
        at: str | None = None,
        day: str | int | None = None,
        hours: int | str | None = None,
        timezone: str = "UTC",
        top_n: int = DEFAULT_TOP_N,
        user_id: int | None = None,
        *,
        now: datetime,
    ) -> DigestScheduleRow:
        """Set the channel's schedule, replacing any; returns the stored row.

        A new schedule's first digest covers one period before its first due time (a daily
        digest at 08:00 tomorrow shows the 24 hours before it). A replaced schedule keeps its
        ``last_posted_at``, so no story is shown twice or skipped.
        """
        if not 1 <= top_n <= MAX_TOP_N:
            raise ScheduleError(f"The number of stories must be between 1 and {MAX_TOP_N}.")
        schedule = parse_schedule(kind, at=at, day=day, hours=hours, timezone=timezone)
        due = next_due_at(schedule, after=now)
        first_period_start = min(now, due - _period(schedule))
        new = NewSchedule(guild_id, channel_id, schedule, top_n, due, first_period_start, user_id, now)
        return await self._digests.set_schedule(new)

    async def show(self, channel_id: int) -> DigestScheduleRow | None:
        return await self._digests.get(channel_id)

    async def off(self, channel_id: int) -> bool:
        """Remove the channel's schedule; False if it had none."""
        return await self._digests.delete(channel_id)

    async def preview(self, channel_id: int, now: datetime) -> list[list[EmbedSpec]]:
        """The messages the channel's digest would post now (for ``/digest preview``; posts nothing)."""
        row = await self.show(channel_id)
        start, tz = _period_start(row, now), _tz(row)
        top_n = row.top_n if row is not None else DEFAULT_TOP_N
        return await self._render(channel_id, start, now, top_n, tz)

    async def post_now(self, channel_id: int, now: datetime, *, guild_id: int | None = None) -> int:
        """Enqueue the channel's digest now; return how many messages.

        The schedule keeps its next due time, but its period restarts now: the next scheduled
        digest shows only what came after this one. Without a schedule: the last 24 hours.
        """
        row = await self.show(channel_id)
        start, tz = _period_start(row, now), _tz(row)
        top_n = row.top_n if row is not None else DEFAULT_TOP_N
        # Composed before the write transaction: on SQLite that holds the only write lock.
        messages = await self._render(channel_id, start, now, top_n, tz)
        if row is not None:
            guild_id = row.guild_id
        key = f"digest:{channel_id}:now:{now.astimezone(UTC).isoformat()}"
        outbox = _outbox_messages(channel_id, guild_id, key, messages)
        return await self._digests.post_now(row.id if row is not None else None, outbox, now=now)

    # --- scheduler -------------------------------------------------------------------------

    async def next_due_at(self) -> datetime | None:
        """The earliest due time of any active schedule (for status and logs)."""
        return await self._digests.earliest_due()

    async def fire_due(
        self, now: datetime, grace_s: float = 3600, *, fence: Fence | None = None
    ) -> FireStats:
        """Post (or skip, if too late) every digest due at ``now``; see the module docstring.

        Each row is handled in its own transaction and guarded: one failing row is logged and
        stays due, the others go on. ``fence`` (e.g. ``lambda conn: election.fence(conn, now)``)
        runs first in each row's transaction; once it fails, nothing more is written.
        """
        stats = FireStats()
        for row in await self._digests.due(now, limit=FIRE_BATCH):
            try:
                await self._fire_one(row, now, grace_s, stats, fence)
            except LeaseLost:
                stats.fenced += 1
                log.warning("digest firing: lead lost; channel=%s is left to the new leader", row.channel_id)
                break
            except Exception:
                stats.failed += 1
                log.exception(
                    "digest failed channel=%s guild=%s due=%s", row.channel_id, row.guild_id, row.next_due_at
                )
        return stats

    async def _fire_one(
        self, row: DigestScheduleRow, now: datetime, grace_s: float, stats: FireStats, fence: Fence | None
    ) -> None:
        due = row.next_due_at
        action = decide_missed(due, now=now, grace_s=grace_s)
        if action == "not_due":
            return
        messages: list[list[EmbedSpec]] | None = None
        if action == "post":
            # Composed before the write transaction (on SQLite it holds the only write lock); a
            # lost race below just throws it away.
            start = _period_start(row, now)
            articles = await self._articles(row.channel_id, start, now)
            if articles or row.schedule.kind != "every_hours":
                messages = await self._render_articles(articles, start, now, row.top_n, row.schedule.tz)
        key = f"digest:{row.channel_id}:{due.astimezone(UTC).isoformat()}"
        enqueued = await self._digests.move_due(
            row,
            advance(row.schedule, due_at=due, now=now),
            posted_at=now if action == "post" else None,
            messages=_outbox_messages(row.channel_id, row.guild_id, key, messages or []),
            now=now,
            fence=fence,
        )
        if enqueued is None:
            stats.lost_races += 1
        elif action == "skip":
            stats.skipped += 1
            log.warning(
                "digest skipped channel=%s guild=%s due=%s late=%.0fs (beyond the %.0fs grace)",
                row.channel_id,
                row.guild_id,
                due.isoformat(),
                (now - due).total_seconds(),
                grace_s,
            )
        elif messages is None:
            stats.empty += 1
        else:
            stats.messages += enqueued
            stats.posted += 1
            log.info(
                "digest posted channel=%s guild=%s due=%s", row.channel_id, row.guild_id, due.isoformat()
            )

    # --- content ---------------------------------------------------------------------------

    async def _articles(self, channel_id: int, start: datetime, end: datetime) -> list[DigestArticle]:
        items = await self._stories.channel_items(channel_id, after=start, until=end)
        return [_article(item) for item in items]

    async def _render(
        self, channel_id: int, start: datetime, end: datetime, top_n: int, tz: ZoneInfo
    ) -> list[list[EmbedSpec]]:
        articles = await self._articles(channel_id, start, end)
        return await self._render_articles(articles, start, end, top_n, tz)

    async def _render_articles(
        self, articles: list[DigestArticle], start: datetime, end: datetime, top_n: int, tz: ZoneInfo
    ) -> list[list[EmbedSpec]]:
        # Ranking and layout are CPU work (headline scoring over every article): off the loop.
        loop = asyncio.get_running_loop()
        articles = await self._with_extractions(articles, top_n)
        return await loop.run_in_executor(
            None, _compose_and_render, articles, start, end, top_n, tz, self._title
        )

    async def _with_extractions(self, articles: list[DigestArticle], top_n: int) -> list[DigestArticle]:
        """``articles``, those of the shown stories with a cached extraction carrying its summary."""
        if self._cache is None or not articles:
            return articles
        loop = asyncio.get_running_loop()
        urls = await loop.run_in_executor(
            None,
            lambda: summary_candidates(articles, limit=top_n, per_story=SUMMARY_LOOKUPS_PER_STORY),
        )
        found: dict[str, str] = {}
        for url in dict.fromkeys(urls):
            try:
                # The key the article service caches under (bot.articles).
                key = canonicalize_url(normalize_url(url))
            except InvalidURLError:
                continue
            entry = await self._cache.get_entry(key)
            if entry is not None and entry.article.summary.strip():
                found[url] = entry.article.summary
        if not found:
            return articles
        return [replace(a, extracted_summary=found[a.url]) if a.url in found else a for a in articles]


def _compose_and_render(
    articles: list[DigestArticle], start: datetime, end: datetime, top_n: int, tz: ZoneInfo, title: str
) -> list[list[EmbedSpec]]:
    digest = compose_digest(articles, period_start=start, period_end=end, limit=top_n)
    return render_digest(digest, title=title, tz=tz)


def _article(item: StoryItemRow) -> DigestArticle:
    return DigestArticle(
        # An item the assigner has not reached yet is a story of its own rather than left out:
        # the next digest starts after it.
        story_id=item.story_id if item.story_id is not None else f"item:{item.id}",
        title=item.title or (item.url or ""),
        url=item.url or "",
        source_name=item.source,
        display_name=item.source_title,
        published=item.published,
        summary=item.summary,
    )


def _outbox_messages(
    channel_id: int, guild_id: int | None, key: str, messages: Sequence[Sequence[EmbedSpec]]
) -> list[OutboxMessage]:
    return [
        OutboxMessage(
            channel_id=channel_id,
            guild_id=guild_id,
            kind="digest",
            # The first message keeps the plain key; the continuations are numbered.
            dedup_key=key if n == 0 else f"{key}#{n + 1}",
            spec=MessageSpec(embeds=tuple(embeds)),
        )
        for n, embeds in enumerate(messages)
    ]


def _period_start(row: DigestScheduleRow | None, now: datetime) -> datetime:
    if row is None or row.last_posted_at is None:
        return now - UNSCHEDULED_PERIOD
    return min(row.last_posted_at, now)


def _tz(row: DigestScheduleRow | None) -> ZoneInfo:
    return ZoneInfo(row.schedule.timezone) if row is not None else ZoneInfo("UTC")


def _period(schedule: DigestSchedule) -> timedelta:
    if schedule.kind == "weekly":
        return timedelta(days=7)
    if schedule.kind == "every_hours":
        assert schedule.every_hours is not None
        return timedelta(hours=schedule.every_hours)
    return timedelta(days=1)
