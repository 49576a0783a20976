"""Runs the outbox dispatcher for as long as the bot runs, and prunes old rows."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from discord.ext import commands

from bot.background import BackgroundLoop

if TYPE_CHECKING:
    from cogs.client import NewsdeskBot

log = logging.getLogger(__name__)

#: Sent posts are kept this long. Re-posting is prevented by the feeds' own seen-items
#: table, so the outbox only needs its rows while they may still be re-sent or inspected.
OUTBOX_RETENTION = timedelta(days=14)


class Delivery(commands.Cog):
    """Posts queued messages (feed items, digests, alerts) in order, once each."""

    def __init__(self, bot: NewsdeskBot) -> None:
        self.bot = bot
        self._task: asyncio.Task[None] | None = None
        self._prune = BackgroundLoop("pruning", self.prune, interval_s=6 * 3600, logger=log)

    async def cog_load(self) -> None:
        self._task = asyncio.create_task(self.bot.dispatcher.run(), name="outbox-dispatcher")
        self._prune.start()

    async def cog_unload(self) -> None:
        await self._prune.close()
        await self.bot.dispatcher.stop()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def prune(self) -> None:
        """Delete outbox rows and cached articles past their retention (every 6 hours, and at start)."""
        core = self.bot.core
        now = core.clock()
        # Each cleanup guarded on its own: one failing must not skip the other.
        try:
            purged = await core.outbox.purge(older_than=now - OUTBOX_RETENTION)
            log.info("pruned outbox rows=%d", purged)
        except Exception:
            log.exception("outbox pruning failed")
        try:
            ttl = timedelta(seconds=core.settings.cache.article_ttl_s)
            purged = await core.article_cache.purge(older_than=now - ttl)
            log.info("pruned article cache rows=%d", purged)
        except Exception:
            log.exception("article cache pruning failed")


async def setup(bot: NewsdeskBot) -> None:
    await bot.add_cog(Delivery(bot))
