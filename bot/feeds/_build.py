"""Builds :class:`FeedEntry`/:class:`ParsedFeed` from what a parser found, the same way for all."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Literal

from bot.feeds._text import (
    absolute,
    clean_str,
    collapse_space,
    first_image,
    html_to_text,
    loose_html_to_text,
)
from bot.feeds.types import FeedEntry, ParsedFeed

# What a parse keeps of a feed's text at most, in characters: far more than anything shows
# (a post's title has 256, its summary 350; 2,000 of a summary are stored), and small enough
# that a hostile feed's 500 entries come back from a worker as a few megabytes at most.
#: A title (an entry's, the feed's) and an author.
MAX_TITLE_CHARS = 1_000
#: A summary (an entry's, the feed's description).
MAX_SUMMARY_CHARS = 4_000
#: The HTML behind a summary: enough for a posted summary's Markdown (a few hundred characters of
#: text), small enough that keeping it for every entry costs the parse workers little.
MAX_SUMMARY_HTML_CHARS = 4_000
#: Categories of an entry.
MAX_CATEGORIES = 50

#: What a feed says a title is: "text" (Atom ``type="text"``: a "<" is a character), "html"
#: (Atom ``type="html"``/``"xhtml"``: tags are markup) or "guess" (RSS and JSON Feed do not say:
#: tags that look like markup are stripped, a mentioned ``<blink>`` is kept).
TitleType = Literal["text", "html", "guess"]

_PERIOD_S = {
    "hourly": 3600,
    "daily": 86400,
    "weekly": 7 * 86400,
    "monthly": 30 * 86400,
    "yearly": 365 * 86400,
}


def build_entry(
    *,
    base: str | None,
    entry_id: str | None = None,
    link: str | None = None,
    title: str | None = None,
    title_type: TitleType = "guess",
    summary_html: str | None = None,
    content_html: str | None = None,
    author: str | None = None,
    published: datetime | None = None,
    updated: datetime | None = None,
    categories: Sequence[str | None] = (),
    images: Sequence[str] = (),
    enclosures: Sequence[tuple[str, str | None]] = (),
    include_content: bool = True,
) -> FeedEntry:
    """The cleaned-up entry: absolute URLs, plain-text title and summary, one guid rule.

    Takes what one parser path read from an entry, before clean-up: values may be relative or
    HTML. ``title`` is read as its ``title_type`` says (:data:`TitleType`). ``images`` are
    candidate pictures, best first (media:content images, then thumbnails, then the JSON image);
    ``enclosures`` the (url, mime type) of each enclosure or attachment, in feed order.
    ``include_content=False`` leaves ``content_html`` out (``None``); the content still counts as
    the summary when there is none, and for the picture.
    """
    absolute_link = absolute(link, base)
    guid = clean_str(entry_id)
    # A missing id comes back as the link from fastfeedparser and as nothing from feedparser;
    # dropping an id that merely repeats the link makes both paths agree.
    if guid is not None and absolute_link is not None and _same_as_link(guid, link, absolute_link, base):
        guid = None
    enclosures = _absolute_enclosures(enclosures, base) if enclosures else ()
    summary_source = summary_html or content_html
    # Positional, in field order: a third cheaper than keywords, once per entry of every feed.
    return FeedEntry(
        guid,
        absolute_link,
        _cap(title_text(title, title_type), MAX_TITLE_CHARS),
        _cap(html_to_text(summary_source), MAX_SUMMARY_CHARS),
        clean_str(content_html) if include_content else None,
        _cap(html_to_text(author), MAX_TITLE_CHARS),
        # Parsers disagree on which of the two a lone date is (dc:date is "published" to
        # fastfeedparser and "updated" to feedparser), so each falls back to the other.
        published or updated,
        updated or published,
        _unique_text(categories)[:MAX_CATEGORIES] if categories else (),
        _image(images, enclosures, content_html, summary_html, base),
        enclosures[0][0] if enclosures else None,
        # Converted only once posted (bot.feeds.posts.ready_to_post): here, only kept.
        summary_source[:MAX_SUMMARY_HTML_CHARS] if summary_source and "<" in summary_source else None,
    )


def title_text(title: str | None, title_type: TitleType) -> str | None:
    """A title as plain text, read as its type says."""
    if title_type == "text":
        return collapse_space(title)
    if title_type == "html" or not title or "<" not in title:
        return html_to_text(title)
    return loose_html_to_text(title)


def capped_feed(feed: ParsedFeed) -> ParsedFeed:
    """``feed`` with its own title and description within the caps (entries are capped as
    :func:`build_entry` builds them).
    """
    title, description = _cap(feed.title, MAX_TITLE_CHARS), _cap(feed.description, MAX_SUMMARY_CHARS)
    if title is feed.title and description is feed.description:
        return feed
    return dataclasses.replace(feed, title=title, description=description)


def _cap(text: str | None, limit: int) -> str | None:
    return text if text is None or len(text) <= limit else text[:limit].rstrip()


def _same_as_link(guid: str, raw_link: str | None, link: str, base: str | None) -> bool:
    if guid in (raw_link, link):
        return True
    # Resolving is only worth it for relative guids; absolute ones were compared above.
    return (
        not guid.startswith(("http:", "https:"))
        and _may_resolve_to(guid, link)
        and absolute(guid, base) == link
    )


# What urllib takes for a scheme at the start of a URL.
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
# Not printable ASCII, a query, fragment or parameters, or a network location.
_NOT_PLAIN_PATH = re.compile(r"[^!-~]|[?#;\\]|^//")


def _may_resolve_to(guid: str, link: str) -> bool:
    """``False`` when resolving ``guid`` (relative, not ``link``) cannot give ``link``.

    Most guids are no URL at all ("tag:site,2024:1", "site-1000"), and urljoin costs more than
    the rest of an entry: these two cheap tests spare them it. A guid with a scheme resolves to
    itself (or to nothing, not being http), unless the scheme is http(s). Otherwise the resolved
    URL ends with the guid's last path segment, when the guid is plain printable ASCII without
    query, fragment, parameters, dot segment or network location.
    """
    scheme = _SCHEME.match(guid)
    if scheme is not None:
        return scheme.group().lower() in ("http:", "https:")
    if _NOT_PLAIN_PATH.search(guid):
        return True  # not worth the thought: resolve it
    tail = guid.rpartition("/")[2]
    return tail in ("", ".", "..") or link.endswith("/" + tail)


def _absolute_enclosures(
    enclosures: Sequence[tuple[str, str | None]], base: str | None
) -> list[tuple[str, str | None]]:
    return [(u, t) for u, t in ((absolute(u, base), t) for u, t in enclosures) if u]


def _image(
    images: Sequence[str],
    enclosures: Sequence[tuple[str, str | None]],
    content_html: str | None,
    summary_html: str | None,
    base: str | None,
) -> str | None:
    """The first usable picture: media, else an image enclosure, else the first ``<img>``."""
    image = _first_url(images, base) if images else None
    if image is None and enclosures:
        image = next((u for u, t in enclosures if t and t.lower().startswith("image/")), None)
    if image is None:
        image = absolute(first_image(content_html) or first_image(summary_html), base)
    return image


def is_image_media(media: dict[str, object]) -> bool:
    """Whether a media:content item is a picture (untyped ones usually are)."""
    medium, mime = media.get("medium"), str(media.get("type") or "")
    return bool(media.get("url")) and (medium == "image" or mime.startswith("image/") or not (medium or mime))


def _first_url(urls: Sequence[str], base: str | None) -> str | None:
    for url in urls:
        resolved = absolute(url, base)
        if resolved:
            return resolved
    return None


# Categories come from a small vocabulary ("News", "World"), the same in entry after entry and
# poll after poll: each is cleaned up once.
_category_text = functools.lru_cache(maxsize=4096)(html_to_text)


def _unique_text(values: Iterable[str | None]) -> tuple[str, ...]:
    """The values as plain text, in order, without empty ones or repeats."""
    return tuple(dict.fromkeys(filter(None, map(_category_text, values))))


def parse_int(value: object) -> int | None:
    """A positive int from feed text ("30", " 60 "), else ``None``."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def update_period_s(period: str | None, frequency: object) -> int | None:
    """Seconds between updates from ``sy:updatePeriod`` (default daily) and ``sy:updateFrequency``."""
    if not period and frequency is None:
        return None
    seconds = _PERIOD_S.get((period or "daily").strip().lower())
    if seconds is None:
        return None
    return max(1, seconds // (parse_int(frequency) or 1))
