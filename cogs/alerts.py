"""/alerts: breaking-story alerts and topic keywords for a channel."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_text import escape_markdown
from cogs.checks import can_see, manager_only, require_mentionable, target_channel

if TYPE_CHECKING:
    from bot.alerts.service import AlertService
    from cogs.client import NewsdeskBot


class Alerts(commands.Cog):
    """Alerts when several outlets report the same story, or a story matches a channel's topics."""

    alerts = app_commands.Group(name="alerts", description="Breaking news and topic alerts", guild_only=True)
    keywords = app_commands.Group(name="keywords", description="Topic alerts", parent=alerts)

    def __init__(self, bot: NewsdeskBot) -> None:
        self.bot = bot

    @property
    def service(self) -> AlertService:
        return self.bot.core.alerts

    @alerts.command(name="breaking", description="Alert when several outlets report the same story")
    @app_commands.describe(
        state="on or off",
        min_sources="Distinct outlets needed (default 3)",
        window_minutes="Within this many minutes (default 60)",
        role="A role to mention with each alert (default: nobody)",
        channel="Where to post (default: this channel)",
        count_reprints=(
            "Count each word-for-word reprint of a wire story as its own outlet (default: no, once)"
        ),
    )
    @manager_only()
    async def breaking(
        self,
        interaction: discord.Interaction,
        state: Literal["on", "off"],
        min_sources: app_commands.Range[int, 2, 50] = 3,
        window_minutes: app_commands.Range[int, 1, 1440] = 60,
        role: discord.Role | None = None,
        channel: discord.TextChannel | None = None,
        count_reprints: bool = False,
    ) -> None:
        target = target_channel(interaction, channel, bot_posts=state == "on")
        if role is not None and state == "on":
            require_mentionable(interaction, role, target)
        await self.service.set_breaking(
            interaction.guild_id,
            target.id,
            enabled=state == "on",
            min_sources=min_sources,
            window_minutes=window_minutes,
            role_id=role.id if role else None,
            count_reprints=count_reprints,
        )
        if state == "off":
            text = f"Breaking alerts in <#{target.id}> are off."
        else:
            mention = f" and mention {role.mention}" if role else ""
            reprints = (
                "each word-for-word reprint counts as an outlet"
                if count_reprints
                else "a story reprinted word for word counts once"
            )
            text = (
                f"<#{target.id}> will get an alert{mention} when {min_sources} or more outlets report "
                f"the same story within {window_minutes} minutes ({reprints})."
            )
        await interaction.response.send_message(
            text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )

    @keywords.command(name="add", description="Alert when a story matches a word or phrase")
    @app_commands.describe(keyword="A word or phrase", channel="Where to post (default: this channel)")
    @manager_only()
    async def keywords_add(
        self, interaction: discord.Interaction, keyword: str, channel: discord.TextChannel | None = None
    ) -> None:
        target = target_channel(interaction, channel, bot_posts=True)
        added = await self.service.keywords_add(
            interaction.guild_id, target.id, keyword, user_id=interaction.user.id
        )
        shown = escape_markdown(keyword)
        text = f"Added “{shown}” to <#{target.id}>." if added else f"<#{target.id}> already has “{shown}”."
        await interaction.response.send_message(text, ephemeral=True)

    @keywords.command(name="remove", description="Stop alerting on a word or phrase")
    @app_commands.describe(keyword="The word or phrase", channel="The channel (default: this one)")
    @manager_only()
    async def keywords_remove(
        self, interaction: discord.Interaction, keyword: str, channel: discord.TextChannel | None = None
    ) -> None:
        target = target_channel(interaction, channel, bot_posts=False)
        removed = await self.service.keywords_remove(target.id, keyword)
        shown = escape_markdown(keyword)
        text = f"Removed “{shown}”." if removed else f"<#{target.id}> has no keyword “{shown}”."
        await interaction.response.send_message(text, ephemeral=True)

    @keywords_remove.autocomplete("keyword")
    async def keyword_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        # The channel option once filled in (an id: autocomplete gets no resolved channels), else
        # where the member types; only a channel of this server that they can see.
        picked = getattr(interaction.namespace, "channel", None)
        channel_id = picked.id if picked is not None else interaction.channel_id
        guild = interaction.guild
        if (
            guild is None
            or channel_id is None
            or guild.get_channel_or_thread(channel_id) is None
            or not can_see(interaction, channel_id)
        ):
            return []
        words = await self.service.keywords_list(channel_id)
        return [app_commands.Choice(name=w, value=w) for w in words if current.lower() in w.lower()][:25]

    @keywords.command(name="list", description="This channel's topic keywords")
    @app_commands.describe(channel="The channel (default: this one)")
    async def keywords_list(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        target = target_channel(interaction, channel, bot_posts=False)
        words = await self.service.keywords_list(target.id)
        text = (
            ", ".join(f"“{escape_markdown(w)}”" for w in words)
            if words
            else "No keywords yet. Add one with `/alerts keywords add`."
        )
        await interaction.response.send_message(f"<#{target.id}>: {text}", ephemeral=True)


async def setup(bot: NewsdeskBot) -> None:
    await bot.add_cog(Alerts(bot))
