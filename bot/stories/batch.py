"""Grouping one batch of items, the assigner's CPU work: plain functions run in its worker thread.

:func:`group_batch` adds items to a :class:`~bot.stories.StoryGrouper` and says what to write
(assignments, merges, story rows, and the state when a save is due); :func:`encode_state` and
:func:`decode_state` turn the grouper's state into the saved blob and back.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from bot.outlets import outlet_key
from bot.recurring import is_recurring_title
from bot.storage.stories import StoryItemRow, StorySummary
from bot.stories.errors import InvalidStoryStateError
from bot.stories.grouper import StoryGrouper
from bot.stories.types import GroupingConfig, StoryItem

__all__ = ["GroupedBatch", "decode_state", "encode_state", "group_batch"]


@dataclass(slots=True)
class GroupedBatch:
    """What the executor returns for one batch."""

    assignments: list[tuple[int, str]]
    merged: dict[str, str]
    stories: list[StorySummary]
    touched: list[str]
    state: tuple[bytes, int] | None = None
    seconds: float = 0.0
    corrections: int = field(default=0)


def group_batch(grouper: StoryGrouper, rows: Sequence[StoryItemRow], save_upto: int | None) -> GroupedBatch:
    """Add ``rows`` in order; collect their stories, merges, and the state if ``save_upto`` is set.

    Rows that already have a story (a replay) only count as corrections where the grouper now
    disagrees; the others are all assignments.
    """
    started = time.perf_counter()
    before = set(grouper.story_ids())
    first_answer, alone = _add_rows(grouper, rows)
    merged = _merges(grouper, before)
    assignments: list[tuple[int, str]] = []
    corrections = 0
    touched: dict[str, None] = {}
    titles: dict[str, str] = {}
    for row in rows:
        # A merge later in the batch may have moved an item; an item already forgotten (dated
        # past the retention) keeps the story it was given.
        story_id = grouper.story_of(str(row.id)) or first_answer[row.id]
        if row.story_id is None:
            assignments.append((row.id, story_id))
        elif merged.get(row.story_id, row.story_id) != story_id:
            assignments.append((row.id, story_id))
            corrections += 1
        touched.setdefault(story_id, None)
        titles.setdefault(story_id, row.title)
    for new in merged.values():
        touched.setdefault(new, None)
    state = None if save_upto is None else encode_state(grouper, save_upto)
    return GroupedBatch(
        assignments=assignments,
        merged=merged,
        stories=_summaries(grouper, touched, titles) + alone,
        touched=list(touched),
        state=state,
        seconds=time.perf_counter() - started,
        corrections=corrections,
    )


def _add_rows(
    grouper: StoryGrouper, rows: Sequence[StoryItemRow]
) -> tuple[dict[int, str], list[StorySummary]]:
    """Each row's story when added, and the stories of rows with a recurring title.

    "Today's weather" from ten outlets is no story: each such item is a story of its own, kept
    out of the grouper (so a replay gives it the same id, and it pulls no story together).
    """
    first_answer: dict[int, str] = {}
    alone: list[StorySummary] = []
    for row in rows:
        if is_recurring_title(row.title, row.source_title or row.source):
            alone.append(_alone(row))
            first_answer[row.id] = alone[-1].id
            continue
        item = StoryItem(
            id=str(row.id),
            title=row.title,
            text=row.summary,
            published=row.published,
            source=row.source,
            link=row.url,
        )
        first_answer[row.id] = grouper.add(item)
    return first_answer, alone


def _alone(row: StoryItemRow) -> StorySummary:
    """The story of one item with a recurring title: ``r`` and the item's id (the grouper's are ``s``)."""
    return StorySummary(
        id=f"r{row.id}",
        first_seen_at=row.published,
        last_seen_at=row.published,
        item_count=1,
        source_count=1,
        title=row.title or None,
    )


def _merges(grouper: StoryGrouper, before: set[str]) -> dict[str, str]:
    """Stories merged away since ``before`` was taken: old id -> the id it went into."""
    merged: dict[str, str] = {}
    for gone in before.difference(grouper.story_ids()):
        snapshot = grouper.story(gone)
        if snapshot is not None and snapshot.id != gone:
            merged[gone] = snapshot.id
    return merged


def _summaries(grouper: StoryGrouper, story_ids: Iterable[str], titles: dict[str, str]) -> list[StorySummary]:
    """The ``stories`` rows of these stories as the grouper has them now."""
    summaries = []
    for story_id in story_ids:
        snapshot = grouper.story(story_id)
        if snapshot is None or snapshot.first_seen is None or snapshot.last_seen is None:
            continue
        outlets = {outlet_key(source) for source in snapshot.sources if source.strip()}
        summaries.append(
            StorySummary(
                id=story_id,
                first_seen_at=snapshot.first_seen,
                last_seen_at=snapshot.last_seen,
                item_count=len(snapshot.item_ids),
                source_count=len(outlets),
                title=titles.get(story_id) or None,
            )
        )
    return summaries


def encode_state(grouper: StoryGrouper, last_item_id: int) -> tuple[bytes, int]:
    # iterencode, not dumps: dumps is one C call that holds the GIL for the whole state (tens of
    # ms per MB), stalling the event loop; the generator lets the loop's thread in between.
    encoder = json.JSONEncoder(separators=(",", ":"))
    data = "".join(encoder.iterencode(grouper.to_state())).encode()
    return zlib.compress(data, 6), last_item_id


def decode_state(blob: bytes, config: GroupingConfig | None) -> StoryGrouper:
    try:
        state = json.loads(zlib.decompress(blob))
    except (zlib.error, ValueError) as e:
        raise InvalidStoryStateError(f"The saved story state does not decode ({e}).") from e
    return StoryGrouper.from_state(state, config)
