"""/feed: channels follow news feeds. Handlers parse options, call FeedService, format the reply."""

from __future__ import annotations

import builtins
import io
import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import NewsdeskError, SubscriptionNotFoundError
from bot.urls import normalize_url
from cogs.checks import can_see, manager_only, target_channel, visible_channel_ids
from cogs.feed_views import (
    FeedChoiceView,
    StatusPager,
    import_report_text,
    parse_patterns,
    status_line,
    subscribed_message,
)

if TYPE_CHECKING:
    from bot.feeds.service import FeedService
    from cogs.client import NewsdeskBot

#: Largest OPML file accepted (Discord lets members upload far more).
MAX_OPML_BYTES = 1_000_000
#: Minimum seconds between two progress edits of an import (Discord's edit rate limit).
PROGRESS_EVERY_S = 1.5


class Feeds(commands.Cog):
    """Subscribe channels to RSS/Atom/JSON feeds; new stories are posted once, in order."""

    feed = app_commands.Group(name="feed", description="Follow news feeds in this server", guild_only=True)

    def __init__(self, bot: NewsdeskBot) -> None:
        self.bot = bot

    @property
    def feeds(self) -> FeedService:
        return self.bot.core.feeds

    # --- commands ---------------------------------------------------------------------

    @feed.command(name="add", description="Follow a feed (or a site: its feed is found) in a channel")
    @app_commands.describe(
        url="The feed's or the site's address",
        channel="Where to post (default: this channel)",
        extract="Fetch each article to show its own summary and image",
    )
    @manager_only()
    async def add(
        self,
        interaction: discord.Interaction,
        url: str,
        channel: discord.TextChannel | None = None,
        extract: bool = False,
    ) -> None:
        target = target_channel(interaction, channel, bot_posts=True)
        url = normalize_url(url)
        await interaction.response.defer(ephemeral=True, thinking=True)
        found = await self.feeds.resolve(url)
        if len(found.candidates) == 1:
            await self.subscribe(interaction, target.id, found.candidates[0].url, extract=extract)
            return
        view = FeedChoiceView(self, interaction.user.id, target.id, found.candidates, extract=extract)
        await interaction.followup.send(view.prompt(), view=view, ephemeral=True)

    async def subscribe(
        self, interaction: discord.Interaction, channel_id: int, feed_url: str, *, extract: bool
    ) -> None:
        """Subscribe and confirm; also the callback of the feed picker."""
        result = await self.feeds.subscribe(
            interaction.guild_id, channel_id, feed_url, user_id=interaction.user.id, extract=extract
        )
        self.bot.core.wake_delivery()
        self.bot.core.wake_poller()  # its next check is due in seconds, not at the next nap's end
        await interaction.followup.send(**subscribed_message(result, channel_id), ephemeral=True)

    @feed.command(name="remove", description="Stop following a feed")
    @app_commands.describe(subscription="The subscription to remove")
    @manager_only()
    async def remove(self, interaction: discord.Interaction, subscription: str) -> None:
        subscription_id = await self.visible_subscription(interaction, subscription)
        removed = await self.feeds.remove(interaction.guild_id, subscription_id)
        if not removed:
            raise NewsdeskError("That subscription does not exist (any more).")
        await interaction.response.send_message(
            "Removed. Nothing more will be posted from it.", ephemeral=True
        )

    @feed.command(name="list", description="This server's feeds and how they are doing")
    @app_commands.describe(channel="Only this channel's feeds")
    @manager_only()
    async def list(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        only = target_channel(interaction, channel, bot_posts=False).id if channel else None
        await interaction.response.defer(ephemeral=True, thinking=True)
        statuses = await self.feeds.list(
            interaction.guild_id, only, channel_ids=visible_channel_ids(interaction)
        )
        pager = StatusPager(interaction.user.id, [status_line(s) for s in statuses])
        await interaction.followup.send(**pager.page_message(0), ephemeral=True)

    @feed.command(name="filter", description="Only post items that match (or don't match) some words")
    @app_commands.describe(
        subscription="The subscription to filter",
        include="Words or /regex/ an item must match, separated by commas (empty: everything)",
        exclude="Words or /regex/ that drop an item, separated by commas",
    )
    @manager_only()
    async def filter(
        self,
        interaction: discord.Interaction,
        subscription: str,
        include: str | None = None,
        exclude: str | None = None,
    ) -> None:
        status = await self.feeds.set_filter(
            interaction.guild_id,
            await self.visible_subscription(interaction, subscription),
            parse_patterns(include),
            parse_patterns(exclude),
        )
        await interaction.response.send_message(f"Filter saved.\n{status_line(status)}", ephemeral=True)

    @feed.command(name="resume", description="Resume a paused or failing feed")
    @app_commands.describe(subscription="The subscription to resume")
    @manager_only()
    async def resume(self, interaction: discord.Interaction, subscription: str) -> None:
        subscription_id = await self.visible_subscription(interaction, subscription)
        status = await self.feeds.resume(interaction.guild_id, subscription_id)
        # Posts held while the channel was unreachable go out now, in order.
        await self.bot.core.resume_delivery(status.subscription.channel_id)
        self.bot.core.wake_poller()
        await interaction.response.send_message(
            f"Resumed; the feed will be checked shortly.\n{status_line(status)}", ephemeral=True
        )

    @feed.command(name="import", description="Follow every feed of an OPML file")
    @app_commands.describe(file="An .opml file exported from another reader", channel="Where to post")
    @manager_only()
    async def import_(
        self,
        interaction: discord.Interaction,
        file: discord.Attachment,
        channel: discord.TextChannel | None = None,
    ) -> None:
        target = target_channel(interaction, channel, bot_posts=True)
        if file.size > MAX_OPML_BYTES:
            raise NewsdeskError(
                f"That file is too large ({file.size:,} bytes); the limit is {MAX_OPML_BYTES:,}."
            )
        await interaction.response.defer(ephemeral=True, thinking=True)
        data = await file.read()
        last_edit = 0.0

        async def progress(done: int, total: int) -> None:
            nonlocal last_edit
            if time.monotonic() - last_edit >= PROGRESS_EVERY_S and done < total:
                last_edit = time.monotonic()
                await interaction.edit_original_response(content=f"Importing… {done}/{total} feeds checked.")

        report = await self.feeds.import_opml(
            interaction.guild_id, target.id, data, user_id=interaction.user.id, progress=progress
        )
        self.bot.core.wake_poller()
        await interaction.edit_original_response(content=import_report_text(report, target.id))

    @feed.command(name="export", description="Download this server's feeds as an OPML file")
    @app_commands.describe(channel="Only this channel's feeds")
    @manager_only()
    async def export(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        only = target_channel(interaction, channel, bot_posts=False).id if channel else None
        await interaction.response.defer(ephemeral=True, thinking=True)
        data = await self.feeds.export_opml(
            interaction.guild_id, only, channel_ids=visible_channel_ids(interaction)
        )
        file = discord.File(io.BytesIO(data), filename="newsdesk-feeds.opml")
        await interaction.followup.send("Here are the feeds.", file=file, ephemeral=True)

    async def visible_subscription(self, interaction: discord.Interaction, value: str) -> int:
        """The id of a subscription option; one in a channel the member cannot see is refused
        as if it did not exist.
        """
        subscription_id = parse_subscription_id(value)
        status = await self.feeds.get(interaction.guild_id, subscription_id)
        if status is None or not can_see(interaction, status.subscription.channel_id):
            raise SubscriptionNotFoundError(f"There is no subscription #{subscription_id} in this server.")
        return subscription_id

    # --- autocomplete -----------------------------------------------------------------

    @remove.autocomplete("subscription")
    @filter.autocomplete("subscription")
    @resume.autocomplete("subscription")
    @manager_only()  # discord.py runs the commands' checks on invocation only, not on autocomplete
    async def subscription_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> builtins.list[app_commands.Choice[str]]:  # builtins: the command list above shadows the type here
        choices = await self.feeds.autocomplete(
            interaction.guild_id, current, channel_ids=visible_channel_ids(interaction)
        )
        return [app_commands.Choice(name=name, value=value) for name, value in choices]


def parse_subscription_id(value: str) -> int:
    """The id behind an autocompleted choice (members may also type the number)."""
    try:
        return int(value.strip().lstrip("#"))
    except ValueError:
        raise NewsdeskError("Pick a subscription from the list (start typing its name).") from None


async def setup(bot: NewsdeskBot) -> None:
    await bot.add_cog(Feeds(bot))
