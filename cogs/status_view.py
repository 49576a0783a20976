"""/newsdesk status: the server's news at a glance, with its chart (bot/status)."""

from __future__ import annotations

import io
import time
from typing import TYPE_CHECKING

import discord

from bot import __version__
from bot.status.chart import FILENAME, chart_png
from bot.status.report import BotInfo, chart_data, status_message
from bot.storage.server_status import server_status
from cogs.checks import visible_channel_ids
from cogs.publisher import to_embed

if TYPE_CHECKING:
    from cogs.client import NewsdeskBot


async def send_status(client: NewsdeskBot, interaction: discord.Interaction) -> None:
    """Answer privately with the status of the channels the member can see, chart attached."""
    assert interaction.guild_id is not None  # the /newsdesk group is guild_only
    await interaction.response.defer(ephemeral=True, thinking=True)
    # A manager must learn nothing about channels hidden from them (cogs/checks.py).
    visible = visible_channel_ids(interaction)
    status = await server_status(
        client.core.db, interaction.guild_id, now=client.core.clock(), channel_ids=visible
    )
    png = await chart_png(chart_data(status))  # on a thread
    spec = status_message(status, bot_info(client, interaction.guild), filtered=visible is not None)
    await interaction.followup.send(
        embeds=[to_embed(e) for e in spec.embeds],
        file=discord.File(io.BytesIO(png), filename=FILENAME),
        ephemeral=True,
    )


def bot_info(client: NewsdeskBot, guild: discord.Guild | None) -> BotInfo:
    """This process's version and uptime, and the latency of the server's shard."""
    shard = client.get_shard(guild.shard_id) if guild is not None else None
    latency = shard.latency if shard is not None else client.latency
    return BotInfo(version=__version__, uptime_s=time.monotonic() - client.started_at, latency_s=latency)
