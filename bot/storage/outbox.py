"""The post outbox repository: messages written before they are sent.

Producers (feed polling, digests, alerts) call :func:`enqueue` inside their own
transaction, so "item seen" and "post queued" commit together. The dispatcher
(:mod:`bot.delivery.dispatcher`) then claims rows, sends them and marks them.

Order: a channel's rows go out strictly in id order, because only the oldest
pending row of a channel (its *head*) can be claimed; the next one becomes the
head once the previous one is sent or given up. Several dispatchers may share
one database: a claim takes a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
SQLite's single write lock otherwise), and a lease that expires (its process
died) makes the row claimable again; it is re-sent with the same nonce.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Select,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.delivery.destination import PLAIN, Destination
from bot.delivery.message import MessageSpec
from bot.delivery.policy import check_shard, nonce_for
from bot.ops import metrics
from bot.storage.database import Database, serialise_on
from bot.storage.leases import FREE, release_rows
from bot.storage.outbox_claim import IS_PENDING, claim_heads, claim_statement, claimable, mark_sent
from bot.storage.outbox_tables import outbox, outbox_holds
from bot.storage.schema import insert

log = logging.getLogger(__name__)

#: What producers may enqueue.
KINDS = frozenset({"feed_item", "digest", "alert", "notice"})
#: Rows per INSERT statement (SQLite allows 32,766 bound parameters per statement).
_CHUNK = 500
#: Namespace of the per-channel advisory locks taken by :func:`enqueue` on PostgreSQL.
_ENQUEUE_LOCK_SPACE = 0x6E64_6F62  # "ndob"

PENDING, SENT, FAILED, CANCELLED = "pending", "sent", "failed", "cancelled"
#: Longest error text kept in ``last_error``.
_ERROR_LIMIT = 1000


@dataclass(frozen=True)
class OutboxMessage:
    """A message to post, as a producer hands it to :func:`enqueue`."""

    channel_id: int
    #: None for a DM channel.
    guild_id: int | None
    #: "feed_item" | "digest" | "alert" | "notice".
    kind: str
    #: Unique across the outbox: enqueueing the same key twice is a no-op
    #: (e.g. ``f"feed:{subscription_id}:{item_id}"``).
    dedup_key: str
    spec: MessageSpec
    #: How the message goes out in its channel (webhook, thread, an edit); plain by default.
    destination: Destination = PLAIN


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One row of the outbox, as the dispatcher and status commands see it."""

    id: int
    channel_id: int
    guild_id: int | None
    kind: str
    dedup_key: str
    #: MessageSpec.to_dict(), decoded by :meth:`message_spec`.
    spec_data: Any
    #: "pending" | "sent" | "failed" | "cancelled".
    status: str
    #: Sends tried so far, this one included when the row was just claimed.
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime
    lease_owner: str | None
    lease_until: datetime | None
    sent_at: datetime | None
    #: The Discord message, once sent.
    message_id: int | None
    #: Destination.to_json(), decoded by :meth:`message_destination`.
    destination_data: Any = None

    @property
    def nonce(self) -> str:
        """The Discord nonce: the same for every attempt at this row."""
        return nonce_for(self.id, self.dedup_key)

    def message_spec(self) -> MessageSpec:
        """The message to post. Raises ValueError if the stored spec does not decode."""
        try:
            return MessageSpec.from_dict(self.spec_data)
        except (TypeError, ValueError, KeyError, AttributeError) as e:
            raise ValueError(f"undecodable message spec: {e}") from e

    def message_destination(self) -> Destination:
        """How the message goes out. Raises ValueError if the stored destination does not decode."""
        return Destination.from_json(self.destination_data)


@dataclass(frozen=True, slots=True)
class ChannelHold:
    """A channel the bot could not post to; its rows wait until it is released."""

    channel_id: int
    reason: str
    held_at: datetime


async def enqueue(conn: AsyncConnection, messages: Sequence[OutboxMessage], *, now: datetime) -> int:
    """Queue ``messages`` inside the caller's transaction; return how many rows were inserted.

    A message whose ``dedup_key`` is already in the outbox (or earlier in
    ``messages``) is skipped. Rows get increasing ids in the order given, and a
    channel's rows are delivered in id order. On PostgreSQL the transaction
    takes a lock per channel until it ends, so concurrent producers commit a
    channel's rows in id order too (otherwise a later id could be visible, and
    sent, before an earlier one commits). Raises ValueError for an unknown kind,
    an empty dedup key or a naive ``now``; StorageError comes from the caller's
    session.
    """
    _require_aware("now", now)
    rows: list[dict[str, Any]] = []
    keys: set[str] = set()
    for message in messages:
        if message.kind not in KINDS:
            raise ValueError(f"unknown outbox kind {message.kind!r} (one of {sorted(KINDS)})")
        if not message.dedup_key:
            raise ValueError("an outbox message needs a dedup_key")
        if message.dedup_key in keys:
            continue
        keys.add(message.dedup_key)
        rows.append(
            {
                "channel_id": message.channel_id,
                "guild_id": message.guild_id,
                "kind": message.kind,
                "dedup_key": message.dedup_key,
                "spec": message.spec.to_dict(),
                "destination": message.destination.to_json(),
                "status": PENDING,
                "attempts": 0,
                "created_at": now,
                "next_attempt_at": now,
            }
        )
    if not rows:
        return 0
    dialect = conn.dialect.name
    # Sorted, so two producers locking overlapping channels cannot deadlock.
    for channel_id in sorted({row["channel_id"] for row in rows}):
        await serialise_on(conn, _ENQUEUE_LOCK_SPACE, channel_id)
    inserted = 0
    for start in range(0, len(rows), _CHUNK):
        # One statement per dialect, executed with many parameter sets: SQLAlchemy compiles it
        # once and batches the rows itself ("insertmanyvalues"), in the order given.
        result = await conn.execute(_insert_statement(dialect), rows[start : start + _CHUNK])
        kinds = result.scalars().all()
        metrics.posts_queued(kinds)
        inserted += len(kinds)
    return inserted


@functools.cache
def _insert_statement(dialect: str) -> Any:
    stmt = insert(dialect, outbox).on_conflict_do_nothing(index_elements=[outbox.c.dedup_key])
    return stmt.returning(outbox.c.kind)  # counted by kind


class OutboxStore:
    """The outbox on a :class:`Database`; used by the dispatcher and status commands.

    Every method may raise :class:`~bot.errors.StorageError`, and ValueError for
    a naive datetime.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    @property
    def dialect_name(self) -> str:
        return self._db.dialect_name

    # --- producers --------------------------------------------------------------

    async def enqueue(self, messages: Sequence[OutboxMessage], *, now: datetime) -> int:
        """:func:`enqueue` in a transaction of its own. Called by producers with nothing else to commit."""
        async with self._db.session(write=True) as conn:
            return await enqueue(conn, messages, now=now)

    # --- dispatcher -------------------------------------------------------------

    async def claim(
        self,
        *,
        owner: str,
        now: datetime,
        lease: timedelta,
        limit: int,
        shard: tuple[int, int] | None = None,
        channel_id: int | None = None,
        exclude_channels: Iterable[int] = (),
    ) -> list[OutboxRow]:
        """Lease up to ``limit`` channel heads that are due, oldest first; count an attempt on each.

        A head is a channel's oldest pending row; it is claimable when its
        ``next_attempt_at`` has come, nobody holds an unexpired lease on it and
        the channel is not held. ``channel_id`` restricts the claim to one
        channel (a worker taking its channel's next row), ``exclude_channels``
        skips channels this process is already working on, ``shard`` keeps
        ``(shard_id, shard_count)``'s guilds. Called by the dispatcher.
        """
        _require_aware("now", now)
        if limit <= 0:
            return []
        query = self._claim_query(
            now=now, limit=limit, shard=shard, channel_id=channel_id, exclude=exclude_channels
        )
        async with self._db.session(write=True) as conn:
            return await _claim_rows(conn, query, owner=owner, now=now, lease=lease)

    async def mark_sent_and_claim_next(
        self, row_id: int, channel_id: int, *, message_id: int, owner: str, now: datetime, lease: timedelta
    ) -> OutboxRow | None:
        """:meth:`mark_sent`, then claim ``channel_id``'s next row if it is due, in one transaction.

        One database round per message for a dispatcher worker going through a
        channel's backlog, instead of two.
        """
        _require_aware("now", now)
        query = self._claim_query(now=now, limit=1, shard=None, channel_id=channel_id, exclude=())
        async with self._db.session(write=True) as conn:
            await conn.execute(mark_sent(row_id, message_id=message_id, now=now))
            rows = await _claim_rows(conn, query, owner=owner, now=now, lease=lease)
        return rows[0] if rows else None

    def _claim_query(
        self,
        *,
        now: datetime,
        limit: int,
        shard: tuple[int, int] | None,
        channel_id: int | None,
        exclude: Iterable[int],
    ) -> tuple[Select[tuple[int]], dict[str, Any]]:
        excluded = sorted(set(exclude))
        query = claim_statement(self.dialect_name, check_shard(shard), channel_id is not None, bool(excluded))
        params: dict[str, Any] = {"now": now, "limit": limit, "channel_id": channel_id, "excluded": excluded}
        return query, params

    async def mark_sent(self, row_id: int, *, message_id: int, now: datetime) -> bool:
        """Record that row ``row_id`` was posted as ``message_id``; False if it was not pending.

        Not conditional on the lease: if two dispatchers sent it (one's lease
        expired), both got the same message back thanks to the nonce.
        """
        _require_aware("now", now)
        async with self._db.session() as conn:
            return (await conn.execute(mark_sent(row_id, message_id=message_id, now=now))).rowcount > 0

    async def mark_retry(self, row_id: int, *, owner: str, error: str, retry_at: datetime) -> bool:
        """Give the row back, due again at ``retry_at``, with ``error`` recorded.

        Only by the lease's owner: a dispatcher whose lease expired must not
        unlock a row another one is sending. False if not pending or not ours.
        """
        _require_aware("retry_at", retry_at)
        stmt = (
            update(outbox)
            .where(outbox.c.id == row_id, IS_PENDING, outbox.c.lease_owner == owner)
            .values(next_attempt_at=retry_at, last_error=_clip(error), **FREE)
        )
        async with self._db.session() as conn:
            return (await conn.execute(stmt)).rowcount > 0

    async def mark_failed(self, row_id: int, *, owner: str, error: str) -> bool:
        """Give the row up (Discord refused its content): never retried, and no longer blocks its channel."""
        stmt = (
            update(outbox)
            .where(outbox.c.id == row_id, IS_PENDING, outbox.c.lease_owner == owner)
            .values(status=FAILED, last_error=_clip(error), **FREE)
        )
        async with self._db.session() as conn:
            return (await conn.execute(stmt)).rowcount > 0

    async def release_leases(self, owner: str) -> int:
        """Free every row leased by ``owner``; return how many.

        Called by a dispatcher when it stops, and when it starts under a stable
        owner name (the leases are its previous life's: it crashed). Their rows
        are re-sent at once, with the same nonce.
        """
        async with self._db.session() as conn:
            return (await conn.execute(release_rows(outbox, owner, IS_PENDING))).rowcount

    async def due_count(self, *, now: datetime, shard: tuple[int, int] | None = None) -> int:
        """How many channel heads :meth:`claim` would take now (used by ``drain``)."""
        _require_aware("now", now)
        query = select(func.count()).select_from(claimable(check_shard(shard)).subquery())
        async with self._db.session() as conn:
            return (await conn.execute(query, {"now": now})).scalar_one()

    # --- held channels ----------------------------------------------------------

    async def hold_channel(self, channel_id: int, *, reason: str, now: datetime) -> bool:
        """Stop delivering to ``channel_id``; its rows stay pending. True if it was not held already."""
        _require_aware("now", now)
        stmt = insert(self.dialect_name, outbox_holds).values(
            channel_id=channel_id, reason=_clip(reason), held_at=now
        )
        stmt = stmt.on_conflict_do_nothing(index_elements=[outbox_holds.c.channel_id])
        async with self._db.session() as conn:
            return (await conn.execute(stmt)).rowcount > 0

    async def release_channel(self, channel_id: int) -> bool:
        """Resume delivery to ``channel_id`` (access is back); True if it was held.

        Called when the channel's subscriptions are resumed; tell the dispatcher
        (:meth:`~bot.delivery.dispatcher.OutboxDispatcher.notify`) afterwards.
        """
        async with self._db.session() as conn:
            result = await conn.execute(delete(outbox_holds).where(outbox_holds.c.channel_id == channel_id))
        return result.rowcount > 0

    async def held_channels(self) -> list[ChannelHold]:
        """Every held channel, oldest hold first. Called by status commands."""
        query = select(outbox_holds).order_by(outbox_holds.c.held_at, outbox_holds.c.channel_id)
        async with self._db.session() as conn:
            return [ChannelHold(r.channel_id, r.reason, r.held_at) for r in await conn.execute(query)]

    async def cancel_guild(self, guild_id: int, *, reason: str) -> int:
        """Give up the pending rows of ``guild_id``'s channels (the bot was removed); return how many."""
        stmt = (
            update(outbox)
            .where(outbox.c.guild_id == guild_id, IS_PENDING)
            .values(status=CANCELLED, last_error=_clip(reason), **FREE)
        )
        async with self._db.session() as conn:
            return (await conn.execute(stmt)).rowcount

    # --- status and maintenance -------------------------------------------------

    async def get(self, row_id: int) -> OutboxRow | None:
        async with self._db.session() as conn:
            row = (await conn.execute(select(outbox).where(outbox.c.id == row_id))).mappings().one_or_none()
        return None if row is None else _row(row)

    async def get_by_dedup_key(self, dedup_key: str) -> OutboxRow | None:
        query = select(outbox).where(outbox.c.dedup_key == dedup_key)
        async with self._db.session() as conn:
            row = (await conn.execute(query)).mappings().one_or_none()
        return None if row is None else _row(row)

    async def rows(
        self, *, channel_id: int | None = None, status: str | None = None, limit: int = 100
    ) -> list[OutboxRow]:
        """Rows in id order, optionally of one channel and/or status. For status commands and tests."""
        query = select(outbox).order_by(outbox.c.id).limit(limit)
        if channel_id is not None:
            query = query.where(outbox.c.channel_id == channel_id)
        if status is not None:
            query = query.where(outbox.c.status == status)
        async with self._db.session() as conn:
            return [_row(r) for r in (await conn.execute(query)).mappings()]

    async def pending_count(self, *, channel_id: int | None = None, guild_id: int | None = None) -> int:
        """Rows still to send (held channels included), optionally of one channel or guild."""
        query = select(func.count()).select_from(outbox).where(IS_PENDING)
        if channel_id is not None:
            query = query.where(outbox.c.channel_id == channel_id)
        if guild_id is not None:
            query = query.where(outbox.c.guild_id == guild_id)
        async with self._db.session() as conn:
            return (await conn.execute(query)).scalar_one()

    async def purge(self, *, older_than: datetime) -> int:
        """Delete sent, failed and cancelled rows created before ``older_than``; return how many.

        Keep them at least as long as producers may enqueue the same dedup key
        again (a feed re-listing an old item), or it would be posted twice.
        """
        _require_aware("older_than", older_than)
        stmt = delete(outbox).where(
            outbox.c.status.in_([SENT, FAILED, CANCELLED]), outbox.c.created_at < older_than
        )
        async with self._db.session() as conn:
            return (await conn.execute(stmt)).rowcount


async def _claim_rows(
    conn: AsyncConnection,
    query: tuple[Select[tuple[int]], dict[str, Any]],
    *,
    owner: str,
    now: datetime,
    lease: timedelta,
) -> list[OutboxRow]:
    rows = await claim_heads(conn, *query, owner=owner, until=now + lease)
    return [_row(r) for r in rows]


def _row(r: RowMapping) -> OutboxRow:
    return OutboxRow(
        id=r["id"],
        channel_id=r["channel_id"],
        guild_id=r["guild_id"],
        kind=r["kind"],
        dedup_key=r["dedup_key"],
        spec_data=r["spec"],
        status=r["status"],
        attempts=r["attempts"],
        last_error=r["last_error"],
        created_at=r["created_at"],
        next_attempt_at=r["next_attempt_at"],
        lease_owner=r["lease_owner"],
        lease_until=r["lease_until"],
        sent_at=r["sent_at"],
        message_id=r["message_id"],
        destination_data=r["destination"],
    )


def _clip(text_: str) -> str:
    return text_ if len(text_) <= _ERROR_LIMIT else text_[: _ERROR_LIMIT - 1] + "…"


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")
