"""/fetch: read an article from any link, right in the channel."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import discord
from discord import app_commands
from discord.ext import commands

from bot.urls import normalize_url
from cogs.article_views import FullTextButton, PageButton, full_text_message, summary_message

if TYPE_CHECKING:
    from cogs.client import NewsdeskBot


def fetch_cooldown(interaction: discord.Interaction) -> app_commands.Cooldown | None:
    """Per-member cooldown from ``commands.fetch_cooldown_*``; none when the period is 0."""
    settings = cast("NewsdeskBot", interaction.client).settings.commands
    if settings.fetch_cooldown_per_s <= 0:
        return None
    return app_commands.Cooldown(settings.fetch_cooldown_rate, settings.fetch_cooldown_per_s)


class Fetch(commands.Cog):
    """Fetch a web page, extract the article and show it as an embed."""

    def __init__(self, bot: NewsdeskBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(PageButton, FullTextButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(PageButton, FullTextButton)

    @app_commands.command(name="fetch", description="Read an article from a link")
    @app_commands.describe(url="The article's address (https://...)", full="Show the whole text")
    @app_commands.checks.dynamic_cooldown(fetch_cooldown)
    async def fetch(self, interaction: discord.Interaction, url: str, full: bool = False) -> None:
        # Checked before deferring so a typo gets an instant private answer.
        url = normalize_url(url)
        # Acknowledge first: fetching and extracting may well take more than 3 s.
        await interaction.response.defer(thinking=True)
        article = await self.bot.core.articles.get(url)
        if full:
            message = full_text_message(article, page=0, reader_id=interaction.user.id)
        else:
            message = summary_message(article)
        await interaction.followup.send(**message)


async def setup(bot: NewsdeskBot) -> None:
    await bot.add_cog(Fetch(bot))
