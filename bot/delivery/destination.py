"""Where an outbox row's message goes in its channel: a property of the row, not a second path.

A row is sent to its ``channel_id``. Its :class:`Destination` says how:

- as the bot, a plain message (the default, stored as NULL);
- through the channel's webhook, under another name and avatar (:class:`WebhookIdentity`);
- as a new thread: a forum post, or a message in a text channel with a thread opened on it,
  named after the item (:class:`ThreadPlan`); a story's later outlets may go into the thread
  opened for the story's first one instead;
- as an edit of the message another row posted (``edit_of``: that row's dedup key), which is
  how breaking alerts update theirs.

Pure data, stored as JSON with the row; the publisher (``cogs/publisher.py``) acts on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Discord's limits on a webhook's name and a thread's name.
WEBHOOK_NAME_LIMIT = 80
THREAD_NAME_LIMIT = 100
#: Discord applies at most five tags to a forum post.
FORUM_TAG_LIMIT = 5


@dataclass(frozen=True, slots=True)
class WebhookIdentity:
    """The name and avatar a webhook post shows (the outlet's, by default)."""

    name: str
    avatar_url: str | None = None


@dataclass(frozen=True, slots=True)
class ThreadPlan:
    """A thread opened for the message: a forum post, or a thread on a text channel's message."""

    #: The thread's (forum post's) name: the item's title, fitted to :data:`THREAD_NAME_LIMIT`.
    name: str
    #: True when the channel is a forum (the message is the post's first message).
    forum: bool = False
    #: Names of tags to apply where the forum has a tag of that name (the item's categories).
    tags: tuple[str, ...] = ()
    #: Set when later outlets of the same story go into this item's story thread: the item's
    #: identity in the feed (``"{feed_id}:{item key}"``), looked up in the story grouping at
    #: send time. None: always a new thread.
    story_item: str | None = None


@dataclass(frozen=True, slots=True)
class Destination:
    """How a row's message is delivered in its channel; ``Destination()`` is a plain message."""

    webhook: WebhookIdentity | None = None
    thread: ThreadPlan | None = None
    #: The dedup key of the row whose message this one replaces (an edit, not a new message).
    edit_of: str | None = None

    @property
    def is_plain(self) -> bool:
        return self.webhook is None and self.thread is None and self.edit_of is None

    @property
    def uses_nonce(self) -> bool:
        """Whether Discord deduplicates a resend by its nonce: only for the bot's own messages.

        Webhook executions and forum posts have no nonce, so a send whose outcome is unknown
        must be looked for before it is made again.
        """
        return self.webhook is None and not (self.thread is not None and self.thread.forum)

    def to_json(self) -> dict[str, Any] | None:
        """The stored form; None for a plain message."""
        if self.is_plain:
            return None
        data: dict[str, Any] = {}
        if self.webhook is not None:
            data["webhook"] = {"name": self.webhook.name, "avatar_url": self.webhook.avatar_url}
        if self.thread is not None:
            data["thread"] = {
                "name": self.thread.name,
                "forum": self.thread.forum,
                "tags": list(self.thread.tags),
                "story_item": self.thread.story_item,
            }
        if self.edit_of is not None:
            data["edit_of"] = self.edit_of
        return data

    @classmethod
    def from_json(cls, data: Any) -> Destination:
        """Reads :meth:`to_json`'s form. Raises ValueError for a malformed one."""
        if data is None:
            return PLAIN
        if not isinstance(data, dict):
            raise ValueError(f"a destination is a JSON object, not {type(data).__name__}")
        try:
            webhook = data.get("webhook")
            thread = data.get("thread")
            return cls(
                webhook=WebhookIdentity(str(webhook["name"]), webhook.get("avatar_url")) if webhook else None,
                thread=ThreadPlan(
                    name=str(thread["name"]),
                    forum=bool(thread.get("forum", False)),
                    tags=tuple(str(t) for t in thread.get("tags", ())),
                    story_item=thread.get("story_item"),
                )
                if thread
                else None,
                edit_of=data.get("edit_of"),
            )
        except (KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"malformed destination: {e}") from e


PLAIN = Destination()
