"""The Discord client: connects newsdesk's core services to Discord.

This package is the only place that imports discord.py; ``bot/`` stays
usable without it.
"""

from __future__ import annotations

import logging
import time

import discord
import yarl
from discord.ext import commands

from bot.config import DiscordSettings, Settings
from bot.core import Newsdesk
from cogs.errors import NewsdeskTree
from cogs.publisher import DiscordPublisher
from cogs.ratelimits import DiscordRateLimits
from cogs.shard_health import ShardHealth
from cogs.sharding import IdentifyGate, Sharding, shard_options

log = logging.getLogger(__name__)

EXTENSIONS: tuple[str, ...] = (
    "cogs.fetch",
    "cogs.feeds",
    "cogs.digests",
    "cogs.alerts",
    "cogs.server_settings",
)


def point_at(settings: DiscordSettings) -> None:
    """Send REST calls to ``api_base`` and open the gateway at ``gateway_url``.

    discord.py reads both from class attributes. A client given its shard
    count connects to ``DEFAULT_GATEWAY`` without asking ``/gateway/bot``
    first, so the gateway must be set here too for a proxy or the test
    emulator (without a count, :mod:`cogs.sharding` reads it from there).
    """
    discord.http.Route.BASE = settings.api_base
    if settings.gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway_url)


# newsdesk never joins voice: discord.py's warnings about missing voice libraries are noise.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False


class NewsdeskBot(commands.AutoShardedBot):
    """newsdesk on Discord: the gateway role. Services live on ``self.core``; cogs only translate.

    The core runs this process's background work (by its roles) and its heartbeat; the cogs
    register commands, views and autocomplete, nothing else.
    """

    core: Newsdesk
    settings: Settings

    def __init__(self, settings: Settings, core: Newsdesk | None = None) -> None:
        rate_limits = DiscordRateLimits(settings.discord)
        super().__init__(
            # This process's share of Discord's global limit; 429s counted (cogs/ratelimits.py).
            http_trace=rate_limits.trace_config(),
            command_prefix=commands.when_mentioned,
            intents=discord.Intents(guilds=True),
            # Feed and page text must never ping anyone; features that may
            # mention a role pass their own AllowedMentions explicitly.
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=NewsdeskTree,
            help_command=None,
            # discord.py reads it with _get_as_snowflake, None included; its _ClientOptions says int.
            application_id=settings.discord.application_id,  # type: ignore[arg-type]
            # discord.shard_count/shard_ids; unset: every shard of the count Discord recommends.
            **shard_options(settings.discord),
        )
        self.rate_limits = rate_limits
        self.settings = settings
        # time.monotonic() when the process made its client, for the uptime of /newsdesk status.
        self.started_at = time.monotonic()
        self.core = core or Newsdesk(settings, publisher_for=lambda db: DiscordPublisher(self, db))
        self.rate_limits.share_with(self.core.processes)
        self.sharding = Sharding(settings.discord, IdentifyGate(self.core.db, self.core.instance_id))
        # Each shard's session, for /readyz.
        self.shard_health = ShardHealth(self)

    async def setup_hook(self) -> None:
        await self.core.start()
        for extension in EXTENSIONS:
            # A cog that fails to load stops the bot: half a bot is worse than none.
            await self.load_extension(extension)
        if self.settings.discord.sync_commands and self._runs_shard_zero():
            await self._sync_commands()
        await self.core.start_duties(healthy=self.connected, shards=self.shard_health.states)

    def _runs_shard_zero(self) -> bool:
        # Commands are the bot's, not a shard's: one gateway process registers them, not each.
        shard_ids = self.settings.discord.shard_ids
        return shard_ids is None or 0 in shard_ids

    async def launch_shards(self) -> None:
        await self.sharding.prepare(self)
        await super().launch_shards()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        # The shards of every gateway process take turns through the database (cogs/sharding.py).
        await self.sharding.before_identify(shard_id)

    def connected(self) -> bool:
        """Healthy, for the heartbeat file: connected to the gateway."""
        return self.is_ready() and not self.is_closed()

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
        self.core.report_healthy()

    async def on_resumed(self) -> None:
        log.info("gateway session resumed")

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        # Removed (kicked, or the server deleted); an outage is not a removal, discord.py
        # reports it as unavailable instead.
        await self.core.leave_guild(guild.id)

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            await self.sharding.close()
            await self.core.close()
