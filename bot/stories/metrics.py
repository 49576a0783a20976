"""B-cubed precision, recall and F1 of a clustering against a gold clustering."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping
from typing import TypeVar

__all__ = ["bcubed"]

_Item = TypeVar("_Item", bound=Hashable)


def bcubed(pred: Mapping[_Item, Hashable], gold: Mapping[_Item, Hashable]) -> tuple[float, float, float]:
    """B-cubed (precision, recall, F1) of ``pred`` against ``gold``, both item -> cluster.

    For each item, precision is the share of its predicted cluster that shares its gold cluster,
    and recall the share of its gold cluster that shares its predicted cluster; both are averaged
    over items (Bagga & Baldwin, 1998). Both mappings must cover the same items.
    """
    if pred.keys() != gold.keys():
        missing = len(gold.keys() - pred.keys())
        extra = len(pred.keys() - gold.keys())
        raise ValueError(f"pred and gold must cover the same items ({missing} missing, {extra} extra)")
    if not gold:
        raise ValueError("bcubed needs at least one item")
    pred_sizes = Counter(pred.values())
    gold_sizes = Counter(gold.values())
    # Items sharing both their predicted and gold cluster: one count per (pred, gold) cell.
    both = Counter((pred[item], gold[item]) for item in gold)
    precision = recall = 0.0
    for (p, g), n in both.items():
        # Each of the n items in the cell sees n of its pred cluster and n of its gold cluster.
        precision += n * n / pred_sizes[p]
        recall += n * n / gold_sizes[g]
    precision /= len(gold)
    recall /= len(gold)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1
