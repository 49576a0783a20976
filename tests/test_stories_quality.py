"""Grouping quality on real headlines labelled by story (UCI News Aggregator, development half).

B-cubed F1 of the bot's grouper (default configuration, no model) on shuffled streams, averaged
over fixed seeds, must stay at or above 0.81 (it scores 0.818 on these seeds, 0.820 on the bench's
five). A single-pass TF-IDF baseline scores about 0.71-0.75 here (``python3 bench/stories_bench.py``
prints both).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.stories import GroupingConfig
from bot.stories.evaluation import evaluate, evaluate_in_order, load_labelled, precomputed, run_grouper

# The shared data sits beside the repository (../shared), wherever it is checked out.
DATA = Path(__file__).resolve().parents[1].parent / "shared/data/uci-news-aggregator-head/articles.jsonl"
SEEDS = (1, 2, 3)
MIN_F1 = 0.81
# In publication order (one stream) the default scores 0.806.
MIN_F1_IN_ORDER = 0.79

pytestmark = pytest.mark.skipif(not DATA.exists(), reason=f"shared data set absent: {DATA}")


def test_bcubed_f1_on_shuffled_streams_stays_above_target():
    items, gold = load_labelled(DATA)
    assert len(items) == len(gold) > 3000
    score = evaluate(items, gold, run_grouper(), SEEDS)
    print(f"B-cubed P={score.precision:.3f} R={score.recall:.3f} F1={score.f1:.3f} {score.per_seed}")
    assert score.f1 >= MIN_F1, f"B-cubed F1 {score.f1:.3f} < {MIN_F1} (per seed: {score.per_seed})"
    # A mean can hide one collapsed stream (a runaway merge): no stream may fall far below.
    assert min(score.per_seed) >= MIN_F1 - 0.02


@pytest.mark.skipif(
    os.environ.get("NEWSDESK_TEST_EMBEDDINGS") != "1",
    reason="slow (encodes 3,472 titles with MiniLM): set NEWSDESK_TEST_EMBEDDINGS=1",
)
def test_embeddings_improve_on_the_default_path():
    pytest.importorskip("numpy")
    from bot.stories.embeddings import EmbeddingsUnavailableError, MiniLMEncoder

    try:
        encoder = MiniLMEncoder()
    except EmbeddingsUnavailableError as e:
        pytest.skip(f"optional embeddings model not installed: {e}")
    items, gold = load_labelled(DATA)
    embedder = precomputed(encoder, sorted({item.title for item in items}))
    score = evaluate(items, gold, run_grouper(GroupingConfig.with_embeddings(), embedder), SEEDS)
    print(f"with embeddings: B-cubed P={score.precision:.3f} R={score.recall:.3f} F1={score.f1:.3f}")
    assert score.f1 >= 0.83  # scores 0.839 on these seeds (0.834 with the settings before issue 15)


def test_link_slugs_add_to_the_titles():
    # The bot gives the grouper each item's link; its slug is a second wording of the headline
    # (0.826 against 0.820 titles only on the bench's seeds).
    titles, gold = load_labelled(DATA)
    linked, _ = load_labelled(DATA, with_links=True)
    plain = evaluate(titles, gold, run_grouper(), SEEDS)
    with_links = evaluate(linked, gold, run_grouper(), SEEDS)
    print(f"titles F1={plain.f1:.3f}, titles and links F1={with_links.f1:.3f}")
    assert with_links.f1 >= plain.f1 + 0.003
    assert with_links.recall > plain.recall


def test_publication_order_and_the_merge():
    # In arrival order a story's first items fix the vocabulary its later items are compared with,
    # which fragments single-pass grouping; the periodic merge must mend some and break nothing.
    items, gold = load_labelled(DATA, with_times=True)
    single_pass = evaluate_in_order(items, gold, run_grouper(GroupingConfig(merge_every=0)))
    merged = evaluate_in_order(items, gold, run_grouper())
    print(f"publication order: single pass F1={single_pass.f1:.3f}, with merge F1={merged.f1:.3f}")
    assert merged.f1 >= MIN_F1_IN_ORDER
    assert merged.f1 > single_pass.f1
