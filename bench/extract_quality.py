"""Extraction quality on the article-extraction benchmark: ours beside trafilatura's defaults.

Metric (the benchmark's README): lower-cased word tokens, 4-word shingles with
multiplicity, per-page precision and recall, mean P, mean R, F1 of the means.

Run: ``python3 -m bench.extract_quality [--data DIR] [--workers N] [--worst K] [--extra K]``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import trafilatura

from bot.errors import ExtractError
from bot.extract import extract

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "article-extraction-benchmark"
_TOKEN = re.compile(r"\w+", re.UNICODE)
SHINGLE_SIZE = 4


@dataclass(frozen=True, slots=True)
class Page:
    id: str
    url: str
    html: str
    gold: str


@dataclass(frozen=True, slots=True)
class Score:
    precision: float
    recall: float

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def shingles(text: str | None, n: int = SHINGLE_SIZE) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall((text or "").lower())
    if len(tokens) < n:
        return Counter([tuple(tokens)]) if tokens else Counter()
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def page_score(gold: str, predicted: str | None) -> Score:
    """Precision and recall of one page's extracted text against the gold text."""
    g, p = shingles(gold), shingles(predicted)
    tp = sum((g & p).values())
    fp = sum((p - g).values())
    fn = sum((g - p).values())
    if fp == fn == 0:
        return Score(1.0, 1.0)
    if tp == 0:
        return Score(0.0, 0.0)
    return Score(tp / (tp + fp), tp / (tp + fn))


def mean_score(scores: Iterable[Score]) -> Score:
    scores = list(scores)
    return Score(
        sum(s.precision for s in scores) / len(scores),
        sum(s.recall for s in scores) / len(scores),
    )


def load_pages(data: Path) -> list[Page]:
    truth = json.loads((data / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id in sorted(truth):
        html = gzip.decompress((data / "html" / f"{page_id}.html.gz").read_bytes()).decode("utf-8")
        pages.append(Page(page_id, truth[page_id]["url"], html, truth[page_id]["articleBody"]))
    return pages


def ours(html: str, url: str) -> str:
    try:
        return extract(html, url).text
    except ExtractError:
        return ""


def trafilatura_default(html: str, url: str) -> str:
    return trafilatura.extract(html, url=url) or ""


def trafilatura_no_comments(html: str, url: str) -> str:
    return trafilatura.extract(html, url=url, include_comments=False) or ""


EXTRACTORS: dict[str, Callable[[str, str], str]] = {
    "newsdesk extract": ours,
    "trafilatura default": trafilatura_default,
    "trafilatura no comments": trafilatura_no_comments,
}


def _score_page(args: tuple[str, Page]) -> tuple[str, str, Score, float]:
    name, page = args
    started = time.perf_counter()
    text = EXTRACTORS[name](page.html, page.url)
    return name, page.id, page_score(page.gold, text), time.perf_counter() - started


def evaluate(
    pages: list[Page], names: Iterable[str], workers: int = 2
) -> dict[str, tuple[Score, dict[str, Score], float]]:
    """For each extractor: mean score, per-page scores, and seconds spent extracting (summed).

    Every extractor sees the same pages in the same run, spread over ``workers`` processes.
    """
    names = list(names)
    jobs = [(name, page) for page in pages for name in names]
    per_page: dict[str, dict[str, Score]] = {name: {} for name in names}
    seconds: dict[str, float] = dict.fromkeys(names, 0.0)
    # spawn, not fork: the caller may be a test process with threads running.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for name, page_id, score, spent in pool.map(_score_page, jobs, chunksize=4):
            per_page[name][page_id] = score
            seconds[name] += spent
    return {name: (mean_score(per_page[name].values()), per_page[name], seconds[name]) for name in names}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worst", type=int, default=0, help="list the K pages where ours does worst")
    parser.add_argument(
        "--extra",
        type=int,
        default=0,
        help="print our lines not in the gold, on the K pages of lowest precision",
    )
    args = parser.parse_args(argv)
    if not (args.data / "ground-truth.json").is_file():
        print(f"benchmark data not found in {args.data}", file=sys.stderr)
        return 2
    pages = load_pages(args.data)
    results = evaluate(pages, EXTRACTORS, args.workers)
    print(f"{len(pages)} pages from {args.data}")
    # ms/page: the mean time one worker process spends on a page, as the bot's workers do.
    print(f"{'extractor':<26} {'P':>7} {'R':>7} {'F1':>7} {'cpu s':>7} {'ms/page':>8}")
    for name, (score, _, spent) in results.items():
        print(
            f"{name:<26} {score.precision:7.4f} {score.recall:7.4f} {score.f1:7.4f} {spent:7.1f}"
            f" {spent / len(pages) * 1000:8.1f}"
        )
    if args.worst:
        ours_pages = results["newsdesk extract"][1]
        base_pages = results["trafilatura default"][1]
        print(f"\nworst {args.worst} pages for ours (P/R, trafilatura default P/R):")
        for page_id, score in sorted(ours_pages.items(), key=lambda kv: kv[1].f1)[: args.worst]:
            base = base_pages[page_id]
            print(
                f"  {page_id[:12]} {score.precision:.2f}/{score.recall:.2f}"
                f"  ({base.precision:.2f}/{base.recall:.2f})"
            )
    if args.extra:
        print_extra(pages, results["newsdesk extract"][1], args.extra)
    return 0


def extra_lines(gold: str, predicted: str) -> list[str]:
    """The lines of ``predicted`` whose shingles are mostly not in ``gold``: what lowers precision."""
    gold_shingles = shingles(gold)
    extra = []
    for line in predicted.splitlines():
        line_shingles = shingles(line)
        total = sum(line_shingles.values())
        if total and sum((line_shingles - gold_shingles).values()) > total / 2:
            extra.append(line)
    return extra


def print_extra(pages: list[Page], scores: dict[str, Score], k: int) -> None:
    by_id = {page.id: page for page in pages}
    print(f"\nour extra lines on the {k} pages of lowest precision:")
    for page_id, score in sorted(scores.items(), key=lambda kv: kv[1].precision)[:k]:
        page = by_id[page_id]
        print(f"  {page_id[:12]} P={score.precision:.3f} R={score.recall:.3f} {page.url}")
        for line in extra_lines(page.gold, ours(page.html, page.url)):
            print(f"    + {line[:160]}")


if __name__ == "__main__":
    raise SystemExit(main())
