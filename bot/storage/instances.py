"""Which newsdesk processes are alive: one ``instances`` row each, kept fresh by a heartbeat.

A process registers under its instance id (``run.instance_id``, by default
:func:`default_instance_id`) with ``expires_at`` = now + the takeover bound (``run.takeover_s``),
and beats more often than that, moving ``expires_at`` on. Its leases (feeds, outbox rows,
singleton duties) are owned by that id. Once ``expires_at`` has passed (kill -9, a lost machine,
a process paused past the bound) the process is dead for the others: :mod:`bot.storage.leases`
treats every lease it owns as free, so its work moves within the bound rather than when its
leases run out. A live peer's row is never touched by another process starting.

Times are the callers' (``now``): the processes' clocks must agree to well under the bound (NTP).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, select, update

from bot.storage.database import Database
from bot.storage.instance_tables import instances
from bot.storage.schema import insert

__all__ = ["Instance", "InstanceStore", "default_instance_id"]

#: Room left for the host in a default id (run.instance_id allows 100 characters).
_MAX_HOST = 60
_default_ids: dict[int, str] = {}


def default_instance_id() -> str:
    """This process's default id: host, pid and start time, e.g. ``"myhost-1234-20261207T190102"``.

    The same for every call in one process (the time of the first call); a forked child gets its
    own. The time tells a restarted process from its previous life when the pid is reused (as in
    a container, where the bot is often pid 1).
    """
    pid = os.getpid()
    if pid not in _default_ids:
        host = "".join(c if c.isalnum() or c in ".-_" else "_" for c in socket.gethostname())
        started = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        _default_ids[pid] = f"{host[:_MAX_HOST] or 'host'}-{pid}-{started}"
    return _default_ids[pid]


@dataclass(frozen=True, slots=True)
class Instance:
    """A process as registered."""

    id: str
    host: str
    pid: int
    roles: tuple[str, ...]
    started_at: datetime
    heartbeat_at: datetime
    #: Dead from this time on (unless it beats again).
    expires_at: datetime

    def alive(self, now: datetime) -> bool:
        return self.expires_at > now


class InstanceStore:
    """The ``instances`` rows on a :class:`Database`. Every method may raise :class:`StorageError`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def register(
        self,
        instance_id: str,
        *,
        host: str,
        pid: int,
        roles: Sequence[str],
        now: datetime,
        expires_at: datetime,
    ) -> None:
        """Insert or replace the row of ``instance_id``, alive until ``expires_at``.

        Also revives a row declared dead (a process paused past the bound registers again);
        ``started_at`` is kept when host and pid are the same (the same process).
        """
        stmt = insert(self._db.dialect_name, instances).values(
            id=instance_id,
            host=host,
            pid=pid,
            roles=",".join(roles),
            started_at=now,
            heartbeat_at=now,
            expires_at=expires_at,
        )
        same_process = (instances.c.host == stmt.excluded.host) & (instances.c.pid == stmt.excluded.pid)
        stmt = stmt.on_conflict_do_update(
            index_elements=[instances.c.id],
            set_={
                "host": stmt.excluded.host,
                "pid": stmt.excluded.pid,
                "roles": stmt.excluded.roles,
                "started_at": case((same_process, instances.c.started_at), else_=stmt.excluded.started_at),
                "heartbeat_at": stmt.excluded.heartbeat_at,
                "expires_at": stmt.excluded.expires_at,
            },
        )
        async with self._db.session(write=True) as conn:
            await conn.execute(stmt)

    async def beat(self, instance_id: str, *, now: datetime, expires_at: datetime) -> bool:
        """Keep ``instance_id`` alive until ``expires_at``.

        False, changing nothing, if its row is gone (reaped) or already expired at ``now``: the
        others may have taken its leases over, so the caller logs it and registers again.
        """
        stmt = (
            update(instances)
            .where(instances.c.id == instance_id, instances.c.expires_at > now)
            .values(heartbeat_at=now, expires_at=expires_at)
        )
        async with self._db.session() as conn:
            return (await conn.execute(stmt)).rowcount > 0

    async def deregister(self, instance_id: str) -> None:
        """Mark ``instance_id`` dead as of its last beat (a clean stop).

        The row stays (for status views) until :meth:`reap`; any lease its process did not
        release is free for the others at once, as after a crash.
        """
        stmt = (
            update(instances).where(instances.c.id == instance_id).values(expires_at=instances.c.heartbeat_at)
        )
        async with self._db.session() as conn:
            await conn.execute(stmt)

    async def get(self, instance_id: str) -> Instance | None:
        """The row of ``instance_id``, alive or dead; None if there is none."""
        query = select(instances).where(instances.c.id == instance_id)
        async with self._db.session() as conn:
            row = (await conn.execute(query)).one_or_none()
        return None if row is None else _instance(row)

    async def live(self, now: datetime) -> list[Instance]:
        """The processes alive at ``now`` (``expires_at > now``), by id."""
        query = select(instances).where(instances.c.expires_at > now).order_by(instances.c.id)
        async with self._db.session() as conn:
            return [_instance(r) for r in await conn.execute(query)]

    async def reap(self, *, now: datetime, dead_for: timedelta) -> int:
        """Delete the rows of processes dead for longer than ``dead_for``; return how many.

        ``dead_for`` must be longer than any lease (a day, say): a lease whose owner has no row
        any more is free only when its ``lease_until`` passes.
        """
        stmt = delete(instances).where(instances.c.expires_at <= now - dead_for)
        async with self._db.session() as conn:
            return (await conn.execute(stmt)).rowcount


def _instance(row: Any) -> Instance:
    return Instance(
        id=row.id,
        host=row.host,
        pid=row.pid,
        roles=tuple(r for r in row.roles.split(",") if r),
        started_at=row.started_at,
        heartbeat_at=row.heartbeat_at,
        expires_at=row.expires_at,
    )
