"""The tree walk behind :func:`bot.feeds.markdown.html_to_markdown`: HTML elements to Markdown
lines (blocks, lists, quotes, styles, links), text escaped as it is written."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from lxml import etree

from bot.discord_text import (
    escape_line_starts,
    neutralize_mentions,
)
from bot.feeds._text import absolute, collapse_space

#: Longest URL kept as a link; a longer one is dropped (its text kept).
MAX_URL_CHARS = 2_000
# A URL's characters that would end a Markdown link target early or break its syntax.
_URL_UNSAFE = re.compile(r"[\s()<>\\\[\]`\"']")
_MENTION_IN_URL = re.compile(r"@(?=everyone|here)", re.I)
#: Text naming a host ("example.com", "discord.gift/x"): a link labelled so is shown bare.
_HOST_IN_TEXT = re.compile(r"(?<![\w.-])(?:[a-z0-9-]+\.)+[a-z]{2,}(?![\w-])")

# Never text: their content is code, styling or another document.
_DROPPED = frozenset({
    "script", "style", "template", "iframe", "noscript", "object", "embed", "svg", "math",
    "head", "title", "select", "button", "canvas", "video", "audio", "form", "textarea",
})  # fmt: skip
# A blank line before and after.
_PARAGRAPHS = frozenset(
    {"p", "pre", "table", "figure", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "dl", "address"}
)
# A line break before and after.
_LINES = frozenset(
    {"div", "section", "article", "header", "footer", "main", "aside", "nav", "tr", "dt", "dd",
     "figcaption", "details", "summary", "center", "caption", "ul", "ol", "li", "blockquote"}
)  # fmt: skip
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_STYLES = {"b": "**", "strong": "**", "i": "*", "em": "*"}


@dataclass(slots=True)
class _List:
    kind: str  # "ul" or "ol"
    count: int = 0  # items so far


@dataclass(slots=True)
class _Style:
    marker: str  # "**", "*", or "" for a style already open outside
    at: int  # where in the line it started


class _Writer:
    """Lines of Markdown written while walking a tree (see :meth:`walk`).

    A line's prefix (quote, list marker or indent) is fixed by the containers open when its
    first text arrives; a block's start or end ends the current line at once, and leaves how
    the next one is set apart (a line break or a blank line) to the next text.
    """

    def __init__(self, base: str | None, limit: int) -> None:
        self.base = base
        # Past this much output the walk stops: the fit will cut it anyway.
        self.budget = limit + 200
        self.size = 0
        self.lines: list[str] = []
        self.line: list[str] = []
        self.started = False  # whether the current line has begun (its prefix is fixed)
        self.line_quote = False
        self.line_indent = 0
        self.pending = 0  # before the next text: 1 a line break, 2 a blank line
        self.quote = 0
        # Lines of one quote or list (one serial) are not set apart by blank lines.
        self.serial = 0
        self.line_serial = -1
        self.last_serial = -1
        self.lists: list[_List] = []
        self.marker: str | None = None  # the list marker the next line starts with
        self.styles: list[_Style] = []
        self.link: tuple[str, int, list[str]] | None = None  # target, index in line, raw text
        self.link_depth = 0
        self.after_url = -1  # the line's length right after a bare URL and its space
        self.image: str | None = None

    def walk(self, body: etree._Element) -> None:
        if body.text:
            self.text(body.text)
        walker = etree.iterwalk(body, events=("start", "end"))
        for event, element in walker:
            if self.size > self.budget:
                break
            tag = element.tag
            if element is body or not isinstance(tag, str):
                continue
            tag = tag.lower()
            if event == "start":
                if tag in _DROPPED:
                    walker.skip_subtree()  # its "end" still comes, for the tail
                    continue
                self.start(tag, element)
                if element.text:
                    self.text(element.text)
            else:
                self.end(tag)
                if element.tail:
                    self.text(element.tail)

    def start(self, tag: str, element: etree._Element) -> None:
        if tag == "br":
            if self.link is not None:
                self.text(" ")
            else:
                self.newline(2 if self.pending else 1)  # a second <br> makes a paragraph
        elif tag == "img":
            if self.image is None:
                src = element.get("src")
                if not src or src.startswith("data:"):
                    src = element.get("data-src")
                self.image = absolute(src, self.base)
        elif tag == "a":
            self.link_depth += 1
            target = link_target(element.get("href"), self.base)
            if self.link is None and self.link_depth == 1 and target:
                self.begin()
                self.link = (target, len(self.line), [])
        elif tag in _STYLES:
            self.open_style(_STYLES[tag])
        elif tag in _PARAGRAPHS or tag in _LINES:
            self.block_start(tag)

    def end(self, tag: str) -> None:
        if tag == "a":
            self.link_depth = max(0, self.link_depth - 1)
            if self.link_depth == 0:
                self.close_link()
        elif tag in _STYLES:
            self.close_style()
        elif tag in _PARAGRAPHS or tag in _LINES:
            self.block_end(tag)

    def block_start(self, tag: str) -> None:
        if self.link is not None:
            self.text(" ")
            return
        self.end_line()
        if tag in ("ul", "ol", "blockquote") and not self.lists and not self.quote:
            self.serial += 1
        if tag in ("ul", "ol"):
            self.lists.append(_List(tag))
        elif tag == "li":
            items = self.lists[-1] if self.lists else _List("ul")
            items.count += 1
            number = f"{items.count}. " if items.kind == "ol" else "- "
            self.marker = "  " * max(0, len(self.lists) - 1) + number
        elif tag == "blockquote":
            self.quote += 1
        self.newline(2 if tag in _PARAGRAPHS or tag == "blockquote" else 1)
        if tag in _HEADINGS:
            self.open_style("**")

    def block_end(self, tag: str) -> None:
        if self.link is not None:
            self.text(" ")
            return
        if tag in _HEADINGS:
            self.close_style()
        self.end_line()
        if tag in ("ul", "ol") and self.lists:
            self.lists.pop()
        elif tag == "li":
            self.marker = None
        elif tag == "blockquote":
            self.quote = max(0, self.quote - 1)
        top_level = not self.lists and not self.quote
        self.newline(2 if tag in _PARAGRAPHS or (tag in ("ul", "ol", "blockquote") and top_level) else 1)

    def newline(self, kind: int) -> None:
        self.pending = max(self.pending, kind)

    def begin(self) -> None:
        """Starts a line for text to come, if none is started: a break first if one is due."""
        if self.pending:
            if self.line:
                self.end_line()
            inside = (self.quote or self.lists) and self.serial == self.last_serial
            if self.pending == 2 and self.lines and self.lines[-1] and not inside:
                self.lines.append("")
            self.pending = 0
        if not self.started:
            self.started = True
            self.line_quote = self.quote > 0
            self.line_indent = len(self.lists)
            self.line_serial = self.serial if self.quote or self.lists else -1

    def text(self, raw: str) -> None:
        if self.link is not None:
            self.link[2].append(raw)
        chunk = collapse_space(raw)
        if not chunk:
            if self.line and not self.pending:
                self.line.append(" ")
            return
        self.begin()
        if self.after_url == len(self.line) and self.line[-1:] == [" "] and chunk[0] in _URL_END:
            self.line.pop()  # Discord's autolink leaves out a final ".", ",", ")"...
        if raw[0].isspace():
            chunk = " " + chunk
        if raw[-1].isspace():
            chunk += " "
        escaped = _escape(chunk)
        self.line.append(escaped)
        self.size += len(escaped)

    def open_style(self, marker: str) -> None:
        if self.link is not None or any(s.marker == marker for s in self.styles):
            self.styles.append(_Style("", len(self.line)))  # nested repeat: no marker of its own
            return
        self.begin()
        self.styles.append(_Style(marker, len(self.line)))

    def close_style(self) -> None:
        if self.styles:
            style = self.styles.pop()
            if style.marker:
                self._wrap(style.marker, style.at)

    def _wrap(self, marker: str, at: int) -> None:
        """Puts ``marker`` around the line's pieces from ``at`` on, spaces outside, when there
        is text there.
        """
        at = min(at, len(self.line))
        inner = "".join(self.line[at:])
        stripped = inner.strip()
        if not stripped:
            return
        lead = " " if inner[:1].isspace() else ""
        trail = " " if inner[-1:].isspace() else ""
        self.line[at:] = [f"{lead}{marker}{stripped}{marker}{trail}"]
        self.size += 2 * len(marker)

    def close_link(self) -> None:
        if self.link is None:
            return
        target, at, raw = self.link
        self.link = None
        at = min(at, len(self.line))
        label = " ".join("".join(raw).split())
        inner = "".join(self.line[at:]).strip()
        if not label:
            self.line[at:] = []  # an image's link: the image is the post's picture
        elif _is_url_like(label, target):
            # A space after it, so that text following does not run into the URL.
            self.line[at:] = [target, " "]
            self.after_url = len(self.line)
        else:
            self.line[at:] = [f"[{inner}]({target})"]
        self.size += len(target) + 4

    def end_line(self) -> None:
        """Writes the current line, if it has text; styles open across it are closed at its
        end and opened again on the next line.
        """
        self.started = False
        self.after_url = -1
        if not self.line:
            return
        for style in reversed(self.styles):
            if style.marker:
                self._wrap(style.marker, style.at)
        content = "".join(self.line).strip()
        if "  " in content:  # pieces meeting with a space each
            content = " ".join(content.split())
        self.line = []
        for style in self.styles:
            style.at = 0
        if not content:
            return
        prefix = "> " if self.line_quote else ""
        if self.marker is not None:
            prefix += self.marker
            self.marker = None
        elif self.line_indent:
            prefix += "  " * self.line_indent
        if content[0] in _LINE_MARKS:
            content = escape_line_starts(content)
        self.lines.append(prefix + content)
        self.last_serial = self.line_serial
        self.size += len(prefix) + 1

    def result(self) -> str:
        if self.link is not None:
            self.close_link()
        while self.styles:
            self.close_style()
        self.end_line()
        while self.lines and not self.lines[-1]:
            self.lines.pop()
        text = "\n".join(self.lines)
        # Text split by tags ("@every<b></b>one") is whole again only now.
        return neutralize_mentions(text) if "@" in text else text


# Characters Discord does not take as a bare URL's last one.
_URL_END = frozenset(".,:;!?\"')]")
# What a line must start with for escape_line_starts to have work (a digit: "1.").
_LINE_MARKS = frozenset("#>+-0123456789")
# What escape_markdown escapes inside a line (bot.discord_text._MARKDOWN_SPECIAL).
_SPECIAL = re.compile(r"[\\*_~`|<>\[\]()]")


def _escape(chunk: str) -> str:
    """:func:`bot.discord_text.escape_markdown` of one line's piece of text, with the line-start
    escape left to :meth:`_Writer.end_line`, and the mention check only where one can be.
    """
    if "@" in chunk or "<" in chunk or "\x00" in chunk or not chunk.isascii():
        chunk = neutralize_mentions(chunk)
    # A function, not r"\\\1": a template is expanded in Python at every match (2.5x slower).
    return _SPECIAL.sub(_backslashed, chunk)


def _backslashed(match: re.Match[str]) -> str:
    return "\\" + match.group()


def _is_url_like(label: str, target: str) -> bool:
    """Whether a link's text is a URL (its own or another): shown as the bare target, since
    Discord refuses a masked link whose text is a URL, and one that lies would mislead.
    """
    lowered = label.lower().rstrip("/")
    return (
        lowered == target.lower().rstrip("/")
        or "://" in lowered
        or lowered.startswith("www.")
        or lowered.split("://")[-1] == target.lower().split("://")[-1].rstrip("/")
        # "discord.gift/abc" over a link elsewhere: Discord only refuses labels with a scheme.
        or _HOST_IN_TEXT.search(lowered) is not None
    )


def link_target(url: str | None, base: str | None = None) -> str | None:
    """``url`` (resolved against ``base``) fit for ``[text](url)`` and for a bare link: http(s)
    only, characters that would break the Markdown percent-encoded, ``@everyone`` defused.
    """
    resolved = absolute(url, base)
    if resolved is None or len(resolved) > MAX_URL_CHARS:
        return None
    # absolute() gave http(s) only; a link needs a host ("http:///x" has none).
    if resolved.partition("://")[2][:1] in ("", "/"):
        return None
    resolved = _URL_UNSAFE.sub(lambda m: quote(m.group(), safe=""), resolved)
    return _MENTION_IN_URL.sub("%40", resolved)
