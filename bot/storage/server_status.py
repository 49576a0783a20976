"""The figures of ``/newsdesk status``: one server, only the channels a member may see.

``newsdesk stats`` (:meth:`bot.storage.operator.OperatorStore.figures`) counts whole servers for
the operator. A member must not learn about channels hidden from them, so here the same figures
are counted per channel and summed over the visible ones; the subscriptions are the ones
``/feed list`` shows them (:meth:`FeedStore.list_subscriptions` with ``channel_ids``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select, type_coerce

from bot.storage.alerts import AlertStore, ChannelAlertSettings
from bot.storage.database import Database
from bot.storage.digests import DigestScheduleRow, DigestStore
from bot.storage.feed_records import SubscriptionStatus
from bot.storage.feed_sql import aware
from bot.storage.feeds import FeedStore
from bot.storage.operator import ServerFigures
from bot.storage.outbox import FAILED, PENDING, SENT
from bot.storage.outbox_tables import outbox, outbox_holds
from bot.storage.schema import UTCDateTime

HOURS = 24
_HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class ServerStatus:
    """What ``/newsdesk status`` shows of one server (the visible channels' part of it)."""

    guild_id: int
    now: datetime
    #: By feed title, as ``/feed list`` orders them.
    subscriptions: list[SubscriptionStatus]
    #: Feeds by state and posts, as ``newsdesk stats`` counts them.
    figures: ServerFigures
    #: Posts sent per hour, oldest hour first: ``hourly[-1]`` is the hour up to ``now``.
    hourly: tuple[int, ...]
    #: The channel of the oldest waiting post.
    oldest_waiting_channel: int | None
    #: Channels whose delivery is held (the bot lost access), with why, that have posts waiting.
    held: dict[int, str]
    #: Soonest due first.
    digests: list[DigestScheduleRow]
    alerts: list[ChannelAlertSettings]
    #: Each channel's alert keywords, oldest first.
    keywords: dict[int, list[str]] = field(default_factory=dict)


@dataclass(slots=True)
class _Posts:
    sent: int = 0
    failed: int = 0
    waiting: int = 0
    oldest: datetime | None = None
    oldest_channel: int | None = None
    hourly: list[int] = field(default_factory=lambda: [0] * HOURS)


async def server_status(
    db: Database, guild_id: int, *, now: datetime, channel_ids: Collection[int] | None = None
) -> ServerStatus:
    """The server's status; with ``channel_ids``, of those channels (and threads) only."""
    aware(now)
    seen = None if channel_ids is None else set(channel_ids)
    subs = await FeedStore(db).list_subscriptions(guild_id, channel_ids=seen)
    posts = await _posts(db, guild_id, now=now, visible=seen)
    held = {c: why for c, why in (await _held(db, guild_id)).items() if seen is None or c in seen}
    digests = [d for d in await DigestStore(db).for_guild(guild_id) if seen is None or d.channel_id in seen]
    alerts, keywords = await AlertStore(db).for_guild(guild_id)
    paused = sum(1 for s in subs if s.paused)
    failing = sum(1 for s in subs if not s.paused and s.feed.failures > 0)
    figures = ServerFigures(
        guild_id=guild_id,
        feeds_active=len(subs) - paused - failing,
        feeds_failing=failing,
        feeds_paused=paused,
        posts_24h=posts.sent,
        failed_24h=posts.failed,
        waiting=posts.waiting,
        oldest_waiting_at=posts.oldest,
    )
    return ServerStatus(
        guild_id=guild_id,
        now=now,
        subscriptions=subs,
        figures=figures,
        hourly=tuple(posts.hourly),
        oldest_waiting_channel=posts.oldest_channel,
        held=held,
        digests=digests,
        alerts=[a for a in alerts if seen is None or a.channel_id in seen],
        keywords={c: words for c, words in keywords.items() if seen is None or c in seen},
    )


async def _posts(db: Database, guild_id: int, *, now: datetime, visible: set[int] | None) -> _Posts:
    """The server's posts by channel (the conditions of ``OperatorStore.figures``), summed over
    ``visible``, with the sent ones counted per hour."""
    since = now - HOURS * _HOUR
    sent = and_(outbox.c.status == SENT, outbox.c.sent_at >= since)
    failed = and_(outbox.c.status == FAILED, outbox.c.created_at >= since)
    waiting = outbox.c.status == PENDING
    stmt = (
        select(
            outbox.c.channel_id,
            func.sum(case((sent, 1), else_=0)).label("sent"),
            func.sum(case((failed, 1), else_=0)).label("failed"),
            func.sum(case((waiting, 1), else_=0)).label("waiting"),
            # Typed, or SQLite's MIN() over a CASE would give the stored text.
            type_coerce(func.min(case((waiting, outbox.c.created_at), else_=None)), UTCDateTime()).label(
                "oldest"
            ),
            *_hour_columns(sent, since),
        )
        .where(outbox.c.guild_id == guild_id)
        .where(or_(waiting, outbox.c.created_at >= since, outbox.c.sent_at >= since))
        .group_by(outbox.c.channel_id)
    )
    async with db.session() as conn:
        rows = (await conn.execute(stmt)).all()
    return _sum(rows, visible)


def _hour_columns(sent: Any, since: datetime) -> list[Any]:
    """``h0`` .. ``h23``: posts sent in each hour since ``since`` (the last one open-ended, so a
    post stamped a little after ``now`` by another process's clock still counts)."""
    columns = []
    for hour in range(HOURS):
        start = outbox.c.sent_at >= since + hour * _HOUR
        within = start if hour == HOURS - 1 else and_(start, outbox.c.sent_at < since + (hour + 1) * _HOUR)
        columns.append(func.sum(case((and_(sent, within), 1), else_=0)).label(f"h{hour}"))
    return columns


def _sum(rows: Sequence[Any], visible: set[int] | None) -> _Posts:
    total = _Posts()
    for row in rows:
        if visible is not None and row.channel_id not in visible:
            continue
        total.sent += int(row.sent or 0)
        total.failed += int(row.failed or 0)
        total.waiting += int(row.waiting or 0)
        for hour in range(HOURS):
            total.hourly[hour] += int(getattr(row, f"h{hour}") or 0)
        oldest = row.oldest
        if oldest is not None and (total.oldest is None or oldest < total.oldest):
            total.oldest, total.oldest_channel = oldest, row.channel_id
    return total


async def _held(db: Database, guild_id: int) -> dict[int, str]:
    """The server's held channels that have posts waiting, with why they are held."""
    waiting_here = select(outbox.c.channel_id).where(
        outbox.c.guild_id == guild_id, outbox.c.status == PENDING
    )
    stmt = select(outbox_holds.c.channel_id, outbox_holds.c.reason).where(
        outbox_holds.c.channel_id.in_(waiting_here)
    )
    async with db.session() as conn:
        return {row.channel_id: row.reason for row in await conn.execute(stmt)}
