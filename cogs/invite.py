"""The invite link: exactly the scopes and permissions newsdesk needs."""

from __future__ import annotations

import discord

#: What the bot needs in a channel: read it, post embeds and files there, and read back its
#: own recent posts (so a post retried after a crash is found rather than repeated).
REQUIRED_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
)


def invite_url(application_id: int, *, guild_id: int | None = None) -> str:
    """The OAuth2 URL that adds the bot with the ``bot`` and ``applications.commands`` scopes."""
    return discord.utils.oauth_url(
        application_id,
        permissions=REQUIRED_PERMISSIONS,
        guild=discord.Object(guild_id) if guild_id else discord.utils.MISSING,
        scopes=("bot", "applications.commands"),
    )
