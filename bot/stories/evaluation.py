"""Quality of the grouping on a labelled stream (the UCI News Aggregator headlines)."""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.stories.grouper import Embedder, StoryGrouper
from bot.stories.metrics import bcubed
from bot.stories.types import GroupingConfig, StoryItem

__all__ = ["Score", "evaluate", "evaluate_in_order", "load_labelled", "precomputed", "run_grouper"]

#: Something that groups a stream: items in, item id -> story id out.
GroupFn = Callable[[Sequence[StoryItem]], dict[str, str]]


@dataclass(frozen=True, slots=True)
class Score:
    """B-cubed scores averaged over shuffled streams."""

    precision: float
    recall: float
    f1: float
    #: F1 of each stream, in seed order.
    per_seed: tuple[float, ...]
    #: Items grouped per second (grouping only, excluding loading and scoring).
    items_per_second: float


def load_labelled(
    path: Path, *, with_times: bool = False, with_links: bool = False
) -> tuple[list[StoryItem], dict[str, str]]:
    """Items and gold stories from ``articles.jsonl`` (fields id, title, publisher, story, time, url).

    ``published`` is left out unless asked for: the crawl times put each story in one contiguous
    block, which would give the answer away to a method using recency (see the data set's README).
    Links are left out unless asked for, so the headline figure stays titles only.
    """
    items: list[StoryItem] = []
    gold: dict[str, str] = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            item_id = str(row["id"])
            published = None
            if with_times and row.get("time"):
                published = datetime.fromisoformat(row["time"].replace("Z", "+00:00"))
            link = row.get("url") if with_links else None
            items.append(
                StoryItem(
                    id=item_id,
                    title=row["title"],
                    published=published,
                    source=row.get("publisher"),
                    link=link,
                )
            )
            gold[item_id] = row["story"]
    return items, gold


def run_grouper(config: GroupingConfig | None = None, embedder: Embedder | None = None) -> GroupFn:
    """The bot's grouper as a GroupFn: add every item in order, then read the final stories."""

    def group(items: Sequence[StoryItem]) -> dict[str, str]:
        grouper = StoryGrouper(config, embedder)
        grouper.add_many(items)
        grouper.merge()
        return grouper.assignments()

    return group


def precomputed(embedder: Embedder, texts: Sequence[str]) -> Embedder:
    """An embedder answering from vectors computed once for ``texts``: the model is the slow part,
    and every shuffled stream asks for the same titles."""
    table = dict(zip(texts, embedder(list(texts)), strict=True))

    def lookup(batch: Sequence[str]) -> list[Sequence[float]]:
        return [table[text] if text in table else embedder([text])[0] for text in batch]

    return lookup


def evaluate(
    items: Sequence[StoryItem], gold: dict[str, str], group: GroupFn, seeds: Iterable[int] = (1, 2, 3)
) -> Score:
    """Mean B-cubed over one shuffled stream per seed (arrival order would leak the stories)."""
    scores: list[tuple[float, float, float]] = []
    elapsed = 0.0
    grouped = 0
    for seed in seeds:
        stream = list(items)
        random.Random(seed).shuffle(stream)
        start = time.perf_counter()
        pred = group(stream)
        elapsed += time.perf_counter() - start
        grouped += len(stream)
        scores.append(bcubed(pred, gold))
    if not scores:
        raise ValueError("evaluate needs at least one seed")
    n = len(scores)
    return Score(
        precision=sum(s[0] for s in scores) / n,
        recall=sum(s[1] for s in scores) / n,
        f1=sum(s[2] for s in scores) / n,
        per_seed=tuple(s[2] for s in scores),
        items_per_second=grouped / elapsed if elapsed else float("inf"),
    )


def evaluate_in_order(items: Sequence[StoryItem], gold: dict[str, str], group: GroupFn) -> Score:
    """B-cubed on the stream in publication order, as the bot sees it.

    Each story then arrives as one burst, and its first items fix the vocabulary its later items
    are compared with: the setting where single-pass clustering fragments most.
    """
    # A stable sort: items of the same second keep the file's order; undated ones go last.
    stream = sorted(items, key=lambda item: item.published.timestamp() if item.published else math.inf)
    start = time.perf_counter()
    pred = group(stream)
    elapsed = time.perf_counter() - start
    precision, recall, f1 = bcubed(pred, gold)
    return Score(precision, recall, f1, (f1,), len(stream) / elapsed if elapsed else float("inf"))
