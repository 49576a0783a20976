"""Small records of the feed pipeline: what one pass did (:class:`PollStats`), its running
tallies (:class:`Counts`), and a changed feed waiting for its decision (:class:`Fetched`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from bot.feeds.decide import EntryKeys
from bot.feeds.types import Feed, ParsedFeed
from bot.storage.feed_records import DueFeed, FeedState


@dataclass(frozen=True, slots=True)
class PollStats:
    """What one pass did (for logs, tests and the benchmark)."""

    #: Feeds claimed as due.
    claimed: int = 0
    #: Feeds answered 304 Not Modified.
    not_modified: int = 0
    #: Feeds answered 200 with the same body as last time (hash), not parsed.
    unchanged: int = 0
    #: Bodies parsed.
    parsed: int = 0
    #: Checks that failed (fetch or parse).
    failed: int = 0
    #: Feeds paused by this pass (410, or too many failures).
    paused: int = 0
    #: Feeds not fetched because their host was asked too recently (checked a bit later).
    deferred: int = 0
    #: Items seen for the first time.
    new_items: int = 0
    #: Posts written to the outbox (one per item and subscribed channel).
    posts: int = 0
    #: Wall-clock seconds of the pass.
    elapsed_s: float = 0.0


@dataclass(slots=True)
class Counts:
    """The tallies of a pass in progress, frozen into :class:`PollStats` at its end."""

    claimed: int = 0
    not_modified: int = 0
    unchanged: int = 0
    parsed: int = 0
    failed: int = 0
    paused: int = 0
    deferred: int = 0
    new_items: int = 0
    posts: int = 0
    #: Feeds being paused, for the notice to their channels.
    sources: dict[int, Feed] = dataclasses.field(default_factory=dict)

    def freeze(self, elapsed_s: float) -> PollStats:
        values = {
            f.name: getattr(self, f.name) for f in dataclasses.fields(PollStats) if f.name != "elapsed_s"
        }
        return PollStats(**values, elapsed_s=elapsed_s)


@dataclass(frozen=True, slots=True)
class Fetched:
    """A feed fetched and parsed, with what it is to be stored as: a claimed feed that changed
    (a :class:`~bot.storage.feed_records.CheckChanged` once the entries seen before are known),
    or a feed being added (``feed`` is ``None``).
    """

    #: The feed's URL: the claimed feed's, or the one a new feed's body came from.
    url: str
    parsed: ParsedFeed
    #: ``(entry_key, link_key)`` of each entry, computed with the parse.
    keys: tuple[EntryKeys, ...]
    state: FeedState
    feed: DueFeed | None = None

    @property
    def feed_id(self) -> int:
        if self.feed is None:
            raise ValueError(f"{self.url} is not a claimed feed")
        return self.feed.id

    @property
    def first_fetch(self) -> bool:
        return self.feed is None or self.feed.first_fetch
