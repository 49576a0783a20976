"""Edits through the outbox: a row whose destination names ``edit_of`` (the dedup key of the row
that posted a message) replaces that message's content instead of posting a new one. Breaking
alerts update theirs so as more outlets join.

An edit is queued in its message's channel, after the row that posts it, so by the time it heads
its channel the post has been sent or given up (a channel's rows go in id order), and several
edits of one message are made in the order queued: the newest content is the last one. An edit
is idempotent: a resend after a crash needs no nonce and no lookup.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from bot.delivery.errors import MessageRejectedError, TransientDeliveryError
from bot.delivery.message import MessageSpec
from bot.delivery.publisher import Publisher
from bot.errors import StorageError

if TYPE_CHECKING:  # bot.storage.outbox imports bot.delivery.message
    from bot.storage.outbox import OutboxRow, OutboxStore

__all__ = ["edit_target", "send_edit"]


async def send_edit(
    store: OutboxStore,
    publisher: Publisher,
    row: OutboxRow,
    original_key: str,
    spec: MessageSpec,
    *,
    timeout_s: float,
) -> int:
    """Edit the message row ``original_key`` posted to show ``spec``; return that message's id.

    Raises what the publisher raises (a deleted message is Discord's 404 Unknown Message, which
    the publisher reports as :class:`MessageRejectedError`: the edit is given up, the channel is
    not held), and see :func:`edit_target`.
    """
    try:
        original = await store.get_by_dedup_key(original_key)
    except StorageError as e:
        raise TransientDeliveryError(f"could not read the message to edit: {e}", row.channel_id) from e
    message_id = edit_target(row, original_key, original)
    await asyncio.wait_for(publisher.edit(row.channel_id, message_id, spec), timeout_s)
    return message_id


def edit_target(row: OutboxRow, original_key: str, original: OutboxRow | None) -> int:
    """The id of the message edit ``row`` applies to: ``original``'s (the row ``original_key``).

    Raises :class:`MessageRejectedError` when there will never be one (the post failed, was
    cancelled or purged, is in another channel, or is a webhook or forum post the bot cannot
    edit as its own), and :class:`TransientDeliveryError` while the post is still pending.
    """
    where = f"the message to edit ({original_key})"
    if original is None:
        raise MessageRejectedError(f"{where} is not in the outbox", row.channel_id)
    if original.channel_id != row.channel_id:
        raise MessageRejectedError(f"{where} is in another channel", row.channel_id)
    if original.status == "pending":
        raise TransientDeliveryError(f"{where} is not sent yet", row.channel_id)
    if original.status != "sent" or original.message_id is None:
        raise MessageRejectedError(f"{where} was never posted ({original.status})", row.channel_id)
    destination = original.message_destination()
    if destination.webhook is not None or (destination.thread is not None and destination.thread.forum):
        raise MessageRejectedError(f"{where} is a webhook or forum post", row.channel_id)
    return original.message_id
