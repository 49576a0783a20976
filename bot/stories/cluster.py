"""A story's internal state, shared by the grouper and its serialisation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.stories.vectors import SparseVector

__all__ = ["Cluster"]


@dataclass(slots=True)
class Cluster:
    """A story's internal state: the sum of its members' unit vectors, and its time span."""

    id: str
    members: list[str]
    centroid: dict[str, float]
    norm2: float
    first: float | None
    last: float | None
    sources: dict[str, int] = field(default_factory=dict)
    # Whether its terms are in the inverted index (i.e. it is recent enough to take new items).
    indexed: bool = True
    # With sentence embeddings: the sum of the members' (scaled) embeddings, a numpy array. Its
    # squared length is part of ``norm2``, so cosines and cohesion cover both parts.
    dense: Any = None

    def add_vector(self, vec: SparseVector) -> None:
        centroid = self.centroid
        norm2 = self.norm2
        for term, weight in vec.items():
            old = centroid.get(term, 0.0)
            new = old + weight
            norm2 += new * new - old * old
            centroid[term] = new
        self.norm2 = norm2

    def add_dense(self, vec: Any) -> None:
        if self.dense is None:
            self.dense = vec.copy()
            self.norm2 += float(vec @ vec)
            return
        old = float(self.dense @ self.dense)
        self.dense = self.dense + vec
        self.norm2 += float(self.dense @ self.dense) - old

    def touch(self, when: float | None) -> None:
        if when is None:
            return
        self.first = when if self.first is None else min(self.first, when)
        self.last = when if self.last is None else max(self.last, when)

    def cohesion(self, length: float) -> float:
        """The mean cosine of the story's items to its centroid, given the centroid's ``length``.

        The centroid is the sum of the items' unit vectors, so the sum of their cosines to it is
        sum(v . C) / |C| = |C|^2 / |C| = |C|: no need to visit the items.
        """
        return length / len(self.members)

    def outranks(self, other: Cluster) -> bool:
        """Whether this story keeps its id when merged with ``other``: the larger, else the older."""
        if len(self.members) != len(other.members):
            return len(self.members) > len(other.members)
        return int(self.id[1:]) < int(other.id[1:])
