"""Where a subscription's posts go: its delivery options, and the destination of each post.

``/feed webhook`` and ``/feed threads`` set a subscription's :class:`PostDelivery` (stored as
JSON in ``subscriptions.delivery``; NULL is the default: the bot's own plain messages).
:func:`destination_for` turns it into the :class:`~bot.delivery.destination.Destination` of one
post. Pure functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Literal
from urllib.parse import urlsplit

from bot.delivery.destination import (
    FORUM_TAG_LIMIT,
    PLAIN,
    THREAD_NAME_LIMIT,
    WEBHOOK_NAME_LIMIT,
    Destination,
    ThreadPlan,
    WebhookIdentity,
)
from bot.discord_text import discord_length, fit
from bot.errors import DeliveryOptionError
from bot.feeds.types import Feed, FeedEntry

#: "none": posts in the channel; "item": a thread opened on each post (text channels).
#: A forum channel always gets a forum post per item.
ThreadMode = Literal["none", "item"]
THREAD_MODES: tuple[ThreadMode, ...] = ("none", "item")

#: Longest avatar link accepted (Discord's own limit on a URL).
AVATAR_URL_LIMIT = 2048
#: Discord refuses webhook names containing these (case-insensitive).
_RESERVED_NAME = re.compile(r"clyde|discord", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class PostDelivery:
    """How a subscription's posts are delivered."""

    #: Post through the channel's webhook under the outlet's name and avatar.
    webhook: bool = False
    #: The name and avatar the webhook posts show; None: the feed's title and icon.
    webhook_name: str | None = None
    webhook_avatar_url: str | None = None
    #: True when the subscribed channel is a forum (found when subscribing).
    forum: bool = False
    threads: ThreadMode = "none"
    #: Later outlets reporting the same story go into the story's thread, not a new post.
    story_threads: bool = False

    @property
    def opens_threads(self) -> bool:
        return self.forum or self.threads == "item"

    def to_json(self) -> dict[str, Any] | None:
        """The stored form; None for the default."""
        if self == DEFAULT_DELIVERY:
            return None
        return {
            "webhook": self.webhook,
            "webhook_name": self.webhook_name,
            "webhook_avatar_url": self.webhook_avatar_url,
            "forum": self.forum,
            "threads": self.threads,
            "story_threads": self.story_threads,
        }

    @classmethod
    def from_json(cls, data: Any) -> PostDelivery:
        """Reads :meth:`to_json`'s form; anything unreadable is the default (never raises)."""
        if not isinstance(data, dict):
            return DEFAULT_DELIVERY
        threads = data.get("threads")
        return cls(
            webhook=data.get("webhook") is True,
            webhook_name=_str_or_none(data.get("webhook_name")),
            webhook_avatar_url=_str_or_none(data.get("webhook_avatar_url")),
            forum=data.get("forum") is True,
            threads=threads if threads in THREAD_MODES else "none",
            story_threads=data.get("story_threads") is True,
        )


DEFAULT_DELIVERY = PostDelivery()


def with_webhook(
    delivery: PostDelivery, *, enabled: bool, name: str | None = None, avatar_url: str | None = None
) -> PostDelivery:
    """``delivery`` posting through a webhook (under ``name`` and ``avatar_url`` when given, else
    the outlet's), or as the bot again. Raises :class:`DeliveryOptionError` for a name or avatar
    Discord would refuse.
    """
    if not enabled:
        return replace(delivery, webhook=False, webhook_name=None, webhook_avatar_url=None)
    cleaned = " ".join((name or "").split())
    if name is not None and not 1 <= discord_length(cleaned) <= WEBHOOK_NAME_LIMIT:
        raise DeliveryOptionError(f"A webhook name is 1 to {WEBHOOK_NAME_LIMIT} characters long.")
    avatar = (avatar_url or "").strip()
    if avatar:
        parts = urlsplit(avatar)
        if parts.scheme != "https" or not parts.hostname or len(avatar) > AVATAR_URL_LIMIT:
            raise DeliveryOptionError("The avatar must be an https:// link to an image.")
    return replace(delivery, webhook=True, webhook_name=cleaned or None, webhook_avatar_url=avatar or None)


def with_threads(delivery: PostDelivery, *, mode: str, story_threads: bool = False) -> PostDelivery:
    """``delivery`` opening a thread per item (``mode="item"``) or not (``"none"``), and sending
    a story's later outlets to its thread. A forum channel always gets a post per item. Raises
    :class:`DeliveryOptionError` for an unknown mode or story threads without threads.
    """
    if mode not in THREAD_MODES:
        raise DeliveryOptionError(f"The thread mode is one of {', '.join(THREAD_MODES)}.")
    threads: ThreadMode = "item" if mode == "item" else "none"
    if story_threads and not (delivery.forum or threads == "item"):
        raise DeliveryOptionError("Story threads need a thread per item (or a forum channel).")
    return replace(delivery, threads=threads, story_threads=story_threads)


def destination_for(delivery: PostDelivery, entry: FeedEntry, source: Feed, *, item_key: str) -> Destination:
    """The destination of the post of ``entry`` (from ``source``) under ``delivery``.

    ``item_key`` is the entry's key in its feed (what the story grouping knows it by).
    """
    if delivery == DEFAULT_DELIVERY:
        return PLAIN
    webhook = webhook_identity(delivery, source) if delivery.webhook else None
    thread = None
    story = delivery.story_threads and source.id is not None
    if delivery.opens_threads:
        thread = ThreadPlan(
            name=thread_name(entry, source),
            forum=delivery.forum,
            tags=tuple(entry.categories[: FORUM_TAG_LIMIT * 4]) if delivery.forum else (),
            story_item=f"{source.id}:{item_key}" if story else None,
        )
    return Destination(webhook=webhook, thread=thread)


def webhook_identity(delivery: PostDelivery, source: Feed) -> WebhookIdentity:
    """The name and avatar of a webhook post: the manager's, else the outlet's."""
    name = delivery.webhook_name or source.title or urlsplit(source.site_url or source.url).hostname or "News"
    return WebhookIdentity(name=webhook_name(name), avatar_url=delivery.webhook_avatar_url or source.icon_url)


def webhook_name(name: str) -> str:
    """``name`` as Discord accepts it for a webhook: 1-80 characters, no "clyde" or "discord"."""
    cleaned = _RESERVED_NAME.sub(lambda m: m.group(0)[0] + "\u200b" + m.group(0)[1:], " ".join(name.split()))
    return fit(cleaned, WEBHOOK_NAME_LIMIT) or "News"


def thread_name(entry: FeedEntry, source: Feed) -> str:
    """A thread's name for ``entry``: its title (else its link, else the feed's title)."""
    name = " ".join((entry.title or entry.link or source.title or "News").split())
    return fit(name, THREAD_NAME_LIMIT) or "News"


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
