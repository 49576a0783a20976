"""Public data types of feeds: a feed, and what parsing one gives. Plain, frozen, typed, free of Discord."""

from __future__ import annotations

import dataclasses
import itertools
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Feed:
    """A feed as the bot knows it: its address and what a post shows of it, and, once stored,
    its health and schedule (``/feed list``).

    Only ``url`` is required: a feed just parsed or found is a ``Feed`` with its metadata and
    the stored fields left at their defaults (``id`` is ``None`` until it is stored).
    """

    #: The resolved feed URL (unique).
    url: str
    title: str | None = None
    #: The site the feed belongs to.
    site_url: str | None = None
    icon_url: str | None = None
    id: int | None = None
    #: "active" or "paused".
    status: str = "active"
    paused_reason: str | None = None
    #: Consecutive failed checks.
    failures: int = 0
    #: Why the last check failed (fit to show a user), ``None`` after a success.
    last_error: str | None = None
    next_check_at: datetime | None = None
    last_checked_at: datetime | None = None
    last_success_at: datetime | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One item of a feed, cleaned up so every parser gives the same shape."""

    #: The entry's own id (RSS ``guid``, Atom ``id``, JSON Feed ``id``); ``None`` when absent or
    #: when it is only the link again (fastfeedparser fills a missing id with the link, so the two
    #: cannot be told apart; the link identifies the entry then).
    guid: str | None
    #: The entry's web page, absolute (resolved against ``xml:base`` and the feed URL).
    link: str | None
    #: The headline as plain text: tags stripped, entities decoded, whitespace collapsed.
    title: str | None
    #: The description (or the content when there is none) as plain text, cleaned like ``title``.
    summary: str | None
    #: The full content as HTML, as the feed wrote it (relative URLs left, NOT sanitised: clean
    #: it before rendering it anywhere as HTML).
    content_html: str | None
    #: The author's name.
    author: str | None
    #: When the entry was published, tz-aware UTC; the updated date when the feed gives only that.
    published: datetime | None
    #: When the entry was last updated, tz-aware UTC; the published date when the feed gives only that.
    updated: datetime | None
    #: Category terms, in feed order, without duplicates.
    categories: tuple[str, ...]
    #: A picture for the entry, absolute: media:content/media:thumbnail, an image enclosure,
    #: the JSON Feed ``image``, else the first ``<img>`` of the content.
    image_url: str | None
    #: The first enclosure (podcast audio, attachment), absolute.
    enclosure_url: str | None
    #: The HTML ``summary`` was made from, when it has markup (cut at
    #: :data:`bot.feeds._build.MAX_SUMMARY_HTML_CHARS`; not sanitised). Kept so the entries
    #: that are posted get a Markdown summary; ``None`` for plain text.
    summary_html: str | None = None
    #: The summary as Discord Markdown (:func:`bot.feeds.posts.ready_to_post`): set only on
    #: entries about to be posted, ``None`` on parsed ones (converting every entry of every poll
    #: would cost more than parsing them).
    summary_markdown: str | None = None

    def __reduce__(self) -> tuple[type[FeedEntry], tuple[Any, ...]]:
        # Parse workers send entries back by the thousand: pickling the values as a plain tuple
        # halves the cost of the dataclass default (a setstate looping over fields()).
        return (FeedEntry, _entry_values(self))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (dates as ISO 8601, categories as a list)."""
        data = dataclasses.asdict(self)
        for key in ("published", "updated"):
            value = getattr(self, key)
            data[key] = value.isoformat() if value else None
        data["categories"] = list(self.categories)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeedEntry:
        """The inverse of :meth:`to_dict`; unknown keys are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        for key in ("published", "updated"):
            if isinstance(values.get(key), str):
                values[key] = datetime.fromisoformat(values[key])
        values["categories"] = tuple(values.get("categories") or ())
        return cls(**values)


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed feed: its own metadata and its entries in feed order."""

    #: The feed's title as plain text.
    title: str | None
    #: The site the feed belongs to (RSS ``<link>``, Atom alternate link, JSON ``home_page_url``), absolute.
    link: str | None
    #: The feed's description / subtitle as plain text.
    description: str | None
    #: The feed's icon or logo, absolute.
    icon_url: str | None
    #: The feed's language code ("en-us"), when it says.
    language: str | None
    #: RSS ``<ttl>``: minutes the feed may be cached.
    ttl_minutes: int | None
    #: Seconds between updates from ``sy:updatePeriod`` / ``sy:updateFrequency``.
    update_period_s: int | None
    #: The entries in feed order (usually newest first).
    entries: tuple[FeedEntry, ...]
    #: Which parser read it: "fastfeedparser", "feedparser" or "json".
    parser: str

    def __reduce__(self) -> tuple[Callable[..., ParsedFeed], tuple[Any, ...]]:
        # Entries go as rows of values: pickle would otherwise call FeedEntry.__reduce__, a
        # Python function, once per entry, in the parse worker.
        return (_parsed_feed, (_feed_values(self), tuple(map(_entry_values, self.entries))))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (entries as dicts)."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["entries"] = [e.to_dict() for e in self.entries]
        return data


# Field values in constructor order, for ``__reduce__`` (the feed's without its entries).
_entry_values = operator.attrgetter(*(f.name for f in dataclasses.fields(FeedEntry)))
_FEED_FIELDS = [f.name for f in dataclasses.fields(ParsedFeed)]
_ENTRIES_AT = _FEED_FIELDS.index("entries")
_feed_values = operator.attrgetter(*(name for name in _FEED_FIELDS if name != "entries"))


def _parsed_feed(values: tuple[Any, ...], entry_rows: Iterable[tuple[Any, ...]]) -> ParsedFeed:
    """The feed :meth:`ParsedFeed.__reduce__` took apart."""
    entries = tuple(itertools.starmap(FeedEntry, entry_rows))
    fields: tuple[Any, ...] = (*values[:_ENTRIES_AT], entries, *values[_ENTRIES_AT:])
    return ParsedFeed(*fields)
