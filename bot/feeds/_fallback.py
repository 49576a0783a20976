"""The tolerant path: feedparser, for malformed XML and whatever the fast path cannot read.

Only ever called after :func:`bot.feeds._sniff.sniff` has refused entity declarations: feedparser
expands them.
"""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime
from typing import Any

import feedparser

from bot.errors import FeedParseError, NotAFeedError
from bot.feeds._build import RawEntry, build_entry, is_image_media, parse_int, update_period_s
from bot.feeds._dates import parse_date
from bot.feeds._text import absolute, clean_str, html_to_text
from bot.feeds.types import ParsedFeed


def parse_fallback(body: bytes, *, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse any RSS/Atom feedparser can make sense of, well-formed or not."""
    headers = {"content-location": url, "content-type": content_type or "application/xml"}
    # A stream, never the bytes themselves: feedparser opens a bytes argument as a file *name*
    # first, so a body like b"/etc/passwd" would be read from disk.
    result = feedparser.parse(io.BytesIO(body), response_headers=headers)
    feed: dict[str, Any] = result.get("feed") or {}
    raw_entries: list[dict[str, Any]] = result.get("entries") or []
    if not raw_entries and not feed.get("title"):
        if _looks_like_html(body, content_type):
            raise NotAFeedError("This is a web page, not a feed.")
        reason = result.get("bozo_exception")
        detail = f" ({reason})" if reason else ""
        raise FeedParseError(f"This is not a feed we can read: no title and no entries found{detail}.")

    entries = tuple(build_entry(_raw_entry(e, url)) for e in raw_entries)
    base = (feed.get("title_detail") or {}).get("base") or url
    image = feed.get("image") or {}
    return ParsedFeed(
        title=html_to_text(feed.get("title")),
        link=absolute(feed.get("link"), base),
        description=html_to_text(feed.get("subtitle")),
        icon_url=absolute(feed.get("icon") or feed.get("logo") or image.get("href"), base),
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


def _raw_entry(entry: dict[str, Any], url: str) -> RawEntry:
    details = [entry.get("title_detail"), entry.get("summary_detail"), *(entry.get("content") or ())]
    base = next((d["base"] for d in details if d and d.get("base")), url)
    content = next((c.get("value") for c in entry.get("content") or () if c.get("value")), None)
    summary = entry.get("summary")
    if summary and content and summary == content:
        # feedparser copies the content into the summary when there is no description.
        summary = None
    images = [m["url"] for m in entry.get("media_content") or () if is_image_media(m)]
    images += [m["url"] for m in entry.get("media_thumbnail") or () if m.get("url")]
    enclosures = [(e["href"], e.get("type")) for e in entry.get("enclosures") or () if e.get("href")]
    return RawEntry(
        base=base,
        id=clean_str(entry.get("id")),
        link=entry.get("link"),
        title_html=entry.get("title"),
        summary_html=summary,
        content_html=content,
        author=entry.get("author"),
        published=_date(entry, "published"),
        updated=_date(entry, "updated"),
        categories=[t.get("term") or t.get("label") or "" for t in entry.get("tags") or ()],
        images=images,
        enclosures=enclosures,
    )


def _date(entry: dict[str, Any], key: str) -> datetime | None:
    # Our parser first: feedparser reads named zones it does not know (CEST) as UTC.
    parsed = parse_date(entry.get(key))
    if parsed is None:
        struct: time.struct_time | None = entry.get(f"{key}_parsed")
        if struct is not None:
            parsed = datetime(*struct[:6], tzinfo=UTC)
    return parsed
