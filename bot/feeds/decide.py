"""Which entries of a fetched feed to post, and which keys to remember. Pure."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.feeds.identity import entry_keys
from bot.feeds.types import FeedEntry

_EPOCH = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class NewItems:
    """The outcome of one poll: what to post and what to mark as seen."""

    #: Entries to post, oldest first.
    to_post: tuple[FeedEntry, ...]
    #: New entries not posted (first fetch, or over ``max_posts``), oldest first.
    skipped: tuple[FeedEntry, ...]
    #: Entry keys to add to the seen set once the posts went out (posted and skipped alike,
    #: plus reposts recognised by their link, so a changed guid is learnt).
    remember_keys: frozenset[str]
    #: Link keys to add to the seen set.
    remember_link_keys: frozenset[str]


#: ``(entry_key, link_key)`` of an entry (:mod:`bot.feeds.identity`).
EntryKeys = tuple[str, str | None]


def chronological(entries: Sequence[FeedEntry]) -> list[FeedEntry]:
    """Entries oldest first: by date, and in reversed feed order where dates are missing or equal.

    Feeds list newest first, so reversed feed order is the best guess for undated entries; an
    undated entry keeps its place right after its older dated neighbour.
    """
    return [entries[i] for i in _chronological_order(entries)]


def _chronological_order(entries: Sequence[FeedEntry]) -> list[int]:
    """The indexes of ``entries`` in :func:`chronological` order."""
    keyed: list[tuple[datetime, int, int]] = []
    last = _EPOCH
    count = len(entries)
    for rank in range(count):
        index = count - 1 - rank
        published = entries[index].published
        if published is not None:
            last = published
        keyed.append((last, rank, index))
    keyed.sort(key=lambda item: (item[0], item[1]))
    return [index for _, _, index in keyed]


def decide_new_items(
    entries: Sequence[FeedEntry],
    *,
    seen_keys: Collection[str],
    seen_link_keys: Collection[str],
    first_fetch: bool,
    first_fetch_count: int = 1,
    max_posts: int | None = None,
    keys: Sequence[EntryKeys] | None = None,
) -> NewItems:
    """The entries to post from one fetch of a feed.

    An entry is new when neither its key nor its link key was seen (a feed that changes the
    guid of the same link does not post it again). On the first fetch after subscribing only
    the newest ``first_fetch_count`` are posted and the rest remembered, so adding a feed does
    not flood the channel; ``max_posts`` caps every later poll the same way (newest kept).

    A link shared by entries with different keys in the same fetch (a changelog whose items all
    point at one page) identifies none of them, so it is neither checked nor remembered.

    ``keys`` are the entries' ``(entry_key, link_key)`` in entry order, when already computed
    (the poller computes them in its parse workers, off the event loop).
    """
    if keys is None:
        keys = [entry_keys(e) for e in entries]
    elif len(keys) != len(entries):
        raise ValueError("keys must match entries one to one")
    keyed = [(entries[i], *keys[i]) for i in _chronological_order(entries)]
    keys_by_link: dict[str, set[str]] = defaultdict(set)
    for _, key, lkey in keyed:
        if lkey is not None:
            keys_by_link[lkey].add(key)
    remember_keys: set[str] = set()
    remember_link_keys: set[str] = set()
    new: list[FeedEntry] = []
    for entry, key, lkey in keyed:
        if lkey is not None and len(keys_by_link[lkey]) > 1:
            lkey = None
        already = key in seen_keys or key in remember_keys
        reposted = lkey is not None and (lkey in seen_link_keys or lkey in remember_link_keys)
        if not already and not reposted:
            new.append(entry)
        if not already:
            remember_keys.add(key)
        if lkey is not None and lkey not in seen_link_keys:
            remember_link_keys.add(lkey)
    limit = first_fetch_count if first_fetch else max_posts
    if limit is not None and len(new) > limit:
        cut = len(new) - max(limit, 0)
        skipped, to_post = new[:cut], new[cut:]
    else:
        skipped, to_post = [], new
    return NewItems(
        to_post=tuple(to_post),
        skipped=tuple(skipped),
        remember_keys=frozenset(remember_keys),
        remember_link_keys=frozenset(remember_link_keys),
    )
