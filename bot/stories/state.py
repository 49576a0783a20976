"""The grouper's state as plain JSON-able data, so grouping survives restarts.

Layout (version 1)::

    {"version": 1,
     "config": {GroupingConfig fields; durations in seconds},
     "docs": int, "df": {term: count},
     "stories": [{"id", "members": [item ids], "centroid": {term: weight},
                  "first": ts|null, "last": ts|null, "sources": {name: count}, "indexed": bool,
                  "dense": [floats]|null (sum of scaled embeddings, with embeddings only)}],
     "aliases": {merged-away id: id it went into},
     "dirty": [story ids changed since the last merge],
     "next_id": int, "added": int, "clock": ts|null}

Timestamps are POSIX seconds. The inverted index and the centroid norms are derived, so they are
rebuilt on load rather than stored.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bot.stories.cluster import Cluster
from bot.stories.errors import InvalidStoryStateError
from bot.stories.types import GroupingConfig
from bot.stories.vectors import DocumentFrequencies

if TYPE_CHECKING:
    from bot.stories.grouper import StoryGrouper

__all__ = ["STATE_VERSION", "config_from_dict", "config_to_dict", "dump_state", "load_config", "load_state"]

STATE_VERSION = 1


def config_to_dict(config: GroupingConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        out[f.name] = value.total_seconds() if isinstance(value, timedelta) else value
    return out


def config_from_dict(data: dict[str, Any]) -> GroupingConfig:
    durations = {f.name for f in dataclasses.fields(GroupingConfig) if f.type in ("timedelta", timedelta)}
    known = {f.name for f in dataclasses.fields(GroupingConfig)}
    kwargs: dict[str, Any] = {
        name: timedelta(seconds=value) if name in durations else value
        for name, value in data.items()
        if name in known  # settings added later take their defaults; removed ones are ignored
    }
    return GroupingConfig(**kwargs)


def dump_state(grouper: StoryGrouper) -> dict[str, Any]:
    return {
        "version": STATE_VERSION,
        "config": config_to_dict(grouper.config),
        "docs": grouper._df.docs,
        "df": dict(grouper._df.counts),
        "stories": [
            {
                "id": c.id,
                "members": list(c.members),
                "centroid": dict(c.centroid),
                "first": c.first,
                "last": c.last,
                "sources": dict(c.sources),
                "indexed": c.indexed,
                "dense": None if c.dense is None else c.dense.tolist(),
            }
            for c in grouper._clusters.values()
        ],
        "aliases": dict(grouper._aliases),
        "dirty": sorted(grouper._dirty),
        "next_id": grouper._next_id,
        "added": grouper._added,
        "clock": grouper._clock,
    }


def _check_version(state: Any) -> None:
    if not isinstance(state, dict):
        raise InvalidStoryStateError("The saved story state is not a JSON object.")
    version = state.get("version")
    if version != STATE_VERSION:
        raise InvalidStoryStateError(f"Unsupported story state version {version!r}.")


def load_config(state: dict[str, Any]) -> GroupingConfig:
    """The settings saved in ``state``; raises InvalidStoryStateError if they are malformed."""
    _check_version(state)
    try:
        return config_from_dict(state["config"])
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise InvalidStoryStateError(
            f"The saved story settings are malformed ({type(e).__name__}: {e})."
        ) from e


def load_state(grouper: StoryGrouper, state: dict[str, Any]) -> None:
    """Fill a fresh grouper from ``state``; raises InvalidStoryStateError if it is malformed.

    Embeddings come back as lists; the grouper turns them into arrays.
    """
    _check_version(state)
    try:
        grouper._df = DocumentFrequencies(
            int(state["docs"]), {str(t): int(n) for t, n in state["df"].items()}
        )
        clusters: dict[str, Cluster] = {}
        item_story: dict[str, str] = {}
        for raw in state["stories"]:
            centroid = {str(t): float(w) for t, w in raw["centroid"].items()}
            cluster = Cluster(
                id=str(raw["id"]),
                members=[str(m) for m in raw["members"]],
                centroid=centroid,
                # Recomputed rather than stored: the running sum drifts a little with rounding.
                # (The grouper adds the embedding part.)
                norm2=sum(w * w for w in centroid.values()),
                first=_optional_float(raw["first"]),
                last=_optional_float(raw["last"]),
                sources={str(s): int(n) for s, n in raw["sources"].items()},
                indexed=bool(raw["indexed"]),
                dense=None if raw.get("dense") is None else [float(x) for x in raw["dense"]],
            )
            clusters[cluster.id] = cluster
            for item_id in cluster.members:
                item_story[item_id] = cluster.id
        grouper._clusters = clusters
        grouper._item_story = item_story
        grouper._aliases = {str(a): str(b) for a, b in state["aliases"].items()}
        grouper._dirty = {str(s) for s in state["dirty"] if s in clusters}
        grouper._next_id = int(state["next_id"])
        grouper._added = int(state["added"])
        grouper._clock = _optional_float(state["clock"])
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise InvalidStoryStateError(f"The saved story state is malformed ({type(e).__name__}: {e}).") from e


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)
