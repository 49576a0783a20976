"""Text helpers for digests and alerts: English lists and lead sentences.

Escaping untrusted text for Discord is :mod:`bot.discord_text`'s job; outlet identity is
:mod:`bot.outlets`'.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.discord_text import discord_length, fit

__all__ = ["join_names", "lead_sentences"]

_SPACES = re.compile(r"\s+")

# A sentence ends at . ! ? (and an optional closing quote or bracket) followed by a space and a
# capital, a digit or an opening quote; the lookbehind rules out common abbreviations.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)\]]?\s+(?=[\"“‘(\[]?[A-Z0-9À-Ý])")
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof st jr sr gen gov sen rep col lt sgt capt mt ft no nos vs inc ltd co corp
    dept est fig jan feb mar apr jun jul aug sep sept oct nov dec u.s u.k u.n e.g i.e a.m p.m""".split()  # noqa: SIM905
)


def join_names(names: Sequence[str], *, max_named: int = 3, total: int | None = None) -> str:
    """English list without the Oxford comma: "A", "A and B", "A, B and C", "A, B, C and 4 more".

    Up to ``max_named + 1`` names are all shown: "and 1 more" would save nothing. ``total`` is
    the full count when ``names`` holds only the first few (so callers format only those).
    """
    names = list(names)
    count = max(total or 0, len(names))
    if not names:
        return ""
    if count > max_named + 1 or count > len(names):
        shown = names[:max_named]
        return ", ".join(shown) + f" and {count - len(shown)} more"
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


def lead_sentences(text: str | None, *, max_chars: int = 300, max_sentences: int = 2) -> str:
    """The first one or two sentences of ``text``, at most ``max_chars``, cut at a sentence end.

    A first sentence longer than ``max_chars`` is cut at a word boundary with an ellipsis.
    """
    if not text:
        return ""
    text = _SPACES.sub(" ", text).strip()
    if not text:
        return ""
    sentences = _split_sentences(text)
    out = ""
    for sentence in sentences[:max_sentences]:
        candidate = f"{out} {sentence}".strip()
        if discord_length(candidate) > max_chars:
            break
        out = candidate
    return out or fit(sentences[0], max_chars)


# --- internals ----------------------------------------------------------------


def _split_sentences(text: str) -> list[str]:
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        before = text[start : match.start()].rstrip("\"'”’)]")
        last_word = before.rsplit(" ", 1)[-1].rstrip(".!?").casefold()
        # "Mr. Smith", "the U.S. Senate", "J. K. Rowling": not sentence ends.
        if last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha()):
            continue
        sentences.append(text[start : match.start()].strip() + match.group(0).strip())
        start = match.end()
    sentences.append(text[start:].strip())
    return [s for s in sentences if s]
