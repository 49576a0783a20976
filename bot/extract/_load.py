"""Parsing a page from its UTF-8 bytes: trafilatura's ``load_html``, without its repair pass
when nothing needs it.

``load_html`` first deletes the characters XML forbids with a regex over the whole
page (a third of its time, ~0.5 ms on a news page), then has lxml parse the text.
Checking the page's UTF-8 bytes for those characters is a few times cheaper, and lxml
parses the same bytes directly. A page that needs any of ``load_html``'s repairs or
checks goes through ``load_html`` itself, so the tree is the same either way.

Pages come as ``str.encode("utf-8", "surrogatepass")``: the pool's workers receive
them so and never decode them.
"""

from __future__ import annotations

import logging
import re

from lxml import etree
from lxml.html import (
    HtmlComment,
    HtmlElement,
    HtmlElementClassLookup,
    HtmlEntity,
    HTMLParser,
    HtmlProcessingInstruction,
    fromstring,
)
from trafilatura.utils import DOCTYPE_TAG, load_html

# trafilatura.utils.INVALID_XML_CHARS: C0 controls but tab, LF and CR; U+FFFE, U+FFFF.
_CONTROL_BYTES = bytes(c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D))
# In UTF-8: U+FFFE and U+FFFF, and the lone surrogates "surrogatepass" lets through. Two
# searches: each has a literal first byte to skip to, one alternation has none (10x slower).
_NONCHARACTERS = re.compile(b"\xef\xbf[\xbe\xbf]")
_SURROGATES = re.compile(b"\xed[\xa0-\xbf]")
# How much of the start load_html looks at for its checks and repairs.
_BEGINNING_CHARS = 50
_HEAD_CHARS = 4096
_HEAD_LINES = 4
_MAX_UTF8_BYTES = 4  # per character


def _parser() -> HTMLParser:
    """trafilatura's HTML_PARSER, but choosing each element's Python class in C.

    lxml.html picks the class of every element object it hands out (HtmlElement,
    FormElement, ...) with a Python method, ~0.5 µs each time; trafilatura's pipeline
    makes some 3000 of them per page. A class lookup by tag name, built from the same
    table, does the same in C.
    """
    parser = HTMLParser(
        collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True, remove_pis=True
    )
    default = etree.ElementDefaultClassLookup(
        element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction, entity=HtmlEntity
    )
    lookup = etree.ElementNamespaceClassLookup(default)
    # A private table of lxml.html that its stubs do not declare.
    lookup.get_namespace(None).update(HtmlElementClassLookup._default_element_classes)  # type: ignore[attr-defined]
    parser.set_element_class_lookup(lookup)
    return parser


_PARSER = _parser()


class _NotHtmlFilter(logging.Filter):
    """Drops ``load_html``'s ERROR record for a page that is not HTML: here that is an answer
    (``extract`` raises NotAnArticleError), not a fault to alert anyone about."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("parsed tree length")


logging.getLogger("trafilatura.utils").addFilter(_NotHtmlFilter())


def encode(html: str) -> bytes:
    """``html`` as :func:`parse_utf8` takes it."""
    return html.encode("utf-8", "surrogatepass")


def decode(page: bytes) -> str:
    return page.decode("utf-8", "surrogatepass")


def is_blank(page: bytes) -> bool:
    """Whether the page is only white space (``not decode(page).strip()``), mostly without decoding it."""
    start = page.lstrip()[:1]
    if start and start < b"\x80" and not start.decode().isspace():
        return False  # the usual case: "<" after ASCII white space
    return not decode(page).strip()


def parse_utf8(page: bytes) -> HtmlElement | None:
    """The tree of ``page`` (from :func:`encode`), as ``load_html(decode(page))`` parses it."""
    if _needs_repair(page):
        return load_html(decode(page))
    try:
        tree = fromstring(page, parser=_PARSER)
    except Exception:  # lxml's failures have no common base; load_html handles them
        return load_html(decode(page))
    # An empty result is where load_html tries again another way.
    return tree if tree is not None and len(tree) else load_html(decode(page))


def _needs_repair(page: bytes) -> bool:
    """Whether load_html would change the page before parsing it, or doubt it is HTML."""
    if (
        len(page.translate(None, _CONTROL_BYTES)) != len(page)
        or _NONCHARACTERS.search(page)
        or _SURROGATES.search(page)
    ):
        return True
    # Enough bytes for the characters load_html looks at; "ignore" drops a character cut
    # at the end, past them.
    head = page[: _HEAD_CHARS * _MAX_UTF8_BYTES].decode("utf-8", "ignore")[:_HEAD_CHARS]
    beginning = head[:_BEGINNING_CHARS].lower()
    if "html" not in beginning:
        return True
    if "doctype" in beginning:
        # load_html rewrites the first line (and adds a line break to a page that has none).
        first_line, line_break, _ = page.partition(b"\n")
        if not line_break or DOCTYPE_TAG.search(first_line.decode("utf-8")):
            return True
    return any("<html" in line and line.endswith("/>") for line in head.splitlines()[:_HEAD_LINES])
