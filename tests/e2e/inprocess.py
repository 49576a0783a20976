"""Run a plain discord.py ``commands.Bot`` in this process against the emulator."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import discord
import yarl
from discord.ext import commands

from tests.emulator import Emulator


@contextlib.contextmanager
def pointed_at(emu: Emulator) -> Any:
    """Point discord.py's REST base and gateway at the emulator, restoring them after."""
    saved = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = emu.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(emu.gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


@contextlib.asynccontextmanager
async def running(
    bot: commands.Bot, emu: Emulator, *, timeout_s: float = 10.0
) -> AsyncIterator[commands.Bot]:
    """Start ``bot`` with the emulator's token; wait for READY; close it after."""
    with pointed_at(emu):
        task = asyncio.create_task(bot.start(emu.token))
        try:
            waiter = asyncio.create_task(bot.wait_until_ready())
            done, _ = await asyncio.wait(
                {task, waiter}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
            if task in done:
                task.result()  # raises what start() raised
            if waiter not in done:
                waiter.cancel()
                raise TimeoutError(f"the in-process bot was not ready within {timeout_s} s")
            yield bot
        finally:
            await bot.close()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 5)
