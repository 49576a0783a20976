"""The fast path: fastfeedparser (lxml + a native extractor) for well-formed RSS, RDF and Atom.

A strict lxml parse runs first. It proves the document well-formed (fastfeedparser's recover
mode would otherwise silently drop the items after an error, where feedparser's loose parser
keeps them), and it reads what fastfeedparser leaves out: ``<ttl>``, ``sy:*``, the RSS
``<language>`` and each entry's ``xml:base``.
"""

from __future__ import annotations

import re
import threading
from datetime import datetime
from typing import Any

import fastfeedparser
from lxml import etree

from bot.feeds._build import RawEntry, build_entry, is_image_media, parse_int, update_period_s
from bot.feeds._dates import parse_date, to_utc
from bot.feeds._text import absolute, clean_str, html_to_text
from bot.feeds.types import ParsedFeed

_ATOM = "http://www.w3.org/2005/Atom"
_RSS1 = "http://purl.org/rss/1.0/"
_DC = "http://purl.org/dc/elements/1.1/"
_SY = "http://purl.org/rss/1.0/modules/syndication/"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_ENTRY_TAGS = ("item", f"{{{_RSS1}}}item", f"{{{_ATOM}}}entry")
_XHTML_WRAPPER = re.compile(r"^\s*<content\b[^>]*>(.*)</content>\s*$", re.S)


class NeedsFallbackError(Exception):
    """The fast path cannot read this document correctly; feedparser should try."""


class _Parsers(threading.local):
    # lxml parsers are not shared between threads (the executor runs several parses at once).
    def __init__(self) -> None:
        self.strict = etree.XMLParser(
            resolve_entities=False, no_network=True, huge_tree=False, collect_ids=False
        )


_PARSERS = _Parsers()


def parse_fast(body: bytes, *, url: str) -> ParsedFeed:
    """Parse a well-formed XML feed; raises :class:`NeedsFallbackError` for anything else."""
    try:
        root = etree.fromstring(body, _PARSERS.strict, base_url=url)
    except etree.XMLSyntaxError as e:
        raise NeedsFallbackError(f"not well-formed XML: {e}") from e
    if root is None:
        raise NeedsFallbackError("no root element")
    try:
        data = fastfeedparser.parse(body)
    except Exception as e:  # any failure of the fast parser means "let feedparser try"
        raise NeedsFallbackError(f"fastfeedparser: {e}") from e

    feed: dict[str, Any] = data.get("feed") or {}
    raw_entries: list[dict[str, Any]] = data.get("entries") or []
    channel = _channel(root)
    if not raw_entries and not feed.get("title"):
        raise NeedsFallbackError(f"no title and no entries under <{etree.QName(root).localname}>")

    bases = _entry_bases(root, len(raw_entries)) if b"xml:base" in body else [url] * len(raw_entries)
    entries = tuple(build_entry(_raw_entry(e, base)) for e, base in zip(raw_entries, bases, strict=True))

    channel_base = channel.base or url
    image = feed.get("image") or {}
    sy_period = channel.findtext(f"{{{_SY}}}updatePeriod")
    sy_frequency = channel.findtext(f"{{{_SY}}}updateFrequency")
    return ParsedFeed(
        title=html_to_text(feed.get("title")),
        link=absolute(feed.get("link"), channel_base),
        description=html_to_text(feed.get("subtitle")),
        icon_url=absolute(feed.get("icon") or feed.get("logo") or image.get("url"), channel_base),
        language=_language(feed, root, channel),
        ttl_minutes=parse_int(channel.findtext("ttl")),
        update_period_s=update_period_s(sy_period, sy_frequency),
        entries=entries,
        parser="fastfeedparser",
    )


def _channel(root: etree._Element) -> etree._Element:
    """The element that holds the feed's own metadata."""
    for path in ("channel", f"{{{_RSS1}}}channel"):
        found = root.find(path)
        if found is not None:
            return found
    return root


def _entry_bases(root: etree._Element, count: int) -> list[str]:
    """Each entry's base URL (``xml:base`` chain, then the feed URL), in document order."""
    elements = list(root.iter(*_ENTRY_TAGS))
    if len(elements) != count:
        raise NeedsFallbackError(f"xml:base used and {len(elements)} entry elements for {count} entries")
    return [el.base or "" for el in elements]


def _language(feed: dict[str, Any], root: etree._Element, channel: etree._Element) -> str | None:
    return clean_str(
        feed.get("language")
        or channel.findtext("language")
        or channel.findtext(f"{{{_DC}}}language")
        or root.get(_XML_LANG)
    )


def _raw_entry(entry: dict[str, Any], base: str) -> RawEntry:
    content = None
    for item in entry.get("content") or ():
        value = item.get("value")
        if value:
            if item.get("type") == "xhtml":
                # fastfeedparser hands back the serialised <content> element itself.
                match = _XHTML_WRAPPER.match(value)
                value = match.group(1) if match else value
            content = value
            break
    images: list[str] = []
    thumbnails: list[str] = []
    for media in entry.get("media_content") or ():
        if is_image_media(media):
            images.append(media["url"])
        if media.get("thumbnail_url"):
            thumbnails.append(media["thumbnail_url"])
    return RawEntry(
        base=base,
        id=clean_str(entry.get("id")),
        link=entry.get("link"),
        title_html=entry.get("title"),
        summary_html=entry.get("description"),
        content_html=content,
        author=entry.get("author"),
        published=_date(entry.get("published")),
        updated=_date(entry.get("updated")),
        categories=[t.get("term") or t.get("label") or "" for t in entry.get("tags") or ()],
        images=images + thumbnails,
        enclosures=[(e["url"], e.get("type")) for e in entry.get("enclosures") or () if e.get("url")],
    )


def _date(value: str | None) -> datetime | None:
    """fastfeedparser's dates are ISO 8601 already; anything else goes through our parser."""
    if not value:
        return None
    try:
        return to_utc(datetime.fromisoformat(value))
    except ValueError:
        return parse_date(value)
