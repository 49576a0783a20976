"""The outbox dispatcher (bot.delivery) against a real database and a scripted in-memory publisher.

The publisher dedups by nonce like Discord's ``enforce_nonce``; the real
Discord path is tested end to end through the emulator by the cogs' tests.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.delivery import (
    Action,
    ChannelUnavailableError,
    DeliveryError,
    EmbedSpec,
    MemoryPublisher,
    MessageRejectedError,
    MessageSpec,
    OutboxDispatcher,
    RateLimitedError,
    RetryPolicy,
    TransientDeliveryError,
    outcome,
    shard_of,
)
from bot.delivery.policy import NONCE_TRUST, needs_lookup
from bot.storage import Database
from bot.storage.outbox import OutboxMessage, OutboxStore

START = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
HANG = "hang"  # never answers
CREATE_THEN_HANG = "create-then-hang"  # Discord created the message, the answer never arrives


class Clock:
    """A clock the test moves by hand: retry and lease times without sleeping."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class ScriptedPublisher(MemoryPublisher):
    """Each channel's sends follow its script (an error to raise, HANG...), then succeed."""

    def __init__(self, *, delay: float | tuple[float, float] = 0.0) -> None:
        super().__init__()
        self.script: dict[int, list[Any]] = defaultdict(list)
        self.delay = delay
        self.in_flight = 0
        self.max_in_flight = 0
        self.created = asyncio.Event()
        self.called = asyncio.Event()
        self._rng = random.Random(7)

    async def send(self, channel_id: int, spec: MessageSpec, *, nonce: str, **_: object) -> int:
        self.send_calls.append((channel_id, nonce))
        self.called.set()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            step = self.script[channel_id].pop(0) if self.script[channel_id] else None
            delay = self._rng.uniform(*self.delay) if isinstance(self.delay, tuple) else self.delay
            if delay:
                await asyncio.sleep(delay)
            if isinstance(step, BaseException):
                raise step
            if step == HANG:
                await asyncio.Event().wait()
            message = self.create(channel_id, spec, nonce=nonce)
            self.created.set()
            if step == CREATE_THEN_HANG:
                await asyncio.Event().wait()
            return message.message_id
        finally:
            self.in_flight -= 1

    def texts(self, channel_id: int) -> list[str | None]:
        return [m.spec.content for m in self.channel(channel_id)]


def message(channel_id: int, key: str, *, guild_id: int | None = 1) -> OutboxMessage:
    return OutboxMessage(channel_id, guild_id, "feed_item", key, MessageSpec(content=key))


def dispatcher(store: OutboxStore, publisher: ScriptedPublisher, **options: Any) -> OutboxDispatcher:
    options.setdefault("clock", Clock())
    options.setdefault("poll_interval_s", 0.05)
    return OutboxDispatcher(store, publisher, **options)


@asynccontextmanager
async def running(d: OutboxDispatcher) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(d.run())
    try:
        yield task
    finally:
        if not task.done():
            await d.stop(grace_s=1)
        await asyncio.wait_for(task, 5)


# --- the pure decision ------------------------------------------------------------


def test_outcome_of_each_error() -> None:
    retry = RetryPolicy(base_s=2, max_s=100)
    assert outcome(None, attempts=1, retry=retry).action is Action.SENT
    assert outcome(MessageRejectedError("Invalid Form Body"), attempts=1, retry=retry).action is Action.FAILED
    hold = outcome(ChannelUnavailableError("Missing Access"), attempts=1, retry=retry)
    assert (hold.action, hold.error) == (Action.HOLD, "Missing Access")
    limited = outcome(RateLimitedError("429", retry_after=7.5, is_global=True), attempts=9, retry=retry)
    assert (limited.action, limited.delay, limited.pause_all) == (Action.RETRY, timedelta(seconds=7.5), True)
    for error in (TransientDeliveryError("503"), OSError("reset"), RuntimeError("bug")):
        decision = outcome(error, attempts=3, retry=retry)
        assert (decision.action, decision.delay) == (Action.RETRY, timedelta(seconds=8))


def test_a_row_is_looked_for_only_after_an_attempt_older_than_the_nonce_trust() -> None:
    fresh, old = START, START - NONCE_TRUST
    assert not needs_lookup(attempts=1, created_at=old, now=START)  # first attempt: nothing to find
    assert not needs_lookup(attempts=3, created_at=fresh, now=START)  # the nonce still answers
    assert needs_lookup(attempts=2, created_at=old, now=START)


def test_dispatcher_refuses_a_lease_shorter_than_a_send(db: Database) -> None:
    with pytest.raises(ValueError, match="lease"):
        dispatcher(OutboxStore(db), ScriptedPublisher(), lease=timedelta(seconds=10), send_timeout_s=30)


# --- order and concurrency --------------------------------------------------------


async def test_each_channel_gets_its_rows_in_order_while_channels_run_concurrently(db: Database) -> None:
    store, publisher = OutboxStore(db), ScriptedPublisher(delay=(0.0, 0.01))
    channels = range(1, 7)
    await store.enqueue([message(c, f"{c}:{n:02d}") for n in range(12) for c in channels], now=START)
    d = dispatcher(store, publisher, concurrency=3)
    async with running(d):
        await d.drain(60)
        # Rows enqueued while running go out too, after the earlier ones.
        await store.enqueue([message(c, f"{c}:{n:02d}") for n in range(12, 15) for c in channels], now=START)
        d.notify()
        await d.drain(60)
    for c in channels:
        assert publisher.texts(c) == [f"{c}:{n:02d}" for n in range(15)]
    assert publisher.max_in_flight == 3
    assert len(publisher.send_calls) == 90
    sent = await store.rows(status="sent", limit=200)
    assert len(sent) == 90
    assert {r.message_id for r in sent} == {m.message_id for m in publisher.messages}


async def test_notify_wakes_the_dispatcher_before_the_next_poll(db: Database) -> None:
    store, publisher = OutboxStore(db), ScriptedPublisher()
    d = dispatcher(store, publisher, poll_interval_s=30)
    async with running(d):
        await asyncio.sleep(0.1)  # the loop is now waiting for its next poll
        await store.enqueue([message(1, "now")], now=START)
        d.notify()
        await asyncio.wait_for(publisher.created.wait(), 2)
    assert publisher.texts(1) == ["now"]


# --- crashes ----------------------------------------------------------------------


async def test_a_crash_after_discord_created_the_message_does_not_duplicate_it(db: Database) -> None:
    store, publisher = OutboxStore(db), ScriptedPublisher()
    await store.enqueue([message(1, "a"), message(1, "b")], now=START)
    publisher.script[1] = [CREATE_THEN_HANG]
    first = dispatcher(store, publisher, owner="bot")
    task = asyncio.create_task(first.run())
    await asyncio.wait_for(publisher.created.wait(), 5)
    task.cancel()  # the process dies before mark_sent
    with pytest.raises(asyncio.CancelledError):
        await task
    (row,) = await store.rows(status="pending", limit=1)
    assert row.lease_owner == "bot"

    # The restarted process (same owner) frees its old lease and sends again with the same nonce.
    second = dispatcher(store, publisher, owner="bot")
    async with running(second):
        await second.drain(10)
    assert publisher.send_calls == [(1, row.nonce), (1, row.nonce), (1, publisher.send_calls[2][1])]
    assert publisher.texts(1) == ["a", "b"]
    done = await store.get(row.id)
    assert done is not None and done.status == "sent"
    assert done.message_id == publisher.messages[0].message_id and done.attempts == 2


async def test_another_dispatcher_takes_over_a_dead_ones_rows_when_the_lease_expires(db: Database) -> None:
    store, publisher, clock = OutboxStore(db), ScriptedPublisher(), Clock()
    await store.enqueue([message(1, "a")], now=START)
    publisher.script[1] = [CREATE_THEN_HANG]
    task = asyncio.create_task(dispatcher(store, publisher, clock=clock).run())
    await asyncio.wait_for(publisher.created.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    other = dispatcher(store, publisher, clock=clock, lease=timedelta(minutes=2))
    async with running(other):
        await other.drain(10)
        assert len(publisher.send_calls) == 1  # still leased by the dead dispatcher
        clock.advance(120)
        await other.drain(10)
    assert [nonce for _, nonce in publisher.send_calls] == [publisher.messages[0].nonce] * 2
    assert publisher.texts(1) == ["a"]
    assert await store.pending_count() == 0


async def test_stop_frees_the_leases_of_sends_cut_short(db: Database) -> None:
    store, publisher, clock = OutboxStore(db), ScriptedPublisher(), Clock()
    await store.enqueue([message(1, "a")], now=START)
    publisher.script[1] = [HANG]
    first = dispatcher(store, publisher, clock=clock)
    task = asyncio.create_task(first.run())
    await asyncio.wait_for(publisher.called.wait(), 5)
    await first.stop(grace_s=0.1)
    await asyncio.wait_for(task, 5)
    (row,) = await store.rows()
    assert (row.status, row.lease_owner) == ("pending", None)

    second = dispatcher(store, publisher, clock=clock)  # no lease expiry needed
    async with running(second):
        await second.drain(10)
    assert publisher.texts(1) == ["a"]


async def test_stop_lets_a_send_in_flight_finish_within_the_grace(db: Database) -> None:
    store, publisher = OutboxStore(db), ScriptedPublisher(delay=0.3)
    await store.enqueue([message(1, "a"), message(1, "b")], now=START)
    d = dispatcher(store, publisher)
    task = asyncio.create_task(d.run())
    await asyncio.wait_for(publisher.called.wait(), 5)
    await d.stop(grace_s=10)
    await asyncio.wait_for(task, 5)
    # "a" was sent and recorded, not cut short (and sent again later); "b" waits for the next run.
    assert publisher.texts(1) == ["a"]
    assert [(r.dedup_key, r.status, r.lease_owner) for r in await store.rows()] == [
        ("a", "sent", None),
        ("b", "pending", None),
    ]


# --- Discord's answers ------------------------------------------------------------


async def test_a_429_delays_the_channel_and_then_delivers(db: Database) -> None:
    store, publisher, clock = OutboxStore(db), ScriptedPublisher(), Clock()
    await store.enqueue([message(1, "1a"), message(2, "2a"), message(1, "1b")], now=START)
    publisher.script[1] = [RateLimitedError("You are being rate limited.", retry_after=30)]
    d = dispatcher(store, publisher, clock=clock)
    async with running(d):
        await d.drain(10)
        assert publisher.texts(1) == [] and publisher.texts(2) == ["2a"]
        row = await store.get_by_dedup_key("1a")
        assert row is not None and row.status == "pending"
        assert row.next_attempt_at == START + timedelta(seconds=30)
        assert "rate limited" in (row.last_error or "")
        clock.advance(29)
        await d.drain(10)
        assert publisher.texts(1) == []
        clock.advance(1)
        await d.drain(10)
    assert publisher.texts(1) == ["1a", "1b"]


async def test_a_global_429_pauses_every_channel(db: Database) -> None:
    store, publisher = OutboxStore(db), ScriptedPublisher()
    await store.enqueue([message(1, "1a"), message(2, "2a")], now=datetime.now(UTC))
    publisher.script[1] = [RateLimitedError("global", retry_after=0.5, is_global=True)]
    loop = asyncio.get_running_loop()
    sent_at: dict[int, float] = {}
    both_sent = asyncio.Event()
    original = publisher.create

    def create(channel_id: int, spec: MessageSpec, *, nonce: str | None) -> Any:
        sent_at.setdefault(channel_id, loop.time())
        if len(sent_at) == 2:
            both_sent.set()
        return original(channel_id, spec, nonce=nonce)

    publisher.create = create  # type: ignore[method-assign]
    d = dispatcher(store, publisher, clock=lambda: datetime.now(UTC), concurrency=1)
    started = loop.time()
    async with running(d):
        await d.drain(10)
        # 1a waits for its retry time, which drain() does not wait for.
        await asyncio.wait_for(both_sent.wait(), 10)
    assert sent_at[2] - started >= 0.45


@pytest.mark.allow_error_logs(r"unexpected error from the publisher \[RuntimeError: bug in the publisher\]")
async def test_5xx_and_unexpected_errors_are_retried_with_backoff_never_dropped(db: Database) -> None:
    store, publisher, clock = OutboxStore(db), ScriptedPublisher(), Clock()
    await store.enqueue([message(1, "a")], now=START)
    publisher.script[1] = [
        TransientDeliveryError("503 Service Unavailable"),
        RuntimeError("bug in the publisher"),
    ]
    d = dispatcher(store, publisher, clock=clock, retry=RetryPolicy(base_s=2, max_s=60))
    async with running(d):
        await d.drain(10)
        row = await store.get_by_dedup_key("a")
        assert row is not None
        assert (row.attempts, row.next_attempt_at, row.status) == (1, START + timedelta(seconds=2), "pending")
        assert "503" in (row.last_error or "")
        clock.advance(2)
        await d.drain(10)
        row = await store.get_by_dedup_key("a")
        assert row is not None and row.next_attempt_at == clock.now + timedelta(seconds=4)
        assert "bug in the publisher" in (row.last_error or "")
        clock.advance(4)
        await d.drain(10)
    row = await store.get_by_dedup_key("a")
    assert row is not None and (row.status, row.attempts) == ("sent", 3)
    assert publisher.texts(1) == ["a"]
    assert len({nonce for _, nonce in publisher.send_calls}) == 1


@pytest.mark.parametrize(
    "error",
    [
        RateLimitedError("You are being rate limited.", retry_after=1),
        TransientDeliveryError("503 Service Unavailable"),
        MessageRejectedError("400 Bad Request: Invalid Form Body"),
    ],
    ids=["429", "5xx", "400"],
)
async def test_a_refused_send_is_logged_without_a_traceback_and_the_channel_goes_on(
    db: Database, caplog: pytest.LogCaptureFixture, error: DeliveryError
) -> None:
    store, publisher, clock = OutboxStore(db), ScriptedPublisher(), Clock()
    await store.enqueue([message(1, "a"), message(1, "b")], now=START)
    publisher.script[1] = [error]
    d = dispatcher(store, publisher, clock=clock, retry=RetryPolicy(base_s=1, max_s=1))
    with caplog.at_level(logging.INFO, logger="bot.delivery"):
        async with running(d):
            await d.drain(10)
            clock.advance(1)
            await d.drain(10)
    expected = ["b"] if isinstance(error, MessageRejectedError) else ["a", "b"]
    assert publisher.texts(1) == expected
    assert await store.pending_count() == 0
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == []
    assert str(error) in caplog.text  # the refusal itself is logged (INFO for a retry, WARNING for a 400)


async def test_a_send_that_never_answers_times_out_and_is_retried_with_the_same_nonce(db: Database) -> None:
    store, publisher, clock = OutboxStore(db), ScriptedPublisher(), Clock()
    await store.enqueue([message(1, "a")], now=START)
    publisher.script[1] = [HANG]
    d = dispatcher(
        store,
        publisher,
        clock=clock,
        send_timeout_s=0.2,
        lease=timedelta(seconds=5),
        retry=RetryPolicy(base_s=1),
    )
    async with running(d):
        await d.drain(10)
        row = await store.get_by_dedup_key("a")
        assert row is not None and "no answer" in (row.last_error or "")
        clock.advance(1)
        await d.drain(10)
    assert publisher.texts(1) == ["a"]
    assert len(publisher.send_calls) == 2 and len({n for _, n in publisher.send_calls}) == 1


@pytest.mark.allow_error_logs(r"on_channel_unavailable failed \[RuntimeError: the callback's own bug")
async def test_a_403_holds_the_channel_and_the_others_continue(db: Database) -> None:
    store, publisher = OutboxStore(db), ScriptedPublisher()
    await store.enqueue([message(c, f"{c}:{n}") for n in range(3) for c in (1, 2)], now=START)
    publisher.script[1] = [ChannelUnavailableError("Missing Access", 1)]
    calls: list[tuple[int, str]] = []

    async def on_channel_unavailable(channel_id: int, reason: str) -> None:
        calls.append((channel_id, reason))
        raise RuntimeError("the callback's own bug must not stop delivery")

    d = dispatcher(store, publisher, on_channel_unavailable=on_channel_unavailable)
    async with running(d):
        await d.drain(10)
        assert calls == [(1, "Missing Access")]
        assert publisher.texts(2) == ["2:0", "2:1", "2:2"]
        assert publisher.texts(1) == []
        assert await store.pending_count(channel_id=1) == 3
        assert [h.channel_id for h in await store.held_channels()] == [1]

        await store.enqueue([message(1, "1:3"), message(2, "2:3")], now=START)
        d.notify()
        await d.drain(10)
        assert publisher.texts(1) == [] and publisher.texts(2)[-1] == "2:3"
        assert len(calls) == 1

        assert await d.resume_channel(1)  # access is back and the channel resumed
        assert not await d.resume_channel(1)
        await d.drain(10)
    assert publisher.texts(1) == ["1:0", "1:1", "1:2", "1:3"]
    assert await store.pending_count() == 0


async def test_a_400_fails_the_message_and_the_channel_continues(db: Database) -> None:
    store, publisher = OutboxStore(db), ScriptedPublisher()
    # Too long a text is fitted when the spec is built; eleven embeds cannot be.
    too_many = MessageSpec(content="x", embeds=(EmbedSpec(title="x"),) * 11)
    too_long = OutboxMessage(1, 1, "notice", "too-long", too_many)
    await store.enqueue([message(1, "a"), too_long, message(1, "b"), message(1, "c")], now=START)
    publisher.script[1] = [MessageRejectedError("400 Bad Request: Invalid Form Body (embeds.0.url)")]
    d = dispatcher(store, publisher)
    async with running(d):
        await d.drain(10)
    assert publisher.texts(1) == ["b", "c"]
    rejected = await store.get_by_dedup_key("a")
    assert rejected is not None and rejected.status == "failed" and rejected.attempts == 1
    assert "Invalid Form Body" in (rejected.last_error or "")
    invalid = await store.get_by_dedup_key("too-long")
    assert invalid is not None and invalid.status == "failed"
    assert "11 embeds" in (invalid.last_error or "")
    assert invalid.nonce not in {nonce for _, nonce in publisher.send_calls}  # never sent


# --- several dispatchers ----------------------------------------------------------


async def test_two_dispatchers_on_one_database_never_send_the_same_row(db: Database, db_url: str) -> None:
    other_db = Database(db_url)  # a second process
    try:
        discord = ScriptedPublisher(delay=(0.0, 0.005))
        per_dispatcher: list[list[str]] = [[], []]
        # The first dispatcher holds its first sends until the second has sent one:
        # whichever starts first, both must share the channels (the first can lease
        # only `concurrency` of the 8), so the no-duplicate check sees real contention.
        second_has_sent = asyncio.Event()

        class Recording:
            def __init__(self, sent: list[str], *, waits_for_the_other: bool) -> None:
                self.sent = sent
                self.waits_for_the_other = waits_for_the_other

            async def send(self, channel_id: int, spec: MessageSpec, *, nonce: str, **_: object) -> int:
                if self.waits_for_the_other:
                    await asyncio.wait_for(second_has_sent.wait(), 30)
                else:
                    second_has_sent.set()
                self.sent.append(nonce)
                return await discord.send(channel_id, spec, nonce=nonce)

            async def edit(self, channel_id: int, message_id: int, spec: MessageSpec) -> None:
                await discord.edit(channel_id, message_id, spec)

            async def find_posted(
                self, channel_id: int, spec: MessageSpec, *, since: datetime, **_: object
            ) -> int | None:
                return await discord.find_posted(channel_id, spec, since=since)

        channels = range(1, 9)
        store = OutboxStore(db)
        await store.enqueue(
            [message(c, f"{c}:{n}") for n in range(10) for c in channels], now=datetime.now(UTC)
        )
        clock = lambda: datetime.now(UTC)  # noqa: E731
        ds = [
            OutboxDispatcher(
                OutboxStore(database),
                Recording(sent, waits_for_the_other=index == 0),
                clock=clock,
                concurrency=3,
                poll_interval_s=0.02,
            )
            for index, (database, sent) in enumerate(zip((db, other_db), per_dispatcher, strict=True))
        ]
        async with running(ds[0]), running(ds[1]), asyncio.timeout(60):
            while await store.pending_count():
                await ds[0].drain(30)
                await ds[1].drain(30)
        nonces = [nonce for _, nonce in discord.send_calls]
        assert len(nonces) == len(set(nonces)) == 80
        assert all(per_dispatcher), "both dispatchers should have sent something"
        for c in channels:
            assert discord.texts(c) == [f"{c}:{n}" for n in range(10)]
    finally:
        await other_db.close()


async def test_a_sharded_dispatcher_sends_only_its_shards_guilds(db: Database) -> None:
    store, publisher = OutboxStore(db), ScriptedPublisher()
    guilds = {channel: (channel << 22) | 1 for channel in range(1, 9)}
    await store.enqueue([message(c, f"c{c}", guild_id=g) for c, g in guilds.items()], now=START)
    d = dispatcher(store, publisher, shard=(1, 4))
    async with running(d):
        await d.drain(10)
    expected = sorted(c for c, g in guilds.items() if shard_of(g, 4) == 1)
    assert sorted(m.channel_id for m in publisher.messages) == expected == [1, 5]
    assert await store.pending_count() == 6


async def test_an_undecodable_row_fails_without_stopping_the_loop(db: Database) -> None:
    from sqlalchemy import update

    from bot.storage.outbox_tables import outbox

    store, publisher = OutboxStore(db), ScriptedPublisher()
    await store.enqueue([message(1, "a"), message(1, "b"), message(2, "c")], now=START)
    async with db.session() as conn:
        await conn.execute(
            update(outbox).where(outbox.c.dedup_key == "a").values(spec={"embeds": [{"bad": 1}]})
        )
    d = dispatcher(store, publisher)
    async with running(d):
        await d.drain(10)
    assert publisher.texts(1) == ["b"] and publisher.texts(2) == ["c"]
    row = await store.get_by_dedup_key("a")
    assert row is not None and row.status == "failed" and "undecodable" in (row.last_error or "")


async def test_a_post_retried_after_the_nonce_expired_is_found_in_the_channel_not_repeated(
    db: Database,
) -> None:
    store, publisher = OutboxStore(db), ScriptedPublisher()
    await store.enqueue([message(1, "a"), message(1, "b")], now=START)
    publisher.script[1] = [CREATE_THEN_HANG]
    clock = Clock()
    first = dispatcher(store, publisher, owner="bot", clock=clock)
    task = asyncio.create_task(first.run())
    await asyncio.wait_for(publisher.created.wait(), 5)
    task.cancel()  # the process dies before mark_sent...
    with pytest.raises(asyncio.CancelledError):
        await task

    # ... and stays down longer than Discord remembers the nonce.
    clock.advance(600)
    publisher.forget_nonces()
    second = dispatcher(store, publisher, owner="bot", clock=clock)
    async with running(second):
        await second.drain(10)
    assert publisher.texts(1) == ["a", "b"]
    (a, b) = sorted(await store.rows(status="sent", limit=10), key=lambda r: r.id)
    assert a.message_id == publisher.messages[0].message_id
    assert [nonce for _, nonce in publisher.send_calls] == [a.nonce, b.nonce]  # "a" was not sent again


async def test_a_publisher_that_cannot_look_falls_back_to_the_nonce(db: Database) -> None:
    store, publisher = OutboxStore(db), ScriptedPublisher()

    async def unreadable(channel_id: int, spec: MessageSpec, *, since: datetime) -> int | None:
        raise RuntimeError("history not readable")

    publisher.find_posted = unreadable  # type: ignore[method-assign]
    await store.enqueue([message(1, "a")], now=START)
    publisher.script[1] = [CREATE_THEN_HANG]
    clock = Clock()
    first = dispatcher(store, publisher, owner="bot", clock=clock)
    task = asyncio.create_task(first.run())
    await asyncio.wait_for(publisher.created.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    clock.advance(600)  # the nonce still works here (not forgotten): no duplicate either way
    second = dispatcher(store, publisher, owner="bot", clock=clock)
    async with running(second):
        await second.drain(10)
    assert publisher.texts(1) == ["a"]
    (row,) = await store.rows(status="sent", limit=10)
    assert row.message_id == publisher.messages[0].message_id
