"""Gateway sharding end to end: the emulator's shards and session start limit, and ``newsdesk run``
as two gateway processes (shards 0 and 1 of 2) on one PostgreSQL database.

The emulator routes a guild's events to the session of its shard and refuses (op 9) an IDENTIFY
that comes within 5 s of another of its rate-limit key, as Discord does; so two processes started
at once must take turns through the database (cogs/sharding.py) or one of them is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import discord
import pytest
import yarl
from discord.ext import commands

from bot.config import DiscordSettings
from bot.storage import Database
from cogs.sharding import IdentifyGate, Sharding
from tests.e2e.harness import Harness, merge
from tests.e2e.inprocess import pointed_at, running
from tests.emulator import (
    Channel,
    DefaultWorld,
    Emulator,
    InteractionResult,
    InteractionTimeout,
    Member,
    Perm,
    SessionStartLimit,
    default_world,
    shard_of,
    snowflake_on_shard,
)
from tests.emulator.gateway import IDENTIFY_WINDOW_S

pytestmark = pytest.mark.e2e

SHARDS = 2


# -- a world with a guild on each of two shards -----------------------------------------------------


@dataclass
class Newsrooms:
    """The default guild and a second one ("Bureau"), on different shards of two."""

    default: DefaultWorld
    rooms: dict[int, tuple[Channel, Member]]
    """By shard: a channel and a member who runs commands there."""


def two_shard_world() -> Newsrooms:
    default = default_world()
    world = default.world
    home = shard_of(default.guild.id, SHARDS)
    other = 1 - home
    bureau = world.add_guild("Bureau", owner=default.owner, guild_id=snowflake_on_shard(other, SHARDS))
    bot_role = bureau.add_role(
        "newsdesk", Perm.VIEW_CHANNEL | Perm.SEND_MESSAGES | Perm.EMBED_LINKS, managed=True
    )
    desk = bureau.add_text_channel("desk")
    bureau.add_member(default.bot, [bot_role])
    reporter = bureau.add_member(world.add_user("rita-reporter"))
    return Newsrooms(default, {home: (default.general, default.member), other: (desk, reporter)})


# -- the emulator's sharding, through raw websockets ------------------------------------------------


class RawSession:
    """One gateway connection, identified by hand."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def receive(self, timeout_s: float = 5.0) -> dict[str, Any]:
        message = await self.ws.receive(timeout=timeout_s)
        if message.type is not aiohttp.WSMsgType.TEXT:
            return {"closed": self.ws.close_code}
        payload: dict[str, Any] = json.loads(message.data)
        return payload

    async def dispatches(self, settle_s: float = 0.3) -> list[dict[str, Any]]:
        """Every dispatch until none came for ``settle_s``."""
        seen: list[dict[str, Any]] = []
        with contextlib.suppress(TimeoutError):
            while True:
                payload = await self.receive(settle_s)
                if payload.get("op") == 0:
                    seen.append(payload)
        return seen


@contextlib.asynccontextmanager
async def raw_identify(
    http: aiohttp.ClientSession, emu: Emulator, shard: list[int] | None
) -> AsyncIterator[tuple[RawSession, dict[str, Any]]]:
    """Connect, IDENTIFY with ``shard``: the session and the first answer (READY, op 9, close)."""
    async with http.ws_connect(emu.gateway_url + "?v=10&encoding=json") as ws:
        session = RawSession(ws)
        hello = await session.receive()
        assert hello["op"] == 10
        data: dict[str, Any] = {"token": emu.token, "intents": 1, "properties": {}}
        if shard is not None:
            data["shard"] = shard
        await ws.send_str(json.dumps({"op": 2, "d": data}))
        yield session, await session.receive()


def ready_guilds(answer: dict[str, Any]) -> set[int]:
    assert answer.get("t") == "READY", answer
    return {int(g["id"]) for g in answer["d"]["guilds"]}


async def test_each_shard_gets_its_guilds_and_their_interactions() -> None:
    rooms = two_shard_world()
    guild_of = {shard: channel.guild_id for shard, (channel, _) in rooms.rooms.items()}
    limit = SessionStartLimit(max_concurrency=2)
    async with (
        Emulator(world=rooms.default, session_start_limit=limit) as emu,
        aiohttp.ClientSession() as http,
        raw_identify(http, emu, [0, 2]) as (zero, zero_ready),
        raw_identify(http, emu, [1, 2]) as (one, one_ready),
    ):
        # max_concurrency 2: shards 0 and 1 have different keys, both start at once.
        assert [r.accepted for r in emu.gateway.identify_log] == [True, True]
        assert ready_guilds(zero_ready) == {guild_of[0]}
        assert ready_guilds(one_ready) == {guild_of[1]}
        assert zero_ready["d"]["shard"] == [0, 2]
        created = {0: await zero.dispatches(), 1: await one.dispatches()}
        for shard in (0, 1):
            assert [(d["t"], int(d["d"]["id"])) for d in created[shard]] == [
                ("GUILD_CREATE", guild_of[shard])
            ]

        channel, member = rooms.rooms[1]
        await emu.create_interaction(
            2, {"id": "1", "name": "ping", "type": 1}, member=member, channel=channel
        )
        got = {0: await zero.dispatches(), 1: await one.dispatches()}
        assert got[0] == []
        assert [d["t"] for d in got[1]] == ["INTERACTION_CREATE"]
        assert int(got[1][0]["d"]["guild_id"]) == guild_of[1]
        assert [s.shard for s in emu.gateway.sessions_of(1)] == [(1, 2)]


async def test_an_identify_too_early_in_its_bucket_gets_invalid_session() -> None:
    # max_concurrency 1: shards 0 and 1 share key 0; the second IDENTIFY within the window is
    # refused with op 9 (d: false) and opens no session; after the window it is accepted.
    async with Emulator(identify_window_s=2.0) as emu, aiohttp.ClientSession() as http:
        async with raw_identify(http, emu, [0, 2]) as (_, first):
            assert first["t"] == "READY"
            async with raw_identify(http, emu, [1, 2]) as (_, refused):
                assert (refused["op"], refused["d"]) == (9, False)
            assert [(r.shard, r.accepted, r.bucket) for r in emu.gateway.identify_log] == [
                ((0, 2), True, 0),
                ((1, 2), False, 0),
            ]
            assert emu.gateway.identifies == 1
            assert emu.gateway.sessions_of(1) == []
            await asyncio.sleep(2.05)
            async with raw_identify(http, emu, [1, 2]) as (_, later):
                assert later["t"] == "READY"
        assert emu.gateway.identifies == 2
        assert emu.gateway.session_start_limit.remaining == 998  # refused ones start nothing


async def test_an_invalid_shard_is_closed_with_4010() -> None:
    async with Emulator() as emu, aiohttp.ClientSession() as http:
        for shard in ([2, 2], [0, 0], [-1, 2], ["0", 2]):
            async with raw_identify(http, emu, shard) as (_, answer):
                assert answer == {"closed": 4010}, shard
        assert emu.gateway.identify_log == []


async def test_gateway_bot_reports_the_configured_shards_and_limit() -> None:
    limit = SessionStartLimit(total=2000, remaining=1500, reset_after_ms=1000, max_concurrency=16)
    async with (
        Emulator(recommended_shards=32, session_start_limit=limit) as emu,
        aiohttp.ClientSession() as http,
    ):
        headers = {"Authorization": f"Bot {emu.token}"}
        async with http.get(emu.api_base + "/gateway/bot", headers=headers) as response:
            body = await response.json()
    assert body["shards"] == 32
    assert body["session_start_limit"] == {
        "total": 2000,
        "remaining": 1500,
        "reset_after": 1000,
        "max_concurrency": 16,
    }


async def test_a_dropped_shard_of_a_discord_py_client_resumes_alone() -> None:
    # discord.py's own AutoShardedBot, two shards in one process: each gets its guild; a drop of
    # shard 1 resumes shard 1 only, and both guilds' events keep arriving, each once.
    rooms = two_shard_world()
    limit = SessionStartLimit(max_concurrency=2)
    bot = commands.AutoShardedBot(
        command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.1
    )
    resumed: list[int] = []
    messages: list[tuple[int | None, str]] = []

    async def on_shard_resumed(shard_id: int) -> None:
        resumed.append(shard_id)

    async def on_message(message: discord.Message) -> None:
        messages.append((message.guild.id if message.guild else None, getattr(message.channel, "name", "")))

    bot.add_listener(on_shard_resumed)
    bot.add_listener(on_message)
    emu = Emulator(world=rooms.default, recommended_shards=SHARDS, session_start_limit=limit)
    async with emu, running(bot, emu, timeout_s=20):
        assert bot.shard_count == SHARDS
        assert {g.id: g.shard_id for g in bot.guilds} == {c.guild_id: s for s, (c, _) in rooms.rooms.items()}
        await emu.drop_gateway(shard=1)
        channel, member = rooms.rooms[1]
        await emu.post_user_message(channel, member, "while shard 1 was away")
        await emu.gateway.wait_for(lambda: resumed == [1], timeout_s=15)
        other, other_member = rooms.rooms[0]
        await emu.post_user_message(other, other_member, "on shard 0")
        await emu.gateway.wait_for(lambda: len(messages) == 2, timeout_s=5)
        assert emu.gateway.identifies == SHARDS  # resumed, not identified again
    assert sorted(messages) == sorted([(channel.guild_id, channel.name), (other.guild_id, other.name)])


# -- Sharding.prepare against the emulator ------------------------------------------------------------


@pytest.mark.parametrize("configured", [{}, {"shard_count": 2}, {"gateway_url": "ws://127.0.0.1:9/gw"}])
async def test_prepare_reads_the_recommended_count_and_max_concurrency(
    configured: dict[str, Any], tmp_path: Path
) -> None:
    limit = SessionStartLimit(max_concurrency=4)
    async with Emulator(recommended_shards=3, session_start_limit=limit) as emu:
        settings = DiscordSettings(**configured)
        client = discord.AutoShardedClient(intents=discord.Intents.none(), shard_count=settings.shard_count)
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'newsdesk.db'}")
        sharding = Sharding(settings, IdentifyGate(db, "test"))
        with pointed_at(emu):
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL("wss://gateway.discord.gg/")
            try:
                await client.login(emu.token)
                await sharding.prepare(client)
                gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
            finally:
                await client.close()
                await db.close()
    assert sharding.gate.max_concurrency == 4
    assert client.shard_count == (settings.shard_count or 3)
    if settings.gateway_url:
        assert gateway == yarl.URL("wss://gateway.discord.gg/")  # a configured proxy stays (point_at's)
    else:
        assert gateway == yarl.URL(emu.gateway_url)  # the URL /gateway/bot names


# -- newsdesk run, sharded --------------------------------------------------------------------------


async def run_fetch(
    emu: Emulator, rooms: Newsrooms, shard: int, *, timeout_s: float = 15.0
) -> InteractionResult:
    channel, member = rooms.rooms[shard]
    return await emu.invoke("fetch", {"url": "not a url"}, user=member, channel=channel, timeout_s=timeout_s)


def assert_answered_once(emu: Emulator, result: InteractionResult) -> None:
    assert result.errors == [], result  # a second answer would be refused (40060) and show here
    assert result.ephemeral and result.text, result
    callbacks = [
        r for r in emu.recorder.calls("POST", f"/interactions/{result.id}/") if r.path.endswith("/callback")
    ]
    assert len(callbacks) == 1, callbacks


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # two processes: PostgreSQL only
async def test_two_gateway_processes_each_answer_their_shards_guilds(db_url: str, tmp_path: Path) -> None:
    rooms = two_shard_world()
    async with Emulator(world=rooms.default) as emu:  # max_concurrency 1: both shards in one bucket
        bots: list[Harness] = []
        for shard in range(SHARDS):
            workdir = tmp_path / f"shard{shard}"
            workdir.mkdir()
            overrides = merge(
                {"database": {"url": db_url}, "run": {"roles": "gateway"}},
                {"discord": {"shard_count": SHARDS, "shard_ids": [shard]}},
            )
            bots.append(Harness(emu, workdir, overrides))
        try:
            # Started together: without the identify gate both would IDENTIFY at once (each is its
            # process's first, which discord.py sends without waiting) and one would be refused.
            await asyncio.gather(
                *(
                    bot.start_bot(ready=lambda shard=shard: bool(emu.gateway.sessions_of(shard)))
                    for shard, bot in enumerate(bots)
                )
            )
            identifies = emu.gateway.identify_log
            assert emu.gateway.refused_identifies == [], identifies
            assert sorted(r.shard for r in identifies) == [(0, 2), (1, 2)]
            assert identifies[1].at - identifies[0].at >= IDENTIFY_WINDOW_S
            assert emu.command_syncs == 1  # by the process of shard 0 alone

            # Commands in a guild of each shard, interleaved: each answered exactly once.
            results = [await run_fetch(emu, rooms, shard) for shard in (0, 1, 1, 0, 0, 1)]
            for result in results:
                assert_answered_once(emu, result)

            # The shard-1 process gone, its guild's commands go unanswered: it alone answered them.
            await bots[1].kill_bot()
            assert_answered_once(emu, await run_fetch(emu, rooms, 0))
            with pytest.raises(InteractionTimeout):
                await run_fetch(emu, rooms, 1, timeout_s=5.0)

            # Restarted, it identifies anew (through the gate) and answers its guild again.
            def identified_again() -> bool:
                return sum(r.accepted and r.shard == (1, 2) for r in emu.gateway.identify_log) == 2

            await bots[1].start_bot(ready=identified_again)
            assert emu.gateway.refused_identifies == []
            assert_answered_once(emu, await run_fetch(emu, rooms, 1))
            assert_answered_once(emu, await run_fetch(emu, rooms, 0))
        finally:
            for bot in bots:
                await bot.stop_bot()
    for shard, bot in enumerate(bots):
        log = bot.log_path.read_text(encoding="utf-8")
        assert f"gateway shards=[{shard}] of 2 max_concurrency=1" in log, log[-2000:]


async def test_one_process_runs_every_recommended_shard(tmp_path: Path) -> None:
    # No shard settings: one process (on SQLite) runs the count /gateway/bot recommends, its
    # shards of different keys identifying at once.
    rooms = two_shard_world()
    limit = SessionStartLimit(max_concurrency=2)
    emu = Emulator(world=rooms.default, recommended_shards=SHARDS, session_start_limit=limit)
    async with emu:
        bot = Harness(emu, tmp_path, {})
        try:
            await bot.start_bot(ready=lambda: all(emu.gateway.sessions_of(s) for s in range(SHARDS)))
            assert sorted(r.shard for r in emu.gateway.identify_log) == [(0, 2), (1, 2)]
            assert emu.gateway.refused_identifies == []
            for shard in (0, 1):
                assert_answered_once(emu, await run_fetch(emu, rooms, shard))
        finally:
            await bot.stop_bot()
