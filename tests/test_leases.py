"""Leases (bot.storage.leases) on a real database: who holds a singleton job, and the fence; and
the rule that a dead instance's leases (feeds, outbox rows, named leases) are free within the
takeover bound, with two Database objects standing for two processes.

Row leases are otherwise tested through their stores (tests/test_outbox.py, tests/test_feed_storage.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Table, select

from bot.storage import Database, leases
from bot.storage.feed_tables import feeds
from bot.storage.feeds import FeedStore
from bot.storage.instances import InstanceStore
from bot.storage.outbox import OutboxStore
from bot.storage.outbox_tables import outbox
from tests.test_outbox import message
from tests.test_story_service import add_feed, subscribe

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)


async def test_one_owner_at_a_time_until_the_lease_runs_out(db: Database) -> None:
    async with db.session(write=True) as conn:
        assert await leases.acquire(conn, "job", "a", now=T0, until=T0 + LEASE)
        assert not await leases.acquire(conn, "job", "b", now=T0, until=T0 + LEASE)
        assert await leases.acquire(conn, "job", "a", now=T0 + LEASE / 2, until=T0 + 2 * LEASE)  # renewed
        assert not await leases.acquire(conn, "job", "b", now=T0 + LEASE, until=T0 + 3 * LEASE)
        assert await leases.acquire(conn, "other job", "b", now=T0, until=T0 + LEASE)  # leases are per name
        # a's renewed lease runs out: b takes over, and a's late write is fenced off.
        assert await leases.acquire(conn, "job", "b", now=T0 + 2 * LEASE, until=T0 + 3 * LEASE)
        assert not await leases.renew(conn, "job", "a", now=T0 + 2 * LEASE, until=T0 + 4 * LEASE)
        assert await leases.renew(conn, "job", "b", now=T0 + 2 * LEASE, until=T0 + 4 * LEASE)


async def test_renew_needs_an_unexpired_lease_and_release_frees_it_at_once(db: Database) -> None:
    async with db.session(write=True) as conn:
        assert not await leases.renew(conn, "job", "a", now=T0, until=T0 + LEASE)  # never taken
        assert await leases.acquire(conn, "job", "a", now=T0, until=T0 + LEASE)
        assert not await leases.renew(conn, "job", "a", now=T0 + LEASE, until=T0 + 2 * LEASE)  # ran out
        assert await leases.acquire(conn, "job", "a", now=T0 + LEASE, until=T0 + 2 * LEASE)
        assert not await leases.release(conn, "job", "b")  # not b's to give up
        assert await leases.release(conn, "job", "a")
        assert await leases.acquire(conn, "job", "b", now=T0 + LEASE, until=T0 + 2 * LEASE)  # at once


# --- owners that are instances (bot.storage.instances): dead owners' leases are free ---------

BOUND = timedelta(seconds=30)  # run.takeover_s: an instance row expires this long after a beat
ROW_LEASE = timedelta(minutes=15)
S = timedelta(seconds=1)


async def register(db: Database, instance_id: str, now: datetime) -> None:
    await InstanceStore(db).register(
        instance_id, host="h", pid=1, roles=("worker",), now=now, expires_at=now + BOUND
    )


async def beat(db: Database, instance_id: str, now: datetime) -> None:
    assert await InstanceStore(db).beat(instance_id, now=now, expires_at=now + BOUND)


async def owners(db: Database, table: Table) -> dict[int, str | None]:
    async with db.session() as conn:
        return dict((await conn.execute(select(table.c.id, table.c.lease_owner))).all())


async def test_a_dead_instances_feeds_are_claimed_within_the_bound_and_a_live_ones_never(
    db: Database, peer: Database
) -> None:
    for n in range(4):
        await subscribe(db, await add_feed(db, f"f{n}.example"), 10 + n)
    a_feeds, b_feeds = FeedStore(db), FeedStore(peer)
    (unregistered,) = await a_feeds.claim_due(T0, limit=1, lease_until=T0 + ROW_LEASE, owner="x")
    await register(db, "a", T0)
    await register(peer, "b", T0)
    claimed = await a_feeds.claim_due(T0, limit=10, lease_until=T0 + ROW_LEASE, owner="a")
    assert len(claimed) == 3

    # b restarts meanwhile (a new id): freeing "its" old leases and claiming frees nothing of a's.
    await register(peer, "b2", T0 + 5 * S)
    assert await b_feeds.release_leases("b2") == 0
    assert await b_feeds.claim_due(T0 + 5 * S, limit=10, lease_until=T0 + ROW_LEASE, owner="b2") == []
    await beat(db, "a", T0 + 10 * S)  # a's last beat: it is killed after it (dead from T0+40s)
    await beat(peer, "b", T0 + 20 * S)
    assert await b_feeds.claim_due(T0 + 39 * S, limit=10, lease_until=T0 + ROW_LEASE, owner="b") == []
    taken = await b_feeds.claim_due(T0 + 40 * S, limit=10, lease_until=T0 + 40 * S + ROW_LEASE, owner="b")
    assert sorted(f.id for f in taken) == sorted(f.id for f in claimed)
    # An owner that never registered keeps the old rule: its lease runs to its end.
    assert (await owners(db, feeds))[unregistered.id] == "x"
    await register(peer, "b", T0 + ROW_LEASE)  # b, alive again, keeps its own
    late = await b_feeds.claim_due(T0 + ROW_LEASE, limit=10, lease_until=T0 + 2 * ROW_LEASE, owner="b")
    assert [f.id for f in late] == [unregistered.id]


async def test_a_dead_instances_outbox_rows_are_claimed_within_the_bound(
    db: Database, peer: Database
) -> None:
    a_box, b_box = OutboxStore(db), OutboxStore(peer)
    await a_box.enqueue([message(1, "one"), message(2, "two")], now=T0)
    await register(db, "a", T0)
    await register(peer, "b", T0)
    held = await a_box.claim(owner="a", now=T0, lease=ROW_LEASE, limit=10)
    assert len(held) == 2
    await register(peer, "a2", T0 + 5 * S)  # a process starting: frees nothing of a live peer
    assert await b_box.release_leases("a2") == 0
    assert await b_box.claim(owner="a2", now=T0 + 5 * S, lease=ROW_LEASE, limit=10) == []
    await beat(peer, "b", T0 + 20 * S)
    assert await b_box.claim(owner="b", now=T0 + 29 * S, lease=ROW_LEASE, limit=10) == []
    taken = await b_box.claim(owner="b", now=T0 + 30 * S, lease=ROW_LEASE, limit=10)  # a's row expired
    assert [(r.id, r.nonce, r.attempts) for r in taken] == [(r.id, r.nonce, 2) for r in held]
    assert set((await owners(db, outbox)).values()) == {"b"}


async def test_a_clean_stop_frees_what_it_left_leased_at_once(db: Database, peer: Database) -> None:
    await OutboxStore(db).enqueue([message(1, "one")], now=T0)
    await register(db, "a", T0)
    await register(peer, "b", T0)
    assert len(await OutboxStore(db).claim(owner="a", now=T0, lease=ROW_LEASE, limit=10)) == 1
    await InstanceStore(db).deregister("a")
    assert len(await OutboxStore(peer).claim(owner="b", now=T0 + S, lease=ROW_LEASE, limit=10)) == 1


async def test_named_leases_count_terms_and_free_a_dead_owners_at_once(db: Database, peer: Database) -> None:
    await register(db, "a", T0)
    await register(peer, "b", T0)
    async with db.session(write=True) as conn:
        assert await leases.take(conn, "job", "a", now=T0, until=T0 + LEASE) == 1
        assert await leases.take(conn, "job", "a", now=T0 + S, until=T0 + LEASE) == 1  # renewed: same term
        assert await leases.holder(conn, "job", now=T0 + S) == ("a", 1)
    async with peer.session(write=True) as conn:
        assert await leases.take(conn, "job", "b", now=T0 + 29 * S, until=T0 + LEASE) is None
    await beat(peer, "b", T0 + 20 * S)
    async with peer.session(write=True) as conn:
        # a's instance expired at T0+30s, long before its lease's end (T0+2min).
        assert await leases.holder(conn, "job", now=T0 + 30 * S) is None
        assert await leases.take(conn, "job", "b", now=T0 + 30 * S, until=T0 + LEASE) == 2
        assert not await leases.renew(conn, "job", "a", now=T0 + 30 * S, until=T0 + LEASE)
        assert not await leases.renew(conn, "job", "b", now=T0 + 30 * S, until=T0 + LEASE, term=1)
        assert await leases.renew(conn, "job", "b", now=T0 + 30 * S, until=T0 + LEASE, term=2)
        assert await leases.release(conn, "job", "b")
        assert await leases.take(conn, "job", "b", now=T0 + 31 * S, until=T0 + LEASE) == 3  # via nobody
