"""Looks at a body before any parser does: entity bombs, HTML pages, JSON.

Feed parsers expand what a DTD declares (feedparser's expat did, until it ran out of memory on
a quadratic blowup), so a body that declares entities is refused before any parser sees it. The
markup is read as ASCII bytes, which :mod:`._encoding` makes what every parser reads.
"""

from __future__ import annotations

import codecs
import re
from typing import Literal

from bot.errors import FeedParseError

Kind = Literal["json", "html", "xml"]

# Everything the XML grammar allows before the root element: declaration, comments, PIs, and
# one DOCTYPE (whose internal subset may hold anything, so it is matched separately).
_MISC = re.compile(r"\s+|<\?.*?\?>|<!--.*?-->", re.S)
_DOCTYPE = re.compile(r"<!DOCTYPE\s+([^\s\[>]+)", re.I)
_ENTITY = re.compile(r"<!ENTITY", re.I)
_ROOT = re.compile(r"<([A-Za-z_][\w.:-]*)")


def _text(data: bytes) -> str:
    """The body as text, good enough to look for ASCII markup in: :func:`._encoding.normalise`
    has made sure that every parser reads markup as ASCII bytes.
    """
    return data[3:].decode("latin-1") if data.startswith(codecs.BOM_UTF8) else data.decode("latin-1")


def sniff(body: bytes) -> Kind:
    """What the body is: "json", "html" (a web page) or "xml" (try the feed parsers).

    Raises :class:`FeedParseError` for bodies that declare XML entities. ``body`` has been
    through :func:`bot.feeds._encoding.normalise`.
    """
    head = _text(body).lstrip()
    # The body decides, not the Content-Type: servers label feeds every which way.
    if head.startswith(("{", "[")):
        return "json"
    pos = 0
    doctype: str | None = None
    while True:
        match = _MISC.match(head, pos)
        if match:
            pos = match.end()
            continue
        match = _DOCTYPE.match(head, pos)
        if match and doctype is None:
            doctype = match.group(1).lower()
            # Entity declarations live in the internal subset, which only a DOCTYPE in the
            # prolog opens; later "<!ENTITY" text (say in a CDATA post about XML) is harmless.
            if _ENTITY.search(head, match.end()):
                raise _refuse()
            pos = _skip_doctype(head, match.end())
            continue
        break
    root = _ROOT.match(head, pos)
    # Anywhere before the root element, comments included (feedparser's DOCTYPE rewrite reads
    # declarations there), or anywhere at all after a prolog we do not understand.
    if _ENTITY.search(head, 0, pos if root else len(head)):
        raise _refuse()
    root_name = root.group(1).lower() if root else ""
    if doctype == "html" or root_name in ("html", "head", "body"):
        return "html"
    return "xml"


def _skip_doctype(head: str, pos: int) -> int:
    """The index after the DOCTYPE declaration that started before ``pos``."""
    bracket = head.find("[", pos)
    close = head.find(">", pos)
    if bracket != -1 and (close == -1 or bracket < close):
        end = head.find("]", bracket)
        close = head.find(">", end) if end != -1 else -1
    return len(head) if close == -1 else close + 1


def _refuse() -> FeedParseError:
    return FeedParseError(
        "This feed declares XML entities, which could be used to exhaust memory "
        "(an entity bomb); it was refused."
    )
