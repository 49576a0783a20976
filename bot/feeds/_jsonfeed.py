"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1), read with the json module.

The format is small enough that reading it directly is simpler than mapping a parser's dict,
and feedparser does not read it at all, so both paths share this.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from bot.errors import FeedParseError
from bot.feeds._build import build_entry
from bot.feeds._dates import parse_date
from bot.feeds._text import absolute, clean_str, html_to_text
from bot.feeds.types import FeedEntry, ParsedFeed


def parse_json_feed(
    body: bytes, *, url: str, include_content: bool = True, max_entries: int | None = None
) -> ParsedFeed:
    """Parse a JSON Feed; raises :class:`FeedParseError` for other JSON or broken JSON.

    ``include_content`` and ``max_entries`` are :func:`bot.feeds.parse.parse_feed`'s.
    """
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise FeedParseError(f"This JSON feed is not valid JSON: {e}") from e
    except RecursionError as e:  # "[[[[..." nested past the interpreter's limit
        raise FeedParseError("This JSON feed is nested too deeply to read.") from e
    if not isinstance(data, dict) or not str(data.get("version", "")).startswith("https://jsonfeed.org/"):
        raise FeedParseError("This JSON document is not a JSON Feed (no jsonfeed.org version).")
    items = data.get("items")
    if not isinstance(items, list):
        raise FeedParseError("This JSON Feed has no items list.")
    # Relative URLs resolve against where the feed was fetched from, not its claimed feed_url.
    base = url
    return ParsedFeed(
        title=html_to_text(_str(data.get("title"))),
        link=absolute(_str(data.get("home_page_url")), base),
        description=html_to_text(_str(data.get("description"))),
        icon_url=absolute(_str(data.get("icon")) or _str(data.get("favicon")), base),
        language=clean_str(_str(data.get("language"))),
        ttl_minutes=None,
        update_period_s=None,
        entries=tuple(
            _entry(item, base, include_content)
            for item in itertools.islice((i for i in items if isinstance(i, dict)), max_entries)
        ),
        parser="json",
    )


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _author(item: dict[str, Any]) -> str | None:
    # 1.1 has "authors", 1.0 had "author".
    authors = item.get("authors")
    candidates = authors if isinstance(authors, list) else [item.get("author")]
    names = [name for a in candidates if isinstance(a, dict) and isinstance(name := a.get("name"), str)]
    return ", ".join(names) or None


def _entry(item: dict[str, Any], base: str, include_content: bool) -> FeedEntry:
    item_id = item.get("id")
    attachments = item.get("attachments")
    content_html = _str(item.get("content_html"))
    summary = _str(item.get("summary"))
    if summary is None and content_html is None:
        summary = _str(item.get("content_text"))
    tags = item.get("tags")
    return build_entry(
        base=base,
        # Ids are strings in the spec, numbers in the wild.
        entry_id=str(item_id) if isinstance(item_id, str | int) and not isinstance(item_id, bool) else None,
        link=_str(item.get("url")) or _str(item.get("external_url")),
        # Plain text by the spec, but real feeds put entities and tags in titles.
        title=_str(item.get("title")),
        summary_html=summary,
        content_html=content_html,
        author=_author(item),
        published=parse_date(_str(item.get("date_published"))),
        updated=parse_date(_str(item.get("date_modified"))),
        categories=[t for t in tags if isinstance(t, str)] if isinstance(tags, list) else [],
        images=[u for u in (_str(item.get("image")), _str(item.get("banner_image"))) if u],
        enclosures=[
            (a["url"], _str(a.get("mime_type")))
            for a in (attachments if isinstance(attachments, list) else [])
            if isinstance(a, dict) and isinstance(a.get("url"), str)
        ],
        include_content=include_content,
    )
