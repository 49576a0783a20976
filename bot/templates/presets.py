"""The built-in layouts. ``full`` is the fixed embed every feed post had before templates
(:func:`full_message`, kept byte for byte); the others are templates written in the syntax.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from bot.delivery.message import AUTHOR_LIMIT, TITLE_LIMIT, EmbedSpec, MessageSpec
from bot.discord_text import escape_markdown, fit, neutralize_mentions, one_line
from bot.feeds.types import Feed, FeedEntry
from bot.types import Article

#: Longest summary in an embed (UTF-16 units); cut at a word boundary, with an ellipsis.
SUMMARY_CHARS = 350
#: Longest summary as Markdown (UTF-16 units): its links' addresses count but do not show, so it
#: has more room than :data:`SUMMARY_CHARS`; cut never inside a link.
SUMMARY_MARKDOWN_CHARS = 700
#: Embed colour of feed posts (a calm blue).
FEED_COLOUR = 0x3B82F6

#: The parts of each preset written as a template (``full`` is :func:`full_message`).
PRESET_PARTS: dict[str, dict[str, str]] = {
    "full": {},
    "compact": {"content": "**{title}** · {link}"},
    "headline": {"title": "{title}", "url": "{link}", "author": "{source}"},
    "image": {
        "title": "{title}",
        "url": "{link}",
        "image": "{image}",
        "author": "{source}",
        "footer": "{author}",
    },
}


def full_message(entry: FeedEntry, feed: Feed, article: Article | None = None) -> MessageSpec:
    """The ``full`` preset: linked title, source name and icon, published time, a short clean
    summary (the feed's as Markdown once :func:`bot.feeds.posts.ready_to_post` made it) and an
    image. With ``article`` (``extract:true``), its summary is used when it has one, and its
    lead image (``og:image``) when the feed gave no picture.
    """
    link = http_url(entry.link)
    summary_source = (article.summary or article.description) if article else None
    plain = fit(escape_markdown(one_line(summary_source or entry.summary)), SUMMARY_CHARS) or None
    title = fit(escape_markdown(one_line(entry.title)), TITLE_LIMIT) or fit(plain or "", 100)
    summary = plain if summary_source or entry.summary_markdown is None else entry.summary_markdown
    # The author line and the footer show text as it is (no Markdown): only mentions are broken.
    source_name = source_of(feed)
    embed = EmbedSpec(
        title=title or "(untitled)",
        url=link,
        description=(summary or None) if plain != title else None,
        author_name=fit(source_name, AUTHOR_LIMIT) if source_name else None,
        author_url=http_url(feed.site_url),
        author_icon_url=http_url(feed.icon_url),
        footer_text=fit(neutralize_mentions(one_line(entry.author)), 100) if entry.author else None,
        timestamp=entry.published,
        image_url=item_image(entry, article),
        colour=FEED_COLOUR,
    )
    return MessageSpec(embeds=(embed,), allowed_role_ids=())


def item_image(entry: FeedEntry, article: Article | None) -> str | None:
    """The post's picture: the feed's (media, enclosure, else the summary's first image), else
    the page's ``og:image`` from extraction.
    """
    return http_url(entry.image_url) or (http_url(article.image_url) if article else None)


def source_of(feed: Feed) -> str:
    """The outlet's name as shown (mentions broken): the feed title, else its site's host."""
    return neutralize_mentions(one_line(feed.title)) or host(feed.site_url or feed.url)


def http_url(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) address Discord takes, else ``None``."""
    if url and url.startswith(("http://", "https://")) and len(url) <= 2000:
        return url
    return None


def host(url: str) -> str:
    try:
        return urlsplit(url).hostname or url
    except ValueError:
        return url
