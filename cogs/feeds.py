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
from bot.feeds.destinations import with_threads, with_webhook
from bot.feeds.outputs import effective_template
from bot.feeds.service import MAX_BACKFILL
from bot.templates import Template
from bot.urls import normalize_url
from cogs.checks import can_see, manager_only, target_channel, visible_channel_ids
from cogs.feed_replies import (
    THREAD_MODE_CHOICES,
    check_mention_role,
    mention_set_text,
    require_bot_permissions,
    test_queued_text,
    threads_set_text,
    webhook_set_text,
)
from cogs.feed_views import (
    FeedChoiceView,
    StatusPager,
    import_report_text,
    parse_patterns,
    status_line,
    subscribed_message,
)
from cogs.format_views import PART_HELP, PRESET_CHOICES, describe, preview_kwargs, template_from_options
from cogs.thread_delivery import delivery_for_channel, postable_target

if TYPE_CHECKING:
    from bot.feeds.service import FeedService
    from cogs.client import NewsdeskBot

#: Largest OPML file accepted (Discord lets members upload far more).
MAX_OPML_BYTES = 1_000_000
#: Minimum seconds between two progress edits of an import (Discord's edit rate limit).
PROGRESS_EVERY_S = 1.5
#: ``/feed test`` uses per member and server in ``TEST_PER_S`` seconds (each one posts).
TEST_RATE, TEST_PER_S = 3, 60.0


class Feeds(commands.Cog):
    """Subscribe channels to RSS/Atom/JSON feeds; new stories are posted once, in order."""

    feed = app_commands.Group(name="feed", description="Follow news feeds in this server", guild_only=True)

    format_group = app_commands.Group(name="format", description="How a feed's posts look", parent=feed)

    def __init__(self, bot: NewsdeskBot) -> None:
        self.bot = bot

    @property
    def feeds(self) -> FeedService:
        return self.bot.core.feeds

    # --- commands ---------------------------------------------------------------------

    @feed.command(name="add", description="Follow a feed (or a site: its feed is found) in a channel")
    @app_commands.describe(
        url="The feed's or the site's address",
        channel="Where to post (default: this channel); in a forum, a post per item",
        extract="Fetch each article to show its own summary and image",
        backfill=f"How many of its newest items to post now, oldest first (0-{MAX_BACKFILL})",
    )
    @manager_only()
    async def add(
        self,
        interaction: discord.Interaction,
        url: str,
        channel: discord.TextChannel | discord.ForumChannel | None = None,
        extract: bool = False,
        backfill: app_commands.Range[int, 0, MAX_BACKFILL] | None = None,
    ) -> None:
        target = postable_target(interaction, channel)  # a forum gets a post per item
        url = normalize_url(url)
        await interaction.response.defer(ephemeral=True, thinking=True)
        found = await self.feeds.resolve(url)
        if len(found.candidates) == 1:
            await self.subscribe(
                interaction, target.id, found.candidates[0].url, extract=extract, backfill=backfill
            )
            return
        view = FeedChoiceView(
            self, interaction.user.id, target.id, found.candidates, extract=extract, backfill=backfill
        )
        await interaction.followup.send(view.prompt(), view=view, ephemeral=True)

    async def subscribe(
        self,
        interaction: discord.Interaction,
        channel_id: int,
        feed_url: str,
        *,
        extract: bool,
        backfill: int | None = None,
    ) -> None:
        """Subscribe and confirm; also the callback of the feed picker."""
        result = await self.feeds.subscribe(
            interaction.guild_id, channel_id, feed_url, user_id=interaction.user.id, extract=extract,
            backfill=backfill, delivery=delivery_for_channel(interaction.guild, channel_id),
        )  # fmt: skip
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

    @feed.command(name="mention", description="Ping a role on a feed's new posts (no role: stop pinging)")
    @app_commands.describe(
        subscription="The subscription whose posts ping",
        role="The role to ping; leave it out to stop pinging",
        only_matching="Only ping on items matching these words or /regex/, comma-separated (empty: all)",
    )
    @manager_only()
    async def mention(
        self,
        interaction: discord.Interaction,
        subscription: str,
        role: discord.Role | None = None,
        only_matching: str | None = None,
    ) -> None:
        subscription_id = await self.visible_subscription(interaction, subscription)
        patterns = parse_patterns(only_matching)
        if role is None:
            if patterns:
                raise NewsdeskError(
                    "Pick the role to ping with `only_matching`; without a role, pinging stops."
                )
            status = await self.feeds.set_mention(interaction.guild_id, subscription_id, None)
            await interaction.response.send_message(
                f"Posts no longer ping anyone.\n{status_line(status)}", ephemeral=True
            )
            return
        current = await self.feeds.get(interaction.guild_id, subscription_id)
        if current is None:
            raise SubscriptionNotFoundError(f"There is no subscription #{subscription_id} in this server.")
        note = check_mention_role(interaction, role, current.subscription.channel_id)
        status = await self.feeds.set_mention(interaction.guild_id, subscription_id, role.id, patterns)
        await interaction.response.send_message(mention_set_text(status, role, note), ephemeral=True)

    @feed.command(name="test", description="Post a feed's newest item now, to see how its posts look")
    @app_commands.describe(subscription="The subscription to test")
    @app_commands.checks.cooldown(TEST_RATE, TEST_PER_S, key=lambda i: (i.guild_id, i.user.id))
    @manager_only()
    async def test(self, interaction: discord.Interaction, subscription: str) -> None:
        subscription_id = await self.visible_subscription(interaction, subscription)
        await interaction.response.defer(ephemeral=True, thinking=True)
        queued = await self.feeds.test_post(interaction.guild_id, subscription_id)
        self.bot.core.wake_delivery()
        await interaction.followup.send(test_queued_text(queued), ephemeral=True)

    @feed.command(name="webhook", description="Post a feed under the outlet's name and avatar")
    @app_commands.describe(
        subscription="The subscription",
        enabled="Post through a webhook of the channel (off: as the bot)",
        name="The name its posts show (default: the feed's title)",
        avatar="An https:// image its posts show (default: the feed's icon)",
    )
    @manager_only()
    async def webhook(
        self,
        interaction: discord.Interaction,
        subscription: str,
        enabled: bool,
        name: str | None = None,
        avatar: str | None = None,
    ) -> None:
        subscription_id = await self.visible_subscription(interaction, subscription)
        if enabled:
            await self.require_bot_permissions(interaction, subscription_id, "manage_webhooks")
        status = await self.feeds.set_delivery(
            interaction.guild_id,
            subscription_id,
            lambda delivery: with_webhook(delivery, enabled=enabled, name=name, avatar_url=avatar),
        )
        await interaction.response.send_message(webhook_set_text(status), ephemeral=True)

    @feed.command(name="threads", description="A thread on each post; a story's later outlets in its thread")
    @app_commands.describe(
        subscription="The subscription",
        mode="A thread on each post, or none (a forum channel always gets a post per item)",
        story="Add later outlets reporting the same story to its thread instead of a new post",
    )
    @app_commands.choices(mode=THREAD_MODE_CHOICES)
    @manager_only()
    async def threads(
        self, interaction: discord.Interaction, subscription: str, mode: str, story: bool = False
    ) -> None:
        subscription_id = await self.visible_subscription(interaction, subscription)
        if mode == "item":
            await self.require_bot_permissions(
                interaction, subscription_id, "create_public_threads", "send_messages_in_threads"
            )
        status = await self.feeds.set_delivery(
            interaction.guild_id,
            subscription_id,
            lambda delivery: with_threads(delivery, mode=mode, story_threads=story),
        )
        await interaction.response.send_message(threads_set_text(status), ephemeral=True)

    async def require_bot_permissions(
        self, interaction: discord.Interaction, subscription_id: int, *permissions: str
    ) -> None:
        """Refuse, naming what is missing, unless the bot has ``permissions`` in the channel."""
        status = await self.feeds.get(interaction.guild_id, subscription_id)
        if status is None:
            raise SubscriptionNotFoundError(f"There is no subscription #{subscription_id} in this server.")
        require_bot_permissions(interaction, status.subscription.channel_id, permissions)

    @format_group.command(name="set", description="Set how a feed's posts look ({title}, {link}...)")
    @app_commands.describe(
        subscription="The subscription", preset="The layout to start from (default: full)", **PART_HELP
    )
    @app_commands.choices(preset=PRESET_CHOICES)
    @manager_only()
    async def format_set(
        self,
        interaction: discord.Interaction,
        subscription: str,
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
    ) -> None:
        subscription_id = await self.visible_subscription(interaction, subscription)
        template = template_from_options(
            preset, content=content, title=title, description=description, url=url, color=color,
            thumbnail=thumbnail, image=image, author=author, footer=footer,
        )  # fmt: skip
        status = await self.feeds.set_template(interaction.guild_id, subscription_id, template)
        await interaction.response.send_message(
            f"Format saved; the next posts use it.\n{describe(template)}\n{status_line(status)}",
            ephemeral=True,
        )

    @format_group.command(name="preview", description="Show the newest item with a format, privately")
    @app_commands.describe(
        subscription="The subscription", preset="The layout to start from (default: full)", **PART_HELP
    )
    @app_commands.choices(preset=PRESET_CHOICES)
    @manager_only()
    async def format_preview(
        self,
        interaction: discord.Interaction,
        subscription: str,
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
    ) -> None:
        subscription_id = await self.visible_subscription(interaction, subscription)
        parts = dict(content=content, title=title, description=description, url=url, color=color,
                     thumbnail=thumbnail, image=image, author=author, footer=footer)  # fmt: skip
        template: Template | None
        if preset is None and not any(parts.values()):  # nothing given: the format in use
            template = await self.current_template(interaction.guild_id, subscription_id)
        else:
            template = template_from_options(preset, **parts)
        spec = await self.feeds.preview_template(interaction.guild_id, subscription_id, template)
        note = "Preview of the newest item (only you see this; nothing is saved):"
        await interaction.response.send_message(
            **preview_kwargs(spec, note), ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )

    @format_group.command(name="clear", description="Post with the server's default format again")
    @app_commands.describe(subscription="The subscription")
    @manager_only()
    async def format_clear(self, interaction: discord.Interaction, subscription: str) -> None:
        subscription_id = await self.visible_subscription(interaction, subscription)
        status = await self.feeds.set_template(interaction.guild_id, subscription_id, None)
        await interaction.response.send_message(
            "Format cleared: posts use the server's default (`/newsdesk format`), else the full embed."
            f"\n{status_line(status)}",
            ephemeral=True,
        )

    async def current_template(self, guild_id: int | None, subscription_id: int) -> Template | None:
        """The template a subscription's posts use now (its own, else the server's default)."""
        status = await self.feeds.get(guild_id, subscription_id)
        return effective_template(status.subscription) if status is not None else None

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
    @format_set.autocomplete("subscription")
    @format_preview.autocomplete("subscription")
    @format_clear.autocomplete("subscription")
    @mention.autocomplete("subscription")
    @test.autocomplete("subscription")
    @webhook.autocomplete("subscription")
    @threads.autocomplete("subscription")
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
