"""Batched lookups of the seen keys of many feeds, one UNION ALL of indexed SELECTs per query."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import TextClause, text

from bot.storage.feed_tables import feed_items

#: Parameters per statement with IN (...) lists: far below SQLite's and asyncpg's 32,767.
IN_CHUNK = 5000
#: Feeds whose seen keys one query looks up (two SELECTs each; SQLite allows 500 in a UNION).
FEEDS_PER_LOOKUP = 50


def key_groups(
    wanted: dict[int, tuple[Sequence[str], Sequence[str]]],
) -> Iterable[tuple[list[int], int, int]]:
    """``(feed ids, IN-list size, lookups per query)``: feeds grouped by the power of two their
    key lists round up to, at most :data:`FEEDS_PER_LOOKUP` (and :data:`IN_CHUNK`
    parameters) per query.
    """
    by_size: dict[int, list[int]] = {}
    for fid, (keys, lkeys) in wanted.items():
        by_size.setdefault(_bucket(max(len(keys), len(lkeys))), []).append(fid)
    for size, fids in sorted(by_size.items()):
        per_query = max(1, min(FEEDS_PER_LOOKUP, IN_CHUNK // (2 * size)))
        for start in range(0, len(fids), per_query):
            yield fids[start : start + per_query], size, 2 * per_query


def _bucket(count: int) -> int:
    """The smallest power of two, at least 8, that holds ``count`` keys."""
    size = 8
    while size < count:
        size *= 2
    return size


@functools.lru_cache(maxsize=64)
def lookup_sql(size: int, slots: int) -> TextClause:
    """``slots`` lookups of ``size`` keys each; even slots look up entry keys, odd ones link
    keys (the order :meth:`bot.storage.feeds.FeedStore.seen_keys` binds them in).
    """
    parts = []
    for slot in range(slots):
        column = "entry_key" if slot % 2 == 0 else "link_key"
        values = ", ".join(f":k{slot}_{i}" for i in range(size))
        parts.append(
            f"SELECT feed_id, entry_key, link_key FROM {feed_items.name} "
            f"WHERE feed_id = :f{slot} AND {column} IN ({values})"
        )
    return text(" UNION ALL ".join(parts))


def bind_lookup(params: dict[str, Any], slot: int, feed_id: int, values: Iterable[str], size: int) -> None:
    """Bind lookup ``slot`` of :func:`lookup_sql` in ``params``: ``feed_id`` and ``values``,
    deduplicated, sorted and padded with "" (which no key is) to ``size``.
    """
    params[f"f{slot}"] = feed_id
    padded = sorted(set(values))
    padded += [""] * (size - len(padded))
    for i, value in enumerate(padded):
        params[f"k{slot}_{i}"] = value


__all__ = ["FEEDS_PER_LOOKUP", "IN_CHUNK", "bind_lookup", "key_groups", "lookup_sql"]
