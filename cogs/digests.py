"""/digest: scheduled summaries of a channel's news, one entry per story."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.digests import timezone_choices
from bot.errors import NewsdeskError
from cogs.checks import manager_only, target_channel
from cogs.publisher import to_embed

if TYPE_CHECKING:
    from bot.digests.service import DigestService
    from bot.storage.digests import DigestScheduleRow
    from cogs.client import NewsdeskBot

DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def describe(row: DigestScheduleRow) -> str:
    due = row.next_due_at
    when = f"{discord.utils.format_dt(due, 'F')} ({discord.utils.format_dt(due, 'R')})"
    return f"<#{row.channel_id}>: {row.describe()}. Next digest {when}."


class Digests(commands.Cog):
    """Daily, weekly or every-N-hours digests of the stories a channel follows."""

    digest = app_commands.Group(name="digest", description="Scheduled news digests", guild_only=True)

    def __init__(self, bot: NewsdeskBot) -> None:
        self.bot = bot

    @property
    def digests(self) -> DigestService:
        return self.bot.core.digests

    @digest.command(name="schedule", description="Post a digest on a schedule, in your time zone")
    @app_commands.describe(
        frequency="daily, weekly, or every N hours",
        time="HH:MM (24 h) for daily and weekly digests",
        day="The day for weekly digests",
        hours="N, for a digest every N hours",
        timezone="Your time zone, e.g. Europe/Paris (default UTC)",
        top="How many stories (default 10)",
        channel="Where to post (default: this channel)",
    )
    @app_commands.choices(day=[app_commands.Choice(name=d.title(), value=d) for d in DAYS])
    @manager_only()
    async def schedule(
        self,
        interaction: discord.Interaction,
        frequency: Literal["daily", "weekly", "hours"],
        time: str | None = None,
        day: str | None = None,
        hours: app_commands.Range[int, 1, 168] | None = None,
        timezone: str = "UTC",
        top: app_commands.Range[int, 1, 25] = 10,
        channel: discord.TextChannel | None = None,
    ) -> None:
        target = target_channel(interaction, channel, bot_posts=True)
        kind = "every_hours" if frequency == "hours" else frequency
        row = await self.digests.schedule(
            interaction.guild_id, target.id, kind, at=time, day=day, hours=hours, timezone=timezone,
            top_n=top, user_id=interaction.user.id, now=self.bot.core.clock(),
        )  # fmt: skip
        await interaction.response.send_message(f"Digest scheduled. {describe(row)}", ephemeral=True)

    @schedule.autocomplete("timezone")
    async def timezone_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=tz, value=tz) for tz in timezone_choices(current, limit=25)]

    @digest.command(name="preview", description="See privately what the digest would show now")
    @app_commands.describe(channel="The channel whose digest to preview (default: this one)")
    async def preview(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        target = target_channel(interaction, channel, bot_posts=False)
        await interaction.response.defer(ephemeral=True, thinking=True)
        messages = await self.digests.preview(target.id, self.bot.core.clock())
        if not messages:
            await interaction.followup.send("Nothing to show yet.", ephemeral=True)
            return
        for embeds in messages[:3]:
            await interaction.followup.send(embeds=[to_embed(e) for e in embeds], ephemeral=True)

    @digest.command(name="now", description="Post the digest now")
    @app_commands.describe(channel="Where to post (default: this channel)")
    @manager_only()
    async def now(self, interaction: discord.Interaction, channel: discord.TextChannel | None = None) -> None:
        target = target_channel(interaction, channel, bot_posts=True)
        await interaction.response.defer(ephemeral=True, thinking=True)
        count = await self.digests.post_now(target.id, self.bot.core.clock(), guild_id=interaction.guild_id)
        self.bot.core.wake_delivery()
        await interaction.followup.send(
            f"Posting the digest in <#{target.id}> ({count} message(s)).", ephemeral=True
        )

    @digest.command(name="show", description="Show the digest schedule")
    @app_commands.describe(channel="The channel (default: this one)")
    async def show(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        target = target_channel(interaction, channel, bot_posts=False)
        row = await self.digests.show(target.id)
        if row is None:
            raise NewsdeskError(f"<#{target.id}> has no digest. Set one with `/digest schedule`.")
        await interaction.response.send_message(describe(row), ephemeral=True)

    @digest.command(name="off", description="Stop the digest")
    @app_commands.describe(channel="The channel (default: this one)")
    @manager_only()
    async def off(self, interaction: discord.Interaction, channel: discord.TextChannel | None = None) -> None:
        target = target_channel(interaction, channel, bot_posts=False)
        if not await self.digests.off(target.id):
            raise NewsdeskError(f"<#{target.id}> has no digest to stop.")
        await interaction.response.send_message(f"Digest in <#{target.id}> stopped.", ephemeral=True)


async def setup(bot: NewsdeskBot) -> None:
    await bot.add_cog(Digests(bot))
