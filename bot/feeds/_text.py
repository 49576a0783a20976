"""Text and URL clean-up shared by every parser path."""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin, urlsplit

# Regexes rather than an HTML parser: summaries are short, this runs for every entry of every
# poll, and a pure-Python parser would cost more than fastfeedparser's whole parse.
_DROP_BLOCKS = re.compile(r"<(script|style|template)\b[^>]*>.*?</\1\s*>|<!--.*?-->", re.I | re.S)
_BLOCK_TAGS = re.compile(
    r"</?(?:p|br|div|li|ul|ol|h[1-6]|tr|td|th|table|blockquote|pre|hr|section|article|figure|"
    r"figcaption|header|footer|dd|dt)\b[^>]*>",
    re.I,
)
_TAGS = re.compile(r"</?[a-zA-Z][^>]*>|<![^>]*>")
_IMG_SRC = re.compile(r"""<img\b[^>]*?\bsrc\s*=\s*(?:"([^"]+)"|'([^']+)'|([^\s>]+))""", re.I)


def html_to_text(value: str | None) -> str | None:
    """Plain text from an HTML fragment: tags stripped, entities decoded, whitespace collapsed."""
    if not value:
        return None
    text = value
    if "<" in text:
        text = _DROP_BLOCKS.sub(" ", text)
        text = _BLOCK_TAGS.sub(" ", text)
        text = _TAGS.sub("", text)
    if "&" in text:
        text = html.unescape(text)
    return collapse_space(text)


# A tag in a title of undeclared type: its name, whether it closes, what follows the name.
_TITLE_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)((?:[\s/][^<>]*)?)>")
# Markup even unclosed, when bare ("<b>", not "a<b and c>d"): void elements, and the emphasis
# publishers leave unclosed.
_MARKUP_TAGS = frozenset(
    {"br", "hr", "img", "wbr", "b", "i", "u", "em", "strong", "span", "font", "small", "big", "sub",
     "sup", "s", "strike"}
)  # fmt: skip
# The names _BLOCK_TAGS matches: a space stands for them.
_BLOCK_NAMES = frozenset(
    {"p", "br", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "td", "th", "table",
     "blockquote", "pre", "hr", "section", "article", "figure", "figcaption", "header", "footer", "dd",
     "dt"}
)  # fmt: skip


def loose_html_to_text(value: str | None) -> str | None:
    """Plain text from a title that does not say whether it is HTML (RSS, JSON Feed): tags that
    are markup are stripped, a tag merely mentioned is kept ("History of the <blink> tag").

    Markup is a tag that closes or is closed in the title, carries attributes, closes itself, or
    is a bare void element or emphasis (``<br>``, ``<b>``); an unclosed ``<blink>`` is words.
    Entities are decoded.
    """
    if not value or "<" not in value:
        return html_to_text(value)
    text = _DROP_BLOCKS.sub(" ", value)
    tags = _TITLE_TAG.findall(text)
    opened = {name.lower() for slash, name, _ in tags if not slash}
    closed = {name.lower() for slash, name, _ in tags if slash}

    def markup(match: re.Match[str]) -> str:
        slash, name, rest = match.group(1), match.group(2).lower(), match.group(3)
        is_markup = (
            (name in opened if slash else name in closed)
            or "=" in rest
            or rest.endswith("/")
            or (name in _MARKUP_TAGS and not rest.strip())
        )
        if not is_markup:
            return match.group()
        return " " if name in _BLOCK_NAMES else ""

    if tags:
        text = _TITLE_TAG.sub(markup, text)
    if "&" in text:
        text = html.unescape(text)
    return collapse_space(text)


def first_image(html_text: str | None) -> str | None:
    """The ``src`` of the first ``<img>`` in an HTML fragment, entity-decoded, not resolved."""
    if not html_text:
        return None
    start = html_text.find("<img")
    if start == -1:
        start = html_text.lower().find("<img")
        if start == -1:
            return None
    match = _IMG_SRC.search(html_text, start)
    if not match:
        return None
    src = next(g for g in match.groups() if g)
    return html.unescape(src).strip() or None


def absolute(url: str | None, base: str | None) -> str | None:
    """``url`` resolved against ``base``; ``None`` for empty values and non-web schemes."""
    if not url:
        return None
    url = url.strip()
    if not url:
        return None
    # Most feed URLs are absolute already; urljoin costs more than the rest of an entry.
    if url.startswith(("https://", "http://")) and " " not in url and "[" not in url:
        return url
    try:
        resolved = urljoin(base, url) if base else url
        scheme = urlsplit(resolved).scheme.lower()
    except ValueError:  # "http://[broken" and other unparseable URLs
        return None
    # javascript:, data: and friends are never a link we want to post.
    if scheme not in ("http", "https"):
        return None
    return resolved


def clean_str(value: object) -> str | None:
    """A stripped string, or ``None`` for empty/missing values."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def collapse_space(value: str | None) -> str | None:
    """Plain text with runs of whitespace collapsed to one space; ``None`` when empty."""
    if not value:
        return None
    # Short text (a category, a name) is split and joined faster than checked.
    if len(value) > 64 and _single_spaced(value):
        return value
    # split/join rather than re.sub: several times faster on text that is mostly single spaces.
    return " ".join(value.split()) or None


# The whitespace str.split() splits ASCII text at, but for the space itself.
_ASCII_SPACE_BUT_SPACE = b"\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f"


def _single_spaced(text: str) -> bool:
    """Whether ASCII ``text`` has nothing to collapse: no other whitespace than single spaces
    between words. Most titles and summaries do not, and checking them is cheaper than
    splitting them into words and joining these again.
    """
    if not text.isascii() or text[0] == " " or text[-1] == " " or "  " in text:
        return False
    data = text.encode("ascii")
    return len(data.translate(None, _ASCII_SPACE_BUT_SPACE)) == len(data)
