"""Who may do what: runtime checks for app commands.

Subscriptions are managed by members with Manage Channels, or with the role
named in ``commands.manager_role``. The check runs at invocation (not through
``default_permissions``) so a configured role works without server settings,
and anyone else gets a clear, private refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import discord
from discord import app_commands

T = TypeVar("T")


class NotAManager(app_commands.CheckFailure):
    def __init__(self, role: str | None) -> None:
        extra = f" or the {role} role" if role else ""
        super().__init__(f"You need the Manage Channels permission{extra} to manage news subscriptions.")


def is_manager(interaction: discord.Interaction) -> bool:
    """True when the member may manage this server's subscriptions."""
    member = interaction.user
    if not isinstance(member, discord.Member):
        return False
    if interaction.permissions.manage_channels or member.guild_permissions.manage_channels:
        return True
    role = interaction.client.settings.commands.manager_role  # type: ignore[attr-defined]
    return bool(role) and any(r.name == role for r in member.roles)


def manager_only() -> Callable[[T], T]:
    """Refuse members who may not manage subscriptions (and refuse DMs)."""

    async def predicate(interaction: discord.Interaction) -> bool:
        if interaction.guild is None:
            raise app_commands.NoPrivateMessage()
        if not is_manager(interaction):
            raise NotAManager(interaction.client.settings.commands.manager_role)  # type: ignore[attr-defined]
        return True

    return app_commands.check(predicate)
