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

from bot.discord_text import escape_line_starts, escape_markdown, fit, neutralize_mentions, one_line
from bot.errors import NewsdeskError
from bot.paging import split_text
from bot.render import to_markdown
from bot.types import Article
from cogs.cooldowns import check_article_button
from cogs.errors import handle_error

if TYPE_CHECKING:
    from cogs.client import NewsdeskBot

# Discord's limits: 256 per title, 4096 per description, 6000 per message.
TITLE_LIMIT = 256
PAGE_CHARS = 3800
SUMMARY_CHARS = 1500
# Beyond this many pages an article is easier to read as a file.
MAX_EMBED_PAGES = 8
#: The longest URL Discord takes for a link button.
BUTTON_URL_MAX = 512
EMBED_COLOUR = discord.Colour.from_rgb(46, 134, 222)


def article_link(article: Article) -> str | None:
    return article.canonical_url or article.url


def _base_embed(article: Article, description: str) -> discord.Embed:
    embed = discord.Embed(
        title=fit(escape_markdown(one_line(article.title)) or "Untitled", TITLE_LIMIT),
        url=article_link(article),
        description=description,
        colour=EMBED_COLOUR,
        timestamp=article.published,
    )
    site = one_line(article.site_name)
    if site:  # an author with a blank name is refused like a blank field
        embed.set_author(name=fit(neutralize_mentions(site), 256))
    return embed


def summary_embed(article: Article) -> discord.Embed:
    """Linked title, site, author, date, lead image, summary and reading time."""
    embed = _base_embed(article, fit(escape_markdown(article.summary or article.description), SUMMARY_CHARS))
    author = one_line(article.author)
    if author:  # Discord refuses a blank field value, and with it the whole message
        embed.add_field(name="By", value=fit(escape_markdown(author), 1024), inline=True)
    if article.published:
        embed.add_field(name="Published", value=discord.utils.format_dt(article.published, "D"), inline=True)
    minutes = "minute" if article.reading_minutes == 1 else "minutes"
    embed.add_field(
        name="Reading time",
        value=f"{article.reading_minutes} {minutes} ({article.word_count:,} words)",
        inline=True,
    )
    if article.image_url and article.image_url.startswith(("http://", "https://")):
        embed.set_image(url=article.image_url)
    return embed


def article_pages(article: Article) -> list[str]:
    # Page text is the site's: escaped before it is split, so no page can hold a link of its own.
    # A page may start mid-paragraph, where a "# " or "1. " was not at a line start, so not
    # escaped: its start is escaped too (one character at most, kept free).
    pages = split_text(escape_markdown(article.text), PAGE_CHARS - 1)
    return [escape_line_starts(page) for page in pages] or [""]


def page_embed(article: Article, pages: list[str], index: int) -> discord.Embed:
    embed = _base_embed(article, pages[index])
    embed.set_footer(text=f"Page {index + 1} of {len(pages)}")
    return embed


def markdown_file(article: Article) -> discord.File:
    slug = re.sub(r"[^a-z0-9]+", "-", (article.title or "article").lower()).strip("-")[:60] or "article"
    data = to_markdown(article).encode("utf-8")
    return discord.File(io.BytesIO(data), filename=f"{slug}.md", description="Full text (Markdown)")


def summary_message(article: Article) -> dict[str, Any]:
    """Keyword arguments for sending the summary with its buttons."""
    view = discord.ui.View(timeout=None)
    view.add_item(FullTextButton())
    add_open_button(view, article)
    return {"embed": summary_embed(article), "view": view}


def full_text_message(article: Article, *, page: int, reader_id: int) -> dict[str, Any]:
    """Keyword arguments for one page of the full text, or a Markdown file when long."""
    pages = article_pages(article)
    if len(pages) > MAX_EMBED_PAGES:
        embed = summary_embed(article)
        embed.set_footer(text=f"The full text ({article.word_count:,} words) is attached as Markdown.")
        return {"embed": embed, "file": markdown_file(article)}
    page = max(0, min(page, len(pages) - 1))
    view = discord.ui.View(timeout=None)
    if len(pages) > 1:
        view.add_item(PageButton(reader_id, "p", page - 1, disabled=page == 0))
        view.add_item(PageButton(reader_id, "n", page + 1, disabled=page >= len(pages) - 1))
    add_open_button(view, article)
    return {"embed": page_embed(article, pages, page), "view": view}


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
