"""Leases: which process holds a row or a singleton job, and until when.

Several processes may share one database; a lease keeps two of them from doing the same work.
One rule for every lease: it names its ``owner`` and ends at ``lease_until``; it is free when
it has no end or its end has passed, so the work of a process that died comes back by itself,
and an owner that restarts under the same name releases its old leases at once. Owners are
always the caller's parameter (each process names itself), never chosen here.

Two kinds, one module:

- **row leases**, on the rows of a table with ``lease_owner`` and ``lease_until`` columns: the
  feeds a poller is checking, the outbox rows a dispatcher is sending. A claim selects rows
  where :func:`is_free` holds (:func:`skip_locked`, so that concurrent claimers on PostgreSQL take
  disjoint rows; SQLite's write lock serialises claims), sets :func:`held_by`, and the work's
  own write sets :data:`FREE`; :func:`release_rows` frees what an owner still holds.
- **named leases**, one row of ``service_leases`` per singleton job (the story assigner):
  :func:`acquire`, :func:`renew` (the *fence* a write checks in its own transaction, so a
  process that paused past its lease writes nothing) and :func:`release`.

The SQL is the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, Table, Update, or_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.storage.schema import insert
from bot.storage.story_tables import service_leases

__all__ = ["FREE", "acquire", "held_by", "is_free", "release", "release_rows", "renew", "skip_locked"]

_S = TypeVar("_S", bound=Select[Any])

#: The values that release a row lease.
FREE: Mapping[str, None] = {"lease_owner": None, "lease_until": None}


# --- row leases ------------------------------------------------------------------------------


def is_free(table: Table, now: Any) -> ColumnElement[bool]:
    """The rows of ``table`` nobody holds at ``now`` (a datetime or a bound parameter)."""
    return or_(table.c.lease_until.is_(None), table.c.lease_until <= now)


def held_by(owner: str | None, until: datetime) -> dict[str, Any]:
    """The values that lease a row to ``owner`` until ``until``."""
    return {"lease_owner": owner, "lease_until": until}


def skip_locked(query: _S, of: Table | None = None) -> _S:
    """``query`` skipping the rows another claimer has locked (PostgreSQL), not waiting for them.

    SQLite ignores it: its single write lock already serialises claims.
    """
    return query.with_for_update(skip_locked=True, of=of)


def release_rows(table: Table, owner: str, *where: ColumnElement[bool]) -> Update:
    """Free every row of ``table`` that ``owner`` holds (and matches ``where``).

    Run by an owner when it stops, and when it starts under a stable name (the leases are its
    previous life's: it crashed); the rowcount says how many were freed.
    """
    return update(table).where(table.c.lease_owner == owner, *where).values(**FREE)


# --- named leases ----------------------------------------------------------------------------


async def acquire(conn: AsyncConnection, name: str, owner: str, *, now: datetime, until: datetime) -> bool:
    """Take or renew the lease ``name`` for ``owner`` until ``until``; False if another holds it."""
    await conn.execute(
        insert(conn.dialect.name, service_leases)
        .values(name=name, owner=None, lease_until=None)
        .on_conflict_do_nothing(index_elements=[service_leases.c.name])
    )
    stmt = (
        update(service_leases)
        .where(
            service_leases.c.name == name,
            or_(
                service_leases.c.owner == owner,
                service_leases.c.owner.is_(None),
                is_free(service_leases, now),
            ),
        )
        .values(owner=owner, lease_until=until)
    )
    return (await conn.execute(stmt)).rowcount > 0


async def renew(conn: AsyncConnection, name: str, owner: str, *, now: datetime, until: datetime) -> bool:
    """Extend ``owner``'s lease ``name`` to ``until`` if it still holds it at ``now``; else False.

    The fence of a write: run it first in the write's transaction and write nothing when it
    returns False (another process took over).
    """
    stmt = (
        update(service_leases)
        .where(
            service_leases.c.name == name,
            service_leases.c.owner == owner,
            service_leases.c.lease_until > now,
        )
        .values(lease_until=until)
    )
    return (await conn.execute(stmt)).rowcount > 0


async def release(conn: AsyncConnection, name: str, owner: str) -> bool:
    """Give the lease ``name`` up (at stop), so another process may take over at once."""
    stmt = (
        update(service_leases)
        .where(service_leases.c.name == name, service_leases.c.owner == owner)
        .values(owner=None, lease_until=None)
    )
    return (await conn.execute(stmt)).rowcount > 0
