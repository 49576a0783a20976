"""How an article looks on Discord: the summary embed, full-text pages and their buttons.

The buttons are stateless (``DynamicItem``): the page number and the reader
live in the ``custom_id`` and the article URL in the message's embed, so
they keep working after a restart; the article itself comes from the cache.
Each member may press them ``commands.button_cooldown_rate`` times per
``commands.button_cooldown_per_s`` seconds (see :mod:`cogs.cooldowns`).
"""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING, Any, cast

import discord

from bot.delivery.message import MessageSpec
from bot.errors import NewsdeskError
from bot.render import PAGE_CHARS as PAGE_CHARS  # where tests and older callers look for it
from bot.render import article_link, article_pages, page_spec, summary_spec, to_markdown
from bot.types import Article
from cogs.cooldowns import check_article_button
from cogs.errors import handle_error
from cogs.publisher import allowed_mentions, to_embed

if TYPE_CHECKING:
    from cogs.client import NewsdeskBot

# Beyond this many pages an article is easier to read as a file.
MAX_EMBED_PAGES = 8
#: The longest URL Discord takes for a link button.
BUTTON_URL_MAX = 512


def _message(spec: MessageSpec) -> dict[str, Any]:
    """Keyword arguments for sending ``spec`` (one embed) as discord.py takes them."""
    return {"embed": to_embed(spec.embeds[0]), "allowed_mentions": allowed_mentions(spec)}


def markdown_file(article: Article) -> discord.File:
    slug = re.sub(r"[^a-z0-9]+", "-", (article.title or "article").lower()).strip("-")[:60] or "article"
    data = to_markdown(article).encode("utf-8")
    return discord.File(io.BytesIO(data), filename=f"{slug}.md", description="Full text (Markdown)")


def summary_message(article: Article) -> dict[str, Any]:
    """Keyword arguments for sending the summary with its buttons."""
    view = discord.ui.View(timeout=None)
    view.add_item(FullTextButton())
    add_open_button(view, article)
    return {**_message(summary_spec(article)), "view": view}


def full_text_message(article: Article, *, page: int, reader_id: int) -> dict[str, Any]:
    """Keyword arguments for one page of the full text, or a Markdown file when long."""
    pages = article_pages(article)
    if len(pages) > MAX_EMBED_PAGES:
        note = f"The full text ({article.word_count:,} words) is attached as Markdown."
        return {**_message(summary_spec(article, footer=note)), "file": markdown_file(article)}
    page = max(0, min(page, len(pages) - 1))
    view = discord.ui.View(timeout=None)
    if len(pages) > 1:
        view.add_item(PageButton(reader_id, "p", page - 1, disabled=page == 0))
        view.add_item(PageButton(reader_id, "n", page + 1, disabled=page >= len(pages) - 1))
    add_open_button(view, article)
    return {**_message(page_spec(article, pages, page)), "view": view}


def add_open_button(view: discord.ui.View, article: Article) -> None:
    """The "Open article" link button, when Discord takes the link: a link button's URL may have
    512 characters at most (a whole message with a longer one is refused); the title links anyway.
    """
    link = article_link(article)
    if link and len(link) <= BUTTON_URL_MAX:
        view.add_item(discord.ui.Button(label="Open article", url=link))


def url_of(message: discord.Message | None) -> str | None:
    """The article URL a newsdesk message is about (its first embed's link)."""
    if message is None or not message.embeds:
        return None
    return message.embeds[0].url


class PageButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"nd:page:(?P<reader>\d+):(?P<direction>[pn]):(?P<page>-?\d+)",
):
    """Previous/Next on a full-text page. Others who click get their own private copy."""

    def __init__(self, reader_id: int, direction: str, page: int, *, disabled: bool = False) -> None:
        label = "Previous" if direction == "p" else "Next"
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.secondary,
                custom_id=f"nd:page:{reader_id}:{direction}:{page}",
                disabled=disabled,
            )
        )
        self.reader_id = reader_id
        self.page = page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> PageButton:
        return cls(int(match["reader"]), match["direction"], int(match["page"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            check_article_button(interaction)
            if interaction.user.id == self.reader_id:
                await interaction.response.defer()
                article = await _article_of(interaction)
                kwargs = full_text_message(article, page=self.page, reader_id=self.reader_id)
                await interaction.edit_original_response(**kwargs)
            else:
                await _send_private_copy(interaction, self.page)
        except Exception as e:
            await handle_error(interaction, e)


class FullTextButton(discord.ui.DynamicItem[discord.ui.Button], template=r"nd:full"):
    """ "Full text" under a summary: the whole article, privately, for whoever clicks."""

    def __init__(self) -> None:
        super().__init__(
            discord.ui.Button(label="Full text", style=discord.ButtonStyle.primary, custom_id="nd:full")
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> FullTextButton:
        return cls()

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            check_article_button(interaction)
            await _send_private_copy(interaction, 0)
        except Exception as e:
            await handle_error(interaction, e)


async def _send_private_copy(interaction: discord.Interaction, page: int) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    article = await _article_of(interaction)
    kwargs = full_text_message(article, page=page, reader_id=interaction.user.id)
    await interaction.followup.send(**kwargs, ephemeral=True)


async def _article_of(interaction: discord.Interaction) -> Article:
    url = url_of(interaction.message)
    if not url:
        raise NewsdeskError("This message no longer links to an article.")
    bot = cast("NewsdeskBot", interaction.client)  # buttons are only registered by newsdesk's client
    return await bot.core.articles.get(url)
