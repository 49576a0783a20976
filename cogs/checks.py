"""Who may do what: runtime checks for app commands.

Managers are members with Manage Channels, Manage Server or Administrator at the
server level, or with the server's manager role: the role a server admin set with
``/newsdesk manager-role`` (matched by id), else the role named in
``commands.manager_role``. Channel overwrites never make a manager: Manage Channels
on one channel must not give control of every feed of the server.

A manager sees and changes only what is in channels they can see, and the bot must be
able to post in a channel it is told to post in. The checks run at invocation (not
through ``default_permissions``) so anyone refused gets a clear, private answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar, cast

import discord
from discord import app_commands

from bot.errors import NewsdeskError

if TYPE_CHECKING:
    from cogs.client import NewsdeskBot

T = TypeVar("T")
#: Where the bot posts: a text (or announcement) channel, or a thread.
Target = discord.TextChannel | discord.Thread
#: What the bot needs in a channel to post its embeds there.
POSTABLE = discord.Permissions(view_channel=True, send_messages=True, embed_links=True)
#: ... and in a thread, where the parent's Send Messages does not count.
POSTABLE_IN_THREAD = discord.Permissions(view_channel=True, send_messages_in_threads=True, embed_links=True)


class NotAManager(app_commands.CheckFailure):
    def __init__(self, role: str | None) -> None:
        extra = f" or the {role} role" if role else ""
        super().__init__(
            f"You need the Manage Channels permission (server-wide){extra} to manage news subscriptions."
        )


class NotAServerAdmin(app_commands.CheckFailure):
    def __init__(self) -> None:
        super().__init__("You need the Manage Server permission to change newsdesk's server settings.")


def _bot(interaction: discord.Interaction) -> NewsdeskBot:
    return cast("NewsdeskBot", interaction.client)


async def _manager_role(
    interaction: discord.Interaction, guild: discord.Guild
) -> tuple[int | None, str | None]:
    """The server's manager role as (id, name) when set by id, else (None, configured name)."""
    role_id = await _bot(interaction).core.guild_settings.manager_role(guild.id)
    if role_id is None:
        return None, _bot(interaction).settings.commands.manager_role
    role = guild.get_role(role_id)
    return role_id, role.name if role else None


async def manager_refusal(interaction: discord.Interaction) -> NotAManager | None:
    """``None`` when the member may manage this server's news, else the refusal to raise."""
    member, guild = interaction.user, interaction.guild
    if not isinstance(member, discord.Member) or guild is None:
        return NotAManager(None)
    perms = member.guild_permissions  # the server's roles only: no channel overwrites
    if perms.manage_channels or perms.manage_guild or perms.administrator:
        return None
    role_id, role_name = await _manager_role(interaction, guild)
    if role_id is not None:
        granted = member.get_role(role_id) is not None
    else:
        granted = bool(role_name) and any(r.name == role_name for r in member.roles)
    return None if granted else NotAManager(role_name)


def manager_only() -> Callable[[T], T]:
    """Refuse members who may not manage subscriptions (and refuse DMs)."""

    async def predicate(interaction: discord.Interaction) -> bool:
        if interaction.guild is None:
            raise app_commands.NoPrivateMessage()
        refusal = await manager_refusal(interaction)
        if refusal is not None:
            raise refusal
        return True

    return app_commands.check(predicate)


def server_admin_only() -> Callable[[T], T]:
    """Refuse members without Manage Server at the server level (and refuse DMs)."""

    async def predicate(interaction: discord.Interaction) -> bool:
        member = interaction.user
        if interaction.guild is None:
            raise app_commands.NoPrivateMessage()
        if not isinstance(member, discord.Member) or not member.guild_permissions.manage_guild:
            raise NotAServerAdmin()
        return True

    return app_commands.check(predicate)


def visible_channel_ids(interaction: discord.Interaction) -> set[int] | None:
    """Ids of the server's channels and threads the member can see; ``None`` when they see
    everything (Administrator, the owner), channels the bot does not know included.
    """
    member, guild = interaction.user, interaction.guild
    if not isinstance(member, discord.Member) or guild is None:
        return set()
    if member.guild_permissions.administrator:
        return None
    channels: list[discord.abc.GuildChannel | discord.Thread] = [*guild.channels, *guild.threads]
    return {c.id for c in channels if _sees(member, c, interaction.channel_id)}


def _sees(
    member: discord.Member, channel: discord.abc.GuildChannel | discord.Thread, here: int | None
) -> bool:
    if channel.id == here:  # where the command is used
        return True
    perms = channel.permissions_for(member)
    if isinstance(channel, discord.Thread) and channel.is_private():
        # Discord shows a private thread only to its members and to Manage Threads, but
        # permissions_for reads the parent's. Its members other than its owner are unknown
        # without the members intent: one of them sees it from inside it (``here``).
        return perms.view_channel and (perms.manage_threads or channel.owner_id == member.id)
    return perms.view_channel


def can_see(interaction: discord.Interaction, channel_id: int) -> bool:
    visible = visible_channel_ids(interaction)
    return visible is None or channel_id in visible


def target_channel(interaction: discord.Interaction, channel: object | None, *, bot_posts: bool) -> Target:
    """The channel a command acts on (``channel``, else where it was used).

    Refused unless the member can see it and, with ``bot_posts``, the bot can post
    embeds in it; the error names what is missing.
    """
    guild, member = interaction.guild, interaction.user
    target = interaction.channel if channel is None else channel
    if (
        guild is None
        or not isinstance(member, discord.Member)
        or not isinstance(target, Target)
        or target.guild.id != guild.id
    ):
        raise NewsdeskError("Pick a text channel of this server.")
    if not target.permissions_for(member).view_channel:
        raise NewsdeskError(f"You can't see {target.mention}: you need the View Channel permission there.")
    if bot_posts:
        granted = target.permissions_for(guild.me)
        required = POSTABLE_IN_THREAD if isinstance(target, discord.Thread) else POSTABLE
        missing = [name for name, value in required if value and not getattr(granted, name)]
        if "send_messages_in_threads" in missing:
            missing = ["send_messages_in_threads"]  # discord.py clears Embed Links without it
        if missing:
            needed = ", ".join(m.replace("_", " ").title() for m in missing)
            raise NewsdeskError(f"I can't post in {target.mention}: I need {needed} there.")
    return target


def require_mentionable(interaction: discord.Interaction, role: discord.Role, channel: Target) -> None:
    """Refuse a role the member could not mention in ``channel`` themselves (Discord's own rule:
    a role that is not mentionable needs Mention @everyone), and @everyone itself.
    """
    member = interaction.user
    if role.is_default():
        raise NewsdeskError("Alerts can't mention @everyone; pick another role.")
    if role.mentionable:
        return
    if not isinstance(member, discord.Member) or not channel.permissions_for(member).mention_everyone:
        raise NewsdeskError(
            f"You can't mention {role.mention} in {channel.mention}: the role is not mentionable "
            "and you need the Mention @everyone permission there."
        )
