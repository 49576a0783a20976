"""/newsdesk: a server's own settings, changed by its admins (Manage Server), and its status
(managers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.delivery.message import MessageSpec
from bot.errors import NewsdeskError
from bot.templates import Template
from cogs.checks import manager_only, server_admin_only
from cogs.format_views import PART_HELP, PRESET_CHOICES, describe, preview_kwargs, template_from_options
from cogs.status_view import send_status

if TYPE_CHECKING:
    from bot.storage import GuildSettingsStore
    from cogs.client import NewsdeskBot

NO_MENTIONS = discord.AllowedMentions.none()
#: Subscriptions tried, in order, for an item to preview the server's format on.
_PREVIEW_TRIES = 5
_NO_ITEM = "None of this server's feeds has an item yet to preview; nothing is saved."


class ServerSettings(commands.Cog):
    """Server-wide settings: who manages the server's news, and how its posts look by default."""

    newsdesk = app_commands.Group(
        name="newsdesk",
        description="newsdesk in this server: its status and settings",
        guild_only=True,
        # Shown to every member (no default_permissions): `status` is for managers, who may lack
        # Manage Server, and each subcommand's check refuses anyone else with a clear answer.
    )
    manager_role = app_commands.Group(
        name="manager-role", description="The role whose members manage news", parent=newsdesk
    )

    def __init__(self, bot: NewsdeskBot) -> None:
        self.bot = bot

    @property
    def store(self) -> GuildSettingsStore:
        return self.bot.core.guild_settings

    @manager_role.command(name="set", description="Let members with this role manage the server's news")
    @app_commands.describe(role="The role (renaming it later keeps it working)")
    @server_admin_only()
    async def set_role(self, interaction: discord.Interaction, role: discord.Role) -> None:
        if role.is_default():
            raise NewsdeskError("Pick a role other than @everyone.")
        assert interaction.guild_id is not None  # guild_only
        await self.store.set_manager_role(interaction.guild_id, role.id, now=self.bot.core.clock())
        await interaction.response.send_message(
            f"Members with {role.mention} now manage this server's news "
            "(besides those with Manage Channels or Manage Server).",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @manager_role.command(name="clear", description="Forget the server's manager role")
    @server_admin_only()
    async def clear_role(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await self.store.set_manager_role(interaction.guild_id, None, now=self.bot.core.clock())
        await interaction.response.send_message(
            f"No manager role is set any more. {self._default_text()}", ephemeral=True
        )

    @manager_role.command(name="show", description="Show the server's manager role")
    @server_admin_only()
    async def show_role(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        role_id = await self.store.manager_role(interaction.guild_id)
        if role_id is None:
            text = f"No manager role is set. {self._default_text()}"
        elif interaction.guild is not None and interaction.guild.get_role(role_id) is None:
            text = "The manager role was deleted; set another with `/newsdesk manager-role set`."
        else:
            text = f"Members with <@&{role_id}> manage this server's news."
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @newsdesk.command(name="status", description="How this server's news is doing, with a chart")
    @manager_only()
    async def status(self, interaction: discord.Interaction) -> None:
        # For managers (server-wide Manage Channels or the manager role), not only server admins.
        await send_status(self.bot, interaction)

    @newsdesk.command(name="format", description="The default look of this server's feed posts")
    @app_commands.describe(
        preset="The layout to start from; default: the built-in one (clears it)",
        preview="Only show the newest item in this format, privately; nothing saved",
        **PART_HELP,
    )
    @app_commands.choices(preset=[*PRESET_CHOICES, app_commands.Choice(name="default", value="default")])
    @server_admin_only()
    async def format(
        self,
        interaction: discord.Interaction,
        preset: str | None = None,
        content: str | None = None,
        title: str | None = None,
        description: str | None = None,
        url: str | None = None,
        color: str | None = None,
        thumbnail: str | None = None,
        image: str | None = None,
        author: str | None = None,
        footer: str | None = None,
        preview: bool = False,
    ) -> None:
        assert interaction.guild_id is not None
        guild_id = interaction.guild_id
        parts = dict(content=content, title=title, description=description, url=url, color=color,
                     thumbnail=thumbnail, image=image, author=author, footer=footer)  # fmt: skip
        if preset == "default" and any(parts.values()):
            raise NewsdeskError("`preset: default` clears the server's format; leave the parts out.")
        template: Template | None
        if preset == "default":
            template = None
        elif preset is None and not any(parts.values()):
            template = Template.from_json(await self.store.post_template(guild_id))
            if not preview:
                await self._reply(interaction, _current_text(template), None)
                return
        else:
            template = template_from_options(preset, **parts)
        if preview:
            spec = await self._preview(guild_id, template)
            note = "Preview of the server's newest item (only you see this; nothing is saved):"
            await self._reply(interaction, note if spec else _NO_ITEM, spec)
            return
        now = self.bot.core.clock()
        await self.store.set_post_template(guild_id, template.to_json() if template else None, now=now)
        if template is None:
            text = "The server's default format is cleared: posts without their own use the full embed."
        else:
            text = (
                "Server default format saved; subscriptions without their own (`/feed format`) use it.\n"
                + describe(template)
            )
        spec = await self._preview(guild_id, template)
        await self._reply(interaction, f"{text}\nThe newest item in it:" if spec else text, spec)

    async def _preview(self, guild_id: int, template: Template | None) -> MessageSpec | None:
        """The newest item of the server's first subscriptions that has one, in ``template``."""
        feeds = self.bot.core.feeds
        for status in (await feeds.list(guild_id))[:_PREVIEW_TRIES]:
            try:
                return await feeds.preview_template(guild_id, status.subscription.id, template)
            except NewsdeskError:  # no item yet in this feed (or just removed): the next one
                continue
        return None

    async def _reply(self, interaction: discord.Interaction, text: str, spec: MessageSpec | None) -> None:
        kwargs = preview_kwargs(spec, text) if spec else {"content": text}
        await interaction.response.send_message(**kwargs, ephemeral=True, allowed_mentions=NO_MENTIONS)

    def _default_text(self) -> str:
        name = self.bot.settings.commands.manager_role
        managers = "Members with Manage Channels or Manage Server"
        if name:
            return f"{managers}, or a role named “{discord.utils.escape_markdown(name)}”, manage news."
        return f"{managers} manage news."


def _current_text(template: Template | None) -> str:
    if template is None:
        return "No server default format is set: posts without their own use the full embed."
    return f"The server's default format: {describe(template)}"


async def setup(bot: NewsdeskBot) -> None:
    await bot.add_cog(ServerSettings(bot))
