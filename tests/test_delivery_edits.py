"""The dispatcher's edit branch: a row whose destination names ``edit_of`` edits the message that
row posted, on SQLite and PostgreSQL, with an in-memory Discord whose edits can be scripted."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import timedelta
from typing import Any

import pytest

from bot.delivery import (
    ChannelUnavailableError,
    MemoryPublisher,
    MessageRejectedError,
    MessageSpec,
    RateLimitedError,
    RetryPolicy,
    TransientDeliveryError,
)
from bot.delivery.destination import Destination, WebhookIdentity
from bot.storage import Database
from bot.storage.outbox import OutboxMessage, OutboxStore
from tests.test_delivery import START, Clock, dispatcher, running

HANG_AFTER_EDIT = "edit-then-hang"  # Discord edited the message, the answer never arrives


class EditingPublisher(MemoryPublisher):
    """Each channel's edits follow its script (an error to raise, HANG_AFTER_EDIT), then succeed."""

    def __init__(self) -> None:
        super().__init__()
        self.edit_script: dict[int, list[Any]] = defaultdict(list)
        self.edited = asyncio.Event()

    async def edit(self, channel_id: int, message_id: int, spec: MessageSpec) -> None:
        step = self.edit_script[channel_id].pop(0) if self.edit_script[channel_id] else None
        if isinstance(step, BaseException):
            raise step
        await super().edit(channel_id, message_id, spec)
        self.edited.set()
        if step == HANG_AFTER_EDIT:
            await asyncio.Event().wait()

    def shown(self, channel_id: int) -> list[str | None]:
        return [m.spec.content for m in self.channel(channel_id)]


def post(channel_id: int, key: str, **options: Any) -> OutboxMessage:
    return OutboxMessage(channel_id, 1, "alert", key, MessageSpec(content=key), **options)


def edit(channel_id: int, of: str, text: str) -> OutboxMessage:
    spec = MessageSpec(content=text)
    return OutboxMessage(channel_id, 1, "alert", f"{of}:edit:{text}", spec, Destination(edit_of=of))


async def status(store: OutboxStore, key: str) -> tuple[str, int | None, str | None]:
    row = await store.get_by_dedup_key(key)
    assert row is not None
    return row.status, row.message_id, row.last_error


async def test_an_edit_row_edits_the_posted_message_and_is_marked_with_its_id(db: Database) -> None:
    store, publisher = OutboxStore(db), EditingPublisher()
    await store.enqueue([post(1, "a"), edit(1, "a", "a, 4 outlets"), post(1, "b")], now=START)
    d = dispatcher(store, publisher)
    async with running(d):
        await d.drain(10)
    assert publisher.shown(1) == ["a, 4 outlets", "b"]
    [original, _] = publisher.channel(1)
    assert publisher.edit_calls == [(1, original.message_id)]
    assert len(publisher.send_calls) == 2  # the edit is no new message
    assert await status(store, "a:edit:a, 4 outlets") == ("sent", original.message_id, None)


async def test_edits_queued_while_the_post_is_pending_end_with_the_newest(db: Database) -> None:
    store, publisher = OutboxStore(db), EditingPublisher()
    await store.enqueue([post(1, "a")], now=START)
    publisher_is_slow = asyncio.Event()
    original_send = publisher.send

    async def slow_send(*args: Any, **kwargs: Any) -> int:
        await publisher_is_slow.wait()
        return await original_send(*args, **kwargs)

    publisher.send = slow_send  # type: ignore[method-assign]
    d = dispatcher(store, publisher)
    async with running(d):
        await asyncio.sleep(0.1)  # the post is claimed and being sent
        for text in ("4 outlets", "5 outlets", "6 outlets"):
            await store.enqueue([edit(1, "a", text)], now=START)
        d.notify()
        publisher_is_slow.set()
        await d.drain(10)
    assert publisher.shown(1) == ["6 outlets"]
    assert len(publisher.edit_calls) == 3


@pytest.mark.parametrize(
    "gone",
    ["failed", "cancelled", "never queued", "other channel", "webhook post"],
)
async def test_an_edit_of_a_message_never_posted_here_is_given_up_and_the_channel_goes_on(
    db: Database, gone: str
) -> None:
    store, publisher = OutboxStore(db), EditingPublisher()
    webhook = Destination(webhook=WebhookIdentity("Outlet"))
    original = post(
        2 if gone == "other channel" else 1,
        "a",
        **({"destination": webhook} if gone == "webhook post" else {}),
    )
    queued = [] if gone == "never queued" else [original]
    await store.enqueue([*queued, edit(1, "a", "a, 4 outlets"), post(1, "b")], now=START)
    if gone == "cancelled":
        await store.cancel_guild(1, reason="bot removed")
        await store.enqueue([edit(1, "a", "a, 5 outlets"), post(1, "c")], now=START)
    if gone == "failed":
        publisher_send = publisher.send

        async def refuse_a(channel_id: int, spec: MessageSpec, **kwargs: Any) -> int:
            if spec.content == "a":
                raise MessageRejectedError("400 Bad Request: Invalid Form Body")
            return await publisher_send(channel_id, spec, **kwargs)

        publisher.send = refuse_a  # type: ignore[method-assign]
    d = dispatcher(store, publisher)
    async with running(d):
        await d.drain(10)
    assert publisher.edit_calls == []
    assert publisher.shown(1)[-1] == ("c" if gone == "cancelled" else "b")
    key = "a:edit:a, 5 outlets" if gone == "cancelled" else "a:edit:a, 4 outlets"
    state, message_id, error = await status(store, key)
    assert (state, message_id) == ("failed", None) and "the message to edit (a)" in (error or "")
    assert await store.held_channels() == []


async def test_an_edit_of_a_deleted_message_is_given_up_without_holding_the_channel(db: Database) -> None:
    store, publisher = OutboxStore(db), EditingPublisher()
    await store.enqueue([post(1, "a")], now=START)
    d = dispatcher(store, publisher)
    async with running(d):
        await d.drain(10)
        [message] = publisher.channel(1)
        publisher.delete(1, message.message_id)  # a moderator deletes the alert
        await store.enqueue([edit(1, "a", "a, 4 outlets"), post(1, "b")], now=START)
        d.notify()
        await d.drain(10)
    assert publisher.shown(1) == ["b"]
    state, _, error = await status(store, "a:edit:a, 4 outlets")
    assert state == "failed" and "Unknown Message" in (error or "")
    assert await store.held_channels() == []


async def test_an_edit_refused_for_access_holds_the_channel_like_a_post(db: Database) -> None:
    store, publisher = OutboxStore(db), EditingPublisher()
    await store.enqueue([post(1, "a"), edit(1, "a", "a, 4 outlets")], now=START)
    publisher.edit_script[1] = [ChannelUnavailableError("Missing Access", 1)]
    d = dispatcher(store, publisher)
    async with running(d):
        await d.drain(10)
        assert [h.channel_id for h in await store.held_channels()] == [1]
        assert (await status(store, "a:edit:a, 4 outlets"))[0] == "pending"
        await d.resume_channel(1)
        await d.drain(10)
    assert publisher.shown(1) == ["a, 4 outlets"]


async def test_429_and_5xx_on_an_edit_are_retried_like_a_post(db: Database) -> None:
    store, publisher, clock = OutboxStore(db), EditingPublisher(), Clock()
    await store.enqueue([post(1, "a"), edit(1, "a", "a, 4 outlets"), post(1, "b")], now=START)
    publisher.edit_script[1] = [
        RateLimitedError("You are being rate limited.", retry_after=30),
        TransientDeliveryError("Discord answered 502"),
    ]
    d = dispatcher(store, publisher, clock=clock, retry=RetryPolicy(base_s=2, max_s=60))
    async with running(d):
        await d.drain(10)
        assert publisher.shown(1) == ["a"]  # the edit waits, and "b" behind it
        clock.advance(30)
        await d.drain(10)
        row = await store.get_by_dedup_key("a:edit:a, 4 outlets")
        assert row is not None and row.status == "pending" and "502" in (row.last_error or "")
        clock.advance(4)
        await d.drain(10)
    assert publisher.shown(1) == ["a, 4 outlets", "b"]
    row = await store.get_by_dedup_key("a:edit:a, 4 outlets")
    assert row is not None and (row.status, row.attempts) == ("sent", 3)


async def test_a_crash_after_discord_edited_edits_again_once_after_restart(db: Database) -> None:
    store, publisher = OutboxStore(db), EditingPublisher()
    await store.enqueue([post(1, "a"), edit(1, "a", "a, 4 outlets"), post(1, "b")], now=START)
    publisher.edit_script[1] = [HANG_AFTER_EDIT]
    task = asyncio.create_task(dispatcher(store, publisher, owner="bot").run())
    await asyncio.wait_for(publisher.edited.wait(), 5)
    task.cancel()  # the process dies before the edit row is marked
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await status(store, "a:edit:a, 4 outlets"))[0] == "pending"

    second = dispatcher(store, publisher, owner="bot", lease=timedelta(minutes=2))
    async with running(second):
        await second.drain(10)
    assert publisher.shown(1) == ["a, 4 outlets", "b"]
    assert len(publisher.edit_calls) == 2 and len(publisher.messages) == 2  # the same edit, twice
    assert (await status(store, "a:edit:a, 4 outlets"))[0] == "sent"
