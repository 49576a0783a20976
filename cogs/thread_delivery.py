"""Threads: a forum post, or a thread opened on the message, per item; a story's later outlets in its thread.

SKELETON (issue 13, point 3): being written; see /work/notes/issue13.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import discord

from bot.delivery.destination import Destination
from bot.delivery.errors import MessageRejectedError
from bot.delivery.message import MessageSpec
from bot.errors import NewsdeskError
from bot.feeds.destinations import DEFAULT_DELIVERY, PostDelivery
from bot.storage import Database
from cogs.checks import target_channel

if TYPE_CHECKING:
    from cogs.publisher import DiscordPublisher


#: What the bot needs in a forum: Send Messages is "Create Posts" there.
FORUM_POSTABLE = discord.Permissions(
    view_channel=True, send_messages=True, send_messages_in_threads=True, embed_links=True
)


def forum_target(interaction: discord.Interaction, forum: discord.ForumChannel) -> discord.ForumChannel:
    """``forum`` as ``/feed add``'s channel: refused unless the member sees it and the bot may
    create posts with embeds there; the error names what is missing.
    """
    guild, member = interaction.guild, interaction.user
    if guild is None or not isinstance(member, discord.Member) or forum.guild.id != guild.id:
        raise NewsdeskError("Pick a text or forum channel of this server.")
    if not forum.permissions_for(member).view_channel:
        raise NewsdeskError(f"You can't see {forum.mention}: you need the View Channel permission there.")
    granted = forum.permissions_for(guild.me)
    missing = [name for name, value in FORUM_POSTABLE if value and not getattr(granted, name)]
    if missing:
        needed = ", ".join(
            "Send Messages (Create Posts)" if m == "send_messages" else m.replace("_", " ").title()
            for m in missing
        )
        raise NewsdeskError(f"I can't post in {forum.mention}: I need {needed} there.")
    return forum


def postable_target(
    interaction: discord.Interaction, channel: discord.TextChannel | discord.ForumChannel | None
) -> discord.TextChannel | discord.Thread | discord.ForumChannel:
    """``/feed add``'s channel (default: where it was used), checked as :func:`forum_target` or
    :func:`cogs.checks.target_channel` check it.
    """
    if isinstance(channel, discord.ForumChannel):
        return forum_target(interaction, channel)
    return target_channel(interaction, channel, bot_posts=True)


def delivery_for_channel(guild: discord.Guild | None, channel_id: int) -> PostDelivery:
    """How a new subscription in ``channel_id`` posts: a forum post per item in a forum."""
    channel = guild.get_channel(channel_id) if guild is not None else None
    return PostDelivery(forum=True) if isinstance(channel, discord.ForumChannel) else DEFAULT_DELIVERY


class ThreadSender:
    def __init__(self, client: discord.Client, db: Database, publisher: DiscordPublisher) -> None:
        self._client = client
        self._db = db
        self._publisher = publisher

    async def send(self, channel_id: int, spec: MessageSpec, *, nonce: str, destination: Destination) -> int:
        raise MessageRejectedError("thread posts are not supported yet", channel_id)

    async def find_posted(
        self, channel_id: int, spec: MessageSpec, *, since: datetime, destination: Destination
    ) -> int | None:
        return None
