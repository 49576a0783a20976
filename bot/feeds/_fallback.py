"""The tolerant path: feedparser, for malformed XML and whatever the fast path cannot read.

feedparser expands the entities a DTD declares (expat, and its own loose parser for those it
deems safe), and guesses encodings its own way. So it is given UTF-8 and told so, with nothing
left to guess, after :func:`bot.feeds._sniff.sniff` has checked exactly those bytes for entity
declarations; and its expat refuses any (:mod:`._expat`).
"""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import feedparser

from bot.errors import FeedParseError, NotAFeedError
from bot.feeds import _expat
from bot.feeds._build import (
    TitleType,
    build_entry,
    is_image_media,
    parse_int,
    title_text,
    update_period_s,
)
from bot.feeds._dates import parse_date
from bot.feeds._encoding import to_utf8
from bot.feeds._sniff import sniff
from bot.feeds._text import absolute, clean_str, html_to_text
from bot.feeds.types import FeedEntry, ParsedFeed


def parse_fallback(
    body: bytes,
    *,
    url: str,
    content_type: str | None = None,
    include_content: bool = True,
    max_entries: int | None = None,
) -> ParsedFeed:
    """Parse any RSS/Atom feedparser can make sense of, well-formed or not.

    ``include_content`` and ``max_entries`` are :func:`bot.feeds.parse.parse_feed`'s.
    """
    base = _Base(url)
    data = to_utf8(body, content_type)
    sniff(data)  # raises for entity declarations
    headers = {"content-location": base.sentinel_url, "content-type": "application/xml; charset=utf-8"}
    # A stream, never the bytes themselves: feedparser opens a bytes argument as a file *name*
    # first, so a body like b"/etc/passwd" would be read from disk.
    # No sanitising or rewriting of embedded HTML: it is the slowest part of feedparser, we
    # strip tags from summaries anyway, and content_html then matches the fast path's.
    try:
        result = feedparser.parse(
            io.BytesIO(data), response_headers=headers, sanitize_html=False, resolve_relative_uris=False
        )
    except _expat.EntityDeclaredError as e:
        raise FeedParseError(str(e)) from e
    except Exception as e:  # feedparser raises whatever its innards hit on garbage (KeyError, ...)
        raise FeedParseError(f"This feed could not be read: {type(e).__name__}: {e}") from e
    feed: dict[str, Any] = result.get("feed") or {}
    is_atom = str(result.get("version") or "").startswith("atom")
    raw_entries: list[dict[str, Any]] = result.get("entries") or []
    if not raw_entries and not feed.get("title"):
        if _looks_like_html(body, content_type):
            raise NotAFeedError("This is a web page, not a feed.")
        reason = result.get("bozo_exception")
        detail = f" ({reason})" if reason else ""
        raise FeedParseError(f"This is not a feed we can read: no title and no entries found{detail}.")

    entries = tuple(_entry(e, base, is_atom, include_content) for e in raw_entries[:max_entries])
    image = feed.get("image") or {}
    return ParsedFeed(
        title=title_text(feed.get("title"), _title_type(feed, is_atom)),
        link=absolute(base.real(feed.get("link")), url),
        description=html_to_text(feed.get("subtitle")),
        icon_url=absolute(base.real(feed.get("icon") or feed.get("logo") or image.get("href")), url),
        language=clean_str(feed.get("language")),
        ttl_minutes=parse_int(feed.get("ttl")),
        update_period_s=update_period_s(feed.get("sy_updateperiod"), feed.get("sy_updatefrequency")),
        entries=entries,
        parser="feedparser",
    )


def _looks_like_html(body: bytes, content_type: str | None) -> bool:
    head = body[:2048].lower()
    return (
        b"<html" in head
        or b"<!doctype html" in head
        or bool(
            content_type and "html" in content_type.lower() and b"<rss" not in head and b"<feed" not in head
        )
    )


class _Base:
    """The feed URL with its host swapped for a sentinel, handed to feedparser as the base.

    feedparser resolves every URL against the base, guids included (unless
    ``isPermaLink="false"``): "b-1" would become "https://site/path/b-1", and the guid would
    differ from the fast path's, so every item of a feed that is malformed only now and then
    would look new. With a sentinel host, what feedparser resolved is recognisable: URLs get the
    real host back, guids their original relative form. ``xml:base`` keeps working in between.
    """

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.url = url
        self.real_root = f"{parts.scheme}://{parts.netloc}"
        self.sentinel_root = f"{parts.scheme or 'http'}://{_SENTINEL_HOST}"
        self.sentinel_url = urlunsplit((parts.scheme or "http", _SENTINEL_HOST, parts.path, parts.query, ""))
        self.sentinel_dir = self.sentinel_url.split("?")[0].rsplit("/", 1)[0] + "/"

    def real(self, value: str | None) -> str | None:
        """A URL feedparser resolved, against the real feed URL again."""
        if value and self.sentinel_root in value:
            return value.replace(self.sentinel_root, self.real_root)
        return value

    def unresolved(self, value: str | None) -> str | None:
        """A guid as the feed wrote it, when feedparser resolved it against the base."""
        if not value or not value.startswith(self.sentinel_root):
            return value
        if value.startswith(self.sentinel_dir):
            return value[len(self.sentinel_dir) :]
        return value[len(self.sentinel_root) :]


_SENTINEL_HOST = "feedparser-base.invalid"


def _entry(entry: dict[str, Any], base: _Base, is_atom: bool, include_content: bool) -> FeedEntry:
    content = next((c.get("value") for c in entry.get("content") or () if c.get("value")), None)
    summary = entry.get("summary")
    if summary and content and summary == content:
        # feedparser copies the content into the summary when there is no description.
        summary = None
    images = [m["url"] for m in entry.get("media_content") or () if is_image_media(m)]
    images += [m["url"] for m in entry.get("media_thumbnail") or () if m.get("url")]
    enclosures = [(e["href"], e.get("type")) for e in entry.get("enclosures") or () if e.get("href")]
    real = base.real
    # The xml:base in force for this entry, which feedparser notes in each *_detail.
    details = [entry.get("title_detail"), entry.get("summary_detail"), *(entry.get("content") or ())]
    entry_base = next((d["base"] for d in details if d and d.get("base")), None)
    return build_entry(
        base=real(entry_base) or base.url,
        entry_id=base.unresolved(entry.get("id")),
        link=real(entry.get("link")),
        title=entry.get("title"),
        title_type=_title_type(entry, is_atom),
        summary_html=real(summary),
        content_html=real(content),
        author=entry.get("author"),
        published=_date(entry, "published"),
        updated=_date(entry, "updated"),
        categories=[t.get("term") or t.get("label") or "" for t in entry.get("tags") or ()],
        images=[u for u in map(real, images) if u],
        enclosures=[(real(u) or u, t) for u, t in enclosures],
        include_content=include_content,
    )


def _title_type(entry: dict[str, Any], is_atom: bool) -> TitleType:
    """How to read an entry's (or the feed's) title. Only Atom declares a title's type
    (feedparser has decoded base64 titles already); its guess for RSS titles is not reliable, so
    they are read as the fast path reads them.
    """
    if not is_atom:
        return "guess"
    mime = str((entry.get("title_detail") or {}).get("type") or "text/plain")
    return "html" if "html" in mime else "text"


def _date(entry: dict[str, Any], key: str) -> datetime | None:
    # Our parser first: feedparser reads named zones it does not know (CEST) as UTC.
    # dict.get: FeedParserDict.get("published") quietly (and deprecatedly) answers "updated".
    parsed = parse_date(dict.get(entry, key))
    if parsed is None:
        struct: time.struct_time | None = dict.get(entry, f"{key}_parsed")
        if struct is not None:
            parsed = datetime(*struct[:6], tzinfo=UTC)
    return parsed
