"""Extraction quality on the shared article-extraction benchmark (98 real pages).

Ours must score at least as well as trafilatura's defaults measured in the same
run, with the benchmark's own metric (see ``bench/extract_quality.py``), and no
lower than its measured figures less a small margin (the floors below). Skipped
when the shared data folder is absent; ``tests/test_extract.py`` covers the
behaviour on the project's own golden pages.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import pytest

from bench.extract_quality import DEFAULT_DATA, Page, evaluate, extra_lines, load_pages, page_score
from bot.errors import ExtractError
from bot.extract import extract

# Measured: F1 0.9823 (P 0.9814, R 0.9833). The margin leaves room for a trafilatura or lxml
# release that moves a page or two, not for a rule that loses text.
F1_FLOOR = 0.978
PRECISION_FLOOR = 0.976
RECALL_FLOOR = 0.980

pytestmark = pytest.mark.skipif(
    not (DEFAULT_DATA / "ground-truth.json").is_file(),
    reason=f"the article-extraction benchmark is not in {DEFAULT_DATA}",
)


def test_metric_matches_the_benchmark_definition() -> None:
    gold = "one two three four five six"
    assert page_score(gold, gold).f1 == 1.0
    # 3 shingles each; 2 shared ("one two three four", "two three four five").
    score = page_score(gold, "One, two; three four five SEVEN")
    assert score.precision == pytest.approx(2 / 3)
    assert score.recall == pytest.approx(2 / 3)
    assert page_score(gold, "").precision == 0.0
    # Multiplicity: a repeated passage is counted twice.
    assert page_score(gold, gold + " " + gold).precision < 0.6


def test_extra_lines_are_the_lines_mostly_outside_the_gold() -> None:
    gold = "the council voted on tuesday to build the park on the east bank"
    predicted = "the council voted on tuesday to build the park\nsign up for our daily newsletter today\nok"
    assert extra_lines(gold, predicted) == ["sign up for our daily newsletter today", "ok"]


def test_ours_beats_trafilatura_defaults_and_keeps_its_floor() -> None:
    pages = load_pages(DEFAULT_DATA)
    assert len(pages) >= 90

    results = evaluate(pages, ["newsdesk extract", "trafilatura default"], workers=2)

    ours, _, _ = results["newsdesk extract"]
    baseline, _, _ = results["trafilatura default"]
    print(
        f"\nours P={ours.precision:.4f} R={ours.recall:.4f} F1={ours.f1:.4f}; "
        f"trafilatura default P={baseline.precision:.4f} R={baseline.recall:.4f} F1={baseline.f1:.4f}"
    )
    assert ours.f1 >= baseline.f1
    assert ours.precision >= baseline.precision
    assert ours.f1 >= F1_FLOOR
    assert ours.precision >= PRECISION_FLOOR
    assert ours.recall >= RECALL_FLOOR


def refusal(page: Page) -> str | None:
    """Why ``extract`` refuses ``page``, or None when it reads an article from it."""
    try:
        extract(page.html, page.url)
    except ExtractError as e:
        return f"{page.id}: {type(e).__name__}: {e}"
    return None


def test_no_benchmark_page_is_refused() -> None:
    """Every page of the benchmark is a real article: none may be refused as "not an article"."""
    pages = load_pages(DEFAULT_DATA)
    # spawn, not fork: the test process may have threads running.
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        refused = [reason for reason in pool.map(refusal, pages, chunksize=4) if reason]
    assert refused == []
