"""Electing the one process that runs a singleton duty (digest firing, story assignment), with fencing.

Every candidate calls :meth:`Election.campaign` now and then (at least three times per term):
the holder renews its lease, the others find it held and stay idle. The lease is a row of
``service_leases`` (:mod:`bot.storage.leases`) owned by the process's instance id; it runs for
``term_s`` (the takeover bound, ``run.takeover_s``) and is free at once when the holder's
instance row expires. So a leader that dies (kill -9, a lost machine) is replaced within the
bound, and one that stops cleanly (:meth:`resign`) at the next campaign of another.

Fencing: a leader that paused past its term (a long GC, a stalled machine) may wake up after
another took over. Its writes run :meth:`Election.fence` first, in their own transaction: it
renews the lease only if this process still holds it *in the same term*, and on PostgreSQL locks
the lease row until the write commits, so a takeover cannot slip in between the check and the
write. A refused fence writes nothing (:class:`~bot.storage.leases.LeaseLost` from
:meth:`fenced`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.errors import StorageError
from bot.storage import leases
from bot.storage.database import Database
from bot.storage.leases import LeaseLost

__all__ = ["Election", "LeaseLost"]

log = logging.getLogger(__name__)


class Election:
    """Leadership of the duty ``name`` for the process ``owner`` (its instance id).

    Not safe to share between concurrent tasks of one process for campaigning (each duty runs
    its own loop); :meth:`fence` may be called from any of them.
    """

    def __init__(self, db: Database, name: str, owner: str, *, term_s: float) -> None:
        if term_s <= 0:
            raise ValueError("term_s must be positive")
        self.name = name
        self.owner = owner
        self.term_s = term_s
        self._db = db
        self._length = timedelta(seconds=term_s)
        self._term: int | None = None

    def __repr__(self) -> str:
        return f"Election({self.name!r}, owner={self.owner!r}, term={self._term})"

    @property
    def is_leader(self) -> bool:
        """Whether this process held the lease at its last campaign or fence."""
        return self._term is not None

    @property
    def term(self) -> int | None:
        """The term this process leads in (a new one each time the lease changed hands), or None."""
        return self._term

    @property
    def campaign_every_s(self) -> float:
        """How often to campaign so that a leader never lets its term lapse."""
        return self.term_s / 3

    async def campaign(self, now: datetime) -> bool:
        """Take the lease or renew it until ``now`` + ``term_s``; True if this process leads.

        Raises :class:`~bot.errors.StorageError` (this process then counts as not leading).
        """
        before = self._term
        try:
            async with self._db.session(write=True) as conn:
                term = await leases.take(conn, self.name, self.owner, now=now, until=now + self._length)
        except BaseException:
            self._term = None
            raise
        self._term = term
        if term is not None and term != before:
            log.info("%s: %s leads (term %d)", self.name, self.owner, term)
        elif term is None and before is not None:
            log.warning("%s: %s lost the lead (term %d) to another process", self.name, self.owner, before)
        return term is not None

    async def fence(self, conn: AsyncConnection, now: datetime, *, term: int | None = None) -> bool:
        """Check, in the caller's write transaction ``conn``, that this process still leads in
        ``term`` (by default its current one), renewing the lease; False if not, and the caller
        must write nothing.

        Work that spans campaigns (read, compute, then write) passes the term it started under
        (:attr:`term` when it started): if the lead was lost and won back meanwhile, another
        process may have written in between, and the write is refused.
        """
        term = self._term if term is None else term
        if term is None:
            return False
        if await leases.renew(conn, self.name, self.owner, now=now, until=now + self._length, term=term):
            return True
        if self._term == term:
            self._term = None
            log.warning("%s: %s no longer leads (term %d): write refused", self.name, self.owner, term)
        return False

    def fenced(
        self, now: datetime, *, term: int | None = None
    ) -> AbstractAsyncContextManager[AsyncConnection]:
        """``async with election.fenced(now) as conn:`` a write transaction that runs only while
        this process leads (in ``term``, see :meth:`fence`); raises :class:`LeaseLost`, nothing
        written, when it does not."""
        return self._fenced(now, term)

    @asynccontextmanager
    async def _fenced(self, now: datetime, term: int | None) -> AsyncIterator[AsyncConnection]:
        async with self._db.session(write=True) as conn:
            if not await self.fence(conn, now, term=term):
                raise LeaseLost(f"{self.owner} no longer leads {self.name}")
            yield conn

    async def resign(self) -> None:
        """Give the lease up (at stop) so another process takes over at its next campaign. Never
        raises: if the database fails, the lease runs out on its own (or when this instance's
        row expires)."""
        self._term = None
        try:
            async with self._db.session() as conn:
                await leases.release(conn, self.name, self.owner)
        except StorageError as e:
            log.warning("%s: %s could not resign: %s", self.name, self.owner, e)

    async def leader(self, now: datetime) -> tuple[str, int] | None:
        """Who leads at ``now`` and in which term (for status views); None if nobody."""
        async with self._db.session() as conn:
            return await leases.holder(conn, self.name, now=now)
