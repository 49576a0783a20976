"""Topic alerts: a channel's keywords matched against a story's titles.

Matching is case- and accent-insensitive, on whole words or phrases: "AI" matches "AI rules
agreed" but not "said" or "Thailand"; "climate change" matches "Climate  change" and
"climate-change". Punctuation inside a keyword is kept ("C++", "AT&T").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from bot.alerts.errors import KeywordError

__all__ = ["MAX_KEYWORD_LENGTH", "KeywordAlert", "match_keywords"]

MAX_KEYWORD_LENGTH = 100
# Inside a phrase, any run of spaces or hyphens matches any other.
_GAP = r"[\s\-‐‑–—]+"


@dataclass(frozen=True, slots=True)
class KeywordAlert:
    """One keyword or phrase a channel wants alerts for."""

    keyword: str

    def __post_init__(self) -> None:
        text = " ".join(self.keyword.split())
        if not text:
            raise KeywordError("A keyword cannot be empty.")
        if len(text) > MAX_KEYWORD_LENGTH:
            raise KeywordError(f"A keyword can be at most {MAX_KEYWORD_LENGTH} characters.")
        if not any(c.isalnum() for c in text):
            raise KeywordError(f"{text!r} has no letters or digits to match.")
        object.__setattr__(self, "keyword", text)

    def matches(self, text: str) -> bool:
        """Whether ``text`` contains the keyword as a whole word or phrase."""
        return _pattern(self.keyword).search(_fold(text)) is not None


def match_keywords(titles: Iterable[str], keywords: Iterable[str | KeywordAlert]) -> list[str]:
    """The keywords found in any of ``titles``, in the order given, each once."""
    folded = [_fold(t) for t in titles if t]
    found: list[str] = []
    seen: set[str] = set()
    for keyword in keywords:
        alert = keyword if isinstance(keyword, KeywordAlert) else KeywordAlert(keyword)
        key = _fold(alert.keyword)
        if key in seen:
            continue
        pattern = _pattern(alert.keyword)
        if any(pattern.search(title) for title in folded):
            seen.add(key)
            found.append(alert.keyword)
    return found


@lru_cache(maxsize=4096)
def _pattern(keyword: str) -> re.Pattern[str]:
    words = [w for w in re.split(_GAP, _fold(keyword)) if w]
    # Lookarounds rather than \b, so keywords that start or end with punctuation ("C++") work.
    return re.compile(r"(?<!\w)" + _GAP.join(re.escape(w) for w in words) + r"(?!\w)")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
