"""Choosing one headline for a story told by several outlets.

The representative title is the most *central* one: the title sharing the most words with the
other titles of the story (mean cosine of their term sets), so an outlet's odd angle or a
columnist's pun loses to the wording most outlets agree on. Titles in ALL CAPS, very long or very
short ones, titles cut off ("...") or asked as questions, and clickbait phrasings are penalised
but never excluded: a story with only such titles still gets one. Ties go to the earliest title.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import datetime

from bot.stories.text import terms

__all__ = ["headline_scores", "pick_headline"]

#: Titles longer than this read as clickbait or as a lead pasted into the title.
MAX_GOOD_LENGTH = 120
MIN_GOOD_WORDS = 4
_TERMS_CHARS = 300
_CAPS_PENALTY = 0.5
_LENGTH_PENALTY = 0.7
_CLICKBAIT_PENALTY = 0.7
_CUT_PENALTY = 0.6
_QUESTION_PENALTY = 0.85
# Aggregators and some feeds cut long titles: "Cannabis Science Inc  ...", "Performing In Underwear:".
_CUT = re.compile(r"(?:\.\.\.|…|[:,;\-–—])\s*$")
_CLICKBAIT = re.compile(
    r"you won'?t believe|here'?s (?:what|why|how)|this is (?:why|what|how)|what happens next|"
    r"will shock|the reason why|\bthis one\b|!{2,}|\?{2,}",
    re.I,
)


def headline_scores(titles: Sequence[str]) -> list[float]:
    """A score per title (higher is a better headline for the story)."""
    # The words that matter are at the start; a title pasted with its whole lead is penalised anyway.
    sets = [set(terms(t[:_TERMS_CHARS])) for t in titles]
    # The sum of cosines to all titles, sum_j |Ti & Tj| / sqrt(|Ti| |Tj|), regrouped by term so it
    # costs the total number of terms instead of n^2 set intersections.
    weight: dict[str, float] = {}
    for mine in sets:
        if mine:
            share = 1.0 / math.sqrt(len(mine))
            for term in mine:
                weight[term] = weight.get(term, 0.0) + share
    others = len(titles) - 1
    scores = []
    for title, mine in zip(titles, sets, strict=True):
        if mine and others:
            root = math.sqrt(len(mine))
            # Minus the title's cosine with itself (1).
            centrality = (sum(weight[t] for t in mine) / root - 1.0) / others
        else:
            centrality = 0.0
        # A small base so penalties still order titles of a one-title or no-overlap story.
        score = 0.1 + centrality
        if _is_all_caps(title):
            score *= _CAPS_PENALTY
        if len(title) > MAX_GOOD_LENGTH or len(title.split()) < MIN_GOOD_WORDS:
            score *= _LENGTH_PENALTY
        if _CLICKBAIT.search(title):
            score *= _CLICKBAIT_PENALTY
        if _CUT.search(title):
            score *= _CUT_PENALTY
        elif title.rstrip().endswith("?"):
            # A question tells less than a statement of the same event.
            score *= _QUESTION_PENALTY
        scores.append(score)
    return scores


def pick_headline(titles: Sequence[str], published: Sequence[datetime | None] | None = None) -> int:
    """The index of the best headline; ties go to the earliest published, then the first given.

    Empty titles are never chosen unless all are empty. Raises ValueError on an empty list.
    """
    if not titles:
        raise ValueError("no titles to choose from")
    scores = headline_scores(titles)
    times = published if published is not None else [None] * len(titles)

    def key(i: int) -> tuple[bool, float, bool, float, int]:
        when = times[i]
        # Rounded so float noise between equal titles does not beat the earliest-first rule.
        return (
            not titles[i].strip(),
            -round(scores[i], 9),
            when is None,
            when.timestamp() if when is not None else 0.0,
            i,
        )

    return min(range(len(titles)), key=key)


def _is_all_caps(title: str) -> bool:
    letters = [c for c in title if c.isalpha()]
    if len(letters) < 8:
        return False
    return sum(c.isupper() for c in letters) / len(letters) > 0.8
