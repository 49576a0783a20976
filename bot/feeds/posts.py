"""What a feed item looks like in a channel: a :class:`MessageSpec` with one embed. Pure.

Feed text is written by strangers, so it never pings anyone: the spec allows no mentions and
the text is defused as well (``@everyone``, ``<@123>``), in case a copy of it is ever posted
as plain content.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from bot.delivery.message import AUTHOR_LIMIT, TITLE_LIMIT, EmbedSpec, MessageSpec
from bot.discord_text import fit, one_line
from bot.feeds.types import FeedEntry
from bot.types import Article

#: Longest summary in an embed (UTF-16 units); cut at a word boundary, with an ellipsis.
SUMMARY_CHARS = 350
#: Embed colour of feed posts (a calm blue).
FEED_COLOUR = 0x3B82F6
#: Embed colour of notices about a subscription (amber).
NOTICE_COLOUR = 0xF59E0B

_ZWSP = "\u200b"
_MASS_MENTION = re.compile(r"@(everyone|here)", re.I)
_MENTION = re.compile(r"<(@[!&]?|#)(\d+)>")


class FeedSource(Protocol):
    """The feed an item comes from, as far as the post shows it."""

    @property
    def url(self) -> str: ...
    @property
    def title(self) -> str | None: ...
    @property
    def site_url(self) -> str | None: ...
    @property
    def icon_url(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class FeedInfo:
    """A plain :class:`FeedSource` (the parsed feed's metadata, or a stored feed row)."""

    url: str
    title: str | None = None
    site_url: str | None = None
    icon_url: str | None = None


def feed_item_message(entry: FeedEntry, feed: FeedSource, *, article: Article | None = None) -> MessageSpec:
    """The post for ``entry`` of ``feed``: linked title, source name and icon, published time,
    a short clean summary and an image.

    With ``article`` (a subscription with ``extract:true``), its summary and lead image are used
    when it has them, the feed's own otherwise.
    """
    link = _http(entry.link)
    summary_source = (article.summary or article.description) if article else None
    summary = fit(one_line(defuse(summary_source or entry.summary or "")), SUMMARY_CHARS) or None
    title = fit(one_line(defuse(entry.title)), TITLE_LIMIT) or fit(summary or "", 100)
    image = (_http(article.image_url) if article else None) or _http(entry.image_url)
    source_name = defuse(feed.title or "") or _host(feed.site_url or feed.url)
    embed = EmbedSpec(
        title=title or "(untitled)",
        url=link,
        description=summary if summary != title else None,
        author_name=fit(one_line(source_name), AUTHOR_LIMIT) if source_name else None,
        author_url=_http(feed.site_url),
        author_icon_url=_http(feed.icon_url),
        footer_text=fit(one_line(defuse(entry.author)), 100) if entry.author else None,
        timestamp=entry.published,
        image_url=image,
        colour=FEED_COLOUR,
    )
    return MessageSpec(embeds=(embed,), allowed_role_ids=())


def notice_message(title: str, text: str) -> MessageSpec:
    """A short notice to a channel about its subscriptions ("feed paused")."""
    embed = EmbedSpec(
        title=fit(one_line(defuse(title)), TITLE_LIMIT),
        description=fit(one_line(defuse(text)), 1000),
        colour=NOTICE_COLOUR,
    )
    return MessageSpec(embeds=(embed,), allowed_role_ids=())


def feed_paused_notice(feed: FeedSource, reason: str) -> MessageSpec:
    """Told to every channel of a feed that was just paused."""
    name = feed.title or feed.url
    return notice_message(
        "Feed paused",
        f"**{name}** ({feed.url}) is no longer checked: {reason}\nUse `/feed resume` once it works again.",
    )


def defuse(text: str | None) -> str:
    """``text`` that cannot ping: mass mentions and user/role/channel mentions broken up."""
    if not text:
        return ""
    text = text.replace("\x00", "")
    text = _MASS_MENTION.sub(lambda m: f"@{_ZWSP}{m.group(1)}", text)
    return _MENTION.sub(lambda m: f"<{m.group(1)}{_ZWSP}{m.group(2)}>", text)


def _http(url: str | None) -> str | None:
    if url and url.startswith(("http://", "https://")) and len(url) <= 2000:
        return url
    return None


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or url
    except ValueError:
        return url
