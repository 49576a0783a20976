"""Outbox notifications (bot.storage.notify, migration 0008) on a real PostgreSQL server.

Two :class:`Database` objects on one database stand for two processes: rows queued through
one must wake the listener, and so the dispatcher, of the other. The dispatchers here poll
every 30 s, so a row sent within a few seconds was sent because of a notification. On SQLite
the listener does nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.delivery import OutboxDispatcher
from bot.delivery.message import MessageSpec
from bot.digests.schedule import DigestSchedule
from bot.storage import Database
from bot.storage.alerts import AlertStore, NewAlert
from bot.storage.digests import DigestStore, NewSchedule
from bot.storage.feed_records import CheckChanged, CheckFailed, FeedState, ItemRow, NewFeed, Subscribed
from bot.storage.feeds import FeedStore
from bot.storage.notify import APPLICATION_NAME, OUTBOX_CHANNEL, OutboxListener
from bot.storage.outbox import OutboxMessage, OutboxRow, OutboxStore
from tests.test_delivery import ScriptedPublisher

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
#: Far longer than any wait below: a row sent in time was sent because of a notification.
LONG_POLL_S = 30.0
#: Generous on a loaded 2-core machine; the latency itself is measured by bench/wake_bench.py.
WAIT_S = 5.0

POSTGRES = pytest.mark.parametrize(
    "db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


class Wakes:
    """An ``on_wake`` callback that counts its calls."""

    def __init__(self) -> None:
        self.count = 0
        self._changed = asyncio.Event()

    def __call__(self) -> None:
        self.count += 1
        self._changed.set()

    async def reach(self, count: int, timeout: float = WAIT_S) -> None:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            while self.count < count:
                self._changed.clear()
                await self._changed.wait()


class CountingStore(OutboxStore):
    """Counts the dispatcher's claims, so a test knows when its first (empty) round is over."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.claims = 0
        self.claimed = asyncio.Event()

    async def claim(self, **options: object) -> list[OutboxRow]:
        rows = await super().claim(**options)  # type: ignore[arg-type]
        self.claims += 1
        self.claimed.set()
        return rows


async def eventually(check: Callable[[], Awaitable[bool] | bool], timeout: float = WAIT_S) -> None:  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        while True:
            result = check()
            if result if isinstance(result, bool) else await result:
                return
            await asyncio.sleep(0.02)


def message(channel: int, key: str, kind: str = "notice") -> OutboxMessage:
    return OutboxMessage(channel, 1, kind, key, MessageSpec(content=key))


@asynccontextmanager
async def other_process(db_url: str) -> AsyncIterator[Database]:
    """A second Database on the same database: what another process would hold."""
    other = Database(db_url)
    try:
        yield other
    finally:
        await other.close()


@asynccontextmanager
async def listening(listener: OutboxListener) -> AsyncIterator[OutboxListener]:
    await listener.start()
    try:
        await listener.wait_listening(WAIT_S)
        yield listener
    finally:
        await listener.stop()


async def listener_sessions(db: Database) -> int:
    async with db.session() as conn:
        # This database's only: other test runs and benchmarks on the server have listeners too.
        query = text(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE application_name = :name AND datname = current_database()"
        )
        return (await conn.execute(query, {"name": APPLICATION_NAME})).scalar_one()


async def kill(db: Database, pid: int | None) -> None:
    assert pid is not None
    async with db.session() as conn:
        await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


# --- every path that queues rows notifies, at commit, only when it inserted ---------------


def _feed_state(next_check_at: datetime) -> FeedState:
    return FeedState(
        title="Feed", site_url=None, icon_url=None, etag=None, last_modified=None, body_hash="h",
        update_hint_s=None, next_check_at=next_check_at,
    )  # fmt: skip


def _item(key: str) -> ItemRow:
    return ItemRow(
        entry_key=key, link_key=None, title=key, url=None, summary=None, image_url=None, author=None,
        published_at=NOW,
    )  # fmt: skip


async def _insert_paths(db: Database) -> list[tuple[str, Callable[[], Awaitable[object]]]]:
    """Each producer's way of queueing rows, as the bot calls it (each call queues new rows),
    and the release of a held channel (its rows may go now)."""
    outbox, feeds, alerts, digests = OutboxStore(db), FeedStore(db), AlertStore(db), DigestStore(db)
    (added,) = await feeds.subscribe(
        [NewFeed("https://a.example/feed", _feed_state(NOW), (_item("old"),))], guild_id=1, channel_id=20,
        created_by=None, messages_for=lambda f, s: [], now=NOW,
    )  # fmt: skip
    assert isinstance(added, Subscribed)
    feed_id = added.subscription.feed_id
    schedule = await digests.set_schedule(
        NewSchedule(1, 40, DigestSchedule(kind="daily", hour=8, minute=0), 10, NOW, NOW, 7, NOW)
    )
    await outbox.hold_channel(50, reason="Missing Access", now=NOW)
    later = NOW + timedelta(minutes=10)

    async def feed_items() -> None:
        post = message(20, "feed:1:new", "feed_item")
        await feeds.record([CheckChanged(feed_id, _feed_state(later), (_item("new"),), (post,))], now=NOW)

    async def paused_feed() -> None:
        notice = message(20, "paused:1")
        await feeds.record([CheckFailed(feed_id, 10, "gone", later, "10 failures", (notice,))], now=NOW)

    async def new_subscription() -> None:
        await feeds.subscribe(
            [NewFeed("https://b.example/feed", _feed_state(NOW), (_item("b1"),))],
            guild_id=1,
            channel_id=21,
            created_by=None,
            messages_for=lambda f, s: [message(21, "feed:b:b1", "feed_item")],
            now=NOW,
        )

    async def alert() -> None:
        await alerts.record_posts(
            [NewAlert("s1", "breaking", 3, message(30, "alert:30:s1", "alert"))], now=NOW
        )

    async def digest_now() -> None:
        await digests.post_now(schedule.id, [message(40, "digest:40:a", "digest")], now=NOW)

    async def digest_due() -> None:
        posts = [message(40, "digest:40:b", "digest")]
        await digests.move_due(schedule, NOW + timedelta(days=1), posted_at=NOW, messages=posts, now=NOW)

    async def notice() -> None:
        await outbox.enqueue([message(10, "notice:1")], now=NOW)

    async def released_channel() -> None:
        assert await outbox.release_channel(50)

    async def by_hand() -> None:
        async with db.session() as conn:
            await conn.execute(text(_insert("by-hand")))

    return [
        ("OutboxStore.enqueue", notice),
        ("FeedStore.record (new items)", feed_items),
        ("FeedStore.record (a paused feed's notice)", paused_feed),
        ("FeedStore.subscribe (first posts)", new_subscription),
        ("AlertStore.record_posts", alert),
        ("DigestStore.post_now", digest_now),
        ("DigestStore.move_due", digest_due),
        ("an INSERT by hand", by_hand),
        ("OutboxStore.release_channel (a held channel's rows may go)", released_channel),
    ]


@POSTGRES
async def test_every_path_that_queues_rows_wakes_a_listener_of_another_process(
    db: Database, db_url: str
) -> None:
    paths = await _insert_paths(db)
    wakes = Wakes()
    async with other_process(db_url) as other, listening(OutboxListener(other, wakes)) as listener:
        await wakes.reach(1)  # the wake every (re)connection makes
        for n, (name, queue_rows) in enumerate(paths, start=2):
            await queue_rows()
            try:
                await wakes.reach(n)
            except TimeoutError:
                pytest.fail(f"{name}: woke nobody")
        assert listener.notifications == len(paths)
        assert await OutboxStore(db).pending_count() == len(paths) - 1


def _insert(*keys: str) -> str:
    values = ", ".join(f"(10, 'notice', '{k}', '{{}}', 'pending', 0, now(), now())" for k in keys)
    columns = "channel_id, kind, dedup_key, spec, status, attempts, created_at, next_attempt_at"
    return f"INSERT INTO outbox ({columns}) VALUES {values} ON CONFLICT (dedup_key) DO NOTHING"


@POSTGRES
async def test_the_triggers_notify_once_per_committed_transaction_that_makes_work(
    db_url: str, db: Database
) -> None:
    # One session both listens and inserts: PostgreSQL hands a session its own notifications
    # before it answers the command that committed them, so each count below is exact.
    conn = await asyncpg.connect(make_url(db_url).set(drivername="postgresql").render_as_string(False))
    received: list[str] = []
    try:
        await conn.add_listener(OUTBOX_CHANNEL, lambda _c, _pid, _channel, payload: received.append(payload))

        async def notifications_after(sql: str) -> int:
            await conn.execute(sql)
            await asyncio.sleep(0)  # asyncpg calls listeners with call_soon
            return len(received)

        assert await notifications_after(_insert("k1")) == 1
        assert await notifications_after(_insert("k1")) == 1  # a duplicate key: nothing inserted
        assert await notifications_after(f"BEGIN; {_insert('k2')}; ROLLBACK") == 1
        # Three statements of 400 rows in one transaction: one notification.
        batches = [_insert(*(f"b{n}" for n in range(start, start + 400))) for start in (0, 400, 800)]
        assert await notifications_after(f"BEGIN; {'; '.join(batches)}; COMMIT") == 2
        assert await notifications_after("UPDATE outbox SET attempts = 1") == 2  # inserts only
        # Holding a channel stops work, releasing one makes work: only the release notifies.
        hold = "INSERT INTO outbox_holds (channel_id, reason, held_at) VALUES (10, 'Missing Access', now())"
        assert await notifications_after(hold) == 2
        assert await notifications_after("DELETE FROM outbox_holds WHERE channel_id = 11") == 2
        assert await notifications_after("DELETE FROM outbox_holds WHERE channel_id = 10") == 3
        assert received == ["", "", ""]
    finally:
        await conn.close()


# --- the dispatcher of another process sends at once -------------------------------------


@asynccontextmanager
async def woken_dispatcher(
    db_url: str, *, listen: bool = True, reconnect_min_s: float = 0.5
) -> AsyncIterator[tuple[ScriptedPublisher, OutboxListener]]:
    """Another process's dispatcher, polling every 30 s, woken by its listener; yields once its
    first round (which finds nothing) is over, so only a wake can make it claim again soon.
    """
    async with other_process(db_url) as other:
        store, publisher = CountingStore(other), ScriptedPublisher()
        dispatcher = OutboxDispatcher(
            store, publisher, clock=lambda: datetime.now(UTC), poll_interval_s=LONG_POLL_S
        )
        listener = OutboxListener(other, dispatcher.notify, reconnect_min_s=reconnect_min_s)
        if listen:
            await listener.start()
            await listener.wait_listening(WAIT_S)
        task = asyncio.create_task(dispatcher.run())
        try:
            await asyncio.wait_for(store.claimed.wait(), WAIT_S)
            yield publisher, listener
        finally:
            await listener.stop()
            await dispatcher.stop(grace_s=1)
            await asyncio.wait_for(task, WAIT_S)


@POSTGRES
async def test_a_row_queued_by_one_process_is_sent_at_once_by_another(db: Database, db_url: str) -> None:
    async with woken_dispatcher(db_url) as (publisher, _):
        for n in range(3):
            await OutboxStore(db).enqueue([message(10, f"k{n}")], now=datetime.now(UTC))
            await eventually(lambda n=n: len(publisher.messages) == n + 1)
        assert publisher.texts(10) == ["k0", "k1", "k2"]
    rows = await OutboxStore(db).rows(status="sent")
    assert len(rows) == 3


@POSTGRES
async def test_without_a_listener_the_row_waits_for_the_poll(db: Database, db_url: str) -> None:
    # The control for the test above: what sends the row there is the notification.
    async with woken_dispatcher(db_url, listen=False) as (publisher, _):
        await OutboxStore(db).enqueue([message(10, "k0")], now=datetime.now(UTC))
        await asyncio.sleep(1.0)
        assert publisher.messages == []


# --- losing the connection ------------------------------------------------------------


@POSTGRES
async def test_the_listener_reconnects_after_its_session_is_killed_and_wakes(
    db: Database, db_url: str
) -> None:
    wakes = Wakes()
    async with (
        other_process(db_url) as other,
        listening(OutboxListener(other, wakes, reconnect_min_s=0.1)) as listener,
    ):
        await wakes.reach(1)
        first_pid = listener.backend_pid
        await kill(db, first_pid)
        # Back, on a new session, and the dispatcher told once (notifications meanwhile are lost).
        await eventually(lambda: listener.connects == 2 and listener.listening)
        await wakes.reach(2)
        assert listener.backend_pid not in (None, first_pid)
        await OutboxStore(db).enqueue([message(10, "after")], now=NOW)
        await wakes.reach(3)
        assert listener.notifications == 1
        assert await listener_sessions(db) == 1


@POSTGRES
async def test_a_row_queued_while_the_listener_is_down_is_sent_when_it_is_back(
    db: Database, db_url: str
) -> None:
    async with woken_dispatcher(db_url, reconnect_min_s=1.0) as (publisher, listener):
        await kill(db, listener.backend_pid)
        await eventually(lambda: not listener.listening)
        # Most likely queued while nobody listens (the listener waits 1 s before reconnecting):
        # only its wake after reconnecting can send the row before the 30 s poll.
        await OutboxStore(db).enqueue([message(10, "meanwhile")], now=datetime.now(UTC))
        await eventually(lambda: publisher.texts(10) == ["meanwhile"])
        assert listener.connects == 2


@POSTGRES
async def test_the_listener_holds_no_pooled_connection_and_stop_closes_its_session(
    db: Database, db_url: str
) -> None:
    async with other_process(db_url) as other:
        listener = OutboxListener(other, Wakes())
        async with listening(listener):
            assert await listener_sessions(db) == 1
            assert other.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        assert (listener.listening, listener.backend_pid) == (False, None)
        await eventually(lambda: _zero(listener_sessions(db)))
        await listener.stop()  # twice: harmless
        with pytest.raises(RuntimeError):  # one start per listener at a time
            await listener.start()
            await listener.start()
        await listener.stop()


async def _zero(count: Awaitable[int]) -> bool:
    return await count == 0


async def test_an_unreachable_server_delays_nothing_and_stop_is_prompt() -> None:
    # Port 1 on loopback refuses at once: start() returns after the first failed attempt
    # (a WARNING, not an ERROR), and stop() ends the backoff.
    db = Database("postgresql+asyncpg://newsdesk@127.0.0.1:1/none")
    wakes = Wakes()
    listener = OutboxListener(db, wakes, reconnect_min_s=5.0)
    try:
        await asyncio.wait_for(listener.start(), WAIT_S)
        assert (listener.listening, listener.connects, wakes.count) == (False, 0, 0)
        await asyncio.wait_for(listener.stop(), 1.0)
    finally:
        await db.close()


@POSTGRES
@pytest.mark.allow_error_logs("the wake callback failed")
async def test_a_failing_callback_is_logged_and_listening_goes_on(db: Database, db_url: str) -> None:
    calls = 0

    def broken() -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("bug")

    async with other_process(db_url) as other, listening(OutboxListener(other, broken)) as listener:
        await OutboxStore(db).enqueue([message(10, "k1")], now=NOW)
        await OutboxStore(db).enqueue([message(10, "k2")], now=NOW)
        await eventually(lambda: listener.notifications == 2)
        assert calls == 3 and listener.listening


# --- SQLite: nothing to do --------------------------------------------------------------


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_on_sqlite_the_listener_does_nothing(db: Database) -> None:
    wakes = Wakes()
    listener = OutboxListener(db, wakes)
    await listener.start()
    assert (listener.enabled, listener.listening, listener.backend_pid) == (False, False, None)
    await OutboxStore(db).enqueue([message(10, "k1")], now=NOW)
    await listener.stop()
    assert (wakes.count, listener.notifications) == (0, 0)
    await listener.start()  # no task was started: starting again is as harmless
    await listener.stop()
