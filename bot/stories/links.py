"""Words of an article's link: most news sites put a slug of the headline in the URL path.

``/2014/03/10/gm-recall-probe-widens-to-congress.html`` says "gm recall probe widens to
congress", often in other words than the feed's title, which is a second wording of the story
for the grouper. Only slugs count: path segments of three or more words joined by ``-``, ``_`` or
``+``. Section names ("world", "business"), ids and the opaque tokens of link shorteners and
aggregators are single segments without such separators, or mostly digits, and are skipped.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

__all__ = ["slug_text"]

_SEPARATORS = re.compile(r"[-_+]")
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{2,5}$")
# A word of letters in any script, at least two of them.
_WORD = re.compile(r"[^\W\d_]{2,}")
# An id-like token mixes letters with digits ("idINBREA290VH20140310", "a1b2c3").
_ID_LIKE = re.compile(r"(?=.*\d)(?=.*[^\W\d_])\w+")
#: At least this many words make a segment a slug, and this share of its parts must be words.
_MIN_WORDS = 3
_MIN_WORD_SHARE = 0.6
#: Links are untrusted: a long path is cut before it is looked at.
_MAX_PATH = 2048


def slug_text(url: str | None) -> str:
    """The words of the slugs in ``url``'s path, space-separated ("" when it has none)."""
    if not url:
        return ""
    try:
        path = unquote(urlsplit(url[:_MAX_PATH]).path)
    except ValueError:
        return ""
    words: list[str] = []
    for segment in path.split("/"):
        parts = [p for p in _SEPARATORS.split(_EXTENSION.sub("", segment)) if p]
        slug_words = [p for p in parts if _WORD.fullmatch(p)]
        if len(slug_words) < _MIN_WORDS or len(slug_words) < _MIN_WORD_SHARE * len(parts):
            continue
        words.extend(p for p in parts if not _ID_LIKE.fullmatch(p))
    return " ".join(words)
