"""Renderings of an article: terminal text, Markdown and JSON, and the Discord messages of /fetch.

The plain ones are used by ``newsdesk fetch``/``newsdesk extract`` and for the Markdown file
``/fetch full:true`` attaches to long articles. The Discord ones (:func:`summary_spec`,
:func:`page_spec`) are :class:`~bot.delivery.message.MessageSpec` s like every other message the
bot sends, fitted to Discord's limits there; ``cogs/article_views.py`` adds the buttons.
"""

from __future__ import annotations

import json
from typing import Literal

from bot.delivery.message import EmbedSpec, FieldSpec, MessageSpec
from bot.discord_text import escape_line_starts, escape_markdown, fit, neutralize_mentions, one_line
from bot.paging import split_text
from bot.types import Article

Format = Literal["text", "markdown", "json"]


def byline(article: Article) -> str:
    """ "Site · Author · 28 Nov 2026 · 4 min read", leaving out what is unknown."""
    parts = [article.site_name, article.author]
    if article.published:
        parts.append(article.published.strftime("%d %b %Y"))
    parts.append(f"{article.reading_minutes} min read")
    return " · ".join(p for p in parts if p)


def to_markdown(article: Article) -> str:
    lines = [f"# {article.title or 'Untitled'}", ""]
    lines += [f"*{byline(article)}*", ""]
    link = article.canonical_url or article.url
    if link:
        lines += [f"<{link}>", ""]
    if article.image_url:
        lines += [f"![]({article.image_url})", ""]
    lines.append(article.text)
    return "\n".join(lines).rstrip() + "\n"


def to_text(article: Article) -> str:
    title = article.title or "Untitled"
    lines = [title, "=" * min(len(title), 80), byline(article)]
    link = article.canonical_url or article.url
    if link:
        lines.append(link)
    lines += ["", "Summary: " + article.summary, "", article.text]
    return "\n".join(lines).rstrip() + "\n"


def to_json(article: Article) -> str:
    return json.dumps(article.to_dict(), ensure_ascii=False, indent=2) + "\n"


def render(article: Article, fmt: Format) -> str:
    renderers = {"text": to_text, "markdown": to_markdown, "json": to_json}
    return renderers[fmt](article)


# --- /fetch on Discord --------------------------------------------------------------------------

#: Characters of full text per page embed (a page, its title, site and footer stay within 6000).
PAGE_CHARS = 3800
#: Characters of the summary under the title.
SUMMARY_CHARS = 1500
ARTICLE_COLOUR = 0x2E86DE


def article_link(article: Article) -> str | None:
    return article.canonical_url or article.url


def summary_spec(article: Article, *, footer: str | None = None) -> MessageSpec:
    """Linked title, site, author, date, lead image, summary and reading time."""
    fields = []
    author = one_line(article.author)
    if author:  # Discord refuses a blank field value, and with it the whole message
        fields.append(FieldSpec("By", escape_markdown(author), inline=True))
    if article.published:
        fields.append(FieldSpec("Published", f"<t:{int(article.published.timestamp())}:D>", inline=True))
    minutes = "minute" if article.reading_minutes == 1 else "minutes"
    reading = f"{article.reading_minutes} {minutes} ({article.word_count:,} words)"
    fields.append(FieldSpec("Reading time", reading, inline=True))
    image = (
        article.image_url
        if article.image_url and article.image_url.startswith(("http://", "https://"))
        else None
    )
    summary = fit(escape_markdown(article.summary or article.description), SUMMARY_CHARS)
    return _article_spec(article, summary, footer=footer, fields=tuple(fields), image_url=image)


def article_pages(article: Article) -> list[str]:
    """The full text in pages of at most :data:`PAGE_CHARS`, escaped (at least one page)."""
    # Page text is the site's: escaped before it is split, so no page can hold a link of its own.
    # A page may start mid-paragraph, where a "# " or "1. " was not at a line start, so not
    # escaped: its start is escaped too (one character at most, kept free).
    pages = split_text(escape_markdown(article.text), PAGE_CHARS - 1)
    return [escape_line_starts(page) for page in pages] or [""]


def page_spec(article: Article, pages: list[str], index: int) -> MessageSpec:
    """Page ``index`` of ``pages`` (from :func:`article_pages`) under the article's title."""
    return _article_spec(article, pages[index], footer=f"Page {index + 1} of {len(pages)}")


def _article_spec(
    article: Article,
    description: str,
    *,
    footer: str | None = None,
    fields: tuple[FieldSpec, ...] = (),
    image_url: str | None = None,
) -> MessageSpec:
    site = one_line(article.site_name)
    embed = EmbedSpec(
        title=escape_markdown(one_line(article.title)) or "Untitled",
        url=article_link(article),
        description=description,
        # An author with a blank name is refused like a blank field. Every text is fitted to
        # Discord's limits by EmbedSpec itself.
        author_name=neutralize_mentions(site) if site else None,
        footer_text=footer,
        timestamp=article.published,
        image_url=image_url,
        colour=ARTICLE_COLOUR,
        fields=fields,
    )
    return MessageSpec(embeds=(embed,), allowed_role_ids=())
