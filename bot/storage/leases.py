"""Leases: which process holds a row or a singleton job, and until when.

Several processes may share one database; a lease keeps two of them from doing the same work.
A lease names its ``owner`` (the process's instance id, :mod:`bot.storage.instances`) and ends
at ``lease_until``. It is **free** at ``now`` when

- it has no end, or its end has passed (``lease_until <= now``); or
- its owner is a process whose ``instances`` row has expired (``expires_at <= now``): the
  process died (kill -9, a lost machine) or stopped, and its work comes back within the takeover
  bound (``run.takeover_s``, the heartbeat's expiry), not when its leases run out.

An owner with no ``instances`` row (a name that never registered, or a row reaped long after its
process died) keeps the first rule only. A live peer's leases are free only when they run out:
a process starting under a new id frees nothing of theirs. Owners are always the caller's
parameter, never chosen here.

Two kinds, one module:

- **row leases**, on the rows of a table with ``lease_owner`` and ``lease_until`` columns: the
  feeds a poller is checking, the outbox rows a dispatcher is sending. A claim selects rows
  where :func:`is_free` holds (:func:`skip_locked`, so that concurrent claimers on PostgreSQL take
  disjoint rows; SQLite's write lock serialises claims), sets :func:`held_by`, and the work's
  own write sets :data:`FREE`; :func:`release_rows` frees what an owner still holds.
- **named leases**, one row of ``service_leases`` per singleton job (story assigner, digests):
  :func:`take` / :func:`acquire`, :func:`renew` (the *fence* a write runs first in its own
  transaction, so a stale holder writes nothing) and :func:`release`. Each lease has a **term**,
  one more each time it changes hands (a fencing token): a holder that lost the lease and took it
  again has a new term, so the writes it started under the old one are refused too.
  :class:`bot.election.Election` wraps them.

The SQL is the same on SQLite and PostgreSQL. The dead owners are an uncorrelated subquery
(``lease_owner IN (SELECT id FROM instances WHERE expires_at <= now)``): PostgreSQL hashes it
once per statement and SQLite materialises it once, so a claim still walks its own index and
pays one hash probe per leased row it meets.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Column, ColumnElement, Select, Table, Update, case, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.storage.instance_tables import instances
from bot.storage.schema import insert
from bot.storage.story_tables import service_leases

__all__ = [
    "FREE",
    "Fence",
    "LeaseLost",
    "acquire",
    "dead_owners",
    "held_by",
    "holder",
    "is_free",
    "release",
    "release_rows",
    "renew",
    "skip_locked",
    "take",
]

_S = TypeVar("_S", bound=Select[Any])

#: The values that release a row lease.
FREE: Mapping[str, None] = {"lease_owner": None, "lease_until": None}

#: A check a write runs first in its own transaction: True if the writer still holds its lease
#: (e.g. ``lambda conn: election.fence(conn, now)``).
Fence = Callable[[AsyncConnection], Awaitable[bool]]


class LeaseLost(Exception):
    """A fenced write was refused: the writer no longer holds the lease it writes under."""


def dead_owners(now: Any) -> Select[tuple[str]]:
    """The instance ids of the processes dead at ``now`` (a datetime or a bound parameter)."""
    return select(instances.c.id).where(instances.c.expires_at <= now)


def _owner(table: Table) -> Column[Any]:
    return table.c.lease_owner if "lease_owner" in table.c else table.c.owner


def is_free(table: Table, now: Any) -> ColumnElement[bool]:
    """The rows of ``table`` nobody holds at ``now`` (a datetime or a bound parameter): no lease,
    a lease that ran out, or one whose owner is dead (see the module docstring)."""
    return or_(
        table.c.lease_until.is_(None),
        table.c.lease_until <= now,
        _owner(table).in_(dead_owners(now)),
    )


# --- row leases ------------------------------------------------------------------------------


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


def _alive(owner: str, now: datetime) -> ColumnElement[bool]:
    # A process the others hold dead takes and renews nothing until it registers again.
    return ~exists().where(instances.c.id == owner, instances.c.expires_at <= now)


async def take(conn: AsyncConnection, name: str, owner: str, *, now: datetime, until: datetime) -> int | None:
    """Take or renew the lease ``name`` for ``owner`` until ``until``; return its term, or None
    if another process holds it (or ``owner`` is registered and dead).

    The term goes up by one when the lease changes hands (from another owner or from nobody);
    renewing keeps it.
    """
    await conn.execute(
        insert(conn.dialect.name, service_leases)
        .values(name=name, owner=None, lease_until=None, term=0)
        .on_conflict_do_nothing(index_elements=[service_leases.c.name])
    )
    ours = service_leases.c.owner == owner
    stmt = (
        update(service_leases)
        .where(service_leases.c.name == name, or_(ours, is_free(service_leases, now)), _alive(owner, now))
        .values(
            owner=owner,
            lease_until=until,
            term=case((ours, service_leases.c.term), else_=service_leases.c.term + 1),
        )
        .returning(service_leases.c.term)
    )
    term: int | None = (await conn.execute(stmt)).scalar_one_or_none()
    return term


async def acquire(conn: AsyncConnection, name: str, owner: str, *, now: datetime, until: datetime) -> bool:
    """Take or renew the lease ``name`` for ``owner`` until ``until``; False if another holds it."""
    return await take(conn, name, owner, now=now, until=until) is not None


async def renew(
    conn: AsyncConnection, name: str, owner: str, *, now: datetime, until: datetime, term: int | None = None
) -> bool:
    """Extend ``owner``'s lease ``name`` to ``until`` if it still holds it at ``now`` (in ``term``,
    when given); else False.

    The fence of a write: run it first in the write's transaction and write nothing when it
    returns False (another process took over, or ``owner`` is held dead). On PostgreSQL the
    update also locks the lease row until the write commits, so a takeover waits for the write
    and decides on the committed row: the write and the takeover cannot interleave.
    """
    conditions = [
        service_leases.c.name == name,
        service_leases.c.owner == owner,
        ~is_free(service_leases, now),
    ]
    if term is not None:
        conditions.append(service_leases.c.term == term)
    stmt = update(service_leases).where(*conditions).values(lease_until=until)
    return (await conn.execute(stmt)).rowcount > 0


async def release(conn: AsyncConnection, name: str, owner: str) -> bool:
    """Give the lease ``name`` up (at stop), so another process may take over at once."""
    stmt = (
        update(service_leases)
        .where(service_leases.c.name == name, service_leases.c.owner == owner)
        .values(owner=None, lease_until=None)
    )
    return (await conn.execute(stmt)).rowcount > 0


async def holder(conn: AsyncConnection, name: str, *, now: datetime) -> tuple[str, int] | None:
    """Who holds the lease ``name`` at ``now``, and in which term; None if it is free."""
    query = select(service_leases.c.owner, service_leases.c.term).where(
        service_leases.c.name == name, ~is_free(service_leases, now)
    )
    row = (await conn.execute(query)).one_or_none()
    return None if row is None else (row.owner, row.term)
