"""Hard-wrapped paragraphs joined back together.

Some pages break their lines inside sentences: a ``<br>`` every seventy columns, or a ``<pre>``
block. trafilatura renders such a break like the end of a paragraph, so an article becomes a
column of short lines without full stops, which read like a menu. Its output tree still tells
the two apart: a break inside a block (``<lb/>``, a newline in a text) is "soft", the end of a
block is not. :func:`article_text` marks the soft breaks before rendering the text, and
:func:`join_wrapped` joins the lines they split, one sentence-ending run at a time.
"""

from __future__ import annotations

import re

from lxml.etree import _Element
from trafilatura.xml import xmltotxt

# A printable character (trafilatura's rendering drops unprintable ones) that no page uses; a page
# that does use it is rendered as it is, without joining.
_SOFT = "\U0001d159"
# A newline between two words of one text (in a <pre> block, say); blank lines are paragraph ends.
_NEWLINE_IN_TEXT = re.compile(r"(?<=\S)[ \t]*\n[ \t]*(?=\S)")
#: A line that ends a sentence: a full stop, question or exclamation mark, maybe a closing quote.
SENTENCE_END = re.compile(r"[.!?…。！？][\"'”’»)\]]*$")


def article_text(body: _Element | None, text: str) -> str:
    """trafilatura's ``text`` of ``body``, with its hard-wrapped paragraphs joined; ``body`` is modified."""
    if body is None or _SOFT in text or not _mark_soft_breaks(body):
        return text
    return join_wrapped(xmltotxt(body, include_formatting=False))


def _mark_soft_breaks(body: _Element) -> bool:
    """Start every line that a soft break begins with the mark; whether there was any.

    Soft breaks are ``<lb/>`` (a ``<br>``) and the newlines of a ``<pre>`` block (a ``quote``).
    Other newlines inside a text are not: trafilatura's last-resort extractor joins whole
    blocks of the page with them.
    """
    marked = False
    for element in body.iter("lb"):
        tail = element.tail or ""
        rest = tail.lstrip()
        element.tail = tail[: len(tail) - len(rest)] + _SOFT + rest
        marked = True
    for quote in body.iter("quote"):
        for element in quote.iter():
            for attribute in ("text", "tail") if element is not quote else ("text",):
                value = getattr(element, attribute)
                if value and "\n" in value:
                    value, count = _NEWLINE_IN_TEXT.subn("\n" + _SOFT, value)
                    setattr(element, attribute, value)
                    marked = marked or count > 0
    return marked


def join_wrapped(text: str) -> str:
    """``text`` with each run of soft-broken lines that ends a sentence joined into one line.

    A run that ends without one (a list of headlines or links in one block) stays as it was:
    only prose is rejoined.
    """
    lines: list[str] = []
    run: list[str] = []

    def end_run() -> None:
        if len(run) > 1 and SENTENCE_END.search(run[-1]):
            lines.append(" ".join(run))
        else:
            lines.extend(run)
        run.clear()

    for raw in text.split("\n"):
        soft = raw.lstrip().startswith(_SOFT)
        line = raw.replace(_SOFT, "").strip()
        if not soft or not line:  # a new block, or an empty line (two breaks): a paragraph ends
            end_run()
        if line:
            run.append(line)
            if SENTENCE_END.search(line):
                end_run()
    end_run()
    return "\n".join(lines)
