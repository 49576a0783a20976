"""Small records shared by the feed poller and its writer: what one pass did (:class:`PollStats`),
its running tallies (:class:`Counts`), and a changed feed waiting to be written (:class:`Parsed`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from bot.feeds.decide import EntryKeys
from bot.feeds.posts import FeedInfo
from bot.feeds.types import ParsedFeed
from bot.storage.feeds import DueFeed


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
    sources: dict[int, FeedInfo] = dataclasses.field(default_factory=dict)

    def freeze(self, elapsed_s: float) -> PollStats:
        values = {
            f.name: getattr(self, f.name) for f in dataclasses.fields(PollStats) if f.name != "elapsed_s"
        }
        return PollStats(**values, elapsed_s=elapsed_s)


@dataclass(frozen=True, slots=True)
class Parsed:
    """A changed feed, parsed; turned into a :class:`CheckChanged` once seen keys are known."""

    feed: DueFeed
    parsed: ParsedFeed
    #: ``(entry_key, link_key)`` of each entry, computed with the parse.
    keys: tuple[EntryKeys, ...]
    etag: str | None
    last_modified: str | None
    body_hash: str
    next_check_at: datetime
