"""An in-memory :class:`~bot.delivery.publisher.Publisher`, for tests and dry runs.

It behaves like Discord where the outbox depends on it: a nonce sent again
returns the message created the first time, and message ids increase.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime

from bot.delivery.destination import PLAIN, Destination
from bot.delivery.errors import MessageRejectedError
from bot.delivery.message import MessageSpec


@dataclass(frozen=True, slots=True)
class PostedMessage:
    message_id: int
    channel_id: int
    spec: MessageSpec
    nonce: str | None
    destination: Destination = PLAIN


class MemoryPublisher:
    """Records the messages it is asked to post; ``messages`` is what a channel would show."""

    def __init__(self, *, first_id: int = 1_000_000) -> None:
        self._ids = itertools.count(first_id)
        #: Every message created, in creation order (a nonce sent again adds nothing).
        self.messages: list[PostedMessage] = []
        #: Every call to :meth:`send`, with its nonce, duplicates included.
        self.send_calls: list[tuple[int, str]] = []
        #: Every call to :meth:`edit` that found its message: ``(channel_id, message_id)``.
        self.edit_calls: list[tuple[int, int]] = []
        self._by_nonce: dict[str, PostedMessage] = {}

    def channel(self, channel_id: int) -> list[PostedMessage]:
        return [m for m in self.messages if m.channel_id == channel_id]

    async def send(
        self, channel_id: int, spec: MessageSpec, *, nonce: str, destination: Destination = PLAIN
    ) -> int:
        self.send_calls.append((channel_id, nonce))
        # Webhooks and forum posts take no nonce: a resend is a second message.
        used_nonce = nonce if destination.uses_nonce else None
        return self.create(channel_id, spec, nonce=used_nonce, destination=destination).message_id

    def create(
        self, channel_id: int, spec: MessageSpec, *, nonce: str | None, destination: Destination = PLAIN
    ) -> PostedMessage:
        """Create the message, or return the one this nonce created (Discord's ``enforce_nonce``)."""
        if nonce is not None and nonce in self._by_nonce:
            return self._by_nonce[nonce]
        message = PostedMessage(next(self._ids), channel_id, spec, nonce, destination)
        self.messages.append(message)
        if nonce is not None:
            self._by_nonce[nonce] = message
        return message

    async def find_posted(
        self, channel_id: int, spec: MessageSpec, *, since: datetime, destination: Destination = PLAIN
    ) -> int | None:
        for message in reversed(self.messages):
            if message.channel_id == channel_id and message.spec == spec:
                return message.message_id
        return None

    def forget_nonces(self) -> None:
        """What Discord does a few minutes after a send: the same nonce creates a new message."""
        self._by_nonce.clear()

    async def edit(self, channel_id: int, message_id: int, spec: MessageSpec) -> None:
        for i, message in enumerate(self.messages):
            if message.message_id == message_id and message.channel_id == channel_id:
                self.messages[i] = PostedMessage(
                    message_id, channel_id, spec, message.nonce, message.destination
                )
                self.edit_calls.append((channel_id, message_id))
                return
        # Discord's 404 Unknown Message, as the Discord publisher reports it: give the edit up.
        raise MessageRejectedError(f"Unknown Message {message_id} in channel {channel_id}", channel_id)

    def delete(self, channel_id: int, message_id: int) -> None:
        """Someone deletes a message (its edits then fail with Unknown Message)."""
        self.messages = [m for m in self.messages if (m.channel_id, m.message_id) != (channel_id, message_id)]
