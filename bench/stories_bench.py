"""Story grouping: quality (B-cubed on shuffled streams) and speed, baseline and ours side by side.

    python3 bench/stories_bench.py [--data DIR] [--seeds 1 2 3 4 5]

The baseline is the textbook single-pass TF-IDF clustering on titles: lowercase word tokens, IDF
learnt online, each item joins the most similar centroid above a fixed cosine threshold (the
best of a small sweep is reported, which flatters the baseline) and nothing is ever merged.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.stories import GroupingConfig, StoryGrouper, StoryItem
from bot.stories.evaluation import (
    Score,
    evaluate,
    evaluate_in_order,
    load_labelled,
    precomputed,
    run_grouper,
)

# The shared data sits beside the repository (../shared), wherever it is checked out.
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "uci-news-aggregator-head"
_WORD = re.compile(r"\w+")


def baseline(threshold: float):
    """Plain single-pass TF-IDF clustering, for comparison only."""

    def group(items: Sequence[StoryItem]) -> dict[str, str]:
        df: dict[str, int] = {}
        centroids: list[dict[str, float]] = []
        norms2: list[float] = []
        out: dict[str, str] = {}
        for docs, item in enumerate(items, start=1):
            words = set(_WORD.findall(item.title.lower()))
            for w in words:
                df[w] = df.get(w, 0) + 1
            vec = {w: math.log((1 + docs) / (1 + df[w])) + 1 for w in words}
            length = math.sqrt(sum(v * v for v in vec.values())) or 1.0
            vec = {w: v / length for w, v in vec.items()}
            best, best_sim = -1, threshold
            for i, (c, n2) in enumerate(zip(centroids, norms2, strict=True)):
                sim = sum(v * c.get(w, 0.0) for w, v in vec.items()) / math.sqrt(n2) if n2 else 0.0
                if sim >= best_sim:
                    best, best_sim = i, sim
            if best < 0:
                centroids.append({})
                norms2.append(0.0)
                best = len(centroids) - 1
            c = centroids[best]
            for w, v in vec.items():
                c[w] = c.get(w, 0.0) + v
            norms2[best] = sum(v * v for v in c.values())
            out[item.id] = str(best)
        return out

    return group


def _line(name: str, score: Score) -> str:
    seeds = " ".join(f"{f:.3f}" for f in score.per_seed)
    return (
        f"{name:<34} P={score.precision:.3f} R={score.recall:.3f} F1={score.f1:.3f}"
        f"  [{seeds}]  {score.items_per_second:,.0f} items/s"
    )


def speed_on_long_stream(items: Sequence[StoryItem], copies: int) -> float:
    """Items/s on the data set repeated ``copies`` times (distinct ids, no dates: nothing expires)."""
    stream = [
        StoryItem(id=f"{k}:{item.id}", title=item.title, source=item.source)
        for k in range(copies)
        for item in items
    ]
    grouper = StoryGrouper()
    start = time.perf_counter()
    grouper.add_many(stream)
    return len(stream) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--copies", type=int, default=5, help="length of the speed stream, in data sets")
    parser.add_argument(
        "--embeddings", action="store_true", help="also the optional MiniLM path (slow: encodes every title)"
    )
    args = parser.parse_args(argv)
    path = args.data / "articles.jsonl"
    if not path.exists():
        print(f"no data at {path}", file=sys.stderr)
        return 2
    items, gold = load_labelled(path)
    print(f"{len(items)} items, {len(set(gold.values()))} stories, seeds {args.seeds}")
    best = max(
        ((t, evaluate(items, gold, baseline(t), args.seeds)) for t in (0.05, 0.1, 0.2, 0.3)),
        key=lambda ts: ts[1].f1,
    )
    print(_line(f"baseline single-pass (cos>={best[0]})", best[1]))
    print(
        _line("ours, no merge", evaluate(items, gold, run_grouper(GroupingConfig(merge_every=0)), args.seeds))
    )
    print(_line("ours (default config)", evaluate(items, gold, run_grouper(), args.seeds)))
    linked, _ = load_labelled(path, with_links=True)
    print(_line("ours, titles and links (URL slugs)", evaluate(linked, gold, run_grouper(), args.seeds)))
    dated, _ = load_labelled(path, with_times=True)
    no_merge = GroupingConfig(merge_every=0)
    print("in publication order (each story arrives as one burst; one stream):")
    print(_line(f"  baseline (cos>={best[0]})", evaluate_in_order(dated, gold, baseline(best[0]))))
    print(_line("  ours, no merge", evaluate_in_order(dated, gold, run_grouper(no_merge))))
    print(_line("  ours (default config)", evaluate_in_order(dated, gold, run_grouper())))
    print(f"ours on a {args.copies}x longer stream: {speed_on_long_stream(items, args.copies):,.0f} items/s")
    print(f"ours, peak memory on that stream: {memory_of_grouping(items, args.copies):.1f} MB (tracemalloc)")
    if args.embeddings:
        embeddings_line(items, gold, args.seeds)
    return 0


# The MiniLM settings before issue 15, run beside the current ones so both come from one run.
PREVIOUS_EMBEDDINGS = GroupingConfig(
    embedding_weight=0.5,
    join_relative=0.5,
    join_floor=0.3,
    merge_relative=0.6,
    merge_floor=0.4,
    settled_merge_floor=0.7,
)


def memory_of_grouping(items: Sequence[StoryItem], copies: int) -> float:
    """Peak memory (MB) the grouper allocates for the data set repeated ``copies`` times."""
    stream = [
        StoryItem(id=f"{k}:{item.id}", title=item.title, source=item.source)
        for k in range(copies)
        for item in items
    ]
    tracemalloc.start()
    grouper = StoryGrouper()
    grouper.add_many(stream)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 1e6


def embeddings_line(items: Sequence[StoryItem], gold: dict[str, str], seeds: Sequence[int]) -> None:
    """The optional MiniLM path: model time and grouping time are reported apart."""
    from bot.stories.embeddings import EmbeddingsUnavailableError, MiniLMEncoder

    try:
        encoder = MiniLMEncoder()
    except EmbeddingsUnavailableError as e:
        print(f"embeddings: skipped ({e})")
        return
    titles = sorted({item.title for item in items})
    start = time.perf_counter()
    embedder = precomputed(encoder, titles)
    encode_rate = len(titles) / (time.perf_counter() - start)
    before = evaluate(items, gold, run_grouper(PREVIOUS_EMBEDDINGS, embedder), seeds)
    print(_line("MiniLM, settings before issue 15", before) + " (grouping only)")
    score = evaluate(items, gold, run_grouper(GroupingConfig.with_embeddings(), embedder), seeds)
    print(_line("ours + MiniLM embeddings", score) + " (grouping only)")
    print(f"MiniLM encoding (numpy, this machine): {encode_rate:,.0f} titles/s")


if __name__ == "__main__":
    sys.exit(main())
