"""Gateway sharding: which shards this process runs, and IDENTIFYs within Discord's limit.

A gateway process runs ``discord.shard_ids`` of ``discord.shard_count`` shards (discord.py's
``AutoShardedBot``, :func:`shard_options`); without them, it runs every shard of the count
Discord recommends. Several such processes, on one machine or many, share one bot.

Discord lets a bot start ``session_start_limit.max_concurrency`` sessions per 5 seconds: one
per *rate-limit key* ``shard_id % max_concurrency``; an IDENTIFY that comes too early is
answered with op 9 Invalid Session and costs one of the day's session starts. discord.py knows
nothing of other processes (its default ``before_identify_hook`` sleeps 5 s between the shards
of one process, and it never reads ``max_concurrency``), so the processes coordinate through
the database: before each IDENTIFY a shard takes the named lease ``identify:{key}``
(``service_leases``, :mod:`bot.storage.leases`) and waits while another shard holds it. The
lease is held until 5 s after the IDENTIFY was sent (plus a little slack), measured by the
database's clock on PostgreSQL, so shards on machines whose clocks differ still keep apart.

:class:`Sharding` is what ``NewsdeskBot`` uses: :meth:`Sharding.prepare` before the shards are
launched (it reads ``/gateway/bot`` once: the recommended count when none is set, the gateway
URL and ``max_concurrency``), :meth:`Sharding.before_identify` from ``before_identify_hook``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import discord
import yarl
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.clock import utcnow
from bot.config import DiscordSettings
from bot.storage import Database, StorageError
from bot.storage.leases import acquire, renew
from bot.storage.story_tables import service_leases

log = logging.getLogger(__name__)

#: Discord's window: one IDENTIFY per rate-limit key in this time.
IDENTIFY_WINDOW_S = 5.0
#: Held past the window: the IDENTIFY's way to Discord is not instant, nor are clocks equal.
SLACK_S = 0.5
#: Between the lease taken and the IDENTIFY sent (then the lease is renewed from the send).
SEND_ALLOWANCE_S = 2.0
#: The longest wait between two tries to take a busy lease.
MAX_POLL_S = 1.0


def shard_options(settings: DiscordSettings) -> dict[str, Any]:
    """``AutoShardedBot`` keyword arguments: the shards this process runs.

    Empty when neither is set: :meth:`Sharding.prepare` then sets the count Discord
    recommends and this process runs all of them.
    """
    options: dict[str, Any] = {}
    if settings.shard_count is not None:
        options["shard_count"] = settings.shard_count
    if settings.shard_ids is not None:
        options["shard_ids"] = list(settings.shard_ids)
    return options


def rate_limit_key(shard_id: int | None, max_concurrency: int) -> int:
    """Discord's bucket of a shard: shards of one key IDENTIFY 5 s apart."""
    return (shard_id or 0) % max(1, max_concurrency)


class IdentifyGate:
    """Lets one shard per rate-limit key IDENTIFY per window, across every process on ``db``."""

    def __init__(
        self,
        db: Database,
        instance_id: str,
        *,
        max_concurrency: int = 1,
        window_s: float = IDENTIFY_WINDOW_S + SLACK_S,
        send_allowance_s: float = SEND_ALLOWANCE_S,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.max_concurrency = max_concurrency
        self._db = db
        self._instance_id = instance_id
        self._window = timedelta(seconds=window_s)
        self._lone_wait_s = window_s
        self._allowance = timedelta(seconds=send_allowance_s)
        self._clock = clock
        # Each IDENTIFY takes the lease under a name of its own: ``acquire`` renews a lease for
        # its owner, and a shard identifying again (after op 9) must wait out its own window too.
        self._attempts = itertools.count(1)
        self._renewals: set[asyncio.Task[None]] = set()

    async def wait(self, shard_id: int | None) -> None:
        """Return once shard ``shard_id`` may send its IDENTIFY (call it right before)."""
        key = rate_limit_key(shard_id, self.max_concurrency)
        name = f"identify:{key}"
        owner = f"{self._instance_id}/shard-{shard_id or 0}/{next(self._attempts)}"
        waited = 0.0
        while True:
            try:
                delay = await self._try(name, owner)
            except StorageError as e:
                # An IDENTIFY out of turn is refused (op 9) and tried again; a gate that raised
                # would end the shard, or the whole client on a re-identify.
                log.warning(
                    "identify gate unavailable, shard %s waits %.1f s alone: %s",
                    shard_id,
                    self._lone_wait_s,
                    e,
                )
                await asyncio.sleep(self._lone_wait_s)
                return
            if delay is None:
                break
            waited += delay
            await asyncio.sleep(delay)
        if waited:
            log.info("shard %s identifies after waiting %.1f s for rate-limit key %d", shard_id, waited, key)
        # The lease counts from the IDENTIFY, which is sent as soon as this returns.
        task = asyncio.create_task(self._hold_from_send(name, owner), name=f"identify-lease-{key}")
        self._renewals.add(task)
        task.add_done_callback(self._renewals.discard)

    async def close(self) -> None:
        """Wait for the last lease renewals (each one statement)."""
        if self._renewals:
            await asyncio.wait(set(self._renewals), timeout=5)

    async def _try(self, name: str, owner: str) -> float | None:
        """Take the lease: None when taken, else how long to wait before the next try."""
        async with self._db.session(write=True) as conn:
            now = await self._now(conn)
            if await acquire(conn, name, owner, now=now, until=now + self._window + self._allowance):
                return None
            until = (
                await conn.execute(select(service_leases.c.lease_until).where(service_leases.c.name == name))
            ).scalar_one_or_none()
        left = (until - now).total_seconds() if until is not None else 0.0
        return min(MAX_POLL_S, max(0.05, left))

    async def _hold_from_send(self, name: str, owner: str) -> None:
        try:
            async with self._db.session() as conn:
                now = await self._now(conn)
                if not await renew(conn, name, owner, now=now, until=now + self._window):
                    log.warning("identify lease %s ran out before the IDENTIFY was sent", name)
        except Exception as e:  # the lease taken before the send still stands
            log.warning("cannot renew identify lease %s: %s", name, e)

    async def _now(self, conn: AsyncConnection) -> datetime:
        # On PostgreSQL every process reads one clock, the server's; SQLite is one machine's.
        if conn.dialect.name == "postgresql":
            value: datetime = (await conn.execute(select(func.clock_timestamp()))).scalar_one()
            return value
        return self._clock()


class Sharding:
    """The gateway process's shards and its :class:`IdentifyGate`."""

    def __init__(self, settings: DiscordSettings, gate: IdentifyGate) -> None:
        self.settings = settings
        self.gate = gate

    async def prepare(self, client: discord.AutoShardedClient) -> None:
        """Before the shards launch: read ``/gateway/bot`` for the recommended shard count (when
        none is set), the gateway URL (when ``discord.gateway_url`` is not set) and
        ``max_concurrency``.

        Raises ``discord.GatewayNotFound`` when Discord does not answer and no shard count is set.
        """
        try:
            recommended, url, limits = await client.http.get_bot_gateway()
        except discord.GatewayNotFound:
            if client.shard_count is None:
                raise
            log.warning("cannot read /gateway/bot: shards identify one at a time (max_concurrency 1)")
            return
        self.gate.max_concurrency = max(1, int(limits.get("max_concurrency", 1)))
        if client.shard_count is None:
            client.shard_count = recommended
        if not self.settings.gateway_url:
            # discord.py connects to the URL Discord names only when it asks for the count itself.
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
        log.info(
            "gateway shards=%s of %d max_concurrency=%d session_starts_remaining=%s",
            client.shard_ids if client.shard_ids is not None else "all",
            client.shard_count,
            self.gate.max_concurrency,
            limits.get("remaining"),
        )

    async def before_identify(self, shard_id: int | None) -> None:
        await self.gate.wait(shard_id)

    async def close(self) -> None:
        await self.gate.close()
