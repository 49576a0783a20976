"""trafilatura's ``extract_author`` rules in one pass over the page, without copying it.

trafilatura copies the whole page, deletes comment, sidebar, date and figure blocks
from the copy and then runs three XPath rule sets over it, the slowest written with
EXSLT regexes that call back into Python for every element: about 6 ms on a news
page, a third of our extraction. The rules only test an element's tag and
attributes, so one walk over the page finds the same elements; only the text of the
candidate that wins is read with the deleted blocks left out.
``tests/test_extract_author.py`` checks both versions agree on every test page.
"""

from __future__ import annotations

import re
from copy import deepcopy

from lxml import etree
from lxml.html import HtmlElement
from trafilatura.json_metadata import normalize_authors
from trafilatura.utils import trim
from trafilatura.xml import delete_element

# An author string is longer than this and shorter than the limit (trafilatura's bounds).
_MIN_CHARS = 2
_MAX_CHARS = 120

# trafilatura.xpaths.AUTHOR_DISCARD_XPATHS: blocks deleted before looking for the author.
# Its regexes are literal alternatives, searched the same way here (case-sensitive).
_DISCARD_TAGS = frozenset({"a", "div", "section", "span"})
_DISCARD_CLASSES = frozenset({"comments", "title", "date"})
_DISCARD_ID = re.compile(r"^comments|comment-?list|ProductReviews")
_DISCARD_CLASS = re.compile(
    r"^[Cc]omments|commentlist|comments-list|sidebar|is-hidden|quote|embedly-instagram"
    r"|article-(?:share|support)|print|category|meta-date|meta-reviewer"
)
_ALWAYS_DISCARDED_TAGS = frozenset({"time", "figure"})

# trafilatura.xpaths.AUTHOR_XPATHS, three rule sets tried in order. (The first also
# tests a child element <rel>, which HTML does not have.)
_SPECIFIC_TAGS = frozenset({"a", "address", "div", "link", "p", "span", "strong"})
_SPECIFIC_CLASS = re.compile(r"author-?name|AuthorName|authorName")
_GENERIC_TAGS = frozenset({"a", "div", "h3", "h4", "p", "span"})
_GENERIC_CLASSES = frozenset({"byline", "username", "byl", "BBL"})
_GENERIC_ID = re.compile(r"author|zuozhe|bianji|xiaobian")
_GENERIC_CLASS = re.compile(
    r"author|channel-name|zuozhe|bianji|xiaobian|submitted-by|posted-by|journalist-name"
)
_ANY_ID = re.compile(r"[Aa]uthor")
_ANY_CLASS = re.compile(r"[Aa]uthor|screenname|writer|[Bb]yline")


def extract_author(tree: HtmlElement) -> str | None:
    """The document's author(s), as ``trafilatura.metadata.extract_author`` finds them."""
    discarded: list[HtmlElement] = []
    candidates: tuple[list[HtmlElement], ...] = ([], [], [])
    for element in tree.iter(etree.Element):
        tag = element.tag
        if tag in _ALWAYS_DISCARDED_TAGS:
            discarded.append(element)
        elif tag == "author":
            candidates[0].append(element)
        if not element.attrib:
            continue
        get = element.get
        cls, id_ = get("class") or "", get("id") or ""
        itemprop = get("itemprop") or ""
        if tag in _DISCARD_TAGS and element is not tree and _is_discarded(element, cls, id_):
            discarded.append(element)
        if tag in _SPECIFIC_TAGS and _is_specific(element, cls, id_, itemprop):
            candidates[0].append(element)
        if tag in _GENERIC_TAGS and _is_generic(cls, id_, itemprop):
            candidates[1].append(element)
        if _is_any(element, cls, id_, itemprop):
            candidates[2].append(element)
    dropped = set(discarded)
    for rule in candidates:
        for element in rule:
            if element in dropped or any(a in dropped for a in element.iterancestors()):
                continue
            content = trim(" ".join(_text_without(element, discarded, dropped)))
            if content and _MIN_CHARS < len(content) < _MAX_CHARS:
                return normalize_authors(None, content)
    return None


def _is_discarded(element: HtmlElement, cls: str, id_: str) -> bool:
    return bool(
        id_ == "comments"
        or cls in _DISCARD_CLASSES
        or _DISCARD_ID.search(id_)
        or _DISCARD_CLASS.search(cls)
        or "Figure" in (element.get("data-component") or "")
    )


def _is_specific(element: HtmlElement, cls: str, id_: str, itemprop: str) -> bool:
    return bool(
        element.get("rel") == "author"
        or id_ == "author"
        or cls == "author"
        or itemprop == "author name"
        or element.get("data-testid") in ("AuthorCard", "AuthorURL")
        or _SPECIFIC_CLASS.search(cls)
    )


def _is_generic(cls: str, id_: str, itemprop: str) -> bool:
    return bool(
        cls in _GENERIC_CLASSES
        or "author" in itemprop
        or _GENERIC_ID.search(id_)
        or _GENERIC_CLASS.search(cls)
    )


def _is_any(element: HtmlElement, cls: str, id_: str, itemprop: str) -> bool:
    return bool(
        "author" in itemprop
        or _ANY_ID.search(id_)
        or _ANY_CLASS.search(cls)
        or "Byline" in (element.get("data-component") or "")
    )


def _text_without(element: HtmlElement, discarded: list[HtmlElement], dropped: set[HtmlElement]) -> list[str]:
    """``element.itertext()`` as it reads once the discarded blocks inside it are deleted."""
    if not any(inner in dropped for inner in element.iterdescendants()):
        return list(element.itertext())
    # Delete them from a copy of the element, in trafilatura's order, so that their tails
    # join the neighbouring text exactly as they do in trafilatura's copy of the page.
    copy = deepcopy(element)
    twins = dict(zip(element.iter(), copy.iter(), strict=True))
    for inner in discarded:
        twin = twins.get(inner)
        if twin is not None and twin is not copy:
            delete_element(twin)
    return list(copy.itertext())
