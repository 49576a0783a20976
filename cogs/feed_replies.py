"""Replies and checks of /feed mention, test, webhook and threads (the handlers are in cogs/feeds.py)."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.discord_text import escape_markdown, fit
from bot.errors import NewsdeskError
from bot.feeds.mentions import RoleFacts, mention_refusal
from bot.feeds.results import TestPost
from bot.storage.feed_records import SubscriptionStatus
from cogs.feed_views import status_line

THREAD_MODE_CHOICES = [
    app_commands.Choice(name="a thread on each post", value="item"),
    app_commands.Choice(name="no threads", value="none"),
]


def check_mention_role(interaction: discord.Interaction, role: discord.Role, channel_id: int) -> str | None:
    """Refuse a role the member may not have the bot ping in the subscription's channel (see
    :func:`bot.feeds.mentions.mention_refusal`); a note when the bot itself cannot ping it.
    """
    guild, member = interaction.guild, interaction.user
    channel = guild.get_channel_or_thread(channel_id) if guild is not None else None
    if guild is None or channel is None or not isinstance(member, discord.Member):
        raise NewsdeskError("I can't find that subscription's channel any more.")
    facts = RoleFacts(
        id=role.id,
        mention=role.mention,
        is_default=role.is_default(),
        managed=role.managed
        or role.is_bot_managed()
        or role.is_integration()
        or role.is_premium_subscriber(),
        mentionable=role.mentionable,
    )
    refusal = mention_refusal(facts, may_mention_everyone=channel.permissions_for(member).mention_everyone)
    if refusal is not None:
        raise NewsdeskError(refusal)
    if not role.mentionable and not channel.permissions_for(guild.me).mention_everyone:
        return (
            f"Note: {role.mention} is not mentionable and I lack Mention @everyone in <#{channel_id}>, "
            "so Discord will show the mention without pinging."
        )
    return None


def mention_set_text(status: SubscriptionStatus, role: discord.Role, note: str | None) -> str:
    sub = status.subscription
    which = "each new post"
    if sub.mention_include:
        shown = ", ".join(f"`{fit(p.replace('`', ''), 60)}`" for p in sub.mention_include[:10])
        which = f"new posts matching {shown}"
    lines = [
        f"{role.mention} will be pinged on {which} in <#{sub.channel_id}>.",
        f"To stop: `/feed mention subscription:#{sub.id}` without a role.",
    ]
    if note:
        lines.append(note)
    lines.append(status_line(status))
    return fit("\n".join(lines), 2000)


def test_queued_text(queued: TestPost) -> str:
    sub = queued.status.subscription
    title = fit(escape_markdown(queued.title or queued.url or "untitled"), 150)
    lines = [f"Posting **{title}** to <#{sub.channel_id}> as a test; it shows up there in a moment."]
    if queued.role_id is not None:
        lines.append(f"It shows <@&{queued.role_id}> as a real post would, but a test pings nobody.")
    lines.append("New items are still posted as usual, this one too if it is not posted yet.")
    return "\n".join(lines)


def require_bot_permissions(
    interaction: discord.Interaction, channel_id: int, permissions: tuple[str, ...]
) -> None:
    """Refuse, naming what is missing, unless the bot has each of ``permissions`` in the channel."""
    guild = interaction.guild
    channel = guild.get_channel_or_thread(channel_id) if guild is not None else None
    if guild is None or channel is None:
        raise NewsdeskError("I can't find that subscription's channel any more.")
    granted = channel.permissions_for(guild.me)
    missing = [name for name in permissions if not getattr(granted, name)]
    if missing:
        needed = ", ".join(m.replace("_", " ").title() for m in missing)
        raise NewsdeskError(f"I need {needed} in <#{channel_id}> for that.")


def webhook_set_text(status: SubscriptionStatus) -> str:
    delivery = status.subscription.delivery
    if not delivery.webhook:
        return f"Posts come from me again.\n{status_line(status)}"
    name = escape_markdown(delivery.webhook_name) if delivery.webhook_name else "the feed's title"
    avatar = "the avatar you gave" if delivery.webhook_avatar_url else "the feed's icon"
    return fit(
        f"Posts come through a webhook of <#{status.subscription.channel_id}> as **{name}** with "
        f"{avatar}. I make the webhook when the next post goes out (and again if it is deleted).\n"
        f"{status_line(status)}",
        2000,
    )


def threads_set_text(status: SubscriptionStatus) -> str:
    delivery = status.subscription.delivery
    if delivery.forum:
        where = "Each item is a post of the forum, tagged with its categories where a tag matches."
    elif delivery.threads == "item":
        where = "Each post gets a thread named after its title."
    else:
        where = "Posts go in the channel, without threads."
    if delivery.story_threads:
        where += " Later outlets reporting the same story go into its thread."
    return f"{where}\n{status_line(status)}"
