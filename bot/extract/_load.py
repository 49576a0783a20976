"""Parsing a page: trafilatura's ``load_html``, without its repair pass when nothing needs it.

``load_html`` first deletes the characters XML forbids with a regex over the whole
page (a third of its time, ~0.5 ms on a news page), then has lxml parse the text.
Checking the page's UTF-8 bytes for those characters is a few times cheaper, and lxml
parses the same bytes directly. A page that needs any of ``load_html``'s repairs or
checks goes through ``load_html`` itself, so the tree is the same either way.
"""

from __future__ import annotations

import re

from lxml.html import HtmlElement, fromstring
from trafilatura.utils import DOCTYPE_TAG, HTML_PARSER, load_html

# trafilatura.utils.INVALID_XML_CHARS: C0 controls but tab, LF and CR; U+FFFE, U+FFFF.
_CONTROL_BYTES = bytes(c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D))
_NONCHARACTERS = re.compile(b"\xef\xbf[\xbe\xbf]")  # in UTF-8
# How much of the start load_html looks at for its checks and repairs.
_BEGINNING_CHARS = 50
_HEAD_CHARS = 4096
_HEAD_LINES = 4


def parse_html(html: str) -> HtmlElement | None:
    """The tree of ``html``, as ``trafilatura.utils.load_html(html)`` parses it."""
    try:
        data = html.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: load_html knows what to do
        return load_html(html)
    if _needs_repair(html, data):
        return load_html(html)
    try:
        tree = fromstring(data, parser=HTML_PARSER)
    except Exception:  # lxml's failures have no common base; load_html handles them
        return load_html(html)
    # An empty result is where load_html tries again another way.
    return tree if tree is not None and len(tree) else load_html(html)


def _needs_repair(html: str, data: bytes) -> bool:
    """Whether load_html would change ``html`` before parsing it, or doubt it is HTML."""
    beginning = html[:_BEGINNING_CHARS].lower()
    if "html" not in beginning:
        return True
    if len(data.translate(None, _CONTROL_BYTES)) != len(data) or _NONCHARACTERS.search(data):
        return True
    if "doctype" in beginning:
        # load_html rewrites the first line (and adds a line break to a page that has none).
        first_line, line_break, _ = html.partition("\n")
        if not line_break or DOCTYPE_TAG.search(first_line):
            return True
    return any(
        "<html" in line and line.endswith("/>") for line in html[:_HEAD_CHARS].splitlines()[:_HEAD_LINES]
    )
