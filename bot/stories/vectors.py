"""Sparse TF-IDF vectors with document frequencies learnt online."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["DocumentFrequencies", "SparseVector", "cosine", "dot", "norm"]

SparseVector = dict[str, float]

# Below this many documents every document frequency is noise, so no term is dropped as too common.
_MIN_DOCS_FOR_MAX_DF = 200


@dataclass(slots=True)
class DocumentFrequencies:
    """How many documents contain each term, updated as documents arrive (incremental IDF)."""

    docs: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, terms: Iterable[str]) -> None:
        self.docs += 1
        counts = self.counts
        for term in set(terms):
            counts[term] = counts.get(term, 0) + 1

    def prune(self, max_terms: int) -> None:
        """Forget the rarest terms once there are more than ``max_terms``.

        A forgotten term that comes back counts from 1 again: its IDF is then a little too high,
        which errs towards keeping rare words distinctive.
        """
        if len(self.counts) <= max_terms:
            return
        floor = 1
        while len(self.counts) > max_terms:
            self.counts = {term: n for term, n in self.counts.items() if n > floor}
            floor += 1

    def idf(self, term: str) -> float:
        # Smoothed, as in scikit-learn: a term seen in every document still weighs 1.
        return math.log((1 + self.docs) / (1 + self.counts.get(term, 0))) + 1.0

    def too_common(self, term: str, max_ratio: float) -> bool:
        return self.docs >= _MIN_DOCS_FOR_MAX_DF and self.counts.get(term, 0) > max_ratio * self.docs

    def vector(self, weighted_terms: Mapping[str, float], max_ratio: float) -> SparseVector:
        """The L2-normalised TF-IDF vector of a document given its term weights."""
        vec = {
            term: weight * self.idf(term)
            for term, weight in weighted_terms.items()
            if weight > 0 and not self.too_common(term, max_ratio)
        }
        length = norm(vec)
        if length == 0.0:
            return {}
        return {term: weight / length for term, weight in vec.items()}


def dot(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(weight * b.get(term, 0.0) for term, weight in a.items())


def norm(a: Mapping[str, float]) -> float:
    return math.sqrt(sum(weight * weight for weight in a.values()))


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    denominator = norm(a) * norm(b)
    return dot(a, b) / denominator if denominator else 0.0
