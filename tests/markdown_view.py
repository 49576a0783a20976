"""How Discord reads Markdown, as far as the escaping tests need it: links, bold, what is shown."""

from __future__ import annotations

import re

# An escaped character (backslash and any character) is inert: Discord shows it as it is.
_ESCAPED = re.compile(r"\\(.)", re.S)
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


def pings(markdown: str | None) -> list[str]:
    """Mentions in ``markdown`` that Discord would turn into pings."""
    return [m.group(0) for m in _PINGS.finditer(_ESCAPED.sub("\x00", markdown or ""))]
