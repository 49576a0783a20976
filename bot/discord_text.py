"""Text as it goes into a Discord message: measured, fitted to a limit, and made safe.

Every limit is measured in UTF-16 code units, as :mod:`bot.delivery.message` checks it. Discord
itself counts code points, never more than UTF-16 units, so text fitted here is accepted however
Discord counts. Cuts fall between grapheme clusters (an emoji ZWJ sequence, a flag, a letter with
its combining marks stay whole), at a word boundary where one is near, and the ellipsis counts
within the limit.

Text written by strangers (feed titles and summaries, page text, outlet names) goes through
:func:`escape_markdown` where it enters a message's Markdown (:func:`neutralize_mentions` where
Discord shows text as it is): it then shows literally, with no masked link, formatting or mention
of its own. Links the bot makes itself (the embed URL, a digest's ``[headline](url)``) stay links.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import regex

__all__ = [
    "ELLIPSIS",
    "discord_length",
    "escape_line_starts",
    "escape_markdown",
    "fit",
    "link",
    "neutralize_mentions",
    "one_line",
    "prefix_end",
    "safe_url",
]

ELLIPSIS = "…"

_CLUSTER = regex.compile(r"\X")
_SPACES = re.compile(r"\s+")
_LAST_SPACE = re.compile(r"\s\S*\Z")
# Trimmed off the end of a cut before the ellipsis: "Storm hits coast, …" reads badly.
_TRAILING = " \t\n\r,;:-–—"

# Everything Discord Markdown gives a meaning to inside a line, `<` included: <#channel>,
# </command:id>, <:emoji:id> and <t:time> render as links, emoji and dates.
_MARKDOWN_SPECIAL = re.compile(r"([\\*_~`|<>\[\]()])")
# Headings, subtext, quotes and lists only start a line. A numbered line's full stop is escaped,
# not its number: Discord shows a backslash before a digit (only punctuation can be escaped).
_LINE_START = re.compile(r"^(\s*)(?:([#>+-])|(\d+)\.)", re.M)
# Everything Discord turns into a ping or a mention: @everyone, @here, <@id>, <@!id>, <@&id>, <#id>.
_MENTION = re.compile(r"@(everyone|here)|<(@[!&]?|#)(\d+)>", re.I)
_ZWSP = "\u200b"
# Zero-width joiner and variation selectors: they only mean something before a character.
_JOINERS = "\u200d\ufe0e\ufe0f"
_SURROGATE = re.compile("[\ud800-\udfff]")
_WHITESPACE = re.compile(r"\s")


def discord_length(text: str | None) -> int:
    """The length checked against Discord's limits: UTF-16 code units (an astral emoji is 2)."""
    if not text:
        return 0
    # A lone surrogate (from a JSON "\\ud83d" escape) counts as one unit instead of raising.
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def one_line(text: str | None) -> str:
    """``text`` with every run of whitespace made one space, stripped."""
    return _SPACES.sub(" ", text or "").strip()


def fit(text: str, limit: int, *, ellipsis: str = ELLIPSIS) -> str:
    """``text`` itself if it is at most ``limit`` UTF-16 units long, else cut to fit with
    ``ellipsis`` (counted within ``limit``): at a word boundary when one is in the second half,
    between grapheme clusters always, never after an escaping backslash.
    """
    if discord_length(text) <= limit:
        return text
    room = limit - discord_length(ellipsis)
    if room < 0:
        return ""
    end = prefix_end(text, room)
    head = text[:end]
    if not text[end].isspace():
        # A single enormous word (a URL) is cut where it is rather than dropped.
        space = _LAST_SPACE.search(head)
        if space is not None and space.start() > len(head) // 2:
            head = head[: space.start()]
    return _without_dangling_escape(head.rstrip(_TRAILING)) + ellipsis


def prefix_end(text: str, room: int) -> int:
    """Where the longest prefix of ``text`` of whole grapheme clusters within ``room`` UTF-16
    units ends (``len(text)`` if all of it fits). A first cluster longer than ``room`` on its own
    (a letter under hundreds of combining marks) is cut by code points.
    """
    used = 0
    end = 0
    for cluster in _CLUSTER.finditer(text):
        used += discord_length(cluster.group())
        if used > room:
            return end or _code_points_within(text, room)
        end = cluster.end()
    return end


def escape_markdown(text: str | None) -> str:
    """Untrusted ``text`` as it must enter Markdown (content, embed title, description, fields):
    shown literally, with no link, formatting or mention of its own (see :func:`neutralize_mentions`).
    """
    return escape_line_starts(_MARKDOWN_SPECIAL.sub(r"\\\1", neutralize_mentions(text)))


def escape_line_starts(text: str) -> str:
    """The line-start escapes of :func:`escape_markdown` (headings, subtext, quotes, lists), for
    text escaped already whose lines start elsewhere than in the original (a page cut from it).
    Lines escaped already are left as they are.
    """
    return _LINE_START.sub(_escape_line_start, text)


def _escape_line_start(match: re.Match[str]) -> str:
    indent, mark, number = match.groups()
    return f"{indent}\\{mark}" if mark else f"{indent}{number}\\."


def neutralize_mentions(text: str | None) -> str:
    """Untrusted ``text`` for where Discord shows text as it is (an embed's author or footer):
    @everyone, @here, <@…> and <#…> broken with a zero-width space so they never ping, NUL and
    lone surrogates removed.
    """
    if not text:
        return ""
    text = _SURROGATE.sub("\ufffd", text.replace("\x00", ""))
    return _MENTION.sub(_break_mention, text)


def safe_url(url: str | None) -> str | None:
    """An http(s) URL fit for a Markdown link target, or None (other schemes are not linked)."""
    if not url:
        return None
    url = url.strip()
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    if scheme not in ("http", "https") or _WHITESPACE.search(url):
        return None
    # Brackets and angle brackets would end the Markdown link early.
    return url.replace("(", "%28").replace(")", "%29").replace("<", "%3C").replace(">", "%3E")


def link(label: str, url: str | None) -> str:
    """``[label](url)`` with the label escaped, or the escaped label alone if the URL is unusable."""
    target = safe_url(url)
    text = escape_markdown(label)
    return f"[{text}]({target})" if target else text


def _break_mention(match: re.Match[str]) -> str:
    if match.group(1):
        return f"@{_ZWSP}{match.group(1)}"
    return f"<{match.group(2)}{_ZWSP}{match.group(3)}>"


def _code_points_within(text: str, room: int) -> int:
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > room:
            # Not after a joiner: "👨‍" would ask for an emoji that is not there.
            return len(text[:index].rstrip(_JOINERS))
    return len(text)


def _without_dangling_escape(head: str) -> str:
    # An odd run of backslashes at the end escapes whatever follows the cut (the ellipsis).
    run = len(head) - len(head.rstrip("\\"))
    return head[:-1] if run % 2 else head
