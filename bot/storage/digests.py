"""The digests repository: each channel's digest schedule, and posting a digest with its period.

A digest's messages go into the outbox in the same transaction that moves its schedule on: a
compare-and-set on the due time read (:meth:`DigestStore.move_due`), so two processes or two ticks
racing on one schedule post it once, and a crash in between leaves it due. With several processes,
only the elected one fires digests (:class:`bot.election.Election`), and its writes are fenced: the
fence runs first in the same transaction, and a process that lost the lead writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update

from bot.digests.schedule import DigestSchedule
from bot.storage.database import Database
from bot.storage.digest_tables import digest_schedules
from bot.storage.leases import Fence, LeaseLost
from bot.storage.outbox import OutboxMessage, enqueue
from bot.storage.schema import insert


@dataclass(frozen=True, slots=True)
class DigestScheduleRow:
    """A channel's digest schedule as stored."""

    id: int
    guild_id: int | None
    channel_id: int
    schedule: DigestSchedule
    #: Stories in the digest (the top N).
    top_n: int
    next_due_at: datetime
    #: Start of the next digest's period (the end of the last one posted).
    last_posted_at: datetime | None
    created_by: int | None
    created_at: datetime
    #: ``active`` or ``paused``.
    status: str

    def describe(self) -> str:
        return f"{self.schedule.describe()}, top {self.top_n} stories"


@dataclass(frozen=True, slots=True)
class NewSchedule:
    """A schedule to set for a channel."""

    guild_id: int | None
    channel_id: int
    schedule: DigestSchedule
    top_n: int
    next_due_at: datetime
    #: Where a new schedule's first period starts (a replaced schedule keeps its own).
    first_period_start: datetime
    created_by: int | None
    created_at: datetime


class DigestStore:
    """Digest schedules on a :class:`Database`. Every method may raise :class:`StorageError`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def set_schedule(self, new: NewSchedule) -> DigestScheduleRow:
        """Set the channel's schedule, replacing any but keeping its ``last_posted_at``."""
        values = {
            "guild_id": new.guild_id,
            "channel_id": new.channel_id,
            **_schedule_columns(new.schedule),
            "top_n": new.top_n,
            "next_due_at": new.next_due_at,
            "last_posted_at": new.first_period_start,
            "created_by": new.created_by,
            "created_at": new.created_at,
            "status": "active",
        }
        stmt = insert(self._db.dialect_name, digest_schedules).values(**values)
        kept = ("channel_id", "last_posted_at")
        upsert = stmt.on_conflict_do_update(
            index_elements=[digest_schedules.c.channel_id],
            set_={
                **{name: stmt.excluded[name] for name in values if name not in kept},
                # Continuity: the next digest starts where the last one posted ended.
                "last_posted_at": digest_schedules.c.last_posted_at,
            },
        ).returning(*digest_schedules.c)
        async with self._db.session(write=True) as conn:
            return _row((await conn.execute(upsert)).one())

    async def get(self, channel_id: int) -> DigestScheduleRow | None:
        query = select(digest_schedules).where(digest_schedules.c.channel_id == channel_id)
        async with self._db.session() as conn:
            row = (await conn.execute(query)).one_or_none()
        return None if row is None else _row(row)

    async def for_guild(self, guild_id: int) -> list[DigestScheduleRow]:
        """The server's schedules, the soonest due first (for /newsdesk status)."""
        query = (
            select(digest_schedules)
            .where(digest_schedules.c.guild_id == guild_id)
            .order_by(digest_schedules.c.next_due_at, digest_schedules.c.id)
        )
        async with self._db.session() as conn:
            return [_row(r) for r in await conn.execute(query)]

    async def delete(self, channel_id: int) -> bool:
        """Remove the channel's schedule; False if it had none."""
        async with self._db.session() as conn:
            result = await conn.execute(
                delete(digest_schedules).where(digest_schedules.c.channel_id == channel_id)
            )
        return result.rowcount > 0

    async def earliest_due(self) -> datetime | None:
        """The earliest due time of any active schedule."""
        query = select(func.min(digest_schedules.c.next_due_at)).where(digest_schedules.c.status == "active")
        async with self._db.session() as conn:
            due: datetime | None = (await conn.execute(query)).scalar_one_or_none()
        return due

    async def due(self, now: datetime, *, limit: int) -> list[DigestScheduleRow]:
        """Active schedules due at ``now``, the earliest first."""
        query = (
            select(digest_schedules)
            .where(digest_schedules.c.status == "active", digest_schedules.c.next_due_at <= now)
            .order_by(digest_schedules.c.next_due_at, digest_schedules.c.id)
            .limit(limit)
        )
        async with self._db.session() as conn:
            return [_row(r) for r in await conn.execute(query)]

    async def post_now(
        self, schedule_id: int | None, messages: Sequence[OutboxMessage], *, now: datetime
    ) -> int:
        """Enqueue ``messages`` and restart the schedule's period (if any) at ``now``, in one
        transaction; returns how many messages were enqueued."""
        async with self._db.session(write=True) as conn:
            if schedule_id is not None:
                await conn.execute(
                    update(digest_schedules)
                    .where(digest_schedules.c.id == schedule_id)
                    .values(last_posted_at=now)
                )
            return await enqueue(conn, messages, now=now)

    async def move_due(
        self,
        row: DigestScheduleRow,
        new_due: datetime,
        *,
        posted_at: datetime | None,
        messages: Sequence[OutboxMessage],
        now: datetime,
        fence: Fence | None = None,
    ) -> int | None:
        """Move the schedule from ``row.next_due_at`` to ``new_due`` (and its period start to
        ``posted_at``, when given) and enqueue ``messages``, in one transaction.

        None, with nothing written, if the schedule is no longer active and due at
        ``row.next_due_at`` (another process or tick moved it first); else the messages enqueued.
        ``fence`` runs first in the transaction: :class:`LeaseLost`, nothing written, if it fails.
        """
        moved: dict[str, datetime] = {"next_due_at": new_due}
        if posted_at is not None:
            moved["last_posted_at"] = posted_at
        cas = (
            update(digest_schedules)
            .where(
                digest_schedules.c.id == row.id,
                digest_schedules.c.next_due_at == row.next_due_at,
                digest_schedules.c.status == "active",
            )
            .values(**moved)
        )
        async with self._db.session(write=True) as conn:
            if fence is not None and not await fence(conn):
                raise LeaseLost("the digest firing lead was lost; the schedule is left due")
            if (await conn.execute(cas)).rowcount == 0:
                return None
            return await enqueue(conn, messages, now=now) if messages else 0


def _schedule_columns(schedule: DigestSchedule) -> dict[str, Any]:
    return {
        "kind": schedule.kind,
        "hour": schedule.hour,
        "minute": schedule.minute,
        "day_of_week": schedule.day_of_week,
        "every_hours": schedule.every_hours,
        "timezone": schedule.timezone,
    }


def _row(r: Any) -> DigestScheduleRow:
    return DigestScheduleRow(
        id=r.id,
        guild_id=r.guild_id,
        channel_id=r.channel_id,
        schedule=DigestSchedule(
            kind=r.kind,
            hour=r.hour,
            minute=r.minute,
            day_of_week=r.day_of_week,
            every_hours=r.every_hours,
            timezone=r.timezone,
        ),
        top_n=r.top_n,
        next_due_at=r.next_due_at,
        last_posted_at=r.last_posted_at,
        created_by=r.created_by,
        created_at=r.created_at,
        status=r.status,
    )
