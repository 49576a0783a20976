"""HTML from strangers (feed summaries) as clean Discord Markdown, and fitting such Markdown.

:func:`html_to_markdown` keeps what reads well in an embed: links (masked when their text is
not the URL itself), paragraphs, line breaks, lists, quotes, bold and italics; headings become
bold lines. Everything else is text. Images leave the text: the first usable one is returned for
the post's image. All text is escaped (:func:`bot.discord_text.escape_markdown`), so the only
Markdown in the result is the converter's own, and no mention in it ever pings.

lxml parses (libxml2's HTML parser, in C); one pass over the tree with ``iterwalk`` writes the
lines, so deep nesting costs no Python recursion. Input and work are bounded: the HTML is cut
at :data:`MAX_INPUT_CHARS`, the walk stops once the output is past its limit, and the result is
fitted with :func:`fit_markdown`, which never cuts inside a masked link or leaves bold open.
"""

from __future__ import annotations

import html
import re
import threading
from dataclasses import dataclass

from lxml import etree

from bot.discord_text import (
    ELLIPSIS,
    discord_length,
    escape_markdown,
    fit,
)
from bot.feeds._markdown_writer import _Writer, link_target

__all__ = [
    "MAX_INPUT_CHARS",
    "Converted",
    "fit_markdown",
    "html_to_markdown",
    "link_target",
    "plain_to_markdown",
]

#: HTML past this many characters is not read (a summary is a few hundred).
MAX_INPUT_CHARS = 100_000


@dataclass(frozen=True, slots=True)
class Converted:
    """What :func:`html_to_markdown` made of an HTML fragment."""

    #: The Markdown, within the limit; ``None`` when the fragment had no text.
    markdown: str | None
    #: The first picture's absolute http(s) URL, removed from the text; ``None`` without one.
    image_url: str | None


class _Parsers(threading.local):
    # lxml parsers are not shared between threads.
    def __init__(self) -> None:
        self.html = etree.HTMLParser(
            remove_comments=True, remove_pis=True, no_network=True, recover=True, default_doctype=False
        )


_PARSERS = _Parsers()


def html_to_markdown(value: str | None, *, base: str | None = None, limit: int = 2_000) -> Converted:
    """``value`` (an HTML fragment, or plain text) as Discord Markdown of at most ``limit``
    UTF-16 units, and its first image. Relative links and images resolve against ``base``.
    """
    if not value or not value.strip():
        return Converted(None, None)
    value = value[:MAX_INPUT_CHARS]
    if "<" not in value:
        return Converted(plain_to_markdown(value, limit), None)
    try:
        root = etree.fromstring(f"<html><body>{value}</body></html>", _PARSERS.html)
    except (etree.ParserError, ValueError):  # nothing parseable (a lone "<")
        return Converted(plain_to_markdown(value, limit), None)
    body = root.find("body") if root is not None else None
    if body is None:
        return Converted(None, None)
    writer = _Writer(base, limit)
    writer.walk(body)
    text = writer.result()
    return Converted(fit_markdown(text, limit) or None if text else None, writer.image)


def fit_markdown(text: str, limit: int) -> str:
    """Markdown made by :func:`html_to_markdown` fitted to ``limit`` UTF-16 units like
    :func:`bot.discord_text.fit` (a word boundary, an ellipsis), except that a cut never falls
    inside a masked link (one cut through keeps its text, unlinked) and bold or italics opened
    before the cut are closed.
    """
    if len(text) * 2 <= limit or discord_length(text) <= limit:  # a UTF-16 unit per char at most 2
        return text
    # Room for the closing markers ("***") the repair may add.
    head = fit(text, max(0, limit - 3), ellipsis="")
    head = _repair(head).rstrip()
    if not head:
        return ""
    result = head + ELLIPSIS
    # The repair only removes or closes; closing can add at most 3 units, reserved above.
    return result if discord_length(result) <= limit else fit(head, limit)


# Tokens of the converter's own Markdown: an escape, a link's start, middle and end, style markers.
_TOKEN = re.compile(r"\\.|\[|\]\(|\)|\*{1,3}|\n", re.S)


def _repair(head: str) -> str:
    """A cut prefix of the converter's Markdown made whole again (see :func:`fit_markdown`)."""
    link_start = -1  # index of an open "[" in the output
    in_target = -1  # index of "](" when inside a link target
    open_at: dict[str, int] = {}  # open style markers and where they are
    for match in _TOKEN.finditer(head):
        token, at = match.group(), match.start()
        if token[0] == "\\" or (in_target >= 0 and token != ")"):
            continue
        if token == "[" and link_start < 0:
            link_start = at
        elif token == "](" and link_start >= 0:
            in_target = at
        elif token == ")" and in_target >= 0:
            link_start = in_target = -1
        elif token[0] == "*" and link_start < 0:
            # "***" opens or closes bold and italics at once.
            for marker in ("**", "*") if len(token) == 3 else (token,):
                if open_at.pop(marker, None) is None:
                    open_at[marker] = at
        elif token == "\n":
            open_at.clear()  # the converter closes its styles at the end of each line
    if in_target >= 0:
        # Cut inside the URL: the link's text stays, as text.
        head = head[:link_start] + head[link_start + 1 : in_target]
    elif link_start >= 0:
        head = head[:link_start] + head[link_start + 1 :]
    # Innermost (last opened) first.
    for marker, at in sorted(open_at.items(), key=lambda item: -item[1]):
        # A marker with nothing after it is dropped, any other closed.
        head = head[:at] if not head[at + len(marker) :].strip(" *") else head.rstrip() + marker
    return head.rstrip()


_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")


def _lines(paragraph: str) -> list[str]:
    return [line for line in (" ".join(raw.split()) for raw in paragraph.splitlines()) if line]


def plain_to_markdown(value: str, limit: int) -> str | None:
    """Plain text (entities decoded) as Markdown of at most ``limit`` UTF-16 units: escaped,
    its paragraphs and lines kept (an extracted article's text, a JSON Feed's content_text).
    """
    value = value[:MAX_INPUT_CHARS]
    text = html.unescape(value) if "&" in value else value
    paragraphs = ["\n".join(_lines(p)) for p in _BLANK_LINE.split(text)]
    markdown = "\n\n".join(escape_markdown(p) for p in paragraphs if p)
    return fit_markdown(markdown, limit) or None
