"""Runs the outbox dispatcher for as long as the bot runs."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from discord.ext import commands

if TYPE_CHECKING:
    from cogs.client import NewsdeskBot


class Delivery(commands.Cog):
    """Posts queued messages (feed items, digests, alerts) in order, once each."""

    def __init__(self, bot: NewsdeskBot) -> None:
        self.bot = bot
        self._task: asyncio.Task[None] | None = None

    async def cog_load(self) -> None:
        self._task = asyncio.create_task(self.bot.dispatcher.run(), name="outbox-dispatcher")

    async def cog_unload(self) -> None:
        await self.bot.dispatcher.stop()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


async def setup(bot: NewsdeskBot) -> None:
    await bot.add_cog(Delivery(bot))
