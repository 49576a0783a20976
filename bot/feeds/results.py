"""What the feed service's operations return to the commands: a new subscription, a test post,
an OPML import's report."""

from __future__ import annotations

from dataclasses import dataclass

from bot.feeds.finder import FeedCandidate
from bot.storage.feed_records import SubscriptionRecord, SubscriptionStatus


@dataclass(frozen=True, slots=True)
class SubscribeResult:
    """A new subscription."""

    subscription: SubscriptionRecord
    #: The feed as fetched just now.
    feed: FeedCandidate
    #: Items queued for the channel now (the newest ``first_post_count``).
    posted: int
    #: Whether this is the first subscription to the feed anywhere.
    new_feed: bool


@dataclass(frozen=True, slots=True)
class TestPost:
    """What ``/feed test`` queued."""

    status: SubscriptionStatus
    #: The item posted.
    title: str | None
    url: str | None
    #: The role a real post of this item would ping (the test shows it, pinging nobody).
    role_id: int | None


@dataclass(frozen=True, slots=True)
class ImportReport:
    """The outcome of an OPML import."""

    #: Feed URLs subscribed.
    added: tuple[str, ...]
    #: Feed URLs the channel already followed.
    skipped: tuple[str, ...]
    #: One message per entry that could not be added (or note on the file), fit to show.
    errors: tuple[str, ...]
