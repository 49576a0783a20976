"""What the dispatcher needs from Discord: posting and editing one message.

The Discord implementation lives in ``cogs/``; tests use
:class:`~bot.delivery.memory.MemoryPublisher`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.delivery.destination import PLAIN, Destination
from bot.delivery.message import MessageSpec


class Publisher(Protocol):
    """Posts :class:`MessageSpec` s to channels.

    Both methods raise only :class:`~bot.delivery.errors.DeliveryError` subclasses
    for Discord's refusals: :class:`~bot.delivery.errors.ChannelUnavailableError`
    (403/404), :class:`~bot.delivery.errors.RateLimitedError` (429 not retried by
    the client), :class:`~bot.delivery.errors.MessageRejectedError` (400) and
    :class:`~bot.delivery.errors.TransientDeliveryError` (5xx, network). Anything
    else is treated as transient and logged as a bug.
    """

    async def send(
        self, channel_id: int, spec: MessageSpec, *, nonce: str, destination: Destination = PLAIN
    ) -> int:
        """Post ``spec`` in ``channel_id`` as ``destination`` says; return the new message's id
        (for a forum post or a thread opened on the message, also the thread's id).

        ``nonce`` must be sent with ``enforce_nonce`` where Discord takes one: sending the same
        nonce again (after a crash) returns the message already created instead of posting a
        duplicate. Called by the outbox dispatcher, which never passes an edit here.
        """
        ...

    async def edit(self, channel_id: int, message_id: int, spec: MessageSpec) -> None:
        """Replace the content of a message the bot posted (breaking alerts update theirs).

        Called by the outbox dispatcher for a row whose destination names ``edit_of``. A message
        deleted since (Discord's 404 Unknown Message) raises :class:`MessageRejectedError`, so
        the edit is given up, not :class:`ChannelUnavailableError`, which would hold the channel.
        """
        ...

    async def find_posted(
        self, channel_id: int, spec: MessageSpec, *, since: datetime, destination: Destination = PLAIN
    ) -> int | None:
        """The id of a message the bot (or its webhook, for a webhook ``destination``) posted in
        ``channel_id`` after ``since`` that shows ``spec``, or ``None`` (none, or the channel's
        history cannot be read).

        Discord honours a nonce for a few minutes only: before sending a row again long after
        an attempt whose outcome is unknown (a crash, a timeout), the dispatcher looks for the
        message itself. Must not raise for an unreadable history.
        """
        ...
