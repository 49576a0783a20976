"""The Discord client: connects newsdesk's core services to Discord.

This package is the only place that imports discord.py; ``bot/`` stays
usable without it.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import discord
import yarl
from discord.ext import commands

from bot.background import BackgroundLoop
from bot.config import DiscordSettings, Settings
from bot.core import Newsdesk
from bot.delivery.dispatcher import OutboxDispatcher
from cogs.errors import NewsdeskTree
from cogs.publisher import DiscordPublisher

log = logging.getLogger(__name__)

EXTENSIONS: tuple[str, ...] = (
    "cogs.delivery",
    "cogs.fetch",
    "cogs.feeds",
    "cogs.digests",
    "cogs.alerts",
    "cogs.server_settings",
)


def point_at(settings: DiscordSettings) -> None:
    """Send REST calls to ``api_base`` and open the gateway at ``gateway_url``.

    discord.py reads both from class attributes. A plain (unsharded) client
    connects to ``DEFAULT_GATEWAY`` without asking ``/gateway/bot`` first, so
    the gateway must be set here too for a proxy or the test emulator.
    """
    discord.http.Route.BASE = settings.api_base
    if settings.gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway_url)


# newsdesk never joins voice: discord.py's warnings about missing voice libraries are noise.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False


class NewsdeskBot(commands.Bot):
    """newsdesk on Discord. Services live on ``self.core``; cogs only translate."""

    core: Newsdesk
    settings: Settings
    dispatcher: OutboxDispatcher

    def __init__(self, settings: Settings, core: Newsdesk | None = None) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents(guilds=True),
            # Feed and page text must never ping anyone; features that may
            # mention a role pass their own AllowedMentions explicitly.
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=NewsdeskTree,
            help_command=None,
            # discord.py reads it with _get_as_snowflake, None included; its _ClientOptions says int.
            application_id=settings.discord.application_id,  # type: ignore[arg-type]
        )
        self.settings = settings
        self.core = core or Newsdesk(settings, publisher=DiscordPublisher(self))
        self.heartbeat_file = Path(settings.health.heartbeat_file)
        self._heartbeat = BackgroundLoop("heartbeat", self._beat, interval_s=30, logger=log)
        self.dispatcher = OutboxDispatcher(
            self.core.outbox,
            DiscordPublisher(self),
            clock=self.core.clock,
            on_channel_unavailable=self._channel_unavailable,
            # Stable across restarts, so a restarted bot takes its own leases back at once.
            owner="bot",
        )

    def wake_delivery(self) -> None:
        """Post what was just queued now rather than at the outbox's next poll."""
        self.dispatcher.notify()

    async def _channel_unavailable(self, channel_id: int, reason: str) -> None:
        paused = await self.core.feeds.pause_channel(channel_id, reason)
        log.warning("channel unavailable channel=%s paused=%d reason=%s", channel_id, paused, reason)

    async def setup_hook(self) -> None:
        await self.core.start()
        for extension in EXTENSIONS:
            # A cog that fails to load stops the bot: half a bot is worse than none.
            await self.load_extension(extension)
        if self.settings.discord.sync_commands:
            await self._sync_commands()
        self._heartbeat.start()

    async def _sync_commands(self) -> None:
        guild_ids = self.settings.discord.command_guild_ids
        if not guild_ids:
            synced = await self.tree.sync()
            log.info("synced %d global commands", len(synced))
            return
        for guild_id in guild_ids:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d commands guild=%d", len(synced), guild_id)

    async def on_ready(self) -> None:
        assert self.user is not None
        log.info("ready user=%s id=%s guilds=%d", self.user, self.user.id, len(self.guilds))
        self._write_heartbeat()

    async def on_resumed(self) -> None:
        log.info("gateway session resumed")

    async def _beat(self) -> None:
        if self.is_ready() and not self.is_closed():
            self._write_heartbeat()

    def _write_heartbeat(self) -> None:
        # `newsdesk health` (the Docker HEALTHCHECK) reads this file's age.
        try:
            self.heartbeat_file.parent.mkdir(parents=True, exist_ok=True)
            self.heartbeat_file.write_text(str(int(time.time())), encoding="ascii")
        except OSError as e:
            log.warning("cannot write heartbeat file %s: %s", self.heartbeat_file, e)

    async def close(self) -> None:
        await self._heartbeat.close()
        try:
            await super().close()
        finally:
            await self.core.close()
