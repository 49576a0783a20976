"""Online story grouping: each item joins the closest recent story or starts a new one.

The algorithm is single-pass clustering on TF-IDF vectors of the headline (plus a little of the
lead text and the link's slug), with:

* document frequencies learnt online, so the grouper needs no training corpus;
* an inverted index from terms to the centroids of recent stories, so an item is compared only
  with the stories it shares a term with (cost grows with the postings of its terms, not with the
  number of stories);
* thresholds relative to each story's cohesion (how close its items are to its centroid): a broad
  story accepts looser matches than a tight one, which is most of the gain over a fixed cosine
  threshold;
* a time window: stories not updated for ``config.window`` are not candidates any more;
* a periodic merge of stories whose centroids have come close: single-pass clustering splits a
  story whenever its first items happen to be worded differently, and the merge repairs that
  once the later items have filled in the vocabulary;
* optionally, sentence embeddings mixed into the vectors (``embeddings.py``).

Vectors are weighted with the IDF in force when the item arrives and are never re-weighted: that
keeps an add O(terms x postings) and the state a plain sum per story.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from bot.stories.cluster import Cluster
from bot.stories.errors import InvalidStoryStateError
from bot.stories.links import slug_text
from bot.stories.state import dump_state, load_config, load_state
from bot.stories.text import terms
from bot.stories.types import GroupingConfig, Story, StoryItem
from bot.stories.vectors import DocumentFrequencies, SparseVector

__all__ = ["Embedder", "StoryGrouper"]

#: Sentence embeddings of a batch of texts, one unit vector per text (see ``embeddings.py``).
Embedder = Callable[[Sequence[str]], Sequence[Sequence[float]]]

# Expiry also runs on its own when periodic merging is off; scanning the stories is cheap at this rate.
_EXPIRE_EVERY = 50


class StoryGrouper:
    """Assigns news items to stories, one at a time, as they arrive.

    Not bound to any event loop: call it from an executor. Calls are serialised by an internal
    lock, so one instance can be shared by worker threads. It pickles (through ``to_state``), and
    ``to_state()`` / ``from_state()`` round-trip through JSON so the grouping survives restarts.
    """

    def __init__(self, config: GroupingConfig | None = None, embedder: Embedder | None = None) -> None:
        self.config = config if config is not None else GroupingConfig()
        # Optional sentence embeddings, mixed into every vector with ``config.embedding_weight``.
        if (embedder is None) != (self.config.embedding_weight == 0):
            raise ValueError("an embedder is needed exactly when config.embedding_weight > 0")
        self._embedder = embedder
        self._np: Any = None
        if embedder is not None:
            import numpy  # the embeddings extra; the default path never imports it

            self._np = numpy
        self._lock = threading.RLock()
        self._df = DocumentFrequencies()
        self._clusters: dict[str, Cluster] = {}
        self._index: dict[str, set[str]] = {}
        self._item_story: dict[str, str] = {}
        self._aliases: dict[str, str] = {}
        self._dirty: set[str] = set()
        self._next_id = 1
        self._added = 0
        # The latest item time seen: the grouper's notion of "now" when the caller gives none.
        self._clock: float | None = None

    # --- public API -------------------------------------------------------

    def add(self, item: StoryItem, now: datetime | None = None) -> str:
        """Assign ``item`` to a story and return the story id.

        ``now`` is the current time, if the caller knows it: it dates items without ``published``
        and caps future-dated ones. Adding an item id already seen returns its story unchanged.
        """
        with self._lock:
            known = self._item_story.get(item.id)
            if known is not None:
                return self._resolve(known)
            embedding = None if self._embedder is None else self._embedder([item.title])[0]
            return self._add(item, now, embedding)

    def add_many(self, items: Iterable[StoryItem], now: datetime | None = None) -> list[str]:
        """Add items in order; returns the story id each was assigned when added."""
        items = list(items)
        with self._lock:
            if self._embedder is None:
                return [self.add(item, now) for item in items]
            # One batch through the model is much cheaper than one call per item.
            fresh = [item for item in items if item.id not in self._item_story]
            embeddings = dict(
                zip((i.id for i in fresh), self._embedder([i.title for i in fresh]), strict=True)
            )
            out = []
            for item in items:
                known = self._item_story.get(item.id)
                if known is not None:
                    out.append(self._resolve(known))
                else:
                    out.append(self._add(item, now, embeddings[item.id]))
            return out

    def merge(self) -> None:
        """Run the centroid merge now (it also runs every ``config.merge_every`` items)."""
        with self._lock:
            self._merge_pass()

    def story_of(self, item_id: str) -> str | None:
        """The current story of an item (after any merge), or None if unknown or forgotten."""
        with self._lock:
            story = self._item_story.get(item_id)
            return None if story is None else self._resolve(story)

    def members(self, story_id: str) -> list[str]:
        """The item ids of a story (or of the story it was merged into); empty if unknown."""
        with self._lock:
            cluster = self._clusters.get(self._resolve(story_id))
            return [] if cluster is None else list(cluster.members)

    def story(self, story_id: str) -> Story | None:
        """A snapshot of a story (or of the story it was merged into), or None if unknown."""
        with self._lock:
            cluster = self._clusters.get(self._resolve(story_id))
            if cluster is None:
                return None
            return Story(
                id=cluster.id,
                item_ids=tuple(cluster.members),
                first_seen=_to_datetime(cluster.first),
                last_seen=_to_datetime(cluster.last),
                sources=dict(cluster.sources),
            )

    def story_ids(self) -> list[str]:
        """The ids of all stories currently held, oldest first."""
        with self._lock:
            return list(self._clusters)

    def assignments(self) -> dict[str, str]:
        """Every known item id mapped to its current story id."""
        with self._lock:
            return {item: self._resolve(story) for item, story in self._item_story.items()}

    def to_state(self) -> dict[str, Any]:
        """The whole grouping state as JSON-able data (see ``bot/stories/state.py``)."""
        with self._lock:
            return dump_state(self)

    @classmethod
    def from_state(
        cls, state: dict[str, Any], config: GroupingConfig | None = None, embedder: Embedder | None = None
    ) -> StoryGrouper:
        """Restore a grouper saved by ``to_state``; ``config`` overrides the saved settings.

        A grouper saved with embeddings needs its ``embedder`` again. Raises InvalidStoryStateError
        if the state is malformed or does not fit the embedder given.
        """
        saved = load_config(state) if config is None else config
        try:
            grouper = cls(saved, embedder)
        except ValueError as e:
            raise InvalidStoryStateError(f"Cannot restore the story state: {e}.") from e
        load_state(grouper, state)
        grouper._finish_load()
        return grouper

    def __getstate__(self) -> dict[str, Any]:
        # The embedder travels by reference (MiniLMEncoder pickles as its model directory).
        return {"state": self.to_state(), "embedder": self._embedder}

    def __setstate__(self, data: dict[str, Any]) -> None:
        # Unpickling runs __init__ again; mypy calls any such call unsound.
        self.__init__(load_config(data["state"]), data["embedder"])  # type: ignore[misc]
        load_state(self, data["state"])
        self._finish_load()

    def _finish_load(self) -> None:
        for cluster in self._clusters.values():
            if cluster.dense is not None:
                if self._np is None:
                    raise InvalidStoryStateError("The story state has embeddings but the grouper has none.")
                cluster.dense = self._np.asarray(cluster.dense, dtype=self._np.float64)
                cluster.norm2 += float(cluster.dense @ cluster.dense)
        self._rebuild_index()

    def __len__(self) -> int:
        """How many items are held."""
        return len(self._item_story)

    # --- assignment -------------------------------------------------------

    def _add(self, item: StoryItem, now: datetime | None, embedding: Sequence[float] | None) -> str:
        when = self._item_time(item, now)
        if when is not None:
            self._clock = when if self._clock is None else max(self._clock, when)
        weighted = self._weighted_terms(item)
        self._df.add(weighted)
        vec = self._df.vector(weighted, self.config.max_df_ratio)
        dense = None
        if embedding is not None:
            # cos(a, b) of the mixed unit vectors = (1 - w) * cos_tfidf + w * cos_embedding
            weight = self.config.embedding_weight
            text_scale = math.sqrt(1.0 - weight)
            vec = {term: value * text_scale for term, value in vec.items()}
            dense = self._np.asarray(embedding, dtype=self._np.float64) * math.sqrt(weight)
        cluster = self._best_cluster(vec, when, dense)
        if cluster is None:
            cluster = self._new_cluster()
        self._join(cluster, item, vec, when, dense)
        self._added += 1
        if self.config.merge_every and self._added % self.config.merge_every == 0:
            self._merge_pass()
        elif self._added % _EXPIRE_EVERY == 0:
            self._expire()
        if self._added % _EXPIRE_EVERY == 0:
            self._df.prune(self.config.max_terms)
        return self._resolve(cluster.id)

    def _item_time(self, item: StoryItem, now: datetime | None) -> float | None:
        now_ts = None if now is None else _timestamp(now)
        if item.published is None:
            return now_ts if now_ts is not None else self._clock
        published = _timestamp(item.published)
        # A feed's clock can be wrong; an item from the future must not expire every story.
        return published if now_ts is None else min(published, now_ts)

    def _weighted_terms(self, item: StoryItem) -> dict[str, float]:
        config = self.config
        lead = item.text[: config.text_chars] if item.text else ""
        slug = slug_text(item.link) if config.link_weight > 0 else ""
        weighted: dict[str, float] = {}
        for text, weight in ((item.title, 1.0), (lead, config.text_weight), (slug, config.link_weight)):
            if text and weight > 0:
                for term in terms(text):
                    weighted[term] = weighted.get(term, 0.0) + weight
        # Sublinear term frequency: a word repeated in a lead is not that much more about the event.
        return {term: 1.0 + math.log(w) if w > 1.0 else w for term, w in weighted.items()}

    def _in_window(self, cluster: Cluster, when: float | None) -> bool:
        if when is None or cluster.last is None or cluster.first is None:
            return True
        window = self.config.window.total_seconds()
        return cluster.first - window <= when <= cluster.last + window

    def _best_cluster(self, vec: SparseVector, when: float | None, dense: Any = None) -> Cluster | None:
        """The story whose centroid is most similar to ``vec``, if similar enough to join."""
        # Term-at-a-time accumulation over the inverted index gives the exact dot products with
        # every story sharing a term, without visiting the others.
        scores: dict[str, float] = {}
        clusters = self._clusters
        for term, weight in vec.items():
            for story_id in self._index.get(term, ()):
                scores[story_id] = scores.get(story_id, 0.0) + weight * clusters[story_id].centroid[term]
        if dense is not None:
            self._add_dense_dots(scores, dense, exclude=None)
        best: Cluster | None = None
        best_margin = 1.0
        join_relative, join_floor = self.config.join_relative, self.config.join_floor
        for story_id, score in scores.items():
            cluster = clusters[story_id]
            length = math.sqrt(cluster.norm2)
            similarity = score / length
            threshold = max(join_floor, join_relative * cluster.cohesion(length))
            # Ranked by margin over each story's own threshold, so a broad story is not
            # out-voted by a tight one the item only just passes.
            margin = similarity / threshold
            if margin >= best_margin and self._in_window(cluster, when):
                best, best_margin = cluster, margin
        return best

    def _new_cluster(self) -> Cluster:
        story_id = f"s{self._next_id}"
        self._next_id += 1
        cluster = Cluster(story_id, [], {}, 0.0, None, None)
        self._clusters[story_id] = cluster
        return cluster

    def _join(
        self, cluster: Cluster, item: StoryItem, vec: SparseVector, when: float | None, dense: Any = None
    ) -> None:
        cluster.members.append(item.id)
        cluster.add_vector(vec)
        if dense is not None:
            cluster.add_dense(dense)
        cluster.touch(when)
        if item.source:
            cluster.sources[item.source] = cluster.sources.get(item.source, 0) + 1
        if cluster.indexed:
            for term in vec:
                self._index.setdefault(term, set()).add(cluster.id)
        self._item_story[item.id] = cluster.id
        self._dirty.add(cluster.id)

    def _add_dense_dots(self, dots: dict[str, float], dense: Any, exclude: str | None) -> None:
        """Add the embedding part of the dot products, for every recent story.

        Embeddings share no terms, so the inverted index cannot narrow the candidates: this is
        one matrix product over the stories still in the window, which bounds its cost.
        """
        ids = [c.id for c in self._clusters.values() if c.indexed and c.dense is not None and c.id != exclude]
        if not ids:
            return
        products = self._np.stack([self._clusters[i].dense for i in ids]) @ dense
        for story_id, product in zip(ids, products.tolist(), strict=True):
            dots[story_id] = dots.get(story_id, 0.0) + product

    # --- merging and expiry -------------------------------------------------

    def _merge_pass(self) -> None:
        self._expire()
        # Largest first: a big story absorbs its fragments before fragments pair up with each other.
        queue = sorted(
            (c for c in (self._clusters.get(s) for s in self._dirty) if c is not None and c.indexed),
            key=lambda c: len(c.members),
        )
        self._dirty.clear()
        while queue:
            cluster = queue.pop()
            if self._clusters.get(cluster.id) is not cluster:
                continue  # absorbed earlier in this pass
            partner = self._merge_partner(cluster)
            if partner is None:
                continue
            keep, gone = (cluster, partner) if cluster.outranks(partner) else (partner, cluster)
            self._absorb(keep, gone)
            queue.append(keep)  # its centroid moved: it may now reach another fragment

    def _merge_partner(self, cluster: Cluster) -> Cluster | None:
        """The story ``cluster`` should merge with, if any: the one it passes the threshold by most."""
        # Exact dot products with every indexed story sharing a term, accumulated term at a time
        # through the index (as for an item): no story without a common term is visited.
        dots: dict[str, float] = {}
        clusters = self._clusters
        for term, weight in cluster.centroid.items():
            for story_id in self._index.get(term, ()):
                dots[story_id] = dots.get(story_id, 0.0) + weight * clusters[story_id].centroid[term]
        if cluster.dense is not None:
            self._add_dense_dots(dots, cluster.dense, exclude=cluster.id)
        dots.pop(cluster.id, None)
        best: Cluster | None = None
        best_margin = 1.0
        merge_relative, merge_floor = self.config.merge_relative, self.config.merge_floor
        settled_size, settled_floor = self.config.settled_size, self.config.settled_merge_floor
        length = math.sqrt(cluster.norm2)
        for story_id, product in dots.items():
            other = clusters[story_id]
            if not (self._in_window(other, cluster.first) or self._in_window(other, cluster.last)):
                continue
            other_length = math.sqrt(other.norm2)
            similarity = product / (length * other_length)
            larger, larger_length = (
                (cluster, length) if len(cluster.members) >= len(other.members) else (other, other_length)
            )
            threshold = max(merge_floor, merge_relative * larger.cohesion(larger_length))
            if min(len(cluster.members), len(other.members)) >= settled_size:
                threshold = max(threshold, settled_floor)
            margin = similarity / threshold
            if margin >= best_margin:
                best, best_margin = other, margin
        return best

    def _absorb(self, keep: Cluster, gone: Cluster) -> None:
        self._unindex(gone)
        del self._clusters[gone.id]
        self._dirty.discard(gone.id)
        keep.members.extend(gone.members)
        for item_id in gone.members:
            self._item_story[item_id] = keep.id
        keep.add_vector(gone.centroid)
        if gone.dense is not None:
            keep.add_dense(gone.dense)
        keep.touch(gone.first)
        keep.touch(gone.last)
        for source, count in gone.sources.items():
            keep.sources[source] = keep.sources.get(source, 0) + count
        if keep.indexed:
            for term in gone.centroid:
                self._index.setdefault(term, set()).add(keep.id)
        self._aliases[gone.id] = keep.id

    def _expire(self) -> None:
        """Stop offering stale stories as candidates, and forget those past the retention."""
        if self._clock is None:
            return
        stale_before = self._clock - self.config.window.total_seconds()
        forget_before = self._clock - self.config.retention.total_seconds()
        forgotten: set[str] = set()
        for cluster in list(self._clusters.values()):
            if cluster.last is None or cluster.last >= stale_before:
                continue
            if cluster.indexed:
                self._unindex(cluster)
            if cluster.last < forget_before:
                forgotten.add(cluster.id)
                del self._clusters[cluster.id]
                for item_id in cluster.members:
                    del self._item_story[item_id]
        if forgotten:
            self._aliases = {
                old: new for old, new in self._aliases.items() if self._resolve(new) not in forgotten
            }

    def _unindex(self, cluster: Cluster) -> None:
        if not cluster.indexed:
            return
        for term in cluster.centroid:
            postings = self._index.get(term)
            if postings is not None:
                postings.discard(cluster.id)
                if not postings:
                    del self._index[term]
        cluster.indexed = False

    def _rebuild_index(self) -> None:
        self._index = {}
        for cluster in self._clusters.values():
            if cluster.indexed:
                for term in cluster.centroid:
                    self._index.setdefault(term, set()).add(cluster.id)

    def _resolve(self, story_id: str) -> str:
        aliases = self._aliases
        seen = story_id
        while seen in aliases:
            seen = aliases[seen]
        # Path compression: later look-ups of an old id take one step.
        while story_id in aliases and aliases[story_id] != seen:
            aliases[story_id], story_id = seen, aliases[story_id]
        return seen


def _timestamp(when: datetime) -> float:
    # Naive datetimes are taken as UTC, like the feeds module stores them.
    return (when if when.tzinfo is not None else when.replace(tzinfo=UTC)).timestamp()


def _to_datetime(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)
