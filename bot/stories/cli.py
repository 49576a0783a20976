"""Command-line grouping of a JSON-lines stream, through exactly the grouper the bot uses.

Input: one JSON object per line with ``id`` and ``title``, and optionally ``text``, ``published``
(ISO 8601), ``source`` and ``link`` (the article's URL, whose slug is read). Output:
``{"id": ..., "story": ...}`` per input item, in input order, with each item's story after the
whole stream has been grouped (so after the last merge).
Wired as ``newsdesk stories group < items.jsonl``; also ``python3 -m bot.stories.cli``.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any, TextIO

from bot.stories.grouper import Embedder, StoryGrouper
from bot.stories.types import GroupingConfig, StoryItem

__all__ = ["group_stream", "parse_item"]

EXIT_OK = 0
EXIT_BAD_INPUT = 1


class _BadLine(ValueError):
    pass


def parse_item(line: str) -> tuple[Any, StoryItem]:
    """The raw id and the item of one input line; raises ValueError with a readable reason."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as e:
        raise _BadLine(f"not valid JSON ({e.msg} at column {e.colno})") from e
    if not isinstance(data, dict):
        raise _BadLine("expected a JSON object")
    raw_id = data.get("id")
    if not isinstance(raw_id, str | int) or isinstance(raw_id, bool) or raw_id == "":
        raise _BadLine('"id" is missing or not a non-empty string or integer')
    title = data.get("title")
    if not isinstance(title, str):
        raise _BadLine('"title" is missing or not a string')
    text = _optional_str(data, "text")
    source = _optional_str(data, "source")
    link = _optional_str(data, "link")
    published_raw = _optional_str(data, "published")
    published = None
    if published_raw is not None:
        try:
            published = datetime.fromisoformat(published_raw)
        except ValueError as e:
            raise _BadLine(f'"published" is not an ISO 8601 date: {published_raw!r}') from e
    item = StoryItem(id=str(raw_id), title=title, text=text, published=published, source=source, link=link)
    return raw_id, item


def _optional_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise _BadLine(f'"{key}" must be a string or null')
    return value


def group_stream(
    infile: TextIO,
    outfile: TextIO,
    *,
    errfile: TextIO | None = None,
    config: GroupingConfig | None = None,
    embedder: Embedder | None = None,
) -> int:
    """Group the items read from ``infile`` and write their stories to ``outfile``.

    Bad lines are reported on ``errfile`` (stderr by default) with their line number and skipped;
    the exit code is then 1, else 0. Blank lines are ignored. With an ``embedder`` (e.g.
    ``bot.stories.embeddings.MiniLMEncoder()``) the default config is ``with_embeddings()``.
    """
    errfile = sys.stderr if errfile is None else errfile
    if config is None and embedder is not None:
        config = GroupingConfig.with_embeddings()
    grouper = StoryGrouper(config, embedder)
    raw_ids: list[Any] = []
    items: list[StoryItem] = []
    bad = 0
    for number, line in enumerate(infile, start=1):
        if not line.strip():
            continue
        try:
            raw_id, item = parse_item(line)
        except ValueError as e:
            bad += 1
            print(f"line {number}: {e}", file=errfile)
            continue
        items.append(item)
        raw_ids.append(raw_id)
    # All at once, so an embedder sees one batch; the order and the result are those of add().
    grouper.add_many(items)
    grouper.merge()
    for raw_id in raw_ids:
        outfile.write(json.dumps({"id": raw_id, "story": grouper.story_of(str(raw_id))}) + "\n")
    if bad:
        print(f"{bad} bad line(s) skipped", file=errfile)
        return EXIT_BAD_INPUT
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(group_stream(sys.stdin, sys.stdout))
