"""This process's presence in the shared database: its instance row and heartbeat.

Every long-running process (``newsdesk run``, whatever its roles) registers under its instance
id, beats every third of ``run.takeover_s`` and deregisters when it stops. A process whose row
expires (kill -9, a lost machine) is dead for the others: they take over its feed and outbox
leases and its singleton duties (:mod:`bot.storage.leases`).

SQLite is for one process: a second process on the same SQLite file is refused at start, unless
the live-looking row is this host's and its pid is gone (the previous life of a bot restarted
after a crash, which must not wait for the row to expire).

The beat also touches ``health.heartbeat_file`` (what ``newsdesk health`` and the Docker
HEALTHCHECK read) while ``healthy()`` says so: a gateway process is healthy while connected, a
worker while its beats reach the database.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from bot.background import BackgroundLoop
from bot.errors import ConfigError
from bot.storage import Database
from bot.storage.instances import Instance, InstanceStore

log = logging.getLogger(__name__)

#: Rows of processes dead this long are deleted (kept a while for the status views).
FORGET_DEAD_AFTER = timedelta(days=1)


class Presence:
    """Registers ``instance_id`` and keeps its heartbeat until :meth:`leave`."""

    def __init__(
        self,
        db: Database,
        instance_id: str,
        roles: Sequence[str],
        *,
        clock: Callable[[], datetime],
        takeover_s: float,
        heartbeat_file: str | None = None,
        healthy: Callable[[], bool] | None = None,
    ) -> None:
        self.instance_id = instance_id
        self.roles = tuple(roles)
        self._db = db
        self._store = InstanceStore(db)
        self._clock = clock
        self._takeover = timedelta(seconds=takeover_s)
        self._heartbeat_file = Path(heartbeat_file) if heartbeat_file else None
        self._healthy = healthy or (lambda: True)
        self._host = socket.gethostname()
        self._pid = os.getpid()
        self._loop = BackgroundLoop("heartbeat", self._beat, interval_s=takeover_s / 3, logger=log)
        self._joined = False
        # time.monotonic() of the last heartbeat that reached the database (/readyz reads it).
        self.last_beat: float | None = None

    @property
    def store(self) -> InstanceStore:
        return self._store

    @property
    def joined(self) -> bool:
        return self._joined

    def beat_age_s(self) -> float | None:
        """Seconds since the last heartbeat reached the database; None before the first."""
        return None if self.last_beat is None else time.monotonic() - self.last_beat

    async def join(self) -> None:
        """Register this process and start beating. Raises ConfigError when SQLite is already used
        by another live process, or a live process keeps beating under this instance id.
        """
        await self._wait_for_own_id()
        now = self._clock()
        others = [i for i in await self._store.live(now) if i.id != self.instance_id]
        if others and self._db.dialect_name == "sqlite":
            others = await self._without_previous_lives(others)
        if others and self._db.dialect_name == "sqlite":
            other = others[0]
            raise ConfigError(
                f"another newsdesk process (host {other.host}, pid {other.pid}, roles "
                f"{','.join(other.roles)}) is using this SQLite database; SQLite is for one process. "
                "Stop it, or use PostgreSQL (database.url) to run several processes",
                key="database.url",
            )
        await self._register(now)
        self._joined = True
        self._loop.start()
        log.info("joined instance=%s roles=%s", self.instance_id, ",".join(self.roles))

    async def leave(self) -> None:
        """Stop beating and mark the row dead (whatever this process still leases is free at
        once; the row itself is reaped a day later)."""
        await self._loop.close()
        if not self._joined:
            return
        self._joined = False
        try:
            await self._store.deregister(self.instance_id)
        except Exception as e:
            # The row expires on its own within run.takeover_s.
            log.warning("could not deregister instance=%s: %s", self.instance_id, e)

    async def live_instances(self) -> list[Instance]:
        return await self._store.live(self._clock())

    async def _wait_for_own_id(self) -> None:
        """A live row under this process's id (a stable ``run.instance_id``) is either this
        process before a crash, whose row expires within the takeover bound, or a live peer
        misconfigured with the same id, which keeps beating: wait out the bound, then refuse.
        """
        deadline = time.monotonic() + self._takeover.total_seconds() + 1
        while (row := await self._store.get(self.instance_id)) is not None and row.alive(self._clock()):
            if await self._previous_life_declared_dead(row):
                return
            if time.monotonic() >= deadline:
                raise ConfigError(
                    f"another live process already runs as run.instance_id={self.instance_id!r} "
                    f"(host {row.host}, pid {row.pid}): give each process its own id",
                    key="run.instance_id",
                )
            log.info("instance=%s: its row is alive; waiting for it to expire", self.instance_id)
            await asyncio.sleep(min(1.0, self._takeover.total_seconds() / 10))

    async def _without_previous_lives(self, others: list[Instance]) -> list[Instance]:
        return [i for i in others if not await self._previous_life_declared_dead(i)]

    async def _previous_life_declared_dead(self, instance: Instance) -> bool:
        """On SQLite, where one process is all there may be: a live-looking row of this host whose
        pid is gone (or is this process's own, in a restarted container) is this bot before a
        crash, declared dead at once so that its leases come back now. On PostgreSQL rows expire
        on their own within the bound: there, two live processes on one host may share a pid
        (host networking, each in its own pid namespace) and must not declare each other dead.
        """
        if self._db.dialect_name != "sqlite" or instance.host != self._host:
            return False
        if instance.pid != self._pid and _pid_alive(instance.pid):
            return False
        await self._store.deregister(instance.id)
        log.info("instance=%s (pid %d) died; taking its work over", instance.id, instance.pid)
        return True

    async def _register(self, now: datetime) -> None:
        await self._store.register(
            self.instance_id,
            host=self._host,
            pid=self._pid,
            roles=self.roles,
            now=now,
            expires_at=now + self._takeover,
        )
        self.last_beat = time.monotonic()

    async def _beat(self) -> None:
        now = self._clock()
        if not await self._store.beat(self.instance_id, now=now, expires_at=now + self._takeover):
            # Reaped while this process was paused for longer than the takeover bound: its
            # leases may have moved; it goes on as a new member.
            log.warning("instance=%s was declared dead; registering again", self.instance_id)
            await self._register(now)
        self.last_beat = time.monotonic()
        if self._healthy():
            self.touch_heartbeat_file()
        await self._store.reap(now=now, dead_for=FORGET_DEAD_AFTER)

    def touch_heartbeat_file(self) -> None:
        if self._heartbeat_file is None:
            return
        try:
            self._heartbeat_file.parent.mkdir(parents=True, exist_ok=True)
            self._heartbeat_file.write_text(str(int(time.time())), encoding="ascii")
        except OSError as e:
            log.warning("cannot write heartbeat file %s: %s", self._heartbeat_file, e)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True
