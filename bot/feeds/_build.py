"""Builds :class:`FeedEntry`/:class:`ParsedFeed` from what a parser found, the same way for all."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.feeds._text import absolute, clean_str, collapse_space, first_image, html_to_text
from bot.feeds.types import FeedEntry

_PERIOD_S = {
    "hourly": 3600,
    "daily": 86400,
    "weekly": 7 * 86400,
    "monthly": 30 * 86400,
    "yearly": 365 * 86400,
}


@dataclass(slots=True)
class RawEntry:
    """What one parser path read from an entry, before clean-up (values may be relative or HTML)."""

    base: str | None
    id: str | None = None
    link: str | None = None
    #: The title as the parser gave it: HTML unless ``title_is_text``.
    title: str | None = None
    #: The feed says the title is plain text (Atom ``type="text"``): keep any "<" in it.
    title_is_text: bool = False
    summary_html: str | None = None
    content_html: str | None = None
    author: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    categories: list[str] = field(default_factory=list)
    #: Candidate pictures, best first (media:content images, then thumbnails, then JSON image).
    images: list[str] = field(default_factory=list)
    #: (url, mime type) of each enclosure/attachment, in feed order.
    enclosures: list[tuple[str, str | None]] = field(default_factory=list)


def build_entry(raw: RawEntry) -> FeedEntry:
    """The cleaned-up entry: absolute URLs, plain-text title and summary, one guid rule."""
    base = raw.base
    link = absolute(raw.link, base)
    guid = clean_str(raw.id)
    # A missing id comes back as the link from fastfeedparser and as nothing from feedparser;
    # dropping an id that merely repeats the link makes both paths agree.
    if guid is not None and link is not None and _same_as_link(guid, raw.link, link, base):
        guid = None
    enclosures = [(u, t) for u, t in ((absolute(u, base), t) for u, t in raw.enclosures) if u]
    image = _first_url(raw.images, base)
    if image is None:
        image = next((u for u, t in enclosures if t and t.lower().startswith("image/")), None)
    if image is None:
        image = absolute(first_image(raw.content_html) or first_image(raw.summary_html), base)
    summary_source = raw.summary_html or raw.content_html
    return FeedEntry(
        guid=guid,
        link=link,
        title=collapse_space(raw.title) if raw.title_is_text else html_to_text(raw.title),
        summary=html_to_text(summary_source),
        content_html=clean_str(raw.content_html),
        author=html_to_text(raw.author),
        # Parsers disagree on which of the two a lone date is (dc:date is "published" to
        # fastfeedparser and "updated" to feedparser), so each falls back to the other.
        published=raw.published or raw.updated,
        updated=raw.updated or raw.published,
        categories=_unique(html_to_text(c) for c in raw.categories),
        image_url=image,
        enclosure_url=enclosures[0][0] if enclosures else None,
    )


def _same_as_link(guid: str, raw_link: str | None, link: str, base: str | None) -> bool:
    if guid in (raw_link, link):
        return True
    # Resolving is only worth it for relative guids; absolute ones were compared above.
    return not guid.startswith(("http:", "https:")) and absolute(guid, base) == link


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


def _unique(values: Iterable[str | None]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for value in values:
        if value and value not in seen:
            seen[value] = None
    return tuple(seen)


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
