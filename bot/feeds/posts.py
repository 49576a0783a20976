"""What a feed item looks like in a channel: a :class:`MessageSpec` with one embed. Pure.

Feed text is written by strangers: it enters the post escaped (:mod:`bot.discord_text`), so it
shows as written with no masked link, formatting or mention of its own, and the spec allows no
mentions either.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from bot.delivery.message import AUTHOR_LIMIT, TITLE_LIMIT, EmbedSpec, MessageSpec
from bot.discord_text import escape_markdown, fit, neutralize_mentions, one_line, safe_url
from bot.feeds.types import Feed, FeedEntry
from bot.types import Article

#: Longest summary in an embed (UTF-16 units); cut at a word boundary, with an ellipsis.
SUMMARY_CHARS = 350
#: Embed colour of feed posts (a calm blue).
FEED_COLOUR = 0x3B82F6
#: Embed colour of notices about a subscription (amber).
NOTICE_COLOUR = 0xF59E0B


def feed_item_message(entry: FeedEntry, feed: Feed, *, article: Article | None = None) -> MessageSpec:
    """The post for ``entry`` of ``feed``: linked title, source name and icon, published time,
    a short clean summary and an image.

    With ``article`` (a subscription with ``extract:true``), its summary and lead image are used
    when it has them, the feed's own otherwise.
    """
    link = _http(entry.link)
    summary_source = (article.summary or article.description) if article else None
    summary = fit(escape_markdown(one_line(summary_source or entry.summary)), SUMMARY_CHARS) or None
    title = fit(escape_markdown(one_line(entry.title)), TITLE_LIMIT) or fit(summary or "", 100)
    image = (_http(article.image_url) if article else None) or _http(entry.image_url)
    # The author line and the footer show text as it is (no Markdown): only mentions are broken.
    source_name = neutralize_mentions(one_line(feed.title)) or _host(feed.site_url or feed.url)
    embed = EmbedSpec(
        title=title or "(untitled)",
        url=link,
        description=summary if summary != title else None,
        author_name=fit(source_name, AUTHOR_LIMIT) if source_name else None,
        author_url=_http(feed.site_url),
        author_icon_url=_http(feed.icon_url),
        footer_text=fit(neutralize_mentions(one_line(entry.author)), 100) if entry.author else None,
        timestamp=entry.published,
        image_url=image,
        colour=FEED_COLOUR,
    )
    return MessageSpec(embeds=(embed,), allowed_role_ids=())


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


def _http(url: str | None) -> str | None:
    if url and url.startswith(("http://", "https://")) and len(url) <= 2000:
        return url
    return None


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or url
    except ValueError:
        return url
