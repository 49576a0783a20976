"""Hard-wrapped paragraphs joined back together.

Some pages break their lines inside sentences: a ``<br>`` every seventy columns, a ``<pre>``
block, or newlines in a text. trafilatura renders such a break like the end of a paragraph, so an
article becomes a column of short lines without full stops, which read like a menu. A break
inside a block (``<lb/>``, a newline in a text) is "soft", the end of a block is not. Where
trafilatura keeps the block, its output tree tells them apart (:func:`article_text` marks them
there); where it makes a block of each line (a ``<br>`` in text outside any paragraph, as in
``<article>text<br>text``) it does not, so :func:`mark_page` marks those in the page before it
runs. :func:`join_wrapped` joins the lines they split, one sentence-ending run at a time.
"""

from __future__ import annotations

import re

from lxml.etree import XPath, _Element
from lxml.html import HtmlElement
from trafilatura.xml import xmltotxt

# A printable character (trafilatura's rendering drops unprintable ones) that no page uses; a page
# that does use it is rendered as it is, without joining.
_SOFT = "\U0001d159"
_SOFT_UTF8 = _SOFT.encode()
_SOFT_REFERENCE = re.compile(rb"&#(?:0*119129|[xX]0*1[dD]159)(?![0-9a-fA-F])")
# A newline between two words of one text (in a <pre> block, say); blank lines are paragraph ends.
_NEWLINE_IN_TEXT = re.compile(r"(?<=\S)[ \t]*\n[ \t]*(?=\S)")
#: A line that ends a sentence: a full stop, question or exclamation mark, maybe a closing quote.
SENTENCE_END = re.compile(r"[.!?…。！？][\"'”’»)\]]*$")


# Texts with a newline and a word, outside preformatted text and text that is not shown.
_TEXTS_WITH_NEWLINES = XPath(
    "//text()[contains(., $newline) and normalize-space()"
    " and not(parent::pre or parent::textarea or parent::script or parent::style or parent::template)]"
)


def article_text(body: _Element | None, text: str, *, page_marked: bool) -> str:
    """trafilatura's ``text`` of ``body``, with its hard-wrapped paragraphs joined; ``body`` is modified.

    ``page_marked``: whether :func:`mark_page` marked the page (else the page itself uses the
    mark, and the text is rendered as it is).
    """
    if not page_marked:
        return text
    if body is None or not _mark_soft_breaks(body):
        return join_wrapped(text)
    return join_wrapped(xmltotxt(body, include_formatting=False))


#: What :func:`mark_page` changed: each (element, "text" or "tail") and its value before.
PageMarks = dict[tuple[_Element, str], str]


def page_uses_mark(page: bytes) -> bool:
    """Whether the UTF-8 ``page`` has the mark in it, or a character reference to it (its text
    is then never marked)."""
    return _SOFT_UTF8 in page or (b"&#" in page and _SOFT_REFERENCE.search(page) is not None)


def mark_page(tree: HtmlElement, *, uses_mark: bool | None = None) -> PageMarks | None:
    """Mark the page's soft breaks that trafilatura may turn into block ends; None when the page
    uses the mark itself (``uses_mark``, looked for in ``tree`` when not given): then nothing is
    marked. Undo with :func:`unmark_page`.

    Soft: a ``<br>`` that follows text of its block and has text after it (``text<br>text``;
    ``<br><br>`` ends a paragraph, a ``<br>`` before a link list's next link marks nothing), and
    a newline between two words of a text, which a browser shows as a space.
    """
    if uses_mark is None:
        uses_mark = bool(tree.xpath("boolean(//text()[contains(., $mark)])", mark=_SOFT))
    if uses_mark:
        return None
    marks: PageMarks = {}
    for br in tree.iter("br"):
        tail = br.tail
        if tail and not tail.isspace() and _text_before(br):
            rest = tail.lstrip()
            marks[(br, "tail")] = tail
            br.tail = tail[: len(tail) - len(rest)] + _SOFT + rest
    for found in _TEXTS_WITH_NEWLINES(tree, newline="\n"):
        element = found.getparent()
        attribute = "tail" if found.is_tail else "text"
        value = getattr(element, attribute)
        marked = _NEWLINE_IN_TEXT.sub("\n" + _SOFT, value)
        if marked != value:
            marks.setdefault((element, attribute), value)
            setattr(element, attribute, marked)
    return marks


def unmark_page(marks: PageMarks) -> None:
    """Put back what :func:`mark_page` changed."""
    for (element, attribute), value in marks.items():
        setattr(element, attribute, value)


def _text_before(br: HtmlElement) -> bool:
    """Whether text of the same block comes right before ``br`` (not another ``<br>``)."""
    previous = br.getprevious()
    if previous is None:
        parent = br.getparent()
        return parent is not None and bool((parent.text or "").strip())
    if (previous.tail or "").strip():
        return True
    return previous.tag != "br" and bool(previous.text_content().strip())


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
