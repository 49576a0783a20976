"""The fast path: fastfeedparser (lxml + a native extractor) for well-formed RSS, RDF and Atom
(1.0 and the legacy 0.3).

A strict lxml parse runs first. It proves the document well-formed (fastfeedparser's recover
mode would otherwise silently drop the items after an error, where feedparser's loose parser
keeps them), and it reads what fastfeedparser leaves out: ``<ttl>``, ``sy:*``, the RSS
``<language>`` and each entry's ``xml:base``; and it reads titles as the publisher wrote them
where fastfeedparser does not (:mod:`._constructs`).
"""

from __future__ import annotations

import re
import threading
from datetime import datetime
from typing import Any

import fastfeedparser
from lxml import etree

from bot.feeds._build import TitleType, build_entry, is_image_media, parse_int, title_text, update_period_s
from bot.feeds._constructs import (
    ATOM03_ENTRY,
    ATOM03_TAGLINE,
    ATOM_ENTRY,
    RSS1,
    entry_title,
    feed_title,
    legacy_summary_and_content,
    rss_titles_found_right,
    text_construct,
)
from bot.feeds._dates import parse_date, to_utc
from bot.feeds._text import absolute, clean_str, html_to_text
from bot.feeds.types import FeedEntry, ParsedFeed

_DC = "http://purl.org/dc/elements/1.1/"
_SY = "http://purl.org/rss/1.0/modules/syndication/"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_DC_LANGUAGE = f"{{{_DC}}}language"
_SY_PERIOD = f"{{{_SY}}}updatePeriod"
_SY_FREQUENCY = f"{{{_SY}}}updateFrequency"
_ENTRY_TAGS = ("item", f"{{{RSS1}}}item", ATOM_ENTRY, ATOM03_ENTRY)
# Local names of the elements any supported format keeps an entry's date in.
_DATE_TAGS = frozenset(
    {"pubDate", "pubdate", "date", "published", "updated", "issued", "modified", "created"}
)
_XHTML_WRAPPER = re.compile(r"^\s*<content\b[^>]*>(.*)</content>\s*$", re.S)


class NeedsFallbackError(Exception):
    """The fast path cannot read this document correctly; feedparser should try."""


class _Parsers(threading.local):
    # lxml parsers are not shared between threads (the executor runs several parses at once).
    def __init__(self) -> None:
        # Not collect_ids=False: with it, libxml2 treats the unloadable external DTD of RSS 0.91
        # feeds (the Netscape DOCTYPE) as a fatal error.
        self.strict = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
        )


_PARSERS = _Parsers()


def parse_fast(
    body: bytes, *, url: str, include_content: bool = True, max_entries: int | None = None
) -> ParsedFeed:
    """Parse a well-formed XML feed; raises :class:`NeedsFallbackError` for anything else.

    ``include_content`` and ``max_entries`` are :func:`bot.feeds.parse.parse_feed`'s.
    """
    if body[:1].isspace():
        # Blank lines before "<?xml" (a classic of WordPress plugins) are fatal to libxml2.
        body = body.lstrip()
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

    # Our checks below need fastfeedparser's entries matched to the tree's, one to one.
    elements = list(root.iter(*_ENTRY_TAGS))
    if len(elements) != len(raw_entries):
        raise NeedsFallbackError(f"{len(elements)} entry elements for {len(raw_entries)} entries")
    has_base = b"xml:base" in body
    dated = _dated_entries(root)
    title, is_atom = feed_title(root)
    # Atom entries read their titles' types anyway.
    titles_right = not is_atom and rss_titles_found_right(root)
    entries = tuple(
        _entry(e, el, (el.base or url) if has_base else url, dated, titles_right, include_content)
        for e, el in zip(raw_entries[:max_entries], elements, strict=False)
    )

    channel_base = channel.base or url
    image = feed.get("image") or {}
    sy_period = _child_text(channel, _SY_PERIOD)
    sy_frequency = _child_text(channel, _SY_FREQUENCY)
    return ParsedFeed(
        title=_feed_title(feed, title, is_atom),
        link=absolute(feed.get("link"), channel_base),
        description=html_to_text(feed.get("subtitle") or _child_text(root, ATOM03_TAGLINE)),
        icon_url=absolute(feed.get("icon") or feed.get("logo") or image.get("url"), channel_base),
        language=_language(feed, root, channel),
        ttl_minutes=parse_int(_child_text(channel, "ttl")),
        update_period_s=update_period_s(sy_period, sy_frequency),
        entries=entries,
        parser="fastfeedparser",
    )


def _feed_title(feed: dict[str, Any], title: etree._Element | None, is_atom: bool) -> str | None:
    """The feed's own title, read as its entries' titles are."""
    if is_atom:
        return None if title is None else title_text(*text_construct(title))
    return title_text(feed.get("title"), "guess")


def _channel(root: etree._Element) -> etree._Element:
    """The element that holds the feed's own metadata."""
    for path in ("channel", f"{{{RSS1}}}channel"):
        found = root.find(path)
        if found is not None:
            return found
    return root


def _child_text(element: etree._Element, tag: str) -> str | None:
    """``element.findtext(tag)`` for a child's tag, without an ElementPath query."""
    child = next(element.iterchildren(tag), None)
    return None if child is None else child.text or ""


def _language(feed: dict[str, Any], root: etree._Element, channel: etree._Element) -> str | None:
    return clean_str(
        feed.get("language")
        or _child_text(channel, "language")
        or _child_text(channel, _DC_LANGUAGE)
        or root.get(_XML_LANG)
    )


# Date elements, matched by lxml itself in any namespace (or none).
_DATE_PATTERNS = tuple(f"{{*}}{tag}" for tag in _DATE_TAGS)


def _dated_entries(root: etree._Element) -> set[etree._Element]:
    """The elements that carry a date of their own (any with a date child).

    fastfeedparser reads a date-less RSS item's guid as a date, and dateutil finds one in
    almost anything ("m-1" is the 1st of this month); the dates of other entries are dropped.
    One pass over the tree, not one per entry. The set holds lxml proxies: an entry element is
    found in it while the caller keeps its own proxy alive (lxml has one proxy per node).
    """
    return {parent for date in root.iter(*_DATE_PATTERNS) if (parent := date.getparent()) is not None}


def _entry(
    entry: dict[str, Any],
    element: etree._Element,
    base: str,
    dated: set[etree._Element],
    titles_right: bool,
    include_content: bool,
) -> FeedEntry:
    get = entry.get
    has_date = element in dated
    tags = get("tags")
    media = get("media_content")
    enclosures = get("enclosures")
    links = get("links")
    # Most feeds: fastfeedparser's title is right, and not looked up again.
    title_type: TitleType = "guess"
    title = get("title")
    if not titles_right:
        title, title_type = entry_title(element, title)
    if element.tag == ATOM03_ENTRY:
        summary, content = legacy_summary_and_content(element)
    else:
        summary, content = get("description"), _content(entry)
    return build_entry(
        base=base,
        entry_id=get("id"),
        link=get("link"),
        title=title,
        title_type=title_type,
        summary_html=summary,
        content_html=content,
        author=get("author"),
        published=_date(get("published")) if has_date else None,
        updated=_date(get("updated")) if has_date else None,
        categories=[t.get("term") or t.get("label") for t in tags] if tags else (),
        images=_images(media) if media else (),
        enclosures=_enclosures(enclosures, links) if enclosures or links else (),
        include_content=include_content,
    )


def _content(entry: dict[str, Any]) -> str | None:
    """The entry's content HTML, unless it merely repeats the description."""
    for item in entry.get("content") or ():
        value = item.get("value")
        if value:
            if item.get("type") == "xhtml":
                # fastfeedparser hands back the serialised <content> element itself.
                match = _XHTML_WRAPPER.match(value)
                value = match.group(1) if match else value
            # fastfeedparser repeats the description as content when there is no content element.
            return None if value == entry.get("description") else value
    return None


def _images(media_content: list[dict[str, Any]]) -> list[str]:
    """media:content pictures, then thumbnails."""
    images: list[str] = []
    thumbnails: list[str] = []
    for media in media_content:
        if is_image_media(media):
            images.append(media["url"])
        thumbnail = media.get("thumbnail_url")
        if thumbnail:
            thumbnails.append(thumbnail)
    return images + thumbnails if thumbnails else images


def _enclosures(
    enclosures: list[dict[str, Any]] | None, links: list[dict[str, Any]] | None
) -> list[tuple[str, str | None]]:
    found = [(e["url"], e.get("type")) for e in enclosures if e.get("url")] if enclosures else []
    if links:
        # Atom enclosures only show up among the links.
        found += [
            (li["href"], li.get("type")) for li in links if li.get("rel") == "enclosure" and li.get("href")
        ]
    return found


def _date(value: str | None) -> datetime | None:
    """fastfeedparser's dates are ISO 8601 already; anything else goes through our parser."""
    if not value:
        return None
    try:
        return to_utc(datetime.fromisoformat(value))
    except ValueError:
        return parse_date(value)
