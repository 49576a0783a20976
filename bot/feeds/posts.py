"""What a feed item looks like in a channel: a :class:`MessageSpec` with one embed.

Feed text is written by strangers: it enters the post escaped (:mod:`bot.discord_text`), so it
shows as written with no masked link, formatting or mention of its own, and the spec allows no
mentions either. A summary written in HTML becomes the converter's Markdown
(:mod:`bot.feeds.markdown`: its links, paragraphs, lists and quotes, all text escaped) once the
entry is about to be posted (:func:`ready_to_post`), never for every parsed entry.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence

from bot.delivery.message import TITLE_LIMIT, EmbedSpec, MessageSpec
from bot.discord_text import escape_markdown, fit, one_line, safe_url
from bot.feeds.markdown import html_to_markdown
from bot.feeds.types import Feed, FeedEntry
from bot.templates import Template, render_post
from bot.templates.presets import FEED_COLOUR, SUMMARY_CHARS, SUMMARY_MARKDOWN_CHARS
from bot.types import Article

__all__ = [
    "FEED_COLOUR",
    "NOTICE_COLOUR",
    "SUMMARY_CHARS",
    "feed_item_message",
    "notice_message",
    "ready_all",
    "ready_to_post",
]

#: Embed colour of notices about a subscription (amber).
NOTICE_COLOUR = 0xF59E0B


def feed_item_message(
    entry: FeedEntry, feed: Feed, *, article: Article | None = None, template: Template | None = None
) -> MessageSpec:
    """The post for ``entry`` of ``feed``, laid out by ``template`` (``None``: the ``full``
    preset: linked title, source name and icon, published time, a short clean summary and an
    image; see :mod:`bot.templates`).

    With ``article`` (a subscription with ``extract:true``), its summary and lead image are used
    when it has them, the feed's own otherwise.
    """
    return render_post(template, entry, feed, article)


def ready_to_post(entry: FeedEntry, base: str | None) -> FeedEntry:
    """``entry`` as it is posted: its summary HTML as Discord Markdown (relative links against
    ``base``, the feed's address), and the summary's first image when the feed gave no picture.
    An entry without summary HTML is posted as it is. CPU work (lxml, up to a millisecond for
    a long summary): off the event loop, see :func:`ready_all`.
    """
    if entry.summary_html is None or entry.summary_markdown is not None:
        return entry
    converted = html_to_markdown(entry.summary_html, base=base, limit=SUMMARY_MARKDOWN_CHARS)
    return dataclasses.replace(
        entry,
        # "" (not None): converted, and nothing to show.
        summary_markdown=converted.markdown or "",
        image_url=entry.image_url or converted.image_url,
    )


async def ready_all(batch: Sequence[tuple[str, Sequence[FeedEntry]]]) -> dict[int, FeedEntry]:
    """:func:`ready_to_post` for each feed's entries in ``batch`` (the feed's address, the
    entries it posts) that have summary HTML, by ``id`` of the entry given; in a thread, as a
    batch may post hundreds.
    """
    todo = [(url, e) for url, entries in batch for e in entries if e.summary_html is not None]
    if not todo:
        return {}
    return await asyncio.to_thread(_ready, todo)


def _ready(todo: Sequence[tuple[str, FeedEntry]]) -> dict[int, FeedEntry]:
    return {id(entry): ready_to_post(entry, url) for url, entry in todo}


def notice_message(title: str, text: str) -> MessageSpec:
    """A short notice to a channel about its subscriptions ("feed paused").

    ``title`` and ``text`` are the bot's own Markdown: feed text in them must be escaped already.
    """
    embed = EmbedSpec(title=fit(title, TITLE_LIMIT), description=fit(text, 1000), colour=NOTICE_COLOUR)
    return MessageSpec(embeds=(embed,), allowed_role_ids=())


def feed_paused_notice(feed: Feed, reason: str) -> MessageSpec:
    """Told to every channel of a feed that was just paused."""
    url = fit(safe_url(feed.url) or escape_markdown(feed.url), 300)
    name = fit(escape_markdown(one_line(feed.title)), 200)
    which = f"**{name}** ({url})" if name else f"**{url}**"
    why = fit(escape_markdown(one_line(reason)), 300)
    return notice_message(
        "Feed paused", f"{which} is no longer checked: {why}\nUse `/feed resume` once it works again."
    )
