"""Digest headlines: the previous picker and today's, side by side, on the shared headlines.

    python3 bench/headline_bench.py [--data DIR] [--stories N] [--all]

For each story of the data set (its gold grouping: which title represents a story is measured
apart from how well stories are grouped), both pickers choose one title. Printed: the titles
that differ (all of them with --all), then for each picker the share of picks that are tickers,
clickbait, very short (under 5 words), cut off ("...") or in capitals, the mean centrality of the
pick (mean cosine with the story's other titles), the mean share of the story's key terms it
carries, and the share carrying a number. The "previous" picker is the rule set the bot used
before (centrality with light penalties), kept here as the baseline; "shortest" is a naive one.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.digests.headline import display_title, is_clickbait, is_ticker, pick_headline, title_centrality
from bot.stories.text import terms

# The shared data sits beside the repository (../shared), wherever it is checked out.
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "uci-news-aggregator-head"
SHORT_WORDS = 5
_CUT = re.compile(r"(?:\.\.\.|…)\s*$")
_NUMBER = re.compile(r"\d")
_PREVIOUS_CLICKBAIT = re.compile(
    r"you won'?t believe|here'?s (?:what|why|how)|this is (?:why|what|how)|what happens next|"
    r"will shock|the reason why|\bthis one\b|!{2,}|\?{2,}",
    re.I,
)

Picker = Callable[[Sequence[str]], int]


def previous_pick(titles: Sequence[str]) -> int:
    """The picker before issue 15: most central title, x0.5 caps, x0.7 length or clickbait,
    x0.6 cut, x0.85 question; ties to the first."""
    central = _plain_centrality(titles)
    best, best_score = 0, -1.0
    for i, title in enumerate(titles):
        score = 0.1 + central[i]
        if _caps(title):
            score *= 0.5
        if len(title) > 120 or len(title.split()) < 4:
            score *= 0.7
        if _PREVIOUS_CLICKBAIT.search(title):
            score *= 0.7
        if re.search(r"(?:\.\.\.|…|[:,;\-–—])\s*$", title):
            score *= 0.6
        elif title.rstrip().endswith("?"):
            score *= 0.85
        if round(score, 9) > round(best_score, 9):
            best, best_score = i, score
    return best


def shortest_pick(titles: Sequence[str]) -> int:
    return min(range(len(titles)), key=lambda i: (len(titles[i]), i))


def current_pick(titles: Sequence[str]) -> int:
    return pick_headline(titles)


@dataclass(slots=True)
class Figures:
    tickers: float
    clickbait: float
    short: float
    cut: float
    caps: float
    centrality: float
    key_terms: float
    numbers: float

    def line(self, name: str) -> str:
        return (
            f"{name:<9} ticker {self.tickers:5.1%}  clickbait {self.clickbait:5.1%}  short {self.short:5.1%}"
            f"  cut {self.cut:5.1%}  caps {self.caps:5.1%}  | centrality {self.centrality:.3f}"
            f"  key terms {self.key_terms:5.1%}  numbers {self.numbers:5.1%}"
        )


def load_stories(data: Path) -> list[list[str]]:
    """The titles of each gold story, in file order."""
    stories: dict[str, list[str]] = {}
    with (data / "articles.jsonl").open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            stories.setdefault(row["story"], []).append(row["title"])
    return list(stories.values())


def figures(stories: Sequence[Sequence[str]], picks: Sequence[int]) -> Figures:
    """The proxies of one picker's choices (computed the same way for every picker)."""
    n = len(stories)
    sums = dict.fromkeys(Figures.__slots__, 0.0)
    for titles, pick in zip(stories, picks, strict=True):
        shown = [display_title(t) for t in titles]
        title = shown[pick]
        sums["tickers"] += is_ticker(title)
        sums["clickbait"] += is_clickbait(title)
        sums["short"] += len(title.split()) < SHORT_WORDS
        sums["cut"] += bool(_CUT.search(title))
        sums["caps"] += _caps(title)
        sums["centrality"] += title_centrality(shown)[pick]
        keys = _key_terms(shown)
        sums["key_terms"] += len(set(terms(title)) & keys) / len(keys) if keys else 0.0
        sums["numbers"] += bool(_NUMBER.search(title))
    return Figures(**{k: v / n for k, v in sums.items()})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--stories", type=int, default=0, help="the first N stories (0: all)")
    parser.add_argument("--all", action="store_true", help="print every story, not only changed picks")
    args = parser.parse_args(argv)
    stories = load_stories(args.data)
    if args.stories > 0:
        stories = stories[: args.stories]
    pickers: dict[str, Picker] = {"previous": previous_pick, "shortest": shortest_pick, "now": current_pick}
    picks = {name: [pick(titles) for titles in stories] for name, pick in pickers.items()}
    print(f"{len(stories)} stories, {sum(map(len, stories))} titles ({args.data})\n")
    changed = 0
    for titles, old, new in zip(stories, picks["previous"], picks["now"], strict=True):
        before, after = " ".join(titles[old].split()), display_title(titles[new])
        changed += before != after
        if before != after or args.all:
            mark = "*" if before != after else " "
            print(f"{mark} [{len(titles):3}] before: {before}\n        after:  {after}")
    print(f"\n{changed} of {len(stories)} headlines changed\n")
    for name, chosen in picks.items():
        print(figures(stories, chosen).line(name))
    return 0


def _plain_centrality(titles: Sequence[str]) -> list[float]:
    sets = [set(terms(t[:300])) for t in titles]
    weight: dict[str, float] = {}
    for mine in sets:
        for term in mine:
            weight[term] = weight.get(term, 0.0) + 1.0 / math.sqrt(len(mine))
    others = len(titles) - 1
    return [
        (sum(weight[t] for t in mine) / math.sqrt(len(mine)) - 1.0) / others if mine and others else 0.0
        for mine in sets
    ]


def _key_terms(titles: Sequence[str]) -> set[str]:
    distinct = {frozenset(terms(t)) for t in titles}
    counts: dict[str, int] = {}
    for unique in distinct:
        for term in unique:
            counts[term] = counts.get(term, 0) + 1
    floor = max(2, math.ceil(0.3 * len(distinct)))
    return {t for t, n in counts.items() if n >= floor}


def _caps(title: str) -> bool:
    letters = [c for c in title if c.isalpha()]
    return len(letters) >= 8 and sum(c.isupper() for c in letters) / len(letters) > 0.8


if __name__ == "__main__":
    raise SystemExit(main())
