"""Digest headlines on real stories (UCI News Aggregator, development half, gold grouping).

Today's picker never picks a ticker, a clickbait title or a very short one on these 48 stories
(the previous picker did in 1, 1 and 2 of them), carries at least as many of the story's key
terms, and stays about as central (0.415 against 0.417: a more detailed title shares a little
less with the shortest wordings). ``python3 bench/headline_bench.py`` prints the picks side by side.
"""

from __future__ import annotations

import pytest

from bench.headline_bench import (
    DEFAULT_DATA,
    current_pick,
    figures,
    load_stories,
    main,
    previous_pick,
)

pytestmark = pytest.mark.skipif(
    not (DEFAULT_DATA / "articles.jsonl").exists(), reason=f"shared data set absent: {DEFAULT_DATA}"
)


def test_picked_headlines_are_plain_informative_and_central() -> None:
    stories = load_stories(DEFAULT_DATA)
    old = figures(stories, [previous_pick(t) for t in stories])
    new = figures(stories, [current_pick(t) for t in stories])
    assert new.tickers == new.clickbait == new.short == new.cut == new.caps == 0.0
    assert old.tickers + old.clickbait + old.short > 0.0  # the data has the cases
    assert new.key_terms >= old.key_terms
    assert new.numbers > old.numbers
    assert new.centrality >= old.centrality - 0.005


def test_bench_prints_both_pickers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--stories", "5", "--all"]) == 0
    out = capsys.readouterr().out
    assert "5 stories" in out and "before:" in out and "after:" in out
    assert out.count("centrality") == 3  # previous, shortest, now
