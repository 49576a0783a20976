"""OPML import and export of feed lists (https://opml.org/spec2.opml).

Imports are user uploads: parsed with entities left unexpanded and no network, refused when they
declare entities, and every bad outline is reported without failing the whole import.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from lxml import etree

from bot.errors import InvalidURLError, OpmlError
from bot.urls import normalize_url

MAX_FEEDS = 2000
_XML_URL_ATTRS = ("xmlUrl", "xmlurl", "XMLURL", "xmlURL", "url")


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """A feed listed in an OPML file."""

    #: The feed's URL, normalised (trimmed, fragment dropped).
    url: str
    #: The outline's title (or text), when it has one.
    title: str | None


@dataclass(frozen=True, slots=True)
class OpmlResult:
    """What an OPML import found."""

    #: Feeds in document order (nested folders flattened), without duplicates.
    feeds: list[OpmlFeed] = field(default_factory=list)
    #: One message per outline that was skipped, fit to show the user.
    errors: list[str] = field(default_factory=list)


def _parser(*, recover: bool) -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        recover=recover,
    )


def parse_opml(data: bytes) -> OpmlResult:
    """The feeds of an OPML document; raises :class:`OpmlError` only when nothing can be read."""
    if not data or not data.strip():
        raise OpmlError("The OPML file is empty.")
    notes: list[str] = []
    try:
        root = etree.fromstring(data, _parser(recover=False))
    except etree.XMLSyntaxError as e:
        # Exporters often leave a bare "&" in a title; read what can be read and say so.
        root = etree.fromstring(data, _parser(recover=True))
        if root is None:
            raise OpmlError(f"This is not a valid OPML file: {e}") from e
        notes.append(f"The file is not well-formed XML ({e}); some feeds may be missing.")
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise OpmlError("This OPML file declares XML entities (a possible entity bomb); it was refused.")
    if not isinstance(root.tag, str) or root.tag.rpartition("}")[2].lower() != "opml":
        raise OpmlError("This XML file is not OPML (its root element is not <opml>).")
    body = next((el for el in root if isinstance(el.tag, str) and el.tag.lower() == "body"), None)
    if body is None:
        raise OpmlError("This OPML file has no <body>.")

    result = OpmlResult(errors=notes)
    seen: set[str] = set()
    for outline in body.iter("outline"):
        raw_url = next((outline.get(a) for a in _XML_URL_ATTRS if outline.get(a)), None)
        title = (outline.get("title") or outline.get("text") or "").strip() or None
        label = f"line {outline.sourceline}" + (f" ({title})" if title else "")
        if raw_url is None:
            if outline.get("type", "").lower() in ("rss", "atom") and not len(outline):
                result.errors.append(f"{label}: a feed outline without an xmlUrl was skipped.")
            continue  # a folder
        try:
            url = normalize_url(raw_url)
        except InvalidURLError as e:
            result.errors.append(f"{label}: {e}")
            continue
        if url in seen:
            result.errors.append(f"{label}: duplicate of an earlier feed, skipped.")
            continue
        if len(result.feeds) >= MAX_FEEDS:
            result.errors.append(f"Only the first {MAX_FEEDS} feeds were imported.")
            break
        seen.add(url)
        result.feeds.append(OpmlFeed(url=url, title=title))
    return result


def write_opml(feeds: Iterable[OpmlFeed], title: str) -> bytes:
    """An OPML 2.0 document listing ``feeds`` (UTF-8, with an XML declaration)."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    body = etree.SubElement(root, "body")
    for feed in feeds:
        text = feed.title or feed.url
        etree.SubElement(body, "outline", type="rss", text=text, title=text, xmlUrl=feed.url)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
