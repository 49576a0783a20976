"""The operator's queries (``newsdesk feeds|outbox|stats``): across every server, by filter.

The Discord commands always work within one server through :class:`FeedStore` and
:class:`OutboxStore`; an operator looks at the whole bot. What the stores already do for one
subscription (resume, remove) the CLI does through them; this module selects the rows and
changes what they have no method for (pausing a subscription, retrying or dropping posts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import and_, case, delete, func, not_, or_, select, update

from bot.storage.database import Database
from bot.storage.feed_records import ACTIVE, PAUSED, SubscriptionStatus
from bot.storage.feed_sql import aware, clean, feed_columns, feed_record, subscription_record
from bot.storage.feed_tables import feeds, subscriptions
from bot.storage.leases import FREE
from bot.storage.outbox import CANCELLED, FAILED, PENDING, SENT
from bot.storage.outbox_tables import outbox, outbox_holds

FeedState = Literal["active", "failing", "paused"]
FEED_STATES: tuple[FeedState, ...] = ("active", "failing", "paused")
PostState = Literal["pending", "stuck", "failed", "cancelled", "sent"]
POST_STATES: tuple[PostState, ...] = ("pending", "stuck", "failed", "cancelled", "sent")
#: A pending post due this long ago and still not sent (or in a held channel) is stuck.
STUCK_AFTER = timedelta(minutes=15)
DROPPED = "dropped by the operator"


@dataclass(frozen=True)
class Selection:
    """Which rows a command acts on: these ids, and/or every row matching the filters."""

    ids: Sequence[int] = ()
    guild_id: int | None = None
    channel_id: int | None = None
    state: str | None = None
    kind: str | None = None

    @property
    def empty(self) -> bool:
        filters = (self.guild_id, self.channel_id, self.state, self.kind)
        return not self.ids and all(value is None for value in filters)


@dataclass(frozen=True, slots=True)
class PostEntry:
    """One outbox row as the operator sees it (without its message)."""

    id: int
    guild_id: int | None
    channel_id: int
    kind: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    #: The channel's delivery is held (the bot lost access to it).
    held: bool


@dataclass(frozen=True, slots=True)
class ServerFigures:
    """``newsdesk stats`` for one server (``guild_id`` None: direct messages)."""

    guild_id: int | None
    feeds_active: int = 0
    feeds_failing: int = 0
    feeds_paused: int = 0
    posts_24h: int = 0
    failed_24h: int = 0
    waiting: int = 0
    oldest_waiting_at: datetime | None = None


def _feed_state_clause(state: str) -> Any:
    paused = or_(subscriptions.c.status == PAUSED, feeds.c.status == PAUSED)
    if state == "paused":
        return paused
    if state == "failing":
        return and_(not_(paused), feeds.c.failures > 0)
    if state == "active":
        return and_(not_(paused), feeds.c.failures == 0)
    raise ValueError(f"unknown feed state {state!r}")


class OperatorStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    # --- subscriptions ------------------------------------------------------------------

    async def subscriptions(self, selection: Selection) -> list[SubscriptionStatus]:
        """The subscriptions selected, by server, channel and id."""
        stmt = select(subscriptions, *feed_columns()).join(feeds, feeds.c.id == subscriptions.c.feed_id)
        if selection.ids:
            stmt = stmt.where(subscriptions.c.id.in_(list(selection.ids)))
        if selection.guild_id is not None:
            stmt = stmt.where(subscriptions.c.guild_id == selection.guild_id)
        if selection.channel_id is not None:
            stmt = stmt.where(subscriptions.c.channel_id == selection.channel_id)
        if selection.state is not None:
            stmt = stmt.where(_feed_state_clause(selection.state))
        stmt = stmt.order_by(subscriptions.c.guild_id, subscriptions.c.channel_id, subscriptions.c.id)
        async with self._db.session() as conn:
            rows = (await conn.execute(stmt)).all()
        return [SubscriptionStatus(subscription=subscription_record(r), feed=feed_record(r)) for r in rows]

    async def pause(self, ids: Sequence[int], reason: str) -> int:
        """Pause these active subscriptions (as /feed pause does); how many were active."""
        stmt = (
            update(subscriptions)
            .where(subscriptions.c.id.in_(list(ids)), subscriptions.c.status == ACTIVE)
            .values(status=PAUSED, paused_reason=clean(reason))
        )
        async with self._db.session() as conn:
            return (await conn.execute(stmt)).rowcount

    # --- outbox -------------------------------------------------------------------------

    async def posts(
        self, selection: Selection, *, now: datetime, limit: int | None = None
    ) -> list[PostEntry]:
        """The outbox rows selected, oldest first. Without a state: pending and failed ones."""
        aware(now)
        held = outbox.c.channel_id.in_(select(outbox_holds.c.channel_id))
        stmt = select(*(getattr(outbox.c, name) for name in _POST_COLUMNS), held.label("held")).order_by(
            outbox.c.id
        )
        if selection.ids:
            stmt = stmt.where(outbox.c.id.in_(list(selection.ids)))
        elif selection.state is None:
            stmt = stmt.where(outbox.c.status.in_([PENDING, FAILED]))
        if selection.state == "stuck":
            stmt = stmt.where(
                outbox.c.status == PENDING, or_(outbox.c.next_attempt_at < now - STUCK_AFTER, held)
            )
        elif selection.state is not None:
            stmt = stmt.where(outbox.c.status == selection.state)
        if selection.guild_id is not None:
            stmt = stmt.where(outbox.c.guild_id == selection.guild_id)
        if selection.channel_id is not None:
            stmt = stmt.where(outbox.c.channel_id == selection.channel_id)
        if selection.kind is not None:
            stmt = stmt.where(outbox.c.kind == selection.kind)
        if limit is not None:
            stmt = stmt.limit(limit)
        async with self._db.session() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [PostEntry(**{**row, "held": bool(row["held"])}) for row in rows]

    async def retry(self, ids: Sequence[int], *, now: datetime) -> tuple[int, int]:
        """Send these failed, cancelled or waiting posts again now, and release the holds of
        their channels; (posts, holds released). The attempts so far are kept: a post whose
        earlier answer was lost is looked for before it is sent again (bot/delivery/policy.py).
        """
        aware(now)
        retryable = [PENDING, FAILED, CANCELLED]
        async with self._db.session(write=True) as conn:
            channels = select(outbox.c.channel_id).where(outbox.c.id.in_(list(ids)))
            released = await conn.execute(delete(outbox_holds).where(outbox_holds.c.channel_id.in_(channels)))
            stmt = (
                update(outbox)
                .where(outbox.c.id.in_(list(ids)), outbox.c.status.in_(retryable))
                .values(status=PENDING, next_attempt_at=now, **FREE)
            )
            retried = await conn.execute(stmt)
        return retried.rowcount, released.rowcount

    async def drop(self, ids: Sequence[int]) -> int:
        """Give up these waiting or failed posts (cancelled, never sent); how many."""
        stmt = (
            update(outbox)
            .where(outbox.c.id.in_(list(ids)), outbox.c.status.in_([PENDING, FAILED]))
            .values(status=CANCELLED, last_error=DROPPED, **FREE)
        )
        async with self._db.session() as conn:
            return (await conn.execute(stmt)).rowcount

    # --- figures ------------------------------------------------------------------------

    async def figures(self, *, now: datetime, guild_id: int | None = None) -> list[ServerFigures]:
        """Per server: subscriptions by state, posts sent and failed in the last 24 hours, posts
        waiting and the oldest of them. Servers in id order, direct messages last."""
        aware(now)
        since = now - timedelta(hours=24)
        sent = and_(outbox.c.status == SENT, outbox.c.sent_at >= since)
        failed = and_(outbox.c.status == FAILED, outbox.c.created_at >= since)
        waiting = outbox.c.status == PENDING
        paused = or_(subscriptions.c.status == PAUSED, feeds.c.status == PAUSED)
        feed_stmt = (
            select(
                subscriptions.c.guild_id,
                func.count().label("total"),
                func.sum(case((paused, 1), else_=0)).label("paused"),
                func.sum(case((and_(not_(paused), feeds.c.failures > 0), 1), else_=0)).label("failing"),
            )
            .join(feeds, feeds.c.id == subscriptions.c.feed_id)
            .group_by(subscriptions.c.guild_id)
        )
        post_stmt = (
            select(
                outbox.c.guild_id,
                func.sum(case((sent, 1), else_=0)).label("sent"),
                func.sum(case((failed, 1), else_=0)).label("failed"),
                func.sum(case((waiting, 1), else_=0)).label("waiting"),
                func.min(case((waiting, outbox.c.created_at), else_=None)).label("oldest"),
            )
            .where(or_(waiting, outbox.c.created_at >= since, outbox.c.sent_at >= since))
            .group_by(outbox.c.guild_id)
        )
        if guild_id is not None:
            feed_stmt = feed_stmt.where(subscriptions.c.guild_id == guild_id)
            post_stmt = post_stmt.where(outbox.c.guild_id == guild_id)
        async with self._db.session() as conn:
            feed_rows = (await conn.execute(feed_stmt)).all()
            post_rows = (await conn.execute(post_stmt)).all()
        return _merge(feed_rows, post_rows)


_POST_COLUMNS = (
    "id",
    "guild_id",
    "channel_id",
    "kind",
    "status",
    "attempts",
    "last_error",
    "created_at",
    "next_attempt_at",
    "sent_at",
)


def _merge(feed_rows: Sequence[Any], post_rows: Sequence[Any]) -> list[ServerFigures]:
    figures: dict[int | None, dict[str, Any]] = {}
    for row in feed_rows:
        paused, failing = int(row.paused or 0), int(row.failing or 0)
        figures.setdefault(row.guild_id, {}).update(
            feeds_active=row.total - paused - failing, feeds_failing=failing, feeds_paused=paused
        )
    for row in post_rows:
        oldest = row.oldest
        if isinstance(oldest, str):  # SQLite's MIN() over a CASE loses the column's type
            oldest = datetime.fromisoformat(oldest)
        figures.setdefault(row.guild_id, {}).update(
            posts_24h=int(row.sent or 0),
            failed_24h=int(row.failed or 0),
            waiting=int(row.waiting or 0),
            oldest_waiting_at=oldest,
        )
    order = sorted(figures, key=lambda g: (g is None, g or 0))
    return [ServerFigures(guild_id=g, **figures[g]) for g in order]
