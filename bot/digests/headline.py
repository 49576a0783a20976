"""Choosing one headline for a story told by several outlets.

The representative title is the most *informative* one:

* **central**: it shares the most words with the other titles of the story (mean cosine of their
  term sets), so an outlet's odd angle or a columnist's pun loses to the wording most outlets
  agree on; and it carries the story's **key terms** (those most titles use);
* **specific**: numbers ("25,000 SUVs", "$100m") and names written mid-sentence count for it;
* **plain**: tickers ("LIVE:", "Live updates", "WATCH:", "VIDEO:", "UPDATE 2-", "[WATCH LIVE]"),
  clickbait ("You won't believe", "This is why", a bare question, "!!"), ALL CAPS, titles cut off
  ("...") and titles far too short or too long are penalised, never excluded: a story with only
  such titles still gets one.

Titles are judged, and shown (:func:`display_title`), without an outlet's suffix
(" - Reuters", " | BBC News"). Ties go to the earliest title.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import datetime

from bot.stories.text import terms

__all__ = [
    "display_title",
    "headline_scores",
    "is_clickbait",
    "is_ticker",
    "pick_headline",
    "title_centrality",
]

#: Titles longer than this read as a lead pasted into the title.
MAX_GOOD_LENGTH = 120
MAX_GOOD_WORDS = 18
#: Fewer words than this says too little ("Fannie Mae and Freddie Mac").
MIN_GOOD_WORDS = 5
#: A key term is used by at least this share of the story's titles.
KEY_TERM_SHARE = 0.3
_TERMS_CHARS = 300
_BASE = 0.1
_CAPS_PENALTY = 0.5
_TICKER_PENALTY = 0.5
_CLICKBAIT_PENALTY = 0.6
_TEASER_PENALTY = 0.65
_QUESTION_PENALTY = 0.85
_CUT_PENALTY = 0.6
_TOO_SHORT_PENALTY = 0.6
_SHORTISH_PENALTY = 0.85
_TOO_LONG_PENALTY = 0.7
_KEY_TERMS_WEIGHT = 0.3
_NUMBER_BONUS = 0.06
_NAME_BONUS = 0.01

# Aggregators and some feeds cut long titles: "Cannabis Science Inc  ...", "Performing In Underwear:".
_CUT = re.compile(r"(?:\.\.\.|…|[:,;\-–—])\s*$")
_CLICKBAIT = re.compile(
    r"you won'?t believe|here'?s (?:what|why|how|the)|^here'?s\b|this is (?:why|what|how|the)|"
    r"what happens next|will (?:shock|blow your mind)|the reason why|\bthis one\b|"
    r"what you need to know|you need to (?:see|know)|\bdid you (?:see|watch|know)\b|"
    r"\bwhy you should\b|!{2,}|\?{2,}|"
    # Listicles: "The 10 Best Stocks of the Bull Market", "SXSW 2014: 10 Artists to Watch".
    r"(?:^|:\s)(?:the\s+)?\d{1,2}\s+(?!(?:million|billion|thousand|percent)\b)(?:[a-z-]+\s+)?(?:things|reasons|ways|best|worst|facts|secrets|"
    r"tips|signs|moments|artists|bands|songs|albums|movies|shows|apps|stocks|photos|pictures|people|"
    r"times|questions|lessons)\b|"
    # A question asked without its question mark: "Lindsay Lohans reality show Whats the verdict".
    r"\bwhat'?s (?:the verdict|next)\b|"
    # Teasers and service pieces: "What this bull market needs...", "An A-Z guide to SXSW".
    r"^(?:what|why|how) (?:this|these|you)\b|\b(?:a-?z|ultimate|complete|beginner'?s) guide\b",
    re.I,
)
# Live tickers and media tags: they say how the story is told, not what happened. A wire slug
# is a wire desk's all-caps word glued to the text by a hyphen ("UPDATE 2-", "ECB FOCUS-", "RPT-").
_TICKER = re.compile(
    r"^\s*(?:live|watch|video|photos?|breaking|update[ds]?|listen)\s*(?:\d+\s*)?[:|]|"
    r"^\s*(?:live|watch|video|breaking)\s+[-–—]\s|"
    r"\blive (?:updates?|blog|stream|coverage|video|chat)\b|\bas it happened\b|"
    r"^\s*live (?:at|from|now)\b|"
    r"[\[(](?:watch(?: live)?|live|video|photos?|pics|audio)[\])]|"
    r"[:\-–—]\s*(?:watch|video|live|photos?)(?:\s+(?:now|here|live|online))?\s*$",
    re.I,
)
_QUESTION_SPLIT = re.compile(r"[:;\-–—]\s")
_NUMBER = re.compile(r"(?<![\w-])[$£€]?\d[\d,.]*(?:\s?(?:%|percent|m|bn|million|billion|k))?\b", re.I)
_WIRE_SLUG = re.compile(r"^\s*(?:[A-Z]{2,}\s)*[A-Z]{3,}(?:\s\d+)?-(?=[A-Z0-9])|^\s*UPDATE\s\d+-")
_WORD = re.compile(r"[A-Za-z][\w'’.&-]*")

# An outlet's name after the title. " | X" is nearly always the site; " - X" only when X looks
# like an outlet's name, since "Rates stay low - traders" is an attribution worth keeping.
_PIPE_SUFFIX = re.compile(r"\s+[|｜]\s+[^|｜]{1,60}$")
_REPEATED_LEAD = re.compile(r"^(.{3,40}?)\s+[-–—:|]\s+(?=\1\b)", re.I)
_DASH_SUFFIX = re.compile(r"\s+[-–—]\s+(?P<name>[^-–—]{2,50})$")
_OUTLET_WORDS = re.compile(
    r"\b(?:news|times|post|journal|reuters|ap|afp|bloomberg|bbc|cnn|cnbc|nbc|abc|cbs|fox|msnbc|npr|"
    r"guardian|herald|tribune|telegraph|daily|online|press|magazine|tv|radio|blog|wire|gazette|"
    r"chronicle|observer|independent|mail|express|examiner|insider|digest|channel|network|media|"
    r"republic|nation|today|standard|courier|sentinel|review|weekly|record|star|globe|bulletin|"
    r"huffington ?post|forbes|fortune|wsj|ft|usa today|yahoo|reporter|register)\d*\b|"
    # A web address, or a US station's call sign ("WSHM", "KVVU-TV").
    r"\.(?:com|net|org|co\.uk|co|io)\b|(?-i:^[KW][A-Z]{2,3}\b)",
    re.I,
)


def display_title(title: str, sources: Sequence[str] = ()) -> str:
    """``title`` as shown to readers: spaces collapsed, an outlet's suffix removed.

    ``sources`` are names the item's outlet goes by (its feed's title, its host): a suffix equal
    to one of them is removed whatever it looks like. The title is kept whole rather than cut
    to fewer than three words.
    """
    flat = " ".join(title.split())
    # "Miley Cyrus - Miley Cyrus fan arrested...": a feed's tag repeating the title's start.
    flat = _REPEATED_LEAD.sub("", flat)
    for _ in range(2):  # "Title - Politics | The Guardian"
        stripped = _strip_suffix(flat, sources)
        if stripped == flat:
            break
        flat = stripped
    return flat


def _strip_suffix(title: str, sources: Sequence[str]) -> str:
    names = {" ".join(s.split()).casefold() for s in sources if s and s.strip()}
    for pattern in (_PIPE_SUFFIX, _DASH_SUFFIX):
        match = pattern.search(title)
        if match is None:
            continue
        head = title[: match.start()].rstrip()
        suffix = title[match.start() :].strip(" |｜-–—")
        if len(head.split()) < 3:
            continue
        if suffix.casefold() in names or _looks_like_outlet(suffix):
            return head
        # After a pipe, a section or site name ("SXSW Music", "03.09.14"), not a clause.
        if pattern is _PIPE_SUFFIX and _looks_like_a_name(suffix):
            return head
    return title


def _looks_like_a_name(text: str) -> bool:
    words = text.split()
    return len(words) <= 5 and all(not w[0].isalpha() or w[0].isupper() for w in words)


def _looks_like_outlet(name: str) -> bool:
    words = name.split()
    if not 1 <= len(words) <= 5 or name.rstrip().endswith(("?", "!", "...", "…")):
        return False
    return bool(_OUTLET_WORDS.search(name))


def is_ticker(title: str) -> bool:
    """A live ticker or media tag ("LIVE:", "Live updates", "VIDEO:", "UPDATE 2-", "(WATCH)")."""
    return bool(_TICKER.search(title) or _WIRE_SLUG.search(title))


def is_clickbait(title: str) -> bool:
    """A clickbait phrasing, or a question that only teases (nothing stated before it)."""
    return bool(_CLICKBAIT.search(title)) or _is_teaser_question(title)


def title_centrality(titles: Sequence[str]) -> list[float]:
    """Each title's mean cosine (of term sets) with the other titles of the story, in [0, 1]."""
    sets = _term_sets(titles)
    return _centrality(sets)


def headline_scores(titles: Sequence[str]) -> list[float]:
    """A score per title (higher is a better headline for the story)."""
    shown = [display_title(t) for t in titles]
    sets = _term_sets(shown)
    centrality = _centrality(sets)
    keys = _key_terms(sets)
    scores = []
    for title, mine, central in zip(shown, sets, centrality, strict=True):
        # The share of the story's key terms the title carries: the informative, not just the short.
        coverage = len(mine & keys) / len(keys) if keys else 0.0
        score = (_BASE + central) * (1.0 + _KEY_TERMS_WEIGHT * coverage)
        score *= _specific_bonus(title) * _penalty(title)
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


# --- internals ----------------------------------------------------------------


def _term_sets(titles: Sequence[str]) -> list[set[str]]:
    # The words that matter are at the start; a title pasted with its whole lead is penalised anyway.
    return [set(terms(t[:_TERMS_CHARS])) for t in titles]


def _centrality(sets: Sequence[set[str]]) -> list[float]:
    # Against the *distinct* titles: one wire title reprinted by ten member stations is one
    # voice, not ten. The sum of cosines, sum_j |Ti & Tj| / sqrt(|Ti| |Tj|), is regrouped by term
    # so it costs the total number of terms instead of n^2 set intersections.
    distinct = {frozenset(mine) for mine in sets if mine}
    weight: dict[str, float] = {}
    for unique in distinct:
        share = 1.0 / math.sqrt(len(unique))
        for term in unique:
            weight[term] = weight.get(term, 0.0) + share
    others = len(distinct) - 1
    out = []
    for mine in sets:
        if mine and others:
            # Minus the title's cosine with itself (1).
            total = sum(weight[t] for t in mine) / math.sqrt(len(mine))
            out.append(max(0.0, total - 1.0) / others)
        else:
            out.append(0.0)
    return out


def _key_terms(sets: Sequence[set[str]]) -> set[str]:
    distinct = {frozenset(mine) for mine in sets if mine}
    if len(distinct) < 3:
        return set()
    counts: dict[str, int] = {}
    for unique in distinct:
        for term in unique:
            counts[term] = counts.get(term, 0) + 1
    floor = max(2, math.ceil(KEY_TERM_SHARE * len(distinct)))
    return {t for t, n in counts.items() if n >= floor}


def _specific_bonus(title: str) -> float:
    """Numbers and names are the details a reader wants; a wire slug's "2" is not one."""
    text = _WIRE_SLUG.sub("", title)
    numbers = len(_NUMBER.findall(text))
    words = _WORD.findall(text)
    names = 0
    # In Title Case every word is capitalised: names cannot be told apart there.
    capitalised = sum(w[0].isupper() for w in words)
    if words and capitalised / len(words) < 0.6:
        names = sum(w[0].isupper() for w in words[1:])
    return 1.0 + _NUMBER_BONUS * min(numbers, 2) + _NAME_BONUS * min(names, 3)


def _penalty(title: str) -> float:
    factor = 1.0
    words = len(title.split())
    if _is_all_caps(title):
        factor *= _CAPS_PENALTY
    if is_ticker(title):
        factor *= _TICKER_PENALTY
    if _CLICKBAIT.search(title):
        factor *= _CLICKBAIT_PENALTY
    if words < MIN_GOOD_WORDS - 1:
        factor *= _TOO_SHORT_PENALTY
    elif words < MIN_GOOD_WORDS:
        factor *= _SHORTISH_PENALTY
    elif len(title) > MAX_GOOD_LENGTH or words > MAX_GOOD_WORDS:
        factor *= _TOO_LONG_PENALTY
    if _CUT.search(title):
        factor *= _CUT_PENALTY
    elif _is_teaser_question(title):
        factor *= _TEASER_PENALTY
    elif title.rstrip().endswith("?"):
        # "Bull market turns 5: but is the party over?" states something first; still less plain.
        factor *= _QUESTION_PENALTY
    return factor


def _is_teaser_question(title: str) -> bool:
    text = title.strip()
    return text.endswith("?") and not _QUESTION_SPLIT.search(text[:-1])


def _is_all_caps(title: str) -> bool:
    letters = [c for c in title if c.isalpha()]
    if len(letters) < 8:
        return False
    return sum(c.isupper() for c in letters) / len(letters) > 0.8
