"""tune_gc: fewer young collections, start-up objects frozen out of full collections."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from bot.tuning import tune_gc


@pytest.fixture
def restore_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_tune_gc_raises_the_young_threshold_and_freezes_what_exists(restore_gc: None) -> None:
    survivor = [object() for _ in range(10)]  # a container alive at start-up
    _, gen1, gen2 = gc.get_threshold()
    tune_gc(12_345)
    assert gc.get_threshold() == (12_345, gen1, gen2)
    assert gc.get_freeze_count() > len(survivor)
    # Young collections now wait for 12,345 allocations: 5,000 new containers trigger none.
    collections = gc.get_stats()[0]["collections"]
    garbage = [[] for _ in range(5_000)]
    assert gc.get_stats()[0]["collections"] == collections
    del garbage
