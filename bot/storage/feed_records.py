"""Feed repository records: subscription rows, check outcomes, and the subscription limit.

A feed row is a :class:`bot.feeds.types.Feed`; :class:`DueFeed` is the narrower view a check needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from bot.feeds.destinations import DEFAULT_DELIVERY, PostDelivery
from bot.feeds.types import Feed
from bot.storage.outbox import OutboxMessage

ACTIVE = "active"
PAUSED = "paused"


class DueFeed(NamedTuple):
    """A feed claimed for a check: the validators and counters the check reads, which a
    :class:`~bot.feeds.types.Feed` does not show (lean: 100,000 of them may pass; a named tuple
    is made from its row in one step).
    """

    id: int
    url: str
    title: str | None
    etag: str | None
    last_modified: str | None
    #: Hash of the last body parsed; the same hash again means nothing to parse.
    body_hash: str | None
    #: Consecutive failures so far.
    failures: int
    #: The feed's own update hint (``<ttl>``, ``sy:updatePeriod``) in seconds.
    update_hint_s: int | None
    #: Never parsed successfully: the first fetch posts only the newest items (no flood).
    first_fetch: bool
    #: When the feed was due (how late its check is: the poll lag).
    due_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    """A channel following a feed."""

    id: int
    feed_id: int
    guild_id: int | None
    channel_id: int
    created_by: int | None
    created_at: datetime
    #: Filter patterns as typed (see :class:`bot.feeds.EntryFilter`).
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    #: Post the extracted article's summary and image rather than the feed's.
    extract: bool
    #: "active" or "paused".
    status: str
    paused_reason: str | None
    #: The subscription's own post template as stored (JSON, see bot.templates.Template), or None.
    template: Any = None
    #: The server's default post template as stored, where it was read with the subscription
    #: (for posting: the subscription's own wins, then this, then the built-in one).
    server_template: Any = None
    #: The role pinged on each new post (``/feed mention``), or None; see bot.feeds.mentions.
    mention_role_id: int | None = None
    #: Patterns a post must match to ping (include syntax of ``/feed filter``); None: every post.
    mention_include: tuple[str, ...] | None = None
    #: Webhook and thread options (``/feed webhook``, ``/feed threads``).
    delivery: PostDelivery = DEFAULT_DELIVERY


@dataclass(frozen=True, slots=True)
class SubscriptionStatus:
    """A subscription with its feed's health, for ``/feed list``."""

    subscription: SubscriptionRecord
    feed: Feed

    @property
    def paused(self) -> bool:
        """Whether nothing is posted: the subscription or the whole feed is paused."""
        return self.subscription.status == PAUSED or self.feed.status == PAUSED

    @property
    def paused_reason(self) -> str | None:
        """Why it is paused (the subscription's reason first), ``None`` when active."""
        if self.subscription.status == PAUSED:
            return self.subscription.paused_reason
        if self.feed.status == PAUSED:
            return self.feed.paused_reason
        return None

    @property
    def failing(self) -> bool:
        """Whether the last check of an active feed failed."""
        return self.feed.status == ACTIVE and self.feed.failures > 0


@dataclass(frozen=True, slots=True)
class FeedState:
    """What a successful fetch and parse of a feed learnt: its metadata, validators, next check."""

    title: str | None
    site_url: str | None
    icon_url: str | None
    etag: str | None
    last_modified: str | None
    #: Hash of the body parsed; the same hash again means nothing to parse.
    body_hash: str | None
    #: The feed's own update hint (``<ttl>``, ``sy:updatePeriod``) in seconds.
    update_hint_s: int | None
    next_check_at: datetime


@dataclass(frozen=True, slots=True)
class NewFeed:
    """A feed to subscribe to, created if no channel follows it yet.

    ``state`` and ``items`` are what its first fetch found (kept only when the feed is created
    here); without a ``state`` the feed is created unfetched, due at once, and its first check
    posts only the newest items.
    """

    url: str
    state: FeedState | None = None
    items: tuple[ItemRow, ...] = ()


class Subscribed(NamedTuple):
    """A subscription made by :meth:`bot.storage.feeds.FeedStore.subscribe`."""

    subscription: SubscriptionRecord
    #: Whether the feed was created for it (the first subscription to it anywhere).
    created: bool


class ItemRow(NamedTuple):
    """An entry to remember as seen (posted or not).

    A named tuple rather than a dataclass: a cold poll pass makes one per entry of every
    feed (200,000 for 10,000 feeds), and a tuple is made four times faster.
    """

    entry_key: str
    link_key: str | None
    title: str | None
    url: str | None
    summary: str | None
    image_url: str | None
    author: str | None
    published_at: datetime | None


@dataclass(frozen=True, slots=True)
class CheckOk:
    """A check that found nothing to parse (304, or the same body hash)."""

    feed_id: int
    etag: str | None
    last_modified: str | None
    next_check_at: datetime


@dataclass(frozen=True, slots=True)
class CheckChanged:
    """A check that parsed the feed: new state, items to remember, posts to enqueue."""

    feed_id: int
    state: FeedState
    items: tuple[ItemRow, ...]
    messages: tuple[OutboxMessage, ...]


@dataclass(frozen=True, slots=True)
class CheckFailed:
    """A failed check. ``pause_reason`` set: the feed is paused and ``notices`` go out."""

    feed_id: int
    failures: int
    error: str
    next_check_at: datetime
    pause_reason: str | None = None
    notices: tuple[OutboxMessage, ...] = ()


@dataclass(frozen=True, slots=True)
class CheckDeferred:
    """A claimed feed not fetched now (its host was asked too recently)."""

    feed_id: int
    next_check_at: datetime


CheckOutcome = CheckOk | CheckChanged | CheckFailed | CheckDeferred


class LimitReached(Exception):
    """The guild has as many subscriptions as allowed (raised inside
    :meth:`bot.storage.feeds.FeedStore.subscribe`).
    """

    def __init__(self, limit: int) -> None:
        super().__init__(f"limit of {limit} subscriptions reached")
        self.limit = limit
