"""Titles and Atom text constructs read from the lxml tree, as the publisher wrote them.

fastfeedparser hands back an RSS item's first element named "title" in any namespace (a
``media:title`` before the ``<title>`` wins), an ``xhtml`` title's text before its first child
(nothing), and a legacy ``mode="base64"`` value still encoded. The fast path has the tree from
its well-formedness check, so it reads these itself.
"""

from __future__ import annotations

import binascii
import html

from lxml import etree

from bot.feeds._build import TitleType

ATOM = "http://www.w3.org/2005/Atom"
#: Atom 0.3, the pre-standard Atom that some old blogs still serve.
ATOM03 = "http://purl.org/atom/ns#"
RSS1 = "http://purl.org/rss/1.0/"

ATOM_FEED = f"{{{ATOM}}}feed"
ATOM_ENTRY = f"{{{ATOM}}}entry"
ATOM03_FEED = f"{{{ATOM03}}}feed"
ATOM03_ENTRY = f"{{{ATOM03}}}entry"
ATOM03_TAGLINE = f"{{{ATOM03}}}tagline"
_ATOM03_SUMMARY = f"{{{ATOM03}}}summary"
_ATOM03_CONTENT = f"{{{ATOM03}}}content"
_FEED_TITLE_OF: dict[object, str] = {ATOM_FEED: f"{{{ATOM}}}title", ATOM03_FEED: f"{{{ATOM03}}}title"}
_ATOM_ENTRIES = frozenset({ATOM_ENTRY, ATOM03_ENTRY})
# The title element of each kind of entry element: its own, not an extension's.
_RSS_TITLES = ("title", f"{{{RSS1}}}title")
_TITLE_OF: dict[object, str] = {
    "item": _RSS_TITLES[0],
    f"{{{RSS1}}}item": _RSS_TITLES[1],
    ATOM_ENTRY: f"{{{ATOM}}}title",
    ATOM03_ENTRY: f"{{{ATOM03}}}title",
}


def rss_titles_found_right(root: etree._Element) -> bool:
    """Whether fastfeedparser's RSS and RDF titles are the items' own, as written: no prefixed
    title (``media:title``, ``itunes:title``, ``dc:title``) that could come first, and no title
    holding elements. Most feeds: their items' titles are then not looked up one by one. One
    pass over the title elements (a scan of the bytes costs more).
    """
    return not any(title.tag not in _RSS_TITLES or len(title) for title in root.iter("{*}title"))


def entry_title(element: etree._Element, found: str | None) -> tuple[str | None, TitleType]:
    """The title of an entry element and how to read it.

    ``found`` is fastfeedparser's title, kept for an entry without a title of its own (its
    ``media:title`` or ``dc:title`` is better than none). Needed for Atom entries (their title's
    type), and for RSS ones unless :func:`rss_titles_found_right`.
    """
    title = next(element.iterchildren(_TITLE_OF.get(element.tag, "title")), None)
    if title is None:
        return found, "guess"
    if element.tag in _ATOM_ENTRIES:
        return text_construct(title)
    if len(title):
        # Unescaped markup in an RSS title: elements to the XML parser.
        return inner_markup(title), "html"
    return title.text, "guess"


def legacy_summary_and_content(element: etree._Element) -> tuple[str | None, str | None]:
    """An Atom 0.3 entry's summary and content, as markup or text: fastfeedparser leaves a
    base64 value encoded and a ``mode="xml"`` one wrapped in its element.
    """
    summary = next(element.iterchildren(_ATOM03_SUMMARY), None)
    content = next(element.iterchildren(_ATOM03_CONTENT), None)
    return (
        None if summary is None else text_construct(summary)[0],
        None if content is None else text_construct(content)[0],
    )


def feed_title(root: etree._Element) -> tuple[etree._Element | None, bool]:
    """An Atom feed's own title element (``None`` if it has none), and whether the feed is Atom
    (1.0 or 0.3): other feeds' titles are fastfeedparser's to read.
    """
    tag = _FEED_TITLE_OF.get(root.tag)
    if tag is None:
        return None, False
    return next(root.iterchildren(tag), None), True


def text_construct(element: etree._Element) -> tuple[str | None, TitleType]:
    """The value of an Atom 1.0 or 0.3 text construct (title, summary, content) and how to read
    it: ``type`` text/html/xhtml (Atom 1.0) or a MIME type (0.3, default text/plain), and 0.3's
    ``mode``: xml (the default), escaped or base64.
    """
    kind = (element.get("type") or "text").lower()
    as_html: TitleType = "html" if "html" in kind else "text"
    if element.get("mode") == "base64":
        return _base64(element.text), as_html
    if len(element) or "xhtml" in kind:
        return inner_markup(element), "html"
    return element.text, as_html


def inner_markup(element: etree._Element) -> str:
    """What is inside ``element`` as markup: its text escaped, its children serialised."""
    parts = [html.escape(element.text, quote=False)] if element.text else []
    # tostring escapes each child's text and tail itself.
    parts.extend(etree.tostring(child, encoding="unicode") for child in element)
    return "".join(parts)


def _base64(text: str | None) -> str | None:
    """A base64 value decoded as UTF-8; left as it is when it is not base64 (as feedparser does)."""
    if not text:
        return text
    try:
        return binascii.a2b_base64(text.encode("ascii")).decode("utf-8")
    except (ValueError, UnicodeError):
        return text
