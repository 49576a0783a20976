"""Delivery of posts to channels through a persistent outbox.

Producers queue :class:`MessageSpec` s with :func:`bot.storage.outbox.enqueue`
(in their own transaction) and call :meth:`OutboxDispatcher.notify`; the
dispatcher posts them through a :class:`Publisher` (Discord's lives in ``cogs/``).

>>> store = OutboxStore(db)
>>> dispatcher = OutboxDispatcher(store, publisher, clock=lambda: datetime.now(UTC), owner="bot")
>>> task = asyncio.create_task(dispatcher.run())
>>> await store.enqueue([OutboxMessage(channel_id, guild_id, "notice", "hello:1", spec)], now=now)
>>> dispatcher.notify()
>>> await dispatcher.stop()
"""

from bot.delivery.dispatcher import Action, ChannelCallback, OutboxDispatcher, Outcome, outcome
from bot.delivery.errors import (
    ChannelUnavailableError,
    DeliveryError,
    MessageRejectedError,
    RateLimitedError,
    TransientDeliveryError,
)
from bot.delivery.memory import MemoryPublisher, PostedMessage
from bot.delivery.message import EmbedSpec, FieldSpec, MessageSpec
from bot.delivery.policy import RetryPolicy, nonce_for, shard_of
from bot.delivery.publisher import Publisher

__all__ = [
    "Action",
    "ChannelCallback",
    "ChannelUnavailableError",
    "DeliveryError",
    "EmbedSpec",
    "FieldSpec",
    "MemoryPublisher",
    "MessageRejectedError",
    "MessageSpec",
    "OutboxDispatcher",
    "Outcome",
    "PostedMessage",
    "Publisher",
    "RateLimitedError",
    "RetryPolicy",
    "TransientDeliveryError",
    "nonce_for",
    "outcome",
    "shard_of",
]
