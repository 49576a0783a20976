"""How Discord reads Markdown, as far as the escaping tests need it: links, bold, what is shown."""

from __future__ import annotations

import re

# An escaped character is inert: Discord shows it as it is. Only punctuation can be escaped (a
# backslash before a letter, digit or space is shown as a backslash): Discord's parser descends
# from simple-markdown, whose escape rule is ``^\\([^0-9A-Za-z\s])``.
_ESCAPED = re.compile(r"\\([^0-9A-Za-z\s])")
# What turns a whole line into something else: headings, subtext, lists and quotes.
_BLOCK = re.compile(r"^\s*(?:#{1,3} |-# |[-*+] |\d+\. |>>> |> )", re.M)
# A masked link: [label](url), also [label](<url>).
_MASKED_LINK = re.compile(r"\[([^\[\]]*)\]\(\s*<?(https?://[^\s)>]+)")
_PINGS = re.compile(r"@(everyone|here)|<@[!&]?\d+>", re.I)


def masked_link_targets(markdown: str | None) -> list[str]:
    """The URLs of the masked links Discord renders in ``markdown``."""
    live = _ESCAPED.sub("\x00", markdown or "")
    return [m.group(2) for m in _MASKED_LINK.finditer(live)]


def bold_spans(markdown: str | None) -> int:
    """How many ``**`` markers Discord takes as formatting in ``markdown``."""
    return _ESCAPED.sub("\x00", markdown or "").count("**")


def shown(markdown: str | None) -> str:
    """The text a reader sees: escapes resolved, zero-width spaces gone."""
    return _ESCAPED.sub(r"\1", markdown or "").replace("\u200b", "")


def block_markup(markdown: str | None) -> list[str]:
    """The lines Discord shows as a heading, subtext, list item or quote, by their start."""
    return [m.group(0) for m in _BLOCK.finditer(_ESCAPED.sub("\x00", markdown or ""))]


def pings(markdown: str | None) -> list[str]:
    """Mentions in ``markdown`` that Discord would turn into pings."""
    return [m.group(0) for m in _PINGS.finditer(_ESCAPED.sub("\x00", markdown or ""))]
