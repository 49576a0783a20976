"""How /feed answers look: confirmations, the status list, the feed picker."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import discord

from bot.delivery.message import EmbedSpec
from bot.discord_text import escape_markdown, fit, link
from bot.feeds.posts import feed_item_message
from bot.storage.feed_records import SubscriptionStatus
from cogs.errors import handle_error
from cogs.publisher import to_embed

if TYPE_CHECKING:
    from bot.feeds.finder import FeedCandidate
    from bot.feeds.results import ImportReport, SubscribeResult
    from cogs.feeds import Feeds

LINES_PER_PAGE = 10
#: How long a picker or pager answers clicks; both are private and short-lived.
VIEW_TIMEOUT_S = 300


def parse_patterns(text: str | None) -> list[str]:
    """Comma-separated words or /regex/ → a list (commas inside /.../ are kept)."""
    if not text:
        return []
    patterns: list[str] = []
    current = ""
    in_regex = False
    for char in text:
        if char == "/" and not current.strip():
            in_regex = True
        elif char == "/" and in_regex:
            in_regex = False
        if char == "," and not in_regex:
            patterns.append(current.strip())
            current = ""
        else:
            current += char
    patterns.append(current.strip())
    return [p for p in patterns if p]


def status_line(status: SubscriptionStatus) -> str:
    """One line of /feed list: name, channel, health, next check."""
    feed, sub = status.feed, status.subscription
    name = fit(feed.title or feed.url, 80)
    parts = [f"`#{sub.id}` {link(name, feed.url)} → <#{sub.channel_id}>"]
    if status.paused:
        parts.append(f"⏸️ paused: {fit(escape_markdown(status.paused_reason or 'no reason given'), 120)}")
    elif status.failing:
        parts.append(
            f"⚠️ failing ({feed.failures}×): {fit(escape_markdown(feed.last_error or 'unknown error'), 120)}"
        )
    else:
        checked = discord.utils.format_dt(feed.last_success_at, "R") if feed.last_success_at else "never"
        parts.append(f"✅ last success {checked}")
    if not status.paused and feed.next_check_at is not None:
        parts.append(f"next check {discord.utils.format_dt(feed.next_check_at, 'R')}")
    if sub.include or sub.exclude:
        parts.append(f"filter: +{len(sub.include)} −{len(sub.exclude)}")
    if sub.extract:
        parts.append("full articles")
    if sub.mention_role_id is not None:
        parts.append(f"pings <@&{sub.mention_role_id}>" + (" on matches" if sub.mention_include else ""))
    return " · ".join(parts)


def subscribed_message(result: SubscribeResult, channel_id: int) -> dict[str, Any]:
    feed = result.feed
    lines = [f"<#{channel_id}> now follows **{escape_markdown(feed.title or feed.url)}**."]
    if result.posted > 1:
        lines.append(
            f"Its newest {result.posted} items are being posted there now, oldest first; "
            "new items will follow as they appear."
        )
    elif result.posted:
        lines.append("Its newest item is being posted there now; new items will follow as they appear.")
    else:
        lines.append("New items will be posted there as they appear.")
    kwargs: dict[str, Any] = {"content": "\n".join(lines)}
    if feed.newest is not None:
        spec = feed_item_message(feed.newest, feed.source)
        kwargs["embeds"] = [to_embed(e) for e in spec.embeds]
    return kwargs


def import_report_text(report: ImportReport, channel_id: int) -> str:
    added, skipped = len(report.added), len(report.skipped)
    lines = [f"Import into <#{channel_id}> done: {added} added, {skipped} already followed."]
    if report.errors:
        lines.append(f"{len(report.errors)} could not be added:")
        # Errors quote the file's titles and URLs: shown as written, never as links or pings.
        shown = [f"• {fit(escape_markdown(e), 150)}" for e in report.errors[:10]]
        lines += shown
        if len(report.errors) > len(shown):
            lines.append(f"… and {len(report.errors) - len(shown)} more.")
    return fit("\n".join(lines), 2000)


class StatusPager(discord.ui.View):
    """Previous/Next over /feed list lines (private, so only its reader clicks)."""

    def __init__(self, reader_id: int, lines: Sequence[str]) -> None:
        super().__init__(timeout=VIEW_TIMEOUT_S)
        self.reader_id = reader_id
        self.lines = list(lines)
        self.page = 0

    @property
    def pages(self) -> int:
        return max(1, -(-len(self.lines) // LINES_PER_PAGE))

    def page_message(self, page: int) -> dict[str, Any]:
        self.page = max(0, min(page, self.pages - 1))
        chunk = self.lines[self.page * LINES_PER_PAGE : (self.page + 1) * LINES_PER_PAGE]
        # Built and fitted like every other message (bot.delivery.message), then made a discord.Embed.
        embed = to_embed(
            EmbedSpec(
                title=f"Feeds ({len(self.lines)})",
                description="\n".join(chunk) or "No feeds yet. Add one with `/feed add`.",
                colour=discord.Colour.blurple().value,
                footer_text=f"Page {self.page + 1} of {self.pages}" if self.pages > 1 else None,
            )
        )
        self.previous.disabled = self.page == 0
        self.next.disabled = self.page >= self.pages - 1
        kwargs: dict[str, Any] = {"embed": embed}
        if self.pages > 1:
            kwargs["view"] = self
        return kwargs

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary)
    async def previous(
        self, interaction: discord.Interaction, button: discord.ui.Button[StatusPager]
    ) -> None:
        await interaction.response.edit_message(**self.page_message(self.page - 1))

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary)
    async def next(self, interaction: discord.Interaction, button: discord.ui.Button[StatusPager]) -> None:
        await interaction.response.edit_message(**self.page_message(self.page + 1))


class FeedChoiceView(discord.ui.View):
    """A site announces several feeds: the member picks one."""

    def __init__(
        self,
        cog: Feeds,
        user_id: int,
        channel_id: int,
        candidates: Sequence[FeedCandidate],
        *,
        extract: bool,
        backfill: int | None = None,
    ) -> None:
        super().__init__(timeout=VIEW_TIMEOUT_S)
        self.cog = cog
        self.user_id = user_id
        self.channel_id = channel_id
        self.extract = extract
        self.backfill = backfill
        self.candidates = list(candidates)[:25]
        self.choose.options = [
            discord.SelectOption(
                label=fit(c.title or c.url, 100),
                value=str(i),
                description=fit(c.url, 100),
            )
            for i, c in enumerate(self.candidates)
        ]

    def prompt(self) -> str:
        return f"This site offers {len(self.candidates)} feeds. Which one should <#{self.channel_id}> follow?"

    # cls given (the default) so type checkers can tell what self.choose is.
    @discord.ui.select(cls=discord.ui.Select, placeholder="Pick a feed", min_values=1, max_values=1)
    async def choose(
        self, interaction: discord.Interaction, select: discord.ui.Select[FeedChoiceView]
    ) -> None:
        try:
            candidate = self.candidates[int(select.values[0])]
            await interaction.response.edit_message(content=f"Subscribing to {candidate.url}…", view=None)
            self.stop()
            await self.cog.subscribe(
                interaction, self.channel_id, candidate.url, extract=self.extract, backfill=self.backfill
            )
        except Exception as e:
            await handle_error(interaction, e)
