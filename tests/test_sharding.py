"""Gateway sharding (cogs/sharding.py): the shards a process runs, and the IDENTIFY gate that
keeps the shards of several processes within Discord's max_concurrency, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import UTC, datetime

import discord
import pytest
from discord.ext import commands
from sqlalchemy import select

from bot.config import DiscordSettings
from bot.storage import Database
from bot.storage.story_tables import service_leases
from cogs.sharding import IdentifyGate, rate_limit_key, shard_options

#: A short window keeps the tests fast; the gate's logic does not depend on its length.
WINDOW_S = 0.4
#: Clock reads of the database and of Python may differ by this much (PostgreSQL rounds to µs).
CLOCK_EPSILON_S = 0.005


def test_shard_options_follow_the_settings() -> None:
    assert shard_options(DiscordSettings()) == {}
    assert shard_options(DiscordSettings(shard_count=4)) == {"shard_count": 4}
    assert shard_options(DiscordSettings(shard_count=2, shard_ids=[1])) == {
        "shard_count": 2,
        "shard_ids": [1],
    }


def test_auto_sharded_bot_takes_the_options() -> None:
    settings = DiscordSettings(shard_count=2, shard_ids=[1])
    bot = commands.AutoShardedBot(
        command_prefix="!", intents=discord.Intents.none(), **shard_options(settings)
    )
    assert (bot.shard_count, bot.shard_ids) == (2, [1])
    # None set: discord.py (or Sharding.prepare) asks /gateway/bot for the count.
    bot = commands.AutoShardedBot(
        command_prefix="!", intents=discord.Intents.none(), **shard_options(DiscordSettings())
    )
    assert (bot.shard_count, bot.shard_ids) == (None, None)


def test_rate_limit_key_is_shard_id_modulo_max_concurrency() -> None:
    assert [rate_limit_key(s, 1) for s in range(4)] == [0, 0, 0, 0]
    assert [rate_limit_key(s, 16) for s in (0, 15, 16, 31)] == [0, 15, 0, 15]
    assert rate_limit_key(None, 4) == 0  # an unsharded client is shard 0
    assert rate_limit_key(5, 0) == 0  # a nonsensical limit is treated as 1


def _gate(db: Database, instance: str, max_concurrency: int = 1) -> IdentifyGate:
    return IdentifyGate(
        db, instance, max_concurrency=max_concurrency, window_s=WINDOW_S, send_allowance_s=1.0
    )


async def _identify(gate: IdentifyGate, shard_id: int, log: list[tuple[float, str]], who: str) -> None:
    await gate.wait(shard_id)
    log.append((time.time(), f"{who}:{shard_id}"))  # the IDENTIFY would be sent now


async def test_two_processes_identify_one_at_a_time_in_one_bucket(db_url: str) -> None:
    # Two processes (a Database each) on one database; max_concurrency 1: every shard is in
    # bucket 0, so the three IDENTIFYs must come at least a window apart, in whatever order.
    first, second = Database(db_url), Database(db_url)
    await first.upgrade()
    a, b = _gate(first, "process-a"), _gate(second, "process-b")
    log: list[tuple[float, str]] = []
    try:
        await asyncio.gather(_identify(a, 0, log, "a"), _identify(b, 1, log, "b"), _identify(a, 2, log, "a"))
        await asyncio.gather(a.close(), b.close())
    finally:
        await first.close()
        await second.close()
    log.sort()
    assert sorted(who for _, who in log) == ["a:0", "a:2", "b:1"]
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(log)]
    assert all(gap >= WINDOW_S - CLOCK_EPSILON_S for gap in gaps), (gaps, log)


async def test_a_shard_identifying_again_waits_out_its_own_window(db: Database) -> None:
    # After op 9 Invalid Session a shard identifies again: its earlier IDENTIFY counts too (the
    # lease is not renewed for it because it held it before).
    gate = _gate(db, "process-a")
    log: list[tuple[float, str]] = []
    await _identify(gate, 0, log, "a")
    await _identify(gate, 0, log, "a")
    await gate.close()
    assert log[1][0] - log[0][0] >= WINDOW_S - CLOCK_EPSILON_S


async def test_shards_of_different_buckets_identify_together(db_url: str) -> None:
    # max_concurrency 2: shards 0 and 1 have keys 0 and 1, so neither waits for the other:
    # both leases are held at once, each by its own process. (A long window: had one waited for
    # the other, it would wait far longer than the timeout; and both leases stay held while the
    # test looks, however slow the machine.)
    first, second = Database(db_url), Database(db_url)
    await first.upgrade()
    a = IdentifyGate(first, "process-a", max_concurrency=2, window_s=60)
    b = IdentifyGate(second, "process-b", max_concurrency=2, window_s=60)
    try:
        async with asyncio.timeout(20):
            await asyncio.gather(a.wait(0), b.wait(1))
        await asyncio.gather(a.close(), b.close())
        async with first.session() as conn:
            rows = (
                await conn.execute(
                    select(service_leases.c.name, service_leases.c.owner, service_leases.c.lease_until)
                )
            ).all()
    finally:
        await first.close()
        await second.close()
    held = {name: (owner, until) for name, owner, until in rows if name.startswith("identify:")}
    assert set(held) == {"identify:0", "identify:1"}
    assert held["identify:0"][0].startswith("process-a/shard-0/")
    assert held["identify:1"][0].startswith("process-b/shard-1/")
    # Both still held now: they overlapped.
    now = datetime.now(UTC)
    assert all(until > now for _, until in held.values())


async def test_a_busy_bucket_keeps_the_shard_waiting_until_the_lease_ends(db: Database) -> None:
    # Another process holds the bucket (its lease row says so): the gate waits, and takes it
    # only once the lease has ended.
    holder = _gate(db, "process-a")
    await holder.wait(0)
    await holder.close()
    async with db.session() as conn:
        until = (
            await conn.execute(
                select(service_leases.c.lease_until).where(service_leases.c.name == "identify:0")
            )
        ).scalar_one()
    waiter = _gate(db, "process-b")
    await waiter.wait(0)
    assert datetime.now(UTC).timestamp() >= until.timestamp() - CLOCK_EPSILON_S
    await waiter.close()


async def test_without_the_database_a_shard_waits_a_window_alone_and_identifies(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Raising would end the shard (or the whole client, on a re-identify); an IDENTIFY out of
    # turn only risks op 9, after which the shard comes back through the gate.
    unreachable = Database("postgresql+asyncpg://postgres@127.0.0.1:1/newsdesk")
    gate = _gate(unreachable, "process-a")
    started = time.monotonic()
    try:
        await gate.wait(0)
    finally:
        await unreachable.close()
    assert time.monotonic() - started >= WINDOW_S
    assert "identify gate unavailable" in caplog.text
