"""The outbox repository (bot.storage.outbox) on SQLite and PostgreSQL, and its pure policy."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from bot.delivery.message import EmbedSpec, MessageSpec
from bot.delivery.policy import NONCE_MAX_LENGTH, RetryPolicy, base36, nonce_for, shard_of
from bot.storage import Database
from bot.storage.outbox import OutboxMessage, OutboxRow, OutboxStore, enqueue
from bot.storage.outbox_tables import outbox

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)


def message(channel_id: int, key: str, *, guild_id: int | None = 1, text: str | None = None) -> OutboxMessage:
    spec = MessageSpec(
        content=text or key, embeds=(EmbedSpec(title=f"title {key}", url="https://example.com/a"),)
    )
    return OutboxMessage(channel_id=channel_id, guild_id=guild_id, kind="feed_item", dedup_key=key, spec=spec)


async def claim(
    store: OutboxStore, *, owner: str = "a", now: datetime = NOW, limit: int = 10, **kwargs: object
) -> list[OutboxRow]:
    return await store.claim(owner=owner, now=now, lease=LEASE, limit=limit, **kwargs)  # type: ignore[arg-type]


# --- pure policy ----------------------------------------------------------------


def test_nonce_is_short_deterministic_and_distinct() -> None:
    assert nonce_for(42, "k") == nonce_for(42, "k")
    assert nonce_for(42, "k") != nonce_for(43, "k")
    assert nonce_for(42, "k") != nonce_for(42, "other")
    assert len(nonce_for(2**63 - 1, "x" * 10_000)) <= NONCE_MAX_LENGTH
    assert nonce_for(36, "k").startswith("nd10-")
    assert base36(0) == "0" and base36(35) == "z" and int(base36(2**63 - 1), 36) == 2**63 - 1


def test_retry_delay_doubles_up_to_the_ceiling() -> None:
    policy = RetryPolicy(base_s=2, max_s=60)
    delays = [policy.delay(n).total_seconds() for n in (0, 1, 2, 3, 4, 5, 6, 1000)]
    assert delays == [2, 2, 4, 8, 16, 32, 60, 60]


def test_shard_of_follows_discords_formula() -> None:
    guild = (123 << 22) | 99
    assert shard_of(guild, 10) == 3
    assert shard_of(None, 4) == 0
    with pytest.raises(ValueError):
        shard_of(guild, 0)


def test_row_nonce_and_spec_round_trip() -> None:
    spec = message(1, "k").spec
    assert MessageSpec.from_dict(spec.to_dict()) == spec


# --- enqueue ----------------------------------------------------------------------


async def test_enqueue_is_idempotent_by_dedup_key(db: Database) -> None:
    store = OutboxStore(db)
    assert await store.enqueue([message(1, "a"), message(1, "b"), message(2, "a")], now=NOW) == 2
    assert await store.enqueue([message(1, "a"), message(1, "b")], now=NOW) == 0
    assert await store.enqueue([message(1, "b"), message(1, "c")], now=NOW) == 1
    rows = await store.rows()
    assert [(r.dedup_key, r.channel_id) for r in rows] == [("a", 1), ("b", 1), ("c", 1)]
    assert [r.id for r in rows] == sorted(r.id for r in rows)
    row = rows[0]
    assert (row.status, row.attempts, row.message_id, row.created_at, row.next_attempt_at) == (
        "pending", 0, None, NOW, NOW,
    )  # fmt: skip
    assert row.message_spec() == message(1, "a").spec
    assert await store.pending_count() == 3
    assert await store.pending_count(channel_id=2) == 0


async def test_enqueue_belongs_to_the_callers_transaction(db: Database) -> None:
    store = OutboxStore(db)

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with db.session(write=True) as conn:
            assert await enqueue(conn, [message(1, "a")], now=NOW) == 1
            raise Boom
    assert await store.pending_count() == 0
    async with db.session(write=True) as conn:
        assert await enqueue(conn, [message(1, "a")], now=NOW) == 1
    assert await store.pending_count() == 1


async def test_enqueue_refuses_bad_input(db: Database) -> None:
    store = OutboxStore(db)
    with pytest.raises(ValueError, match="kind"):
        await store.enqueue([OutboxMessage(1, 1, "spam", "k", MessageSpec(content="x"))], now=NOW)
    with pytest.raises(ValueError, match="dedup_key"):
        await store.enqueue([OutboxMessage(1, 1, "notice", "", MessageSpec(content="x"))], now=NOW)
    with pytest.raises(ValueError, match="timezone"):
        await store.enqueue([message(1, "a")], now=NOW.replace(tzinfo=None))
    assert await store.enqueue([], now=NOW) == 0


async def test_enqueue_many_rows_keeps_their_order(db: Database) -> None:
    store = OutboxStore(db)
    keys = [f"k{i:04d}" for i in range(1200)]  # more than one INSERT chunk
    assert await store.enqueue([message(7, k) for k in keys], now=NOW) == len(keys)
    assert [r.dedup_key for r in await store.rows(limit=2000)] == keys


async def test_concurrent_enqueues_to_a_channel_commit_in_id_order(db: Database) -> None:
    # Otherwise the dispatcher could see (and send) a later id before an earlier one commits.
    store = OutboxStore(db)
    async with db.session(write=True) as conn:
        await enqueue(conn, [message(1, "first")], now=NOW)
        second = asyncio.create_task(store.enqueue([message(1, "second")], now=NOW))
        await asyncio.sleep(0.3)
        assert not second.done()  # waits for the first transaction
    assert await asyncio.wait_for(second, 10) == 1
    assert [r.dedup_key for r in await store.rows()] == ["first", "second"]


# --- claiming -------------------------------------------------------------------


async def test_claim_takes_only_each_channels_oldest_row(db: Database) -> None:
    store = OutboxStore(db)
    await store.enqueue([message(1, "1a"), message(2, "2a"), message(1, "1b"), message(2, "2b")], now=NOW)
    rows = await claim(store)
    assert [r.dedup_key for r in rows] == ["1a", "2a"]
    assert all(r.attempts == 1 and r.lease_owner == "a" and r.lease_until == NOW + LEASE for r in rows)
    # Leased heads block their channels: nothing else is claimable, for anyone.
    assert await claim(store, owner="b") == []
    assert await store.due_count(now=NOW) == 0

    assert await store.mark_sent(rows[0].id, message_id=555, now=NOW)
    (next_row,) = await claim(store, owner="b")
    assert next_row.dedup_key == "1b"
    sent = await store.get(rows[0].id)
    assert sent is not None
    assert (sent.status, sent.message_id, sent.sent_at, sent.lease_owner) == ("sent", 555, NOW, None)
    assert not await store.mark_sent(rows[0].id, message_id=556, now=NOW)  # already sent


async def test_claim_filters_by_channel_and_exclusion_and_limit(db: Database) -> None:
    store = OutboxStore(db)
    await store.enqueue([message(c, f"c{c}") for c in (1, 2, 3, 4)], now=NOW)
    assert [r.channel_id for r in await claim(store, channel_id=3)] == [3]
    assert [r.channel_id for r in await claim(store, exclude_channels=[1])] == [2, 4]
    assert [r.channel_id for r in await claim(store, limit=5)] == [1]
    assert await claim(store, limit=0) == []


async def test_an_expired_lease_is_claimed_again_with_the_same_nonce(db: Database) -> None:
    store = OutboxStore(db)
    await store.enqueue([message(1, "a")], now=NOW)
    (first,) = await claim(store, owner="crashed")
    assert await claim(store, owner="b", now=NOW + LEASE - timedelta(seconds=1)) == []
    (again,) = await claim(store, owner="b", now=NOW + LEASE)
    assert again.id == first.id and again.nonce == first.nonce
    assert again.attempts == 2 and again.lease_owner == "b"
    # The crashed owner's late report does not unlock the row b is sending.
    assert not await store.mark_retry(first.id, owner="crashed", error="x", retry_at=NOW)
    assert not await store.mark_failed(first.id, owner="crashed", error="x")
    assert (await store.get(first.id)).lease_owner == "b"  # type: ignore[union-attr]


async def test_release_leases_frees_only_that_owners_rows(db: Database) -> None:
    store = OutboxStore(db)
    await store.enqueue([message(1, "a"), message(2, "b")], now=NOW)
    await claim(store, owner="x", channel_id=1)
    await claim(store, owner="y", channel_id=2)
    assert await store.release_leases("x") == 1
    assert [r.channel_id for r in await claim(store, owner="z")] == [1]


async def test_retry_delays_the_row_and_keeps_the_channel_waiting(db: Database) -> None:
    store = OutboxStore(db)
    await store.enqueue([message(1, "a"), message(1, "b")], now=NOW)
    (row,) = await claim(store)
    later = NOW + timedelta(seconds=30)
    assert await store.mark_retry(row.id, owner="a", error="HTTP 503", retry_at=later)
    assert await claim(store, now=later - timedelta(seconds=1)) == []  # "b" may not overtake "a"
    (again,) = await claim(store, now=later)
    assert (again.id, again.attempts, again.last_error) == (row.id, 2, "HTTP 503")


async def test_failed_rows_stop_blocking_their_channel(db: Database) -> None:
    store = OutboxStore(db)
    await store.enqueue([message(1, "a"), message(1, "b")], now=NOW)
    (row,) = await claim(store)
    assert await store.mark_failed(row.id, owner="a", error="400 Invalid Form Body")
    (next_row,) = await claim(store)
    assert next_row.dedup_key == "b"
    failed = await store.get(row.id)
    assert failed is not None and (failed.status, failed.last_error) == ("failed", "400 Invalid Form Body")
    assert await store.pending_count() == 1


async def test_held_channels_keep_their_rows_until_released(db: Database) -> None:
    store = OutboxStore(db)
    await store.enqueue([message(1, "a"), message(2, "b")], now=NOW)
    assert await store.hold_channel(1, reason="Missing Access", now=NOW)
    assert not await store.hold_channel(1, reason="again", now=NOW)
    holds = await store.held_channels()
    assert [(h.channel_id, h.reason, h.held_at) for h in holds] == [(1, "Missing Access", NOW)]
    assert [r.channel_id for r in await claim(store)] == [2]
    assert await store.pending_count(channel_id=1) == 1
    assert await store.release_channel(1)
    assert not await store.release_channel(1)
    assert [r.channel_id for r in await claim(store)] == [1]


async def test_cancel_guild_and_purge(db: Database) -> None:
    store = OutboxStore(db)
    await store.enqueue([message(1, "a"), message(4, "b", guild_id=7), message(2, "c", guild_id=2)], now=NOW)
    assert await store.cancel_guild(1, reason="bot removed") == 1
    assert await store.cancel_guild(7, reason="bot removed") == 1
    assert [r.status for r in await store.rows(channel_id=4)] == ["cancelled"]
    (row,) = await claim(store)
    await store.mark_sent(row.id, message_id=1, now=NOW)
    await store.enqueue([message(3, "d")], now=NOW + timedelta(days=2))
    assert await store.purge(older_than=NOW + timedelta(days=1)) == 3
    assert [r.dedup_key for r in await store.rows()] == ["d"]
    # Purged keys may be enqueued again: keep rows longer than producers may repeat them.
    assert await store.enqueue([message(1, "a")], now=NOW) == 1


async def test_shard_filter_matches_discords_formula(db: Database) -> None:
    store = OutboxStore(db)
    guilds = [(n << 22) | 5 for n in range(8)] + [None]
    await store.enqueue([message(100 + i, f"g{i}", guild_id=g) for i, g in enumerate(guilds)], now=NOW)
    for shard_id in range(3):
        rows = await claim(store, shard=(shard_id, 3), owner=f"s{shard_id}")
        expected = sorted(g or 0 for g in guilds if shard_of(g, 3) == shard_id)
        assert sorted(r.guild_id or 0 for r in rows) == expected
    with pytest.raises(ValueError):
        await claim(store, shard=(3, 3))


async def test_two_stores_claiming_at_once_never_share_a_row(db: Database, db_url: str) -> None:
    other_db = Database(db_url)
    try:
        stores = [OutboxStore(db), OutboxStore(other_db)]
        await stores[0].enqueue([message(c, f"{c}:{n}") for n in range(3) for c in range(40)], now=NOW)
        claimed: list[int] = []

        async def claimer(store: OutboxStore, owner: str) -> None:
            while await store.pending_count():
                rows = await claim(store, owner=owner, limit=3)
                claimed.extend(r.id for r in rows)
                for r in rows:
                    await store.mark_sent(r.id, message_id=r.id, now=NOW)
                await asyncio.sleep(0)

        await asyncio.gather(*(claimer(stores[i % 2], f"o{i}") for i in range(6)))
        assert len(claimed) == len(set(claimed)) == 120
    finally:
        await other_db.close()


async def test_an_undecodable_spec_is_a_value_error(db: Database) -> None:
    store = OutboxStore(db)
    await store.enqueue([message(1, "a")], now=NOW)
    async with db.session() as conn:
        await conn.execute(update(outbox).values(spec={"embeds": [{"no_such_field": 1}]}))
    (row,) = await claim(store)
    with pytest.raises(ValueError, match="undecodable"):
        row.message_spec()
